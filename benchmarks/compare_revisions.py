"""Sweep times of two revisions of fastdln, measured in alternating rounds in one run.

``python benchmarks/compare_revisions.py OLD [NEW] [--rounds R] [--configs n128-L100,...]``

Each revision (a git revision, checked out into a temporary worktree, or ``.`` for the
working tree) runs in its own worker process that keeps one warmed-up trainer per
configuration of ``fastdln bench``. The parent asks the workers in turn, round after round,
for the best of a few sweeps, with a pause before each so that neither pays for the other's
BLAS threads still spinning; the ratio of the two bests is printed per configuration. With
``--busy`` a CPU-bound process (``while True: pass``) runs beside them throughout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WORKER = r"""
import json, sys, time
import numpy as np
import fastdln
from fastdln.bench import STANDARD

trainers = {}
for config in [c for c in STANDARD if c.name in sys.argv[1].split(",")]:
    rng = np.random.default_rng(0)
    X = rng.normal(0.0, 1.0 / np.sqrt(config.n0), (config.m, config.n0))
    Y = rng.uniform(-1.0, 2.0, (config.m, config.nL))
    widths = [config.n0] + [config.width] * (config.depth - 1) + [config.nL]
    trainer = fastdln.Trainer(X, Y, widths=widths, seed=0, order=config.order)
    trainer.sweep()
    trainers[config.name] = trainer
print("ready", flush=True)
for line in sys.stdin:
    name, repeats = line.split()
    trainer = trainers[name]
    trainer.sweep()  # untimed: caches and clock back after the pause
    best = float("inf")
    for _ in range(int(repeats)):
        start = time.perf_counter()
        trainer.sweep()
        best = min(best, time.perf_counter() - start)
    print(json.dumps(best), flush=True)
"""


def _checkout(revision, folder):
    if revision == ".":
        return ROOT
    path = os.path.join(folder, revision.replace("/", "_"))
    subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", path, revision],
                   check=True, capture_output=True)
    return path


def _worker(tree, names):
    env = dict(os.environ, PYTHONPATH=tree)
    process = subprocess.Popen([sys.executable, "-c", WORKER, ",".join(names)],
                               stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, env=env, cwd=tree)
    if process.stdout.readline().strip() != "ready":
        raise RuntimeError(f"the worker of {tree} did not start")
    return process


def _time(worker, name, repeats):
    worker.stdin.write(f"{name} {repeats}\n")
    worker.stdin.flush()
    return json.loads(worker.stdout.readline())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old")
    parser.add_argument("new", nargs="?", default=".")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--configs", default="n128-L100,n512-L20,n16-L1000")
    parser.add_argument("--pause", type=float, default=0.2)
    parser.add_argument("--busy", action="store_true",
                        help="run one CPU-bound process beside the measurement")
    args = parser.parse_args(argv)
    names = args.configs.split(",")
    folder = tempfile.mkdtemp(prefix="fastdln-revisions-")
    busy = None
    trees = [_checkout(args.old, folder), _checkout(args.new, folder)]
    try:
        workers = [_worker(tree, names) for tree in trees]
        if args.busy:
            busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        best = {name: [float("inf"), float("inf")] for name in names}
        for _ in range(args.rounds):
            for name in names:
                for index, worker in enumerate(workers):
                    time.sleep(args.pause)
                    best[name][index] = min(best[name][index],
                                            _time(worker, name, args.repeats))
        print(f"{'config':18} {args.old[:12]:>12} {args.new[:12]:>12}  new/old "
              f"(best of {args.rounds} alternating rounds x {args.repeats}"
              f"{', beside a busy process' if args.busy else ''})")
        for name, (old, new) in best.items():
            print(f"{name:18} {old * 1e3:10.3f}ms {new * 1e3:10.3f}ms  {new / old:6.3f}")
        for worker in workers:
            worker.stdin.close()
            worker.wait(timeout=60)
    finally:
        if busy is not None:
            busy.kill()
        for tree in trees:
            if tree != ROOT:
                subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", tree],
                               capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
