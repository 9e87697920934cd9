"""Training data made ready for an engine, apart from the stepping (core layer).

:class:`Problem` validates the data once, rescales extreme data exactly, factorizes it, finds
the global optimum the errors are measured against and hands the engine its working data:
the exact L2 compression where it applies (docs/math.md section 4), else the full data.
:class:`Scaling` maps weights, rates, errors and the optimum back to the caller's units.
Also the public :func:`global_optimum` and :func:`predict`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from ._checks import check_array, check_data, check_sample_weight, check_weights, check_widths
from .optimum import (ElementwiseLoss, Optimum, PowerLoss, convex_optimum, l2_loss, l2_optimum,
                      rank_of)
from .settings import Settings, check_settings

if TYPE_CHECKING:
    from .losses import ConvexLoss

__all__ = ["Centering", "Problem", "Scaling", "global_optimum", "predict"]


@dataclass(frozen=True)
class Scaling:
    """The exact power-of-two rescaling of extreme data (docs/math.md section 10).

    The engine trains on ``X / x`` and ``Y / y`` with ``W_1`` multiplied by ``x / y``; for the
    line-search rates (optimal, bounded, stochastic) the trajectory is the same.
    """

    x: float = 1.0
    y: float = 1.0
    power: int = 2

    @property
    def identity(self) -> bool:
        return self.x == self.y == 1.0

    @property
    def error_unit(self) -> float:
        """Errors in the caller's units are the engine's times this."""
        return self.y ** self.power

    def weights_in(self, weights):
        """The caller's weights in the engine's units (a new list)."""
        if self.x == self.y:
            return list(weights)
        return [weights[0] * (self.x / self.y)] + list(weights[1:])

    def weights_out(self, weights):
        """The engine's weights in the caller's units (in place on the list's first entry)."""
        if self.x != self.y:
            weights[0] = weights[0] * (self.y / self.x)
        return weights

    def rates_out(self, rates, first_layer):
        """Learning rates in the caller's units; ``first_layer`` marks updates of ``W_1``."""
        if self.identity:
            return rates
        p, a, b = self.power, self.x, self.y
        return np.where(first_layer, rates * b ** (2 - p) / a ** 2, rates / b ** p)

    def optimum_out(self, optimum: Optimum) -> Optimum:
        if self.identity:
            return optimum
        return Optimum(weight=optimum.weight * (self.y / self.x),
                       loss=optimum.loss * self.error_unit,
                       rank_constrained=optimum.rank_constrained, loss_name=optimum.loss_name,
                       newton_iterations=optimum.newton_iterations)


@dataclass(frozen=True)
class Centering:
    """The (weighted) means an affine model was centered with (docs/math.md section 11)."""

    x_mean: np.ndarray
    y_mean: np.ndarray

    def intercept(self, end_to_end: np.ndarray) -> np.ndarray:
        """``b = mean(Y) - W mean(X)`` for the end-to-end matrix ``W`` ``(nL, n0)``."""
        return self.y_mean - end_to_end @ self.x_mean


def _power_of_two(array):
    """``2^k`` near the largest entry when it lies beyond ``2^+-64``, else 1."""
    largest = float(np.max(np.abs(array)))
    if largest == 0.0 or 2.0 ** -64 <= largest <= 2.0 ** 64:
        return 1.0
    return float(2.0 ** np.round(np.log2(largest)))


def _scaling_for(X, Y, settings):
    """Rescale only where the rates are scale-covariant line searches."""
    covariant = settings.custom_loss is None and (isinstance(settings.lr, str)
                                                  or settings.method == "bcsgd")
    if not covariant:
        return Scaling(power=settings.power)
    a, b = _power_of_two(X), _power_of_two(Y)
    if not np.isfinite(a / b) or a / b == 0.0:
        return Scaling(power=settings.power)
    return Scaling(a, b, settings.power)


class Problem:
    """Validated, rescaled and factorized training data, and its global optimum.

    Parameters
    ----------
    X : array_like, shape (m, n0)
    Y : array_like, shape (m, nL) or (m,)
    settings : Settings
        The run's settings (``loss``, ``lr``, ``method`` decide the scaling and the optimum).
    rescale : bool
        Rescale extreme data where that is exact (docs/math.md section 10).
    sample_weight : array_like, shape (m,), optional
        Non-negative weights of the samples: the loss is ``sum_i w_i l(r_i)`` (docs/math.md
        section 11).
    """

    def __init__(self, X: ArrayLike, Y: ArrayLike, settings: Settings, rescale: bool = True,
                 sample_weight: ArrayLike | None = None):
        X, Y = check_data(X, Y)
        self.m, self.n0 = X.shape
        self.nL = Y.shape[1]
        self.settings = settings
        weight = check_sample_weight(sample_weight, self.m)
        if weight is not None and settings.custom_loss is not None:
            raise ValueError("sample_weight is available for the 'l2' and 'l<p>' losses, not "
                             f"for a custom loss ({settings.loss_name})")
        self.centering = None
        if settings.fit_intercept:
            self.centering = Centering(np.average(X, axis=0, weights=weight),
                                       np.average(Y, axis=0, weights=weight))
            X, Y = X - self.centering.x_mean, Y - self.centering.y_mean
        if weight is not None:  # sum w |r|^p = sum |w^(1/p) r|^p
            root = (weight ** (1.0 / settings.power))[:, None]
            X, Y = X * root, Y * root
        self.scaling = _scaling_for(X, Y, settings) if rescale else Scaling(power=settings.power)
        if not self.scaling.identity:
            X, Y = X / self.scaling.x, Y / self.scaling.y
        self.X, self.Y = X, Y
        U, s, Vt = np.linalg.svd(X, full_matrices=False)
        r = rank_of(s, X.shape)
        self._U, self._s, self._Vt = U[:, :r], s[:r], Vt[:r]
        self.rank = r
        self._compressed: tuple | None = None

    @property
    def y_norm2(self) -> float:
        """``||Y||_F^2`` of the working (rescaled) targets."""
        return float(np.sum(self.Y * self.Y))

    def optimum(self, min_width: int) -> Optimum:
        """The global optimum for networks whose narrowest layer has ``min_width`` units."""
        weight, Yc, compressed_loss, constrained = l2_optimum(self._U, self._s, self._Vt,
                                                              self.Y, min_width)
        self._compressed = (self._Vt.T * self._s, Yc, compressed_loss)
        power, custom = self.settings.power, self.settings.custom_loss
        if power == 2 and custom is None:
            return Optimum(weight=weight, loss=l2_loss(self.X, self.Y, weight),
                           rank_constrained=constrained)
        name = self.settings.loss_name
        if min_width < min(self.n0, self.nL):
            raise ValueError(
                f"widths bind the rank (min(widths) = {min_width} < min(n0, nL)): the {name} "
                "optimum under a rank constraint is not available; use loss='l2' or wider "
                "layers")
        if custom is not None and custom.second_derivative is None:
            raise ValueError(f"the {name} loss has no second_derivative: Newton's method for "
                             "its optimum needs it (ConvexLoss(..., second_derivative=...))")
        elementwise = ElementwiseLoss(custom) if custom is not None else PowerLoss(power)
        weight, iterations = convex_optimum(self._U, self._s, self._Vt, self.Y, elementwise)
        loss = float(np.sum(elementwise.value(self.X @ weight.T - self.Y)))
        return Optimum(weight=weight, loss=loss, rank_constrained=False, loss_name=name,
                       newton_iterations=iterations)

    def working_data(self, optimum: Optimum):
        """``(Xw, Yw, loss_offset, compressed)`` for the engine, columns are samples.

        The exact L2 compression (docs/math.md section 4) where it is exact and gains
        something (``compress="auto"``: when ``rank(X) < m``), or is asked for; else the full
        data with the optimum's loss as the offset.
        """
        settings = self.settings
        exact = settings.power == 2 and settings.method != "bcsgd"
        wanted = settings.compress is True or (settings.compress == "auto"
                                               and self.rank < self.m)
        if settings.engine == "fast" and exact and wanted:
            if self._compressed is None:
                raise RuntimeError("Problem.optimum must be computed first")
            Xc, Yc, offset = self._compressed
            return Xc, Yc, offset, True
        return self.X.T, self.Y.T, optimum.loss, False


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
    top ``min(widths)`` singular values (docs/math.md section 7). This is not the best
    low-rank approximation of ``Y X^+``.
    """
    problem = Problem(X, Y, check_settings(loss=loss), rescale=False)
    min_width = min(problem.n0, problem.nL)
    if widths is not None:
        min_width = min(check_widths(widths, problem.n0, problem.nL))
    return problem.optimum(min_width)


def predict(X: ArrayLike, weights: Sequence[ArrayLike],
            intercept: ArrayLike | None = None) -> np.ndarray:
    """Network output ``X W_1^T ... W_L^T (+ intercept)`` for rows-are-samples inputs.

    Parameters
    ----------
    X : array_like, shape (m, n0)
    weights : list of array_like
        ``W_l`` of shape ``(n_l, n_{l-1})``.
    intercept : array_like, shape (nL,), optional
        Added to every output row (a model trained with ``fit_intercept=True``).

    Returns
    -------
    ndarray, shape (m, nL)
    """
    X = check_array(X, "X", (2,))
    weights, widths = check_weights(weights, n0=X.shape[1])
    out = X
    for W in weights:
        out = out @ W.T
    if intercept is not None:
        b = check_array(intercept, "intercept", (1,))
        if b.shape != (widths[-1],):
            raise ValueError(f"intercept must have one entry per output ({widths[-1]}), got "
                             f"shape {b.shape}")
        out += b
    return out
