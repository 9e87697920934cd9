"""Every training option in one place: the frozen :class:`Settings` and its validation.

A run's options are checked once, by :func:`check_settings`, into a :class:`Settings` that then
travels unchanged from :func:`fastdln.train` to :class:`fastdln.Trainer`, its engine, its
``state_dict()``, checkpoints, :attr:`fastdln.TrainResult.settings`, saved models, grids and
the command line. Adding an option means adding a field here, its check in
:func:`check_settings`, and the code that uses it.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass, field
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

from ..maths._checks import (check_choice, check_count, check_dtype, check_flag, check_rng,
                      check_widths)
from ..maths.init import INITS, layer_widths
from ..maths.losses import REGISTRY as LOSSES
from ..maths.losses import ConvexLoss
from ..engines import REGISTRY as REGISTRY_OF_ENGINES
from ..engines import discover, get_engine, unsupported
from .methods import METHODS, RATES, REGISTRY, SAMPLINGS, Method

if TYPE_CHECKING:  # typing.Unpack is 3.11+; only the type checker reads it
    from typing_extensions import Unpack

__all__ = ["ENGINES", "FRONT_END_DEFAULTS", "METHODS", "ORDERS", "Options", "RATES", "RECORDS",
           "SAMPLINGS", "Settings", "check_loss",
           "check_settings", "option_from_text", "resume_conflicts",
           "text_options"]

ORDERS = ("descending", "ascending")
ENGINES = REGISTRY_OF_ENGINES.keys()  # a live view: an engine registered later is offered
RECORDS = ("iteration", "sweep")
# The defaults a front end declares where its own differ from Settings' on purpose (README
# "defaults that differ on purpose"); the front ends take them from here and change nothing
# else: scikit-learn's and a table's convention of an intercept, a repeatable command.
# The command line and the estimator stop by scikit-learn's rule for iterative estimators (the
# loss stopped improving); train, Trainer and grids run the sweeps they are given.
FRONT_END_DEFAULTS: dict[str, dict[str, Any]] = {
    "command line": dict(seed=0, fit_intercept=True, n_iter_no_change=10),
    "grid": dict(seed=0),
    "estimator": dict(fit_intercept=True, n_iter_no_change=10),
}


def _text_lr(text):
    """``optimal``, ``bounded`` or a number."""
    return text if text in RATES else float(text)


def _text_threads(text):
    """``auto`` or a count."""
    return None if text == "auto" else int(text)


def _text_count_or_none(text):
    """A count or ``none``."""
    return None if text.lower() == "none" else int(text)


def _text_bool(text):
    """``true`` or ``false``."""
    return {"true": True, "false": False}.get(text.lower(), text)


def _text_switch(text):
    """``auto``, ``true`` or ``false``."""
    return {"auto": "auto", "true": True, "false": False}.get(text.lower(), text)


def _option(default, help, text=str, choices=None, may_differ=False):
    """A :class:`Settings` field with what the command line needs to offer it: a one-line
    ``help``, the ``text`` converter of a command-line value (None: not offered) and the
    ``choices``. ``may_differ``: the option may change when a run is resumed."""
    return field(default=default, metadata=dict(help=help, text=text, choices=choices,
                                                may_differ=may_differ))


@dataclass(frozen=True)
class Settings:
    """The options of a training run, validated (build one with :func:`check_settings`).

    Attributes
    ----------
    widths : tuple of int or None
        ``(n0, n1, ..., nL)``; None until the network is known (from ``weights``, or from
        ``depth`` and ``width`` once ``n0`` and ``nL`` are).
    depth : int or None
        Number of layers ``L``: the network ``[n0, width, ..., width, nL]``, a shortcut for
        ``widths`` as in :class:`fastdln.DeepLinearRegressor`. Given with ``widths`` (or
        ``weights``), it must agree with them. Once the widths are known, their depth.
    width : int or None
        Width of the hidden layers with ``depth`` (default ``max(n0, nL)``, which keeps the
        exact width reduction available). Once the widths are known, their hidden width if
        they all have one, else None.
    init : str
        Initialization of a network given by ``widths``: a name in
        :data:`fastdln.maths.init.INITS` (see :func:`fastdln.init_weights`).
    seed : None, int or numpy.random.Generator
        Seeds the initialization and the sampling of ``method="bcsgd"``.
    method : {"bcgd", "gd", "bcsgd"}
        Layer-wise BCGD; gradient descent on all layers at once (constant ``lr`` only; one GD
        iteration counts as one sweep); or stochastic BCGD (Theorem 3.6).
    order : {"descending", "ascending"}
        Layer order within a sweep (``L .. 1`` or ``1 .. L``).
    lr : {"optimal", "bounded"} or float
        ``"optimal"`` is (3.4) for L2 and the near-optimal (3.10)/(3.11) for other losses,
        ``"bounded"`` is (3.2) with ``eta``, a positive float is a constant rate.
    eta : float in (0, 2) or None
        ``eta_bar`` of the bounded rate and of Theorem 3.6's rate (default 1).
    loss : "l2", "l<p>" with an even p >= 4, a name in fastdln.losses.REGISTRY, or a
        fastdln.losses.ConvexLoss
        ``sum |r|^p`` (no ``1/p``) or ``sum l(r)`` over the residual's entries.
    sampling : {"importance", "uniform"} or None
        ``method="bcsgd"`` only: Theorem 3.6's importance sampling of one sample per update
        (the default), or uniform batches of ``batch_size`` with the batch's optimal rate.
    batch_size : int or None
        ``sampling="uniform"``: samples per update (default ``min(32, m)``).
    dtype : {"float64", "float32"}
        Precision of the weights and the kernels (errors are accumulated in float64).
    engine : {"fast", "reference"} or a name registered in ``fastdln.engines.REGISTRY``
        The Numba engine, the naive :mod:`fastdln.reference`, or another registered engine
        (``fastdln.engines.register``; its capabilities are checked here).
    compress, reduce_width : {"auto", True, False}
        The exact L2 data compression and width reduction of the fast engine
        (docs/math.md sections 4 and 5): ``"auto"`` applies them where they are exact and
        gain something; True insists (an error where not exact); False never.
    diagnostics : bool
        Record Theorem 3.2's ``kappa_r(S)``, ``kappa_rx(P)`` and ``gamma`` per update (costly).
    fit_intercept : bool
        Fit an affine model ``W_L ... W_1 x + b``: the network trains on ``X`` and ``Y``
        centered by their (weighted) means and ``b = mean(Y) - W mean(X)`` (exact for the L2
        loss, docs/math.md section 11).
    tol : float or None
        Stop (status ``"converged"``) once the error is ``<= tol`` (the exact-error stop, in
        the unit of the errors). May differ on resume.
    n_iter_no_change : int or None
        Stop (status ``"converged"``) once the training loss has improved by less than
        ``loss_tol`` (relative) in each of this many sweeps in a row: scikit-learn's rule for
        iterative estimators (``MLPRegressor``, ``SGDRegressor``), the default of the command
        line and of :class:`fastdln.DeepLinearRegressor` (10). None: never (``train`` and
        ``Trainer``'s default: they run the sweeps they are given). May differ on resume
        (a resumed run counts its sweeps without change anew).
    loss_tol : float
        With ``n_iter_no_change``: a sweep that lowers the training loss ``loss(W) / m``
        (the error plus the optimum's loss per sample) by less than ``loss_tol`` times the
        best loss so far counts as no change. May differ on resume.
    threads : int or None
        BLAS threads during each sweep (every loaded BLAS library, previous counts restored
        after it), or None: measured on the first sweeps and now and then (one thread or all
        the cores, whichever is faster now). A fixed count gives bitwise reproducible runs.
        The L2 set-up folds the data on this many threads (None: one per core). May differ
        on resume.
    """

    widths: tuple[int, ...] | None = _option(None, "(n0, n1, ..., nL)", text=None)
    depth: int | None = _option(None, "number of layers: widths n0, width, ..., width, nL",
                                text=int)
    width: int | None = _option(None, "width of the hidden layers (default: max(n0, nL))",
                                text=int)
    init: str = _option("orth-identity", "initialization of a network given by widths",
                        choices=INITS)
    seed: int | np.random.Generator | None = _option(None, "seeds init and bcsgd sampling",
                                                     text=int)
    method: str = _option("bcgd", "; ".join(f"{unit.name}: {unit.summary}"
                                            for unit in REGISTRY.values()), choices=METHODS)
    order: str = _option("descending", "layer order within a sweep", choices=ORDERS)
    lr: str | float = _option("optimal", "'optimal' (3.4), 'bounded' (3.2) or a constant",
                              text=_text_lr)
    eta: float | None = _option(None, "eta_bar of the bounded and stochastic rates, in (0, 2)",
                                text=float)
    loss: str | ConvexLoss = _option("l2", "'l2', 'l<p>' with an even p (l4, l6, ...) or "
                                     + ", ".join(LOSSES))
    sampling: str | None = _option(None, "bcsgd only: importance (default) or uniform",
                                   choices=SAMPLINGS)
    batch_size: int | None = _option(None, "bcsgd with uniform sampling: samples per update",
                                     text=int)
    dtype: str = _option("float64", "precision of the weights and kernels",
                         choices=("float64", "float32"))
    engine: str = _option("fast", "the engine that runs the updates (the Numba one, the naive "
                          "reference, or one registered in fastdln.engines)", choices=ENGINES)
    compress: str | bool = _option("auto", "exact L2 data compression", text=_text_switch,
                                   choices=("auto", "true", "false"))
    reduce_width: str | bool = _option("auto", "exact width reduction (Theorem 3.1)",
                                       text=_text_switch, choices=("auto", "true", "false"))
    diagnostics: bool = _option(False, "record Theorem 3.2's quantities (costly)", text=None)
    fit_intercept: bool = _option(False, "center X and Y: an affine model (loss 'l2' only)",
                                  text=_text_bool, choices=("true", "false"))
    tol: float | None = _option(None, "stop once the error is <= tol", text=float,
                                may_differ=True)
    n_iter_no_change: int | None = _option(
        None, "stop once the loss improved by less than loss-tol (relative) in this many "
        "sweeps in a row ('none': never)", text=_text_count_or_none, may_differ=True)
    loss_tol: float = _option(1e-4, "relative improvement of the loss per sweep that counts as "
                              "no change (with n-iter-no-change)", text=float, may_differ=True)
    threads: int | None = _option(None, "BLAS threads per sweep, or 'auto' to measure",
                                  text=_text_threads, may_differ=True)

    @property
    def power(self) -> int:
        """``p`` of the loss ``sum |r|^p`` (0 for a custom :class:`ConvexLoss`)."""
        return check_loss(self.loss)[0]

    @property
    def custom_loss(self) -> ConvexLoss | None:
        """The custom convex loss, or None for ``"l<p>"``."""
        return check_loss(self.loss)[1]

    @property
    def loss_name(self) -> str:
        return self.loss.name if isinstance(self.loss, ConvexLoss) else self.loss

    @property
    def updates_per_sweep(self) -> int:
        """Layer updates per sweep (one GD iteration updates every layer at once)."""
        if self.widths is None:
            raise ValueError("the network's widths are not known yet")
        return self.training_method.updates_per_sweep(len(self.widths) - 1)

    @property
    def training_method(self) -> Method:
        """The :class:`fastdln.core.methods.Method` that ``method`` names."""
        return REGISTRY[self.method]

    def replace(self, **changes: Unpack[Options]) -> Settings:
        """A validated copy with some fields changed (see :func:`check_settings`)."""
        return check_settings(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain values (a custom loss by its name, a Generator seed as None):
        what models, grids and the command line write out."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["loss"] = self.loss_name
        out["widths"] = None if self.widths is None else list(self.widths)
        if isinstance(self.seed, np.random.Generator):
            out["seed"] = None
        return out

    def to_state(self) -> dict[str, Any]:
        """The fields as they are (a custom loss as its object): a trainer's state."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if isinstance(self.seed, np.random.Generator):
            out["seed"] = None  # used up by the initialization; the sampling state is kept
        return out

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Settings:
        """The settings saved by :meth:`to_state` (checked again; missing fields named; the
        ``depth`` and ``width`` that states before them lack are derived from ``widths``)."""
        if not isinstance(state, dict):
            raise ValueError(f"state['settings'] must be a dict, got {type(state).__name__}")
        state = {**dict.fromkeys(_SHAPE), **_ADDED, **state}
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in state]
        if missing:
            raise ValueError(f"state['settings'] lacks {missing}")
        unknown = sorted(set(state) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"state['settings'] has unknown options {unknown}")
        return check_settings(**state)


class Options(TypedDict, total=False):
    """The training options as keyword arguments (``**options`` of :func:`fastdln.train`,
    :class:`fastdln.Trainer`, :func:`check_settings`, ``Settings.replace``): the fields of
    :class:`Settings` with their types (``widths`` any sequence), so a type checker names a
    misspelt option. tests/test_settings.py checks it against the fields."""

    widths: Sequence[int] | None
    depth: int | None
    width: int | None
    init: str
    seed: int | np.random.Generator | None
    method: str
    order: str
    lr: str | float
    eta: float | None
    loss: str | ConvexLoss
    sampling: str | None
    batch_size: int | None
    dtype: str
    engine: str
    compress: str | bool
    reduce_width: str | bool
    diagnostics: bool
    fit_intercept: bool
    tol: float | None
    n_iter_no_change: int | None
    loss_tol: float
    threads: int | None


_FIELDS = tuple(f.name for f in dataclasses.fields(Settings))
_SHAPE = ("depth", "width")  # the widths' shortcut: derived from widths once known
# Options added after the first state format, with the value that states without them meant.
_ADDED = dict(n_iter_no_change=None, loss_tol=1e-4)


def check_loss(loss):
    """``(p, None)`` for ``loss = "l<p>"`` (``"l2"`` or an even ``p >= 4``), or ``(0, loss)``
    for a :class:`fastdln.losses.ConvexLoss` (given, or registered under the name ``loss``)."""
    if isinstance(loss, ConvexLoss):
        return 0, loss
    if isinstance(loss, str) and loss in LOSSES:
        return 0, LOSSES[loss]
    if isinstance(loss, str) and loss.startswith("l") and loss[1:].isdigit():
        power = int(loss[1:])
        if power >= 2 and power % 2 == 0:
            return power, None
    raise ValueError(f"loss must be 'l2', 'l<p>' with an even p >= 4 ('l4', 'l6', ...), a "
                     f"registered loss ({', '.join(map(repr, LOSSES))}) or a "
                     f"fastdln.losses.ConvexLoss, got {loss!r}")


def check_settings(base: Settings | None = None, *, m: int | None = None,
                   n0: int | None = None, nL: int | None = None,
                   weight_widths: list[int] | None = None,
                   **options: Unpack[Options]) -> Settings:
    """Validate ``options`` (on top of ``base``, default :class:`Settings()`) into Settings.

    Parameters
    ----------
    base : Settings, optional
        Values for the options not given.
    m : int, optional
        Number of samples: when given, ``batch_size`` is resolved and checked against it.
    n0, nL : int, optional
        Features and outputs of the data: when given, the network's ``widths`` are resolved
        (from ``widths``, ``depth`` and ``width``, or ``weight_widths``) and checked against
        them.
    weight_widths : list of int, optional
        ``[n0, ..., nL]`` of given initial weights (with ``n0`` and ``nL``).
    **options
        Any :class:`Settings` field. An unknown name raises ``TypeError``.

    Returns
    -------
    Settings
        Every value checked and resolved (``eta`` and ``sampling`` get their defaults). A
        training run checks its settings once, here, and then carries this object unchanged.
    """
    unknown = sorted(set(options) - set(_FIELDS))
    if unknown:
        raise TypeError(f"unknown option(s) {unknown}; the options are {list(_FIELDS)}")
    if base is not None and not isinstance(base, Settings):
        raise TypeError(f"settings must be a fastdln.Settings, got {type(base).__name__}")
    values: dict[str, Any] = (dict(_unresolved(base, options), **options) if base is not None
                              else dict(options))
    values = {name: values.get(name, getattr(Settings, name, None)) for name in _FIELDS}
    values.update(_check_each(values))
    values.update(_check_shape(values["widths"], values["depth"], values["width"]))
    if n0 is not None and nL is not None:
        widths = tuple(_network_widths(values, n0, nL, weight_widths))
        values.update(widths=widths, **_check_shape(widths, values["depth"], values["width"]))
    values.update(_check_combination(values, m))
    return Settings(**values)


_DERIVED = ("eta", "sampling", "batch_size")  # defaults that depend on method and lr


def _unresolved(base, options):
    """``base``'s fields; the derived ones back to None where ``options`` change what they
    derive from (so that, e.g., ``lr="bounded"`` -> ``"optimal"`` drops the default eta).
    New ``widths`` replace ``base``'s depth and width, a new ``depth`` or ``width`` the
    ``base``'s widths, where they disagree."""
    values = {name: getattr(base, name) for name in _FIELDS}
    if any(name in options for name in ("method", "lr", "loss")):
        for name in _DERIVED:
            values[name] = None
    shape = {name: options.get(name, values[name]) for name in ("widths", *_SHAPE)}
    if "widths" in options and not set(_SHAPE) & set(options):
        values.update(depth=None, width=None)
    elif set(_SHAPE) & set(options) and "widths" not in options and _disagree(**shape):
        values["widths"] = None
    return values


def _check_each(values):
    """Each field on its own: types, ranges and names."""
    seed = values["seed"]
    if not isinstance(seed, np.random.Generator):
        check_rng(seed)
        seed = None if seed is None else int(seed)
    widths = values["widths"]
    return dict(
        widths=None if widths is None else tuple(check_widths(widths)),
        depth=None if values["depth"] is None else check_count(values["depth"], "depth", 1),
        width=None if values["width"] is None else check_count(values["width"], "width", 1),
        init=check_choice(values["init"], "init", INITS),
        seed=seed,
        method=check_choice(values["method"], "method", METHODS),
        order=check_choice(values["order"], "order", ORDERS),
        loss=_checked_loss(values["loss"]),
        dtype=np.dtype(check_dtype(values["dtype"])).name,
        engine=get_engine(values["engine"]).name,
        compress=_check_switch(values["compress"], "compress"),
        reduce_width=_check_switch(values["reduce_width"], "reduce_width"),
        diagnostics=check_flag(values["diagnostics"], "diagnostics"),
        fit_intercept=check_flag(values["fit_intercept"], "fit_intercept"),
        tol=_check_tol(values["tol"]),
        n_iter_no_change=None if values["n_iter_no_change"] is None else check_count(
            values["n_iter_no_change"], "n_iter_no_change", 1),
        loss_tol=_check_loss_tol(values["loss_tol"]),
        threads=None if values["threads"] is None else check_count(values["threads"],
                                                                     "threads", 1),
    )


def _checked_loss(loss):
    check_loss(loss)
    return loss


def _disagree(widths, depth, width):
    """Whether ``depth`` or ``width`` contradict ``widths`` (False when not all are known)."""
    if widths is None:
        return False
    hidden = set(widths[1:-1])
    return ((depth is not None and depth != len(widths) - 1)
            or (width is not None and bool(hidden) and hidden != {width}))


def _check_shape(widths, depth, width):
    """``depth`` and ``width`` checked against ``widths`` and derived from them."""
    if widths is None:
        return dict(depth=depth, width=width)
    if _disagree(widths, depth, width):
        given = ", ".join(f"{name}={value}" for name, value in (("depth", depth),
                                                                ("width", width))
                          if value is not None)
        raise ValueError(f"{given} does not match widths={list(widths)} ({len(widths) - 1} "
                         "layers); give one or the other")
    hidden = set(widths[1:-1])
    return dict(depth=len(widths) - 1, width=hidden.pop() if len(hidden) == 1 else width)


def _network_widths(values, n0, nL, actual):
    """The network's widths ``[n0, n1, ..., nL]``: ``widths``, the ``actual`` widths of
    given weights, or ``[n0, width, ..., width, nL]`` from ``depth`` (and ``width``, default
    ``max(n0, nL)``). The one place where the shortcut becomes widths; a contradiction between
    them, or with the data's ``n0`` and ``nL``, raises ``ValueError``."""
    widths, depth, width = values["widths"], values["depth"], values["width"]
    if actual is not None:
        if widths is not None and check_widths(widths, n0, nL) != list(actual):
            raise ValueError(f"widths {list(widths)} do not match the weights' widths "
                             f"{list(actual)}")
        _check_shape(tuple(actual), depth, width)
        return list(actual)
    if widths is not None:
        return check_widths(widths, n0, nL)
    if depth is None:
        raise ValueError("give weights or widths, or depth (e.g. depth=10, or widths=[n0, "
                         "128, ..., nL])" + (": width needs depth" if width else ""))
    return layer_widths(n0, nL, depth, width)


def _check_combination(values, m):
    """The rules between fields (which rates, losses and methods go together): the method's
    own (:mod:`fastdln.core.methods`), then the losses'."""
    method = REGISTRY[values["method"]]
    power, custom = check_loss(values["loss"])
    resolved = method.check(lr=values["lr"], eta=values["eta"], power=power,
                            compress=values["compress"], sampling=values["sampling"],
                            batch_size=values["batch_size"], m=m)
    if power != 2 and resolved["lr"] == "bounded":
        raise ValueError("lr='bounded' is the L2 rate (3.2); with another loss use "
                         "lr='optimal' (the near-optimal rate (3.10)/(3.11)) or a constant")
    if power != 2 and values["compress"] is True:
        raise ValueError("compress=True is only exact for loss='l2'")
    if power != 2 and values["fit_intercept"]:
        raise ValueError("fit_intercept=True centers the data, which fits the intercept only "
                         f"for loss='l2'; got loss={values['loss']!r}")
    if custom is not None and not method.custom_losses:
        able = [name for name, unit in REGISTRY.items() if unit.custom_losses]
        raise ValueError(f"a custom ConvexLoss trains with method={' or '.join(map(repr, able))}"
                         f" only, got method={method.name!r}")
    if values["diagnostics"] and not method.diagnostics:
        raise ValueError(f"diagnostics=True records Theorem 3.2's quantities of BCGD's layer "
                         f"updates; method={method.name!r} has none (leave diagnostics off)")
    refused = unsupported(REGISTRY_OF_ENGINES[values["engine"]].capabilities,
                          dtype=values["dtype"], method=method.name,
                          loss_kind="custom" if custom is not None else
                          "l2" if power == 2 else "lp")
    if refused:
        raise ValueError(f"engine={values['engine']!r} cannot train with "
                         + "; ".join(refused))
    return resolved


def _check_tol(tol):
    if tol is None:
        return None
    if isinstance(tol, (bool, np.bool_)) or not isinstance(tol, numbers.Real):
        raise TypeError(f"tol must be None or a non-negative number, got {tol!r}")
    if not np.isfinite(tol) or tol < 0:
        raise ValueError(f"tol must be None or a non-negative finite number, got {tol!r}")
    return float(tol)


def _check_loss_tol(loss_tol):
    if isinstance(loss_tol, (bool, np.bool_)) or not isinstance(loss_tol, numbers.Real):
        raise TypeError(f"loss_tol must be a number in [0, 1), got {loss_tol!r}")
    if not 0 <= loss_tol < 1:
        raise ValueError(f"loss_tol must be a number in [0, 1), got {loss_tol!r}")
    return float(loss_tol)


def _check_switch(value, name):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if not (isinstance(value, str) and value == "auto"):
        raise ValueError(f"{name} must be 'auto', True or False, got {value!r}")
    return value


def resume_conflicts(saved: Settings, resumed: Settings,
                     given: Mapping[str, object]) -> list[str]:
    """The options in ``given`` that contradict the checkpoint's ``saved`` settings.

    ``resumed`` is ``check_settings(saved, **given)``. Options marked as allowed to differ
    (``tol``, ``n_iter_no_change``, ``loss_tol``, ``threads``) are never conflicts. Returns
    lines naming each option with both values (empty if everything matches).
    """
    conflicts = []
    for f in dataclasses.fields(Settings):
        if f.name not in given or f.metadata["may_differ"]:
            continue
        before, after = getattr(saved, f.name), getattr(resumed, f.name)
        if not _same(before, after):
            conflicts.append(f"{f.name}: the checkpoint has {before!r}, this call {after!r}")
    return conflicts


def _same(a, b):
    if isinstance(a, np.random.Generator) or isinstance(b, np.random.Generator):
        return a is b
    return type(a) is type(b) and a == b


def text_options() -> list[dataclasses.Field]:
    """The :class:`Settings` fields a command line offers (each with ``metadata["help"]``,
    ``["choices"]``), in declaration order (the engines of plugins included)."""
    discover()
    return [f for f in dataclasses.fields(Settings) if f.metadata["text"] is not None]


def option_from_text(name: str, text: str) -> Any:
    """The value of option ``name`` from its command-line spelling (checked later, by
    :func:`check_settings`)."""
    fields = {f.name: f for f in text_options()}
    if name not in fields:
        raise ValueError(f"{name} is not an option of the command line")
    try:
        return fields[name].metadata["text"](text)
    except ValueError:
        raise ValueError(f"{name}: cannot read {text!r} ({fields[name].metadata['help']})") \
            from None
