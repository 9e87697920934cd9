"""Reliability: awkward but valid input, untouched caller arrays, fuzzing, divergence, drift,
determinism across processes and BLAS threads, concurrent threads, failing callbacks."""

import os
import pickle
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits

import fastdln
from fastdln import theory
from fastdln.core.methods import METHODS
from fastdln.maths.init import INITS
from fastdln.maths.losses import REGISTRY as LOSSES
from fastdln.maths.synthetic import random_data
from tests.helpers import max_relative_difference

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _both(X, Y, widths, **kwargs):
    fast = fastdln.train(X, Y, widths=widths, seed=0, **kwargs)
    naive = fastdln.train(X, Y, widths=widths, seed=0, engine="reference", **kwargs)
    return fast, naive


def _memmap(tmp_path, array):
    path = tmp_path / "x.dat"
    mm = np.memmap(path, dtype=array.dtype, mode="w+", shape=array.shape)
    mm[:] = array
    mm.flush()
    return np.memmap(path, dtype=array.dtype, mode="r", shape=array.shape)


AWKWARD = ["fortran", "strided", "readonly", "memmap", "integer", "one_d_y", "one_sample",
           "wide", "zero_x", "exact_fit", "huge", "tiny"]


@pytest.mark.parametrize("case", AWKWARD)
def test_awkward_but_valid_input_gives_the_reference_answer(tmp_path, case):
    X, Y = random_data(40, 6, 2, seed=1)
    widths = [6, 7, 7, 2]
    if case == "fortran":
        X, Y = np.asfortranarray(X), np.asfortranarray(Y)
    elif case == "strided":
        big = np.zeros((80, 12))
        big[::2, ::2] = X
        X = big[::2, ::2]
    elif case == "readonly":
        X.flags.writeable = False
        Y.flags.writeable = False
    elif case == "memmap":
        X = _memmap(tmp_path, X)
    elif case == "integer":
        X = np.round(X * 10).astype(np.int64)
        Y = np.round(Y * 3).astype(np.int32)
    elif case == "one_d_y":
        Y, widths = Y[:, 0], [6, 7, 7, 1]
    elif case == "one_sample":
        X, Y = X[:1], Y[:1]
    elif case == "wide":
        X, Y = random_data(5, 30, 2, seed=2)
        widths = [30, 30, 2]
    elif case == "zero_x":
        X = np.zeros_like(X)
    elif case == "exact_fit":  # the initial network already fits the targets exactly
        Y = fastdln.predict(X, fastdln.init_weights(widths, "orth-identity", seed=0))
    elif case == "huge":
        X, Y = X * 1e150, Y * 1e150
    elif case == "tiny":
        X, Y = X * 1e-150, Y * 1e-150
    fast, naive = _both(X, Y, widths, sweeps=4)
    assert fast.status == naive.status == "max_sweeps"
    for result in (fast, naive):
        assert np.all(np.isfinite(result.errors)) and np.all(np.isfinite(result.learning_rates))
        assert all(np.all(np.isfinite(W)) for W in result.weights)
    scale = max(np.max(np.abs(W)) for W in naive.weights)
    assert max(np.max(np.abs(a - b)) for a, b in zip(fast.weights, naive.weights)) <= 1e-10 * scale
    # errors are differences of losses of size ||Y||^2 / m: compare on that scale
    loss_scale = float(np.sum(np.asarray(Y, dtype=float) ** 2)) / len(Y)
    np.testing.assert_allclose(fast.errors, naive.errors, rtol=1e-8, atol=1e-12 * loss_scale)
    if case == "exact_fit":  # nothing to gain: every update is skipped, never a 0/0
        assert np.max(np.abs(fast.errors)) <= 1e-15 * loss_scale


def _snapshot(*arrays):
    return [np.array(a, copy=True) for a in arrays]


