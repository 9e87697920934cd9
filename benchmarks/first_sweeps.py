"""The first sweeps of fresh trainers: ``threads=None`` against fixed counts, in one run.

``python benchmarks/first_sweeps.py [--rounds N] [--busy-only | --quiet-only]``

What a grid of short runs, ``train(..., sweeps=5)`` or a tool that builds a trainer per
request meets: for n128-L100 (m=600) and n512-L20 (m=2000), orthogonal init, each round
builds, per choice (``threads=None``, 1, 2, in turn, a short pause before each), a fresh
``Trainer`` and times its first ``sweep()``, then times a whole ``fastdln.train(...,
sweeps=5)`` (set-up included). First on the quiet machine, then beside one CPU-bound
process (``python -c "while True: pass"``, started and stopped here). Kernels are compiled
before timing. Prints the median and best over the rounds and the ratio of the automatic
choice to the best fixed count (medians; the issue asks for at most 1.1 quiet and 1.2 busy
for the first sweep, 1.1 for the 5-sweep train).
"""

import argparse
import subprocess
import sys
import time

import numpy as np

import fastdln
from fastdln.maths.synthetic import random_data

CONFIGS = [("n128-L100", 600, 128, 100), ("n512-L20", 2000, 512, 20)]
CHOICES = [None, 1, 2]


def _one_round(X, Y, options, pause):
    times = {}
    for threads in CHOICES:
        time.sleep(pause)
        trainer = fastdln.Trainer(X, Y, threads=threads, **options)
        start = time.perf_counter()
        trainer.sweep()
        first = time.perf_counter() - start
        time.sleep(pause)
        start = time.perf_counter()
        fastdln.train(X, Y, sweeps=5, threads=threads, **options)
        times[threads] = (first, time.perf_counter() - start)
    return times


def measure(name, m, n, depth, rounds, pause=0.3):
    X, Y = random_data(m, n, 10, seed=0)
    options = dict(widths=[n] * depth + [10], init="orthogonal", seed=0)
    fastdln.train(X, Y, sweeps=1, **options)  # compile (or load) the kernels
    samples = [_one_round(X, Y, options, pause) for _ in range(rounds)]
    rows = {}
    for part, label in ((0, "first sweep"), (1, "train 5 sweeps")):
        medians = {t: float(np.median([s[t][part] for s in samples])) for t in CHOICES}
        bests = {t: min(s[t][part] for s in samples) for t in CHOICES}
        fixed = min(medians[1], medians[2])
        rows[label] = medians[None] / fixed
        print(f"  {name:10} {label:15} auto {medians[None] * 1e3:8.1f} ms  1 thread "
              f"{medians[1] * 1e3:8.1f} ms  2 threads {medians[2] * 1e3:8.1f} ms  (best "
              f"{bests[None] * 1e3:.1f} / {bests[1] * 1e3:.1f} / {bests[2] * 1e3:.1f})  "
              f"auto / best fixed {medians[None] / fixed:5.2f}", flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--busy-only", action="store_true")
    parser.add_argument("--quiet-only", action="store_true")
    args = parser.parse_args(argv)
    if not args.busy_only:
        print("quiet machine", flush=True)
        for config in CONFIGS:
            measure(*config, args.rounds)
    if args.quiet_only:
        return
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        print("beside one busy process", flush=True)
        for config in CONFIGS:
            measure(*config, args.rounds)
    finally:
        busy.kill()
        busy.wait()


if __name__ == "__main__":
    main()
