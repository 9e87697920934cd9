"""Global optima of the deep linear network's loss: formulas (docs/math.md section 7).

Array in, array out (rows are samples); the validated public entry point is
:func:`fastdln.global_optimum`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ElementwiseLoss", "NEWTON_TOLERANCE", "Optimum", "PowerLoss", "convex_optimum",
           "end_to_end", "l2_optimum", "rank_of"]


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


def l2_optimum(s, Vt, Yc, min_width):
    """The L2 optimum in the singular basis of the data (rows are samples).

    ``X = U diag(s) Vt`` (compact SVD, ``r`` columns) and ``Yc = U^T Y`` (``r x nL``). Least
    norm ``Y X^+`` (A.1), or (A.2) when ``rank(Y X^+)`` exceeds ``min_width``
    (docs/math.md section 7). Returns ``(weight, compressed_loss, rank_constrained)``, with
    ``compressed_loss`` the optimum's loss on the compressed data ``(diag(s) Vt, Yc)``: the
    discarded singular values of ``Yc`` (0 when unconstrained).
    """
    if s.size == 0:  # X == 0: every W is optimal; the least-norm one is 0
        Uy, sy, Vyt = np.zeros((Yc.shape[1], 0)), np.zeros(0), np.zeros((0, 0))
    else:
        Uy, sy, Vyt = np.linalg.svd(Yc.T, full_matrices=False)
    r_star = rank_of(sy, Yc.shape[::-1])
    rank_constrained = r_star > min_width
    keep = min(min_width, r_star)
    best = (Uy[:, :keep] * sy[:keep]) @ Vyt[:keep]
    weight = (best / s) @ Vt  # (A.2), or Y X^+ when keep = r_star
    compressed_loss = float(np.sum(sy[keep:] ** 2)) if rank_constrained else 0.0
    return weight, compressed_loss, rank_constrained


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


def convex_optimum(U, s, Vt, Y, loss):
    """Global minimizer of ``sum l(X W^T - Y)`` (convex, smooth): Newton from the L2 optimum.

    ``X = U diag(s) Vt`` is the compact SVD of the data. Works in the coordinates
    ``c = diag(s) V^T w`` of the row space of ``X`` (rank-revealing, well conditioned); the
    rows of ``W`` decouple into ``nL`` independent problems. Returns the least-norm minimizer
    and the largest number of Newton iterations used.
    """
    C = Y.T @ U  # the L2 optimum's coordinates, one row per output
    worst = 0
    for j in range(Y.shape[1]):
        C[j], iterations = _newton_column(U, Y[:, j], C[j].copy(), loss)
        worst = max(worst, iterations)
    return (C / s) @ Vt, worst


def end_to_end(weights):
    """The product ``W_L ... W_1`` as an ``(nL, n0)`` matrix."""
    product = weights[0]
    for W in weights[1:]:
        product = W @ product
    return product
