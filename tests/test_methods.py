"""Lp losses, gradient descent and the theory diagnostics (docs/math.md sections 2, 7, 8, 9)."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba import njit
from scipy.optimize import minimize

import fastdln
from fastdln import theory
from fastdln.maths.losses import REGISTRY as LOSSES
from fastdln.maths.losses import ConvexLoss, log_cosh
from fastdln.maths.synthetic import random_data
from tests.helpers import max_relative_difference


@pytest.mark.parametrize("loss", ["l4", "l6"])
@pytest.mark.parametrize("order", ["descending", "ascending"])
@pytest.mark.parametrize("lr", ["optimal", 0.002])
def test_lp_fast_equals_reference(loss, order, lr):
    X, Y = random_data(90, 7, 3, seed=1)
    weights = fastdln.init_weights([7, 9, 8, 3], "orth-identity", seed=2)
    kwargs = dict(loss=loss, order=order, lr=lr, sweeps=6)
    fast = fastdln.train(X, Y, weights, **kwargs)
    naive = fastdln.train(X, Y, weights, engine="reference", **kwargs)
    assert fast.status == naive.status == "max_sweeps"
    assert not fast.compressed  # the L2 compression is not exact for p > 2
    assert max_relative_difference(fast.weights, naive.weights) < 1e-10
    np.testing.assert_allclose(fast.errors, naive.errors, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("loss", ["l4", "l6"])
@pytest.mark.parametrize("init", ["orth-identity", "random", "balanced"])
def test_near_optimal_rate_never_increases_the_lp_loss(loss, init):
    X, Y = random_data(120, 6, 2, seed=3)
    result = fastdln.train(X, Y, widths=[6, 8, 8, 8, 2], init=init, seed=4, loss=loss,
                           sweeps=30)
    assert np.all(np.diff(result.errors) <= 1e-13 * result.errors[0])
    assert result.errors[-1] < 0.5 * result.errors[0]
    assert result.errors.min() >= -1e-10 * result.errors[0]  # never below the optimum


@pytest.mark.parametrize("power", [4, 6])
@pytest.mark.parametrize("shape", [(40, 5, 2), (25, 8, 3)])
def test_lp_optimum_matches_scipy(power, shape):
    m, n0, nL = shape
    X, Y = random_data(m, n0, nL, seed=power)
    opt = fastdln.global_optimum(X, Y, loss=f"l{power}")

    def f(w):
        return np.sum((X @ w.reshape(nL, n0).T - Y) ** power)

    def grad(w):
        R = X @ w.reshape(nL, n0).T - Y
        return (power * (R ** (power - 1)).T @ X).ravel()

    res = minimize(f, np.zeros(nL * n0), jac=grad, method="BFGS", options=dict(gtol=1e-10))
    assert opt.loss <= res.fun * (1 + 1e-12)
    assert opt.loss == pytest.approx(res.fun, rel=1e-9)
    np.testing.assert_allclose(opt.weight.ravel(), res.x, atol=1e-5)
    # Newton's stopping rule: the gradient at the optimum is tiny relative to the start's
    g_opt = np.linalg.norm(grad(opt.weight.ravel()))
    w_l2 = fastdln.global_optimum(X, Y).weight.ravel()
    assert g_opt <= 1e-10 * np.linalg.norm(grad(w_l2))
    assert opt.newton_iterations < 50


def test_lp_optimum_rank_deficient_and_exact_fit():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(30, 3)) @ rng.normal(size=(3, 6))  # rank 3 of 6
    Y = rng.normal(size=(30, 2))
    opt = fastdln.global_optimum(X, Y, loss="l4")
    assert np.isfinite(opt.loss)
    assert opt.weight.shape == (2, 6)
    X, Y = random_data(4, 8, 2, seed=6)  # m < n0: an exact fit exists
    assert fastdln.global_optimum(X, Y, loss="l4").loss < 1e-25


def test_lp_refuses_what_is_not_defined():
    X, Y = random_data(30, 4, 2, seed=7)
    with pytest.raises(ValueError, match="loss"):
        fastdln.train(X, Y, widths=[4, 2], loss="l3")
    with pytest.raises(ValueError, match="bounded"):
        fastdln.train(X, Y, widths=[4, 2], loss="l4", lr="bounded")
    with pytest.raises(ValueError, match="compress"):
        fastdln.train(X, Y, widths=[4, 2], loss="l4", compress=True)
    with pytest.raises(ValueError, match="rank"):
        fastdln.global_optimum(X, Y, widths=[4, 1, 2], loss="l4")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(depth=st.integers(1, 6), width=st.integers(1, 9), m=st.sampled_from([3, 12, 40]),
       loss=st.sampled_from(["l2", "l4"]), seed=st.integers(0, 1000),
       compress=st.booleans())
def test_gd_fast_equals_reference(depth, width, m, loss, seed, compress):
    X, Y = random_data(m, 5, 2, seed)
    if loss == "l4":
        width = max(width, 2)  # the Lp optimum needs widths that do not bind the rank
    weights = fastdln.init_weights([5] + [width] * (depth - 1) + [2], "random", seed=seed)
    kwargs = dict(method="gd", lr=0.01, loss=loss, sweeps=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fast = fastdln.train(X, Y, weights, compress=compress and loss == "l2", **kwargs)
        naive = fastdln.train(X, Y, weights, engine="reference", **kwargs)
    assert fast.status == naive.status
    assert fast.iterations == naive.iterations and fast.sweeps == fast.iterations
    assert max_relative_difference(fast.weights, naive.weights) < 1e-10
    scale = naive.errors[0]
    np.testing.assert_allclose(fast.errors, naive.errors, rtol=1e-8, atol=1e-12 * scale)


def test_gd_counts_one_sweep_per_iteration_and_reports_divergence():
    X, Y = random_data(100, 8, 3, seed=8)
    result = fastdln.train(X, Y, widths=[8, 8, 8, 3], method="gd", lr=0.01, sweeps=7,
                           record="sweep")
    assert result.iterations == result.sweeps == 7 and result.errors.size == 8
    with pytest.warns(RuntimeWarning, match="GD diverged"):
        bad = fastdln.train(X, Y, widths=[8, 8, 8, 3], method="gd", lr=50.0, sweeps=50)
    assert bad.status == "diverged" and bad.diverged_at == bad.iterations + 1
    assert all(np.all(np.isfinite(W)) for W in bad.weights)
    with pytest.raises(ValueError, match="constant"):
        fastdln.train(X, Y, widths=[8, 3], method="gd")


def test_gd_rate_of_reference_11():
    X, _ = random_data(60, 6, 2, seed=9)
    expected = 2 / (3 * 5 * np.linalg.svd(X, compute_uv=False)[0] ** 2)
    assert theory.gd_rate(X, 5, 2) == pytest.approx(expected, rel=1e-14)


def test_theorem_3_3_quantities():
    assert theory.R_L(1) == 1.0
    for L in [10, 100, 1000, 100000]:
        a = 5 * L - 3
        r = theory.R_L(L)
        assert r * r * L - r * a + 1 == pytest.approx(0, abs=1e-12)  # root of L R^2 - a R + 1
    assert abs(100000 * theory.R_L(100000) - 0.2) < 1e-5
    L = 7
    r = theory.R_L(L)
    assert theory.h(L) == pytest.approx(L * r * (1 - r) ** 12 / (1 + r) ** 20, rel=1e-14)
    assert theory.sweep_rate(2.0, 3) == pytest.approx((1 - 1 / 20) ** 6)
    X, Y = random_data(80, 5, 2, seed=10)
    W_star = fastdln.global_optimum(X, Y).weight
    c = theory.c_constant(X, W_star, 10)
    assert c > 1 + np.linalg.cond(X) ** 2  # c = 1 + kappa^2 (1 + sqrt(...)) / (2 h s) > ...
    assert theory.initial_radius(X, W_star, 10) > 0
    bound = theory.theorem_3_4_bound(1.0, 2.0, L=4, k=2)
    assert bound == pytest.approx((1 - 1 / 4) ** 10 * (1 - 1 / 20) ** 6)


@pytest.mark.parametrize("order", ["descending", "ascending"])
@pytest.mark.parametrize("eta", [0.5, 1.0, 1.5])
def test_bounded_rate_stays_below_theorem_3_2_bound(order, eta):
    """error_k <= error_0 * prod gamma^2 along the run (Theorem 3.2, recorded diagnostics)."""
    X, Y = random_data(60, 6, 2, seed=11)
    result = fastdln.train(X, Y, widths=[6, 8, 8, 2], init="orth-identity", seed=12,
                           lr="bounded", eta=eta, order=order, sweeps=5, diagnostics=True)
    gamma = result.diagnostics["gamma"]
    assert gamma.size == result.iterations == 15
    assert np.all((gamma >= 0) & (gamma < 1))
    bound = result.errors[0] * np.concatenate([[1.0], np.cumprod(gamma ** 2)])
    assert np.all(result.errors <= bound * (1 + 1e-10))
    assert np.all(np.isfinite(result.diagnostics["kappa_S"]))


def test_diagnostics_cost_nothing_when_off():
    X, Y = random_data(60, 6, 2, seed=13)
    a = fastdln.train(X, Y, widths=[6, 8, 2], seed=1, sweeps=3)
    b = fastdln.train(X, Y, widths=[6, 8, 2], seed=1, sweeps=3, diagnostics=True)
    assert a.diagnostics is None
    np.testing.assert_array_equal(a.errors, b.errors)  # the same arithmetic either way


@pytest.mark.parametrize("sampling, batch_size", [("importance", None), ("uniform", 1),
                                                  ("uniform", 10)])
@pytest.mark.parametrize("order", ["descending", "ascending"])
def test_bcsgd_fast_equals_reference(sampling, batch_size, order):
    X, Y = random_data(70, 6, 2, seed=14)
    weights = fastdln.init_weights([6, 6, 6, 6, 2], "orth-identity", seed=15)
    kwargs = dict(method="bcsgd", sampling=sampling, batch_size=batch_size, order=order,
                  seed=16, sweeps=8)
    fast = fastdln.train(X, Y, weights, **kwargs)
    naive = fastdln.train(X, Y, weights, engine="reference", **kwargs)
    assert fast.iterations == naive.iterations == 32
    assert max_relative_difference(fast.weights, naive.weights) < 1e-10
    np.testing.assert_allclose(fast.errors, naive.errors, rtol=1e-9)
    np.testing.assert_allclose(fast.learning_rates, naive.learning_rates, rtol=1e-9)
    again = fastdln.train(X, Y, weights, **kwargs)
    np.testing.assert_array_equal(again.errors, fast.errors)  # seeded: reproducible
    other = fastdln.train(X, Y, weights, **dict(kwargs, seed=17))
    assert not np.array_equal(other.errors, fast.errors)


def test_bcsgd_stalls_above_the_optimum_where_bcgd_converges():
    """loss(W*) > 0: stochastic steps keep a noise floor (docs/math.md section 8)."""
    X, Y = random_data(80, 6, 2, seed=18)
    widths = [6, 6, 6, 2]
    assert fastdln.global_optimum(X, Y).loss > 1.0
    bcgd = fastdln.train(X, Y, widths=widths, seed=19, sweeps=200)
    assert bcgd.errors[-1] < 1e-10
    for sampling in ["importance", "uniform"]:
        sgd = fastdln.train(X, Y, widths=widths, seed=19, sweeps=200, method="bcsgd",
                            sampling=sampling, batch_size=None if sampling == "importance"
                            else 4)
        tail = sgd.errors[-3 * 40:]
        assert tail.min() > 1e-4, (sampling, tail.min())


def test_bcsgd_refuses_what_theorem_3_6_does_not_cover():
    X, Y = random_data(30, 4, 2, seed=20)
    with pytest.raises(ValueError, match="l2"):
        fastdln.train(X, Y, widths=[4, 2], method="bcsgd", loss="l4")
    with pytest.raises(ValueError, match="lr"):
        fastdln.train(X, Y, widths=[4, 2], method="bcsgd", lr=0.1)
    with pytest.raises(ValueError, match="batch_size"):
        fastdln.train(X, Y, widths=[4, 2], method="bcsgd", sampling="uniform", batch_size=31)
    with pytest.raises(ValueError, match="sampling"):
        fastdln.train(X, Y, widths=[4, 2], method="bcsgd", sampling="stratified")


@njit
def _huber_value(r):
    return np.sqrt(1.0 + r * r) - 1.0  # pseudo-Huber with delta = 1


@njit
def _huber_derivative(r):
    return r / np.sqrt(1.0 + r * r)


@njit
def _huber_curvature(r):
    return 1.0  # (1 + r^2)^(-3/2) <= 1


@njit
def _huber_second(r):
    return (1.0 + r * r) ** -1.5


PSEUDO_HUBER = ConvexLoss("pseudo-Huber", _huber_value, _huber_derivative, _huber_curvature,
                          _huber_second)


@pytest.mark.parametrize("loss", [*LOSSES.values(), PSEUDO_HUBER], ids=lambda loss: loss.name)
@pytest.mark.parametrize("order", ["descending", "ascending"])
def test_custom_convex_loss_fast_equals_reference_and_never_increases(loss, order):
    X, Y = random_data(80, 6, 2, seed=21)
    weights = fastdln.init_weights([6, 8, 8, 2], "orth-identity", seed=22)
    fast = fastdln.train(X, Y, weights, loss=loss, order=order, sweeps=15)
    naive = fastdln.train(X, Y, weights, loss=loss, order=order, sweeps=15, engine="reference")
    assert max_relative_difference(fast.weights, naive.weights) < 1e-10
    np.testing.assert_allclose(fast.errors, naive.errors, rtol=1e-8, atol=1e-12)
    assert np.all(np.diff(fast.errors) <= 1e-13 * fast.errors[0])  # Theorem 3.5, rate (3.10)
    assert fast.errors[-1] < 1e-6 * fast.errors[0]
    assert fast.optimum.loss_name == loss.name


def test_custom_loss_optimum_matches_scipy():
    X, Y = random_data(50, 5, 2, seed=23)
    opt = fastdln.global_optimum(X, Y, loss=log_cosh)

    def f(w):
        return float(np.sum(log_cosh.elementwise("value", X @ w.reshape(2, 5).T - Y)))

    def grad(w):
        J = log_cosh.elementwise("derivative", X @ w.reshape(2, 5).T - Y)
        return (J.T @ X).ravel()

    res = minimize(f, np.zeros(10), jac=grad, method="BFGS", options=dict(gtol=1e-11))
    assert opt.loss == pytest.approx(res.fun, rel=1e-10)
    np.testing.assert_allclose(opt.weight.ravel(), res.x, atol=1e-6)


def test_custom_loss_protocol_is_checked():
    with pytest.raises(TypeError, match="njit"):
        ConvexLoss("python", lambda r: r * r, _huber_derivative, _huber_curvature)
    no_second = ConvexLoss("no-second", _huber_value, _huber_derivative, _huber_curvature)
    X, Y = random_data(30, 4, 2, seed=24)
    with pytest.raises(ValueError, match="second_derivative"):
        fastdln.global_optimum(X, Y, loss=no_second)
    with pytest.raises(ValueError, match="bcgd"):
        fastdln.train(X, Y, widths=[4, 2], loss=log_cosh, method="gd", lr=0.1)
    with pytest.raises(ValueError, match="bounded"):
        fastdln.train(X, Y, widths=[4, 2], loss=log_cosh, lr="bounded")


def test_the_help_of_method_comes_from_the_registry(capsys):
    from fastdln.apps.cli import build_parser
    from fastdln.core.methods import REGISTRY

    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for unit in REGISTRY.values():
        assert f"{unit.name}: {unit.summary}" in help_text
