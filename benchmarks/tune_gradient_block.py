"""Whole gradient or blocks of rows: the step of one layer both ways, at several widths.

``python benchmarks/tune_gradient_block.py`` times, for square layers of width ``n`` and
``nL = 10``, a sweep of a 3-layer network (one BLAS thread) whose steps go either way:

- whole: ``G = S^T A`` stored, ``||G||^2`` from it, ``W -= eta G``, then ``S W``;
- blocks: ``||G||`` from the LQ factorization of ``S``, then ``G`` formed block by block
  of rows (``fastdln.maths._kernels.GRADIENT_BLOCK`` entries each) with ``W`` updated and ``S W``
  accumulated while each block is in cache.

Each row prints the best time of both (measured alternately in one run) and their ratio;
``WHOLE_GRADIENT`` (the largest gradient stored whole) is set from it. Measured on this
machine (2 cores, 1 MiB L2 each) with an earlier version of this script that timed the two
steps alone, blocks of 2^17 entries: 0.67-0.75 at widths 1448-2896, 0.95-1.04 at 1024 and
1.16-1.95 below when the machine was quiet (OpenBLAS runs the whole products on both cores,
the blocks on one; the LQ factorization costs 10-20 us), though the blocks won at 362-512
(0.55-0.74) while other jobs loaded the machine.
"""

import argparse
import time

import numpy as np

from fastdln import Trainer
from fastdln.maths import _kernels
from fastdln.maths.synthetic import random_data
from fastdln.core.threads import blas_threads


def _trainer(n, k, whole_gradient):
    """A 3-layer network of width ``n`` whose gradients are stored whole up to
    ``whole_gradient`` entries (the engine reads the limits when it is built)."""
    saved = _kernels.WHOLE_GRADIENT
    _kernels.WHOLE_GRADIENT = whole_gradient
    try:
        X, Y = random_data(2 * n, n, k, seed=0)
        trainer = Trainer(X, Y, widths=[n] * 3 + [k], init="random", seed=0, threads=1)
    finally:
        _kernels.WHOLE_GRADIENT = saved
    trainer.sweep()  # compiled and warm
    return trainer


def main(widths=(128, 181, 256, 362, 512, 724, 1024), k=10, rounds=7):
    print(f"{'width':>6} {'rows':>5} {'whole ms':>10} {'blocks ms':>10} {'blocks/whole':>13}")
    for n in widths:
        runs = {"whole": _trainer(n, k, n * n).sweep, "blocks": _trainer(n, k, 0).sweep}
        rows = min(n, max(1, _kernels.GRADIENT_BLOCK // n))
        best = dict.fromkeys(runs, np.inf)
        with blas_threads(1):
            for _ in range(rounds):
                for name, run in runs.items():
                    start = time.thread_time()
                    run()
                    best[name] = min(best[name], time.thread_time() - start)
        print(f"{n:>6} {rows:>5} {best['whole'] * 1e3:>10.2f} {best['blocks'] * 1e3:>10.2f} "
              f"{best['blocks'] / best['whole']:>13.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("widths", nargs="*", type=int,
                        default=[128, 181, 256, 362, 512, 724, 1024],
                        help="layer widths (default: 128 to 1024; the README's 1448-2896 "
                             "figures: 1448 2048 2896)")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    main(tuple(args.widths), rounds=args.rounds)
