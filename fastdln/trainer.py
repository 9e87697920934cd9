"""A stateful BCGD trainer: set-up once, then sweeps or single layer updates on demand."""

from __future__ import annotations

import warnings

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _validation as v
from . import reference, theory
from ._engines import FastEngine, ReferenceEngine, layer_at
from .init import init_weights
from .optimum import Optimum, Problem, optimum_for

__all__ = ["Trainer"]

STATE_FORMAT = 1  # version of Trainer.state_dict()'s layout

# A run is declared diverged when its error exceeds this multiple of its scale.
DIVERGENCE_FACTOR = 1e10


def _check_lr(lr, eta):
    if isinstance(lr, str):
        v.check_choice(lr, "lr", ("optimal", "bounded"))
        if lr == "bounded":
            return lr, 1.0 if eta is None else v.check_positive_float(eta, "eta", upper=2.0)
        if eta is not None:
            raise ValueError("eta is only used with lr='bounded'; got eta with lr='optimal'")
        return lr, None
    if eta is not None:
        raise ValueError("eta is only used with lr='bounded'; a constant rate is given as lr")
    return v.check_positive_float(lr, "lr"), None


def _check_stochastic(lr, eta, loss, compress):
    if lr != "optimal":
        raise ValueError("method='bcsgd' sets its own rates (Theorem 3.6's for importance "
                         "sampling, the batch's optimal rate for uniform); leave lr='optimal'")
    if loss != "l2":
        raise ValueError("method='bcsgd' is defined for loss='l2' (Theorem 3.6)")
    if compress is True:
        raise ValueError("compress=True changes the samples; method='bcsgd' uses the full data")
    return "optimal", 1.0 if eta is None else v.check_positive_float(eta, "eta", upper=2.0)


def _check_sampling(method, sampling, batch_size, m):
    if method != "bcsgd":
        return None, None
    v.check_choice(sampling, "sampling", ("importance", "uniform"))
    if sampling == "importance":
        if batch_size not in (None, 1):
            raise ValueError("sampling='importance' (Theorem 3.6) uses one sample per update; "
                             f"batch_size must be None or 1, got {batch_size!r}")
        return sampling, 1
    batch_size = min(32, m) if batch_size is None else v.check_count(batch_size, "batch_size", 1)
    if batch_size > m:
        raise ValueError(f"batch_size must be at most the number of samples ({m}), "
                         f"got {batch_size}")
    return sampling, batch_size


def _sampling_rng(seed):
    """The sampling stream of ``bcsgd``, independent of the initialization's."""
    if isinstance(seed, np.random.Generator):
        return seed.spawn(1)[0]
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(1,)))


def _check_tol(tol):
    if tol is None:
        return None
    if isinstance(tol, (bool, np.bool_)) or not isinstance(tol, (int, float, np.floating)):
        raise TypeError(f"tol must be None or a non-negative number, got {tol!r}")
    if not np.isfinite(tol) or tol < 0:
        raise ValueError(f"tol must be None or a non-negative finite number, got {tol!r}")
    return float(tol)


def _check_switch(value, name):
    if value not in ("auto", True, False):
        raise ValueError(f"{name} must be 'auto', True or False, got {value!r}")
    return value


def _initial_weights(weights, widths, init, seed, dtype, n0, nL):
    if weights is not None:
        weights, actual = v.check_weights(weights, dtype, n0, nL)
        if widths is not None and v.check_widths(widths, n0, nL) != actual:
            raise ValueError(f"widths {list(widths)} do not match the weights' widths {actual}")
        return weights
    if widths is None:
        raise ValueError("give either weights or widths (e.g. widths=[n0, 128, ..., nL])")
    widths = v.check_widths(widths, n0, nL)
    return init_weights(widths, init, seed=seed, dtype=np.dtype(dtype).name)


class _Record:
    """A growing float64 series (errors, rates): amortized O(1) appends of whole chunks."""

    def __init__(self, values):
        values = np.asarray(values, dtype=float).ravel()
        self._buffer = np.empty(max(16, 2 * values.size))
        self._buffer[: values.size] = values
        self._size = values.size

    def extend(self, values):
        end = self._size + values.size
        if end > self._buffer.size:
            grown = np.empty(max(end, 2 * self._buffer.size))
            grown[: self._size] = self._buffer[: self._size]
            self._buffer = grown
        self._buffer[self._size : end] = values
        self._size = end

    def last(self):
        return float(self._buffer[self._size - 1])

    def array(self):
        return self._buffer[: self._size].copy()

    def __len__(self):
        return self._size


