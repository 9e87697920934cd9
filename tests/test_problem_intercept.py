"""Affine models (fit_intercept) and sample weights: exact for L2 (docs/math.md section 11)."""

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

import fastdln
from fastdln.maths.optimum import end_to_end
from fastdln.maths.synthetic import random_data
from tests.helpers import assert_same_run


def _affine_data(seed=0, m=80, n0=6, nL=2):
    X, Y = random_data(m, n0, nL, seed)
    return X + 3.0, Y + np.arange(1, nL + 1) * 5.0  # far from centered


@pytest.mark.parametrize("engine", ["fast", "reference"])
@pytest.mark.parametrize("weighted", [False, True])
def test_fit_intercept_reaches_the_least_squares_affine_fit(engine, weighted):
    X, Y = _affine_data()
    w = np.random.default_rng(1).uniform(0.0, 3.0, len(X)) if weighted else None
    result = fastdln.train(X, Y, widths=[6, 6, 6, 2], seed=0, sweeps=400, tol=1e-24,
                           fit_intercept=True, sample_weight=w, engine=engine)
    expected = LinearRegression().fit(X, Y, sample_weight=w)
    np.testing.assert_allclose(end_to_end(result.weights), expected.coef_, atol=1e-9)
    np.testing.assert_allclose(result.intercept, expected.intercept_, atol=1e-9)
    np.testing.assert_allclose(fastdln.predict(X, result.weights, result.intercept),
                               expected.predict(X), atol=1e-9)
    assert result.errors[-1] <= 1e-20


def test_sample_weights_equal_repeated_rows():
    """Integer weights are the same loss as repeating rows (errors differ by m only)."""
    X, Y = random_data(30, 4, 2, seed=2)
    counts = np.random.default_rng(3).integers(1, 4, len(X))
    weighted = fastdln.train(X, Y, widths=[4, 5, 2], seed=0, sweeps=6, sample_weight=counts)
    repeated = fastdln.train(np.repeat(X, counts, 0), np.repeat(Y, counts, 0),
                             widths=[4, 5, 2], seed=0, sweeps=6)
    ratio = counts.sum() / len(X)
    np.testing.assert_allclose(weighted.errors, repeated.errors * ratio, rtol=1e-9,
                               atol=1e-14)
    for a, b in zip(weighted.weights, repeated.weights):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_lp_sample_weights_scale_rows_by_the_pth_root():
    X, Y = random_data(30, 4, 2, seed=4)
    w = np.random.default_rng(5).uniform(0.5, 2.0, len(X))
    fast = fastdln.train(X, Y, widths=[4, 5, 2], seed=0, sweeps=5, loss="l4", sample_weight=w)
    opt = fastdln.global_optimum(X * w[:, None] ** 0.25, Y * w[:, None] ** 0.25, loss="l4")
    weighted_loss = float(np.sum(w[:, None] * (X @ end_to_end(fast.weights).T - Y) ** 4))
    assert fast.errors[-1] == pytest.approx((weighted_loss - opt.loss) / len(X), rel=1e-9)


def test_intercept_travels_through_results_checkpoints_and_models(tmp_path):
    X, Y = _affine_data(seed=6)
    common = dict(widths=[6, 7, 2], seed=1, fit_intercept=True)
    full = fastdln.train(X, Y, sweeps=6, **common)
    path = tmp_path / "run.ckpt"
    fastdln.train(X, Y, sweeps=3, checkpoint=path, **common)
    resumed = fastdln.train(X, Y, sweeps=6, resume=path)
    assert_same_run(resumed, full)
    np.testing.assert_array_equal(resumed.intercept, full.intercept)
    with pytest.raises(ValueError, match="fit_intercept: the checkpoint has True"):
        fastdln.train(X, Y, sweeps=6, resume=path, fit_intercept=False)
    fastdln.save(tmp_path / "m.npz", full)
    model = fastdln.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(model.intercept, full.intercept)
    np.testing.assert_allclose(model.predict(X), fastdln.predict(X, full.weights,
                                                                 full.intercept), rtol=1e-15)
    plain = fastdln.train(X, Y, sweeps=1, widths=[6, 7, 2], seed=1)
    assert not np.any(plain.intercept) and plain.intercept.shape == (2,)


def test_what_is_not_exact_is_refused():
    X, Y = _affine_data()
    with pytest.raises(ValueError, match="fit_intercept=True .* only for loss='l2'"):
        fastdln.train(X, Y, widths=[6, 2], loss="l4", fit_intercept=True)
    with pytest.raises(ValueError, match="custom loss"):
        fastdln.train(X, Y, widths=[6, 2], loss=fastdln.maths.losses.log_cosh,
                      sample_weight=np.ones(len(X)))
    for bad, fragment in [(np.ones(3), "one weight per sample"), (-np.ones(len(X)),
                          "non-negative"), (np.zeros(len(X)), "not all zero"),
                          (np.full(len(X), np.nan), "finite")]:
        with pytest.raises(ValueError, match=fragment):
            fastdln.train(X, Y, widths=[6, 2], sample_weight=bad)
    with pytest.raises(ValueError, match="intercept must have one entry per output"):
        fastdln.predict(X, fastdln.init_weights([6, 2], seed=0), np.ones(3))
