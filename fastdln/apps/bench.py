"""``fastdln bench``: sweep timings, and regression checks between revisions (apps layer).

Two uses (docs/benchmarks.md explains the method and its numbers); the second lives in
:mod:`.revisions`, what both use in :mod:`.timing`:

- ``fastdln bench [--quick]``: a table of seconds per sweep, fast engine against the naive
  reference and the BLAS limit, on fixed BLAS thread counts (``--threads``, default 1), each
  figure the median of several alternating rounds with its spread.
- ``fastdln bench --against REV``: the regression command. Another revision of the git
  checkout runs beside this one, in worker processes, in alternating rounds within one run;
  the ratio new/old per configuration is compared with the ratio of two processes of the old
  revision (the noise band). Exit status 1 flags a regression, 0 none, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import asdict

from ..core.trainer import Trainer
from ..maths.init import layer_widths
from ..maths.synthetic import random_data
from .arguments import integer_at_least, number_where
from .revisions import AgainstOptions, compare_revisions
from .timing import (CONFIGS, QUICK, STANDARD, alternating_samples, best_time, blas_limits,
                     fixed_threads, machine_differences, machine_info, sample_times, spread,
                     write_json)

__all__ = ["COLUMNS", "add_arguments", "compare", "format_setup", "format_table", "main",
           "run", "run_config", "setup_row"]

TIMED, BASELINE = "fast", "reference"  # the engines the table compares
REFERENCE_BUDGET = 60.0  # seconds: a slower reference sweep is estimated from a smaller depth
QUICK_REFERENCE_BUDGET = 1.0

# Set-up rows: (samples, features) of the paper's random data with nL = 10, depth 20.
SETUP_STANDARD = [(1_000_000, 128), (60_000, 784)]
SETUP_QUICK = [(200_000, 128)]


# -- the table of sweep timings ----------------------------------------------------------
def _trainer(config, depth, engine, threads, warm=True):
    """A trainer of ``config`` on ``engine``; ``warm``: after one sweep (compilation, caches;
    left out for the slow baseline)."""
    X, Y = random_data(config.m, config.n0, config.nL, seed=0)
    widths = layer_widths(config.n0, config.nL, depth, config.width)
    trainer = Trainer(X, Y, widths=widths, seed=0, engine=engine, order=config.order,
                      threads=threads)
    if warm:
        trainer.sweep()
    return trainer


def _reference_time(config, fast, threads, budget):
    """Reference seconds per sweep, measured, or estimated (L^2 growth) from a smaller depth
    when one sweep would take more than ``budget`` seconds.

    The guess of the reference's cost scales the fast sweep by the depth and by what the fast
    engine saves through compression (``m / rank``) and width reduction.
    """
    fast_time = best_time(fast.sweep, 1)
    columns = min(config.m, config.n0) if fast.compressed else config.m
    trained_width = max(config.n0, config.nL) if fast.width_reduced else config.width
    saved = (config.m / columns) * (config.width / trained_width) ** 2
    depth, guess = config.depth, fast_time * config.depth * saved
    while depth > 2 and guess > budget:
        depth //= 2
        guess /= 4
    seconds = best_time(_trainer(config, depth, BASELINE, threads, warm=False).sweep, 1)
    return seconds * (config.depth / depth) ** 2, depth != config.depth


def run_config(config, repeats, threads=1, reference_budget=REFERENCE_BUDGET):
    """One row of the table: fast sweep, reference, BLAS limits (medians of ``repeats``
    alternating rounds, every sample kept) and their ratios, on ``threads`` BLAS threads."""
    with fixed_threads(threads):
        fast = _trainer(config, config.depth, TIMED, threads)
        width = config.width if not fast.width_reduced else max(config.n0, config.nL)
        samples = alternating_samples([fast.sweep, *blas_limits(width, config.depth)], repeats)
        reference, estimated = _reference_time(config, fast, threads, reference_budget)
    fast_time, limit, jit_limit = (statistics.median(s) for s in samples)
    return dict(config=asdict(config), threads=threads, fast_s=fast_time,
                fast_spread=spread(samples[0]), fast_samples=samples[0],
                reference_s=reference, reference_estimated=estimated, blas_limit_s=limit,
                blas_limit_samples=samples[1], us_per_update=fast_time / config.depth * 1e6,
                speedup=reference / fast_time, over_blas_limit=fast_time / limit,
                jit_blas_limit_s=jit_limit, jit_blas_limit_samples=samples[2],
                over_jit_blas_limit=fast_time / jit_limit)


def setup_row(m, n0, repeats, threads=1):
    """Seconds to build a :class:`fastdln.Trainer` (validation, the factor of ``[X Y]``, the
    optimum, the engine) on ``m x n0`` data: median of ``repeats``, every sample kept."""
    X, Y = random_data(m, n0, 10, seed=0)
    widths = layer_widths(n0, 10, 20, n0)
    Trainer(X[:200], Y[:200], widths=widths, seed=0, threads=threads)  # compile first
    samples = sample_times(lambda: Trainer(X, Y, widths=widths, seed=0, threads=threads),
                           repeats)
    return dict(m=m, n0=n0, setup_s=statistics.median(samples), setup_samples=samples,
                data_gib=(X.nbytes + Y.nbytes) / 2**30)


def format_setup(rows):
    """The set-up rows as text, one line each."""
    return "\n".join(f"set-up {row['m']} x {row['n0']} ({row['data_gib']:.2f} GiB): "
                     f"{row['setup_s']:.3f} s" for row in rows)


def format_table(rows):
    """The sweep rows as a text table (medians, the fast sweep's spread as min-max)."""
    header = (f"{'config':16} {'fast s/sweep':>12} {'min-max %':>11} {'reference':>12} "
              f"{'BLAS limit':>11} {'us/update':>10} {'speed-up':>9} {'fast/limit':>10} "
              f"{'fast/jit':>9}")
    lines = [header, "-" * len(header)]
    for row in rows:
        mark = "~" if row["reference_estimated"] else " "
        low, high = row["fast_spread"]["min"], row["fast_spread"]["max"]
        band = f"{100 * (low / row['fast_s'] - 1):+.0f}/{100 * (high / row['fast_s'] - 1):+.0f}"
        lines.append(
            f"{row['config']['name']:16} {row['fast_s']:12.5f} {band:>11} "
            f"{mark}{row['reference_s']:11.4f} {row['blas_limit_s']:11.5f} "
            f"{row['us_per_update']:10.1f} {row['speedup']:9.0f} {row['over_blas_limit']:10.2f} "
            f"{row['over_jit_blas_limit']:9.2f}")
    lines.append("~ estimated from a smaller depth assuming the reference's L^2 growth; "
                 f"BLAS threads: {rows[0]['threads'] if rows else '-'}")
    return "\n".join(lines)


COLUMNS = """Columns: fast s/sweep, the fast engine's median seconds per sweep over --repeats
alternating rounds; min-max %, the fastest and slowest round against that median;
reference, the naive engine's (~: estimated from a smaller depth by its L^2 growth); BLAS
limit, L numpy products (d x d) @ (d x d) with d the width the kernels train (after width
reduction), what a sweep costs at least; us/update, microseconds per layer update;
speed-up, reference / fast; fast/limit, the sweep as a multiple of the BLAS limit;
fast/jit, against the same products called from jitted code (the BLAS the kernels use).
Set-up rows: seconds to build a Trainer on that much data. Every timing runs on --threads
BLAS threads (default 1: the kernel, not the automatic thread policy, is timed).

Regressions: --against REV runs revision REV of the git checkout beside this code in
alternating rounds and prints, per configuration, new/old with its min, median and max
over the rounds and the noise band (two processes of REV against each other); it exits 1
when a configuration's ratio interval lies above the noise band (docs/benchmarks.md).
--compare OLD.json compares with a saved run: ratios of medians and of minima, with each
run's spread; times taken at different moments compare loads as much as code, and a file
measured on another machine (CPU, cores, BLAS) is named in a warning."""


# -- saved runs ------------------------------------------------------------------------------
def _samples(row):
    """A saved row's fast-sweep samples (files before 0.x kept only the best: one sample)."""
    return row.get("fast_samples") or [row["fast_s"]]


def compare(rows, old_path, threshold):
    """Compare sweep rows with a saved run, configuration by configuration.

    Returns ``(lines, slower)``: a line per configuration present in both (ratios new/old of
    the medians and of the minima, and each run's min-max spread), and the names of those
    whose median and minimum both got slower than ``threshold`` times the saved ones.
    """
    with open(old_path) as f:
        old = {row["config"]["name"]: row for row in json.load(f)["results"]}
    lines, slower = [], []
    for row in rows:
        name = row["config"]["name"]
        if name not in old:
            continue
        before, after = spread(_samples(old[name])), spread(_samples(row))
        medians, minima = after["median"] / before["median"], after["min"] / before["min"]
        flagged = medians > threshold and minima > threshold
        lines.append(f"{'SLOWER' if flagged else 'same  '} {name:16} new/old median "
                     f"{medians:.3f}, min {minima:.3f}  (old {_ms(before)}, new {_ms(after)})")
        if flagged:
            slower.append(name)
    return lines, slower


def _ms(summary):
    return (f"{summary['median'] * 1e3:.3f} ms [{summary['min'] * 1e3:.3f}-"
            f"{summary['max'] * 1e3:.3f}]")


def main(quick=False, json_path=None, compare_path=None, threshold=1.2, repeats=None,
         threads=1, echo=print):
    """Run the standard (or quick) set and print the table; return the process exit code.

    ``compare_path``: a JSON file of an earlier run; exit code 1 when a configuration's
    median and minimum are both more than ``threshold`` times the saved ones.
    """
    configs = QUICK if quick else STANDARD
    repeats = repeats or (5 if quick else 9)
    budget = QUICK_REFERENCE_BUDGET if quick else REFERENCE_BUDGET
    rows = []
    for config in configs:
        rows.append(run_config(config, repeats, threads, budget))
        echo(f"  measured {config.name}")
    echo(format_table(rows))
    setups = [setup_row(m, n0, 3, threads) for m, n0 in (SETUP_QUICK if quick else SETUP_STANDARD)]
    echo(format_setup(setups))
    if json_path:
        write_json(json_path, dict(machine=machine_info(), threads=threads, results=rows,
                                    setup=setups))
        echo(f"wrote {json_path}")
    if compare_path:
        return _report_compare(rows, compare_path, threshold, echo)
    return 0


def _report_compare(rows, compare_path, threshold, echo):
    with open(compare_path) as f:
        old_machine = json.load(f).get("machine", {})
    differences = machine_differences(old_machine, machine_info())
    if differences:
        echo(f"WARNING: {compare_path} was measured on another machine or setup "
             f"({'; '.join(differences)}): the ratios below compare machines, not only code")
    lines, slower = compare(rows, compare_path, threshold)
    for line in lines:
        echo(line)
    echo("(runs at different moments: a ratio mixes code and load; "
         "fastdln bench --against REV measures both in one run)")
    if slower:
        echo(f"{len(slower)} configuration(s) slower than {threshold}x of {compare_path}: "
             f"{', '.join(slower)}")
        return 1
    echo(f"no configuration slower than {threshold}x of {compare_path}")
    return 0


# -- command line ---------------------------------------------------------------------------
_above_one = number_where(lambda value: value > 1, "a number above 1")
_positive = number_where(lambda value: value >= 0, "a number >= 0")


def _names(text):
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in CONFIGS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"expected names among {', '.join(CONFIGS)}, got "
                                         f"{text!r}")
    return names


