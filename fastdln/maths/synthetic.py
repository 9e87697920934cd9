"""Random problems for examples, tests and benchmarks (maths layer): the paper's Section 4.1
data, the one generator every part of fastdln draws them from."""

from __future__ import annotations

import numpy as np

__all__ = ["random_data"]


def random_data(m: int, n0: int, nL: int, seed=None) -> tuple[np.ndarray, np.ndarray]:
    """The paper's Section 4.1 data: ``X`` entries N(0, 1/n0), ``Y`` entries U(-1, 2).

    Parameters
    ----------
    m, n0, nL : int
        Samples, input features and outputs.
    seed : None, int or numpy.random.Generator
        Seeds ``numpy.random.default_rng``.

    Returns
    -------
    X : ndarray, shape (m, n0)
    Y : ndarray, shape (m, nL)
        float64, one sample per row.
    """
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 1.0 / np.sqrt(n0), (m, n0)), rng.uniform(-1.0, 2.0, (m, nL))
