"""The naive reference BCGD against the paper's exact identities and Theorem 3.1."""

import numpy as np
import pytest

import fastdln
from fastdln import reference
from fastdln.maths.optimum import end_to_end
from fastdln.maths.synthetic import random_data


@pytest.mark.parametrize("order", ["descending", "ascending"])
@pytest.mark.parametrize("widths", [[8, 10, 9, 3], [8, 2, 6, 3], [8, 3]], ids=str)
def test_optimal_rate_identity_at_every_update(order, widths):
    """With (3.4), ||R_new||^2 = ||R||^2 - ||G||^4 / ||Z||^2 exactly (docs/math.md section 2)."""
    X, Y = random_data(40, widths[0], widths[-1], seed=0)
    Xp, Yp = X.T, Y.T
    weights = fastdln.init_weights(widths, "random", seed=1)
    depth = len(weights)
    layers = range(depth, 0, -1) if order == "descending" else range(1, depth + 1)
    checked = 0
    for _ in range(3):
        for i in layers:
            update = reference.layer_update(weights, i, Xp, Yp, "optimal")
            new_loss = reference.l2_loss(weights, Xp, Yp)
            gg, zz = np.sum(update.G ** 2), np.sum(update.Z ** 2)
            expected = np.sum(update.R ** 2) - gg ** 2 / zz
            assert new_loss == pytest.approx(expected, rel=1e-11, abs=1e-12)
            assert update.eta == pytest.approx(gg / zz, rel=1e-14)
            checked += 1
    assert checked == 3 * depth


@pytest.mark.parametrize("order", ["descending", "ascending"])
@pytest.mark.parametrize("init", ["orthogonal", "orth-identity", "identity", "balanced", "random"])
def test_optimal_rate_never_increases_the_error(order, init):
    X, Y = random_data(50, 6, 2, seed=2)
    result = fastdln.train(X, Y, widths=[6, 7, 5, 8, 2], init=init, seed=3, order=order,
                           engine="reference", sweeps=6)
    assert result.errors.size == 1 + 6 * 4
    assert np.all(np.diff(result.errors) <= 1e-12 * result.errors[0])
    assert result.errors[-1] < result.errors[0]


def test_gradient_is_the_derivative_of_the_loss():
    """G = S^T R P^T is half the derivative of ||S W P - Y||^2 (checked by finite differences)."""
    X, Y = random_data(20, 4, 2, seed=3)
    weights = fastdln.init_weights([4, 5, 2], "random", seed=4)
    update = reference.layer_update([W.copy() for W in weights], 1, X.T, Y.T, "optimal")
    h = 1e-6
    for a, b in [(0, 0), (3, 2), (4, 1)]:
        plus = [W.copy() for W in weights]
        minus = [W.copy() for W in weights]
        plus[0][a, b] += h
        minus[0][a, b] -= h
        numeric = (reference.l2_loss(plus, X.T, Y.T) - reference.l2_loss(minus, X.T, Y.T)) / (
            2 * h)
        assert update.G[a, b] == pytest.approx(numeric / 2, rel=1e-6)


def test_width_invariance_theorem_3_1():
    """Orth-identity with hidden widths 128 and 300: the same end-to-end product."""
    n0, nL, depth = 12, 4, 4
    X, Y = random_data(30, n0, nL, seed=5)
    narrow = fastdln.init_weights([n0] + [128] * (depth - 1) + [nL], "orth-identity", seed=6)
    wide = fastdln.init_weights([n0] + [300] * (depth - 1) + [nL], "orth-identity", seed=6)
    np.testing.assert_allclose(end_to_end(narrow), end_to_end(wide), atol=1e-14)
    a = fastdln.train(X, Y, narrow, sweeps=3, engine="reference")
    b = fastdln.train(X, Y, wide, sweeps=3, engine="reference")
    np.testing.assert_allclose(end_to_end(a.weights), end_to_end(b.weights), atol=1e-12, rtol=0)
    np.testing.assert_allclose(a.errors, b.errors, rtol=1e-10, atol=1e-14)
