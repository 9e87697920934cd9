"""The reference engine: the naive formulas of :mod:`fastdln.maths.reference` behind the
engine interface (the truth the Numba engine is tested against). Registered as
``"reference"``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..maths import reference
from .common import gradient_rounding, layer_at
from .registry import Capabilities, register

if TYPE_CHECKING:  # annotations only: the engines sit below the core
    from ..core.settings import Settings

__all__ = ["ReferenceEngine"]


@register("reference", Capabilities(summary="the naive reference (fastdln.reference)"))
class ReferenceEngine:
    """Adapter that runs :mod:`fastdln.reference` updates behind the engine interface."""

    compressed = False
    width_reduced = False
    state_keys = ("optimum_weight",)

    def __init__(self, Xw, Yw, weights, settings: Settings, *, m, optimum_weight,
                 constrained=False):
        """Full data ``Xw`` ``(n0, m)``, ``Yw`` ``(nL, m)``; ``optimum_weight``: ``W*``
        ``(nL, n0)``, which the errors are measured against."""
        self.settings = settings
        dtype = np.dtype(settings.dtype)
        self.X = np.ascontiguousarray(Xw, dtype)
        self.Y = np.ascontiguousarray(Yw, dtype)
        self._weights = [W.copy() for W in weights]
        self.depth = len(weights)
        self.m = m
        self.optimum_weight = np.asarray(optimum_weight, np.float64)
        self.constrained = constrained
        self.inv_m = 1.0 / m

    def state(self, mid_sweep=True):
        return dict(X=self.X.copy(), Y=self.Y.copy(), m=self.m,
                    optimum_weight=self.optimum_weight.copy(), constrained=self.constrained,
                    compressed=False,
                    width_reduced=False, weights=self.weights())

    @classmethod
    def build(cls, data, weights, settings, *, m, optimum):
        Xw, Yw = data[0], data[1]
        return cls(Xw, Yw, weights, settings, m=m, optimum_weight=optimum.weight,
                   constrained=optimum.rank_constrained)

    @classmethod
    def from_state(cls, state, settings):
        return cls(state["X"], state["Y"], state["weights"], settings, m=state["m"],
                   optimum_weight=state["optimum_weight"], constrained=state["constrained"])

    def _error(self):
        """``(loss(W) - loss(W*)) / m`` without cancellation: from ``D = (W_L...W_1 - W*) X``
        and the optimum's residual ``W* X - Y`` (docs/math.md section 12)."""
        weights64 = [W.astype(np.float64) for W in self._weights]
        settings = self.settings
        X = self.X.astype(np.float64)
        D = (reference.suffix_product(weights64, 0) - self.optimum_weight) @ X
        R_opt = self.optimum_weight @ X - self.Y.astype(np.float64)
        return reference.loss_difference(D, R_opt, settings.power, settings.custom_loss,
                                         self.constrained) * self.inv_m

    def run(self, begin, end, error_limit, draws=None, batches=None):
        with np.errstate(all="ignore"):  # a diverging update is caught by its error
            return self._run(begin, end, error_limit, draws, batches)

    def _run(self, begin, end, error_limit, draws, batches):
        settings = self.settings
        if settings.training_method.all_layers_at_once:
            before = self.weights()
            reference.gd_update(self._weights, self.X, self.Y, settings.lr, settings.power)
            error = self._error()
            if not error <= error_limit:
                self._weights = before
                return np.empty(0), np.empty(0), error
            return np.array([error]), np.array([float(settings.lr)]), None
        errors, rates, bad = [], [], None
        for position in range(begin, end):
            i = layer_at(position, self.depth, settings.order) + 1
            before = self._weights[i - 1]
            if settings.sampling is None:
                eta = reference.layer_update(
                    self._weights, i, self.X, self.Y, settings.lr, settings.eta,
                    gradient_rounding(self.X.dtype, *self.Y.shape), power=settings.power,
                    custom_loss=settings.custom_loss).eta
            else:
                eta = reference.sampled_update(self._weights, i, self.X, self.Y,
                                               settings.sampling, draws[position],
                                               batches[position], settings.eta)
            error = self._error()
            if not error <= error_limit:
                self._weights[i - 1], bad = before, error
                break
            errors.append(error)
            rates.append(eta)
        return np.array(errors), np.array(rates), bad

    def initial_error(self):
        return self._error()

    def weights(self):
        return [W.copy() for W in self._weights]

    def weight_views(self):
        return [W.view() for W in self._weights]

    working_weights = weights
