"""The global optimum against lstsq and an independent check of (A.2)."""

import numpy as np
import pytest

import fastdln
from fastdln.maths.synthetic import random_data


def _loss(X, Y, W):
    return float(np.sum((X @ W.T - Y) ** 2))


@pytest.mark.parametrize("m, n0, nL", [(50, 8, 3), (6, 10, 2), (40, 40, 40)])
def test_full_rank_matches_lstsq(m, n0, nL):
    X, Y = random_data(m, n0, nL, seed=1)
    opt = fastdln.global_optimum(X, Y)
    solution = np.linalg.lstsq(X, Y, rcond=None)[0]  # least norm, (n0, nL)
    np.testing.assert_allclose(opt.weight, solution.T, atol=1e-10)
    assert opt.loss == pytest.approx(_loss(X, Y, solution.T), rel=1e-10, abs=1e-12)
    assert not opt.rank_constrained


def test_rank_deficient_matches_least_norm_lstsq():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 4)) @ rng.normal(size=(4, 9))  # rank 4 of 9 features
    Y = rng.normal(size=(30, 3))
    opt = fastdln.global_optimum(X, Y)
    solution = np.linalg.lstsq(X, Y, rcond=None)[0]
    np.testing.assert_allclose(opt.weight, solution.T, atol=1e-9)
    assert opt.loss == pytest.approx(_loss(X, Y, solution.T), rel=1e-9)


def test_one_dimensional_target():
    X, Y = random_data(20, 5, 1, seed=3)
    np.testing.assert_array_equal(fastdln.global_optimum(X, Y[:, 0]).weight,
                                  fastdln.global_optimum(X, Y).weight)


def _alternating_least_squares(X, Y, rank, seed, iterations=3000):
    """Independent brute force: W = A B by exact alternating least squares from a random start."""
    rng = np.random.default_rng(seed)
    B = rng.normal(size=(rank, X.shape[1]))
    for _ in range(iterations):
        F = X @ B.T  # (m, rank)
        A = np.linalg.lstsq(F, Y, rcond=None)[0].T  # (nL, rank)
        # min_B ||X B^T A^T - Y||: vec form via Kronecker product (small sizes only)
        K = np.kron(A, X)  # (m nL, rank n0) acting on vec(B^T) column-major
        b = np.linalg.lstsq(K, Y.reshape(-1, order="F"), rcond=None)[0]
        B = b.reshape((X.shape[1], rank), order="F").T
    return A @ B


def test_rank_constrained_matches_brute_force_and_beats_low_rank_projection():
    X, Y = random_data(40, 6, 5, seed=4)
    widths = [6, 2, 5]
    opt = fastdln.global_optimum(X, Y, widths)
    assert opt.rank_constrained
    assert np.linalg.matrix_rank(opt.weight) == 2
    brute = min(_loss(X, Y, _alternating_least_squares(X, Y, 2, seed)) for seed in range(3))
    assert opt.loss == pytest.approx(brute, rel=1e-9)
    # (A.2) is not the best rank-2 approximation of Y X^+ (docs/math.md section 7)
    U, s, Vt = np.linalg.svd(fastdln.global_optimum(X, Y).weight)
    projected = (U[:, :2] * s[:2]) @ Vt[:2]
    assert opt.loss < _loss(X, Y, projected) * (1 - 1e-6)


def test_rank_constraint_that_does_not_bind():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(30, 6))
    Y = X @ rng.normal(size=(6, 1)) @ rng.normal(size=(1, 4))  # Y X^+ has rank 1
    opt = fastdln.global_optimum(X, Y, [6, 1, 4])
    assert not opt.rank_constrained
    assert opt.loss < 1e-20


def test_zero_data_gives_zero_weight():
    opt = fastdln.global_optimum(np.zeros((5, 3)), np.ones((5, 2)))
    np.testing.assert_array_equal(opt.weight, np.zeros((2, 3)))
    assert opt.loss == pytest.approx(10.0)


def test_predict_matches_matrix_product():
    X, _ = random_data(10, 4, 2, seed=6)
    weights = fastdln.init_weights([4, 6, 2], "random", seed=0)
    np.testing.assert_allclose(fastdln.predict(X, weights), X @ weights[0].T @ weights[1].T)
