"""The Numba engine against the naive reference, and the O(L) claim without timing."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import fastdln
from fastdln.maths.init import INITS
from fastdln.maths.losses import REGISTRY as LOSSES
from fastdln.maths.synthetic import random_data
from tests.helpers import ERRORS_ATOL, ERRORS_RTOL, max_relative_difference



@st.composite
def configurations(draw):
    depth = draw(st.integers(1, 12))
    n0 = draw(st.integers(1, 9))
    nL = draw(st.integers(1, 6))
    hidden = draw(st.lists(st.integers(1, 12), min_size=depth - 1, max_size=depth - 1))
    m = draw(st.sampled_from([max(1, n0 - 3), n0, n0 + 7, 40]))
    return dict(
        widths=[n0] + hidden + [nL], m=m,
        order=draw(st.sampled_from(["descending", "ascending"])),
        lr=draw(st.sampled_from(["optimal", "bounded", 0.02])),
        eta=draw(st.sampled_from([0.5, 1.0, 1.9])),
        init=draw(st.sampled_from(INITS)),
        rank_deficient=draw(st.booleans()),
        one_d=draw(st.booleans()) and nL == 1,
        compress=draw(st.sampled_from(["auto", True, False])),
        reduce_width=draw(st.sampled_from(["auto", False])),
        seed=draw(st.integers(0, 2**16)),
        threads=draw(st.sampled_from([None, 1, 2])),
    )


def _data(config):
    widths, m = config["widths"], config["m"]
    X, Y = random_data(m, widths[0], widths[-1], config["seed"])
    if config["rank_deficient"] and widths[0] > 1:
        X[:, -1] = X[:, 0]  # a repeated feature: rank(X) < n0
    if config["one_d"]:
        Y = Y[:, 0]
    return X, Y


def _train_both(config, sweeps=4):
    """Both engines update by update, up to ``sweeps`` sweeps or the optimum to rounding.

    Once the error is at rounding level (1e-12 of the initial error) the gradients are
    rounding noise, and the optimal rate (a ratio of two noises) can send both engines along
    different equally optimal directions: weights are compared up to that point.

    A third run, the reference from weights perturbed by 1e-15 relative (a few ulps), measures
    the trajectory's own sensitivity to rounding: no two implementations can agree better.
    """
    X, Y = _data(config)
    weights = fastdln.init_weights(config["widths"], config["init"], seed=config["seed"])
    signs = np.random.default_rng(0)
    perturbed = [W * (1 + 1e-15 * signs.choice([-1.0, 1.0], W.shape)) for W in weights]
    lr, eta = config["lr"], (config["eta"] if config["lr"] == "bounded" else None)
    common = dict(order=config["order"], lr=lr, eta=eta)
    fast = fastdln.Trainer(X, Y, weights, compress=config["compress"],
                           reduce_width=config["reduce_width"],
                           threads=config.get("threads"), **common)
    naive = fastdln.Trainer(X, Y, weights, engine="reference", **common)
    shaken = fastdln.Trainer(X, Y, perturbed, engine="reference", **common)
    floor = 1e-12 * naive.errors[0]
    for _ in range(sweeps * naive.depth):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            naive_error, fast_error = naive.step(), fast.step()
            if shaken.status != "diverged":
                shaken.step()
        if naive_error is None or fast_error is None or naive_error <= floor:
            break
    return fast, naive, shaken


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configurations())
@example(config=dict(  # the reference's error is at its rounding level: -1.8e-16 vs 1.7e-37
    widths=[1, 11, 12, 12, 6, 2, 2, 4, 11, 1], m=40, order="descending", lr="optimal",
    eta=0.5, init="random", rank_deficient=False, one_d=False, compress="auto",
    reduce_width="auto", seed=42000))
def test_fast_engine_equals_reference(config):
    """Every weight within 1e-10 relative of the reference; on the rare ill-conditioned
    trajectories where a few ulps of perturbation already move the reference itself further,
    within 10x that measured sensitivity (printed with the example when it applies)."""
    fast, naive, shaken = _train_both(config)
    if naive.status == "diverged" or fast.status == "diverged":
        # A constant rate may blow up; then both must agree that it did.
        assert fast.status == naive.status
        return
    assert fast.iteration == naive.iteration
    sensitivity = (max_relative_difference(shaken.weights, naive.weights)
                   if shaken.iteration == naive.iteration else 0.0)
    tolerance = max(1e-10, 10 * sensitivity)
    if tolerance > 1e-10:
        print(f"ill-conditioned trajectory: reference moved {sensitivity:.1e} by 1e-15 "
              "perturbations")
    assert max_relative_difference(fast.weights, naive.weights) < tolerance
    # An error is loss(W) - loss(W*) over m: the reference forms both losses on the full data,
    # so its errors are resolved only to the rounding of a loss (ERRORS_ATOL * ||Y||^2 / m),
    # while the compressed fast engine resolves them exactly (docs/math.md section 4).
    scale = max(naive.errors[0], 1e-12)
    X, Y = _data(config)
    loss_scale = float(np.sum(np.asarray(Y, dtype=float) ** 2)) / len(Y)
    np.testing.assert_allclose(fast.errors, naive.errors, rtol=ERRORS_RTOL,
                               atol=max(1e-10 * scale, ERRORS_ATOL * loss_scale))
    # The optimal rate ||G||^2 / ||Z||^2 is only defined by the data when the update gains
    # something: when G vanishes (a layer whose gradient the previous update zeroed) both
    # sides divide rounding noise, and either engine may judge G to be noise and skip
    # (eta 0, also for the bounded rate): such rates are conventions, not compared.
    gain = naive.errors[:-1] - naive.errors[1:]
    adaptive = config["lr"] in ("optimal", "bounded")  # rates a noise gradient may skip
    informative = (gain > 1e-9 * scale) | (not adaptive)

    def rate_difference(rates):
        a, b = rates[informative], naive.learning_rates[informative]
        return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300), initial=0.0))

    # A rate is the minimizer of a line search: the loss is flat in it to first order, and
    # its own rounding error grows like eps ||S|| ||J|| ||P|| / ||G|| as G gets small (seen
    # up to 2e-8 here while the weights agreed to 1e-10). The weights above are the
    # contract; rates are checked to 1e-6 or 10x the reference's measured sensitivity.
    rate_sensitivity = (rate_difference(shaken.learning_rates)
                        if shaken.iteration == naive.iteration else 0.0)
    assert rate_difference(fast.learning_rates) <= max(1e-6, 10 * rate_sensitivity)


WIDE = [10, 30, 31, 29, 3]
SMALL_BLOCKS = dict(WHOLE_GRADIENT=400, GRADIENT_BLOCK=200)  # 30x31 and 31x29 go by blocks


@pytest.fixture
def small_blocks(monkeypatch):
    """Gradients of more than 400 entries formed by blocks of 200 (the engine reads the
    limits when it is built), so that the blocked step is tested at reference-friendly sizes."""
    from fastdln.maths import _kernels

    for name, value in SMALL_BLOCKS.items():
        monkeypatch.setattr(_kernels, name, value)
    blocking = np.array(list(SMALL_BLOCKS.values()))
    rows = [_kernels.gradient_rows(a, b, *blocking) for a, b in zip(WIDE[1:], WIDE[:-1])]
    assert rows[0] == WIDE[1] and rows[-1] == WIDE[-1]  # small layers stay whole
    assert rows[1:3] == [6, 6] and WIDE[2] % 6 and WIDE[3] % 6  # last blocks are partial


@pytest.mark.parametrize("order", ["descending", "ascending"])
@pytest.mark.parametrize("loss, lr", [("l2", "optimal"), ("l2", "bounded"), ("l2", 1e-3),
                                      ("l4", "optimal"), ("l4", 1e-3),
                                      *[(name, "optimal") for name in LOSSES]])
def test_wide_layers_update_block_by_block_like_the_reference(small_blocks, order, loss, lr):
    """Gradients too large to store whole are formed by blocks of rows in the step, the next
    suffix accumulated from the blocks and ||G|| taken from an LQ factorization of S."""
    X, Y = random_data(300, WIDE[0], WIDE[-1], seed=11)
    weights = fastdln.init_weights(WIDE, "random", seed=12)
    common = dict(sweeps=3, order=order, lr=lr, eta=1.0 if lr == "bounded" else None,
                  loss=loss)
    fast = fastdln.train(X, Y, weights, **common)
    naive = fastdln.train(X, Y, weights, engine="reference", **common)
    assert fast.status == naive.status == "max_sweeps"
    assert max_relative_difference(fast.weights, naive.weights) < 1e-10
    # errors are loss - optimal loss: near the optimum a relative 1e-10 of them is below
    # the loss's own rounding, so they are compared as the hypothesis test does
    np.testing.assert_allclose(fast.errors, naive.errors, rtol=1e-8, atol=1e-12 * naive.errors[0])


@pytest.mark.parametrize("order", ["descending", "ascending"])
def test_wide_layers_skip_a_zero_gradient_and_still_pass_the_suffix_on(small_blocks, order):
    """A zero layer makes the gradients above it vanish (eta = 0): the blocked step must
    leave those weights alone and still hand the next layer its suffix."""
    X, Y = random_data(300, WIDE[0], WIDE[-1], seed=13)
    weights = fastdln.init_weights(WIDE, "random", seed=14)
    weights[1][:] = 0.0
    fast = fastdln.train(X, Y, weights, sweeps=2, order=order)
    naive = fastdln.train(X, Y, weights, sweeps=2, order=order, engine="reference")
    assert fast.learning_rates[0] == naive.learning_rates[0] == 0.0
    assert max_relative_difference(fast.weights, naive.weights) < 1e-10


def test_gradient_norm_without_the_gradient_is_as_accurate_as_forming_it():
    """||S^T A||^2 from the LQ factorization of S, where S is ill-conditioned (cond 1e7) and
    A points along its weak direction: within the first-order bound eps cond(S) that forming
    S^T A also has (measured: 4e-10, forming it 1e-11), where the Gram form loses eps cond^2
    (measured: 3e-3)."""
    from fastdln.maths import _kernels

    rng = np.random.default_rng(16)
    k, n_out, n_in = 4, 60, 7
    U = np.linalg.qr(rng.normal(size=(k, k)))[0]
    V = np.linalg.qr(rng.normal(size=(n_out, k)))[0]
    S = np.ascontiguousarray(U @ np.diag([1.0, 1e-3, 1e-5, 1e-7]) @ V.T)
    At = np.outer(rng.normal(size=n_in), U[:, 3]) + 1e-9 * rng.normal(size=(n_in, k))
    exact = float(np.sum((S.T.astype(np.longdouble) @ At.T.astype(np.longdouble)) ** 2))
    lq = _kernels._gradient_norm_squared(S.ravel(), np.ascontiguousarray(At).ravel(), k, n_out,
                                         n_in, np.empty(2 * k * n_out))
    gram = float(np.trace(At @ (S @ S.T) @ At.T))
    bound = np.finfo(float).eps * 1e7
    assert abs(lq - exact) <= bound * exact
    assert abs(gram - exact) > 1e4 * bound * exact  # the form this replaces


def test_blocked_gradients_need_no_whole_gradient_buffer(small_blocks):
    X, Y = random_data(50, WIDE[0], WIDE[-1], seed=15)
    engine = fastdln.Trainer(X, Y, widths=WIDE, reduce_width=False)._engine
    assert engine.work_g.size == max(WIDE[1] * WIDE[0], 6 * WIDE[1], 6 * WIDE[2]) < 31 * 30


@pytest.mark.parametrize("order", ["descending", "ascending"])
@pytest.mark.parametrize("lr", ["optimal", "bounded", 0.01])
def test_speedups_are_applied_where_exact_and_change_nothing(order, lr):
    n0, nL = 10, 3
    X, Y = random_data(200, n0, nL, seed=8)
    weights = fastdln.init_weights([n0, 24, 30, 24, nL], "orth-identity", seed=9)
    fast = fastdln.train(X, Y, weights, sweeps=5, order=order, lr=lr)
    plain = fastdln.train(X, Y, weights, sweeps=5, order=order, lr=lr, compress=False,
                          reduce_width=False)
    naive = fastdln.train(X, Y, weights, sweeps=5, order=order, lr=lr, engine="reference")
    assert fast.compressed and fast.width_reduced
    assert not plain.compressed and not plain.width_reduced
    assert max_relative_difference(fast.weights, naive.weights) < 1e-10
    assert max_relative_difference(plain.weights, naive.weights) < 1e-10
    # the padding E_j (identity here) comes back untouched
    for W_fast, W_init in zip(fast.weights[1:-1], weights[1:-1]):
        np.testing.assert_array_equal(W_fast[n0:, n0:], W_init[n0:, n0:])


def test_width_reduction_is_refused_when_it_would_not_be_exact():
    X, Y = random_data(50, 6, 2, seed=1)
    for init in ["random", "orthogonal"]:
        assert not fastdln.train(X, Y, widths=[6, 20, 20, 2], init=init, seed=1).width_reduced
    weights = fastdln.init_weights([6, 20, 20, 2], "identity")
    weights[1][15, 2] = 0.5  # breaks the padded form
    assert not fastdln.train(X, Y, weights).width_reduced


def test_compression_is_skipped_when_it_gains_nothing():
    X, Y = random_data(5, 8, 2, seed=2)  # m < n0: rank(X) = m
    assert not fastdln.train(X, Y, widths=[8, 2]).compressed
    X, Y = random_data(50, 8, 2, seed=2)
    assert fastdln.train(X, Y, widths=[8, 2]).compressed


def _products_of_one_sweep(order, depth, width=16, nL=3, m=40):
    X, Y = random_data(m, width, nL, seed=3)
    trainer = fastdln.Trainer(X, Y, widths=[width] * depth + [nL], order=order,
                              init="random", seed=4)
    engine = trainer._engine
    engine.counts[:] = 0
    trainer.sweep()
    return engine.counts.copy(), engine


@pytest.mark.parametrize("order", ["descending", "ascending"])
@pytest.mark.parametrize("depth", [1, 2, 7, 30])
def test_a_sweep_costs_one_forward_pass(order, depth):
    """O(L): exactly L-1 products of size n x n x r per sweep, as in one forward pass."""
    counts, engine = _products_of_one_sweep(order, depth)
    assert counts[2] == depth - 1
    # multiply-adds: one forward pass, plus O(nL) terms per layer (rank-nL gradients)
    n, k, r = 16, 3, engine.X.shape[1]
    forward = (depth - 1) * n * n * r + k * n * r
    per_layer_small = 4 * k * n * r + 2 * n * n * k + 2 * k * k * n + k * n * n
    assert counts[1] <= forward + depth * per_layer_small


@pytest.mark.parametrize("order", ["descending", "ascending"])
def test_float32_stays_close_to_float64(order):
    """Documented tolerance (README): over 20 sweeps at width 64, depth 20, float32 errors stay
    within 1e-6 of the initial error of float64's and weights within 1e-4 relative
    (measured: 8e-8 and 2e-6)."""
    X, Y = random_data(600, 64, 10, seed=5)
    common = dict(widths=[64] + [64] * 19 + [10], seed=6, sweeps=20, order=order)
    single = fastdln.train(X, Y, dtype="float32", **common)
    double = fastdln.train(X, Y, **common)
    assert all(W.dtype == np.float32 for W in single.weights)
    assert single.errors.dtype == np.float64
    assert np.abs(single.errors - double.errors).max() <= 1e-6 * double.errors[0]
    assert max_relative_difference(single.weights, double.weights) < 1e-4


def test_residual_is_fresh_each_sweep_and_matches_recomputation():
    X, Y = random_data(300, 12, 4, seed=7)
    trainer = fastdln.Trainer(X, Y, widths=[12] * 10 + [4], init="random", seed=1,
                              compress=False)
    trainer.sweep(3)
    engine = trainer._engine
    np.testing.assert_allclose(engine.Rt.T, engine.residual(), rtol=1e-12, atol=1e-14)


def test_the_first_compile_is_announced_in_a_notebook_too(monkeypatch):
    """The notice goes where a person reads stderr: a terminal or a Jupyter notebook
    (ipykernel's stream, no terminal); never into a pipe or a log."""
    import importlib
    import io
    import time

    engines = importlib.import_module("fastdln.engines.common")

    class NotebookStream(io.StringIO):
        pass

    NotebookStream.__module__ = "ipykernel.iostream"
    monkeypatch.setattr(engines, "COMPILE_NOTICE_SECONDS", 0.01)
    for stream, told in ((NotebookStream(), True), (io.StringIO(), False)):
        monkeypatch.setattr("sys.stderr", stream)
        with engines.compile_notice(("a kernel compiled now", id(stream))):
            time.sleep(0.2)  # a first call that takes longer than the notice's delay
        assert ("fastdln: compiling the kernels" in stream.getvalue()) is told
