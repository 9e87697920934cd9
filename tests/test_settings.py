"""One home for every option: Settings, its validation, and resuming only what was saved."""

import dataclasses
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest

import fastdln
from fastdln import Settings, check_settings
from fastdln.core import io
from fastdln.core.data import Data
from fastdln.apps.experiments import check_config
from fastdln.core.settings import option_from_text, text_options
from fastdln.maths.synthetic import random_data
from tests.helpers import assert_same_run


def _data():
    return random_data(40, 5, 2, seed=0)


def test_the_example_of_the_issue_refuses_other_options(tmp_path):
    """Resuming with other options used to ignore them silently (the weights equalled a
    plain descending L2 run while ``settings`` said otherwise)."""
    X, Y = _data()
    W0 = fastdln.init_weights([5, 5, 5, 2], seed=0)
    path = tmp_path / "run.ckpt"
    fastdln.train(X, Y, W0, sweeps=2, checkpoint=path, checkpoint_every=1)
    with pytest.raises(ValueError, match="order: the checkpoint has 'descending', this call "
                                         "'ascending'") as caught:
        fastdln.train(X, Y, W0, sweeps=4, resume=path, order="ascending", loss="l4")
    assert "loss: the checkpoint has 'l2', this call 'l4'" in str(caught.value)


@pytest.mark.parametrize("change, named", [
    (dict(order="ascending"), "order"), (dict(loss="l4"), "loss"), (dict(lr=0.01), "lr"),
    (dict(lr="bounded"), "lr"), (dict(method="gd", lr=0.01), "method"),
    (dict(method="bcsgd"), "method"), (dict(dtype="float32"), "dtype"),
    (dict(widths=[5, 7, 5, 2]), "widths"), (dict(engine="reference"), "engine"),
    (dict(compress=False), "compress"), (dict(reduce_width=False), "reduce_width"),
    (dict(diagnostics=True), "diagnostics"), (dict(seed=1), "seed"),
    (dict(init="identity"), "init"),
])
def test_resume_refuses_every_option_that_changes_the_computation(tmp_path, change, named):
    X, Y = _data()
    path = tmp_path / "run.ckpt"
    fastdln.train(X, Y, widths=[5, 5, 5, 2], seed=0, sweeps=2, checkpoint=path)
    with pytest.raises(ValueError, match=f"{named}: the checkpoint has .*, this call"):
        fastdln.train(X, Y, sweeps=4, resume=path, **change)


@pytest.mark.parametrize("options", [dict(lr="bounded", eta=1.5, order="ascending"),
                                     dict(method="bcsgd", sampling="uniform", batch_size=5),
                                     dict(method="gd", lr=0.02), dict(loss="l4")],
                         ids=["bounded", "bcsgd", "gd", "l4"])
def test_resume_with_the_checkpoints_own_options_is_bitwise(tmp_path, options):
    X, Y = _data()
    common = dict(widths=[5, 6, 6, 2], seed=3, **options)
    full = fastdln.train(X, Y, sweeps=7, **common)
    path = tmp_path / "run.ckpt"
    fastdln.train(X, Y, sweeps=3, checkpoint=path, **common)
    weights = fastdln.init_weights([5, 6, 6, 2], seed=3)
    repeated = {k: v for k, v in common.items() if k not in ("widths", "seed")}
    resumed = fastdln.train(X, Y, weights, sweeps=7, resume=path, **repeated)
    assert_same_run(resumed, full)
    assert resumed.settings == full.settings


def test_resume_may_change_tol_and_refuses_other_initial_weights(tmp_path):
    X, Y = _data()
    path = tmp_path / "run.ckpt"
    fastdln.train(X, Y, widths=[5, 5, 2], seed=0, sweeps=2, checkpoint=path)
    resumed = fastdln.train(X, Y, sweeps=500, resume=path, tol=1e-6)
    assert resumed.status == "converged" and resumed.settings.tol == 1e-6
    other = fastdln.init_weights([5, 5, 2], seed=1)
    with pytest.raises(ValueError, match="weights differ from the initial weights"):
        fastdln.train(X, Y, other, sweeps=4, resume=path)


