"""Training runs of the reproductions: one run's error curve, and one run per depth with
equal budgets in the unit a claim compares (apps layer)."""

from __future__ import annotations

import math
import warnings
from contextlib import contextmanager

from ..progress import Progress
from ...core.trainer import Trainer
from ...core.runner import run_sweeps
from .measures import STOP

__all__ = ["counting_runs", "depth_curves", "sweeps_needed", "train_curve"]

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


def train_curve(X, Y, widths, sweeps, *, stop_below=None, progress=None, **options):
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
    **options
        Fields of :class:`fastdln.Settings` (``init``, ``order``, ``method``, ``lr``, ...).

    Returns
    -------
    ndarray
        The error before training and after each iteration.
    """
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
        ``{L: errors per iteration}``.
    """
    budgets = {L: sweeps_needed(L, iterations=iterations, sweeps=sweeps) for L in depths}
    curves = {}
    with Progress(sum(L * s for L, s in budgets.items()), description, "iter",
                  enabled=not quiet) as progress:
        for L in depths:
            widths = [X.shape[1]] + [width] * (L - 1) + [Y.shape[1]]
            curves[L] = train_curve(X, Y, widths, budgets[L], stop_below=STOP,
                                    progress=progress, **options)
            progress.update(L * budgets[L] - (curves[L].size - 1))  # a run that stopped early
    return curves
