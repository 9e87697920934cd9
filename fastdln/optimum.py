"""The exact global optimum of the L2 problem and the paper's error measure (MATH.md 7)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import check_array, check_choice, check_data, check_weights, check_widths

__all__ = ["Optimum", "global_optimum", "predict"]


@dataclass(frozen=True)
class Optimum:
    """A global minimizer of ``sum |X W^T - Y|^p`` over end-to-end matrices of the network.

    Attributes
    ----------
    weight : ndarray, shape (nL, n0)
        The end-to-end matrix ``W* = W_L ... W_1`` in the weight convention.
    loss : float
        ``sum |X W*^T - Y|^2`` (no 1/2, no 1/m), the paper's ``L(W*)``.
    rank_constrained : bool
        True when ``rank(Y X^+)`` exceeds ``min(widths)`` and formula (A.2) was used.
    loss_name : str
        The loss this optimum is for.
    """

    weight: np.ndarray
    loss: float
    rank_constrained: bool
    loss_name: str = "l2"


def rank_of(s, shape):
    """Numerical rank from singular values, with numpy.linalg.matrix_rank's tolerance."""
    if s.size == 0 or s[0] == 0:
        return 0
    return int(np.sum(s > s[0] * max(shape) * np.finfo(s.dtype).eps))


def l2_loss(X, Y, W):
    """``sum |X W^T - Y|^2`` for rows-are-samples data."""
    R = X @ W.T - Y
    return float(np.vdot(R, R))


class Problem:
    """The data's SVD, the L2 optimum and the exact compression of MATH.md sections 4 and 7."""

    def __init__(self, X, Y, min_width):
        """``X`` is ``(m, n0)``, ``Y`` is ``(m, nL)``: validated float64, rows are samples."""
        U, s, Vt = np.linalg.svd(X, full_matrices=False)
        r = rank_of(s, X.shape)
        self.U, self.s, self.Vt = U[:, :r], s[:r], Vt[:r]
        self.Yc = Y.T @ self.U  # (nL, r): Y Q with X^T = Q T
        if r == 0:  # X == 0: every W is optimal; the least-norm one is 0
            Uy, sy, Vyt = np.zeros((Y.shape[1], 0)), np.zeros(0), np.zeros((0, 0))
        else:
            Uy, sy, Vyt = np.linalg.svd(self.Yc, full_matrices=False)
        r_star = rank_of(sy, self.Yc.shape)
        self.rank_constrained = r_star > min_width
        keep = min(min_width, r_star)
        best = (Uy[:, :keep] * sy[:keep]) @ Vyt[:keep]
        weight = (best / self.s) @ self.Vt  # (A.2), or Y X^+ when keep = r_star
        # Compressed residual of the optimum: the discarded singular values of Y Vx.
        self.compressed_loss = float(np.sum(sy[keep:] ** 2)) if self.rank_constrained else 0.0
        self.optimum = Optimum(weight=weight, loss=l2_loss(X, Y, weight),
                               rank_constrained=self.rank_constrained)

    def compression(self):
        """``(Xc, Yc, loss offset)`` with ``Xc = T^T = V diag(s)`` (paper convention)."""
        return self.Vt.T * self.s, self.Yc, self.compressed_loss


def global_optimum(X, Y, widths=None, *, loss="l2"):
    """The global minimizer of the deep linear network's loss over end-to-end matrices.

    Parameters
    ----------
    X : array_like, shape (m, n0)
        Inputs, one sample per row.
    Y : array_like, shape (m, nL) or (m,)
        Targets, one sample per row.
    widths : sequence of int, optional
        ``[n0, ..., nL]``. When ``rank(Y X^+) > min(widths)`` the end-to-end matrix is rank
        constrained and formula (A.2) of the paper gives the optimum; otherwise (or when
        ``widths`` is None) the least-norm solution ``Y X^+``.
    loss : {"l2"}
        Loss ``sum |X W^T - Y|^2``.

    Returns
    -------
    Optimum
        ``.weight`` of shape ``(nL, n0)`` and ``.loss``.

    Notes
    -----
    (A.2): with the compact SVD ``X = Ux Sx Vx^T`` (paper's columns-are-samples ``X``) and the
    compact SVD ``Y Vx = Uy Sy Vy^T``, ``W* = Uy D Vy^T Sx^-1 Ux^T`` where ``D`` keeps the
    top ``min(widths)`` singular values. This is not the best low-rank approximation of
    ``Y X^+``.
    """
    X, Y = check_data(X, Y)
    check_choice(loss, "loss", ("l2",))
    min_width = min(X.shape[1], Y.shape[1])
    if widths is not None:
        min_width = min(check_widths(widths, X.shape[1], Y.shape[1]))
    return Problem(X, Y, min_width).optimum


def end_to_end(weights):
    """The product ``W_L ... W_1`` as an ``(nL, n0)`` matrix."""
    product = weights[0]
    for W in weights[1:]:
        product = W @ product
    return product


def predict(X, weights):
    """Network output ``X W_1^T ... W_L^T`` for rows-are-samples inputs.

    Parameters
    ----------
    X : array_like, shape (m, n0)
    weights : list of array_like
        ``W_l`` of shape ``(n_l, n_{l-1})``.

    Returns
    -------
    ndarray, shape (m, nL)
    """
    X = check_array(X, "X", (2,))
    weights, _ = check_weights(weights, n0=X.shape[1])
    out = X
    for W in weights:
        out = out @ W.T
    return out
