"""The exact global optimum of the L2 problem and the paper's error measure (MATH.md 7)."""

from __future__ import annotations

from dataclasses import dataclass

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from ._validation import check_array, check_data, check_loss, check_weights, check_widths

if TYPE_CHECKING:
    from .losses import ConvexLoss

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
    newton_iterations: int = 0


def rank_of(s, shape):
    """Numerical rank from singular values, with numpy.linalg.matrix_rank's tolerance."""
    if s.size == 0 or s[0] == 0:
        return 0
    return int(np.sum(s > s[0] * max(shape) * np.finfo(s.dtype).eps))


def l2_loss(X, Y, W):
    """``sum |X W^T - Y|^2`` for rows-are-samples data."""
    R = X @ W.T - Y
    return float(np.vdot(R, R))


NEWTON_TOLERANCE = 1e-12  # relative gradient norm at which Newton's method stops


class PowerLoss:
    """``l(r) = |r|^p`` for an even ``p``, elementwise on arrays (Newton's ingredients)."""

    def __init__(self, power):
        self.power = power

    def value(self, r):
        return r ** self.power

    def derivative(self, r):
        return self.power * r ** (self.power - 1)

    def second_derivative(self, r):
        return self.power * (self.power - 1) * r ** (self.power - 2)


class ElementwiseLoss:
    """A :class:`fastdln.losses.ConvexLoss` applied to arrays."""

    def __init__(self, loss):
        self.loss = loss

    def value(self, r):
        return self.loss.elementwise("value", r)

    def derivative(self, r):
        return self.loss.elementwise("derivative", r)

    def second_derivative(self, r):
        return self.loss.elementwise("second_derivative", r)


def _newton_column(U, y, c, loss, max_iterations=200):
    """Minimize ``sum l(U c - y)`` over ``c`` (``U`` orthonormal columns) by damped Newton.

    Backtracking (Armijo) line search; once the loss changes are at its rounding level the
    step is accepted when it reduces the gradient norm instead. Stops when the gradient norm
    falls to ``NEWTON_TOLERANCE`` times its value at the start. Returns ``(c, iterations)``.
    """
    def value_and_gradient(c):
        r = U @ c - y
        return float(np.sum(loss.value(r))), U.T @ loss.derivative(r), r

    f, gradient, r = value_and_gradient(c)
    g0 = np.linalg.norm(gradient)
    for iteration in range(max_iterations):
        g_norm = np.linalg.norm(gradient)
        if g_norm <= NEWTON_TOLERANCE * g0:
            return c, iteration
        hessian = (U.T * loss.second_derivative(r)) @ U
        direction = -np.linalg.lstsq(hessian, gradient, rcond=None)[0]
        slope, step = float(gradient @ direction), 1.0
        while step > 1e-10:
            f_new, g_new, r_new = value_and_gradient(c + step * direction)
            rounding_level = abs(f_new - f) <= 1e-13 * abs(f)
            if f_new <= f + 1e-4 * step * slope or (rounding_level and
                                                   np.linalg.norm(g_new) < g_norm):
                break
            step /= 2
        else:
            return c, iteration  # no step improves anything measurable: at the optimum
        c, f, gradient, r = c + step * direction, f_new, g_new, r_new
    return c, max_iterations


def convex_optimum(problem, Y, loss):
    """Global minimizer of ``sum l(X W^T - Y)`` (convex, smooth): Newton from the L2 optimum.

    Works in the coordinates ``c = diag(s) V^T w`` of the row space of ``X`` (rank-revealing,
    well conditioned); the rows of ``W`` decouple into ``nL`` independent problems. Returns the
    least-norm minimizer and the largest number of Newton iterations used.
    """
    U, s, Vt = problem.U, problem.s, problem.Vt
    C = Y.T @ U  # the L2 optimum's coordinates, one row per output
    worst = 0
    for j in range(Y.shape[1]):
        C[j], iterations = _newton_column(U, Y[:, j], C[j].copy(), loss)
        worst = max(worst, iterations)
    return (C / s) @ Vt, worst


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


def optimum_for(problem, X, Y, power, min_width, custom=None):
    """The :class:`Optimum` of ``sum |r|^p`` (``p = 2``: the problem's L2 optimum) or, with
    ``custom`` (a :class:`fastdln.losses.ConvexLoss`), of ``sum l(r)``."""
    if power == 2 and custom is None:
        return problem.optimum
    name = custom.name if custom is not None else f"l{power}"
    if min_width < min(X.shape[1], Y.shape[1]):
        raise ValueError(
            f"widths bind the rank (min(widths) = {min_width} < min(n0, nL)): the {name} "
            "optimum under a rank constraint is not available; use loss='l2' or wider layers")
    if custom is not None and custom.second_derivative is None:
        raise ValueError(f"the {name} loss has no second_derivative: Newton's method for its "
                         "optimum needs it (ConvexLoss(..., second_derivative=...))")
    elementwise = ElementwiseLoss(custom) if custom is not None else PowerLoss(power)
    weight, iterations = convex_optimum(problem, Y, elementwise)
    loss = float(np.sum(elementwise.value(X @ weight.T - Y)))
    return Optimum(weight=weight, loss=loss, rank_constrained=False, loss_name=name,
                   newton_iterations=iterations)


def global_optimum(X: ArrayLike, Y: ArrayLike, widths: Sequence[int] | None = None, *,
                   loss: str | ConvexLoss = "l2") -> Optimum:
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
    loss : {"l2", "l4", "l6", ...} or fastdln.losses.ConvexLoss
        Loss ``sum |X W^T - Y|^p`` (or ``sum l(X W^T - Y)``). Beyond L2 the problem is
        smooth and convex and is solved by Newton's method with a backtracking line search
        from the L2 optimum, to a relative gradient norm of 1e-12 (no closed form; a binding
        rank constraint is refused).

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
    power, custom = check_loss(loss)
    min_width = min(X.shape[1], Y.shape[1])
    if widths is not None:
        min_width = min(check_widths(widths, X.shape[1], Y.shape[1]))
    return optimum_for(Problem(X, Y, min_width), X, Y, power, min_width, custom)


def end_to_end(weights):
    """The product ``W_L ... W_1`` as an ``(nL, n0)`` matrix."""
    product = weights[0]
    for W in weights[1:]:
        product = W @ product
    return product


def predict(X: ArrayLike, weights: Sequence[ArrayLike]) -> np.ndarray:
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
