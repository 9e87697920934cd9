"""The ``fastdln`` command line (apps layer): the commands are the :class:`Command` units of
:data:`COMMANDS` (``fastdln --help`` lists them from there). The training options of ``train``
are the fields of :class:`fastdln.Settings`, offered as ``--name`` (underscores as dashes)."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._version import __version__
from .arguments import integer_at_least
from .bench import COLUMNS, add_arguments
from .bench import run as run_bench
from ..core.data import Data
from .experiments import GridTerminated, load_grid_file, run_grid
from ..core.io import check_writable, load, save
from ..maths.optimum import end_to_end
from .paper import FIGURES, run_figure
from .paper.claims import tally_line
from .paper.datasets import MIRROR_ENV, fetch_all
from .progress import Progress, StopOnInterrupt, sweep_callback
from .readers import read_features, read_training_data
from ..core.settings import (FRONT_END_DEFAULTS, Settings, check_settings, option_from_text,
                       text_options)
from ..maths.synthetic import random_data
from .tables import write_csv
from ..core.trainer import Trainer
from ..core.runner import train
from .warmup import WARMUP_CHOICES, kernel_cache_folder, warmup

__all__ = ["COMMANDS", "Command", "build_parser", "main"]


def _demo_arguments(parser):
    parser.add_argument("--depth", type=integer_at_least(1), default=50,
                        help="(default: %(default)s)")
    parser.add_argument("--sweeps", type=integer_at_least(1), default=10,
                        help="(default: %(default)s)")
    parser.add_argument("--samples", type=integer_at_least(1), default=600,
                        help="(default: %(default)s)")
    parser.add_argument("--seed", type=integer_at_least(0), default=0,
                        help="(default: %(default)s)")


def _demo(args):
    X, Y = random_data(args.samples, 128, 10, args.seed)
    widths = [128] * args.depth + [10]
    start = time.perf_counter()
    trainer = Trainer(X, Y, widths=widths, seed=args.seed)
    print(f"BCGD demo: n0=128, nL=10, m={args.samples}, depth {args.depth}, width 128, "
          f"orth-identity, descending, optimal rate (set-up {time.perf_counter() - start:.2f} s)")
    print(f"sweep {0:3d}  error {trainer.errors[0]:.6e}")
    for k in range(1, args.sweeps + 1):
        start = time.perf_counter()
        trainer.sweep()
        print(f"sweep {k:3d}  error {trainer.errors[-1]:.6e}  "
              f"({(time.perf_counter() - start) * 1e3:.2f} ms)")
    return 0


def _check_outputs(files=(), folders=()):
    """Every output of a command checked before any work (bad ones: one line, exit 2).

    ``files``: ``(option, path, inputs)``, ``inputs`` the ``(name, path)`` of the input files
    that this output must not be (by file identity: links included); ``folders``:
    ``(option, path)``. Paths that are None are not given. No two files may be one."""
    given = [(option, path) for option, path, _ in files if path is not None]
    for option, path, inputs in files:
        if path is not None:
            check_writable(path, option, inputs=inputs)
    for option, path in folders:
        if path is not None:
            check_writable(path, option, folder=True)
    for (first, a), (second, b) in itertools.combinations(given, 2):
        if os.path.realpath(a) == os.path.realpath(b):
            raise ValueError(f"{second} {b}: the same file as {first} {a}; give each its own")


def _reproduce_arguments(parser):
    parser.add_argument("figure", choices=list(FIGURES) + ["all"])
    parser.add_argument("--quick", action="store_true", help="smaller settings where needed")
    parser.add_argument("--out", default="fastdln_figures", help="output folder")
    parser.add_argument("--seed", type=integer_at_least(0), default=0,
                        help="(default: %(default)s)")
    parser.add_argument("--data-dir", default=None,
                        help="folder with the MNIST IDX / UCI batch*.dat files (else the "
                        "download cache, $FASTDLN_DATA or ~/.cache/fastdln, else stand-ins)")
    parser.add_argument("--download", action="store_true",
                        help="download MNIST and the UCI gas sensor data first (checksummed)")
    parser.add_argument("--mirror", action="append", default=None, metavar="URL",
                        help="with --download: a base URL holding the files under their own "
                        "names, tried before the official ones (repeatable; default: the URLs "
                        f"in ${MIRROR_ENV})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a claim does not hold")


def _reproduce(args):
    _check_outputs(folders=[("--out", args.out)]
                   + [("--data-dir", args.data_dir)] * bool(args.download))
    names = list(FIGURES) if args.figure == "all" else [args.figure]
    if args.download:  # into --data-dir, else the cache (used by itself once filled)
        for kind, folder in fetch_all(args.data_dir, mirrors=args.mirror).items():
            print(f"{kind} files in {folder}", flush=True)
    found = []
    for name in names:
        print(f"Reproducing {name} (seed {args.seed}) into {args.out}/", flush=True)
        start = time.perf_counter()
        claims, files = run_figure(name, args.out, quick=args.quick, seed=args.seed,
                                   quiet=args.quiet, data_dir=args.data_dir)
        print(f"{name}: done in {time.perf_counter() - start:.1f} s; wrote {', '.join(files)}")
        for claim in claims:
            print(f"  {claim}")
        found += claims
    print(f"{tally_line(found)} (TIE: within the tie band; INFO: a description); CPU "
          f"{time.process_time():.0f} s; see {args.out}/claims.json")
    return 1 if args.strict and any(claim.failed for claim in found) else 0


def _bench(args):
    _check_outputs([("--json", args.json, [("--compare", args.compare)])])
    return run_bench(args)


# The defaults Settings declares for the command line (a seeded run is reproducible, and real
# data has an intercept). Given to a resumed run only when typed.
_OWN_DEFAULTS = FRONT_END_DEFAULTS["command line"]


def _settings_options(args):
    """The training options given on the command line (not the ones left at None)."""
    options = {}
    for f in text_options():
        text = getattr(args, f.name, None)
        if text is not None:
            try:
                options[f.name] = option_from_text(f.name, text)
            except ValueError as error:  # "name: ..." becomes "--name: ..." (one prefix)
                message = str(error).removeprefix(f"{f.name}: ")
                raise ValueError(f"--{f.name.replace('_', '-')}: {message}") from None
    return options


def _add_settings_arguments(parser):
    """``--name`` for every option of :class:`fastdln.Settings` the command line offers."""
    defaults = dict(Settings().to_dict(), **_OWN_DEFAULTS)
    for f in text_options():
        default = defaults[f.name]
        shown = [] if default is None else [f"default: {str(default).lower()}"]
        if f.metadata["choices"]:
            shown.append(f"one of {', '.join(map(str, f.metadata['choices']))}")
        parser.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, default=None,
                            metavar=f.name.upper(), help=f"{f.metadata['help']}"
                            + (f" ({'; '.join(shown)})" if shown else ""))


def _checked_settings(options):
    """:func:`fastdln.check_settings` with the option in an error spelled ``--name``."""
    try:
        return check_settings(**options)
    except (ValueError, TypeError) as error:
        message = re.sub(r"^(\w+) must", lambda m: f"--{m.group(1).replace('_', '-')} must",
                         str(error))
        raise type(error)(message) from None


def _training_options(args):
    """The options of :func:`fastdln.train` from the command line: the typed ones (the
    network by ``--depth`` and ``--width``), and the command line's defaults for a new run."""
    options = _settings_options(args)
    if args.resume is None and "depth" not in options:
        raise ValueError("--depth is required (the number of layers), unless --resume "
                         "continues a run")
    if args.resume is None:  # a resumed run takes its settings from the checkpoint
        if options.get("loss", "l2") != "l2" and "fit_intercept" not in options:
            raise ValueError(f"--loss {options['loss']}: the intercept (--fit-intercept true, "
                             "the default) is exact for the l2 loss only; add "
                             "--fit-intercept false")
        options = dict(_OWN_DEFAULTS, **options)
        _checked_settings(options)
    return options


