"""What the first ``train`` compiles, function by function (numba's ``numba:compile`` events).

``python benchmarks/compile_breakdown.py [--case l2|bounded|l4|ascending|float32] [--warm]``

Runs in a fresh process with an empty ``NUMBA_CACHE_DIR`` (``--warm``: a second process on
the cache the first one wrote): ``import fastdln``, then the first ``fastdln.train`` on X
600 x 128, widths ``[128] * 10 + [10]``, 2 sweeps (L2, optimal rate, descending: the
defaults; other cases change one option). Prints the seconds of the import and of the train,
how many functions were compiled, and each one's inclusive and exclusive compile time
(exclusive: without the functions it compiled while typing its body).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CASES = {
    "l2": {},
    "bounded": {"lr": "bounded", "eta": 1.0},
    "l4": {"loss": "l4"},
    "ascending": {"order": "ascending"},
    "float32": {"dtype": "float32"},
}

RUN = r"""
import json, sys, time
from numba.core import event
records = []

class Listener(event.Listener):
    def on_start(self, ev):
        records.append(("start", time.process_time(), ev.data["dispatcher"].py_func.__qualname__))
    def on_end(self, ev):
        records.append(("end", time.process_time(), ev.data["dispatcher"].py_func.__qualname__))

event.register("numba:compile", Listener())
start = time.perf_counter()
import fastdln
imported = time.perf_counter()
import numpy as np
rng = np.random.default_rng(0)
X = rng.normal(0, 1 / np.sqrt(128), (600, 128))
Y = rng.uniform(-1, 2, (600, 10))
fastdln.train(X, Y, widths=[128] * 10 + [10], sweeps=2, seed=0, **json.loads(sys.argv[1]))
done = time.perf_counter()
print(json.dumps({"import": imported - start, "train": done - imported, "events": records}))
"""


def run_once(options, cache):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", RUN, json.dumps(options)], env=env,
                         cwd=tempfile.gettempdir(), capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def breakdown(events):
    """``{name: [inclusive, exclusive, count]}`` from nested start/end events."""
    stack, table = [], {}
    for kind, stamp, name in events:
        if kind == "start":
            stack.append([name, stamp, 0.0])
            continue
        name, began, children = stack.pop()
        inclusive = stamp - began
        row = table.setdefault(name, [0.0, 0.0, 0])
        row[0] += inclusive
        row[1] += inclusive - children
        row[2] += 1
        if stack:
            stack[-1][2] += inclusive
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(CASES), default="l2")
    parser.add_argument("--warm", action="store_true", help="time a second, warm process too")
    args = parser.parse_args()
    cache = tempfile.mkdtemp(prefix="fastdln-numba-")
    try:
        runs = [("cold", run_once(CASES[args.case], cache))]
        if args.warm:
            runs.append(("warm", run_once(CASES[args.case], cache)))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    for label, result in runs:
        table = breakdown(result["events"])
        print(f"{label}: import {result['import']:.2f} s, first train {result['train']:.2f} s, "
              f"{sum(row[2] for row in table.values())} compilations of {len(table)} functions")
    table = breakdown(runs[0][1]["events"])
    print(f"{'function':40s} {'inclusive':>10s} {'exclusive':>10s} {'count':>6s}")
    for name, (inclusive, exclusive, count) in sorted(table.items(), key=lambda x: -x[1][1]):
        print(f"{name:40s} {inclusive:10.2f} {exclusive:10.2f} {count:6d}")


if __name__ == "__main__":
    main()
