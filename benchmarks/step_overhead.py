"""What ``Trainer.step()`` costs above the same update inside a sweep (tools that drive
training update by update): one layer update of a 16-wide, 50-layer network, timed four ways
in alternating rounds: inside a whole sweep (the sweep's time per update), the engine's
kernel called for that one update, ``step()`` inside ``Trainer.stepping()`` (the BLAS
threads held for the block) and a plain ``step()`` (which sets and restores them each call).

    python benchmarks/step_overhead.py [--rounds 15] [--calls 2000]

Prints the median over rounds (and min, max) of each, per update, and the overheads in
microseconds. Times are the calling thread's CPU time (``time.thread_time``; the BLAS runs on
one thread), so that other processes on the machine do not enter them.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import fastdln
from fastdln.maths import _kernels
from fastdln.maths.synthetic import random_data


def _trainer():
    X, Y = random_data(64, 16, 4, seed=0)
    trainer = fastdln.Trainer(X, Y, widths=[16] * 50 + [4], seed=0, threads=1)
    trainer.sweep(2)  # compiled and warm
    return trainer


def _timers(trainer, calls):
    engine = trainer._engine
    depth = trainer.depth

    def in_sweep():
        for _ in range(calls // depth):
            engine._call_kernel(_kernels.bcgd_updates, 0, depth)

    def kernel():
        for call in range(calls):
            position = call % depth
            engine._call_kernel(_kernels.bcgd_updates, position, position + 1)

    def steps():
        for _ in range(calls):
            trainer.step()

    def held():
        with trainer.stepping():
            steps()

    return dict(in_sweep=in_sweep, kernel=kernel, held_step=held, step=steps)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args(argv)
    timers = _timers(_trainer(), args.calls)
    samples = {name: [] for name in timers}
    for _ in range(args.rounds):
        for name, timer in timers.items():
            calls = args.calls - args.calls % 50 if name == "in_sweep" else args.calls
            start = time.thread_time()
            timer()
            samples[name].append((time.thread_time() - start) / calls * 1e6)
    median = {name: float(np.median(values)) for name, values in samples.items()}
    for name, values in samples.items():
        print(f"{name:10s} median {median[name]:6.2f} us  (min {min(values):.2f}, max "
              f"{max(values):.2f})")
    for name in ("held_step", "step"):
        print(f"{name} - in_sweep: {median[name] - median['in_sweep']:.2f} us per update, "
              f"{name} - kernel: {median[name] - median['kernel']:.2f} us")


if __name__ == "__main__":
    main()
