"""The paper's data: Section 4.1's random data, its ill-conditioned variant, and the real
data sets of Section 4.2 or their installed stand-ins (apps layer)."""

from __future__ import annotations

import numpy as np

__all__ = ["conditioned_data", "random_data", "real_data"]


def random_data(m, n0, nL, seed):
    """Section 4.1 data: ``X`` entries N(0, 1/n0), ``Y`` entries U(-1, 2), rows are samples."""
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 1.0 / np.sqrt(n0), (m, n0)), rng.uniform(-1.0, 2.0, (m, nL))


def conditioned_data(m, n0, nL, seed):
    """Section 4.1.2 data: the singular values of ``X`` replaced by ``1e-5 + U(0, 1)``."""
    X, Y = random_data(m, n0, nL, seed)
    U, _, Vt = np.linalg.svd(X, full_matrices=False)
    s = 1e-5 + np.random.default_rng(seed + 10_000).uniform(0.0, 1.0, Vt.shape[0])
    return (U * s) @ Vt, Y


def real_data(kind, data_dir):
    """``(X, Y, description)``: the paper's file if present in ``data_dir``, else a stand-in."""
    from . import datasets

    if data_dir:
        try:
            if kind == "uci":
                X, Y = datasets.load_gas_sensor_ethanol(data_dir)
                return X, Y, f"UCI gas sensor ethanol from {data_dir} ({X.shape[0]} x 128)"
            X, Y = datasets.load_mnist(data_dir)
            return X, Y, f"MNIST from {data_dir} ({X.shape[0]} x 784)"
        except datasets.DataFileError as error:
            print(f"  {error}; using the installed stand-in", flush=True)
    if kind == "uci":
        X, Y = datasets.regression_stand_in()
        return X, Y, ("STAND-IN: scikit-learn's diabetes regression data (442 x 10), not the "
                      "UCI gas sensor files (absent)")
    X, Y = datasets.digits_stand_in()
    return X, Y, "STAND-IN: scikit-learn's digits (1797 x 64), not MNIST (files absent)"


