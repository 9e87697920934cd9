"""Measure this machine into the wisdom file: BLAS threads per problem size (core layer).

``fastdln warmup --measure-threads`` calls :func:`measure_machine`: for problems of the
sizes default runs use (widths 16 to 512, each its own size class), it times sweeps on one
thread and on all the cores in alternating rounds, on a quiet machine only (a round during
which other processes took CPU time is dropped), and remembers the seconds per update in
the wisdom file (``fastdln/maths/_wisdom.py``), where every later process's
``threads=None`` finds the faster count for its first sweep. Runs refine it: a run on a
quiet machine that has measured both counts adds its own sample (once per run).
"""

from __future__ import annotations

import time

from ..maths import _wisdom
from ..maths.synthetic import random_data
from . import threads
from .trainer import Trainer

__all__ = ["LADDER", "measure_machine", "measure_threads"]

# the widths measured (one size class each), the rounds per count, and the least time of one
# timed round (seconds)
LADDER = (16, 32, 64, 128, 256, 512)
ROUNDS = 3
ROUND_SECONDS = 0.06  # longer than threads.LOAD_SECONDS: the load is read over it


def _problem(width: int, dtype: str):
    """A problem of ``width``-wide layers and options for its trainers: deep enough that a
    sweep takes a few milliseconds, the data compressed as a default run's."""
    outputs = min(10, width // 4)
    depth = max(4, 1024 // width)
    X, Y = random_data(max(2 * (width + outputs), 64), width, outputs, seed=0)
    return X, Y, dict(widths=[width] * depth + [outputs], dtype=dtype, seed=0)


def _timed_round(trainer, sweeps: int) -> float | None:
    """Seconds per update of ``sweeps`` sweeps, or None if other processes took CPU time
    meanwhile (the machine was not quiet)."""
    if threads.machine_load() > 0:
        return None
    start = time.perf_counter()
    trainer.sweep(sweeps)
    seconds = time.perf_counter() - start
    if threads.machine_load() > 0:
        return None
    return seconds / (sweeps * trainer.updates_per_sweep)


def measure_threads(width: int, dtype: str = "float64", rounds: int = ROUNDS):
    """Seconds per update on each thread count (1 and all the cores) for a problem of
    ``width``-wide layers, measured in alternating rounds on a quiet machine.

    Returns
    -------
    (size_class, seconds) : tuple
        The problem's size class and ``{count: median seconds per update}``; ``seconds`` is
        empty when the machine was busy in more than half of the rounds (or has one core).
    """
    X, Y, options = _problem(width, dtype)
    counts = sorted({1, threads.automatic_cores()})
    trainers = {count: Trainer(X, Y, threads=count, **options) for count in counts}
    first = trainers[counts[0]]
    start = time.perf_counter()
    for trainer in trainers.values():
        trainer.sweep(1)  # caches, threads started, kernels loaded
    sweeps = max(1, int(ROUND_SECONDS * len(counts) / (time.perf_counter() - start)))
    measured: dict[int, list[float]] = {count: [] for count in counts}
    for _ in range(rounds if len(counts) > 1 else 0):
        for count, trainer in trainers.items():
            seconds = _timed_round(trainer, sweeps)
            if seconds is not None:
                measured[count].append(seconds)
    if any(2 * len(times) <= rounds for times in measured.values()):
        return first.size_class, {}
    return first.size_class, {count: sorted(times)[(len(times) - 1) // 2]
                              for count, times in measured.items()}


def measure_machine(dtypes=("float64",), report=None) -> list[dict]:
    """Measure the BLAS thread counts of every width of :data:`LADDER` for each dtype and
    write them into the wisdom file.

    Parameters
    ----------
    dtypes : sequence of str
        ``"float64"``, ``"float32"``.
    report : callable, optional
        Called with one line per measure (e.g. ``print``).

    Returns
    -------
    list of dict
        One per width and dtype: ``width``, ``dtype``, ``size_class`` and ``seconds`` (per
        update per count; empty where the machine was busy). Measured on the gemm this
        process calls (``fastdln/maths/_gemm.py``): after a new verdict on the GEMM
        libraries, measure again in a new process.
    """
    rows = []
    for dtype in dtypes:
        for width in LADDER:
            size, seconds = measure_threads(width, dtype)
            if seconds:
                threads.remember_measures(size, seconds, "warmup")
            rows.append(dict(width=width, dtype=dtype, size_class=size[1], seconds=seconds))
            if report is not None:
                report(_line(rows[-1]))
    _wisdom.flush()
    return rows


def _line(row: dict) -> str:
    head = f"threads {row['dtype']} width {row['width']}"
    if not row["seconds"]:
        return f"{head}: not measured (the machine is busy, or has one core)"
    times = ", ".join(f"{count} thread{'s' if count > 1 else ''} "
                      f"{seconds * 1e6:.1f} us" for count, seconds in row["seconds"].items())
    best = threads.fewest_of_the_fastest(row["seconds"])
    return f"{head}: {times} per update -> {best}"
