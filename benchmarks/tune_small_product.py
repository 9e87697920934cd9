"""Find the size below which a jitted loop beats the kernels' BLAS call for ``out = a @ b``.

``python benchmarks/tune_small_product.py`` times both for the product shapes the engine
uses (``k x n x n``, ``n x k x n``, ``n x n x n`` with small ``k``) and prints the
multiply-add count where BLAS starts to win. ``fastdln.maths._kernels.SMALL_PRODUCT`` is set from
this measurement; a second table does the same for the Gram matrices ``S S^T``
(``SMALL_GRAM``, jitted dot products of rows, using the symmetry).
"""

import argparse
import time

import numpy as np
from numba import njit

from fastdln.maths._kernels import HEADER, gram_loop, loop_mm, mm

@njit(cache=True)
def _loop_product(a, b, out, repeats):
    m, k, n = a.shape[0], a.shape[1], b.shape[1]
    for _ in range(repeats):
        loop_mm(False, False, 1.0, a.ravel(), b.ravel(), 0.0, out.ravel(), m, n, k)


@njit(cache=True)
def _blas_product(a, b, out, repeats):
    m, k, n = a.shape[0], a.shape[1], b.shape[1]
    scratch = _scratch(out.dtype)
    for _ in range(repeats):
        mm(False, False, 1.0, a.ravel(), b.ravel(), 0.0, out.ravel(), m, n, k, scratch, None)


@njit(cache=True)
def _scratch(dtype):
    """A workspace of :func:`fastdln.maths._kernels.mm` with only its ``SCAL_`` slot and
    counters."""
    index = np.zeros(HEADER, np.int64)  # the SCAL_ region starts at 0: buf is alpha, beta
    return np.empty(2, dtype), index, np.zeros(8, np.int32), np.zeros(1)


def _best(f, a, b, out, repeats, rounds=5):
    f(a, b, out, 1)
    best = np.inf
    for _ in range(rounds):
        start = time.perf_counter()
        f(a, b, out, repeats)
        best = min(best, (time.perf_counter() - start) / repeats)
    return best


def main():
    shapes = [(1, 1, 1), (2, 2, 2), (2, 4, 4), (4, 4, 4), (3, 10, 3), (4, 4, 8), (4, 4, 16),
              (8, 8, 8), (4, 16, 16), (16, 4, 16), (10, 10, 10), (16, 16, 16), (32, 32, 32)]
    print(f"{'shape':>14} {'mult-adds':>9} {'loop us':>9} {'BLAS us':>9}  winner")
    crossing = None
    for m, k, n in sorted(shapes, key=lambda s: s[0] * s[1] * s[2]):
        a, b, out = np.random.rand(m, k), np.random.rand(k, n), np.empty((m, n))
        repeats = max(10, min(200_000, int(2e7 / (m * k * n))))
        loop = _best(_loop_product, a, b, out, repeats)
        blas = _best(_blas_product, a, b, out, repeats)
        winner = "loop" if loop < blas else "BLAS"
        if winner == "BLAS" and crossing is None:
            crossing = m * k * n
        print(f"{str((m, k, n)):>14} {m * k * n:9d} {loop * 1e6:9.3f} {blas * 1e6:9.3f}  {winner}")
    print(f"BLAS first wins at about {crossing} multiply-adds")
    _gram_table()


@njit(cache=True)
def _gram_product(S, out, repeats, use_blas):
    for _ in range(repeats):
        if use_blas:
            np.dot(S, S.T, out)
        else:
            gram_loop(S.ravel(), out.ravel(), S.shape[0], S.shape[1])


def _gram_table():
    """``S S^T`` (``S`` of ``k x n``): rows' dot products against BLAS (``SMALL_GRAM``)."""
    print(f"{'S S^T':>14} {'mult-adds':>9} {'loop us':>9} {'BLAS us':>9}  winner")
    for k, n in [(4, 16), (10, 16), (4, 64), (4, 128), (10, 64), (10, 128), (20, 128)]:
        S, out = np.random.rand(k, n), np.empty((k, k))
        repeats = max(10, min(200_000, int(2e7 / (k * n * k))))
        times = []
        for use_blas in (False, True):
            _gram_product(S, out, 1, use_blas)
            best = np.inf
            for _ in range(5):
                start = time.perf_counter()
                _gram_product(S, out, repeats, use_blas)
                best = min(best, (time.perf_counter() - start) / repeats)
            times.append(best)
        winner = "loop" if times[0] < times[1] else "BLAS"
        print(f"{str((k, n)):>14} {k * n * k:9d} {times[0] * 1e6:9.3f} {times[1] * 1e6:9.3f}  "
              f"{winner}")


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    main()
