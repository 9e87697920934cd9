"""One BCGD sweep, fast engine and naive reference side by side (one group per configuration).

Run: ``pytest benchmarks --benchmark-only`` (kept out of the normal test run). Every trainer
runs on one BLAS thread (``threads=1``: the kernel is timed, not the automatic thread policy,
which has ``benchmarks/threads_policy.py``), is built and swept once before timing
(compilation, caches), and gets the rounds that fill about ``ROUND_BUDGET`` seconds
(between ``MIN_ROUNDS`` and ``MAX_ROUNDS``), measured on its own sweep. For a regression check
save a run and compare later ones against it on the minimum or the median, never the mean
(one interrupted sweep moves a mean by any amount)::

    pytest benchmarks/test_sweep.py --benchmark-only --benchmark-save=baseline
    pytest benchmarks/test_sweep.py --benchmark-only --benchmark-compare=0001 \\
        --benchmark-compare-fail=median:15% --benchmark-columns=min,median,iqr,rounds

docs/benchmarks.md gives the noise of identical code behind the 15%, and why
``fastdln bench --against REV`` is the better regression check on a shared machine.
"""

import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import fastdln
from fastdln.maths.synthetic import random_data

ROUND_BUDGET = 1.0  # seconds of timed sweeps per benchmark
MIN_ROUNDS, MAX_ROUNDS = 5, 50

# (n0 = width, nL, m, depth); the reference only where one sweep takes well under a second.
CONFIGS = [
    pytest.param((128, 10, 600, 10), id="n128-m600-L10"),
    pytest.param((128, 10, 600, 100), id="n128-m600-L100"),
    pytest.param((16, 4, 64, 200), id="n16-m64-L200"),
    pytest.param((512, 10, 2000, 20), id="n512-m2000-L20"),
]


@pytest.fixture(autouse=True)
def one_thread():
    with threadpool_limits(1):
        yield


def _trainer(config, engine, order="descending", dtype="float64"):
    n, nL, m, depth = config
    X, Y = random_data(m, n, nL, seed=0)
    return fastdln.Trainer(X, Y, widths=[n] * depth + [nL], seed=0, engine=engine,
                           order=order, dtype=dtype, threads=1)


def calibrated(benchmark, f):
    """``benchmark.pedantic`` of ``f`` with one warm-up call and the rounds that fill
    ``ROUND_BUDGET`` (one round when benchmarks are disabled: the call is then a smoke test)."""
    if benchmark.disabled:
        return benchmark.pedantic(f, rounds=1)
    start = time.perf_counter()
    f()  # warm-up (compilation, caches), timed for the calibration
    seconds = time.perf_counter() - start
    rounds = int(np.clip(ROUND_BUDGET / max(seconds, 1e-9), MIN_ROUNDS, MAX_ROUNDS))
    return benchmark.pedantic(f, rounds=rounds, warmup_rounds=1)


@pytest.mark.parametrize("order", ["descending", "ascending"])
@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_sweep(benchmark, engine, config, order):
    n, nL, m, depth = config
    if engine == "reference" and n * n * depth * depth > 128 * 128 * 50 * 50:
        pytest.skip("the reference takes seconds per sweep here; see fastdln bench")
    benchmark.group = f"sweep {config} {order}"
    calibrated(benchmark, _trainer(config, engine, order).sweep)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sweep_dtype(benchmark, dtype):
    benchmark.group = "sweep dtype n128-m600-L100"
    calibrated(benchmark, _trainer((128, 10, 600, 100), "fast", dtype=dtype).sweep)


def test_blas_limit(benchmark, rng):
    """100 numpy products (128x128)@(128x128): the limit a sweep is compared with."""
    benchmark.group = "sweep (128, 10, 600, 100) descending"
    a, b = rng.random((128, 128)), rng.random((128, 128))
    out = np.empty((128, 128))

    def products():
        for _ in range(100):
            np.dot(a, b, out=out)
    calibrated(benchmark, products)
