"""The training methods as units (core layer): what each one checks, needs and trains on.

A method is a :class:`Method` in :data:`REGISTRY`. The settings validate a run's rate, loss
and sampling options with its ``check``; the problem, the engines and the trainer read what
the method needs from its flags instead of naming it. Adding a method means a unit here,
registered, and its update in the engines (docs/methods.md lists the files).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..maths._checks import check_choice, check_count, check_positive_float

__all__ = ["BCGD", "BCSGD", "GD", "METHODS", "RATES", "REGISTRY", "SAMPLINGS", "Method"]

RATES = ("optimal", "bounded")  # the named learning rates (else a constant, a float)
SAMPLINGS = ("importance", "uniform")  # the stochastic method's choices of samples


@dataclass(frozen=True)
class Method:
    """A training method: its name, what it needs and the checks of its options.

    Attributes
    ----------
    name : str
        The ``method`` option's value.
    summary : str
        One line for help texts.
    all_layers_at_once : bool
        One iteration updates every layer (a sweep is one update, no layer order).
    samples : bool
        Each update draws samples: the method trains on the full (uncompressed) data with a
        random stream of its own, and its rates are scale-covariant line searches.
    blocked_gradients : bool
        Large layers' gradients may be formed by blocks of rows (the sweep kernel).
    custom_losses : bool
        Trains a custom :class:`fastdln.losses.ConvexLoss`.
    diagnostics : bool
        Can record Theorem 3.2's quantities per update (``diagnostics=True``).
    check : callable
        ``check(lr=, eta=, power=, compress=, sampling=, batch_size=, m=)`` -> the resolved
        ``dict(lr=, eta=, sampling=, batch_size=)``; raises ``ValueError`` naming the option.
    """

    name: str
    summary: str
    all_layers_at_once: bool
    samples: bool
    blocked_gradients: bool
    custom_losses: bool
    diagnostics: bool
    check: Callable[..., dict[str, Any]]

    def updates_per_sweep(self, depth: int) -> int:
        """Layer updates in one sweep of a ``depth``-layer network."""
        return 1 if self.all_layers_at_once else depth


def _check_rate(lr, eta):
    """A named rate (``eta`` only with ``"bounded"``, default 1) or a positive constant."""
    if isinstance(lr, str):
        check_choice(lr, "lr", RATES)
        if lr == "bounded":
            return lr, 1.0 if eta is None else check_positive_float(eta, "eta", upper=2.0)
        if eta is not None:
            raise ValueError("eta is only used with lr='bounded'; got eta with lr='optimal'")
        return lr, None
    if eta is not None:
        raise ValueError("eta is only used with lr='bounded'; a constant rate is given as lr")
    return check_positive_float(lr, "lr"), None


def _no_sampling(name, sampling, batch_size):
    for option, value in (("sampling", sampling), ("batch_size", batch_size)):
        if value is not None:
            raise ValueError(f"{option} is only used with method='bcsgd', got "
                             f"{option}={value!r} with method={name!r}")
    return dict(sampling=None, batch_size=None)


def _check_layerwise(lr, eta, sampling, batch_size, **_):
    lr, eta = _check_rate(lr, eta)
    return dict(lr=lr, eta=eta, **_no_sampling("bcgd", sampling, batch_size))


def _check_simultaneous(lr, eta, sampling, batch_size, **_):
    if isinstance(lr, str):
        raise ValueError("method='gd' takes a constant learning rate: lr must be a positive "
                         "float (e.g. fastdln.theory.gd_rate(X, depth, nL), [11]'s rate)")
    lr, eta = _check_rate(lr, eta)
    return dict(lr=lr, eta=eta, **_no_sampling("gd", sampling, batch_size))


def _check_stochastic(lr, eta, power, compress, sampling, batch_size, m):
    if lr != "optimal":
        raise ValueError("method='bcsgd' sets its own rates (Theorem 3.6's for importance "
                         "sampling, the batch's optimal rate for uniform); leave lr='optimal'")
    if power != 2:
        raise ValueError("method='bcsgd' is defined for loss='l2' (Theorem 3.6)")
    if compress is True:
        raise ValueError("compress=True changes the samples; method='bcsgd' uses the full data")
    eta = 1.0 if eta is None else check_positive_float(eta, "eta", upper=2.0)
    return dict(lr="optimal", eta=eta, **_check_batches(sampling, batch_size, m))


def _check_batches(sampling, batch_size, m):
    """Importance sampling of one sample per update, or uniform batches (default
    ``min(32, m)`` samples, resolved once ``m`` is known)."""
    sampling = "importance" if sampling is None else check_choice(sampling, "sampling",
                                                                  SAMPLINGS)
    if sampling == "importance":
        if batch_size not in (None, 1):
            raise ValueError("sampling='importance' (Theorem 3.6) uses one sample per update; "
                             f"batch_size must be None or 1, got {batch_size!r}")
        return dict(sampling=sampling, batch_size=1 if m is not None else None)
    if batch_size is not None:
        batch_size = check_count(batch_size, "batch_size", 1)
    if m is None:
        return dict(sampling=sampling, batch_size=batch_size)
    batch_size = min(32, m) if batch_size is None else batch_size
    if batch_size > m:
        raise ValueError(f"batch_size must be at most the number of samples ({m}), "
                         f"got {batch_size}")
    return dict(sampling=sampling, batch_size=batch_size)


BCGD = Method("bcgd", "layer-wise BCGD (the paper's method)", all_layers_at_once=False,
              samples=False, blocked_gradients=True, custom_losses=True,
              diagnostics=True, check=_check_layerwise)
GD = Method("gd", "gradient descent on all layers at once (a constant rate)",
            all_layers_at_once=True, samples=False, blocked_gradients=False,
            custom_losses=False, diagnostics=False, check=_check_simultaneous)
BCSGD = Method("bcsgd", "stochastic BCGD (Theorem 3.6)", all_layers_at_once=False,
               samples=True, blocked_gradients=False, custom_losses=False,
               diagnostics=False, check=_check_stochastic)

REGISTRY = {method.name: method for method in (BCGD, GD, BCSGD)}
METHODS = tuple(REGISTRY)  # the method option's choices
