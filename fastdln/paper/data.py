"""The paper's data: Section 4.1's random data, its ill-conditioned variant, and the real
data sets of Section 4.2 or stand-ins for them (apps layer)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PaperData", "UCI_COND", "UCI_SHAPE", "condition_number", "conditioned_data",
           "random_data", "real_data", "uci_stand_in"]

UCI_SHAPE = (2565, 128)  # the paper's UCI gas sensor "Ethanol" problem: examples x features
UCI_COND = 70_980.0  # its condition number after standardization (the paper's Section 4.2)


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


def condition_number(X):
    """``(cond, rank)``: the ratio of the largest to the smallest nonzero singular value of
    ``X`` (relative tolerance 1e-10) and the rank; cond(X) itself if ``X`` has full rank."""
    s = np.linalg.svd(np.asarray(X, dtype=float), compute_uv=False)
    nonzero = s[s > s[0] * 1e-10]
    return float(nonzero[0] / nonzero[-1]), int(nonzero.size)


def _standardize(A):
    scale = A.std(axis=0)
    return (A - A.mean(axis=0)) / np.where(scale > 0, scale, 1.0)


def _centered_orthonormal(rng, m, n):
    """``m x n`` orthonormal columns, each of zero mean (orthogonal to the ones vector)."""
    A = rng.normal(size=(m, n))
    return np.linalg.qr(A - A.mean(axis=0))[0]


def uci_stand_in(seed=0, shape=UCI_SHAPE, cond=UCI_COND):
    """A synthetic stand-in for the UCI ethanol data with its shape and conditioning.

    ``X`` = U diag(s) V^T with centered orthonormal U, random orthogonal V and singular values
    s spaced geometrically, then standardized like the paper's data (zero mean, unit
    variance per column); the spread of s is adjusted until the standardized ``X`` has the
    condition number ``cond``. ``Y`` is a standardized noisy linear function of ``X``
    (signal-to-noise ratio 4), like a regressed concentration.

    Returns
    -------
    X : ndarray, shape (2565, 128)
    Y : ndarray, shape (2565, 1)
    """
    rng = np.random.default_rng(seed)
    m, n = shape
    U = _centered_orthonormal(rng, m, n)
    V = np.linalg.qr(rng.normal(size=(n, n)))[0]
    spread = cond
    for _ in range(20):  # standardizing moves cond(X) a little: correct the spread
        X = _standardize((U * np.geomspace(1.0, 1.0 / spread, n)) @ V.T)
        achieved = condition_number(X)[0]
        if abs(achieved / cond - 1) < 1e-3:
            break
        spread *= cond / achieved
    signal = X @ rng.normal(size=(n, 1))
    noise = rng.normal(size=(m, 1)) * signal.std() / 4
    return X, _standardize(signal + noise)


@dataclass
class PaperData:
    """A data set of Section 4.2 (or its stand-in) with what every summary line says of it."""

    X: np.ndarray
    Y: np.ndarray
    name: str
    stand_in: bool
    cond: float
    rank: int
    seed: int | None = None  # the seed of a drawn stand-in (None: fixed data)

    def measured(self):
        """What a claim's ``measured`` says of the data."""
        return dict(data=self.name, stand_in=self.stand_in, shape=list(self.X.shape),
                    cond_X=self.cond, rank_X=self.rank, data_seed=self.seed)

    @property
    def tag(self):
        """A short name for every line about this data: ``STAND-IN ...`` and cond(X)."""
        rank = "" if self.rank == self.X.shape[1] else f", rank {self.rank}"
        prefix = "STAND-IN " if self.stand_in else ""
        seed = "" if self.seed is None else f", data seed {self.seed}"
        return (f"{prefix}{self.name} ({self.X.shape[0]} x {self.X.shape[1]}{rank}, "
                f"cond(X) = {self.cond:.4g}{seed})")


def _paper_data(X, Y, name, stand_in, seed=None):
    cond, rank = condition_number(X)
    return PaperData(X, Y, name, stand_in, cond, rank, seed)


def real_data(kind, data_dir=None, seed=0):
    """The data of Figures 7-9 (``kind`` "uci" or "mnist"): the paper's files if present in
    ``data_dir``, else a stand-in named as such.

    Parameters
    ----------
    kind : {"uci", "mnist"}
    data_dir : str, optional
        The folder of the paper's files.
    seed : int
        Draws the UCI stand-in (``reproduce --seed``); the digits stand-in and the real
        files are fixed data.

    Returns
    -------
    PaperData
    """
    from . import datasets

    if data_dir:
        try:
            if kind == "uci":
                X, Y = datasets.load_gas_sensor_ethanol(data_dir)
                return _paper_data(X, Y, "UCI gas sensor ethanol", False)
            X, Y = datasets.load_mnist(data_dir)
            return _paper_data(X, Y, "MNIST", False)
        except datasets.DataFileError as error:
            print(f"  {error}; using the stand-in", flush=True)
    if kind == "uci":
        X, Y = uci_stand_in(seed)
        return _paper_data(X, Y, "synthetic UCI-shaped data, geometric spectrum", True, seed)
    X, Y = datasets.digits_stand_in()
    return _paper_data(X, Y, "scikit-learn digits for MNIST", True)
