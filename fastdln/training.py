"""``fastdln.train``: the sweep loop over a :class:`fastdln.Trainer` and its result."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from . import _validation as v
from . import io
from .optimum import Optimum
from .trainer import Trainer

if TYPE_CHECKING:
    from .losses import ConvexLoss

__all__ = ["TrainResult", "train"]


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
        error = ``(loss(W) - loss(W*)) / m`` (MATH.md section 7).
    learning_rates : ndarray
        One learning rate per iteration.
    iterations, sweeps : int
        Layer updates and complete sweeps done.
    status : str
        ``"max_sweeps"``, ``"converged"`` (error <= tol), ``"diverged"`` or ``"stopped"``
        (by the callback).
    optimum : Optimum
        The global optimum the errors are measured against.
    elapsed : float
        Seconds spent in the sweep loop (set-up included).
    compressed, width_reduced : bool
        Whether the exact L2 compression / Theorem 3.1 width reduction were applied.
    diverged_at : int or None
        The iteration whose error was non-finite or exploding.
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
    settings: dict = field(default_factory=dict)
    diagnostics: dict | None = None


def _check_callback(callback):
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
    return callback


def train(X: ArrayLike, Y: ArrayLike, weights: Sequence[ArrayLike] | None = None, *,
          widths: Sequence[int] | None = None, init: str = "orth-identity",
          seed: int | np.random.Generator | None = None, method: str = "bcgd",
          order: str = "descending", lr: str | float = "optimal", eta: float | None = None,
          loss: str | ConvexLoss = "l2", sweeps: int = 1, tol: float | None = None,
          record: str = "iteration", engine: str = "fast", dtype: str | None = None,
          callback: Callable[[Trainer], Any] | None = None, compress: str | bool = "auto",
          reduce_width: str | bool = "auto", diagnostics: bool = False,
          sampling: str = "importance", batch_size: int | None = None,
          checkpoint: str | os.PathLike | None = None, checkpoint_every: int = 1,
          resume: str | os.PathLike | None = None) -> TrainResult:
    """Train a deep linear network ``W_L ... W_1`` by block coordinate gradient descent.

    Parameters
    ----------
    X : array_like, shape (m, n0)
        Inputs, one sample per row.
    Y : array_like, shape (m, nL) or (m,)
        Targets, one sample per row.
    weights : list of array_like, optional
        Initial ``W_l`` of shape ``(n_l, n_{l-1})`` (copied, never modified). Either
        ``weights`` or ``widths`` is given.
    widths : sequence of int, optional
        ``[n0, n1, ..., nL]``; the network is initialized with ``init`` and ``seed``.
    init : str
        See :func:`fastdln.init_weights`.
    seed : None, int or numpy.random.Generator
    method : {"bcgd", "gd", "bcsgd"}
        Layer-wise BCGD, or gradient descent on all layers at once (constant ``lr`` only;
        one GD iteration counts as one sweep).
    order : {"descending", "ascending"}
        Layer order within a sweep (``L .. 1`` or ``1 .. L``).
    lr : {"optimal", "bounded"} or float
        ``"optimal"`` is (3.4), ``"bounded"`` is (3.2) with ``eta``, a float is a constant rate.
    eta : float in (0, 2), optional
        ``eta_bar`` of the bounded rate (default 1).
    loss : {"l2"}
    sweeps : int
        Maximum number of sweeps.
    tol : float, optional
        Stop (status ``"converged"``) once the error is ``<= tol``.
    record : {"iteration", "sweep"}
        Record the error after every layer update or after every sweep.
    engine : {"fast", "reference"}
        The Numba engine or the naive :mod:`fastdln.reference`.
    dtype : {"float64", "float32"}, optional
    callback : callable, optional
        ``callback(trainer)`` after every sweep with the :class:`fastdln.Trainer`; returning
        True (or raising ``StopIteration``) stops the run with status ``"stopped"``. Any
        other exception propagates to the caller with the work done so far attached as
        ``error.partial_result`` (a :class:`TrainResult` with status ``"stopped"``).
    compress, reduce_width : {"auto", True, False}
        Exact speed-ups of the fast engine (MATH.md sections 4 and 5), see
        :class:`fastdln.Trainer`.
    sampling : {"importance", "uniform"}
        ``method="bcsgd"``: Theorem 3.6's importance sampling of one sample per update (its
        rate with ``eta`` as ``eta_bar``), or uniform batches of ``batch_size`` (default
        ``min(32, m)``) with the batch's optimal rate. Seeded by ``seed``.
    batch_size : int, optional
    checkpoint : str or os.PathLike, optional
        Write the trainer's full state there every ``checkpoint_every`` sweeps (atomically:
        temporary file, fsync, rename; the previous checkpoint survives any crash).
    checkpoint_every : int
    resume : str or os.PathLike, optional
        Continue the run saved in this checkpoint (its settings and weights; ``X``, ``Y``
        must be the same data) up to ``sweeps`` sweeps in all: the final weights are bitwise
        those of an uninterrupted run.
    diagnostics : bool
        Record Theorem 3.2's ``kappa_r(S)``, ``kappa_rx(P)`` and ``gamma`` per update
        (``result.diagnostics``); costly, off by default.

    Returns
    -------
    TrainResult
    """
    start = time.perf_counter()
    sweeps = v.check_count(sweeps, "sweeps", minimum=0)
    v.check_choice(record, "record", v.RECORDS)
    _check_callback(callback)
    checkpoint_every = v.check_count(checkpoint_every, "checkpoint_every", minimum=1)
    fingerprint = io.data_fingerprint(*v.check_data(X, Y)) if (checkpoint or resume) else None
    if resume is not None:
        trainer = _resumed(resume, fingerprint)
    else:
        trainer = Trainer(X, Y, weights, widths=widths, init=init, seed=seed, method=method,
                          order=order, lr=lr, eta=eta, loss=loss, tol=tol, engine=engine,
                          dtype=dtype, compress=compress, reduce_width=reduce_width,
                          diagnostics=diagnostics, sampling=sampling, batch_size=batch_size)
    def saver():
        if checkpoint is not None and trainer.sweeps_done % checkpoint_every == 0:
            io.write_checkpoint(checkpoint, trainer.state_dict(), dict(fingerprint=fingerprint))
    def result(status):
        return _result(trainer, status, record, start, engine, order, loss, method)

    try:
        status = _loop(trainer, sweeps, callback, saver)
    except Exception as error:  # e.g. a callback that raised: keep what was computed
        error.partial_result = result("stopped")  # type: ignore[attr-defined]
        raise
    return result(status)


def _result(trainer, status, record, start, engine, order, loss, method):
    errors = trainer.errors
    if record == "sweep":
        errors = errors[:: trainer.updates_per_sweep]
    return TrainResult(
        weights=trainer.weights, errors=errors, learning_rates=trainer.learning_rates,
        iterations=trainer.iteration, sweeps=trainer.sweeps_done, status=status,
        optimum=trainer.optimum, elapsed=time.perf_counter() - start, engine=engine,
        compressed=trainer.compressed, width_reduced=trainer.width_reduced,
        diverged_at=trainer.diverged_at,
        diagnostics=({k: np.array(v) for k, v in trainer.diagnostics.items()}
                     if trainer.diagnostics is not None else None),
        settings=dict(order=order, lr=trainer.lr, eta=trainer.eta, loss=loss,
                      method=method, dtype=trainer.dtype.name, widths=trainer.widths))


def _resumed(path, fingerprint):
    state, extra = io.read_checkpoint(path)
    if extra.get("fingerprint") != fingerprint:
        raise ValueError(f"resume={os.fspath(path)!r} was written for other training data "
                         "(X, Y differ from the checkpoint's)")
    return Trainer.from_state(state)


def _loop(trainer, sweeps, callback, saver=None):
    if trainer.tol is not None and trainer.errors[-1] <= trainer.tol:
        return "converged"
    while trainer.sweeps_done < sweeps:
        trainer.sweep()
        if saver is not None:
            saver()
        if trainer.status in ("diverged", "converged"):
            return trainer.status
        if callback is not None:
            try:
                if callback(trainer) is True:
                    return "stopped"
            except StopIteration:
                return "stopped"
    return "max_sweeps"
