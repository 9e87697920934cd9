"""The scikit-learn estimator: the full parametrize_with_checks suite, intercepts and
LinearRegression's attributes, parameter validation, pipelines, search, saving."""

import ast
import inspect
import pathlib
import re
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import fastdln
from fastdln import DeepLinearRegressor
from fastdln.apps import estimator as estimator_module
from fastdln.maths.synthetic import random_data

ROOT = pathlib.Path(__file__).resolve().parents[1]


@parametrize_with_checks([DeepLinearRegressor(), DeepLinearRegressor(depth=3, width=7)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _affine_data(m=120, n0=6, nL=3, seed=0):
    X, Y = random_data(m, n0, nL, seed)
    return X + 2.0, Y + np.arange(1, nL + 1) * 4.0  # far from centered


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_reaches_linear_regression_with_its_attributes(fit_intercept):
    X, Y = _affine_data() if fit_intercept else random_data(120, 6, 3, seed=0)
    for y in (Y, Y[:, 0]):  # multi-output, then a 1-D y
        model = DeepLinearRegressor(depth=4, max_sweeps=300, tol=None, error_tol=1e-20,
                                    random_state=0, fit_intercept=fit_intercept).fit(X, y)
        expected = LinearRegression(fit_intercept=fit_intercept).fit(X, y)
        assert np.shape(model.coef_) == np.shape(expected.coef_)
        assert np.shape(model.intercept_) == np.shape(expected.intercept_)
        np.testing.assert_allclose(model.coef_, expected.coef_, atol=1e-8)
        np.testing.assert_allclose(model.intercept_, expected.intercept_, atol=1e-8)
        np.testing.assert_allclose(model.predict(X), expected.predict(X), atol=1e-8)
        assert model.predict(X).shape == np.shape(y)
        assert model.n_features_in_ == 6 and len(model.weights_) == 4
        assert 0 < model.n_iter_ < 300 and model.relative_error_ <= 1e-20


def test_sample_weight_gives_the_weighted_least_squares_fit():
    X, Y = _affine_data(seed=1)
    w = np.random.default_rng(2).uniform(0.0, 3.0, len(X))
    model = DeepLinearRegressor(max_sweeps=400, tol=None, error_tol=1e-22, random_state=0)
    model.fit(X, Y[:, 1], sample_weight=w)
    expected = LinearRegression().fit(X, Y[:, 1], sample_weight=w)
    np.testing.assert_allclose(model.coef_, expected.coef_, atol=1e-8)
    assert model.intercept_ == pytest.approx(expected.intercept_, abs=1e-8)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_diabetes_r2_equals_linear_regression_with_default_settings(seed):
    """The issue's first try: R^2 on scikit-learn's diabetes data, default settings."""
    X, y = load_diabetes(return_X_y=True)
    ours = DeepLinearRegressor(random_state=seed).fit(X, y).score(X, y)
    theirs = LinearRegression().fit(X, y).score(X, y)
    print(f"diabetes R^2: DeepLinearRegressor {ours:.6f}, LinearRegression {theirs:.6f}")
    assert abs(ours - theirs) <= 0.005


def test_convergence_warning_only_when_the_budget_cuts_a_fit_still_improving():
    X, Y = _affine_data(seed=3)
    with pytest.warns(ConvergenceWarning, match=r"^max_sweeps=2 ended the fit while it was "
                      r"still improving \(the training loss fell by [0-9.e+-]+ per sweep.*; "
                      r"tol=0.0001\): raise max_sweeps, or fit again with warm_start=True"):
        model = DeepLinearRegressor(max_sweeps=2, random_state=0).fit(X, Y)
    assert model.n_iter_ == 2
    with pytest.warns(ConvergenceWarning, match=r"relative error [0-9.e+-]+ > error_tol=1e-30"):
        DeepLinearRegressor(max_sweeps=2, tol=None, error_tol=1e-30, random_state=0).fit(X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = DeepLinearRegressor(random_state=0).fit(X, Y)  # the loss stops improving
        assert model.n_iter_ < 1000 and model.relative_error_ <= 1e-3
        DeepLinearRegressor(max_sweeps=2, tol=None, random_state=0).fit(X, Y)  # no rule
        model = DeepLinearRegressor(error_tol=1e-3, random_state=0).fit(X, Y)
        assert model.relative_error_ <= 1e-3  # whichever rule comes first


def test_digits_defaults_stop_at_ridges_accuracy():
    """scikit-learn's digits (1797 images of 8 x 8 pixels), one-hot targets: the default fit
    stops by itself (no ConvergenceWarning, well before max_sweeps) with the held-out
    accuracy of Ridge within 0.01."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.25,
                                                        random_state=0)
    targets = np.eye(10)[y_train]
    ridge = np.mean(Ridge().fit(X_train, targets).predict(X_test).argmax(1) == y_test)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = DeepLinearRegressor(random_state=0).fit(X_train, targets)
    ours = np.mean(model.predict(X_test).argmax(1) == y_test)
    print(f"digits: {model.n_iter_} sweeps, accuracy {ours:.4f}, Ridge {ridge:.4f}")
    assert model.n_iter_ < model.max_sweeps // 2
    assert ours >= ridge - 0.01


def _fashion_like(m=2000, n=64, k=10, cond=1.5e4, seed=0):
    """A stand-in for Fashion-MNIST's regression: centered features with condition number
    ``cond`` (geometric singular values) and offsets, ten noisy targets whose signal lies
    mostly along the leading directions (held-out R^2 of least squares about 0.4)."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.normal(size=(m, n)))
    V, _ = np.linalg.qr(rng.normal(size=(n, n)))
    X = (U * np.geomspace(1, 1 / cond, n) * np.sqrt(m)) @ V.T + rng.uniform(0, 3, n)
    signal = rng.normal(size=(n, k)) * np.geomspace(1, 1e-2, n)[:, None]
    return X, U @ signal * np.sqrt(m) / 3 + rng.normal(size=(m, k))


def test_defaults_reach_least_squares_or_say_what_to_raise():
    """Default settings on ill-conditioned data: held-out R^2 within 0.005 of
    LinearRegression's, or a ConvergenceWarning naming max_sweeps; the relative error is
    exactly the training R^2 (variance weighted) below least squares."""
    from sklearn.metrics import r2_score

    X, Y = _fashion_like()
    assert np.linalg.cond(X - X.mean(axis=0)) == pytest.approx(1.5e4, rel=0.01)
    train, test = slice(0, 1500), slice(1500, None)
    least = LinearRegression().fit(X[train], Y[train])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model = DeepLinearRegressor(random_state=0).fit(X[train], Y[train])
    said = [str(w.message) for w in caught if w.category is ConvergenceWarning]
    close = model.score(X[test], Y[test]) >= least.score(X[test], Y[test]) - 0.005
    assert close or (said and "raise max_sweeps" in said[0]
                     and f"max_sweeps={model.max_sweeps}" in said[0])
    gap = (r2_score(Y[train], least.predict(X[train]), multioutput="variance_weighted")
           - r2_score(Y[train], model.predict(X[train]), multioutput="variance_weighted"))
    assert model.relative_error_ == pytest.approx(gap, rel=1e-6)
    assert bool(said) == (model.n_iter_ == model.max_sweeps)


BAD_PARAMETERS = [
    ("depth", 2.7), ("depth", 0), ("width", 0), ("width", 3.5), ("init", "he"),
    ("order", "random"), ("lr", "fast"), ("lr", -1.0), ("loss", 2), ("fit_intercept", "yes"),
    ("max_sweeps", -1), ("max_sweeps", 0), ("max_sweeps", 2.5), ("tol", -1e-3), ("tol", "1"),
    ("tol", 1.0), ("n_iter_no_change", 0), ("n_iter_no_change", None), ("error_tol", -1.0),
    ("error_tol", "1"),
    ("random_state", "seed"), ("random_state", -1), ("warm_start", 1.5), ("n_jobs", 0),
    ("n_jobs", 1.5), ("n_jobs", True),
]


@pytest.mark.parametrize("parameter, value", BAD_PARAMETERS)
def test_bad_parameters_are_refused_by_fit_naming_them(monkeypatch, parameter, value):
    """A ValueError or TypeError (what scikit-learn's checks expect) naming the parameter,
    raised by fit before any training."""
    monkeypatch.setattr(estimator_module, "Trainer", None)  # never reached
    X, Y = _affine_data(m=20)
    model = DeepLinearRegressor(**{parameter: value})
    with pytest.raises((ValueError, TypeError), match=rf"^{parameter} must be"):
        model.fit(X, Y)


def test_every_parameter_is_checked():
    parameters = set(inspect.signature(DeepLinearRegressor).parameters)
    assert {name for name, _ in BAD_PARAMETERS} == parameters


def test_the_estimator_imports_only_public_scikit_learn_names():
    tree = ast.parse((ROOT / "fastdln" / "apps" / "estimator.py").read_text())
    imported = [(node.module, alias.name) for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module.startswith("sklearn")
                for alias in node.names]
    assert imported and not [(module, name) for module, name in imported
                             if name.startswith("_") or "._" in module], imported


def test_readme_states_the_code_defaults():
    section = (ROOT / "README.md").read_text().split("## Using fastdln from other tools")[1]
    call = re.search(r"DeepLinearRegressor\((.*?)\)`", section, re.S).group(1)
    stated = dict(re.findall(r"(\w+)=([^,\s]+)", call))
    defaults = {name: p.default for name, p in
                inspect.signature(DeepLinearRegressor).parameters.items()}
    assert set(stated) <= set(defaults)
    for name, text in stated.items():
        if text != "...":
            assert text == repr(defaults[name]), f"README says {name}={text}"
    assert stated["depth"] == str(DeepLinearRegressor().depth)


def test_error_tol_is_scaled_before_the_trainer_is_built_and_settings_never_replaced(
        monkeypatch):
    """The trainer is built with error_tol times the zero map's weighted, centered loss per sample
    (for L2: the weighted variance of y); its settings are not replaced afterwards."""
    def replaced(self, **changes):
        raise AssertionError(f"settings replaced with {changes}")

    monkeypatch.setattr(fastdln.Settings, "replace", replaced)
    X, Y = _affine_data(seed=5)
    w = np.random.default_rng(6).uniform(0.5, 2.0, len(X))
    model = DeepLinearRegressor(max_sweeps=3, error_tol=1e-3, random_state=0)
    model.fit(X, Y, sample_weight=w)
    mean = w @ Y / w.sum()
    scale = w @ np.sum((Y - mean) ** 2, axis=1) / len(Y)
    assert model.settings_.tol == pytest.approx(1e-3 * scale, rel=1e-12)
    assert model.relative_error_ == pytest.approx(model.errors_[-1] / scale, rel=1e-12)


def test_a_custom_loss_measures_error_tol_against_its_zero_map_loss():
    """For a ConvexLoss the unit of error_tol is sum l(-y) per sample, as for "l<p>"."""
    X, Y = random_data(60, 4, 2, seed=7)
    loss = fastdln.maths.losses.log_cosh
    model = DeepLinearRegressor(depth=2, loss=loss, fit_intercept=False, max_sweeps=2,
                                tol=None, random_state=0).fit(X, Y)
    scale = np.sum(np.log(np.cosh(Y))) / len(Y)
    assert model.relative_error_ == pytest.approx(model.errors_[-1] / scale, rel=1e-9)
    assert model.settings_.tol is None


def test_warm_start_continues_from_the_previous_weights():
    X, Y = random_data(80, 5, 2, seed=1)
    cold = DeepLinearRegressor(depth=3, max_sweeps=6, random_state=0).fit(X, Y)
    warm = DeepLinearRegressor(depth=3, max_sweeps=3, random_state=0, warm_start=True)
    warm.fit(X, Y)
    first = warm.errors_[-1]
    warm.fit(X, Y)
    assert warm.errors_[0] == pytest.approx(first)  # started where it stopped
    np.testing.assert_allclose(warm.predict(X), cold.predict(X), rtol=1e-12, atol=1e-12)


def test_pipeline_and_grid_search():
    X, Y = random_data(150, 6, 1, seed=2)
    y = Y[:, 0] + X @ np.arange(6.0)
    pipe = make_pipeline(StandardScaler(), DeepLinearRegressor(max_sweeps=50, random_state=0))
    search = GridSearchCV(pipe, {"deeplinearregressor__depth": [1, 2, 3],
                                 "deeplinearregressor__order": ["ascending", "descending"]},
                          cv=3)
    search.fit(X, y)
    assert search.best_score_ > 0.5
    assert search.predict(X).shape == (150,)


def test_save_and_load_a_fitted_estimator(tmp_path):
    pandas = pytest.importorskip("pandas")
    X, Y = _affine_data(seed=4)
    frame = pandas.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    model = DeepLinearRegressor(max_sweeps=20, random_state=0).fit(frame, Y[:, 0])
    fastdln.save(tmp_path / "est.npz", model)
    loaded = fastdln.load(tmp_path / "est.npz")
    np.testing.assert_allclose(loaded.predict(X)[:, 0], model.predict(frame), rtol=1e-13)
    assert loaded.feature_names == list(frame.columns)
    assert loaded.settings["fit_intercept"] is True and loaded.widths == [6, 6, 6, 1]
    np.testing.assert_array_equal(loaded.errors, model.errors_)
    with pytest.raises(ValueError, match="not fitted"):
        fastdln.save(tmp_path / "unfitted.npz", DeepLinearRegressor())


def test_n_jobs_sets_the_blas_threads_of_the_fit():
    X, Y = random_data(120, 6, 2, seed=4)
    one = DeepLinearRegressor(n_jobs=1, random_state=0, max_sweeps=5).fit(X, Y)
    assert one.settings_.threads == 1
    again = DeepLinearRegressor(n_jobs=1, random_state=0, max_sweeps=5).fit(X, Y)
    np.testing.assert_array_equal(one.coef_, again.coef_)
    assert DeepLinearRegressor(random_state=0, max_sweeps=1).fit(X, Y).settings_.threads is None
    with pytest.raises(ValueError, match="n_jobs"):
        DeepLinearRegressor(n_jobs=0).fit(X, Y)


@pytest.mark.parametrize("n_jobs, threads", [(-1, 4), (-2, 3), (-4, 1), (-9, 1)])
def test_negative_n_jobs_count_back_from_the_cores(monkeypatch, n_jobs, threads):
    monkeypatch.setattr(estimator_module, "available_cores", lambda: 4)
    X, Y = random_data(60, 4, 1, seed=5)
    fitted = DeepLinearRegressor(n_jobs=n_jobs, random_state=0, max_sweeps=1).fit(X, Y)
    assert fitted.settings_.threads == threads
