"""The stateful Trainer: the same bits however the work is split, and exact state round trips."""

import pickle

import numpy as np
import pytest

import fastdln
from fastdln.core.methods import METHODS as REGISTERED_METHODS
from fastdln.maths.losses import REGISTRY as LOSSES
from fastdln.maths.losses import log_cosh
from fastdln.maths.synthetic import random_data
from tests.helpers import assert_same_run

ORDERS = ["descending", "ascending"]
ENGINES = ["fast", "reference"]


def _problem(widths=(10, 16, 12, 16, 3), m=80, seed=0):
    X, Y = random_data(m, widths[0], widths[-1], seed)
    return X, Y, dict(widths=list(widths), init="random", seed=seed + 1)


# The runs of every registered method (with the options each is exercised with), the Lp loss
# and every registered custom loss, by name and as its object.
METHOD_RUNS = {"bcgd": [dict(lr="optimal"), dict(lr="bounded"), dict(lr=0.01)],
               "gd": [dict(method="gd", lr=0.01)],
               "bcsgd": [dict(method="bcsgd"), dict(method="bcsgd", sampling="uniform",
                                                    batch_size=7)]}
METHODS = ([run for name in REGISTERED_METHODS for run in METHOD_RUNS.get(name, [])]
           + [dict(loss="l4"), dict(loss=log_cosh)] + [dict(loss=name) for name in LOSSES])


def test_every_registered_method_has_runs_here():
    assert set(METHOD_RUNS) == set(REGISTERED_METHODS)


def _ids(options):
    return "-".join(getattr(v, "name", str(v)) for v in options.values())


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("options", METHODS, ids=_ids)
def test_sweep_one_k_times_equals_sweep_k_equals_train(engine, order, options):
    X, Y, setup = _problem()
    k = 4
    one_by_one = fastdln.Trainer(X, Y, order=order, engine=engine, **options, **setup)
    for _ in range(k):
        one_by_one.sweep(1)
    at_once = fastdln.Trainer(X, Y, order=order, engine=engine, **options, **setup)
    at_once.sweep(k)
    trained = fastdln.train(X, Y, order=order, engine=engine, sweeps=k, **options, **setup)
    assert_same_run(one_by_one, at_once)
    assert_same_run(one_by_one, trained)
    assert one_by_one.sweeps_done == at_once.sweeps_done == trained.sweeps == k
    assert one_by_one.iteration == trained.iterations == k * one_by_one.updates_per_sweep


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("options", METHODS, ids=_ids)
def test_depth_steps_equal_one_sweep(engine, order, options):
    X, Y, setup = _problem()
    stepped = fastdln.Trainer(X, Y, order=order, engine=engine, **options, **setup)
    errors = [stepped.step() for _ in range(stepped.updates_per_sweep)]
    swept = fastdln.Trainer(X, Y, order=order, engine=engine, **options, **setup)
    np.testing.assert_array_equal(errors, swept.sweep())
    assert_same_run(stepped, swept)
    assert stepped.sweeps_done == 1 and stepped.position == 0


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("options", METHODS, ids=_ids)
@pytest.mark.parametrize("stop_after", [0, 2, 5])
def test_state_round_trip_continues_identically(engine, order, options, stop_after):
    """Stop after ``stop_after`` updates (mid-sweep for 2 and 5), save, restore, continue."""
    X, Y, setup = _problem(widths=(10, 30, 30, 30, 3))  # width reduction applies
    setup["init"] = "orth-identity"
    uninterrupted = fastdln.Trainer(X, Y, order=order, engine=engine, **options, **setup)
    uninterrupted.sweep(3 if options.get("method") != "gd" else 12)
    first = fastdln.Trainer(X, Y, order=order, engine=engine, **options, **setup)
    for _ in range(stop_after):
        first.step()
    state = pickle.loads(pickle.dumps(first.state_dict()))
    resumed = fastdln.Trainer.from_state(state)
    assert resumed.position == stop_after % resumed.updates_per_sweep
    assert resumed.width_reduced == first.width_reduced
    target = uninterrupted.sweeps_done
    while resumed.sweeps_done < target:
        resumed.sweep()
    assert_same_run(resumed, uninterrupted)