def _train(args):
    inputs = [("the data", args.data), ("--y", args.y), ("--sample-weight", args.sample_weight)]
    _check_outputs([("--out", args.out, inputs + [("--resume", args.resume)]),
                    ("--checkpoint", args.checkpoint, inputs)])  # it may go on in --resume's
    X, Y, feature_names, target_names, weight = read_training_data(
        args.data, target=args.target, header=not args.no_header, y_path=args.y,
        sample_weight=args.sample_weight)
    Y = Y.reshape(len(Y), -1) if Y.ndim == 1 else Y
    if X.ndim != 2:
        raise ValueError(f"{args.data}: X must be 2-D (samples x features), got {X.shape}")
    options = _training_options(args)
    with Progress(args.sweeps, "sweeps", "sweep", enabled=not (args.quiet or args.json)) as bar, \
            StopOnInterrupt() as stop, warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".* diverged at iteration",
                                RuntimeWarning)  # reported below, in one line
        result = train(X, Y, sweeps=args.sweeps, callback=sweep_callback(bar, stop=stop),
                       checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every,
                       resume=args.resume, sample_weight=weight, **options)
    summary = _summary(result, X, Y, args, weight)
    if result.status not in ("diverged", "stopped") and args.out:
        save(args.out, result, feature_names=feature_names, target_names=target_names)
    _print_summary(summary, args)
    return _exit_code(result, args, stop)