def test_no_public_entry_point_modifies_the_callers_arrays(tmp_path):
    from fastdln import DeepLinearRegressor
    from fastdln.apps.experiments import run_grid

    X, Y = random_data(30, 5, 2, seed=4)
    weights = fastdln.init_weights([5, 6, 2], "random", seed=0)
    before = _snapshot(X, Y, *weights)
    for engine in ("fast", "reference"):
        for method in ({}, {"method": "gd", "lr": 0.01}, {"method": "bcsgd"}, {"loss": "l4"}):
            fastdln.train(X, Y, weights, engine=engine, sweeps=2, **method)
    trainer = fastdln.Trainer(X, Y, weights)
    trainer.sweep(2)
    trainer.weights[0][:] = 7.0  # a copy: the trainer's state is not exposed either
    assert not np.any(trainer.weights[0] == 7.0)
    fastdln.global_optimum(X, Y, [5, 6, 2])
    fastdln.global_optimum(X, Y, loss="l4")
    fastdln.predict(X, weights)
    fastdln.save(tmp_path / "m.npz", weights)
    theory.gd_rate(X, 3, 2)
    theory.c_constant(X, fastdln.global_optimum(X, Y).weight, 3)
    model = DeepLinearRegressor(max_sweeps=3).fit(X, Y)
    model.predict(X)
    configs = [dict(data="random:20:3:1:0", depth=2, sweeps=2)]
    run_grid(configs, n_workers=1)
    assert configs == [dict(data="random:20:3:1:0", depth=2, sweeps=2)]
    for a, b in zip(before, [X, Y, *weights]):
        np.testing.assert_array_equal(a, b)


@st.composite
def calls(draw):
    """Random valid and invalid calls of the public functions."""
    name = draw(st.sampled_from(["train", "init_weights", "global_optimum", "predict"]))
    m = draw(st.integers(0, 8))
    n0 = draw(st.integers(0, 4))
    nL = draw(st.integers(0, 3))
    X = draw(st.sampled_from(["ok", "nan", "inf", "1d", "3d", "complex", "str", "list"]))
    rng = np.random.default_rng(draw(st.integers(0, 100)))
    data = rng.normal(size=(m, n0))
    if X == "nan" and data.size:
        data.flat[0] = np.nan
    elif X == "inf" and data.size:
        data.flat[-1] = np.inf
    elif X == "1d":
        data = data.ravel()
    elif X == "3d":
        data = data[..., None]
    elif X == "complex":
        data = data + 1j
    elif X == "str":
        data = data.astype(str)
    elif X == "list":
        data = data.tolist()
    widths = draw(st.lists(st.one_of(st.integers(-1, 5), st.floats(0, 3), st.none()),
                           min_size=0, max_size=4))
    options = dict(
        init=draw(st.sampled_from([*INITS, "bogus"])),
        order=draw(st.sampled_from(["ascending", "descending", 3])),
        lr=draw(st.sampled_from(["optimal", "bounded", 0.1, -1.0, float("nan"), "x"])),
        sweeps=draw(st.sampled_from([0, 1, 2, -1, 1.5])),
        loss=draw(st.sampled_from(["l2", "l4", "l3", None, *LOSSES])),
        method=draw(st.sampled_from([*METHODS, "sgd"])),
    )
    return name, data, rng.normal(size=(m, nL)), [n0] + widths + [nL] if widths else widths, \
        options


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls())
def test_fuzzing_raises_only_documented_errors_and_never_returns_nan(call):
    name, X, Y, widths, options = call
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            if name == "train":
                if options["method"] == "gd" and isinstance(options["lr"], str):
                    options["lr"] = 0.1
                result = fastdln.train(X, Y, widths=widths, **options)
                if result.status != "diverged":
                    assert np.all(np.isfinite(result.errors))
                    assert all(np.all(np.isfinite(W)) for W in result.weights)
            elif name == "init_weights":
                weights = fastdln.init_weights(widths, options["init"], seed=1)
                assert all(np.all(np.isfinite(W)) for W in weights)
            elif name == "global_optimum":
                opt = fastdln.global_optimum(X, Y, widths or None, loss=options["loss"])
                assert np.all(np.isfinite(opt.weight)) and np.isfinite(opt.loss)
            else:
                weights = fastdln.init_weights(widths, "random", seed=1)
                assert np.all(np.isfinite(fastdln.predict(X, weights)))
        except (ValueError, TypeError):
            pass


def test_gd_with_the_rate_of_reference_11_diverges_on_the_paper_setting():
    X, Y = random_data(600, 128, 10, seed=0)
    rate = theory.gd_rate(X, 100, 10)
    with pytest.warns(RuntimeWarning, match="diverged at iteration"):
        result = fastdln.train(X, Y, widths=[128] * 100 + [10], init="orthogonal", seed=0,
                               method="gd", lr=rate, sweeps=200)
    assert result.status == "diverged" and result.diverged_at == result.iterations + 1
    assert all(np.all(np.isfinite(W)) for W in result.weights)


