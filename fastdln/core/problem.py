"""Training data made ready for an engine, apart from the stepping (core layer).

:class:`Problem` validates the data once, rescales extreme data exactly, factorizes it, finds
the global optimum the errors are measured against and hands the engine its working data:
the exact L2 compression where it applies (docs/math.md section 4), else the full data.
:class:`Scaling` maps weights, rates, errors and the optimum back to the caller's units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
import numpy as np

from ..engines import get_engine
from .data import Data
from ..maths.factor import split_factor
from ..maths.optimum import ElementwiseLoss, Optimum, PowerLoss, convex_optimum, l2_optimum, rank_of
from .settings import Settings
from .threads import automatic_count

__all__ = ["Centering", "Problem", "Scaling"]


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
        p, a, b = self.power, np.float64(self.x), np.float64(self.y)
        with np.errstate(over="ignore", under="ignore", divide="ignore"):  # beyond float64:
            return np.where(first_layer, rates * b ** (2 - p) / (a * a), rates / b ** p)  # inf, 0

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


def _power_of_two(largest):
    """``2^k`` near ``largest`` when it lies beyond ``2^+-64``, else 1."""
    if largest == 0.0 or 2.0 ** -64 <= largest <= 2.0 ** 64:
        return 1.0
    return float(2.0 ** np.round(np.log2(largest)))


def _scaling_for(x_size, y_size, settings):
    """Rescale only where the rates are scale-covariant line searches."""
    with np.errstate(over="ignore"):
        unit = np.float64(y_size) ** settings.power
    if not np.isfinite(unit):
        raise ValueError(
            f"Y is too large: its scale is about {y_size:.3g}, and the loss (in units of its "
            f"power {settings.power}) does not fit in float64; divide Y by a constant (the "
            "fitted weights scale with it)")
    if unit == 0.0 and y_size > 0.0:
        raise ValueError(
            f"Y is too small: its scale is about {y_size:.3g}, and the loss (in units of its "
            f"power {settings.power}) is below what float64 holds; multiply Y by a constant "
            "(the fitted weights scale with it)")
    covariant = settings.custom_loss is None and (isinstance(settings.lr, str)
                                                  or settings.training_method.samples)
    if not covariant:
        return Scaling(power=settings.power)
    a, b = _power_of_two(x_size), _power_of_two(y_size)
    if not np.isfinite(a / b) or a / b == 0.0:
        return Scaling(power=settings.power)
    return Scaling(a, b, settings.power)


class Problem:
    """Validated, rescaled and factorized training data, and its global optimum.

    The L2 loss needs only the factor ``R`` of ``[X Y]``, computed in one pass over blocks of
    rows (docs/math.md section 4): the data may be a memory map or a dask array and are never
    copied whole. The other losses (and the L2 runs that train on the full data) read the
    data once into a dense working copy.

    Parameters
    ----------
    data : fastdln.core.data.Data
        The training data (``X``, ``Y`` and the sample weights), validated by their shapes.
    settings : Settings
        The run's settings, checked and complete (``loss``, ``lr``, ``method``,
        ``fit_intercept`` decide the scaling, the centering and the optimum).
    rescale : bool
        Rescale extreme data where that is exact (docs/math.md section 10).
    workers : int, optional
        Threads that fold the L2 factor side by side (default: ``settings.threads``, else
        the automatic count of :mod:`fastdln.core.threads`).
    fingerprint : bool
        Compute the data's fingerprint (:meth:`fastdln.core.data.Data.fingerprint`) in the same
        pass that reads them (for checkpoints): ``self.fingerprint``, else None.
    """

    def __init__(self, data: Data, settings: Settings, *, rescale: bool = True,
                 workers: int | None = None, fingerprint: bool = False):
        self.workers = workers
        self.data = data
        self.m, self.n0, self.nL = data.m, data.n0, data.nL
        self.settings = settings
        if data.weight is not None and settings.custom_loss is not None:
            raise ValueError("sample_weight is available for the 'l2' and 'l<p>' losses, not "
                             f"for a custom loss ({settings.loss_name})")
        self.centering: Centering | None = None
        self._dense: tuple | None = None
        if settings.power == 2 and settings.custom_loss is None:
            self.fingerprint = self._factorize(rescale, fingerprint)
        else:
            self.fingerprint = self._read_dense(rescale, fingerprint)

    def _factorize(self, rescale, fingerprint):
        """L2: one pass for the factor (and the fingerprint); scale from the columns' root
        mean squares. Returns the fingerprint, or None."""
        workers = self.workers or self.settings.threads or automatic_count()
        factor = self.data.factor(center=self.settings.fit_intercept, workers=workers,
                                  fingerprint=fingerprint)
        if self.settings.fit_intercept:
            self.centering = Centering(factor.x_mean, factor.y_mean)
        R, n0 = factor.R, self.n0
        rms = _column_norms(R) / np.sqrt(self.m)  # column norms are R's column norms
        self.scaling = (_scaling_for(float(rms[:n0].max()), float(rms[n0:].max()),
                                     self.settings) if rescale else Scaling())
        if not self.scaling.identity:
            R = np.concatenate([R[:, :n0] / self.scaling.x, R[:, n0:] / self.scaling.y], 1)
        self._split = split_factor(R, n0, self.m)
        self.rank = self._split.rank
        self.y_norm2 = self._split.y_norm2
        return factor.fingerprint

    def _read_dense(self, rescale, fingerprint):
        """Lp and custom losses: the data in memory (weighted rows), and their SVD. Returns
        the fingerprint (taken as the data are read), or None."""
        power = self.settings.power
        weight = self.data.weight
        root = None if weight is None else weight ** (1.0 / power)
        X, Y, digest = self.data.dense(root_weight=root, fingerprint=fingerprint)
        self.scaling = (_scaling_for(float(np.max(np.abs(X))), float(np.max(np.abs(Y))),
                                     self.settings) if rescale else Scaling(power=power))
        if not self.scaling.identity:
            X /= self.scaling.x
            Y /= self.scaling.y
        self._dense = (X, Y)
        U, s, Vt = np.linalg.svd(X, full_matrices=False)
        r = rank_of(s, X.shape)
        self._svd = (U[:, :r], s[:r], Vt[:r])
        self.rank = r
        self.y_norm2 = float(np.sum(Y * Y))
        return digest

    def optimum(self, min_width: int) -> Optimum:
        """The global optimum for networks whose narrowest layer has ``min_width`` units."""
        if self._dense is None:
            split = self._split
            weight, compressed_loss, constrained = l2_optimum(split.s, split.Vt, split.Yc,
                                                              min_width)
            return Optimum(weight=weight, loss=split.unreachable + compressed_loss,
                           rank_constrained=constrained)
        return self._convex_optimum(min_width)

    def _convex_optimum(self, min_width):
        name, power, custom = (self.settings.loss_name, self.settings.power,
                               self.settings.custom_loss)
        if min_width < min(self.n0, self.nL):
            raise ValueError(
                f"widths bind the rank (min(widths) = {min_width} < min(n0, nL)): the {name} "
                "optimum under a rank constraint is not available; use loss='l2' or wider "
                "layers")
        if custom is not None and custom.second_derivative is None:
            raise ValueError(f"the {name} loss has no second_derivative: Newton's method for "
                             "its optimum needs it (ConvexLoss(..., second_derivative=...))")
        elementwise = ElementwiseLoss(custom) if custom is not None else PowerLoss(power)
        X, Y = self._dense
        weight, iterations = convex_optimum(*self._svd, Y, elementwise)
        loss = float(np.sum(elementwise.value(X @ weight.T - Y)))
        return Optimum(weight=weight, loss=loss, rank_constrained=False, loss_name=name,
                       newton_iterations=iterations)

    def working_data(self, optimum: Optimum):
        """``(Xw, Yw, Ow, Rw, compressed)`` for the engine, columns are samples.

        The exact L2 compression (docs/math.md section 4) where it is exact and gains
        something (``compress="auto"``: when ``rank(X) < m``), or is asked for; else the full
        data. ``Ow = W* Xw`` is the optimum's output, the target the fast engine keeps its
        residual against, and ``Rw = Ow - Yw`` the optimum's residual, so that errors are
        measured without cancellation (docs/math.md section 12). ``Rw`` is None where it is
        orthogonal to the rows of ``Xw`` (L2 with a rank the widths do not bind, no
        sampling): there the gradients are those of the residual against ``Ow`` alone.
        """
        settings = self.settings
        exact = self._dense is None and not settings.training_method.samples
        wanted = settings.compress is True or (settings.compress == "auto"
                                               and self.rank < self.m)
        orthogonal = exact and not optimum.rank_constrained
        engine: Any = get_engine(settings.engine)
        compressed = engine.capabilities.compression and exact and wanted
        if compressed:
            split = self._split
            Xw, Yw = split.Vt.T * split.s, split.Yc.T
            if orthogonal:  # W* Xw = Yw exactly
                return Xw, Yw, Yw, None, True
        else:
            X, Y = self._dense if self._dense is not None else self._dense_l2()
            Xw, Yw = X.T, Y.T
        Ot = Xw.T @ optimum.weight.T  # (r, nL) C-contiguous: the engine's layout, no copy
        Ow = Ot.T
        return Xw, Yw, Ow, None if orthogonal else (Ot - Yw.T).T, compressed
    def _dense_l2(self):
        """The L2 data in memory as the engine trains on them: centered, weighted, scaled."""
        weight, centering, scaling = self.data.weight, self.centering, self.scaling
        X, Y, _ = self.data.dense(
            x_shift=None if centering is None else centering.x_mean,
            y_shift=None if centering is None else centering.y_mean,
            root_weight=None if weight is None else np.sqrt(weight))
        if not scaling.identity:
            X /= scaling.x
            Y /= scaling.y
        return X, Y


def _column_norms(A):
    """Euclidean norms of the columns, without overflow for entries beyond 1e154."""
    largest = np.max(np.abs(A), axis=0) if A.size else np.zeros(A.shape[1])
    safe = np.where(largest > 0, largest, 1.0)
    return largest * np.sqrt(np.sum((A / safe) ** 2, axis=0))