def test_from_state_names_missing_keys_and_contradictions():
    X, Y = _data()
    trainer = fastdln.Trainer(X, Y, widths=[5, 6, 2], seed=0)
    trainer.sweep()
    state = trainer.state_dict()
    broken = pickle.loads(pickle.dumps(state))
    del broken["progress"]["position"]
    del broken["engine"]["X"]
    with pytest.raises(ValueError, match=r"progress\['position'\].*engine\['X'\]"):
        fastdln.Trainer.from_state(broken)
    broken = pickle.loads(pickle.dumps(state))
    del broken["settings"]["order"]
    with pytest.raises(ValueError, match=r"lacks \['order'\]"):
        fastdln.Trainer.from_state(broken)
    for changes, fragment in [(dict(widths=(5, 7, 2), width=7), "widths"),
                              (dict(dtype="float32"), "float32"),
                              (dict(method="bcsgd"), "sampling state")]:
        broken = pickle.loads(pickle.dumps(state))
        broken["settings"].update(changes)
        with pytest.raises(ValueError, match=f"does not match its settings.*{fragment}"):
            fastdln.Trainer.from_state(broken)
    broken = pickle.loads(pickle.dumps(state))
    broken["settings"]["widths"] = (5, 7, 2)  # against its own width (6)
    with pytest.raises(ValueError, match=r"width=6 does not match widths=\[5, 7, 2\]"):
        fastdln.Trainer.from_state(broken)
    broken = pickle.loads(pickle.dumps(state))
    broken["progress"]["position"] = 7
    with pytest.raises(ValueError, match="position 7"):
        fastdln.Trainer.from_state(broken)
    assert_same_run(fastdln.Trainer.from_state(state), trainer)


