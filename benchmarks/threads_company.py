"""Trainers in two Python threads against the same two runs one after the other.

    python benchmarks/threads_company.py [--rounds 12] [--busy]

Two ``fastdln.train`` calls (X 2000 x 256, widths ``[256] * 10 + [10]``, 6 sweeps), one with
``threads=1`` and one with ``threads=2`` (the runs of a tool that drives trainers from
several threads): in turn, run one after the other, then side by side in two Python threads
(set-up included), which way goes first alternating between rounds. Prints the wall time
of each way per round (median, min, max), the ratio threads/serial, and whether every
threaded run gave its serial result bit for bit.
``--busy`` runs one CPU-bound process beside the measurement.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time

import numpy as np

import fastdln
from fastdln.maths.synthetic import random_data


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--busy", action="store_true")
    args = parser.parse_args(argv)
    X, Y = random_data(2000, 256, 10, seed=0)
    common = dict(widths=[256] * 10 + [10], sweeps=6, seed=0)

    def run(count, out=None):
        weights = fastdln.train(X, Y, threads=count, **common).weights
        if out is not None:
            out[count] = weights
        return weights

    expected = {count: run(count) for count in (1, 2)}  # compiled, and the serial results
    spinner = (subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy
               else None)
    serial, threaded, bitwise = [], [], True
    try:
        for turn in range(args.rounds):
            # the two ways in turn, the first one alternating between rounds
            for way in (("serial", "threaded") if turn % 2 == 0 else ("threaded", "serial")):
                if way == "serial":
                    start = time.perf_counter()
                    for count in (1, 2):
                        run(count)
                    serial.append(time.perf_counter() - start)
                    continue
                out: dict = {}
                workers = [threading.Thread(target=run, args=(count, out)) for count in (1, 2)]
                start = time.perf_counter()
                for worker in workers:
                    worker.start()
                for worker in workers:
                    worker.join()
                threaded.append(time.perf_counter() - start)
                bitwise &= all(np.array_equal(a, b) for count in (1, 2)
                               for a, b in zip(out[count], expected[count]))
    finally:
        if spinner is not None:
            spinner.kill()
    ratios = [t / s for t, s in zip(threaded, serial)]
    state = "beside one busy process" if args.busy else "no process started beside"
    print(f"{state}, {args.rounds} rounds (seconds: median, min, max)")
    for name, values in (("one after the other", serial), ("two Python threads", threaded),
                         ("threads / serial", ratios)):
        print(f"  {name:22s} {statistics.median(values):7.3f}  ({min(values):.3f}, "
              f"{max(values):.3f})")
    print(f"  every threaded run bitwise its serial result: {bitwise}")


if __name__ == "__main__":
    main()
