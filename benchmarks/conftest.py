"""Shared set-up of the pytest-benchmark suites (``pytest benchmarks --benchmark-only``)."""

import numpy as np
import pytest



@pytest.fixture
def rng():
    return np.random.default_rng(12345)
