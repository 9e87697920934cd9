"""The ``fastdln`` command line: ``reproduce``, ``bench`` and ``demo``."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def _demo(args):
    from .reproduce import paper_random_data
    from .trainer import Trainer

    X, Y = paper_random_data(args.samples, 128, 10, args.seed)
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
    from .reproduce import FIGURES, run_figure

    names = list(FIGURES) if args.figure == "all" else [args.figure]
    failed = 0
    for name in names:
        print(f"Reproducing {name} (seed {args.seed}) into {args.out}/", flush=True)
        start = time.perf_counter()
        claims, files = run_figure(name, args.out, quick=args.quick, seed=args.seed,
                                   quiet=args.quiet, data_dir=args.data_dir)
        print(f"{name}: done in {time.perf_counter() - start:.1f} s; wrote {', '.join(files)}")
        for claim in claims:
            print(f"  {claim}")
        failed += sum(not c.passed for c in claims)
    print(f"{failed} claim(s) did not hold" if failed else "every claim held")
    return 0


def _bench(args):
    from .bench import main

    return main(quick=args.quick, json_path=args.json, compare_path=args.compare,
                threshold=args.threshold, repeats=args.repeats)


def build_parser():
    from .reproduce import FIGURES

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
    rep.set_defaults(run=_reproduce)
    bench = sub.add_parser("bench", help="time sweeps: fast engine, reference, BLAS limit")
    bench.add_argument("--quick", action="store_true", help="three configurations, < 1 minute")
    bench.add_argument("--json", metavar="FILE", help="save the table with machine info")
    bench.add_argument("--compare", metavar="OLD.json",
                       help="exit 1 naming each configuration slower than --threshold x OLD")
    bench.add_argument("--threshold", type=float, default=1.2)
    bench.add_argument("--repeats", type=int, default=None, help="best of this many")
    bench.set_defaults(run=_bench)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    np.set_printoptions(precision=4)
    try:
        return args.run(args)
    except (ValueError, TypeError, ImportError) as error:
        print(f"fastdln: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
