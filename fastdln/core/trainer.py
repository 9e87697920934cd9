"""A stateful trainer: set-up once, then sweeps or single layer updates on demand (core layer).

:class:`Trainer` is a small state machine over an engine: ``"ready"`` -> ``"running"`` ->
``"converged"`` or ``"diverged"``. The data are prepared by :class:`fastdln.core.problem.Problem`
(validation, exact rescaling, optimum, compression), the options come as one
:class:`fastdln.Settings`, and the engine does the arithmetic.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from ..maths import theory
from ..maths._checks import check_count, check_weights
from ..maths._memory import check_fits, draw_copies
from ..engines import engine_from_state, get_engine, layer_at, make_engine
from .data import Data
from ..maths.init import init_weights
from ..maths.optimum import Optimum, end_to_end
from .problem import Centering, Problem, Scaling
from .settings import Settings, check_settings, resume_conflicts
from .threads import ThreadPolicy, kernel_libraries

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .settings import Options

__all__ = ["DIVERGENCE_FACTOR", "STATE_FORMAT", "Trainer"]

STATE_FORMAT = 4  # version of Trainer.state_dict()'s layout

# A run is declared diverged when its error exceeds this multiple of its scale.
DIVERGENCE_FACTOR = 1e10


class _Record:
    """A growing float64 series (errors, rates): amortized O(1) appends of whole chunks."""

    def __init__(self, values):
        values = np.asarray(values, dtype=float).ravel()
        self._buffer = np.empty(max(16, 2 * values.size))
        self._buffer[: values.size] = values
        self._size = values.size

    def append(self, value):
        if self._size == self._buffer.size:
            self.extend(np.array([value]))
            return
        self._buffer[self._size] = value
        self._size += 1

    def extend(self, values):
        end = self._size + values.size
        if end > self._buffer.size:
            grown = np.empty(max(2 * self._buffer.size, end))
            grown[: self._size] = self._buffer[: self._size]
            self._buffer = grown
        self._buffer[self._size : end] = values
        self._size = end

    def last(self):
        return float(self._buffer[self._size - 1])

    def array(self):
        """The values so far, read-only and without a copy: entries are only ever appended
        (a longer buffer is a new array), so the view keeps these values."""
        view = self._buffer[: self._size]
        view.flags.writeable = False
        return view

    def __len__(self):
        return self._size


def _largest_dimension(settings):
    """The widest matrix the set-up works on: the widest layer (its input or output)."""
    return max(settings.widths)


def _size_class(engine):
    """Problems whose updates cost about the same (within a factor of 2): what one of them
    measured about BLAS threads is where the next one starts."""
    weights = engine.working_weights()
    work = sum(W.size for W in weights) * engine.X.shape[1] / len(weights)
    return (engine.X.dtype.name, int(np.log2(max(work, 1.0))))


def _initial_weights(given, settings):
    """The starting weights: the given ones (checked copies) in the run's dtype, or drawn
    from ``settings.init``."""
    if given is not None:
        return [W.astype(settings.dtype, copy=False) for W in given]
    return init_weights(list(settings.widths), settings.init, seed=settings.seed,
                        dtype=settings.dtype)


def _sampling_rng(seed):
    """The sampling stream of ``bcsgd``, independent of the initialization's."""
    if isinstance(seed, np.random.Generator):
        return seed.spawn(1)[0]
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(1,)))


