"""The R factor of a tall matrix given block by block, and what L2 training needs of it
(maths layer; docs/math.md section 4).

Tall-skinny QR: the factor of the rows seen so far is updated with each new block of rows by
LAPACK's triangular-pentagonal QR (``dtpqrt``), so memory is one block, the work is BLAS-3,
and the result is as accurate as a Householder QR of the whole matrix (no Gram matrix). Two
factors of disjoint row sets combine the same way (a block computed elsewhere, e.g. on a
Dask worker).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import lapack

from .optimum import rank_of

__all__ = ["BlockQR", "FactorSplit", "split_factor"]

# Columns per compact-WY panel in dtpqrt: wider panels do more of the work as matrix
# products (measured in benchmarks/tune_block_qr.py).
PANEL = 64


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

    def add_rows(self, block: np.ndarray) -> None:
        """Fold a block of rows in. ``block`` (float64, Fortran order) is overwritten."""
        if block.shape[0] == 0:
            return
        self.R, _, _, info = lapack.dtpqrt(0, self._panel, self.R, block, overwrite_a=1,
                                           overwrite_b=1)
        if info != 0:  # only for invalid arguments, which the callers never pass
            raise RuntimeError(f"LAPACK dtpqrt failed (info {info})")

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