def _summary(result, X, Y, args, weight=None):
    mse, r2, zero = _fit_metrics(X, Y, result.weights, result.intercept,
                                 result.settings.fit_intercept, weight)
    relative = None  # (loss - optimal loss) / loss(0): scale-free, for the L2 loss
    if result.settings.loss_name == "l2" and zero > 0:
        relative = float(result.errors[-1]) / zero
    return dict(status=result.status, sweeps=result.sweeps, iterations=result.iterations,
                error=float(result.errors[-1]), initial_error=float(result.errors[0]),
                relative_error=relative, mse=mse, r2=r2,
                widths=list(result.settings.widths), tol=result.settings.tol,
                n_iter_no_change=result.settings.n_iter_no_change,
                loss_tol=result.settings.loss_tol,
                model=args.out if result.status not in ("diverged", "stopped") else None,
                checkpoint=args.checkpoint, seconds=result.elapsed)


def _fit_metrics(X, Y, weights, intercept, centered, sample_weight=None):
    """MSE, R^2 and the zero map's loss per sample on the (centered, with an intercept)
    training data, read once by blocks of rows through :class:`fastdln.core.data.Data` (a
    memory-mapped X is never read whole), weighted by ``sample_weight`` like scikit-learn's
    metrics and fastdln's loss. R^2 is averaged over the outputs like scikit-learn's
    ``r2_score``: 1 for a perfect fit, 0 for the mean; a constant output counts 1 if fitted
    exactly, else 0."""
    W = end_to_end([np.asarray(w, dtype=np.float64) for w in weights])
    data = Data(X, Y, sample_weight)
    squares, spread = np.zeros(data.nL), _Spread(data.nL)
    for begin, Xb, Yb in data.blocks():
        wb = np.ones(len(Yb)) if data.weight is None else data.weight[begin:begin + len(Yb)]
        squares += wb @ (Xb @ W.T + intercept - Yb) ** 2
        spread.add(Yb, wb)
    constant = spread.sum == 0
    scores = np.where(constant, np.where(squares == 0, 1.0, 0.0),
                      1.0 - squares / np.where(constant, 1.0, spread.sum))
    zero = spread.sum if centered else spread.sum + spread.count * spread.mean ** 2
    return (float(np.sum(squares) / squares.size / spread.count), float(np.mean(scores)),
            float(np.sum(zero) / data.m))