class Trainer:
    """Set-up once (validation, optimum, compression, engine), then train step by step.

    Parameters
    ----------
    X : array_like, shape (m, n0)
        Inputs, one sample per row.
    Y : array_like, shape (m, nL) or (m,)
        Targets, one sample per row.
    weights : list of array_like, optional
        Initial ``W_l`` of shape ``(n_l, n_{l-1})`` (copied, never modified). Either
        ``weights``, the ``widths`` option or the ``depth`` option (with ``width``) is given.
    sample_weight : array_like, shape (m,), optional
        Non-negative sample weights: the loss is ``sum_i w_i l(r_i)`` ("l2" and "l<p>").
    settings : fastdln.Settings, optional
        Options as one object (e.g. from another run); ``**options`` override its fields.
    fingerprint : bool
        Also compute the data's fingerprint (:meth:`fastdln.core.data.Data.fingerprint`, what a
        checkpoint records) in the pass that reads them: :attr:`data_fingerprint`.
    **options
        Any field of :class:`fastdln.Settings`: ``widths`` (or ``depth`` and ``width``:
        ``[n0, width, ..., width, nL]``), ``init``, ``seed``, ``method``,
        ``order``, ``lr``, ``eta``, ``loss``, ``sampling``, ``batch_size``, ``dtype``,
        ``engine``, ``compress``, ``reduce_width``, ``diagnostics``, ``fit_intercept``,
        ``tol``, ``n_iter_no_change``, ``loss_tol``, ``threads``. ``n_iter_no_change`` is
        the sweep loop's rule (:func:`fastdln.train`, :func:`fastdln.runner.run_sweeps`);
        :meth:`sweep` itself stops early only at ``tol`` or a divergence.

    Attributes
    ----------
    settings : Settings
        The validated options (``widths`` resolved), checked once and carried unchanged by
        the engine and :meth:`state_dict`.
    data_fingerprint : str or None
        The data's fingerprint when ``fingerprint=True`` (None otherwise, and after
        :meth:`from_state`).
    status : {"ready", "running", "converged", "diverged"}
        Nothing run yet; training; the error reached ``tol`` (further calls keep training);
        an update would have made the error non-finite or above ``DIVERGENCE_FACTOR`` times
        its scale, was not applied, and further calls raise ``RuntimeError``.
    weights, errors, learning_rates, optimum, iteration, sweeps_done, position, thread_count
        The progress so far (see the properties).

    Notes
    -----
    One Trainer must not be used from two threads at once. Trainers in different threads
    take turns on the process-wide BLAS thread count (see :func:`fastdln.core.threads.blas_threads`)
    and give bitwise the results of serial runs.
    """

    def __init__(self, X: ArrayLike, Y: ArrayLike, weights: Sequence[ArrayLike] | None = None,
                 *, sample_weight: ArrayLike | None = None, settings: Settings | None = None,
                 fingerprint: bool = False, **options: Unpack[Options]) -> None:
        if weights is not None and "init" in options:
            raise ValueError("init draws a network from widths; it is not used when weights "
                             "are given (leave init out)")
        data = Data(X, Y, sample_weight)
        given = None if weights is None else check_weights(weights, np.float64, data.n0,
                                                           data.nL)
        settings = check_settings(settings, m=data.m, n0=data.n0, nL=data.nL,
                                  weight_widths=None if given is None else given[1], **options)
        check_fits(settings.widths, settings.dtype, copies=2 + draw_copies(settings.dtype),
                   held_by="training (the network, drawn in float64 where it is float32, and "
                   "the engine's working copy)")  # before allocating
        threads = ThreadPolicy(settings.threads)
        with threads.setup(_largest_dimension(settings)) as count:
            problem = Problem(data, settings, workers=count, fingerprint=fingerprint)
            weights = _initial_weights(None if given is None else given[0], settings)
            optimum = problem.optimum(min(settings.widths or ()))
            engine = make_engine(problem.working_data(optimum),
                                 problem.scaling.weights_in(weights), settings, m=problem.m,
                                 optimum=optimum)
            with np.errstate(over="ignore"):  # an overflow is refused below, by name
                initial_error = engine.initial_error()
        if not np.isfinite(initial_error * problem.scaling.error_unit):
            raise ValueError("the initial error overflows float64: the initial network's "
                             "outputs on X are beyond its range; divide X by a constant (or "
                             "give smaller initial weights)")
        threads.sized(_size_class(engine))
        self.settings = settings
        self.data_fingerprint = problem.fingerprint
        self._threads = threads
        self._engine = engine
        self._scaling = problem.scaling
        self._centering = problem.centering
        self._set_constants()
        self._optimum = optimum
        self._rng = _sampling_rng(settings.seed) if settings.training_method.samples else None
        self._draws, self._batches = None, None
        self.position = 0
        self.sweeps_done = 0
        self.status = "ready"
        self.diverged_at: int | None = None
        self._errors = _Record([initial_error * self._scaling.error_unit])
        self._rates = _Record([])
        self.diagnostics: dict[str, list[float]] | None = (
            {"kappa_S": [], "kappa_P": [], "gamma": []} if settings.diagnostics else None)
        self._rank_X = problem.rank
        self._rank_optimum = (int(np.linalg.matrix_rank(optimum.weight))
                              if settings.diagnostics else None)  # only the diagnostics use it
        scale = max(abs(self._errors.last()) / self._scaling.error_unit,
                    problem.y_norm2 / problem.m, 1e-300)
        self._error_limit = DIVERGENCE_FACTOR * scale

    # -- state -----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue bit for bit with :meth:`from_state`.

        A dict of numpy arrays, numbers, strings and lists: the settings, the position inside
        the current sweep, the kernels' caches, the recorded errors and rates, the sampling
        state. It holds the (compressed) data, so :meth:`from_state` needs nothing else.
        """
        optimum = self._optimum
        return dict(
            format=STATE_FORMAT,
            settings=self.settings.to_state(),
            progress=dict(position=self.position, sweeps_done=self.sweeps_done,
                          status=self.status, diverged_at=self.diverged_at),
            records=dict(errors=self.errors, learning_rates=self.learning_rates,
                         diagnostics=self.diagnostics),
            scaling=dict(x=self._scaling.x, y=self._scaling.y),
            centering=(None if self._centering is None else
                       dict(x_mean=self._centering.x_mean, y_mean=self._centering.y_mean)),
            optimum=dict(weight=optimum.weight, loss=optimum.loss,
                         rank_constrained=optimum.rank_constrained,
                         loss_name=optimum.loss_name,
                         newton_iterations=optimum.newton_iterations),
            limits=dict(error_limit=self._error_limit, rank_X=self._rank_X,
                        rank_optimum=self._rank_optimum),
            sampling=dict(rng=None if self._rng is None else self._rng.bit_generator.state,
                          draws=self._draws, batches=self._batches),
            engine=self._engine.state(mid_sweep=self.position != 0))

    @classmethod
    def from_state(cls, state: dict[str, Any], *, strict: bool = True,
                   **options: Unpack[Options]) -> Trainer:
        """A trainer that continues exactly where the one that made ``state`` was.

        ``options`` may repeat the saved settings; one that changes the computation (order,
        lr, loss, method, widths, ...) raises ``ValueError`` naming it and both values, while
        ``tol`` may change. The state is checked against its settings: a missing key or
        arrays that contradict the settings raise ``ValueError`` naming them. An unknown
        top-level key (not made by :meth:`state_dict`) raises ``ValueError`` naming it, like
        torch's ``load_state_dict``, unless ``strict=False``, which ignores it.
        """
        _check_state_layout(state, strict)
        saved = Settings.from_state(state["settings"])
        settings = check_settings(saved, **options)
        conflicts = resume_conflicts(saved, settings, options)
        if conflicts:
            raise ValueError("the checkpoint was trained with other settings: "
                             + "; ".join(conflicts))
        engine_state = state["engine"]
        _check_state_arrays(state, settings)
        trainer = cls.__new__(cls)
        trainer.settings = settings
        trainer.data_fingerprint = None
        trainer._threads = ThreadPolicy(settings.threads)
        progress, records, limits = state["progress"], state["records"], state["limits"]
        trainer.position = progress["position"]
        trainer.sweeps_done = progress["sweeps_done"]
        trainer.status = progress["status"]
        trainer.diverged_at = progress["diverged_at"]
        trainer._errors = _Record(records["errors"])
        trainer._rates = _Record(records["learning_rates"])
        trainer.diagnostics = records["diagnostics"]
        trainer._scaling = Scaling(state["scaling"]["x"], state["scaling"]["y"], settings.power)
        centering = state["centering"]
        trainer._centering = None if centering is None else Centering(**centering)
        trainer._optimum = Optimum(**{k: v for k, v in state["optimum"].items()})
        trainer._error_limit = limits["error_limit"]
        trainer._rank_X, trainer._rank_optimum = limits["rank_X"], limits["rank_optimum"]
        sampling = state["sampling"]
        trainer._rng = None
        if sampling["rng"] is not None:
            trainer._rng = np.random.default_rng()
            trainer._rng.bit_generator.state = sampling["rng"]
        trainer._draws, trainer._batches = sampling["draws"], sampling["batches"]
        trainer._engine = engine_from_state(engine_state, settings)
        trainer._threads.sized(_size_class(trainer._engine))
        trainer._set_constants()
        return trainer

    def _set_constants(self):
        """What every update reads, looked up once (a step's cost is mostly its kernel's)."""
        self._updates_per_sweep = self.settings.updates_per_sweep
        self._error_unit = self._scaling.error_unit
        self._unscaled = self._scaling.identity
        self._holding = False  # inside stepping(): the BLAS threads are already set
        # the BLAS libraries a sweep's work calls: the kernels' (scipy's) only, unless numpy's
        # linear algebra runs too (the reference engine, the diagnostics)
        self._sweep_libraries = (kernel_libraries()
                                 if self._engine.capabilities.blas == "kernels"
                                 and not self.settings.diagnostics else None)
        # the engine's kernel switches the count itself (one library: the kernels')
        self._kernel_threads = (getattr(self._engine, "kernel_threads", False)
                                and self._sweep_libraries is not None
                                and len(self._sweep_libraries) == 1)

    # -- read-only views -------------------------------------------------------------------
    @property
    def widths(self) -> list[int]:
        """``[n0, n1, ..., nL]``."""
        return list(self.settings.widths or ())

    @property
    def depth(self) -> int:
        return len(self.widths) - 1

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.settings.dtype)

    @property
    def size_class(self) -> tuple[str, int]:
        """``(dtype name, class)``: problems of one class cost about the same per update
        (within a factor of 2); the automatic BLAS thread count is remembered per class."""
        return self._threads.size

    @property
    def updates_per_sweep(self) -> int:
        return self._updates_per_sweep

    @property
    def optimum(self) -> Optimum:
        """The :class:`fastdln.Optimum` the errors are measured against."""
        return self._scaling.optimum_out(self._optimum)

    @property
    def loss(self) -> float:
        """The training loss per sample after the last update, ``loss(W) / m``: the error plus
        the optimum's ``loss(W*) / m`` (what ``n_iter_no_change`` watches)."""
        return float(self._errors.last()) + self.optimum.loss / self._engine.m

    @property
    def weights(self) -> list[np.ndarray]:
        """Full-width copies of the current weights, ``W_l`` of shape ``(n_l, n_{l-1})``
        (:meth:`weight_views` reads them without copying)."""
        return self._scaling.weights_out(self._engine.weights())

    def weight_views(self) -> list[np.ndarray]:
        """The current weights, read-only and without a copy where the engine holds them
        as they are (no width reduction, no rescaled data): views of its buffers, which the
        next update overwrites. Otherwise read-only copies. For tools that read the
        weights between updates (:attr:`weights` copies every one)."""
        if self._engine.width_reduced or not self._unscaled:
            views = self.weights
        else:
            views = self._engine.weight_views()
        for view in views:
            view.flags.writeable = False
        return views

    @property
    def intercept(self) -> np.ndarray:
        """The intercept ``b`` of the affine model ``W x + b`` (``fit_intercept=True``), shape
        ``(nL,)``; zeros without ``fit_intercept``."""
        if self._centering is None:
            return np.zeros(self.widths[-1])
        with self._threads.applied(0):  # BLAS work of the run: under its lock and count
            return self._centering.intercept(end_to_end([W.astype(np.float64)
                                                         for W in self.weights]))

    @property
    def errors(self) -> np.ndarray:
        """1-D float64, read-only (no copy): the initial error, then one per layer update."""
        return self._errors.array()

    @property
    def error(self) -> float:
        """The error after the last update (the initial error before any), without reading
        the history."""
        return self._errors.last()

    @property
    def learning_rates(self) -> np.ndarray:
        """1-D float64, read-only (no copy): the learning rate of every layer update."""
        return self._rates.array()

    @property
    def iteration(self) -> int:
        """Number of layer updates done."""
        return len(self._rates)

    @property
    def thread_count(self) -> int | None:
        """BLAS threads of the last :meth:`sweep` or :meth:`step` (under ``threads=None``, the
        count the policy chose for it; inside :meth:`stepping`, the block's); None before
        the first."""
        return self._threads.last

    @property
    def compressed(self) -> bool:
        """Whether the exact L2 data compression is applied."""
        return self._engine.compressed

    @property
    def width_reduced(self) -> bool:
        """Whether the exact width reduction of Theorem 3.1 is applied."""
        return self._engine.width_reduced

    # -- training --------------------------------------------------------------------------
    def step(self) -> float | None:
        """Run one layer update (one GD iteration for ``method="gd"``); return its error
        (None if the update would diverge).

        Each call sets the BLAS threads for the update and restores them, through the
        libraries' own C functions and only where the count differs (well under a
        microsecond); :meth:`stepping` holds them for a block of steps."""
        errors = self._advance(self.position + 1)
        return float(errors[-1]) if errors.size else None

    @contextmanager
    def stepping(self) -> Iterator[Trainer]:
        """Hold this trainer's BLAS thread count for a block of :meth:`step` (or
        :meth:`sweep`) calls.

        The count is set once when the block starts and the previous counts are restored
        when it ends; in between every loaded BLAS library runs on that count, for the whole
        process (other Python threads that train wait for the block to end; see
        :func:`fastdln.core.threads.blas_threads`). Under ``threads=None`` the count is the one
        the policy chooses for the next sweep, and the block's updates are not measured.
        A plain :meth:`step` costs about as little; the block is for code that wants the
        count fixed across its own calls.
        """
        if self._holding:
            yield self
            return
        token = self._threads.enter(self._sweep_libraries)
        self._holding = True
        try:
            yield self
        finally:
            self._holding = False
            self._threads.exit(token, 0)

    def sweep(self, k: int = 1) -> np.ndarray:
        """Run ``k`` sweeps (finishing the current one first); return their errors per update.

        Stops early (returning the errors so far) if the run diverges or reaches ``tol``.
        """
        k = check_count(k, "k", minimum=1)
        chunks = []
        for _ in range(k):
            chunks.append(self._advance(self.updates_per_sweep).copy())  # see _run
            if self.status in ("diverged", "converged"):
                break
        return np.concatenate(chunks)

    def _advance(self, end):
        if self.status == "diverged":
            raise RuntimeError(
                f"training diverged at iteration {self.diverged_at}; the weights are those "
                "of the last finite state; start a new Trainer to continue")
        begin = self.position
        if self._holding:
            errors, rates, bad = self._run(begin, end)
        elif self._kernel_threads:
            errors, rates, bad = self._run_switching_in_kernel(begin, end)
        else:
            token = self._threads.enter(self._sweep_libraries)
            try:
                errors, rates, bad = self._run(begin, end)
            finally:
                self._threads.exit(token, end - begin)
        self._record(begin, errors, rates)
        if bad is not None:
            self._diverge(bad)
            return errors
        self.position = end % self._updates_per_sweep
        if self.position == 0:
            self.sweeps_done += 1
        self.status = "running"
        tol = self.settings.tol
        if tol is not None and errors.size and self._errors.last() <= tol:
            self.status = "converged"
        return errors

    def _run_switching_in_kernel(self, begin, end):
        """The engine's updates with the BLAS count switched and set back by its kernel
        (C calls inside the call, where Python's through ctypes cost about a microsecond a
        step), under the lock of the process's counts."""
        token = self._threads.enter_kernel(self._sweep_libraries)
        try:
            return self._engine.run(begin, end, self._error_limit, threads=token[0])
        except BaseException:
            found = self._engine.threads_found()
            if found:  # the kernel raised before it set the count back
                for library in self._sweep_libraries:
                    library.setter(found)
            raise
        finally:
            self._threads.exit_kernel(token, end - begin)

    def _run(self, begin, end):
        """The engine's updates at positions ``begin .. end-1`` (with the sampling or the
        diagnostics the run asks for). The arrays may be views of the engine's workspace,
        valid until its next run: read or copy them before."""
        if self.diagnostics is not None:
            return self._run_with_diagnostics(begin, end)
        if self._rng is not None:
            if begin == 0:
                self._draw_samples()
            return self._engine.run(begin, end, self._error_limit, self._draws, self._batches)
        return self._engine.run(begin, end, self._error_limit)

    def _record(self, begin, errors, rates):
        """Errors and rates in the caller's units (one update's without array arithmetic)."""
        if rates.size == 1 and errors.size == 1:
            self._errors.append(errors[0] * self._error_unit)
            if self._unscaled:
                self._rates.append(rates[0])
            else:
                self._rates.append(self._scaling.rates_out(rates[0],
                                                           self._first_layer(begin, 1)[0]))
            return
        self._errors.extend(errors * self._error_unit)
        self._rates.extend(self._scaling.rates_out(rates, self._first_layer(begin, rates.size)))

    def _first_layer(self, begin, count):
        """Which of ``count`` updates from position ``begin`` update ``W_1``."""
        if self.settings.training_method.all_layers_at_once:
            return np.zeros(count, bool)
        positions = np.arange(begin, begin + count) % self.updates_per_sweep
        return layer_at(positions, self.depth, self.settings.order) == 0  # element-wise

    def _draw_samples(self):
        """The random numbers of one stochastic sweep (the same for both engines)."""
        self._draws = self._rng.random(self.depth)
        m = self._engine.m
        if self.settings.sampling == "uniform":
            self._batches = np.array([self._rng.choice(m, self.settings.batch_size,
                                                       replace=False)
                                      for _ in range(self.depth)], dtype=np.int64)
        else:
            self._batches = np.zeros((self.depth, 0), np.int64)

    def _run_with_diagnostics(self, begin, end):
        """Update by update, recording Theorem 3.2's quantities before each one (costly)."""
        chunks = []
        eta = self.settings.eta if self.settings.lr == "bounded" else 1.0
        for position in range(begin, end):
            i = layer_at(position, self.depth, self.settings.order) + 1
            values = theory.layer_diagnostics(self._engine.working_weights(), i,
                                              self._engine.X, self._rank_optimum,
                                              self._rank_X, eta)
            for name, value in zip(("kappa_S", "kappa_P", "gamma"), values):
                self.diagnostics[name].append(value)
            errors, rates, bad = self._engine.run(position, position + 1, self._error_limit)
            chunks.append((errors.copy(), rates.copy(), bad))  # see _run
            if chunks[-1][2] is not None:
                break
        errors = np.concatenate([c[0] for c in chunks])
        rates = np.concatenate([c[1] for c in chunks])
        return errors, rates, chunks[-1][2]

    def _diverge(self, value):
        self.diverged_at = self.iteration + 1
        self.status = "diverged"
        warnings.warn(
            f"{self.settings.method.upper()} diverged at iteration {self.diverged_at} (its "
            f"error would be {value:.3g}); it was not applied: the weights are those after "
            f"iteration {self.iteration}", RuntimeWarning, stacklevel=4)


