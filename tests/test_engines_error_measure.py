"""The error ``(loss(W) - loss(W*)) / m`` never cancels to a false zero (docs/math.md 12).

Computed as a difference of two sums it loses everything below ``eps loss(W*) / m``: on data
with a large optimal loss a network 1e-7 away from the optimum would report noise, or an
exact 0.0 that stops a ``tol`` run as "converged". The engines keep the output's distance to
the optimum's output and sum ``l(r* + d) - l(r*)`` entry by entry in a form without
cancellation, resolving errors down to about ``(eps r*)^2``; these tests put the true error a
million times below the old formula's rounding level ``eps loss(W*)``.
"""

import numpy as np
import pytest

import fastdln
from fastdln.maths.optimum import end_to_end

M, N0, NL = 200, 5, 3


def _noisy_data(seed=0):
    """Targets far from any linear model: the optimal loss per sample is about 1e6."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(M, N0))
    Y = X @ rng.normal(size=(NL, N0)).T + 1e3 * rng.normal(size=(M, NL))
    return X, Y


def _near_optimum(X, Y, loss, shift=2e-9, seed=1):
    """A two-layer network whose end-to-end matrix is ``W* + shift * noise``."""
    optimum = fastdln.global_optimum(X, Y, loss=loss).weight
    delta = shift * np.random.default_rng(seed).normal(size=optimum.shape)
    return [np.eye(N0), optimum + delta], optimum


def _exact_error(X, Y, weight, optimum, power):
    """``sum |X W^T - Y|^p - |X W*^T - Y|^p`` over m, in extended precision and in the
    stable form ``sum d (r^(p-1) + ... + s^(p-1))`` with ``d = X (W - W*)^T`` from the
    weights' difference (exact in extended precision) and ``s = X W*^T - Y``."""
    Xl = X.astype(np.longdouble)
    d = Xl @ (weight.astype(np.longdouble) - optimum.astype(np.longdouble)).T
    s = Xl @ optimum.astype(np.longdouble).T - Y.astype(np.longdouble)
    r = s + d
    quotient = sum(r ** (power - 1 - k) * s ** k for k in range(power))
    return float(np.sum(d * quotient) / len(X))


def _optimal_loss(X, Y, optimum, power):
    return float(np.sum((X @ optimum.T - Y) ** power) / len(X))


@pytest.mark.parametrize("engine, compress", [("reference", "auto"), ("fast", True),
                                              ("fast", False)])
@pytest.mark.parametrize("loss, shift, below", [("l2", 2e-9, 1e-5), ("l4", 2e-11, 1e-3)])
def test_a_tiny_error_on_a_large_loss_is_resolved(engine, compress, loss, shift, below):
    """The true error lies ``below`` times the old formula's rounding level (L4: its optimum
    is known to a relative gradient of 1e-12 only, so the test stays above that)."""
    if loss != "l2" and compress is True:
        pytest.skip("compression is exact for L2 only")
    X, Y = _noisy_data()
    power = int(loss[1:])
    weights, optimum = _near_optimum(X, Y, loss, shift=shift)
    trainer = fastdln.Trainer(X, Y, weights, engine=engine, compress=compress, loss=loss,
                              reduce_width=False)
    exact = _exact_error(X, Y, end_to_end(weights), optimum, power)
    assert 0 < exact < below * np.finfo(float).eps * _optimal_loss(X, Y, optimum, power)
    # the relative accuracy is about eps |r*| / |d|: here 1e-5 and less
    assert trainer.errors[0] == pytest.approx(exact, rel=1e-3)


@pytest.mark.parametrize("engine, compress", [("reference", "auto"), ("fast", False)])
def test_every_update_reports_the_true_error(engine, compress):
    """After each layer update the recorded error is the one of the weights it produced."""
    X, Y = _noisy_data(seed=2)
    weights, optimum = _near_optimum(X, Y, "l2", shift=1e-8, seed=3)
    trainer = fastdln.Trainer(X, Y, weights, engine=engine, compress=compress,
                              reduce_width=False)
    for _ in range(4):
        error = trainer.step()
        exact = _exact_error(X, Y, end_to_end(trainer.weights), optimum, 2)
        assert error == pytest.approx(exact, rel=1e-3)


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_tol_stops_only_below_tol(engine):
    """The case that cancelled to 0.0 after 8 sweeps on numpy 2.4 / scipy 1.17 (reference
    engine, intercept, 1.1e-8 from the least-squares coefficients): with ``tol`` set, a
    "converged" run is truly within ``tol``."""
    rng = np.random.default_rng(0)
    X = rng.normal(0, 1 / np.sqrt(6), (80, 6)) + 3.0
    Y = rng.uniform(-1, 2, (80, 2)) + np.array([5.0, 10.0])
    tol = 1e-24
    result = fastdln.train(X, Y, widths=[6, 6, 6, 2], seed=0, sweeps=400, tol=tol,
                           fit_intercept=True, engine=engine)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    optimum = np.linalg.lstsq(Xc, Yc, rcond=None)[0].T
    exact = _exact_error(Xc, Yc, end_to_end(result.weights), optimum, 2)
    if result.status == "converged":
        assert exact <= 10 * tol  # 10x: the optimum itself is only known to rounding
    np.testing.assert_allclose(end_to_end(result.weights), optimum, atol=1e-9)