class _Spread:
    """The weighted sum of squares of ``Y`` around its weighted mean, one block of rows at a
    time (Chan et al.'s pairwise update: no cancellation of large means)."""

    def __init__(self, columns):
        self.count, self.mean, self.sum = 0.0, np.zeros(columns), np.zeros(columns)

    def add(self, Yb, wb):
        block_count = float(np.sum(wb))
        if block_count == 0:
            return
        block_mean = wb @ Yb / block_count
        total = self.count + block_count
        delta = block_mean - self.mean
        self.sum += wb @ (Yb - block_mean) ** 2 + delta ** 2 * self.count * block_count / total
        self.mean += delta * block_count / total
        self.count = total


def _print_summary(summary, args):
    if args.json:
        print(json.dumps(summary))
    elif summary["status"] not in ("diverged", "stopped"):
        state = (_converged(summary) if summary["status"] == "converged" else
                 "stopped at the sweep limit (raise --sweeps to go on)")
        relative = summary["relative_error"]
        print(f"{state}: {summary['sweeps']} sweeps, error {summary['initial_error']:.3e} -> "
              f"{summary['error']:.3e} ((loss - optimal loss) / m"
              + ("" if relative is None else
                 f"; relative error {relative:.2e}, the training R^2 below least squares")
              + f"); on the training data MSE {summary['mse']:.6g}, R^2 "
              f"{summary['r2']:.6f}" + (f"; saved to {args.out}" if args.out else ""))


def _converged(summary):
    """Which rule stopped a converged run."""
    tol = summary["tol"]
    if tol is not None and summary["error"] <= tol:
        return f"converged (error <= --tol {tol:g})"
    return (f"converged (the loss improved by less than --loss-tol {summary['loss_tol']:g} "
            f"in {summary['n_iter_no_change']} sweeps in a row)")


def _exit_code(result, args, stop):
    """0 for a finished run; 1 (diverged), 130 (Ctrl-C) or 143 (SIGTERM) with one line on
    stderr."""
    if result.status == "diverged":
        print(f"fastdln: error: training diverged at iteration {result.diverged_at} (the "
              "error exploded; the last update was not applied); no model written; use "
              "--lr optimal or a smaller constant --lr", file=sys.stderr)
        return 1
    if result.status == "stopped":
        kept = (f"checkpoint written to {args.checkpoint} (continue with --resume "
                f"{args.checkpoint} and the same data)" if args.checkpoint else
                "no checkpoint (--checkpoint FILE keeps an interrupted run)")
        how = ("interrupted" if stop.signal_name in ("", "SIGINT") else
               f"stopped by {stop.signal_name}")
        print(f"fastdln: {how} after {result.sweeps} sweeps; {kept}; no model written",
              file=sys.stderr)
        return stop.exit_code
    return 0


def _predict(args):
    _check_outputs([("--out", args.out, [("the model", args.model), ("the data", args.data)])])
    model = load(args.model)
    X = read_features(args.data, model.widths[0], header=not args.no_header,
                      target=args.target, feature_names=model.feature_names,
                      target_names=model.target_names)
    predictions = model.predict(X)
    names = model.target_names or (["y"] if predictions.shape[1] == 1 else
                                   [f"y{j}" for j in range(predictions.shape[1])])
    out = open(args.out, "w", newline="") if args.out else sys.stdout
    try:
        write_csv(out, names, predictions)
    finally:
        if args.out:
            out.close()
    return 0