_STATE_KEYS = dict(
    progress=("position", "sweeps_done", "status", "diverged_at"),
    records=("errors", "learning_rates", "diagnostics"),
    scaling=("x", "y"),
    optimum=("weight", "loss", "rank_constrained", "loss_name", "newton_iterations"),
    limits=("error_limit", "rank_X", "rank_optimum"),
    sampling=("rng", "draws", "batches"),
    engine=("X", "Y", "m", "compressed", "width_reduced", "weights"),
)


def _check_state_layout(state, strict=True):
    """Every key a state must have, by name; with ``strict``, no other top-level key."""
    if not isinstance(state, dict) or "format" not in state:
        raise TypeError("state must be a dict made by Trainer.state_dict()")
    unknown = sorted(map(str, set(state) - {"format", "settings", "centering", *_STATE_KEYS}))
    if strict and unknown:
        raise ValueError(f"state has unexpected key(s) {unknown}: not made by "
                         "Trainer.state_dict() (strict=False ignores them)")
    if state["format"] > STATE_FORMAT:
        raise ValueError(f"state has format {state['format']}, newer than this fastdln "
                         f"reads ({STATE_FORMAT}); upgrade fastdln")
    if state["format"] < STATE_FORMAT:
        raise ValueError(f"state has format {state['format']}, written by an older fastdln "
                         f"(this one reads {STATE_FORMAT}); start the run again")
    missing = [name for name in ("settings", "centering", *_STATE_KEYS) if name not in state]
    missing += [f"{group}[{key!r}]" for group, keys in _STATE_KEYS.items() if group in state
                for key in keys if key not in state[group]]
    if missing:
        raise ValueError(f"state lacks {', '.join(missing)}: not a complete Trainer state")


