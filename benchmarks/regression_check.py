"""Does ``fastdln bench --against`` see a 15% slowdown, and only that? The evidence, in one run.

``python benchmarks/regression_check.py [--runs N] [--busy] [--slowdown 0.15] [--base REV]``

1. Calibrates a deliberate slowdown: how many extra ``(128 x 128) @ (128 x 128)`` numpy
   products cost ``--slowdown`` (default 15%) of one n128-L100 sweep on one thread here
   (medians of alternating rounds), unless ``--extra N`` gives the count.
2. Commits a slowed copy of ``--base`` (default HEAD) without touching the working tree,
   the index or any branch (git plumbing on a temporary index: an unreferenced commit):
   ``FastEngine.run`` of ``fastdln/engines/fast.py`` does those products first whenever it
   trains a 128-wide, 100-layer network. Other configurations are unchanged.
3. Runs the regression command ``N`` times each, alternately: ``--against BASE --new BASE``
   (the same code against itself: must flag nothing) and ``--against BASE --new SLOWED``
   (must flag n128-L100, and nothing else). ``--busy`` keeps one CPU-bound process
   (``python -c "while True: pass"``) running beside them throughout.
4. Prints a table: flags per case and configuration over the runs, with the median ratio
   of each run. Every run's JSON (all samples) goes to ``--out`` (default: a temporary
   folder, printed).

The exit status is 0 when every self-comparison flagged nothing and every slowed run flagged
n128-L100 (and only it), else 1.
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENGINES = "fastdln/engines/fast.py"
ANCHOR = "    def run(self, begin, end, error_limit, draws=None, batches=None):\n"
SLOWED = "n128-L100"
PATCH = """\
        if self.widths.size == 101 and self.widths[1] == 128:  # regression_check.py
            for _ in range({extra}):
                np.dot(_SLOW_A, _SLOW_A, out=_SLOW_OUT)
"""
GLOBALS = """

_SLOW_A = np.full((128, 128), 1e-3)  # benchmarks/regression_check.py: deliberate slowdown
_SLOW_OUT = np.empty((128, 128))
"""


def calibrate(slowdown, rounds=7):
    """The number of 128 x 128 products that cost ``slowdown`` of an n128-L100 sweep (one
    BLAS thread; medians of ``rounds`` alternating rounds of 5 calls each)."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    import fastdln
    from fastdln.maths.synthetic import random_data

    X, Y = random_data(600, 128, 10, seed=0)
    trainer = fastdln.Trainer(X, Y, widths=[128] * 100 + [10], seed=0, threads=1)
    a, out = np.full((128, 128), 1e-3), np.empty((128, 128))

    def products():
        for _ in range(100):
            np.dot(a, a, out=out)

    sweeps, dots = [], []
    with threadpool_limits(1):
        trainer.sweep()
        for _ in range(rounds):
            sweeps.append(_best_of(trainer.sweep, 5))
            dots.append(_best_of(products, 5) / 100)
    return max(1, round(slowdown * statistics.median(sweeps) / statistics.median(dots)))


def _best_of(f, count):
    best = float("inf")
    for _ in range(count):
        start = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - start)
    return best


def _git(*args, env=None, data=None):
    return subprocess.run(["git", "-C", ROOT, *args], input=data, capture_output=True,
                          check=True, env=env).stdout.decode().strip()


def slowed_source(source, extra):
    """``fastdln/engines/fast.py`` with the deliberate slowdown in ``FastEngine.run``."""
    if source.count(ANCHOR) < 1:
        raise SystemExit(f"{ENGINES}: FastEngine.run not found; update ANCHOR in {__file__}")
    head, tail = source.split(ANCHOR, 1)
    return head + ANCHOR + PATCH.format(extra=extra) + tail + GLOBALS


