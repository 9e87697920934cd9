"""The paper's data: Section 4.1's random data, its ill-conditioned variant, and the real
data sets of Section 4.2 or stand-ins for them (apps layer)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ...maths.synthetic import random_data

__all__ = ["COND_MATCH", "FIG3_COND", "PaperData", "UCI_COND", "UCI_SHAPE", "condition_number",
           "conditioned_data", "matched_draws", "real_data", "uci_stand_in"]

UCI_SHAPE = (2565, 128)  # the paper's UCI gas sensor "Ethanol" problem: examples x features
UCI_COND = 70_980.0  # its condition number after standardization (the paper's Section 4.2)
FIG3_COND = 236.0  # cond(X) of the paper's Figure 3 data
COND_MATCH = 1.5  # a draw matches the paper's data when its cond(X) is within 1.5x of it
_STREAM, _STREAM_STEP = 1_000_000, 100_000  # Figure 3's data seeds for reproduce --seed s


def _conditioned_spectrum(n, seed):
    return 1e-5 + np.random.default_rng(seed + 10_000).uniform(0.0, 1.0, n)


def conditioned_data(m, n0, nL, seed):
    """Section 4.1.2 data: the singular values of ``X`` replaced by ``1e-5 + U(0, 1)``."""
    X, Y = random_data(m, n0, nL, seed)
    U, _, Vt = np.linalg.svd(X, full_matrices=False)
    return (U * _conditioned_spectrum(Vt.shape[0], seed)) @ Vt, Y


def matched_draws(n0, seed, *, count=5, target=FIG3_COND, within=COND_MATCH, limit=10_000):
    """Data seeds of :func:`conditioned_data` (``m >= n0``) whose cond(X) lies within
    ``within`` times ``target``: the first ``count`` of the stream
    ``1_000_000 + 100_000 * seed + k`` (disjoint for different ``seed``, and from the seeds
    their spectra use). cond(X) is the ratio of the drawn singular values, no SVD needed.

    Returns
    -------
    (dict, dict)
        ``{data seed: cond}`` of the matched draws (fewer than ``count`` if ``limit`` draws
        do not hold them) and of the unmatched draws scanned before the last match.
    """
    if not 1 <= limit <= 10_000:
        raise ValueError(f"limit must be in [1, 10000], not {limit!r}")
    matched, unmatched = {}, {}
    for k in range(limit):
        data_seed = _STREAM + _STREAM_STEP * seed + k
        spectrum = _conditioned_spectrum(n0, data_seed)
        cond = float(spectrum.max() / spectrum.min())
        close = target / within <= cond <= target * within
        (matched if close else unmatched)[data_seed] = cond
        if len(matched) == count:
            break
    return matched, unmatched


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
    def stand_ins(self):
        """``[name]`` of a stand-in, ``[]`` for the paper's data (:func:`.claims.mark_stand_in`)."""
        return [self.name] if self.stand_in else []

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


_SUBFOLDERS = {"uci": "gas_sensor", "mnist": "mnist"}
_NAMES = {"uci": "UCI gas sensor ethanol", "mnist": "MNIST"}


def _folders(kind, data_dir):
    """Where the paper's files of ``kind`` may be: ``data_dir`` and its fetch subfolder, else
    the fetch cache (:func:`.fetch.cache_dir`) when it holds them."""
    from .datasets import cache_dir

    if data_dir:
        return [data_dir, os.path.join(data_dir, _SUBFOLDERS[kind])]
    cached = os.path.join(cache_dir(), _SUBFOLDERS[kind])
    return [cached] if os.path.isdir(cached) else []


def _load(kind, folder):
    from . import datasets

    if kind == "uci":
        return datasets.load_gas_sensor_ethanol(folder)
    return datasets.load_mnist(folder)


def real_data(kind, data_dir=None, seed=0):
    """The data of Figures 7-9 (``kind`` "uci" or "mnist"): the paper's files if present in
    ``data_dir`` (or its ``gas_sensor`` / ``mnist`` subfolder), else a :class:`DataFileError`
    naming what it looked for; without ``data_dir``, the fetch cache's files, else a stand-in
    named as such. Prints one line saying what it read (rows, columns, classes), or where it
    looked before taking the stand-in.

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

    if kind not in _SUBFOLDERS:
        raise ValueError(f"kind must be 'uci' or 'mnist', not {kind!r}")
    problems = []
    for folder in _folders(kind, data_dir):
        try:
            X, Y = _load(kind, folder)
        except datasets.DataFileError as error:
            problems.append(str(error))
            continue
        print(f"  {datasets.describe(X, Y, _NAMES[kind], folder)}", flush=True)
        return _paper_data(X, Y, _NAMES[kind], False)
    if data_dir:  # asked for by name: never a silent stand-in
        raise datasets.DataFileError(f"data_dir {data_dir!r}: no {_NAMES[kind]} files there "
                                     f"({'; '.join(problems)})")
    looked = os.path.join(datasets.cache_dir(), _SUBFOLDERS[kind])
    print(f"  {problems[0] if problems else f'no {_NAMES[kind]} files in {looked}'}; using "
          "the stand-in (--data-dir DIR or --download for the real data)", flush=True)
    if kind == "uci":
        X, Y = uci_stand_in(seed)
        return _paper_data(X, Y, "synthetic UCI-shaped data, geometric spectrum", True, seed)
    X, Y = datasets.digits_stand_in()
    return _paper_data(X, Y, "scikit-learn digits for MNIST (its verdicts do not predict the "
                       "real MNIST's)", True)
