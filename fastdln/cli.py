"""The ``fastdln`` command line: ``train``, ``predict``, ``grid``, ``reproduce``, ``bench``,
``demo`` (apps layer). The training options of ``train`` are the fields of
:class:`fastdln.Settings`, offered as ``--name`` (underscores as dashes)."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

__all__ = ["build_parser", "main"]


def _demo(args):
    from .paper.data import random_data
    from .trainer import Trainer

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


def _reproduce(args):
    from .paper import FIGURES, run_figure

    names = list(FIGURES) if args.figure == "all" else [args.figure]
    counts = dict.fromkeys(("PASS", "FAIL", "INFO"), 0)
    for name in names:
        print(f"Reproducing {name} (seed {args.seed}) into {args.out}/", flush=True)
        start = time.perf_counter()
        claims, files = run_figure(name, args.out, quick=args.quick, seed=args.seed,
                                   quiet=args.quiet, data_dir=args.data_dir)
        print(f"{name}: done in {time.perf_counter() - start:.1f} s; wrote {', '.join(files)}")
        for claim in claims:
            print(f"  {claim}")
            counts[claim.verdict] += 1
    print(f"{counts['PASS']} claim(s) held, {counts['FAIL']} did not, {counts['INFO']} "
          f"description(s); see {args.out}/claims.json")
    return 1 if args.strict and counts["FAIL"] else 0


def _bench(args):
    from .bench import main

    return main(quick=args.quick, json_path=args.json, compare_path=args.compare,
                threshold=args.threshold, repeats=args.repeats)


def _read_csv(path, target):
    """A CSV with a header row: ``(X, Y)`` with ``Y`` the ``target`` columns (names or
    0-based indices, comma separated), or ``(X, None)`` without ``target``."""
    import csv

    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        raise ValueError(f"{path}: a CSV needs a header row and at least one data row")
    header, body = rows[0], rows[1:]
    try:
        data = np.array([[float(v) for v in row] for row in body])
    except ValueError as error:
        raise ValueError(f"{path}: non-numeric value in the data rows ({error})") from None
    if data.ndim != 2 or data.shape[1] != len(header):
        raise ValueError(f"{path}: every row must have {len(header)} values like the header")
    if target is None:
        return data, None
    columns = []
    for name in target.split(","):
        name = name.strip()
        if name in header:
            columns.append(header.index(name))
        elif name.isdigit() and int(name) < len(header):
            columns.append(int(name))
        else:
            raise ValueError(f"--target column {name!r} is not in {path}'s header {header}")
    features = [j for j in range(len(header)) if j not in columns]
    return data[:, features], data[:, columns]


def _read_data(path, target=None, need_y=True):
    """``(X, Y)`` from an ``.npz`` (arrays ``X`` and ``Y``) or a CSV (``--target`` columns)."""
    import os

    if not os.path.exists(path):
        raise ValueError(f"{path}: no such file")
    if path.endswith(".npz"):
        import zipfile

        try:
            with np.load(path, allow_pickle=False) as data:
                if "X" not in data.files or (need_y and "Y" not in data.files):
                    raise ValueError(f"{path}: an .npz needs arrays 'X' and 'Y', has "
                                     f"{data.files}")
                return data["X"], data["Y"] if "Y" in data.files else None
        except (zipfile.BadZipFile, EOFError, OSError) as error:
            raise ValueError(f"{path}: not a readable .npz ({error})") from None
    if need_y and target is None:
        raise ValueError(f"{path}: a CSV needs --target to name the target column(s)")
    return _read_csv(path, target)


# Settings the command line offers with its own default (a seeded run is reproducible).
_OWN_DEFAULTS = ("seed",)


def _settings_options(args):
    """The training options given on the command line (None: not given)."""
    from .settings import option_from_text, text_options

    options = {}
    for f in text_options():
        text = None if f.name in _OWN_DEFAULTS else getattr(args, f.name, None)
        if text is not None:
            try:
                options[f.name] = option_from_text(f.name, text)
            except ValueError as error:
                raise ValueError(f"--{f.name.replace('_', '-')}: {error}") from None
    return options


def _add_settings_arguments(parser):
    """``--name`` for every option of :class:`fastdln.Settings` the command line offers."""
    from .settings import Settings, text_options

    defaults = Settings()
    for f in text_options():
        if f.name in _OWN_DEFAULTS:
            continue
        choices = f.metadata["choices"]
        default = getattr(defaults, f.name)
        shown = f"; one of {', '.join(map(str, choices))}" if choices else ""
        parser.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, default=None,
                            metavar=f.name.upper(),
                            help=f"{f.metadata['help']} (default: {default}{shown})")


def _train(args):
    import json

    from .init import layer_widths
    from .io import save
    from .progress import Progress, sweep_callback
    from .settings import check_settings
    from .trainer import Trainer
    from .training import run_sweeps

    X, Y = _read_data(args.data, args.target)
    X = np.asarray(X)
    Y = np.asarray(Y)
    Y2 = Y.reshape(len(Y), -1) if Y.ndim == 1 else Y
    if X.ndim != 2:
        raise ValueError(f"{args.data}: X must be 2-D (samples x features), got {X.shape}")
    if args.depth < 1:
        raise ValueError(f"--depth must be >= 1, got {args.depth}")
    widths = layer_widths(X.shape[1], Y2.shape[1], args.depth, args.width)
    settings = check_settings(seed=args.seed, widths=widths, **_settings_options(args))
    trainer = Trainer(X, Y2, settings=settings)
    with Progress(args.sweeps, "sweeps", "sweep", enabled=not (args.quiet or args.json)) as bar:
        status = run_sweeps(trainer, args.sweeps, callback=sweep_callback(bar))
    if args.out:
        save(args.out, trainer)
    summary = dict(status=status, sweeps=trainer.sweeps_done, iterations=trainer.iteration,
                   error=float(trainer.errors[-1]), initial_error=float(trainer.errors[0]),
                   widths=widths, model=args.out)
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{summary['status']}: {summary['sweeps']} sweeps, error "
              f"{summary['initial_error']:.3e} -> {summary['error']:.3e}"
              + (f", saved to {args.out}" if args.out else ""))
    return 0


def _predict(args):
    import sys

    from .io import load

    model = load(args.model)
    X, _ = _read_data(args.data, args.target, need_y=False)
    predictions = model.predict(X)
    out = open(args.out, "w") if args.out else sys.stdout
    try:
        np.savetxt(out, predictions, delimiter=",", fmt="%.17g")
    finally:
        if args.out:
            out.close()
    return 0


def _grid(args):
    from .experiments import load_grid_file, run_grid, write_rows

    configs = load_grid_file(args.grid)
    client = None
    if args.scheduler:
        from dask.distributed import Client

        client = Client(args.scheduler)
    where = args.scheduler or f"{args.workers or 'all'} local processes"
    print(f"{len(configs)} runs on {where}", flush=True)
    rows = run_grid(configs, client=client, n_workers=args.workers, curve_dir=args.curves)
    write_rows(args.out, rows)
    print(f"wrote {len(rows)} rows to {args.out}")
    return 0


def build_parser():
    from .paper import FIGURES

    parser = argparse.ArgumentParser(prog="fastdln", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="a small BCGD run printing the error per sweep")
    demo.add_argument("--depth", type=int, default=50)
    demo.add_argument("--sweeps", type=int, default=10)
    demo.add_argument("--samples", type=int, default=600)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(run=_demo)
    rep = sub.add_parser("reproduce", help="reproduce a figure of the paper's Section 4")
    rep.add_argument("figure", choices=list(FIGURES) + ["all"])
    rep.add_argument("--quick", action="store_true", help="smaller settings where needed")
    rep.add_argument("--out", default="fastdln_figures", help="output folder")
    rep.add_argument("--seed", type=int, default=0)
    rep.add_argument("--data-dir", default=None,
                     help="folder with the MNIST IDX / UCI batch*.dat files (else stand-ins)")
    rep.add_argument("--quiet", action="store_true", help="no progress bar")
    rep.add_argument("--strict", action="store_true", help="exit 1 if a claim does not hold")
    rep.set_defaults(run=_reproduce)
    bench = sub.add_parser("bench", help="time sweeps: fast engine, reference, BLAS limit")
    bench.add_argument("--quick", action="store_true", help="three configurations, < 1 minute")
    bench.add_argument("--json", metavar="FILE", help="save the table with machine info")
    bench.add_argument("--compare", metavar="OLD.json",
                       help="exit 1 naming each configuration slower than --threshold x OLD")
    bench.add_argument("--threshold", type=float, default=1.2)
    bench.add_argument("--repeats", type=int, default=None, help="best of this many")
    bench.set_defaults(run=_bench)
    train = sub.add_parser("train", help="train on an .npz (X, Y) or a CSV (--target)")
    train.add_argument("data")
    train.add_argument("--depth", type=int, required=True)
    train.add_argument("--width", type=int, default=None)
    train.add_argument("--sweeps", type=int, default=100)
    train.add_argument("--seed", type=int, default=0)
    _add_settings_arguments(train)
    train.add_argument("--target", default=None, help="CSV target column names or indices")
    train.add_argument("--out", default=None, help="save the model (.npz)")
    train.add_argument("--json", action="store_true", help="print a JSON summary")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(run=_train)
    pred = sub.add_parser("predict", help="predictions of a saved model, as CSV")
    pred.add_argument("model")
    pred.add_argument("data", help=".npz with X, or a CSV of features")
    pred.add_argument("--target", default=None, help="CSV columns to leave out")
    pred.add_argument("--out", default=None)
    pred.set_defaults(run=_predict)
    grid = sub.add_parser("grid", help="run an experiment grid from a TOML file")
    grid.add_argument("grid", help="TOML with a [grid] table of lists and [train] defaults")
    grid.add_argument("--scheduler", default=None, help="dask scheduler address")
    grid.add_argument("--workers", type=int, default=None, help="local processes")
    grid.add_argument("--out", default="results.csv")
    grid.add_argument("--curves", default=None, help="folder for each run's error curve")
    grid.set_defaults(run=_grid)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    np.set_printoptions(precision=4)
    try:
        return args.run(args)
    except BrokenPipeError:  # e.g. `fastdln predict ... | head`: the reader has enough
        return 0
    except (ValueError, TypeError, ImportError, OSError) as error:
        message = " ".join(str(error).split())  # one line
        print(f"fastdln: error: {message}", file=sys.stderr)
        return 2


