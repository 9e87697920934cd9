"""What the tests share: the paper's data, comparisons of weights, and the tolerances.

Every tolerance a test compares the fast engine against the reference with is here, with the
reason for its size; a test that needs another one says why where it uses it.
"""

import pathlib

import numpy as np


ROOT = pathlib.Path(__file__).resolve().parents[1]  # the repository

# The start of a script run in a fresh process that lists what numba compiles in it (the
# names of the Python functions, in ``compiled``), numpy and fastdln imported after it.
COMPILE_LISTENER = r"""
import json, sys
from numba.core import event
compiled = []

class Listener(event.Listener):
    def on_start(self, ev):
        compiled.append(ev.data["dispatcher"].py_func.__qualname__)
    def on_end(self, ev):
        pass

event.register("numba:compile", Listener())
import numpy as np
import fastdln
"""

# The fast engine equals the reference (the naive formulas) to rounding: weights within this
# relative difference (max |A - B| / max |B| per matrix) ...
WEIGHTS_RTOL = 1e-10
# ... and errors within this relative difference, plus an absolute floor of ERRORS_ATOL times
# the initial error (near the optimum an error is a difference of two losses).
ERRORS_RTOL = 1e-8
ERRORS_ATOL = 1e-12



def max_relative_difference(weights_a, weights_b):
    """Largest ``max|A - B| / max|B|`` over matching weight matrices."""
    assert len(weights_a) == len(weights_b)
    worst = 0.0
    for A, B in zip(weights_a, weights_b):
        assert A.shape == B.shape
        scale = max(np.abs(B).max(), 1e-300)
        worst = max(worst, float(np.abs(A - B).max() / scale))
    return worst


def assert_same_run(a, b):
    """Two runs (trainers or results) with bitwise equal weights, errors and rates."""
    for Wa, Wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(Wa, Wb)
    np.testing.assert_array_equal(a.errors, b.errors)
    np.testing.assert_array_equal(a.learning_rates, b.learning_rates)
