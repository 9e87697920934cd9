"""Shared set-up of the pytest-benchmark suites (``pytest benchmarks --benchmark-only``)."""

import numpy as np
import pytest


def paper_data(m, n0, nL, seed=0):
    """The paper's random data: ``X`` entries N(0, 1/n0), ``Y`` entries U(-1, 2)."""
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 1.0 / np.sqrt(n0), (m, n0)), rng.uniform(-1.0, 2.0, (m, nL))


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
