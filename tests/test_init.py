"""Each initialization against its definition (docs/math.md section 6)."""

import numpy as np
import pytest

import fastdln
from fastdln.maths.init import INITS, REGISTRY
from fastdln.maths.optimum import end_to_end

WIDTH_CASES = [
    [8, 8, 8, 8],  # square
    [6, 10, 12, 3],  # wide hidden layers
    [9, 4, 7, 5],  # bottleneck below both ends
    [3, 5, 11],  # nL > n0, depth 2
    [7, 2],  # depth 1
]


def _is_orthogonal(Q):
    return np.allclose(Q @ Q.T, np.eye(Q.shape[0]), atol=1e-12)


@pytest.mark.parametrize("widths", WIDTH_CASES, ids=str)
@pytest.mark.parametrize("init", INITS)
def test_shapes_and_dtype(widths, init):
    weights = fastdln.init_weights(widths, init, seed=3)
    assert [W.shape for W in weights] == list(zip(widths[1:], widths[:-1]))
    assert all(W.dtype == np.float64 and W.flags.c_contiguous for W in weights)
    weights32 = fastdln.init_weights(widths, init, seed=3, dtype="float32")
    assert all(W.dtype == np.float32 for W in weights32)


@pytest.mark.parametrize("widths", WIDTH_CASES, ids=str)
def test_orthogonal_is_zero_padded_haar_block(widths):
    for W in fastdln.init_weights(widths, "orthogonal", seed=1):
        k = min(W.shape)
        assert _is_orthogonal(W[:k, :k])
        assert not W[k:].any() and not W[:, k:].any()


@pytest.mark.parametrize("size", [2, 5, 64])
def test_haar_draws_are_scipys_ortho_group_bit_for_bit(size):
    """The sampler replaces scipy.stats.ortho_group (whose import costs a fresh process up to
    0.7 s) without changing any seed's weights."""
    from scipy.stats import ortho_group

    from fastdln.maths.init import _haar_orthogonal

    ours = _haar_orthogonal(size, np.random.default_rng(size))
    theirs = ortho_group.rvs(size, random_state=np.random.default_rng(size))
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("widths", WIDTH_CASES + [[4, 9, 9, 2]], ids=str)
def test_orth_identity_block_structure(widths):
    dmax = max(widths[0], widths[-1])
    for W in fastdln.init_weights(widths, "orth-identity", seed=2):
        size = min(W.shape)
        k = min(size, dmax)
        assert _is_orthogonal(W[:k, :k])
        np.testing.assert_array_equal(W[k:size, k:size], np.eye(size - k))
        assert not W[:k, k:].any() and not W[k:, :k].any()
        assert not W[size:].any() and not W[:, size:].any()


@pytest.mark.parametrize("widths", WIDTH_CASES, ids=str)
def test_identity_is_padded_identity(widths):
    for W in fastdln.init_weights(widths, "identity"):
        expected = np.zeros(W.shape)
        k = min(W.shape)
        expected[:k, :k] = np.eye(k)
        np.testing.assert_array_equal(W, expected)


@pytest.mark.parametrize("widths", [[6, 10, 12, 3], [3, 5, 11], [5, 5, 5, 5, 5], [7, 2]], ids=str)
def test_balanced_product_equals_the_drawn_matrix(widths):
    rng_seed = 11
    n0, nL = widths[0], widths[-1]
    drawn = np.random.default_rng(rng_seed).normal(0, 1 / np.sqrt(n0), size=(nL, n0))
    weights = fastdln.init_weights(widths, "balanced", seed=rng_seed)
    np.testing.assert_allclose(end_to_end(weights), drawn, atol=1e-12)
    if len(weights) > 2:  # the hidden layers are the same diagonal s^(1/L)
        d = np.diag(weights[1])
        for W in weights[1:-1]:
            np.testing.assert_allclose(np.diag(W)[: d.size], d)


def test_balanced_bottleneck_keeps_top_singular_triplets():
    widths = [9, 4, 2, 5]
    drawn = np.random.default_rng(5).normal(0, 1 / 3, size=(5, 9))
    U, s, Vt = np.linalg.svd(drawn, full_matrices=False)
    best_rank2 = (U[:, :2] * s[:2]) @ Vt[:2]
    product = end_to_end(fastdln.init_weights(widths, "balanced", seed=5))
    np.testing.assert_allclose(product, best_rank2, atol=1e-12)


def test_random_has_the_right_variance():
    W = fastdln.init_weights([400, 300, 1], "random", seed=0)[0]
    assert abs(W.var() * 400 - 1) < 0.02


@pytest.mark.parametrize("init", [name for name in INITS if REGISTRY[name].random])
def test_seed_reproducibility(init):
    a = fastdln.init_weights([5, 7, 3], init, seed=42)
    b = fastdln.init_weights([5, 7, 3], init, seed=np.random.default_rng(42))
    c = fastdln.init_weights([5, 7, 3], init, seed=43)
    for A, B in zip(a, b):
        np.testing.assert_array_equal(A, B)
    assert any(not np.array_equal(A, C) for A, C in zip(a, c))


def test_a_deterministic_initialization_ignores_the_seed():
    for name in INITS:
        a, b = (fastdln.init_weights([5, 7, 3], name, seed=seed) for seed in (1, 2))
        same = all(np.array_equal(A, B) for A, B in zip(a, b))
        assert same is not REGISTRY[name].random, name


def test_the_readme_and_the_help_name_every_initialization(capsys):
    """The registry is the list: README's init_weights row and ``fastdln train --help`` name
    each registered initialization (and README no other)."""
    import pathlib
    import re

    from fastdln.apps.cli import build_parser

    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| `init_weights("))
    listed = re.findall(r'`"([a-z-]+)"`', row.split("|")[2])
    assert sorted(listed) == sorted(INITS)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    help_text = capsys.readouterr().out
    assert all(name in help_text for name in INITS)
