"""The applications layer: what users run on top of the core (README "Layout").

``cli`` (the ``fastdln`` command), ``estimator`` (scikit-learn), ``experiments`` (grids),
``bench``, ``progress``, ``readers`` and ``tables`` (data files), ``warmup`` and ``paper``
(the reproduction of the paper's Section 4).
"""

__all__: list[str] = []
