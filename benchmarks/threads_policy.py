"""BLAS threads beside other work: the automatic choice against fixed counts, in one run.

``python benchmarks/threads_policy.py [--rounds N] [--sweeps K]`` measures seconds per
sweep of ``Trainer(...).sweep()`` (orthogonal init, optimal rate, the paper's random data)
for n128-L100 (m=600) and n512-L20 (m=2000) with ``threads=None`` (automatic), 1 and 2,
first on the quiet machine, then beside one CPU-bound process
(``python -c "while True: pass"``, started and stopped by this script). Each trainer is
warmed up first (the automatic one through its probing sweeps), then the three are timed in
alternating rounds, ``K`` sweeps each, and the best round is kept. The last column is the
automatic choice over the best fixed count (the issue asks for at most 1.2).
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


def trainers(m, n, depth):
    X, Y = random_data(m, n, 10, seed=0)
    built = {}
    for threads in CHOICES:
        trainer = fastdln.Trainer(X, Y, widths=[n] * depth + [10], init="orthogonal", seed=0,
                                  threads=threads)
        trainer.sweep(8)  # compile, caches, and the automatic choice's first probes
        built[threads] = trainer
    return built


def measure(built, rounds, sweeps, pause=0.2):
    best = dict.fromkeys(built, np.inf)
    for _ in range(rounds):
        for threads, trainer in built.items():
            time.sleep(pause)
            trainer.sweep()  # untimed: caches and clock back after the pause
            start = time.perf_counter()
            trainer.sweep(sweeps)
            best[threads] = min(best[threads], (time.perf_counter() - start) / sweeps)
    return best


def report(label, name, best, built):
    fixed = min(best[1], best[2])
    auto = built[None]._threads  # the count it settled on, for the record
    print(f"{label:7} {name:10} auto {best[None] * 1e3:8.2f} ms (chose {auto.best})  "
          f"1 thread {best[1] * 1e3:8.2f} ms  2 threads {best[2] * 1e3:8.2f} ms  "
          f"auto/best fixed {best[None] / fixed:5.2f}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--sweeps", type=int, default=5)
    args = parser.parse_args(argv)
    for name, m, n, depth in CONFIGS:
        built = trainers(m, n, depth)
        report("quiet", name, measure(built, args.rounds, args.sweeps), built)
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            time.sleep(1.0)
            for trainer in built.values():  # let the automatic choice see the new load
                trainer.sweep(40)
            report("busy", name, measure(built, args.rounds, args.sweeps), built)
        finally:
            busy.kill()
            busy.wait()


if __name__ == "__main__":
    main()
