"""asv suites for fastdln (``asv run --python=same``; see docs/benchmarks.md).

Sized for history: one commit's ``asv run --quick`` takes about a minute on 2 cores and a
full ``asv run`` a few minutes. Each class builds seeded data in ``setup`` and makes one
warm-up call there, so JIT compilation is never timed; every timing runs on one BLAS
thread (the kernel is timed, not the automatic thread policy: ``benchmarks/threads_policy.py``
has that). ``track_*`` benchmarks return ratios measured inside one call (asv treats lower
as better). Only the public API that older commits also have is used (``Trainer``,
``train``); ``threads=1`` is given where the commit knows it, and threadpoolctl holds every
BLAS library on one thread either way.
"""

import time

import numpy as np
from threadpoolctl import threadpool_limits

import fastdln

try:
    from fastdln.maths.synthetic import random_data
except ImportError:  # commits before the one generator
    def random_data(m, n0, nL, seed=None):
        rng = np.random.default_rng(seed)
        return rng.normal(0.0, 1.0 / np.sqrt(n0), (m, n0)), rng.uniform(-1.0, 2.0, (m, nL))


def one_thread_trainer(X, Y, **options):
    """``fastdln.Trainer`` with ``threads=1`` where the commit has the option."""
    try:
        return fastdln.Trainer(X, Y, threads=1, **options)
    except (TypeError, ValueError):
        return fastdln.Trainer(X, Y, **options)


def best_time(f, repeats):
    """The best of ``repeats`` wall-clock timings of ``f()`` (seconds)."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - start)
    return best


def make_trainer(n, nL, m, depth, engine="fast", order="descending", dtype="float64",
                 **options):
    """A warmed-up Trainer on the paper's random data, width ``n`` throughout."""
    X, Y = random_data(m, n, nL, seed=0)
    trainer = one_thread_trainer(X, Y, widths=[n] * depth + [nL], seed=0, engine=engine,
                                 order=order, dtype=dtype, **options)
    trainer.sweep()  # warm-up
    return trainer


class OneThread:
    """Every benchmark of a subclass runs with its BLAS libraries on one thread.

    Timing settings (docs/benchmarks.md): each sample is at least ``sample_time`` of calls,
    ``repeat`` (min, max, seconds) samples per process, ``rounds`` processes per benchmark
    interleaved with the others, after ``warmup_time`` seconds of untimed calls.
    """

    repeat = (5, 10, 2.0)
    rounds = 4
    min_run_count = 4
    sample_time = 0.05
    warmup_time = 0.2
    timeout = 120

    def setup(self, *params):
        self._limits = threadpool_limits(1)

    def teardown(self, *params):
        limits = getattr(self, "_limits", None)
        if limits is not None:
            limits.restore_original_limits()


class Sweep(OneThread):
    """Seconds per sweep over depth, width and order (fast engine; float64)."""

    params = ([10, 100], [16, 128], ["descending", "ascending"])
    param_names = ["depth", "width", "order"]

    def setup(self, depth, width, order):
        super().setup()
        self.trainer = make_trainer(width, 10 if width > 16 else 4, 600, depth, order=order)

    def time_sweep(self, depth, width, order):
        self.trainer.sweep()


class SweepFloat32(OneThread):
    """Seconds per float32 sweep (n128, L100; compare with Sweep's float64)."""

    def setup(self):
        super().setup()
        self.trainer = make_trainer(128, 10, 600, 100, dtype="float32")

    def time_sweep(self):
        self.trainer.sweep()


class ReferenceSweep(OneThread):
    """Seconds per sweep of the naive reference (it grows like L^2: small depths)."""

    params = ([5, 10], [16, 128])
    param_names = ["depth", "width"]
    repeat = (3, 5, 4.0)

    def setup(self, depth, width):
        super().setup()
        self.trainer = make_trainer(width, 10 if width > 16 else 4, 600, depth,
                                    engine="reference")

    def time_sweep(self, depth, width):
        self.trainer.sweep()


