"""First sweeps of fresh processes: ``threads=None`` against fixed counts, quiet and busy.

``python benchmarks/fresh_process_threads.py [--rounds N] [--busy-only | --quiet-only]``

What a script run once, a grid worker or a tool that starts a process per request meets.
Each round starts, per choice (``threads=None``, 1, 2, in turn), a fresh Python process that
imports fastdln, builds a ``Trainer`` for n128-L100 (m=600) and n512-L20 (m=2000, orthogonal
init) and times its first three sweeps one by one; the automatic choice reads the wisdom
file (``fastdln warmup`` measures it; run it first on a quiet machine). First on the quiet
machine, then beside one CPU-bound process (``python -c "while True: pass"``, started and
stopped here). Prints per configuration the median over the rounds of the first sweep and
of the three, the count the automatic choice took, and the ratio of the automatic choice to
one thread and to the best fixed count (medians).
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

CONFIGS = [("n128-L100", 600, 128, 100), ("n512-L20", 2000, 512, 20)]
CHOICES = [None, 1, 2]

CHILD = r"""
import json, sys, time
import fastdln
from fastdln.maths.synthetic import random_data
m, n, depth, threads = json.loads(sys.argv[1])
X, Y = random_data(m, n, 10, seed=0)
trainer = fastdln.Trainer(X, Y, widths=[n] * depth + [10], init="orthogonal", seed=0,
                          threads=threads)
times, counts = [], []
for _ in range(3):
    start = time.perf_counter()
    trainer.sweep()
    times.append(time.perf_counter() - start)
    counts.append(trainer.thread_count)
print(json.dumps({"times": times, "counts": counts}))
"""


def _child(m, n, depth, threads):
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps([m, n, depth, threads])],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(label, rounds):
    for name, m, n, depth in CONFIGS:
        _child(m, n, depth, 1)  # kernels loaded into the page cache
        samples = {threads: [] for threads in CHOICES}
        for _ in range(rounds):
            for threads in CHOICES:
                time.sleep(0.3)
                samples[threads].append(_child(m, n, depth, threads))
        first = {t: float(np.median([s["times"][0] for s in v])) for t, v in samples.items()}
        three = {t: float(np.median([sum(s["times"]) for s in v])) for t, v in samples.items()}
        chose = [s["counts"] for s in samples[None]]
        print(f"{label:5} {name:10} first sweep: auto {first[None] * 1e3:7.1f} ms, 1 thread "
              f"{first[1] * 1e3:7.1f}, 2 threads {first[2] * 1e3:7.1f}; auto / 1 thread "
              f"{first[None] / first[1]:4.2f}, auto / best fixed "
              f"{first[None] / min(first[1], first[2]):4.2f} | three sweeps: auto / best fixed "
              f"{three[None] / min(three[1], three[2]):4.2f} | counts chosen {chose}",
              flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--busy-only", action="store_true")
    which.add_argument("--quiet-only", action="store_true")
    args = parser.parse_args(argv)
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    if not args.busy_only:
        measure("quiet", args.rounds)
    if not args.quiet_only:
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            time.sleep(1.0)
            measure("busy", args.rounds)
        finally:
            busy.kill()
            busy.wait()


if __name__ == "__main__":
    main()
