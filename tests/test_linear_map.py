"""predict: the cheapest product order of the chain X, W_1^T, ..., W_L^T (a matrix chain
programme), the same output as the naive product, no copy of X."""

import itertools
import tracemalloc
from functools import lru_cache, reduce

import numpy as np
import pytest

import fastdln
from fastdln.core.linear_map import chain_order


def _naive(X, weights):
    return reduce(lambda out, W: out @ np.asarray(W, dtype=np.float64).T, weights,
                  np.asarray(X, dtype=np.float64))


def _brute_cost(dims):
    """Cheapest multiply-adds over every parenthesization (memoized recursion)."""
    @lru_cache(None)
    def cost(i, j):
        if i == j:
            return 0
        return min(cost(i, k) + cost(k + 1, j) + dims[i] * dims[k + 1] * dims[j + 1]
                   for k in range(i, j))
    return cost(0, len(dims) - 2)


def _order_cost(dims, split, i, j):
    """Multiply-adds of the order ``split`` gives (recomputed independently)."""
    if i == j:
        return 0
    k = split[i, j]
    return (_order_cost(dims, split, i, k) + _order_cost(dims, split, k + 1, j)
            + dims[i] * dims[k + 1] * dims[j + 1])


@pytest.mark.parametrize("seed", range(40))
def test_chain_order_is_the_cheapest(seed):
    rng = np.random.default_rng(seed)
    dims = tuple(int(d) for d in rng.integers(1, 60, rng.integers(2, 9)))
    cost, split = chain_order(dims)
    assert cost == _brute_cost(dims)
    assert _order_cost(dims, split, 0, len(dims) - 2) == cost
    limited, split = chain_order(dims, split_limit=0.0)  # the O(N) family: never cheaper
    assert limited >= cost
    assert _order_cost(dims, split, 0, len(dims) - 2) == limited


def test_end_to_end_first_on_a_tall_deep_chain():
    """60,000 x 784 through ten 784-wide layers to 10 outputs: W_e2e from the top first,
    then one product with X, about L x 784 / 10 times fewer multiply-adds than layer by
    layer."""
    dims = [60000] + [784] * 10 + [10]
    cost, split = chain_order(dims)
    assert split[0, len(dims) - 2] == 0  # X times (the whole weight chain)
    assert all(split[a, len(dims) - 2] == a for a in range(1, len(dims) - 2))  # from the top
    layer_by_layer = sum(60000 * a * b for a, b in itertools.pairwise(dims[1:]))
    assert cost < layer_by_layer / 50


@pytest.mark.parametrize("widths, m", [
    ([5, 3], 7),                      # one layer
    ([4, 30, 30, 30, 2], 50),         # wide hidden layers, few outputs: end-to-end first
    ([40, 2, 40, 3], 6),              # a bottleneck, few rows
    ([3, 20, 20, 20, 20, 25], 200),   # narrow input, wide output
    ([8] * 60 + [3], 11),             # deep
])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_predict_equals_the_naive_product(widths, m, dtype):
    rng = np.random.default_rng(len(widths) + m)
    X = rng.normal(size=(m, widths[0])).astype(dtype)
    weights = fastdln.init_weights(widths, "random", seed=1, dtype=dtype)
    expected = _naive(X, weights)
    out = fastdln.predict(X, weights)
    assert out.dtype == np.float64 and out.shape == (m, widths[-1])
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())
    b = rng.normal(size=widths[-1])
    np.testing.assert_allclose(fastdln.predict(X, weights, b), expected + b, rtol=1e-12,
                               atol=1e-12 * np.abs(expected).max())


def test_predict_reads_x_in_place_and_by_blocks(tmp_path):
    """A float64 X (C, Fortran order or a memory map) is never copied; the output is the only
    large allocation, also with integers (converted a block at a time)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100000, 32))
    weights = fastdln.init_weights([32] * 5 + [2], "orthogonal", seed=0)
    np.save(tmp_path / "X.npy", X)
    inputs = [X, np.asfortranarray(X), np.load(tmp_path / "X.npy", mmap_mode="r"),
              np.rint(X * 100).astype(np.int64)]
    for data in inputs:
        tracemalloc.start()
        out = fastdln.predict(data, weights)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < X.nbytes / 4, (type(data), peak)
        np.testing.assert_allclose(out, _naive(data, weights), rtol=1e-12, atol=1e-12)


def test_predict_names_a_non_finite_entry():
    X = np.ones((1000, 5))
    X[700, 3] = np.nan
    weights = fastdln.init_weights([5, 4, 1], seed=0)
    with pytest.raises(ValueError, match="X must be finite: row 700, column 3 is nan"):
        fastdln.predict(X, weights)
    X[700, 3] = 1e308  # finite entries whose sum overflows are fine
    X[701, 3] = 1e308
    assert fastdln.predict(X, weights).shape == (1000, 1)
    with pytest.raises(ValueError, match="weights\\[1\\] must be finite"):
        fastdln.predict(X, [weights[0], weights[1] * np.inf])