def test_state_of_a_newer_format_is_refused():
    X, Y, setup = _problem()
    state = fastdln.Trainer(X, Y, **setup).state_dict()
    state["format"] = 99
    with pytest.raises(ValueError, match="newer"):
        fastdln.Trainer.from_state(state)
    with pytest.raises(TypeError, match="state_dict"):
        fastdln.Trainer.from_state({"weights": []})


def test_trainer_exposes_its_progress():
    X, Y, setup = _problem()
    trainer = fastdln.Trainer(X, Y, tol=1e-30, **setup)
    assert trainer.status == "ready" and trainer.iteration == 0 and trainer.errors.size == 1
    trainer.step()
    assert trainer.iteration == 1 and trainer.position == 1 and trainer.sweeps_done == 0
    trainer.sweep()  # finishes the current sweep
    assert trainer.position == 0 and trainer.sweeps_done == 1 and trainer.iteration == 4
    assert trainer.learning_rates.size == 4 and trainer.errors.size == 5
    assert trainer.status == "running"
    assert trainer.optimum.weight.shape == (3, 10)


def test_tol_converges_and_callback_stops():
    X, Y, setup = _problem()
    result = fastdln.train(X, Y, sweeps=500, tol=1e-8, **setup)
    assert result.status == "converged" and result.errors[-1] <= 1e-8
    assert result.sweeps < 500
    seen = []
    result = fastdln.train(X, Y, sweeps=50, callback=lambda t: seen.append(t.sweeps_done) or
                           t.sweeps_done == 3, **setup)
    assert result.status == "stopped" and result.sweeps == 3 and seen == [1, 2, 3]
    result = fastdln.train(X, Y, sweeps=6, record="sweep", **setup)
    assert result.status == "max_sweeps" and result.errors.size == 7


def test_divergence_keeps_the_last_finite_weights():
    X, Y, setup = _problem()
    with pytest.warns(RuntimeWarning, match="diverged"):
        result = fastdln.train(X, Y, lr=50.0, sweeps=20, **setup)
    assert result.status == "diverged"
    assert result.diverged_at == result.iterations + 1
    assert all(np.all(np.isfinite(W)) for W in result.weights)
    assert np.all(np.isfinite(result.errors))
    with pytest.warns(RuntimeWarning):
        trainer = fastdln.Trainer(X, Y, lr=50.0, **setup)
        trainer.sweep(20)
    with pytest.raises(RuntimeError, match="diverged"):
        trainer.sweep()


def test_no_change_counts_sweeps_that_improve_by_less_than_loss_tol_of_the_best():
    from fastdln.core.runner import NoChange

    rule = NoChange(fastdln.Settings(n_iter_no_change=2, loss_tol=0.1), 10.0)
    # 8.0 gains 2 > 1 (0.1 of 10); 7.5 gains 0.5 <= 0.8; 6.0 gains 1.5 > 0.75; 6.1 and 5.9
    # gain at most 0.1 <= 0.6: two in a row
    assert [rule.stalled(loss) for loss in (8.0, 7.5, 6.0, 6.1, 5.9)] == [
        False, False, False, False, True]
    assert rule.best == 5.9
    exact = NoChange(fastdln.Settings(n_iter_no_change=1), 0.0)  # nothing left to improve
    assert exact.stalled(0.0)
    never = NoChange(fastdln.Settings(), 1.0)
    assert not any(never.stalled(1.0) for _ in range(50)) and never.count == 50


def test_train_stops_once_the_loss_stops_improving_and_only_when_asked():
    X, Y = random_data(300, 30, 4, seed=2)
    m = len(X)
    result = fastdln.train(X, Y, depth=3, sweeps=1000, seed=0, record="sweep",
                           n_iter_no_change=5, loss_tol=1e-3)
    assert result.status == "converged" and 5 < result.sweeps < 1000
    losses = result.errors + result.optimum.loss / m
    best = np.minimum.accumulate(losses)
    no_change = best[:-1] - losses[1:] <= 1e-3 * best[:-1]
    assert no_change[-5:].all() and not no_change[-6]  # five in a row, just now
    trainer = fastdln.Trainer(X, Y, depth=3, seed=0)
    trainer.sweep(3)
    assert trainer.loss == pytest.approx(trainer.errors[-1] + trainer.optimum.loss / m,
                                         rel=1e-15)
    assert fastdln.train(X, Y, depth=3, sweeps=40, seed=0).sweeps == 40  # off by default
    assert fastdln.Settings.from_state({**fastdln.Settings().to_state(),
                                        "widths": (30, 4)}).n_iter_no_change is None


