"""Per-call overhead of ``Trainer.sweep(1)`` and ``Trainer.step()`` above the engine's work.

The overhead of a call is its time less that of a twin trainer driven through its engine's
``run(begin, end, error_limit)``, the one call ``Trainer`` makes per sweep or step (so this
benchmark follows the kernels' signatures, whatever they become; ``.ci/run`` runs it once
with ``--benchmark-disable``, where the limits are not checked). Both twins run on one BLAS
thread, timed in interleaved rounds of 100 calls, best round kept.

- ``sweep(1)`` on a 16-wide, 10-layer network (a kernel of microseconds, so that the
  difference is not lost in the kernel's own noise): under 50 microseconds.
- 10 ``train(..., sweeps=1)`` calls beside 10 ``sweep(1)`` calls, ``n0=128, nL=10,
  m=60000, L=10`` (compressed data): ``train`` redoes the set-up at every call.
- ``step()`` on the issue's 16-wide, 50-layer network, inside ``Trainer.stepping()``:
  under 3 microseconds.
"""

import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import fastdln
from fastdln.maths.synthetic import random_data

WIDTHS = [128] * 10 + [10]
SWEEP_WIDTHS = [16] * 10 + [4]
STEP_WIDTHS = [16] * 50 + [4]


@pytest.fixture(scope="module")
def data():
    return random_data(60000, 128, 10, seed=0)


@pytest.fixture(scope="module")
def small_data():
    return random_data(64, 16, 4, seed=0)


@pytest.fixture(autouse=True)
def one_thread():
    with threadpool_limits(1):
        yield


def _twins(X, Y, widths):
    """Two identical warmed-up trainers (one BLAS thread): one for the public call, one whose
    engine is driven directly."""
    twins = [fastdln.Trainer(X, Y, widths=widths, seed=0, threads=1) for _ in range(2)]
    for trainer in twins:
        trainer.sweep()
    return twins


def _engine_steps(trainer, updates):
    """A function running ``updates`` updates through the trainer's engine alone, in order."""
    engine, depth = trainer._engine, len(trainer.weights)  # the call Trainer._advance makes
    position = [0]

    def run():
        begin = position[0]
        engine.run(begin, begin + updates, np.inf)
        position[0] = (begin + updates) % depth
    return run


def _interleaved_best(calls, rounds=15, count=100):
    """Best seconds per call of each function, over ``rounds`` interleaved rounds."""
    best = [np.inf] * len(calls)
    for _ in range(rounds):
        for index, call in enumerate(calls):
            start = time.perf_counter()
            for _ in range(count):
                call()
            best[index] = min(best[index], (time.perf_counter() - start) / count)
    return best


def _overhead(benchmark, public, engine, label, limit):
    """The overhead of ``public`` over ``engine``, checked against ``limit`` only when
    timing (``--benchmark-disable``, as CI runs it, calls both once: a smoke test, no timing
    claim on a shared machine)."""
    public(), engine()
    if benchmark.disabled:
        return
    best_public, best_engine = _interleaved_best([public, engine])
    overhead = best_public - best_engine
    benchmark.extra_info.update(engine_us=best_engine * 1e6, call_us=best_public * 1e6,
                                overhead_us=overhead * 1e6)
    print(f"\nengine {best_engine * 1e6:.2f} us, {label} {best_public * 1e6:.2f} us, "
          f"overhead {overhead * 1e6:.2f} us per call")
    benchmark.pedantic(public, rounds=50, warmup_rounds=1)
    assert overhead < limit


def test_sweep_calls(benchmark, data):
    benchmark.group = "10 sweeps through Trainer vs train, n128 m60000 L10"
    trainer = fastdln.Trainer(*data, widths=WIDTHS, seed=0, threads=1)
    trainer.sweep()

    def ten_sweeps():
        for _ in range(10):
            trainer.sweep(1)
    benchmark.pedantic(ten_sweeps, rounds=5, warmup_rounds=1)


def test_train_calls(benchmark, data):
    """Each call redoes the set-up (mostly the SVD of the compression): one round only."""
    benchmark.group = "10 sweeps through Trainer vs train, n128 m60000 L10"
    fastdln.train(*data, widths=WIDTHS, seed=0, sweeps=1, threads=1)

    def ten_trains():
        for _ in range(10):
            fastdln.train(*data, widths=WIDTHS, seed=0, sweeps=1, threads=1)
    benchmark.pedantic(ten_trains, rounds=1, warmup_rounds=0)


def test_sweep_overhead_under_50_microseconds(benchmark, small_data):
    benchmark.group = "sweep overhead"
    public, driven = _twins(*small_data, SWEEP_WIDTHS)
    _overhead(benchmark, lambda: public.sweep(1),
              _engine_steps(driven, len(SWEEP_WIDTHS) - 1), "sweep(1)", 50e-6)


def test_step_overhead_under_3_microseconds(benchmark, small_data):
    """``step()`` inside ``Trainer.stepping()``, the block a tool drives updates in (the BLAS
    threads set once for the block, not at every call)."""
    benchmark.group = "step overhead"
    public, driven = _twins(*small_data, STEP_WIDTHS)
    with public.stepping():
        _overhead(benchmark, public.step, _engine_steps(driven, 1), "step()", 3e-6)