def _grid(args):
    configs = load_grid_file(args.grid)
    data = {path.strip() for config in configs for path in str(config.get("data", "")).split(",")}
    _check_outputs([("--out", args.out, [("the grid", args.grid)]
                     + [("the data", path) for path in sorted(data)])],
                   [("--curves", args.curves)])
    client = None
    if args.scheduler:
        # imported here only: dask is an optional extra, slow to import
        from dask.distributed import Client

        client = Client(args.scheduler)
    where = args.scheduler or f"{args.workers or 'all'} local processes"
    print(f"{len(configs)} runs on {where}", flush=True)
    with Progress(len(configs), "runs", "run", enabled=not args.quiet) as bar:
        def finished(row):
            bar.update(1, status=row["status"])

        try:
            rows = run_grid(configs, client=client, n_workers=args.workers,
                            curve_dir=args.curves, out=args.out, on_row=finished)
        except GridTerminated as stopped:
            print(f"fastdln: stopped by SIGTERM; wrote {len(stopped.rows)} rows to {args.out} "
                  "(the runs it stopped are error rows)", file=sys.stderr)
            return stopped.code
    failed = [row for row in rows if row["status"] == "error"]
    print(f"wrote {len(rows)} rows to {args.out}"
          + (f"; {len(failed)} run(s) failed (see the error column)" if failed else ""))
    return 1 if failed else 0


def _description():
    """What ``fastdln --help`` says (plain text: the module docstring is for the
    documentation), the commands from :data:`COMMANDS`."""
    return (f"Fast layer-wise training of deep linear networks. Commands: "
            f"{', '.join(COMMANDS)}; 'fastdln COMMAND --help' for each. The training options "
            "of train are those of fastdln.Settings, as --name.")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (exit 2), like fastdln's others."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    """The ``fastdln`` command's argument parser (its sub-commands and their options)."""
    parser = _Parser(prog="fastdln", description=_description())
    parser.add_argument("--version", action="version", version=f"fastdln {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS.values():
        parser_of_command = sub.add_parser(command.name, help=command.help, **command.parser)
        command.add_arguments(parser_of_command)
        parser_of_command.set_defaults(run=command.run)
    return parser


def _warmup_arguments(warm):
    for name, choices in WARMUP_CHOICES.items():
        warm.add_argument(f"--{name}", nargs="+", choices=choices, default=None,
                          help=f"one or more of {', '.join(choices)}")
    warm.add_argument("--measure-threads", action="store_true",
                      help="also measure this machine's BLAS thread counts for threads=None "
                      "(several times the default warmup's time)")
    warm.add_argument("--all", action="store_true",
                      help="every combination of the above, --measure-threads, and the GEMM "
                      "libraries measured again (the mkl extra)")


def _warmup(args):
    warmup(args.dtype, args.method, args.loss, args.lr, args.order, shape=args.shape,
           everything=args.all, measure_threads=args.measure_threads, report=print)
    folder = kernel_cache_folder()
    print(f"kernels cached in {folder}" if folder else "kernels cannot be cached here "
          "(no writable cache folder; set NUMBA_CACHE_DIR)")
    return 0


def _train_arguments(command):
    command.add_argument("data", help=".npz with arrays X and Y, an .npy of X (with --y; read "
                         "by blocks), or a CSV with a header row ('-': a CSV on standard input)")
    command.add_argument("--y", default=None, metavar="Y.npy",
                         help="the .npy of the targets, with an .npy of X")
    command.add_argument("--sweeps", type=integer_at_least(1), default=1000,
                         help="the most sweeps, a resumed run's included; a run stops sooner "
                         "by --n-iter-no-change (as DeepLinearRegressor's max_sweeps) "
                         "(default: %(default)s)")
    _add_settings_arguments(command)
    command.add_argument("--target", default=None,
                         help="CSV target column(s): names or 0-based indices, comma separated")
    command.add_argument("--no-header", action="store_true",
                         help="the CSV has no header row (columns are 0-based indices)")
    command.add_argument("--sample-weight", default=None, metavar="COLUMN|W.npy",
                         help="weights of the samples: a CSV column (not a feature then; "
                         "predict leaves it out with --target) or an .npy of one per row")
    command.add_argument("--out", default=None, help="save the model (.npz)")
    command.add_argument("--checkpoint", default=None,
                         help="write the run's state there every --checkpoint-every sweeps and "
                         "on Ctrl-C")
    command.add_argument("--checkpoint-every", type=integer_at_least(1), default=10,
                         help="(default: %(default)s)")
    command.add_argument("--resume", default=None,
                         help="continue the run saved in this checkpoint (same data)")
    command.add_argument("--json", action="store_true", help="print a JSON summary")
    command.add_argument("--quiet", action="store_true", help="no progress bar")


def _predict_arguments(pred):
    pred.add_argument("model")
    pred.add_argument("data", help=".npz with X, an .npy of X, or a CSV of features ('-': "
                      "standard input); "
                      "columns are matched to the model's by name")
    pred.add_argument("--target", default=None,
                      help="CSV columns to leave out (the model's target columns always are)")
    pred.add_argument("--no-header", action="store_true",
                      help="the CSV has no header row (columns matched by position)")
    pred.add_argument("--out", default=None, help="write there (default: standard output)")


def _grid_arguments(grid):
    grid.add_argument("grid", help="TOML with a [grid] table of lists and [train] defaults")
    grid.add_argument("--scheduler", default=None, help="dask scheduler address")
    grid.add_argument("--workers", type=integer_at_least(1), default=None,
                      help="local processes (default: the number of cores)")
    grid.add_argument("--out", default="results.csv",
                      help="a row per run, written as runs finish (default: %(default)s)")
    grid.add_argument("--curves", default=None, help="folder for each run's error curve")
    grid.add_argument("--quiet", action="store_true", help="no progress bar")


@dataclass(frozen=True)
class Command:
    """A command of ``fastdln``: its name, one line of help, the options it adds to its
    parser (``add_arguments(parser)``), what runs it (``run(args)`` -> the exit code), and
    other keywords of its parser (a description, an epilog)."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    parser: dict[str, Any] = field(default_factory=dict)