def _check_state_arrays(state, settings):
    """The arrays of a state against its settings: widths, dtype, depth, counts."""
    engine = state["engine"]
    weights = engine["weights"]
    widths = [np.shape(weights[0])[1]] + [np.shape(W)[0] for W in weights] if len(
        weights) else []
    problems = []
    if widths != list(settings.widths or ()):
        problems.append(f"the weights have widths {widths}, the settings {settings.widths}")
    dtypes = {np.asarray(W).dtype.name for W in weights}
    if dtypes != {settings.dtype}:
        problems.append(f"the weights are {sorted(dtypes)}, the settings say {settings.dtype}")
    progress, records = state["progress"], state["records"]
    if not 0 <= progress["position"] < settings.updates_per_sweep:
        problems.append(f"position {progress['position']} is outside a sweep of "
                        f"{settings.updates_per_sweep} updates")
    iterations = len(records["learning_rates"])
    if len(records["errors"]) != iterations + 1:
        problems.append(f"{len(records['errors'])} errors for {iterations} learning rates "
                        "(expected one more error)")
    samples = settings.training_method.samples
    if samples != (state["sampling"]["rng"] is not None):
        problems.append(f"method={settings.method!r} but the sampling state is "
                        f"{'missing' if samples else 'present'}")
    if settings.fit_intercept != (state["centering"] is not None):
        problems.append(f"fit_intercept={settings.fit_intercept} but the means are "
                        f"{'missing' if settings.fit_intercept else 'present'}")
    lacking = [name for name in get_engine(settings.engine).state_keys if name not in engine]
    if lacking:
        problems.append(f"engine={settings.engine!r} but the engine state has no "
                        f"{', '.join(lacking)}")
    if problems:
        raise ValueError("state does not match its settings: " + "; ".join(problems))
