"""Whole gradient or blocks of rows: the step of one layer both ways, at several widths.

``python benchmarks/tune_gradient_block.py`` times, for square layers of width ``n`` and
``nL = 10``, the step after the learning rate is known:

- whole: ``G = S^T A`` stored, ``||G||^2`` from it, ``W -= eta G``, then ``S W``;
- blocks: ``||G||`` from the LQ factorization of ``S``, then ``G`` formed block by block
  of rows (``fastdln.maths._kernels.GRADIENT_BLOCK`` entries each) with ``W`` updated and ``S W``
  accumulated while each block is in cache.

Each row prints the best time of both (measured alternately in one run) and their ratio;
``WHOLE_GRADIENT`` (the largest gradient stored whole) is set from it. Measured on this
machine (2 cores, 1 MiB L2 each), blocks of 2^17 entries: 0.67-0.75 at widths 1448-2896,
0.95-1.04 at 1024 and 1.16-1.95 below when the machine was quiet (OpenBLAS runs the whole
products on both cores, the blocks on one; the LQ factorization costs 10-20 us), though the
blocks won at 362-512 (0.55-0.74) while other jobs loaded the machine.
"""

import argparse
import time
from functools import partial

import numpy as np
from numba import njit

from fastdln.maths import _kernels


@njit(cache=True)
def _whole(W, S, At, S_next, work_g, scal, counts, repeats):
    n_out, n_in, k = W.shape[0], W.shape[1], S.shape[0]
    G = work_g[: n_out * n_in].reshape((n_out, n_in))
    for _ in range(repeats):
        _kernels.gemm(True, True, 1.0, S, At, 0.0, G, scal, counts, k, None)
        eta = 1e-300 * _kernels.sum_squares(G)
        _kernels._axpy(W, eta, G)
        _kernels.gemm(False, False, 1.0, S, W, 0.0, S_next, scal, counts, k, None)


@njit(cache=True)
def _blocks(W, S, At, S_next, rows, work_g, work_s, scal, counts, repeats):
    for _ in range(repeats):
        eta = 1e-300 * _kernels._gradient_norm_squared(S, At, work_s)
        _kernels._blocked_step(W, S, At, S_next, eta, rows, work_g, work_s, scal, counts,
                               None)


def main(widths=(128, 181, 256, 362, 512, 724, 1024), k=10, rounds=7):
    _kernels.prepare("float64")  # gemm's BLAS-only signature, before the loops compile
    rng = np.random.default_rng(0)
    print(f"{'width':>6} {'rows':>5} {'whole us':>10} {'blocks us':>10} {'blocks/whole':>13}")
    for n in widths:
        W, S, At = rng.normal(size=(n, n)), rng.normal(size=(k, n)), rng.normal(size=(n, k))
        S_next = np.empty((k, n))
        work_g, work_s = np.empty(n * n), np.empty(2 * k * n)
        counts, scal = np.zeros(3, np.int64), np.empty(2)
        rows = min(n, max(1, _kernels.GRADIENT_BLOCK // n))
        repeats = max(1, 20_000_000 // (n * n * k))
        runs = {"whole": partial(_whole, W, S, At, S_next, work_g, scal, counts),
                "blocks": partial(_blocks, W, S, At, S_next, rows, work_g, work_s, scal,
                                  counts)}
        best = dict.fromkeys(runs, np.inf)
        for run in runs.values():
            run(1)
        for _ in range(rounds):
            for name, run in runs.items():
                start = time.perf_counter()
                run(repeats)
                best[name] = min(best[name], (time.perf_counter() - start) / repeats)
        print(f"{n:>6} {rows:>5} {best['whole'] * 1e6:>10.1f} {best['blocks'] * 1e6:>10.1f} "
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
