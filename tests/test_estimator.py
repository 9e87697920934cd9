"""The scikit-learn estimator: the full parametrize_with_checks suite, pipelines, search."""

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastdln import DeepLinearRegressor
from tests.helpers import paper_data


@parametrize_with_checks([DeepLinearRegressor(), DeepLinearRegressor(depth=3, width=7)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_fits_the_least_squares_solution_single_and_multi_output():
    X, Y = paper_data(120, 6, 3, seed=0)
    model = DeepLinearRegressor(depth=4, max_sweeps=300, tol=1e-20, random_state=0).fit(X, Y)
    expected = LinearRegression(fit_intercept=False).fit(X, Y).predict(X)
    np.testing.assert_allclose(model.predict(X), expected, atol=1e-8)
    assert model.n_features_in_ == 6 and len(model.weights_) == 4
    assert model.n_sweeps_ < 300 and model.errors_[-1] <= 1e-20
    single = DeepLinearRegressor(depth=2, max_sweeps=300, random_state=0).fit(X, Y[:, 0])
    assert single.predict(X).shape == (120,)


def test_warm_start_continues_from_the_previous_weights():
    X, Y = paper_data(80, 5, 2, seed=1)
    cold = DeepLinearRegressor(depth=3, max_sweeps=6, random_state=0).fit(X, Y)
    warm = DeepLinearRegressor(depth=3, max_sweeps=3, random_state=0, warm_start=True)
    warm.fit(X, Y)
    first = warm.errors_[-1]
    warm.fit(X, Y)
    assert warm.errors_[0] == pytest.approx(first)  # started where it stopped
    np.testing.assert_allclose(warm.predict(X), cold.predict(X), rtol=1e-12, atol=1e-12)


def test_pipeline_and_grid_search():
    X, Y = paper_data(150, 6, 1, seed=2)
    y = Y[:, 0] + X @ np.arange(6.0)
    pipe = make_pipeline(StandardScaler(), DeepLinearRegressor(max_sweeps=50, random_state=0))
    search = GridSearchCV(pipe, {"deeplinearregressor__depth": [1, 2, 3],
                                 "deeplinearregressor__order": ["ascending", "descending"]},
                          cv=3)
    search.fit(X, y)
    assert search.best_score_ > 0.5
    assert search.predict(X).shape == (150,)
