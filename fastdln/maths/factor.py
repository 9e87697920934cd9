"""The R factor of a tall matrix given block by block, and what L2 training needs of it
(maths layer; docs/math.md section 4).

Tall-skinny QR: the factor of the rows seen so far is updated with each new block of rows by
LAPACK's triangular-pentagonal QR (``dtpqrt``), so memory is one block, the work is BLAS-3,
and the result is as accurate as a Householder QR of the whole matrix (no Gram matrix). Two
factors of disjoint row sets combine the same way (a block computed elsewhere, e.g. on a
Dask worker or another thread). ``dtpqrt`` is called through scipy's Cython LAPACK
pointers with ctypes, which releases the GIL, so that threads can fold disjoint row ranges
side by side (scipy's Python wrapper holds it).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.linalg import cython_lapack

from ._gemm import capsule_address
from .optimum import rank_of

__all__ = ["BlockQR", "FactorSplit", "split_factor"]

# Columns per compact-WY panel in dtpqrt: the fastest on one thread per row range
# (measured in benchmarks/tune_block_qr.py).
PANEL = 64

_INT_P = ctypes.POINTER(ctypes.c_int)
_DOUBLE_P = ctypes.POINTER(ctypes.c_double)


@lru_cache(maxsize=None)
def _dtpqrt():
    """LAPACK ``dtpqrt(m, n, l, nb, a, lda, b, ldb, t, ldt, work, info)`` as a ctypes function."""
    address = capsule_address(cython_lapack.__pyx_capi__["dtpqrt"])
    signature = ctypes.CFUNCTYPE(None, *[_INT_P] * 4, _DOUBLE_P, _INT_P, _DOUBLE_P, _INT_P,
                                 _DOUBLE_P, _INT_P, _DOUBLE_P, _INT_P)
    return signature(address)


def _doubles(array):
    return array.ctypes.data_as(_DOUBLE_P)


def _ints(*values):
    return [ctypes.byref(ctypes.c_int(int(v))) for v in values]


class BlockQR:
    """Accumulates the upper-triangular ``R`` of ``A = Q R`` from blocks of rows of ``A``.

    Parameters
    ----------
    columns : int
        Columns of ``A``.
    """

    def __init__(self, columns: int) -> None:
        self.R = np.zeros((columns, columns), order="F")
        self._panel = max(1, min(PANEL, columns))
        self._t = np.empty((self._panel, columns), order="F")
        self._work = np.empty(self._panel * columns)

    def add_rows(self, block: np.ndarray) -> None:
        """Fold a block of rows in. ``block`` (float64, Fortran order) is overwritten."""
        rows, columns = block.shape
        if rows == 0:
            return
        if columns != self.R.shape[0] or block.dtype != np.float64 or \
                not block.flags.f_contiguous:
            raise ValueError(f"block must be float64 in Fortran order with "
                             f"{self.R.shape[0]} columns, got {block.dtype} {block.shape}")
        info = ctypes.c_int(0)
        # L = 0: the block is a full rectangle (no trapezoidal part)
        m, n, trapezoid, nb, lda, ldb, ldt = _ints(rows, columns, 0, self._panel, columns,
                                                   rows, self._panel)
        _dtpqrt()(m, n, trapezoid, nb, _doubles(self.R), lda, _doubles(block), ldb,
                  _doubles(self._t), ldt, _doubles(self._work), ctypes.byref(info))
        if info.value != 0:  # only for invalid arguments, which the callers never pass
            raise RuntimeError(f"LAPACK dtpqrt failed (info {info.value})")

    def add_factor(self, R: np.ndarray) -> None:
        """Fold in the factor of other rows (upper triangular, overwritten)."""
        self.add_rows(np.asfortranarray(np.triu(R)))


@dataclass(frozen=True)
class FactorSplit:
    """What the L2 loss needs of the factor ``R`` of ``[X Y]`` (rows are samples).

    For every end-to-end ``W``: ``||X W^T - Y||^2 = ||Xc W^T - Yc||^2 + unreachable`` with
    ``Xc = diag(s) Vt`` (``r x n0``) and ``Yc`` (``r x nL``), ``r = rank(X)``.
    """

    s: np.ndarray  # the r non-zero singular values of X
    Vt: np.ndarray  # (r, n0): its right singular vectors
    Yc: np.ndarray  # (r, nL): Y in the left singular basis, U^T Y
    unreachable: float  # ||Y||^2 - ||Yc||^2, the loss no W can remove
    y_norm2: float  # ||Y||^2

    @property
    def rank(self) -> int:
        return self.s.size


def split_factor(R: np.ndarray, n0: int, m: int) -> FactorSplit:
    """Split the factor ``R`` of ``[X Y]`` (``X`` with ``n0`` columns, ``m`` rows).

    With ``R = [[R11, R12], [0, R22]]`` and the SVD ``R11 = U diag(s) Vt``, ``X = (Q U)
    diag(s) Vt`` is an SVD of ``X``: the rank uses numpy's ``matrix_rank`` tolerance for an
    ``(m, n0)`` matrix, and the loss no ``W`` can reach is ``||R22||^2 + ||U_perp^T R12||^2``
    (summed directly, without cancellation).
    """
    R11, R12, R22 = R[:n0, :n0], R[:n0, n0:], R[n0:, n0:]
    U, s, Vt = np.linalg.svd(R11)
    r = rank_of(s, (m, n0))
    Yc = U[:, :r].T @ R12
    beyond = U[:, r:].T @ R12
    unreachable = float(np.sum(R22 * R22) + np.sum(beyond * beyond))
    return FactorSplit(s=s[:r], Vt=Vt[:r], Yc=Yc, unreachable=unreachable,
                       y_norm2=float(np.sum(R12 * R12) + np.sum(R22 * R22)))
