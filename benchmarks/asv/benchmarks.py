"""asv suites for fastdln (``asv run --python=same``; see README "Performance").

Each class builds seeded data in ``setup`` and makes one warm-up call there, so JIT
compilation is never timed. ``track_*`` benchmarks return ratios measured inside one call
(asv treats lower as better).
"""

import numpy as np

import fastdln
from fastdln.bench import best_time
from fastdln.synthetic import random_data



def make_trainer(n, nL, m, depth, engine="fast", order="descending", dtype="float64"):
    """A warmed-up Trainer on the paper's random data, width ``n`` throughout."""
    X, Y = random_data(m, n, nL, seed=0)
    trainer = fastdln.Trainer(X, Y, widths=[n] * depth + [nL], seed=0, engine=engine,
                              order=order, dtype=dtype)
    trainer.sweep()  # warm-up
    return trainer


class Sweep:
    """Seconds per sweep over depth, width, m, order and dtype (fast engine)."""

    params = ([10, 100, 400], [16, 128], [600, 60000], ["descending", "ascending"],
              ["float64", "float32"])
    param_names = ["depth", "width", "m", "order", "dtype"]
    timeout = 300

    def setup(self, depth, width, m, order, dtype):
        if m == 60000 and (depth != 100 or dtype != "float64"):
            raise NotImplementedError("pruned grid: m=60000 only at depth 100, float64")
        self.trainer = make_trainer(width, 10 if width > 16 else 4, m, depth, order=order,
                                    dtype=dtype)

    def time_sweep(self, depth, width, m, order, dtype):
        self.trainer.sweep()


class ReferenceSweep:
    """Seconds per sweep of the naive reference (it grows like L^2: a pruned grid)."""

    params = ([10, 50], [16, 128], [600, 60000], ["descending", "ascending"],
              ["float64", "float32"])
    param_names = ["depth", "width", "m", "order", "dtype"]
    timeout = 600

    def setup(self, depth, width, m, order, dtype):
        if m == 60000 and (depth != 10 or width != 128 or dtype != "float64"):
            raise NotImplementedError("pruned grid: m=60000 only at depth 10, width 128")
        self.trainer = make_trainer(width, 10 if width > 16 else 4, m, depth,
                                    engine="reference", order=order, dtype=dtype)

    def time_sweep(self, depth, width, m, order, dtype):
        self.trainer.sweep()


class GradientDescent:
    """Seconds per GD iteration (all layers at once; about one sweep's work)."""

    params = ([10, 100], ["fast", "reference"])
    param_names = ["depth", "engine"]
    timeout = 600

    def setup(self, depth, engine):
        if engine == "reference" and depth > 10:
            raise NotImplementedError("pruned grid: the reference GD only at depth 10")
        X, Y = random_data(600, 128, 10, seed=0)
        self.trainer = fastdln.Trainer(X, Y, widths=[128] * depth + [10], seed=0,
                                       method="gd", lr=1e-5, engine=engine)
        self.trainer.sweep()  # warm-up

    def time_gd_iteration(self, depth, engine):
        self.trainer.sweep()


class Ratios:
    """Ratios measured within one call: fast vs reference, and a sweep vs L BLAS products."""

    params = [10, 50]
    param_names = ["depth"]
    timeout = 600

    def setup(self, depth):
        self.fast = make_trainer(128, 10, 600, depth)
        self.reference = make_trainer(128, 10, 600, depth, engine="reference")
        self.a, self.b = np.random.rand(128, 128), np.random.rand(128, 128)
        self.out = np.empty((128, 128))

    def track_fast_over_reference(self, depth):
        return best_time(self.fast.sweep, 5) / best_time(self.reference.sweep, 1)

    track_fast_over_reference.unit = "ratio"

    def track_sweep_over_blas_limit(self, depth):
        def products():
            for _ in range(depth):
                np.dot(self.a, self.b, out=self.out)
        return best_time(self.fast.sweep, 9) / best_time(products, 9)

    track_sweep_over_blas_limit.unit = "ratio"


class Memory:
    """Peak memory of a whole training run (set-up, compression and 5 sweeps)."""

    params = [10, 100]
    param_names = ["depth"]

    def setup(self, depth):
        self.X, self.Y = random_data(60000, 128, 10, seed=0)
        fastdln.train(self.X[:100], self.Y[:100], widths=[128] * 2 + [10], seed=0)

    def peakmem_train(self, depth):
        fastdln.train(self.X, self.Y, widths=[128] * depth + [10], seed=0, sweeps=5)


class LargeData:
    """Set-up of a Trainer on large data: the one pass for the factor of [X Y], the optimum
    and the engine (the per-sweep cost does not depend on m)."""

    params = ["1000000x128", "60000x784"]
    param_names = ["shape"]
    timeout = 600

    def setup(self, shape):
        m, n0 = map(int, shape.split("x"))
        self.X, self.Y = random_data(m, n0, 10, seed=0)
        self.widths = [n0] * 20 + [10]
        fastdln.Trainer(self.X[:200], self.Y[:200], widths=self.widths, seed=0)

    def time_setup(self, shape):
        fastdln.Trainer(self.X, self.Y, widths=self.widths, seed=0)

    def peakmem_setup(self, shape):
        fastdln.Trainer(self.X, self.Y, widths=self.widths, seed=0)


class Stepping:
    """Per-call cost of Trainer.step and Trainer.sweep on a small problem."""

    def setup(self):
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