def test_a_resumed_run_may_change_its_stop_rule(tmp_path):
    X, Y = random_data(100, 6, 2, seed=3)
    checkpoint = tmp_path / "run.ckpt"
    fastdln.train(X, Y, depth=2, sweeps=3, seed=0, checkpoint=checkpoint)
    resumed = fastdln.train(X, Y, sweeps=500, resume=checkpoint, n_iter_no_change=3,
                            loss_tol=1e-2)
    assert resumed.status == "converged" and resumed.sweeps < 500


def test_reading_a_trainer_between_steps_copies_nothing():
    """Tools read the weights and the latest error between updates: read-only views of the
    engine's buffers (they follow training), the error history without a copy, the last
    error without reading the history."""
    X, Y = random_data(120, 8, 3, seed=4)
    trainer = fastdln.Trainer(X, Y, widths=[8, 8, 8, 3], seed=1, init="random")
    trainer.sweep(1)
    views = trainer.weight_views()
    for view, copy in zip(views, trainer.weights):
        np.testing.assert_array_equal(view, copy)
        assert not view.flags.writeable
        assert np.shares_memory(view, trainer._engine.buf)
    before = views[0].copy()
    trainer.step(), trainer.step(), trainer.step()  # the last step updates W_1
    assert not np.array_equal(views[0], before)  # a view follows training
    np.testing.assert_array_equal(views[0], trainer.weights[0])
    errors = trainer.errors
    assert not errors.flags.writeable and np.shares_memory(errors, trainer.errors)
    assert trainer.error == errors[-1] and trainer.error == trainer.errors[trainer.iteration]
    with pytest.raises(ValueError, match="read-only"):
        errors[0] = 0.0


def test_weight_views_of_a_width_reduced_run_are_read_only_copies():
    X, Y = random_data(60, 4, 2, seed=2)
    trainer = fastdln.Trainer(X, Y, widths=[4, 9, 9, 2], seed=0)  # orth-identity: reduced
    assert trainer.width_reduced
    views = trainer.weight_views()
    assert [v.shape for v in views] == [(9, 4), (9, 9), (2, 9)]
    assert not any(v.flags.writeable or np.shares_memory(v, trainer._engine.buf)
                   for v in views)


@pytest.mark.parametrize("method", ["bcgd", "gd"])
def test_a_state_between_sweeps_holds_no_caches_and_resumes_bit_for_bit(method):
    """A sweep's first update rebuilds the prefixes, suffixes and residual: a state taken
    between sweeps leaves them out (it holds the weights once); in the middle of a sweep, or
    after a GD iteration (whose forward pass the next one reuses), they are kept."""
    X, Y = random_data(200, 16, 3, seed=5)
    common = dict(widths=[16] * 12 + [3], seed=2, method=method, threads=1,
                  **({"lr": 1e-3} if method == "gd" else {}))
    trainer = fastdln.Trainer(X, Y, **common)
    trainer.sweep(1)
    between = pickle.dumps(trainer.state_dict())
    trainer.step()
    middle = pickle.dumps(trainer.state_dict())
    has_caches = "pbuf" in pickle.loads(between)["engine"]
    assert has_caches == (method == "gd") and "pbuf" in pickle.loads(middle)["engine"]
    assert "w" not in pickle.loads(between)["engine"]  # the weights once
    weights = sum(W.nbytes for W in trainer.weights)
    if method == "bcgd":
        assert len(between) < 1.3 * weights < len(middle)
    resumed = [fastdln.Trainer.from_state(pickle.loads(blob)) for blob in (between, middle)]
    resumed[0].step()
    for other in (trainer, *resumed):
        other.sweep(2)
    for other in resumed:
        for a, b in zip(other.weights, trainer.weights):
            np.testing.assert_array_equal(a, b)