COMMANDS = {command.name: command for command in (
    Command("train", "train on an .npz (X, Y) or a CSV (--target)", _train_arguments, _train),
    Command("predict", "predictions of a saved model, as CSV with a header",
            _predict_arguments, _predict),
    Command("grid", "run an experiment grid from a TOML file", _grid_arguments, _grid),
    Command("reproduce", "reproduce a figure of the paper's Section 4", _reproduce_arguments,
            _reproduce),
    Command("bench", "time sweeps; --against REV: regression check", add_arguments, _bench,
            dict(epilog=COLUMNS, formatter_class=argparse.RawDescriptionHelpFormatter)),
    Command("warmup", "compile the kernels of chosen configurations into numba's cache",
            _warmup_arguments, _warmup,
            dict(description="Compile ahead of time what a run's first call would compile "
                 "(seconds per configuration), e.g. in a Docker image, a CI cache or asv's "
                 "install_command. Default: what a default run uses (the default settings on "
                 "a network without tiny products; --shape small for one or two outputs); the "
                 "options below choose others (every combination of the values given), "
                 "--all every configuration.")),
    Command("demo", "a small BCGD run printing the error per sweep", _demo_arguments, _demo),
)}


def main(argv=None):
    """Run the ``fastdln`` command; returns its exit code (2: bad input, a file or memory
    problem; 130: Ctrl-C)."""
    args = build_parser().parse_args(argv)
    np.set_printoptions(precision=4)
    with warnings.catch_warnings():
        warnings.showwarning = _warning_line
        try:
            return args.run(args)
        except BrokenPipeError:  # e.g. `fastdln predict ... | head`: the reader has enough
            return 0
        except KeyboardInterrupt:
            print("fastdln: interrupted", file=sys.stderr)
            return 130
        except (ValueError, TypeError, ImportError, OSError, MemoryError) as error:
            message = " ".join(str(error).split())  # one line
            if isinstance(error, MemoryError) and not message.startswith("out of memory"):
                message = f"out of memory: {message or 'an allocation failed'}"  # numpy's own
            print(f"fastdln: error: {message}", file=sys.stderr)
            return 2


def _warning_line(message, category, filename, lineno, file=None, line=None):
    """Warnings as one line, without the source path and line of the code."""
    print(f"fastdln: warning: {' '.join(str(message).split())}", file=file or sys.stderr)