def add_arguments(parser):
    """The options of ``fastdln bench`` on an ``argparse`` parser."""
    parser.add_argument("--quick", action="store_true",
                        help="three configurations, under a minute on a quiet machine")
    parser.add_argument("--json", metavar="FILE",
                        help="save every sample with the machine (CPU, cores, BLAS, versions)")
    parser.add_argument("--threads", type=integer_at_least(1), default=1,
                        help="BLAS threads of every timing (default: %(default)s)")
    parser.add_argument("--repeats", type=integer_at_least(1), default=None,
                        help="table: alternating rounds (default 5 quick, 9); --against: "
                        "sweeps per round, the best kept (default 5)")
    parser.add_argument("--threshold", type=_above_one, default=None,
                        help="--against: the smallest ratio ever flagged (default 1.05); "
                        "--compare: the ratio flagged (default 1.2)")
    revisions = parser.add_argument_group("regression check between revisions")
    revisions.add_argument("--against", metavar="REV",
                           help="the old revision (git), run beside this fastdln or --new; "
                           "exit 1 on a regression")
    revisions.add_argument("--new", metavar="REV", default=None,
                           help="measure this revision instead of the running fastdln")
    revisions.add_argument("--repo", metavar="DIR", default=".",
                           help="the git checkout (default: the current folder)")
    revisions.add_argument("--configs", type=_names, default=AgainstOptions.configs,
                           help="comma-separated (default: %s)" % ",".join(AgainstOptions.configs))
    revisions.add_argument("--rounds", type=integer_at_least(2), default=AgainstOptions.rounds,
                           help="alternating rounds (default: %(default)s)")
    revisions.add_argument("--pause", type=_positive, default=AgainstOptions.pause,
                           help="seconds before each timing (default: %(default)s)")
    revisions.add_argument("--min-time", type=_positive, default=AgainstOptions.min_time,
                           help="seconds of sweeps per worker and round at least, --repeats "
                           "sweeps at least (default: %(default)s)")
    parser.add_argument("--compare", metavar="OLD.json",
                        help="compare with a saved run (exit 1 when slower than --threshold); "
                        "warns when OLD was measured on another machine (CPU, cores, BLAS)")


def run(args):
    """Run ``fastdln bench`` from parsed :func:`add_arguments` options; the exit code."""
    if args.against is None and args.new is not None:
        raise ValueError("--new REV needs --against REV (the old revision)")
    if args.against is not None:
        if args.compare or args.quick:
            raise ValueError("--against cannot be combined with --compare or --quick")
        options = AgainstOptions(
            args.against, args.new, args.repo, args.configs, args.rounds,
            args.repeats or AgainstOptions.repeats, args.threads,
            args.threshold or AgainstOptions.threshold, args.pause, args.min_time)
        return compare_revisions(options, json_path=args.json)
    return main(quick=args.quick, json_path=args.json, compare_path=args.compare,
                threshold=args.threshold or 1.2, repeats=args.repeats, threads=args.threads)
