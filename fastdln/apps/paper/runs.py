"""Training runs of the reproductions: one run's error curve, and one run per depth with
equal budgets in the unit a claim compares (apps layer)."""

from __future__ import annotations

import math
import warnings
from contextlib import contextmanager

import numpy as np

from ..progress import Progress
from ...core.trainer import Trainer
from ...core.runner import run_sweeps
from .measures import STOP

__all__ = ["Curve", "counting_runs", "depth_curves", "init_seed", "sweeps_needed", "train_curve",
           "twinned"]

_runs: Progress | None = None  # a bar counting the runs of the figure being reproduced


@contextmanager
def counting_runs(progress):
    """Count every :func:`train_curve` run on ``progress`` while the block runs."""
    global _runs
    _runs = progress
    try:
        yield progress
    finally:
        _runs = None


class Curve(np.ndarray):
    """The errors of one run per iteration (a float array) that can run its *twin*: the same
    run on the data's rows in reverse order, the same iterates in exact arithmetic but other
    roundings (:mod:`.measures` compares the two to find where rounding has taken over).
    The twin runs the first time :attr:`twin` is read; an array derived from a curve (a
    slice, ``np.maximum(curve, ...)``) has none."""

    def __new__(cls, errors, rerun=None):
        curve = np.asarray(errors, dtype=float).view(cls)
        curve._rerun, curve._twin = rerun, None
        return curve

    def __array_finalize__(self, obj):
        self._rerun, self._twin = None, None

    @property
    def can_twin(self):
        return self._rerun is not None or self._twin is not None

    @property
    def twin(self):
        """The twin's errors per iteration (None if this curve cannot run one)."""
        if self._twin is None and self._rerun is not None:
            self._twin, self._rerun = np.asarray(self._rerun()), None
        return self._twin


def init_seed(seed):
    """The seed of a run's initialization for the data seed ``seed``: a stream of its own
    (``numpy.random.SeedSequence([seed, 1])``), so the weights are not drawn from the numbers
    the data were drawn from (``numpy.random.default_rng(seed)``)."""
    return int(np.random.SeedSequence([int(seed), 1]).generate_state(1)[0])


def twinned(errors, X, Y, widths, sweeps, *, stop_below=None, **options):
    """``errors`` of a run of :func:`train_curve` as a :class:`Curve` whose twin is that run
    on the rows of ``X`` and ``Y`` in reverse order."""
    def rerun():
        return train_curve(X[::-1], Y[::-1], widths, sweeps, stop_below=stop_below, **options)
    return Curve(errors, rerun)


def train_curve(X, Y, widths, sweeps, *, stop_below=None, progress=None, twin=False,
                **options):
    """Errors per iteration of one run of ``sweeps`` sweeps (a GD iteration is a sweep);
    warnings of diverging baselines are silenced: a diverged run's curve is shorter. It stops
    early once the error is below ``stop_below``.

    Parameters
    ----------
    X, Y : array_like
        Data, rows are samples.
    widths : list of int
    sweeps : int
    stop_below : float, optional
    progress : Progress, optional
        Advanced by the updates of every sweep.
    twin : bool
        Return a :class:`Curve` that can run its twin (on ``X`` and ``Y`` with the rows in
        reverse order) when a comparison needs it.
    **options
        Fields of :class:`fastdln.Settings` (``init``, ``order``, ``method``, ``lr``, ...);
        ``seed`` is the data's seed: the initialization draws from :func:`init_seed` of it.

    Returns
    -------
    ndarray or Curve
        The error before training and after each iteration.
    """
    if twin:
        return twinned(train_curve(X, Y, widths, sweeps, stop_below=stop_below,
                                   progress=progress, **options),
                       X, Y, widths, sweeps, stop_below=stop_below, **options)
    if options.get("seed") is not None:
        options["seed"] = init_seed(options["seed"])
    trainer = Trainer(X, Y, widths=widths, **options)

    def report(trainer):
        if progress is not None:
            progress.update(trainer.updates_per_sweep, L=trainer.depth,
                            error=f"{trainer.errors[-1]:.2e}")
        # a Python bool: run_sweeps stops on ``is True`` only (numpy.bool_ never stops it)
        return bool(stop_below is not None and trainer.errors[-1] <= stop_below)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        run_sweeps(trainer, sweeps, callback=report)
    if _runs is not None:
        _runs.update(1, L=trainer.depth, error=f"{trainer.errors[-1]:.2e}")
    return trainer.errors


def sweeps_needed(L, *, iterations=0, sweeps=0):
    """Sweeps a depth-``L`` run needs to cover ``iterations`` iterations and ``sweeps``
    sweeps: the budgets of comparisons per iteration and per sweep."""
    return max(math.ceil(iterations / L), sweeps, 1)


def depth_curves(X, Y, depths, *, width, iterations=0, sweeps=0, quiet=True,
                 description="training", **options):
    """One run per depth, each long enough for equal budgets of ``iterations`` iterations
    and ``sweeps`` sweeps (stopped once every level is reached).

    Parameters
    ----------
    X, Y : array_like
    depths : list of int
    width : int
        Width of the hidden layers.
    iterations, sweeps : int
        The budgets the runs are compared with, per iteration and per sweep.
    quiet : bool
        No progress bar.
    description : str
    **options
        Fields of :class:`fastdln.Settings`.

    Returns
    -------
    dict
        ``{L: Curve}``, errors per iteration that can run their twins.
    """
    budgets = {L: sweeps_needed(L, iterations=iterations, sweeps=sweeps) for L in depths}
    curves = {}
    with Progress(sum(L * s for L, s in budgets.items()), description, "iter",
                  enabled=not quiet) as progress:
        for L in depths:
            widths = [X.shape[1]] + [width] * (L - 1) + [Y.shape[1]]
            curves[L] = train_curve(X, Y, widths, budgets[L], stop_below=STOP,
                                    progress=progress, twin=True, **options)
            progress.update(L * budgets[L] - (curves[L].size - 1))  # a run that stopped early
    return curves
