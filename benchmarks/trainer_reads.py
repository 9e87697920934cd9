"""What reading a trainer between updates costs, and the size of its state.

    python benchmarks/trainer_reads.py [--rounds 7]

An n128-L100 trainer (m = 600, one sweep done): the time of ``trainer.weights`` (full-width
copies), ``trainer.weight_views()`` (read-only views), ``trainer.error`` (the latest error)
and ``trainer.errors[-1]`` (the history without a copy, after 20,000 updates), as medians of
alternating rounds (thread CPU time), and the size of ``pickle.dumps(trainer.state_dict())``
between sweeps and in the middle of one, against the weights' own bytes.
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import time

import fastdln
from fastdln.maths.synthetic import random_data


def _time(function, calls):
    start = time.thread_time()
    for _ in range(calls):
        function()
    return (time.thread_time() - start) / calls


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    X, Y = random_data(600, 128, 10, seed=0)
    trainer = fastdln.Trainer(X, Y, widths=[128] * 100 + [10], seed=0, threads=1)
    trainer.sweep(200)  # 20,000 updates of history
    reads = {"weights (copies), ms": (lambda: trainer.weights, 5, 1e3),
             "weight_views(), ms": (trainer.weight_views, 50, 1e3),
             "error, us": (lambda: trainer.error, 20000, 1e6),
             "errors[-1], us": (lambda: trainer.errors[-1], 20000, 1e6)}
    samples: dict[str, list[float]] = {name: [] for name in reads}
    for _ in range(args.rounds):
        for name, (function, calls, unit) in reads.items():
            samples[name].append(_time(function, calls) * unit)
    for name, values in samples.items():
        print(f"{name:24s} {statistics.median(values):9.3f}  (min {min(values):.3f}, max "
              f"{max(values):.3f})")
    weights = sum(W.nbytes for W in trainer.weights) / 1e6
    between = len(pickle.dumps(trainer.state_dict())) / 1e6
    trainer.step()
    middle = len(pickle.dumps(trainer.state_dict())) / 1e6
    print(f"state_dict pickled: {between:.1f} MB between sweeps, {middle:.1f} MB in the middle "
          f"of one, for {weights:.1f} MB of weights")


if __name__ == "__main__":
    main()