def slowed_commit(base, extra):
    """An unreferenced commit: ``base`` with :func:`slowed_source` (the real index, working
    tree and branches untouched; its dates are the base's, so the same count gives the same
    commit and ``fastdln bench`` finds its kernels compiled)."""
    base = _git("rev-parse", "--verify", f"{base}^{{commit}}")
    blob = _git("hash-object", "-w", "--stdin",
                data=slowed_source(_git("show", f"{base}:{ENGINES}"), extra).encode())
    with tempfile.TemporaryDirectory() as folder:
        date = _git("show", "-s", "--format=%cI", base)
        env = dict(os.environ, GIT_INDEX_FILE=os.path.join(folder, "index"),
                   GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date,
                   GIT_AUTHOR_NAME="regression_check", GIT_AUTHOR_EMAIL="none@invalid",
                   GIT_COMMITTER_NAME="regression_check", GIT_COMMITTER_EMAIL="none@invalid")
        _git("read-tree", base, env=env)
        _git("update-index", "--cacheinfo", f"100644,{blob},{ENGINES}", env=env)
        tree = _git("write-tree", env=env)
        return base, _git("commit-tree", tree, "-p", base, "-m",
                          f"regression_check: {extra} extra products per n128-L100 run",
                          env=env)


def run_command(old, new, args, json_path):
    """One ``fastdln bench --against old --new new``; its exit code and JSON summary."""
    command = [sys.executable, "-m", "fastdln", "bench", "--against", old, "--new", new,
               "--repo", ROOT, "--configs", args.configs, "--json", json_path]
    command += ["--rounds", str(args.rounds)] if args.rounds else []
    command += ["--repeats", str(args.repeats)] if args.repeats else []
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if result.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
    with open(json_path) as f:
        return result.returncode, json.load(f)["summary"]


def tally(results, names):
    """``{case: {config: (flagged runs, [median ratio per run]), "exit 1": count}}``."""
    table = {}
    for case, runs in results.items():
        row = {"exit 1": sum(code == 1 for code, _ in runs)}
        for name in names:
            row[name] = (sum(s[name]["verdict"] == "slower" for _, s in runs),
                         [s[name]["ratio"]["median"] for _, s in runs])
        table[case] = row
    return table


def report(table, names, runs, busy):
    """The summary table as text, and whether it is the expected outcome."""
    lines = [f"{'case':22} {'config':12} {'flagged':>8}  median new/old per run"
             f"  ({'beside a busy process' if busy else 'no added load'})"]
    good = True
    for case, row in table.items():
        for name in names:
            flagged, ratios = row[name]
            expected = runs if (case == "slowed" and name == SLOWED) else 0
            good &= flagged == expected
            lines.append(f"{case:22} {name:12} {flagged:>3} / {runs:<3} "
                         f"{' '.join(f'{r:.3f}' for r in ratios)}")
        lines.append(f"{case:22} {'(exit 1)':12} {row['exit 1']:>3} / {runs:<3}")
    return "\n".join(lines), good


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs per case (default 5)")
    parser.add_argument("--busy", action="store_true",
                        help="one CPU-bound process beside the runs")
    parser.add_argument("--base", default="HEAD", help="the revision slowed (default HEAD)")
    parser.add_argument("--slowdown", type=float, default=0.15,
                        help="the work added to an n128-L100 sweep (default 0.15)")
    parser.add_argument("--extra", type=int, default=None,
                        help="extra products per n128-L100 run (default: calibrated)")
    parser.add_argument("--configs", default="n128-L100,n16-L1000",
                        help="fastdln bench --configs (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=None, help="fastdln bench --rounds")
    parser.add_argument("--repeats", type=int, default=None, help="fastdln bench --repeats")
    parser.add_argument("--out", default=None, help="folder for every run's JSON")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs: expected at least 1, got {args.runs}")
    extra = args.extra or calibrate(args.slowdown)
    base, slowed = slowed_commit(args.base, extra)
    out = args.out or tempfile.mkdtemp(prefix="fastdln-regression-check-")
    os.makedirs(out, exist_ok=True)
    print(f"base {base[:10]}, slowed {slowed[:10]} (+{extra} products of 128 x 128 per "
          f"n128-L100 sweep, for {args.slowdown:.0%}); JSON in {out}", flush=True)
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
    results = {"self (base vs base)": [], "slowed": []}
    try:
        for run in range(args.runs):
            for case, new in (("self (base vs base)", base), ("slowed", slowed)):
                path = os.path.join(out, f"{case.split()[0]}-{run}.json")
                results[case].append(run_command(base, new, args, path))
                code, summary = results[case][-1]
                print(f"run {run + 1}/{args.runs} {case}: exit {code}; " + ", ".join(
                    f"{n} {s['ratio']['median']:.3f} {s['verdict']}"
                    for n, s in summary.items()), flush=True)
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()
    names = args.configs.split(",")
    text, good = report(tally(results, names), names, args.runs, args.busy)
    print(text)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
