"""``fastdln.train``: the sweep loop over a :class:`fastdln.Trainer` and its result (core).

:func:`run_sweeps` is the one sweep loop: :func:`train` uses it, and so do the applications
(command line, estimator, grids, reproductions) with their own callbacks for progress.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from . import io
from ..maths._checks import check_choice, check_count, check_weights
from .data import Data
from ..maths.optimum import Optimum
from .settings import RECORDS, Settings
from .trainer import Trainer

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .settings import Options

__all__ = ["NoChange", "TrainResult", "result_of", "run_sweeps", "train"]


@dataclass
class TrainResult:
    """What :func:`fastdln.train` returns.

    Attributes
    ----------
    weights : list of ndarray
        The trained weights (new arrays; the caller's are never modified). After a
        divergence, the last finite weights.
    errors : ndarray
        ``errors[0]`` is the initial error, then one per recorded iteration (or sweep);
        error = ``(loss(W) - loss(W*)) / m`` (docs/math.md section 7).
    learning_rates : ndarray
        One learning rate per iteration.
    iterations, sweeps : int
        Layer updates and complete sweeps done.
    status : str
        ``"max_sweeps"``, ``"converged"`` (error <= tol, or the loss stopped improving:
        ``n_iter_no_change``), ``"diverged"`` or ``"stopped"`` (by the callback).
    optimum : Optimum
        The global optimum the errors are measured against.
    elapsed : float
        Seconds spent in the sweep loop (set-up included).
    engine : str
        ``settings.engine``.
    compressed, width_reduced : bool
        Whether the exact L2 compression / Theorem 3.1 width reduction were applied.
    diverged_at : int or None
        The iteration whose error was non-finite or exploding.
    settings : Settings
        The run's validated options (``settings.widths`` the network's widths).
    intercept : ndarray, shape (nL,)
        ``b`` of the affine model ``W x + b`` with ``fit_intercept=True`` (else zeros).
    diagnostics : dict of ndarray or None
        With ``diagnostics=True``: ``kappa_S``, ``kappa_P``, ``gamma`` per update.
    """

    weights: list
    errors: np.ndarray
    learning_rates: np.ndarray
    iterations: int
    sweeps: int
    status: str
    optimum: Optimum
    elapsed: float
    engine: str = "fast"
    compressed: bool = False
    width_reduced: bool = False
    diverged_at: int | None = None
    settings: Settings | None = None
    diagnostics: dict | None = None
    intercept: np.ndarray | None = None

    def __repr__(self) -> str:
        """One line: the outcome, not the arrays."""
        widths = list(self.settings.widths or ()) if self.settings is not None else [
            self.weights[0].shape[1]] + [W.shape[0] for W in self.weights]
        return (f"TrainResult(status={self.status!r}, sweeps={self.sweeps}, iterations="
                f"{self.iterations}, error {float(self.errors[0]):.3e} -> "
                f"{float(self.errors[-1]):.3e}, widths={_short(widths)}, "
                f"elapsed={self.elapsed:.3g} s)")


def _short(widths):
    """``[784, 784, ..., 10] (11 layers)``-like text for long width lists."""
    if len(widths) <= 6:
        return str(widths)
    return f"[{widths[0]}, {widths[1]}, ..., {widths[-1]}] ({len(widths) - 1} layers)"


def train(X: ArrayLike, Y: ArrayLike, weights: Sequence[ArrayLike] | None = None, *,
          sample_weight: ArrayLike | None = None, sweeps: int = 1, record: str = "iteration",
          callback: Callable[[Trainer], Any] | None = None,
          checkpoint: str | os.PathLike | None = None, checkpoint_every: int = 1,
          resume: str | os.PathLike | None = None, settings: Settings | None = None,
          **options: Unpack[Options]) -> TrainResult:
    """Train a deep linear network ``W_L ... W_1`` by block coordinate gradient descent.

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
    sweeps : int
        Maximum number of sweeps (in all, when resuming).
    record : {"iteration", "sweep"}
        Record the error after every layer update or after every sweep.
    callback : callable, optional
        ``callback(trainer)`` after every sweep with the :class:`fastdln.Trainer`; returning
        True (or raising ``StopIteration``) stops the run with status ``"stopped"``. Any
        other exception propagates to the caller with the work done so far attached as
        ``error.partial_result`` (a :class:`TrainResult` with status ``"stopped"``).
    checkpoint : str or os.PathLike, optional
        Write the trainer's full state there every ``checkpoint_every`` sweeps (atomically:
        temporary file, fsync, rename; the previous checkpoint survives any crash), and when
        the callback stops the run (e.g. on Ctrl-C), so that it can resume from there. A
        path that cannot be written (no such folder, a folder, no permission) raises
        ``ValueError`` before the set-up.
    checkpoint_every : int
    resume : str or os.PathLike, optional
        Continue the run saved in this checkpoint up to ``sweeps`` sweeps in all: the final
        weights are bitwise those of an uninterrupted run. ``X``, ``Y`` (and ``weights``, if
        given) must be the run's; options that change the computation must match the
        checkpoint's (``ValueError`` naming them otherwise); ``tol`` may change.
    settings : fastdln.Settings, optional
        Options as one object; ``**options`` override its fields.
    **options
        The training options, fields of :class:`fastdln.Settings` (each documented there):
        ``widths`` (or ``depth`` and ``width``: ``[n0, width, ..., width, nL]``, ``width``
        defaulting to ``max(n0, nL)``), ``init``, ``seed``, ``method`` ({"bcgd", "gd",
        "bcsgd"}), ``order``
        ({"descending", "ascending"}), ``lr`` ({"optimal", "bounded"} or a float), ``eta``,
        ``loss`` ("l2", "l4", ... or a :class:`fastdln.losses.ConvexLoss`), ``sampling``,
        ``batch_size``, ``dtype``, ``engine`` ({"fast", "reference"}), ``compress``,
        ``reduce_width``, ``diagnostics``, ``fit_intercept``, ``tol``, ``n_iter_no_change``,
        ``loss_tol``, ``threads``.

    Returns
    -------
    TrainResult
    """
    start = time.perf_counter()
    sweeps = check_count(sweeps, "sweeps", minimum=0)
    check_choice(record, "record", RECORDS)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
    checkpoint_every = check_count(checkpoint_every, "checkpoint_every", minimum=1)
    if checkpoint is not None:  # before the set-up: a run never ends unable to keep its state
        io.check_writable(checkpoint, "checkpoint")
    if resume is not None:
        trainer, extra = _resumed(resume, Data(X, Y, sample_weight), weights, settings,
                                  options)
    else:
        trainer = Trainer(X, Y, weights, sample_weight=sample_weight, settings=settings,
                          fingerprint=checkpoint is not None, **options)
        extra = (dict(fingerprint=trainer.data_fingerprint,
                      start=io.weights_fingerprint(trainer.weights))
                 if checkpoint is not None else None)

    def save_checkpoint(trainer):
        if checkpoint is not None and trainer.sweeps_done % checkpoint_every == 0:
            io.write_checkpoint(checkpoint, trainer.state_dict(), extra)

    try:
        status = run_sweeps(trainer, sweeps, callback=callback, after_sweep=save_checkpoint)
    except Exception as error:  # e.g. a callback that raised: keep what was computed
        error.partial_result = result_of(  # type: ignore[attr-defined]
            trainer, "stopped", record, start)
        raise
    if status == "stopped" and checkpoint is not None and trainer.sweeps_done % checkpoint_every:
        io.write_checkpoint(checkpoint, trainer.state_dict(), extra)  # where it stopped
    return result_of(trainer, status, record, start)


def run_sweeps(trainer: Trainer, sweeps: int, *,
               callback: Callable[[Trainer], Any] | None = None,
               after_sweep: Callable[[Trainer], Any] | None = None) -> str:
    """Sweep ``trainer`` until ``sweeps`` sweeps are done in all, and return the status.

    Stops early when the run converges (``tol``, or ``n_iter_no_change`` sweeps in a row
    without a relative improvement of the loss of ``loss_tol``: status ``"converged"``) or
    diverges, or when ``callback(trainer)`` returns True or raises ``StopIteration`` (status
    ``"stopped"``). ``after_sweep(trainer)``
    runs after every sweep before the callback (e.g. writing a checkpoint). A callback with
    a ``start`` attribute has ``callback.start(trainer)`` called before the first sweep (a
    progress bar then starts at a resumed run's sweep).
    """
    start = getattr(callback, "start", None)
    if start is not None:
        start(trainer)
    if trainer.settings.tol is not None and trainer.errors[-1] <= trainer.settings.tol:
        return "converged"
    no_change = NoChange(trainer.settings, trainer.loss)
    while trainer.sweeps_done < sweeps:
        trainer.sweep()
        if after_sweep is not None:
            after_sweep(trainer)
        if trainer.status in ("diverged", "converged"):
            return trainer.status
        if no_change.stalled(trainer.loss):
            return "converged"
        if callback is not None:
            try:
                if callback(trainer) is True:
                    return "stopped"
            except StopIteration:
                return "stopped"
    return "max_sweeps"


class NoChange:
    """scikit-learn's stop for iterative estimators (``MLPRegressor``, ``SGDRegressor``), per
    sweep: a sweep whose training loss is not below the best so far by more than ``loss_tol``
    times that best counts as no change; ``n_iter_no_change`` of them in a row stop the run.
    Never stops when ``settings.n_iter_no_change`` is None.

    Attributes
    ----------
    best : float
        The lowest training loss seen.
    count : int
        Sweeps in a row without change so far.
    """

    def __init__(self, settings: Settings, loss: float) -> None:
        self.limit, self.tol = settings.n_iter_no_change, settings.loss_tol
        self.best, self.count = loss, 0

    def stalled(self, loss: float) -> bool:
        """Count the sweep that ended at training loss ``loss``; whether the run should stop."""
        self.count = self.count + 1 if self.best - loss <= self.tol * self.best else 0
        self.best = min(self.best, loss)
        return self.limit is not None and self.count >= self.limit


def result_of(trainer: Trainer, status: str, record: str = "iteration",
              start: float | None = None) -> TrainResult:
    """A :class:`TrainResult` of ``trainer``'s progress (``start``: the run's start time)."""
    errors = trainer.errors
    if record == "sweep":
        errors = errors[:: trainer.updates_per_sweep]
    diagnostics = trainer.diagnostics
    return TrainResult(
        weights=trainer.weights, errors=errors, learning_rates=trainer.learning_rates,
        iterations=trainer.iteration, sweeps=trainer.sweeps_done, status=status,
        optimum=trainer.optimum,
        elapsed=time.perf_counter() - start if start is not None else 0.0,
        engine=trainer.settings.engine, compressed=trainer.compressed,
        width_reduced=trainer.width_reduced, diverged_at=trainer.diverged_at,
        diagnostics=({k: np.array(v) for k, v in diagnostics.items()}
                     if diagnostics is not None else None),
        settings=trainer.settings, intercept=trainer.intercept)


def _resumed(path, data, weights, settings, options):
    state, extra = io.read_checkpoint(path)
    name = os.fspath(path)
    if extra.get("fingerprint") != data.fingerprint():
        raise ValueError(f"resume={name!r} was written for other training data "
                         "(X, Y or sample_weight differ from the checkpoint's)")
    if settings is not None:  # its fields count as given, except the unknown ones (None)
        options = dict({k: v for k, v in settings.to_state().items() if v is not None},
                       **options)
    trainer = Trainer.from_state(state, **options)
    if weights is not None:
        weights, _ = check_weights(weights, trainer.settings.dtype)
        if io.weights_fingerprint(weights) != extra.get("start"):
            raise ValueError(f"weights differ from the initial weights of the run saved in "
                             f"resume={name!r}")
    return trainer, extra
