"""The performance targets of a sweep, each as a ratio or a time from one run.

    python benchmarks/performance_targets.py [--rounds 9] [--busy]

One BLAS thread, float64 unless named, the paper's random data (``nL = 10``, orth-identity,
descending), alternating rounds (every timed function once per round, in turn); each line
gives the median over the rounds with the rounds' spread (min and max). Times are the
calling thread's CPU time (``time.thread_time``; the BLAS runs on this thread), so that
other processes on the machine do not enter them; ``--busy`` runs one CPU-bound process
beside the measurement (what users' machines usually have).

- ``sweep / floor`` at n128-L100-m600 and n512-L20-m2000: the floor of an exact sweep on
  compressed data is its prefix pass, ``L`` products of an ``n x n`` weight by an
  ``n x m'`` prefix (``m' = min(m, n0 + nL)``) on the GEMM the kernels call; measured as a
  forward pass through ``L`` distinct weights (so that operands come from memory as in a
  sweep), in jitted code. The breakdown: the kernels' own prefix pass, and the rest of the
  sweep (the ``L`` updates: four thin products of rank ``nL`` each and their vector work),
  each as a multiple of the floor.
- n16-L1000-m600 (``nL = 4``): milliseconds per sweep (the target is an absolute 1.2 ms).
- float32 at n512-L20-m2000: float64 time over float32 time.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import numpy as np
from numba import njit

from fastdln import Trainer
from fastdln.core.threads import blas_threads
from fastdln.maths import _kernels
from fastdln.maths.synthetic import random_data


@njit(cache=True)
def _forward(weights, prefixes):
    """``prefixes[i + 1] = weights[i] @ prefixes[i]``: ``L`` GEMMs through the kernels' BLAS
    (numba's ``np.dot`` calls scipy's, the library behind the kernels' symbols)."""
    for i in range(weights.shape[0]):
        np.dot(weights[i], prefixes[i], prefixes[i + 1])


def _floor(n, depth, columns, dtype):
    rng = np.random.default_rng(1)
    weights = (rng.standard_normal((depth, n, n)) / np.sqrt(n)).astype(dtype)
    prefixes = np.empty((depth + 1, n, columns), dtype)
    prefixes[0] = rng.standard_normal((n, columns))
    return lambda: _forward(weights, prefixes)


def _trainer(n, depth, m, nL=10, dtype="float64"):
    X, Y = random_data(m, n, nL, seed=0)
    trainer = Trainer(X, Y, widths=[n] * depth + [nL], seed=0, threads=1, dtype=dtype)
    trainer.sweep()  # compiled and warm
    return trainer


def _prefix_pass(trainer):
    engine = trainer._engine
    scratch = _kernels.new_scratch(engine.buf, engine.index, engine.real)
    X, Yt, small = engine.X.ravel(), engine.Yt.ravel(), engine._options[7]
    return lambda: _kernels._prefix_pass(engine.buf, engine.index, engine.real, X, Yt, scratch,
                                         small)


def _rounds(functions, rounds, repeat):
    """Thread CPU seconds per call of each function, one sample per round, in turn."""
    samples: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            start = time.thread_time()
            for _ in range(repeat):
                function()
            samples[name].append((time.thread_time() - start) / repeat)
    return samples


def _ratio(samples, top, bottom):
    ratios = [a / b for a, b in zip(samples[top], samples[bottom])]
    return statistics.median(ratios), min(ratios), max(ratios)


def _line(label, median, low, high, unit=""):
    print(f"  {label:42s} {median:7.3f}{unit}  (min {low:.3f}, max {high:.3f})", flush=True)


def floor_targets(rounds):
    for n, depth, m, target in [(128, 100, 600, 1.5), (512, 20, 2000, 1.15)]:
        trainer = _trainer(n, depth, m)
        columns = min(m, n + 10)
        functions = {"sweep": trainer.sweep, "floor": _floor(n, depth, columns, "float64"),
                     "prefix pass": _prefix_pass(trainer)}
        for function in functions.values():
            function()
        samples = _rounds(functions, rounds, 3 if n == 512 else 10)
        samples["updates"] = [s - p for s, p in zip(samples["sweep"], samples["prefix pass"])]
        print(f"n{n}-L{depth}-m{m} (m' = {columns}; the kernels train on r = "
              f"{trainer._engine.X.shape[1]} columns), target sweep <= {target} x floor:")
        _line("sweep / floor", *_ratio(samples, "sweep", "floor"))
        _line("  the kernels' prefix pass / floor", *_ratio(samples, "prefix pass", "floor"))
        _line("  the L updates / floor", *_ratio(samples, "updates", "floor"))
        _line("floor, ms", *(1e3 * v for v in _spread(samples["floor"])))


def _spread(values):
    return statistics.median(values), min(values), max(values)


def tiny_layers(rounds):
    trainer = _trainer(16, 1000, 600, nL=4)
    samples = _rounds({"sweep": trainer.sweep}, rounds, 20)
    print("n16-L1000-m600 (nL 4), target <= 1.2 ms per sweep:")
    _line("sweep, ms", *(1e3 * v for v in _spread(samples["sweep"])))


def single_precision(rounds):
    trainers = {dtype: _trainer(512, 20, 2000, dtype=dtype) for dtype in ("float64", "float32")}
    samples = _rounds({dtype: t.sweep for dtype, t in trainers.items()}, rounds, 3)
    print("n512-L20-m2000, target float32 >= 1.7 x as fast as float64:")
    _line("float64 time / float32 time", *_ratio(samples, "float64", "float32"))
    floors = {dtype: _floor(512, 20, 522, dtype) for dtype in ("float64", "float32")}
    for function in floors.values():
        function()
    samples = _rounds(floors, rounds, 3)
    _line("  the same for the floor's GEMMs alone", *_ratio(samples, "float64", "float32"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--busy", action="store_true",
                        help="one CPU-bound process beside the measurement")
    args = parser.parse_args(argv)
    spinner = (subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy
               else None)
    try:
        print(f"one BLAS thread, {args.rounds} alternating rounds, thread CPU time, "
              f"{'beside one busy process' if args.busy else 'no process started beside'}")
        with blas_threads(1):
            floor_targets(args.rounds)
            tiny_layers(args.rounds)
            single_precision(args.rounds)
    finally:
        if spinner is not None:
            spinner.kill()


if __name__ == "__main__":
    main()
