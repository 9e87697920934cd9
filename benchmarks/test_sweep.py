"""One BCGD sweep, fast engine and naive reference side by side (one group per configuration).

Run: ``pytest benchmarks --benchmark-only`` (kept out of the normal test run). Compilation is
excluded: the trainer is built and swept once before timing. For a regression check save a
run and compare later ones against it::

    pytest benchmarks --benchmark-only --benchmark-save=baseline
    pytest benchmarks --benchmark-only --benchmark-compare=0001 --benchmark-compare-fail=min:10%
"""

import numpy as np
import pytest

import fastdln
from fastdln.synthetic import random_data

# (n0 = width, nL, m, depth); the reference is skipped where one sweep takes minutes.
CONFIGS = [
    pytest.param((128, 10, 600, 10), id="n128-m600-L10"),
    pytest.param((128, 10, 600, 100), id="n128-m600-L100"),
    pytest.param((16, 4, 64, 200), id="n16-m64-L200"),
    pytest.param((512, 10, 2000, 20), id="n512-m2000-L20"),
]


def _trainer(config, engine, order="descending", dtype="float64"):
    n, nL, m, depth = config
    X, Y = random_data(m, n, nL, seed=0)
    trainer = fastdln.Trainer(X, Y, widths=[n] * depth + [nL], seed=0, engine=engine,
                              order=order, dtype=dtype)
    trainer.sweep()  # warm-up: JIT compilation and caches
    return trainer


@pytest.mark.parametrize("order", ["descending", "ascending"])
@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_sweep(benchmark, engine, config, order):
    n, nL, m, depth = config
    if engine == "reference" and n * n * depth * depth > 128 * 128 * 100 * 100:
        pytest.skip("the reference takes too long here; see fastdln bench for estimates")
    benchmark.group = f"sweep {config} {order}"
    trainer = _trainer(config, engine, order)
    rounds = 3 if engine == "reference" else 20
    benchmark.pedantic(trainer.sweep, rounds=rounds, warmup_rounds=1)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sweep_dtype(benchmark, dtype):
    benchmark.group = "sweep dtype n128-m600-L100"
    trainer = _trainer((128, 10, 600, 100), "fast", dtype=dtype)
    benchmark.pedantic(trainer.sweep, rounds=20, warmup_rounds=1)


@pytest.mark.parametrize("depth", [100])
def test_blas_limit(benchmark, depth):
    """``depth`` numpy products (128x128)@(128x128): the limit a sweep is compared with."""
    benchmark.group = "sweep (128, 10, 600, 100) descending"
    a, b = np.random.rand(128, 128), np.random.rand(128, 128)
    out = np.empty((128, 128))

    def products():
        for _ in range(depth):
            np.dot(a, b, out=out)
    benchmark.pedantic(products, rounds=20, warmup_rounds=1)
