"""The first ``train`` in a fresh environment (empty numba cache) and the next ones, in one run.

``python benchmarks/cold_start.py [--old REV] [--rounds N]``

Each measurement is a fresh Python process with its own ``NUMBA_CACHE_DIR``: ``cold`` starts
from an empty cache (numba compiles what the run uses), ``warm`` is a second process on the
cache the cold one wrote (what every later run pays). Both report the seconds of ``import
fastdln`` and of the first ``fastdln.train(X, Y, widths=[20, 32, 32, 3], sweeps=10)`` (L2,
optimal rate: the defaults). With ``--old REV`` the same runs for that git revision (a
temporary worktree), alternating with the working tree; best of ``--rounds``.
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
start = time.perf_counter()
import fastdln
imported = time.perf_counter()
import numpy as np
rng = np.random.default_rng(0)
X, Y = rng.normal(size=(200, 20)), rng.normal(size=(200, 3))
fastdln.train(X, Y, widths=[20, 32, 32, 3], sweeps=10)
print(json.dumps({"import": imported - start, "train": time.perf_counter() - imported}))
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
            print(f"{name:>10s} {kind}: import fastdln {best[name, kind, 'import']:6.2f} s, "
                  f"first train {best[name, kind, 'train']:6.2f} s (best of {args.rounds})")


if __name__ == "__main__":
    main()
