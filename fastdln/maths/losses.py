"""Custom convex losses: a small protocol and one shipped example, log-cosh.

A loss ``l(r)`` is applied to every entry ``r`` of the residual ``W X - Y`` and summed. To train
with it, BCGD needs ``l'`` (the gradient is ``S^T l'(R) P^T``) and a bound ``C(r) >= |l''(r)|``
for the near-optimal rate (3.10), ``||G||^2 / (max C(R) ||Z||^2)`` (Theorem 3.5: with it the
loss never increases). The error is ``(sum l(R) - sum l(R*)) / m``, the optimum found by
Newton's method when ``second_derivative`` is given.

Protocol (:class:`ConvexLoss`): ``value``, ``derivative``, ``curvature`` (and optionally
``second_derivative``) are numba-jitted functions of one float returning a float
(``@numba.njit``). The fast engine calls them inside its kernels; a kernel for custom losses
is compiled on first use in each process (a few seconds; built-in ``"l2"``/``"l<p>"`` are
cached on disk). Losses must be convex and twice differentiable.

By name: ``"l2"`` and ``"l<p>"`` (an even ``p``) are built in; the custom losses in
:data:`REGISTRY` (``"log-cosh"``) are also accepted by their name, wherever a loss is (the
command line's ``--loss``, grids, saved settings). Adding one: its jitted functions here and
its entry (docs/extending.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba.core.registry import CPUDispatcher

from ._cache import njit  # numba.njit, cached outside the package and never failing

__all__ = ["ConvexLoss", "REGISTRY", "log_cosh"]


@dataclass(frozen=True)
class ConvexLoss:
    """A convex loss ``l(r)`` given by jitted scalar functions (see the module docstring).

    Attributes
    ----------
    name : str
    value : jitted ``r -> l(r)``
    derivative : jitted ``r -> l'(r)``
    curvature : jitted ``r -> C(r)`` with ``C(r) >= |l''(r)|``
    second_derivative : jitted ``r -> l''(r)``, optional (Newton's method for the optimum)
    """

    name: str
    value: object
    derivative: object
    curvature: object
    second_derivative: object = None

    def __post_init__(self):
        for field in ("value", "derivative", "curvature", "second_derivative"):
            function = getattr(self, field)
            if function is None and field == "second_derivative":
                continue
            if not isinstance(function, CPUDispatcher):
                raise TypeError(f"ConvexLoss.{field} must be a numba.njit function of one "
                                f"float, got {type(function).__name__}")

    def kernel_functions(self):
        """``(value, derivative, curvature)``: what the kernels take."""
        return self.value, self.derivative, self.curvature

    def elementwise(self, field, array):
        """``field`` (e.g. ``"derivative"``) applied to every entry of ``array`` (float64)."""
        array = np.ascontiguousarray(array, dtype=np.float64)  # ravel() must be a view
        out = np.empty_like(array)
        _apply(getattr(self, field), array.ravel(), out.ravel())
        return out


@njit(cache=False)
def _apply(function, values, out):
    for j in range(values.size):
        out[j] = function(values[j])


@njit(cache=True)
def _log_cosh(r):
    a = abs(r)  # log cosh r = |r| + log1p(exp(-2|r|)) - log 2, without overflow
    return a + np.log1p(np.exp(-2.0 * a)) - np.log(2.0)


@njit(cache=True)
def _tanh(r):
    return np.tanh(r)


@njit(cache=True)
def _unit_bound(r):
    return 1.0  # sech^2 r <= 1


@njit(cache=True)
def _sech_squared(r):
    c = np.cosh(min(abs(r), 350.0))
    return 1.0 / (c * c)


log_cosh = ConvexLoss("log-cosh", _log_cosh, _tanh, _unit_bound, _sech_squared)
"""``l(r) = log cosh r``: quadratic near 0, linear in the tails (robust); ``C = 1``."""

REGISTRY = {loss.name: loss for loss in (log_cosh,)}  # the custom losses known by name
