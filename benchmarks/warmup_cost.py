"""What ``fastdln warmup`` costs against the compiling it saves a first default ``train``.

``python benchmarks/warmup_cost.py [--rounds N] [--outputs K]``

Every measurement is a fresh process (wall clock and CPU time of the whole command) on a
fresh, empty ``NUMBA_CACHE_DIR``, in alternating rounds:

- ``cold``: ``fastdln train DATA --depth 3 --quiet`` on an empty cache (it compiles what it
  uses), then ``warm``: the same command again on the cache it wrote; ``saved = cold - warm``;
- ``warmup``: ``fastdln warmup`` (no options) on another empty cache, then ``after``: the
  same ``train`` on that cache (it should cost what ``warm`` does: nothing left to compile).

DATA is the README example's shape, X 600 x 128 and ``K`` outputs (default 10; ``--outputs
1`` is a run with tiny products, which ``fastdln warmup --shape small`` covers instead).
Prints the medians and the ratio ``warmup / saved`` (the issue's bound: at most 1.5).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _timed(argv, cache):
    """Wall and CPU seconds of a fresh process running ``argv`` on ``cache``."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=ROOT)
    start = time.perf_counter()
    before = os.times()
    result = subprocess.run([sys.executable, "-m", "fastdln", *argv], env=env,
                            capture_output=True, text=True)
    after = os.times()
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    cpu = (after.children_user - before.children_user
           + after.children_system - before.children_system)
    return time.perf_counter() - start, cpu


def one_round(data, scratch, index, shape):
    """``{name: (wall, cpu)}`` of one round."""
    train = ["train", data, "--depth", "3", "--quiet"]
    first, second = (os.path.join(scratch, f"{name}{index}") for name in ("a", "b"))
    times = {"cold": _timed(train, first), "warm": _timed(train, first)}
    times["warmup"] = _timed(["warmup"] + shape, second)
    times["after"] = _timed(train, second)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--outputs", type=int, default=10)
    args = parser.parse_args()
    shape = [] if args.outputs > 2 else ["--shape", "small"]
    with tempfile.TemporaryDirectory() as scratch:
        rng = np.random.default_rng(0)
        data = os.path.join(scratch, "data.npz")
        np.savez(data, X=rng.normal(0, 1 / np.sqrt(128), (600, 128)),
                 Y=rng.uniform(-1, 2, (600, args.outputs)))
        rounds = [one_round(data, scratch, k, shape) for k in range(args.rounds)]
    summary = {}
    for clock, column in (("wall", 0), ("cpu", 1)):
        median = {name: statistics.median(r[name][column] for r in rounds)
                  for name in rounds[0]}
        saved = median["cold"] - median["warm"]
        summary[clock] = dict(median, saved=saved, ratio=median["warmup"] / saved)
        print(f"{clock}: cold train {median['cold']:.2f} s, warm {median['warm']:.2f} s "
              f"(saved {saved:.2f} s); warmup {median['warmup']:.2f} s, train after it "
              f"{median['after']:.2f} s; warmup / saved = {median['warmup'] / saved:.2f}")
    print(json.dumps(dict(rounds=rounds, summary=summary, load=os.getloadavg())))


if __name__ == "__main__":
    main()
