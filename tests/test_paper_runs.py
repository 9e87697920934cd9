"""Training runs of the reproductions stop once their outcome is settled: a run below the
stop level (every level of every race reached) goes no further, so a claim decided early does
not pay for its whole budget."""

import numpy as np

from fastdln.maths.synthetic import random_data
from fastdln.apps.paper.measures import STOP
from fastdln.apps.paper.runs import depth_curves, train_curve
from fastdln.apps.paper.verdicts import by_depth, race_claim


def test_a_claim_settled_early_stops_its_runs():
    """Fig. 2's "training a depth 1 network multiple times results in the fastest decrease"
    on a 3000-iteration budget: both runs pass the stop level within a few dozen sweeps and
    end there; the verdict is the one of the race."""
    X, Y = random_data(600, 128, 10, 0)
    curves = depth_curves(X, Y, [1, 3], width=128, iterations=3000, seed=0)
    for L, errors in curves.items():
        # checked after each sweep: it ends with the first sweep that goes below the level
        assert errors[-1] <= STOP and np.all(errors[:-L] > STOP) and (errors.size - 1) % L == 0
        assert errors.size - 1 < 3000 // 10, (L, errors.size)
    claim = race_claim("fig2.x", "L=1 fastest", by_depth(curves),
                       lambda race: race.fastest("L=1"), unit="iteration", budget=3000)
    assert claim.verdict in ("PASS", "FAIL") and claim.measured["budget"] == 3000


def test_stop_below_ends_the_run_after_the_sweep_that_crosses_it():
    X, Y = random_data(100, 8, 2, 1)
    errors = train_curve(X, Y, [8, 8, 2], 500, stop_below=np.float64(np.inf), seed=1)
    assert errors.size == 3  # before training, and the two updates of the first sweep
    assert train_curve(X, Y, [8, 8, 2], 5, seed=1).size == 11  # no stop level: the budget
