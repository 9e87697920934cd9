"""The first ``train`` in a fresh environment (empty numba cache) and the next ones, in one run.

``python benchmarks/cold_start.py [--old REV] [--rounds N]``

Each measurement is a fresh Python process with its own ``NUMBA_CACHE_DIR``: ``cold`` starts
from an empty cache (numba compiles what the run uses), ``warm`` is a second process on the
cache the cold one wrote (what every later run pays). Both report the seconds of ``import
fastdln`` and of the first ``fastdln.train`` on X 600 x 128, widths ``[128] * 10 + [10]``, 2
sweeps (L2, optimal rate: the defaults), wall clock and the process's CPU time (steadier
beside other work: compilation runs on one thread). With ``--old REV`` the same runs for
that git revision (a temporary worktree), alternating with the working tree; best of
``--rounds``, and the ratios old / now of the cold totals.
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

RUN = r"""
import json, time
start, cpu_start = time.perf_counter(), time.process_time()
import fastdln
imported, cpu_imported = time.perf_counter(), time.process_time()
import numpy as np
rng = np.random.default_rng(0)
X = rng.normal(0, 1 / np.sqrt(128), (600, 128))
Y = rng.uniform(-1, 2, (600, 10))
fastdln.train(X, Y, widths=[128] * 10 + [10], sweeps=2, seed=0)
print(json.dumps({"import": imported - start, "train": time.perf_counter() - imported,
                  "import cpu": cpu_imported - cpu_start,
                  "train cpu": time.process_time() - cpu_imported}))
"""


def measure(source, cache):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=source)
    out = subprocess.run([sys.executable, "-c", RUN], env=env, cwd=tempfile.gettempdir(),
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cold_and_warm(source):
    cache = tempfile.mkdtemp(prefix="fastdln-numba-")
    try:
        return {"cold": measure(source, cache), "warm": measure(source, cache)}
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", help="a git revision to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sources = {"now": ROOT}
    worktree = None
    if args.old:
        worktree = tempfile.mkdtemp(prefix="fastdln-old-")
        subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", "-f", worktree,
                        args.old], check=True, capture_output=True)
        sources[args.old] = worktree
    best: dict = {}
    try:
        for _ in range(args.rounds):
            for name, source in sources.items():
                for kind, times in cold_and_warm(source).items():
                    for part, seconds in times.items():
                        key = (name, kind, part)
                        best[key] = min(best.get(key, float("inf")), seconds)
    finally:
        if worktree:
            subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", worktree],
                           check=False, capture_output=True)
    for name in sources:
        for kind in ("cold", "warm"):
            print(f"{name:>10s} {kind}: import fastdln {best[name, kind, 'import']:6.2f} s "
                  f"(cpu {best[name, kind, 'import cpu']:5.2f}), first train "
                  f"{best[name, kind, 'train']:6.2f} s (cpu {best[name, kind, 'train cpu']:5.2f})"
                  f" (best of {args.rounds})")
    if args.old:
        for clock in ("", " cpu"):
            total = {name: best[name, "cold", "import" + clock]
                     + best[name, "cold", "train" + clock] for name in sources}
            print(f"cold import + first train{clock or ' wall'}: {args.old} / now = "
                  f"{total[args.old] / total['now']:.2f}")


if __name__ == "__main__":
    main()
