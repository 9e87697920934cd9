"""Per-call overhead of ``Trainer.sweep(1)`` against ``train(..., sweeps=1)`` (the issue's setting).

``n0=128, nL=10, m=60000, L=10``: ``train`` redoes the set-up (validation, copies, the SVD of
the L2 compression) at every call, ``Trainer.sweep`` only runs the kernel. The overhead of a
``sweep`` call, its time minus the kernel's own time, must stay under 50 microseconds.
"""

import time

import numpy as np
import pytest

import fastdln
from fastdln import _engines, _kernels
from fastdln.synthetic import random_data

WIDTHS = [128] * 10 + [10]


@pytest.fixture(scope="module")
def data():
    return random_data(60000, 128, 10, seed=0)


def _kernel_only(trainer):
    """A closure calling the jitted sweep kernel directly with the trainer's buffers."""
    e = trainer._engine
    errors, rates = np.empty(e.depth), np.empty(e.depth)
    no_draws, no_batches = _engines.NO_DRAWS, _engines.NO_BATCHES

    def run():
        e._call(_kernels.bcgd_updates, 0, e.depth, 1e300, errors, rates, no_draws, no_batches,
                ())
    return run


def test_sweep_calls(benchmark, data):
    benchmark.group = "sweeps through Trainer vs train, n128 m60000 L10"
    trainer = fastdln.Trainer(*data, widths=WIDTHS, seed=0)
    trainer.sweep()

    def hundred_sweeps():
        for _ in range(100):
            trainer.sweep(1)
    benchmark.pedantic(hundred_sweeps, rounds=5, warmup_rounds=1)


def test_train_calls(benchmark, data):
    """Each call redoes the set-up (about 0.5 s here, mostly the SVD): one round only."""
    benchmark.group = "sweeps through Trainer vs train, n128 m60000 L10"
    fastdln.train(*data, widths=WIDTHS, seed=0, sweeps=1)

    def hundred_trains():
        for _ in range(100):
            fastdln.train(*data, widths=WIDTHS, seed=0, sweeps=1)
    benchmark.pedantic(hundred_trains, rounds=1, warmup_rounds=0)


def test_sweep_overhead_under_50_microseconds(benchmark, data):
    """Interleaved best-of timings of 100 ``sweep(1)`` calls and 100 bare kernel calls."""
    benchmark.group = "sweep overhead"
    trainer = fastdln.Trainer(*data, widths=WIDTHS, seed=0)
    trainer.sweep()
    kernel = _kernel_only(trainer)
    kernel()
    best_sweep = best_kernel = np.inf
    for _ in range(15):
        start = time.perf_counter()
        for _ in range(100):
            kernel()
        best_kernel = min(best_kernel, (time.perf_counter() - start) / 100)
        start = time.perf_counter()
        for _ in range(100):
            trainer.sweep(1)
        best_sweep = min(best_sweep, (time.perf_counter() - start) / 100)
    overhead = best_sweep - best_kernel
    benchmark.extra_info.update(kernel_us=best_kernel * 1e6, sweep_us=best_sweep * 1e6,
                                overhead_us=overhead * 1e6)
    print(f"\nkernel {best_kernel * 1e6:.1f} us, sweep(1) {best_sweep * 1e6:.1f} us, "
          f"overhead {overhead * 1e6:.1f} us per call")
    benchmark.pedantic(lambda: trainer.sweep(1), rounds=50, warmup_rounds=1)
    assert overhead < 50e-6
