"""The engines that run a training's updates (between the maths and the core layers).

See :mod:`fastdln.engines._engines` for the two engines (the Numba one and the reference one)
and their common interface.
"""

from ._engines import engine_from_state, layer_at, make_engine

__all__ = ["engine_from_state", "layer_at", "make_engine"]
