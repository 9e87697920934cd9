"""The maths layer: arrays in, arrays out; nothing of fastdln above it (README "Layout").

The kernels (``_kernels``, cached by ``_cache``), the naive formulas (``reference``), the
paper's theorems (``theory``), the losses, the global optimum (``optimum``), the block QR
(``factor``), the initializations (``init``), Section 4.1's data (``synthetic``) and the
input checks (``_checks``).
"""

__all__: list[str] = []
