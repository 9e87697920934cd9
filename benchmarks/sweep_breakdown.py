"""Where a descending sweep's time goes, against the issue's BLAS limit, in one run.

``python benchmarks/sweep_breakdown.py [n] [L] [m]`` (default ``128 100 600``; ``512 20 2000``
is the other configuration of the issue) prints, each as the best of several alternating
repeats and as a multiple of the limit (``L`` products ``(n x n) @ (n x n)`` of two fixed
matrices, from jitted code like the kernels):

- ``prefix pass``: the sweep's forward pass, ``L - 1`` products with a new weight and a new
  prefix each time (operands come from memory, not from the cache as in the limit);
- ``update phase``: the sweep minus its prefix pass (the ``L`` layer updates);
- ``rank-nL products``: the four ``nL x n x n`` products one update needs (``R P^T``,
  ``P^T B``, ``S^T A``, ``S W``), timed on cache-resident operands, times ``L``: what the
  update phase would cost if memory were free.

``prefix pass + rank-nL products`` bounds what this algorithm can reach with this BLAS.
"""

import argparse
import time

import numpy as np
from numba import njit

from fastdln import Trainer
from fastdln.maths import _kernels


@njit(cache=True)
def _rank_products(P, Rt, S, W, At, G, Bt, Zt, S_next, repeats):
    for _ in range(repeats):
        np.dot(P, Rt, At)
        np.dot(S.T, At.T, G)
        np.dot(P.T, Bt, Zt)
        np.dot(S, W, S_next)


def main(n=128, depth=100, m=600, k=10, rounds=15):
    rng = np.random.default_rng(0)
    X = rng.normal(0.0, 1.0 / np.sqrt(n), (m, n))
    Y = rng.uniform(-1.0, 2.0, (m, k))
    trainer = Trainer(X, Y, widths=[n] * depth + [k], seed=0)
    trainer.sweep()
    e = trainer._engine
    r = e.X.shape[1]
    scratch = _kernels.new_scratch(e.buf, e.index, e.real)
    a, b, out = rng.random((n, n)), rng.random((n, n)), np.empty((n, n))
    P, Rt, S, W = rng.random((n, r)), rng.random((r, k)), rng.random((k, n)), rng.random((n, n))
    work = (np.empty((n, k)), np.empty((n, n)), np.empty((n, k)), np.empty((r, k)),
            np.empty((k, n)))
    runs = {
        "limit": lambda: _kernels.gemm_loop(a, b, out, depth),
        "sweep": trainer.sweep,
        "prefix pass": lambda: _kernels._prefix_pass(e.buf, e.index, e.real, e.X.ravel(),
                                                     e.Yt.ravel(), scratch, e._options[7]),
        "rank-nL products": lambda: _rank_products(P, Rt, S, W, *work, depth),
    }
    best = dict.fromkeys(runs, np.inf)
    for run in runs.values():
        run()
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    best["update phase"] = best["sweep"] - best["prefix pass"]
    print(f"n={n} L={depth} m={m} nL={k} (descending)")
    for name in ("limit", "sweep", "prefix pass", "update phase", "rank-nL products"):
        print(f"  {name:18s} {best[name] * 1e3:8.2f} ms  {best[name] / best['limit']:6.2f} x limit")
    bound = (best["prefix pass"] + best["rank-nL products"]) / best["limit"]
    print(f"  prefix pass + rank-nL products: {bound:.2f} x limit")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", nargs="?", type=int, default=128, help="width (default 128)")
    parser.add_argument("L", nargs="?", type=int, default=100, help="depth (default 100)")
    parser.add_argument("m", nargs="?", type=int, default=600, help="samples (default 600)")
    args = parser.parse_args()
    main(args.n, args.L, args.m)
