"""The fastest GEMM on this machine, by measurement, not by vendor name (maths layer).

:func:`measure` (run by ``fastdln warmup``) times each other GEMM library found in the
environment (``fastdln/maths/_gemm.py``: MKL's ``mkl_rt`` from the ``mkl`` package) against
scipy's BLAS on the gemm shapes of the kernels' updates, on one thread (thread time: robust
to other processes), alternating the libraries within each round in one process, and keeps
each library's time over scipy's per dtype in the wisdom file, where the next processes'
:func:`fastdln.maths._gemm.install` finds it. Measured on an AMD EPYC (Zen 4, AVX-512), MKL
2026.2 against scipy's OpenBLAS 0.3.30: 1.1-1.3x slower at widths 128 and 512, 2-5x at 16
(``benchmarks/gemm_libraries.py``), so the kernels stay on OpenBLAS there.
"""

from __future__ import annotations

import math
import os
import time

from . import _gemm, _wisdom

__all__ = ["ROUNDS", "WIDTHS", "compare", "kernel_shapes", "measure"]

WIDTHS = (16, 128, 512)  # the layer widths measured
ROUNDS = 5
ROUND_SECONDS = 0.004  # least thread time of one timed batch of calls


def kernel_shapes(width: int) -> list[tuple[int, int, int]]:
    """The gemm shapes ``(rows, inner, columns)`` of one BCGD update on ``width``-wide layers
    (``nL = min(10, width // 4)`` outputs, ``m' = width + nL`` compressed samples): the
    prefix pass's square product ``W P`` and the thin ones of the suffix (``S W``) and of the
    gradient (a product of inner dimension ``nL``)."""
    outputs = max(1, min(10, width // 4))
    samples = width + outputs
    return [(width, width, samples), (outputs, width, width), (width, outputs, samples)]


_PROBES: dict = {}  # the addresses of the gemms compared -> one jitted loop for them all


def _probes(addresses: tuple) -> list:
    """Per gemm of ``addresses`` (at most four), a loop ``loop(reps, A, B, C, dims,
    scalars, trans)`` that computes ``C = A B`` (row major) ``reps`` times on typed arrays
    through that gemm, called by a symbol of its own as the kernels call theirs. The jitted
    part takes the arrays' addresses as integers (the Fortran interface passes everything
    by pointer), so that one compilation, of a fraction of an array signature's time,
    serves every gemm and dtype."""
    if addresses not in _PROBES:
        _PROBES[addresses] = _pointer_loop(addresses)
    jitted = _PROBES[addresses]

    def probe(which):
        def loop(reps, A, B, C, dims, scalars, trans):
            d, s = dims.ctypes.data, scalars.ctypes.data
            jitted(which, reps, trans.ctypes.data, d, d + 4, d + 8, s, s + scalars.itemsize,
                   A.ctypes.data, B.ctypes.data, C.ctypes.data)
        return loop
    return [probe(which) for which in range(len(addresses))]


def _pointer_loop(addresses: tuple):
    import llvmlite.binding as llvm
    from numba import njit, types

    routines = []
    for address in addresses + addresses[-1:] * (4 - len(addresses)):
        symbol = f"fastdln_probe_gemm_{address:x}"
        llvm.add_symbol(symbol, address)
        routines.append(types.ExternalFunction(symbol, types.void(*[types.intp] * 13)))
    first, second, third, fourth = routines

    @njit(cache=False)
    def jitted(which, reps, trans, columns, rows, inner, alpha, beta, A, B,
               C):  # pragma: no cover - jitted
        # row-major C = A B is column-major C^T = B^T A^T: (columns, rows, inner)
        for _ in range(reps):
            if which == 0:
                first(trans, trans, columns, rows, inner, alpha, B, columns, A, inner, beta,
                      C, columns)
            elif which == 1:
                second(trans, trans, columns, rows, inner, alpha, B, columns, A, inner, beta,
                       C, columns)
            elif which == 2:
                third(trans, trans, columns, rows, inner, alpha, B, columns, A, inner, beta,
                      C, columns)
            else:
                fourth(trans, trans, columns, rows, inner, alpha, B, columns, A, inner, beta,
                       C, columns)

    return jitted


def _time_shapes(loops: dict, dtype: str, width: int, rounds: int) -> dict[str, list]:
    """Per library, per round, per shape of :func:`kernel_shapes`: the thread time of one
    gemm (libraries alternating within each round)."""
    import numpy as np

    rng = np.random.default_rng(0)
    cases = []
    for rows, inner, columns in kernel_shapes(width):
        A = rng.standard_normal((rows, inner)).astype(dtype)
        B = rng.standard_normal((inner, columns)).astype(dtype)
        outs = {name: np.zeros((rows, columns), dtype) for name in loops}
        dims = np.array([columns, rows, inner], np.int32)
        cases.append((A, B, outs, dims, np.array([1, 0], dtype)))
    trans = np.array([ord("N")], np.uint8)
    reps = []
    for A, B, outs, dims, scalars in cases:  # warm up; check the results; size the batches
        for name, loop in loops.items():
            loop(1, A, B, outs[name], dims, scalars, trans)
            if not np.allclose(outs[name], A @ B, rtol=1e-3, atol=1e-3 * A.shape[1]):
                raise RuntimeError(f"the gemm of {name} computed a wrong product")
        start = time.thread_time()
        loops["scipy"](8, A, B, outs["scipy"], dims, scalars, trans)
        reps.append(max(1, int(8 * ROUND_SECONDS / max(time.thread_time() - start, 1e-7))))
    times: dict[str, list] = {name: [] for name in loops}
    for _ in range(rounds):
        for name, loop in loops.items():
            shapes = []
            for (A, B, outs, dims, scalars), count in zip(cases, reps):
                start = time.thread_time()
                loop(count, A, B, outs[name], dims, scalars, trans)
                shapes.append((time.thread_time() - start) / count)
            times[name].append(shapes)
    return times


def compare(path: str, dtype: str, widths=None, rounds: int = ROUNDS) -> dict[int, list]:
    """Per width (default :data:`WIDTHS`), per round: the library's gemm time over scipy's
    on each shape of :func:`kernel_shapes` and on all of them (the last), one thread, thread
    time."""
    from threadpoolctl import threadpool_limits

    opened = _gemm.open_library(path)
    if opened is None:
        raise ValueError(f"{path} cannot serve as the kernels' gemm")
    dtypes = ("float64", "float32")
    probes = _probes(tuple(_gemm.scipy_addresses()[t] for t in dtypes)
                     + tuple(opened[t] for t in dtypes))
    which = dtypes.index(dtype)
    loops = {"scipy": probes[which], "other": probes[2 + which]}
    found = {}
    with threadpool_limits(1, user_api="blas"):
        for width in WIDTHS if widths is None else widths:
            times = _time_shapes(loops, dtype, width, rounds)
            found[width] = [[o / s for o, s in zip(other, scipy)] + [sum(other) / sum(scipy)]
                            for other, scipy in zip(times["other"], times["scipy"])]
    return found


def measure(rounds: int = ROUNDS, report=None, again: bool = True,
            dtypes=("float64", "float32")) -> list[dict]:
    """Time every candidate library's gemm against scipy's on :func:`kernel_shapes` of
    :data:`WIDTHS` for each of ``dtypes`` (one thread each, alternating rounds, thread
    time) and keep each library's verdict per dtype in the wisdom file (its time over
    scipy's: the geometric mean over the widths of the median over rounds). Unless
    ``again``, a dtype with a verdict for this machine and this build of the library is not
    measured (``report`` says so).

    Returns
    -------
    list of dict
        One per candidate and dtype measured: ``library``, ``dtype``, ``ratios`` (per
        width) and ``ratio`` (the verdict); the library's time over scipy's, below 1 when
        faster.
    """
    rows = []
    known = _wisdom.gemm_entries(_gemm.gemm_context())
    for path in _gemm.candidates():
        stamp = _gemm.library_stamp(path)
        kept = known[path]["ratios"] if known.get(path, {}).get("stamp") == stamp else {}
        wanted = [dtype for dtype in dtypes if again or dtype not in kept]
        if not wanted:
            if report is not None:
                report(_known_line(path, {dtype: kept[dtype] for dtype in dtypes}))
            continue
        if _gemm.open_library(path) is None:
            continue
        verdicts = dict(kept)
        for dtype in wanted:
            found = compare(path, dtype, rounds=rounds)
            ratios = {width: sorted(r[-1] for r in per_round)[rounds // 2]
                      for width, per_round in found.items()}
            verdicts[dtype] = math.exp(sum(map(math.log, ratios.values())) / len(ratios))
            rows.append(dict(library=path, dtype=dtype, ratios=ratios, ratio=verdicts[dtype]))
            if report is not None:
                report(_line(rows[-1]))
        _wisdom.record_gemm(_gemm.gemm_context(), path, stamp, verdicts)
    _wisdom.flush()
    return rows


def _line(row: dict) -> str:
    widths = ", ".join(f"width {w} {r:.2f}" for w, r in row["ratios"].items())
    verdict = ("faster: the next processes call it" if row["ratio"] < _gemm.CHOOSE_BELOW
               else "not faster: scipy's kept")
    return (f"gemm {row['dtype']} {os.path.basename(row['library'])} over scipy's: {widths}; "
            f"{row['ratio']:.2f} ({verdict})")


def _known_line(path: str, ratios: dict[str, float]) -> str:
    verdicts = ", ".join(f"{dtype} {ratio:.2f}" for dtype, ratio in sorted(ratios.items()))
    return (f"gemm {os.path.basename(path)} over scipy's: measured before on this machine "
            f"({verdicts}); fastdln warmup --all measures again")