class Trainer:
    """Train a deep linear network by BCGD one sweep (or one layer update) at a time.

    Set-up (validation, copies, the SVD behind the exact L2 compression and the optimum,
    width reduction, kernel buffers) happens once here; :meth:`sweep` and :meth:`step` only
    run kernels. :func:`fastdln.train` is a loop over this class.

    Parameters
    ----------
    X : array_like, shape (m, n0)
    Y : array_like, shape (m, nL) or (m,)
    weights : list of array_like, optional
        Initial ``W_l`` of shape ``(n_l, n_{l-1})``; copied, never modified.
    widths : sequence of int, optional
        ``[n0, ..., nL]``; used with ``init`` and ``seed`` when ``weights`` is None.
    init, seed
        See :func:`fastdln.init_weights`.
    method : {"bcgd", "gd", "bcsgd"}
        Layer-wise BCGD, or gradient descent on all layers at once (constant ``lr`` only;
        one GD iteration counts as one sweep).
    order : {"descending", "ascending"}
        Layer order within a sweep.
    lr : {"optimal", "bounded"} or float
        ``"optimal"``: (3.4) ``||G||^2 / ||Z||^2``; ``"bounded"``: (3.2)
        ``eta / (||S||_2^2 ||P||_2^2)``; a positive float: that constant rate.
    eta : float in (0, 2), optional
        The ``eta_bar`` of the bounded rate (default 1).
    loss : {"l2", "l4", "l6", ...}
        ``sum |r|^p / p`` per entry of the residual; errors are ``(sum |R|^p - loss*) / m``.
    tol : float, optional
        The status becomes ``"converged"`` when the error falls to ``tol`` or below.
    engine : {"fast", "reference"}
        Numba kernels, or the naive :mod:`fastdln.reference`.
    dtype : {"float64", "float32"}, optional
        Arithmetic precision (default float64).
    compress : {"auto", True, False}
        Exact L2 data compression to ``rank(X)`` columns (MATH.md section 4); ``"auto"`` applies
        it when ``rank(X) < m``. Fast engine only.
    reduce_width : {"auto", True, False}
        Exact width reduction of Theorem 3.1 when the weights have its padded form
        (``"auto"`` and True apply it when it is exact). Fast engine only.
    diagnostics : bool
        Record before every BCGD update Theorem 3.2's ``kappa_r(S)``, ``kappa_rx(P)`` and
        ``gamma`` (with ``eta`` of the bounded rate, 1 otherwise) in ``self.diagnostics``
        (``r = rank(W*)``, ``rx = rank(X)``). Costs O(L) products and two SVDs per update.
    """

    def __init__(self, X: ArrayLike, Y: ArrayLike, weights: Sequence[ArrayLike] | None = None,
                 *, widths: Sequence[int] | None = None, init: str = "orth-identity",
                 seed: int | np.random.Generator | None = None, method: str = "bcgd",
                 order: str = "descending", lr: str | float = "optimal",
                 eta: float | None = None, loss: Any = "l2", tol: float | None = None,
                 engine: str = "fast", dtype: str | None = None, compress: str | bool = "auto",
                 reduce_width: str | bool = "auto", diagnostics: bool = False,
                 sampling: str = "importance", batch_size: int | None = None) -> None:
        dtype = v.check_dtype("float64" if dtype is None else dtype)
        self.method = v.check_choice(method, "method", v.METHODS)
        if method == "gd" and isinstance(lr, str):
            raise ValueError("method='gd' takes a constant learning rate: lr must be a positive "
                             "float (e.g. fastdln.theory.gd_rate(X, depth, nL), [11]'s rate)")
        self.order = v.check_choice(order, "order", v.ORDERS)
        if method == "bcsgd":
            self.lr, self.eta = _check_stochastic(lr, eta, loss, compress)
        else:
            self.lr, self.eta = _check_lr(lr, eta)
        self.power, self.custom_loss = v.check_loss(loss)
        if self.power != 2 and self.lr == "bounded":
            raise ValueError("lr='bounded' is the L2 rate (3.2); with another loss use "
                             "lr='optimal' (the near-optimal rate (3.10)/(3.11)) or a constant")
        if self.power != 2 and compress is True:
            raise ValueError("compress=True is only exact for loss='l2'")
        if self.custom_loss is not None and method != "bcgd":
            raise ValueError(f"a custom ConvexLoss trains with method='bcgd' only, got "
                             f"method={method!r}")
        self.tol = _check_tol(tol)
        self.engine_name = v.check_choice(engine, "engine", v.ENGINES)
        _check_switch(compress, "compress")
        _check_switch(reduce_width, "reduce_width")
        v.check_choice(init, "init", v.INITS)
        X, Y = v.check_data(X, Y)
        self.sampling, self.batch_size = _check_sampling(method, sampling, batch_size,
                                                         X.shape[0])
        self._rng = _sampling_rng(seed) if method == "bcsgd" else None
        self._draws, self._batches = None, None
        weights = _initial_weights(weights, widths, init, seed, dtype, X.shape[1], Y.shape[1])
        self._x_scale, self._y_scale = 1.0, 1.0
        if self.custom_loss is None and (isinstance(self.lr, str) or method == "bcsgd"):
            X, Y, weights = self._rescale(X, Y, weights)
        self.widths = [X.shape[1]] + [W.shape[0] for W in weights]
        self.dtype = np.dtype(dtype)
        self._problem = Problem(X, Y, min(self.widths))
        self._optimum = optimum_for(self._problem, X, Y, self.power, min(self.widths),
                                    self.custom_loss)
        self._engine = self._make_engine(X, Y, weights, compress, reduce_width)
        self.depth = len(weights)
        self.updates_per_sweep = 1 if self.method == "gd" else self.depth
        self.position = 0
        self.sweeps_done = 0
        self.status = "ready"
        self.diverged_at = None
        self._errors = _Record([self._engine.initial_error() * self._error_unit])
        self.diagnostics: dict[str, list[float]] | None = (
            {"kappa_S": [], "kappa_P": [], "gamma": []} if diagnostics else None)
        self._rank_X = self._problem.s.size
        self._rank_optimum = (int(np.linalg.matrix_rank(self._optimum.weight)) if diagnostics
                              else None)  # only the diagnostics use it
        self._rates = _Record([])
        scale = max(abs(self._errors.last()) / self._error_unit,
                    float(np.sum(Y * Y)) / X.shape[0], 1e-300)
        self._error_limit = DIVERGENCE_FACTOR * scale

    def _make_engine(self, X, Y, weights, compress, reduce_width):
        options = dict(order=self.order, lr=self.lr, eta=self.eta, dtype=self.dtype,
                       m=X.shape[0], power=self.power, method=self.method,
                       sampling=self.sampling, custom_loss=self.custom_loss)
        if self.engine_name == "reference":
            return ReferenceEngine(X.T, Y.T, weights, loss_offset=self._optimum.loss, **options)
        rank = self._problem.s.size
        exact = self.power == 2 and self.method != "bcsgd"  # exact for L2's full gradients
        if exact and (compress is True or (compress == "auto" and rank < X.shape[0])):
            Xw, Yw, offset = self._problem.compression()
            return FastEngine(Xw, Yw, weights, loss_offset=offset, compressed=True,
                              reduce_width=bool(reduce_width), **options)
        return FastEngine(X.T, Y.T, weights, loss_offset=self._optimum.loss, compressed=False,
                          reduce_width=bool(reduce_width), **options)

    # -- state -----------------------------------------------------------------------------
    _COUNTERS = ("position", "sweeps_done", "status", "diverged_at", "_error_limit",
                 "diagnostics", "_rank_X", "_rank_optimum", "_x_scale", "_y_scale")
    _SETTINGS = ("order", "lr", "eta", "tol", "engine_name", "widths", "depth", "power",
                 "method", "updates_per_sweep", "sampling", "batch_size", "custom_loss")

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue bit for bit with :meth:`from_state`.

        A dict of numpy arrays, numbers, strings and lists (weights, the position inside the
        current sweep, the kernels' caches, the recorded errors and rates, the settings). It
        holds the (compressed) data, so :meth:`from_state` needs nothing else.
        """
        state = {name: getattr(self, name) for name in self._COUNTERS + self._SETTINGS}
        state.update(rng=None if self._rng is None else self._rng.bit_generator.state,
                     draws=self._draws, batches=self._batches)
        state.update(format=STATE_FORMAT, dtype=self.dtype.name, errors=self.errors,
                     learning_rates=self.learning_rates, optimum_weight=self._optimum.weight,
                     optimum_loss=self._optimum.loss,
                     rank_constrained=self._optimum.rank_constrained,
                     engine_state=self._engine.state())
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Trainer:
        """A trainer that continues exactly where the one that made ``state`` was."""
        if not isinstance(state, dict) or "format" not in state:
            raise TypeError("state must be a dict made by Trainer.state_dict()")
        if state["format"] > STATE_FORMAT:
            raise ValueError(f"state has format {state['format']}, newer than this fastdln "
                             f"reads ({STATE_FORMAT}); upgrade fastdln")
        trainer = cls.__new__(cls)
        for name in cls._COUNTERS + cls._SETTINGS:
            setattr(trainer, name, state[name])
        trainer.dtype = np.dtype(state["dtype"])
        trainer._rng = None
        if state["rng"] is not None:
            trainer._rng = np.random.default_rng()
            trainer._rng.bit_generator.state = state["rng"]
        trainer._draws, trainer._batches = state["draws"], state["batches"]
        trainer._errors = _Record(state["errors"])
        trainer._rates = _Record(state["learning_rates"])
        trainer._optimum = Optimum(weight=np.asarray(state["optimum_weight"]),
                                   loss=float(state["optimum_loss"]),
                                   rank_constrained=bool(state["rank_constrained"]),
                                   loss_name=(trainer.custom_loss.name if trainer.custom_loss
                                              else f"l{trainer.power}"))
        engine_class = ReferenceEngine if trainer.engine_name == "reference" else FastEngine
        trainer._engine = engine_class.from_state(
            state["engine_state"], order=trainer.order, lr=trainer.lr, eta=trainer.eta,
            dtype=trainer.dtype)
        return trainer

    # -- read-only views -------------------------------------------------------------------
    @property
    def optimum(self):
        """The :class:`fastdln.Optimum` the errors are measured against."""
        opt = self._optimum
        if self._x_scale == self._y_scale == 1.0:
            return opt
        return Optimum(weight=opt.weight * (self._y_scale / self._x_scale),
                       loss=opt.loss * self._error_unit, rank_constrained=opt.rank_constrained,
                       loss_name=opt.loss_name, newton_iterations=opt.newton_iterations)

    @property
    def weights(self):
        """Full-width copies of the current weights, ``W_l`` of shape ``(n_l, n_{l-1})``."""
        weights = self._engine.weights()
        if self._x_scale != self._y_scale:
            weights[0] = weights[0] * (self._y_scale / self._x_scale)
        return weights

    @property
    def _error_unit(self):
        return self._y_scale ** self.power

    def _rescale(self, X, Y, weights):
        """Exact power-of-two rescaling of extreme data (|values| beyond 2^+-64).

        With ``X' = X / a``, ``Y' = Y / b`` and ``W_1' = (a / b) W_1`` the optimal, bounded
        and stochastic rates (line searches, scale-covariant) give exactly the same
        trajectory, while norms like ``||G||^2`` stay far from overflow and underflow.
        """
        def power_of_two(array):
            largest = float(np.max(np.abs(array)))
            if largest == 0.0 or 2.0 ** -64 <= largest <= 2.0 ** 64:
                return 1.0
            return float(2.0 ** np.round(np.log2(largest)))

        a, b = power_of_two(X), power_of_two(Y)
        if not np.isfinite(a / b) or a / b == 0.0:
            return X, Y, weights
        self._x_scale, self._y_scale = a, b
        weights = [weights[0] * (a / b)] + list(weights[1:])
        return X / a, Y / b, weights

    @property
    def errors(self):
        """1-D float64: the initial error, then one per layer update."""
        return self._errors.array()

    @property
    def learning_rates(self):
        """1-D float64: the learning rate of every layer update."""
        return self._rates.array()

    @property
    def iteration(self):
        """Number of layer updates done."""
        return len(self._rates)

    @property
    def compressed(self):
        """Whether the exact L2 data compression is applied."""
        return self._engine.compressed

    @property
    def width_reduced(self):
        """Whether the exact width reduction of Theorem 3.1 is applied."""
        return self._engine.width_reduced

    # -- training --------------------------------------------------------------------------
    def step(self) -> float | None:
        """Run one layer update (one GD iteration for ``method="gd"``); return its error
        (None if the update would diverge)."""
        errors = self._advance(self.position + 1)
        return float(errors[-1]) if errors.size else None

    def sweep(self, k: int = 1) -> np.ndarray:
        """Run ``k`` sweeps (finishing the current one first); return their errors per update.

        Stops early (returning the errors so far) if the run diverges or reaches ``tol``.
        """
        k = v.check_count(k, "k", minimum=1)
        chunks = []
        for _ in range(k):
            chunks.append(self._advance(self.updates_per_sweep))
            if self.status in ("diverged", "converged"):
                break
        return np.concatenate(chunks)

    def _advance(self, end):
        if self.status == "diverged":
            raise RuntimeError(
                f"training diverged at iteration {self.diverged_at}; the weights are those "
                "of the last finite state; start a new Trainer to continue")
        with np.errstate(all="ignore"):
            if self.diagnostics is not None and self.method == "bcgd":
                errors, rates, bad = self._run_with_diagnostics(end)
            elif self.method == "bcsgd":
                if self.position == 0:
                    self._draw_samples()
                errors, rates, bad = self._engine.run(self.position, end, self._error_limit,
                                                      self._draws, self._batches)
            else:
                errors, rates, bad = self._engine.run(self.position, end, self._error_limit)
        self._errors.extend(errors * self._error_unit)
        self._rates.extend(self._unscaled_rates(rates, self.position))
        if bad is not None:
            self._diverge(bad)
            return errors
        self.position = end % self.updates_per_sweep
        if self.position == 0:
            self.sweeps_done += 1
        self.status = "running"
        if self.tol is not None and errors.size and self._errors.last() <= self.tol:
            self.status = "converged"
        return errors

    def _unscaled_rates(self, rates, begin):
        """Learning rates in the units of the caller's data (see :meth:`_rescale`)."""
        if self._x_scale == self._y_scale == 1.0:
            return rates
        p, a, b = self.power, self._x_scale, self._y_scale
        positions = np.arange(begin, begin + rates.size) % self.updates_per_sweep
        first = np.array([layer_at(q, self.depth, self.order) == 0 for q in positions])
        if self.method == "gd":
            first = np.zeros(rates.size, bool)
        return np.where(first, rates * b ** (2 - p) / a ** 2, rates / b ** p)

    def _draw_samples(self):
        """The random numbers of one stochastic sweep (the same for both engines)."""
        self._draws = self._rng.random(self.depth)
        m = self._engine.m
        if self.sampling == "uniform":
            self._batches = np.array([self._rng.choice(m, self.batch_size, replace=False)
                                      for _ in range(self.depth)], dtype=np.int64)
        else:
            self._batches = np.zeros((self.depth, 0), np.int64)

    def _run_with_diagnostics(self, end):
        """Update by update, recording Theorem 3.2's quantities before each one (costly)."""
        chunks = []
        for position in range(self.position, end):
            weights = self._engine.working_weights()
            i = layer_at(position, self.depth, self.order) + 1
            S = reference.suffix_product(weights, i)
            P = reference.prefix_product(weights, i, self._engine.X)
            kappa_S = theory.kappa_r(S, self._rank_optimum)
            kappa_P = theory.kappa_r(P, self._rank_X)
            eta = self.eta if self.lr == "bounded" else 1.0
            for name, value in (("kappa_S", kappa_S), ("kappa_P", kappa_P),
                                ("gamma", theory.gamma_bounded(kappa_S, kappa_P, eta))):
                self.diagnostics[name].append(value)
            chunks.append(self._engine.run(position, position + 1, self._error_limit))
            if chunks[-1][2] is not None:
                break
        errors = np.concatenate([c[0] for c in chunks])
        rates = np.concatenate([c[1] for c in chunks])
        return errors, rates, chunks[-1][2]

    def _diverge(self, value):
        self.diverged_at = self.iteration + 1
        self.status = "diverged"
        warnings.warn(
            f"{self.method.upper()} diverged at iteration {self.diverged_at} (its error would "
            f"be {value:.3g}); "
            f"it was not applied: the weights are those after iteration {self.iteration}",
            RuntimeWarning, stacklevel=4)