def test_check_settings_validates_and_derives():
    s = check_settings(lr="bounded")
    assert s.eta == 1.0 and s.replace(lr="optimal").eta is None  # the derived eta is dropped
    assert check_settings(method="bcsgd").sampling == "importance"
    assert check_settings(method="bcsgd", sampling="uniform", m=10).batch_size == 10
    assert check_settings(s, order="ascending").lr == "bounded"
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['orderr'\]"):
        check_settings(orderr="ascending")
    with pytest.raises(ValueError, match="sampling is only used with method='bcsgd'"):
        check_settings(sampling="uniform")
    with pytest.raises(TypeError, match="diagnostics must be True or False"):
        check_settings(diagnostics="yes")
    with pytest.raises(TypeError, match="settings must be a fastdln.Settings"):
        check_settings({"order": "ascending"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.order = "ascending"  # type: ignore[misc]


def test_train_and_trainer_refuse_unknown_and_unused_options():
    X, Y = _data()
    with pytest.raises(TypeError, match="unknown option"):
        fastdln.train(X, Y, widths=[5, 2], ordr="ascending")
    with pytest.raises(ValueError, match="init .* not used when weights are given"):
        fastdln.Trainer(X, Y, fastdln.init_weights([5, 2], seed=0), init="identity")


def test_one_settings_object_travels_everywhere(tmp_path):
    X, Y = _data()
    settings = check_settings(widths=[5, 6, 2], seed=4, order="ascending", lr="bounded",
                              eta=1.2)
    result = fastdln.train(X, Y, sweeps=3, settings=settings)
    trainer = fastdln.Trainer(X, Y, settings=settings)
    trainer.sweep(3)
    assert result.settings == trainer.settings == settings
    assert_same_run(result, trainer)
    assert fastdln.Trainer.from_state(trainer.state_dict()).settings == trainer.settings
    fastdln.save(tmp_path / "m.npz", result)
    saved = fastdln.load(tmp_path / "m.npz").settings
    assert saved == json.loads(json.dumps(settings.to_dict()))
    override = fastdln.train(X, Y, sweeps=1, settings=settings, order="descending")
    assert override.settings.order == "descending" and override.settings.eta == 1.2


def test_every_command_line_option_is_a_settings_field():
    names = [f.name for f in text_options()]
    assert set(names) <= {f.name for f in dataclasses.fields(Settings)}
    assert option_from_text("lr", "0.5") == 0.5 and option_from_text("lr", "bounded") == "bounded"
    assert option_from_text("compress", "false") is False
    help_text = subprocess.run([sys.executable, "-m", "fastdln", "train", "--help"],
                               capture_output=True, text=True, check=True).stdout
    for name in names:
        assert f"--{name.replace('_', '-')}" in help_text, name


def test_grid_runs_take_any_settings_field_and_refuse_typos():
    check_config(dict(data="random:20:3:1", depth=2, dtype="float32", reduce_width=False))
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['sweep'\]"):
        check_config(dict(data="random:20:3:1", depth=2, sweep=5))


def test_checkpoint_extra_holds_the_data_and_start_fingerprints(tmp_path):
    X, Y = _data()
    path = tmp_path / "run.ckpt"
    fastdln.train(X, Y, widths=[5, 2], seed=0, sweeps=1, checkpoint=path)
    _, extra = io.read_checkpoint(path)
    assert extra["fingerprint"] == Data(X, Y).fingerprint()
    assert extra["fingerprint"] == Data(np.asfortranarray(X), Y).fingerprint()  # the values
    assert extra["start"] == io.weights_fingerprint(fastdln.init_weights([5, 2], seed=0))


def test_readme_lists_every_option_with_its_default():
    from tests.helpers import ROOT

    readme = (ROOT / "README.md").read_text()
    row = next(line for line in readme.splitlines()
               if line.startswith("| training options"))
    listed = row.split("the fields of `Settings`: `")[1].split("`")[0]
    pairs = dict(item.split("=", 1) for item in listed.split(", "))
    defaults = Settings()
    assert list(pairs) == [f.name for f in dataclasses.fields(Settings)]
    for name, text in pairs.items():
        assert text == repr(getattr(defaults, name)).replace("'", '"'), name


def test_depth_and_width_are_the_widths_shortcut_of_train_and_trainer():
    X, Y = _data()  # n0 = 5, nL = 2
    short = fastdln.train(X, Y, depth=3, seed=0, sweeps=2)
    spelt = fastdln.train(X, Y, widths=[5, 5, 5, 2], seed=0, sweeps=2)
    assert short.settings == spelt.settings and short.settings.widths == (5, 5, 5, 2)
    assert (short.settings.depth, short.settings.width) == (3, 5)
    assert_same_run(short, spelt)
    trainer = fastdln.Trainer(X, Y, depth=2, width=7, seed=0)
    assert trainer.widths == [5, 7, 2] and trainer.depth == 2
    assert fastdln.Trainer(X, Y, widths=[5, 6, 7, 2]).settings.width is None  # not uniform
    assert check_settings(depth=3, widths=[5, 6, 6, 2], width=6).widths == (5, 6, 6, 2)
    resolved = trainer.settings
    assert resolved.replace(depth=4).widths is None  # resolved again from the new depth
    assert resolved.replace(depth=2).widths == (5, 7, 2)  # agrees: kept
    assert resolved.replace(widths=[5, 3, 3, 2]).depth == 3  # new widths, their depth
    with pytest.raises(ValueError, match=r"depth=4, width=7 does not match widths=\[5, 7, 2\]"):
        check_settings(resolved, depth=4, widths=[5, 7, 2])


def test_resuming_takes_depth_and_width_and_refuses_other_ones(tmp_path):
    X, Y = _data()
    path = tmp_path / "run.ckpt"
    full = fastdln.train(X, Y, depth=2, width=6, seed=0, sweeps=4)
    fastdln.train(X, Y, widths=[5, 6, 2], seed=0, sweeps=2, checkpoint=path)
    assert_same_run(fastdln.train(X, Y, sweeps=4, resume=path, depth=2, width=6), full)
    with pytest.raises(ValueError, match="depth: the checkpoint has 2, this call 3"):
        fastdln.train(X, Y, sweeps=4, resume=path, depth=3)
    with pytest.raises(ValueError, match="width: the checkpoint has 6, this call 8"):
        fastdln.train(X, Y, sweeps=4, resume=path, width=8)


def test_a_state_saved_before_depth_and_width_existed_still_loads():
    X, Y = _data()
    trainer = fastdln.Trainer(X, Y, widths=[5, 6, 2], seed=0)
    state = pickle.loads(pickle.dumps(trainer.state_dict()))
    del state["settings"]["depth"], state["settings"]["width"]
    assert fastdln.Trainer.from_state(state).settings == trainer.settings


def test_the_defaults_that_differ_by_entry_point_are_the_documented_ones():
    """fit_intercept and seed: explicit in train (False, None), scikit-learn's in the
    estimator (True, None), a reproducible command line (True, 0); README says why."""
    import inspect

    from fastdln.apps import cli
    from tests.helpers import ROOT

    estimator = inspect.signature(fastdln.DeepLinearRegressor).parameters
    assert (Settings().fit_intercept, Settings().seed) == (False, None)
    assert (estimator["fit_intercept"].default, estimator["random_state"].default) == (True,
                                                                                        None)
    assert cli._OWN_DEFAULTS == dict(seed=0, fit_intercept=True, n_iter_no_change=10)
    # the command line and the estimator stop by the same rule within the same budget
    assert Settings().n_iter_no_change is None
    assert estimator["n_iter_no_change"].default == 10 and estimator["tol"].default == (
        Settings().loss_tol)
    sweeps = next(a for a in cli.build_parser()._subparsers._group_actions[0].choices[
        "train"]._actions if a.dest == "sweeps")
    assert sweeps.default == estimator["max_sweeps"].default
    row = next(line for line in (ROOT / "README.md").read_text().splitlines()
               if line.startswith("| defaults that differ on purpose"))
    for fragment in ["`fit_intercept`: False in `train`/`Trainer`",
                     "True in `DeepLinearRegressor`", "and in `fastdln train`",
                     "`seed`: None in `train`/`Trainer` and `random_state=None` in the estimator",
                     "0 in `fastdln train`", "`n_iter_no_change`: None in `train`/`Trainer` "
                     "and grids", "10 in `DeepLinearRegressor` and `fastdln train`",
                     f"`loss_tol` = {Settings().loss_tol:.0e}".replace("e-0", "e-"),
                     "(`max_sweeps=1000`, `--sweeps 1000`)"]:
        assert fragment in row, fragment


def test_from_state_refuses_unknown_top_level_keys_unless_not_strict():
    X, Y = _data()
    trainer = fastdln.Trainer(X, Y, widths=[5, 6, 2], seed=0)
    trainer.sweep()
    state = dict(trainer.state_dict(), optimiser={"lr": 1}, epoch=3)
    with pytest.raises(ValueError, match=r"unexpected key\(s\) \['epoch', 'optimiser'\].*"
                                         r"strict=False"):
        fastdln.Trainer.from_state(state)
    resumed = fastdln.Trainer.from_state(state, strict=False)
    assert_same_run(resumed, trainer)
    with pytest.raises(TypeError, match="unknown option"):
        fastdln.Trainer.from_state(trainer.state_dict(), strictt=False)


def test_settings_are_checked_once_and_carried_unchanged(tmp_path, monkeypatch):
    """``train`` builds one Settings (check_settings once, with the data's shape) and the
    trainer, its engine and ``state_dict()`` carry that very object: nothing re-checks or
    replaces it later. A resumed run checks the saved settings and the call's options (two
    objects), then carries the second."""
    from fastdln.core import settings as settings_module

    made = []
    init = settings_module.Settings.__init__

    def counting(self, *args, **kwargs):
        made.append(self)
        init(self, *args, **kwargs)

    monkeypatch.setattr(settings_module.Settings, "__init__", counting)
    X, Y = _data()
    seen = []
    result = fastdln.train(X, Y, depth=3, sweeps=2, seed=0, checkpoint=tmp_path / "run.ckpt",
                           callback=seen.append)
    assert len(made) == 1
    trainer = seen[-1]
    assert trainer.settings is made[0] and result.settings is made[0]
    assert trainer._engine.settings is made[0]
    assert trainer.state_dict()["settings"] == made[0].to_state()
    made.clear()
    resumed = fastdln.train(X, Y, sweeps=3, resume=tmp_path / "run.ckpt", tol=1e-30)
    assert len(made) == 2 and resumed.settings is made[1]


def test_the_typed_options_are_the_settings_fields():
    """``Options`` (the type of ``**options``) lists every field of Settings, in order, with
    its type (``widths``: any sequence of int, as the functions accept)."""
    import typing
    from collections.abc import Sequence

    from fastdln.core.settings import Options

    fields = typing.get_type_hints(Settings)
    options = typing.get_type_hints(Options)
    assert list(options) == list(fields) and not Options.__required_keys__
    widened = {"widths": typing.Optional[Sequence[int]]}
    for name, annotation in fields.items():
        assert options[name] == widened.get(name, annotation), name


MISSPELT = '''
import numpy as np
import fastdln
from fastdln.core.settings import check_settings

X = np.ones((4, 3))
fastdln.train(X, X, widths=[3, 3], order="ascending", lr=0.1, seed=np.random.default_rng(0))
fastdln.train(X, X, widths=[3, 3], ordr="ascending")
fastdln.Trainer(X, X, lrr="optimal")
fastdln.Trainer.from_state({}, methd="gd")
check_settings(sed=1)
fastdln.Settings().replace(dtyp="float32")
trainer = fastdln.Trainer(X, X, widths=[3, 3])
with trainer.stepping() as inside:
    reveal_type(inside)
'''


def test_a_type_checker_names_a_misspelt_option(tmp_path):
    """mypy on a caller's code: each misspelt option is an error on its line (a correct call
    none), and ``stepping()`` gives the trainer back."""
    import os
    import pathlib
    import re

    package_root = str(pathlib.Path(fastdln.__file__).parents[1])
    snippet = tmp_path / "caller.py"
    snippet.write_text(MISSPELT)
    result = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental",
                             "--cache-dir", str(tmp_path / "cache"), "--python-version",
                             "3.10", str(snippet)], capture_output=True, text=True,
                            cwd=tmp_path, env=dict(os.environ, MYPYPATH=package_root),
                            timeout=600)
    found = {int(line): name for line, name in re.findall(
        r'caller.py:(\d+): error: Unexpected keyword argument "(\w+)"', result.stdout)}
    assert found == {8: "ordr", 9: "lrr", 10: "methd", 11: "sed", 12: "dtyp"}, result.stdout
    assert 'Revealed type is "fastdln.core.trainer.Trainer"' in result.stdout
    assert ":7:" not in result.stdout