def test_no_drift_after_10000_updates_in_one_sweep():
    """The residual is updated (R -= eta Z) 10,000 times without a recomputation."""
    X, Y = random_data(20, 3, 2, seed=5)
    trainer = fastdln.Trainer(X, Y, widths=[3] * 10000 + [2], init="random", seed=6,
                              compress=False)
    trainer.sweep()
    assert trainer.iteration == 10000
    engine = trainer._engine
    recomputed = engine.residual()
    scale = np.linalg.norm(recomputed)
    assert np.linalg.norm(engine.Rt.T - recomputed) <= 1e-12 * scale


SCRIPT = ("import sys, numpy as np, fastdln; from fastdln.maths.synthetic import random_data; "
          "X, Y = random_data(300, 64, 5, 9); r = fastdln.train(X, Y, widths=[64]*20+[5], "
          "seed=3, sweeps=5, method='bcsgd', sampling='uniform'); "
          "fastdln.save(sys.argv[1], r.weights)")


def test_bitwise_identical_across_processes(tmp_path):
    paths = [tmp_path / f"run{k}.npz" for k in range(2)]
    for path in paths:
        subprocess.run([sys.executable, "-c", SCRIPT, str(path)], check=True, cwd=ROOT,
                       timeout=300)
    a, b = (fastdln.load(p).weights for p in paths)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_blas_thread_counts_agree_to_1e_12():
    X, Y = random_data(600, 128, 10, seed=7)
    common = dict(widths=[128] * 30 + [10], seed=8, sweeps=3)
    with threadpool_limits(1):
        one = fastdln.train(X, Y, **common)
    with threadpool_limits(2):
        two = fastdln.train(X, Y, **common)
    assert max_relative_difference(one.weights, two.weights) < 1e-12


def test_two_python_threads_train_different_problems_correctly():
    problems = [random_data(200, 16, 3, seed=s) for s in (10, 11)]
    serial = [fastdln.train(X, Y, widths=[16] * 40 + [3], seed=1, sweeps=5)
              for X, Y in problems]
    results = [None, None]

    def work(k):
        X, Y = problems[k]
        results[k] = fastdln.train(X, Y, widths=[16] * 40 + [3], seed=1, sweeps=5)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, expected in zip(results, serial):
        assert max_relative_difference(got.weights, expected.weights) < 1e-12


def test_a_callback_that_raises_stops_the_run_with_the_partial_result():
    X, Y = random_data(50, 5, 2, seed=12)

    def callback(trainer):
        if trainer.sweeps_done == 3:
            raise KeyError("stop here")

    with pytest.raises(KeyError, match="stop here") as caught:
        fastdln.train(X, Y, widths=[5, 5, 2], seed=0, sweeps=10, callback=callback)
    partial = caught.value.partial_result
    assert partial.status == "stopped" and partial.sweeps == 3
    assert partial.errors.size == 1 + 3 * 2
    pickle.dumps(partial)  # a plain result object


def test_huge_but_finite_data_train_or_are_refused_by_name():
    """Column norms of 1e150-sized data do not overflow (the run trains, exactly rescaled);
    data whose loss itself cannot be a float64 are refused naming Y, not reported as inf."""
    rng = np.random.default_rng(11)
    X, B = rng.normal(size=(100, 5)), rng.normal(size=(5, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning on the way
        result = fastdln.train(X * 1e150, X @ B * 1e150, widths=[5, 5, 2], sweeps=30, seed=0)
    assert np.all(np.isfinite(result.errors)) and result.errors[-1] < 1e-20 * result.errors[0]
    assert max_relative_difference([np.linalg.multi_dot(result.weights[::-1])], [B.T]) < 1e-10
    with pytest.raises(ValueError, match="Y is too large"):
        fastdln.train(X * 1e160, X @ B * 1e160, widths=[5, 5, 2], sweeps=1, seed=0)
    # the loss of tiny Y underflows; X so large that the initial outputs overflow: by name
    with pytest.raises(ValueError, match="Y is too small: its scale is about"):
        fastdln.train(X, X @ B * 1e-300, widths=[5, 5, 2], sweeps=1, seed=0)
    with pytest.raises(ValueError, match="initial error overflows float64.*divide X"):
        fastdln.train(X * 1e300, X @ B, widths=[5, 5, 2], sweeps=1, seed=0)
    tiny_x = fastdln.train(X * 1e-300, X @ B, widths=[5, 5, 2], sweeps=2, seed=0)
    assert np.all(np.isfinite(tiny_x.errors)) and tiny_x.errors[-1] < tiny_x.errors[0]