class GradientDescent(OneThread):
    """Seconds per GD iteration (all layers at once; about one sweep's work)."""

    params = ([10, 100], ["fast", "reference"])
    param_names = ["depth", "engine"]

    def setup(self, depth, engine):
        if engine == "reference" and depth > 10:
            raise NotImplementedError("pruned grid: the reference GD only at depth 10")
        super().setup()
        self.trainer = make_trainer(128, 10, 600, depth, engine=engine, method="gd", lr=1e-5)

    def time_gd_iteration(self, depth, engine):
        self.trainer.sweep()


class Ratios(OneThread):
    """Ratios measured within one call: fast vs reference, and a sweep vs L BLAS products."""

    repeat = 1  # one call measures both sides in alternation
    rounds = 1

    def setup(self):
        super().setup()
        self.fast = make_trainer(128, 10, 600, 10)
        self.reference = make_trainer(128, 10, 600, 10, engine="reference")
        self.a, self.b = np.random.rand(128, 128), np.random.rand(128, 128)
        self.out = np.empty((128, 128))

    def track_fast_over_reference(self):
        return best_time(self.fast.sweep, 20) / best_time(self.reference.sweep, 3)

    track_fast_over_reference.unit = "ratio"

    def track_sweep_over_blas_limit(self):
        def products():
            for _ in range(10):
                np.dot(self.a, self.b, out=self.out)
        return best_time(self.fast.sweep, 20) / best_time(products, 20)

    track_sweep_over_blas_limit.unit = "ratio"


class Memory(OneThread):
    """Peak memory of a whole training run (set-up, compression and 5 sweeps)."""

    params = [10, 100]
    param_names = ["depth"]

    def setup(self, depth):
        super().setup()
        self.X, self.Y = random_data(60000, 128, 10, seed=0)
        fastdln.train(self.X[:100], self.Y[:100], widths=[128] * 2 + [10], seed=0)

    def peakmem_train(self, depth):
        fastdln.train(self.X, self.Y, widths=[128] * depth + [10], seed=0, sweeps=5)


class LargeData(OneThread):
    """Set-up of a Trainer on large data: the one pass for the factor of [X Y], the optimum
    and the engine (the per-sweep cost does not depend on m)."""

    params = ["200000x128", "60000x784"]
    param_names = ["shape"]
    repeat = (2, 4, 10.0)
    rounds = 2  # seconds per call: two processes are enough, four would take a minute more
    min_run_count = 2
    sample_time = 0.5
    timeout = 240

    def setup(self, shape):
        super().setup()
        m, n0 = map(int, shape.split("x"))
        self.X, self.Y = random_data(m, n0, 10, seed=0)
        self.widths = [n0] * 20 + [10]
        one_thread_trainer(self.X[:200], self.Y[:200], widths=self.widths, seed=0)

    def time_setup(self, shape):
        one_thread_trainer(self.X, self.Y, widths=self.widths, seed=0)

    def peakmem_setup(self, shape):
        one_thread_trainer(self.X, self.Y, widths=self.widths, seed=0)


class Stepping(OneThread):
    """Per-call cost of Trainer.step and Trainer.sweep on a small problem."""

    def setup(self):
        super().setup()
        self.trainer = make_trainer(16, 4, 64, 50)

    def time_step(self):
        self.trainer.step()

    def time_sweep_small(self):
        self.trainer.sweep()


def timeraw_import_and_first_train():
    """A new process: import fastdln and finish a first small train (warm numba cache)."""
    return """
    import numpy as np
    import fastdln
    X = np.random.rand(50, 8)
    Y = np.random.rand(50, 2)
    fastdln.train(X, Y, widths=[8, 8, 8, 2], sweeps=2)
    """


timeraw_import_and_first_train.repeat = (3, 5, 20.0)
timeraw_import_and_first_train.timeout = 120
