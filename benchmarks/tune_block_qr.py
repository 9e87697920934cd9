"""How to compute the R factor of a tall [X Y] fastest, block by block (one run, best of N).

``python benchmarks/tune_block_qr.py [m] [k] [--rounds N]`` (default 1,000,000 x 138, the
1e6 x 128 problem with 10 targets; 60000 794 is MNIST's shape) times, in alternating rounds:

- ``tpqrt B/P``: LAPACK ``dtpqrt`` (scipy's wrapper) on row blocks of ``B`` with panels of
  ``P`` columns, on all BLAS threads and on one (``1t``);
- ``fastdln W``: :meth:`fastdln.core.data.Data.factor` with ``W`` worker threads (each folds its
  own row range by ``dtpqrt`` on ``FOLD_ROWS`` rows, ``PANEL`` columns, one BLAS thread);
- ``geqrt B``: LAPACK ``dgeqrt`` (recursive panel) on the stacked ``[R; block]``;
- ``gram``: ``A^T A`` (not accurate enough on ill-conditioned data; the speed to aim at).
"""

import argparse
import time

import numpy as np
from scipy.linalg import lapack
from threadpoolctl import threadpool_limits

from fastdln.core.data import Data


def tpqrt(A, rows, panel):
    k = A.shape[1]
    R = np.zeros((k, k), order="F")
    for start in range(0, len(A), rows):
        block = np.asfortranarray(A[start : start + rows])
        R, _, _, _ = lapack.dtpqrt(0, min(panel, k), R, block, overwrite_a=1, overwrite_b=1)
    return R


def geqrt(A, rows):
    k = A.shape[1]
    R = np.zeros((k, k))
    stacked = np.empty((k + rows, k), order="F")
    for start in range(0, len(A), rows):
        block = A[start : start + rows]
        stacked[:k] = R
        stacked[k : k + len(block)] = block
        out, _, _ = lapack.dgeqrt(k, stacked[: k + len(block)], overwrite_a=1)
        R = np.triu(out[:k])
    return R


def one_thread(function, *args):
    with threadpool_limits(1):
        return function(*args)


def main(m=1_000_000, k=138, rounds=3):
    A = np.random.default_rng(0).normal(size=(m, k))
    runs = {f"tpqrt {B}/{P}": (lambda B=B, P=P: tpqrt(A, B, P))
            for B in (4096, 16384, 65536) for P in (16, 32, 64)}
    for B, P in ((4096, 16), (4096, 32), (16384, 32)):
        runs[f"tpqrt 1t {B}/{P}"] = lambda B=B, P=P: one_thread(tpqrt, A, B, P)
    data = Data(A[:, : k - 10], A[:, k - 10 :])
    runs.update({f"fastdln {W}": (lambda W=W: data.factor(center=False, workers=W))
                 for W in (1, 2)})
    runs.update({f"geqrt {B}": (lambda B=B: geqrt(A, B)) for B in (2048, 8192, 32768)})
    runs["gram"] = lambda: A.T @ A
    best = dict.fromkeys(runs, np.inf)
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    flops = 2.0 * m * k * k
    for name, seconds in sorted(best.items(), key=lambda item: item[1]):
        print(f"{name:14s} {seconds:7.3f} s  {flops / seconds / 1e9:6.1f} GFLOP/s (2 m k^2)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("m", nargs="?", type=int, default=1_000_000)
    parser.add_argument("k", nargs="?", type=int, default=138)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    main(args.m, args.k, args.rounds)
