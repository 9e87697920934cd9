"""The engine registry: one registration makes an engine usable everywhere.

This file is also the whole of a third engine: ``EchoEngine`` wraps the reference engine,
registers itself as ``"echo"`` (float64 and L2 only) and counts its calls. The tests train
with it through ``train``, ``Trainer``, the command line and a grid; the last two run in
other processes, which find it through the ``fastdln.engines`` entry point of a package
declared in a temporary folder (what ``pip install`` of a plugin writes).
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastdln
from fastdln.engines import REGISTRY, Capabilities, discover, get_engine, register
from fastdln.engines.reference import ReferenceEngine
from fastdln.maths.synthetic import random_data
from tests.helpers import ROOT

CALLS = {"run": 0}


class EchoEngine(ReferenceEngine):
    """The reference engine, registered under another name, counting its runs."""

    def run(self, begin, end, error_limit, draws=None, batches=None):
        CALLS["run"] += 1
        return super().run(begin, end, error_limit, draws, batches)


if "echo" not in REGISTRY:  # the module may be imported twice (pytest, then a plugin load)
    register("echo", Capabilities(summary="the reference engine under another name",
                                  dtypes=frozenset({"float64"}),
                                  losses=frozenset({"l2"})))(EchoEngine)


def _data():
    return random_data(80, 6, 2, seed=3)


def test_a_registered_engine_trains_through_train_and_trainer():
    X, Y = _data()
    before = CALLS["run"]
    echo = fastdln.train(X, Y, widths=[6, 8, 2], seed=1, sweeps=3, engine="echo")
    reference = fastdln.train(X, Y, widths=[6, 8, 2], seed=1, sweeps=3, engine="reference")
    assert CALLS["run"] > before and echo.settings.engine == "echo"
    for a, b in zip(echo.weights, reference.weights):
        np.testing.assert_array_equal(a, b)
    trainer = fastdln.Trainer(X, Y, widths=[6, 8, 2], seed=1, engine="echo")
    trainer.sweep(2)
    resumed = fastdln.Trainer.from_state(trainer.state_dict())
    assert type(resumed._engine) is EchoEngine


def test_its_capabilities_are_checked_before_any_work():
    with pytest.raises(ValueError, match="engine='echo' cannot train with dtype='float32'"):
        fastdln.check_settings(engine="echo", dtype="float32")
    with pytest.raises(ValueError, match="engine='echo' cannot train with a lp loss"):
        fastdln.check_settings(engine="echo", loss="l4")
    with pytest.raises(ValueError, match="engine must be one of 'fast', 'reference', 'echo'"):
        fastdln.check_settings(engine="ehco")


def test_registering_checks_the_interface_and_the_name():
    class Incomplete:
        state_keys = ()

        def run(self):
            pass

    with pytest.raises(TypeError, match="lacks build, from_state"):
        register("incomplete", Capabilities(summary="x"))(Incomplete)
    with pytest.raises(ValueError, match="registered already"):
        register("echo", Capabilities(summary="x"))(ReferenceEngine)
    with pytest.raises(ValueError, match="identifier"):
        register("not a name", Capabilities(summary="x"))
    assert get_engine("fast").capabilities.compression
    assert not get_engine("reference").capabilities.compression
    assert "incomplete" not in REGISTRY


def test_the_problem_compresses_only_for_engines_that_can():
    X, Y = _data()
    assert fastdln.Trainer(X, Y, widths=[6, 8, 2], engine="fast").compressed
    assert not fastdln.Trainer(X, Y, widths=[6, 8, 2], engine="echo").compressed


@pytest.fixture
def plugin_path(tmp_path):
    """A folder holding the metadata of an installed package that declares this file's
    engine as the entry point ``echo`` of the group ``fastdln.engines``."""
    info = tmp_path / "site" / "echo_engine-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: echo-engine\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[fastdln.engines]\necho = tests.test_engines_registry\n")
    return f"{tmp_path / 'site'}{os.pathsep}{ROOT}"


def test_the_command_line_trains_with_a_plugin_engine(tmp_path, plugin_path):
    X, Y = _data()
    data = tmp_path / "d.npz"
    np.savez(data, X=X, Y=Y)
    env = dict(os.environ, PYTHONPATH=plugin_path)
    command = [sys.executable, "-m", "fastdln", "train", str(data), "--depth", "2",
               "--engine", "echo", "--sweeps", "2", "--json", "--quiet"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "max_sweeps"
    without = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path,
                             env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=300)
    assert without.returncode == 2 and "engine must be one of" in without.stderr
    shown = subprocess.run([sys.executable, "-m", "fastdln", "train", "--help"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert "echo" in shown.stdout


def test_a_grid_runs_a_plugin_engine_in_its_workers(tmp_path, plugin_path, monkeypatch):
    from fastdln.apps.experiments import run_grid

    X, Y = _data()
    np.savez(tmp_path / "d.npz", X=X, Y=Y)
    for folder in plugin_path.split(os.pathsep):  # the workers get this process's sys.path
        monkeypatch.syspath_prepend(folder)
    rows = run_grid(dict(data=str(tmp_path / "d.npz"), depth=[2, 3], sweeps=2, engine="echo"),
                    n_workers=2)
    assert [row["status"] for row in rows] == ["max_sweeps"] * 2, rows
    assert {row["engine"] for row in rows} == {"echo"}


def test_a_broken_plugin_is_left_out_with_a_warning(tmp_path):
    info = tmp_path / "broken-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[fastdln.engines]\nbroken = no_such_module\n")
    script = textwrap.dedent("""
        import warnings
        import fastdln
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fastdln.train(*__import__("numpy").ones((2, 4, 2)), widths=[2, 2], sweeps=1)
            try:
                fastdln.check_settings(engine="broken")
            except ValueError as error:
                print("refused:", error)
        print([str(w.message) for w in caught if "plugin" in str(w.message)])
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT}"),
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "refused: engine must be one of 'fast', 'reference'" in done.stdout
    assert "the engine plugin 'broken' (no_such_module) could not be imported" in done.stdout


def test_discovery_is_once_per_process():
    discover()
    discover()
    assert list(REGISTRY)[:2] == ["fast", "reference"]


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_registered_engine_trains_to_the_references_weights(name):
    """The tests' engines come from the registry: one registered later is tested here too."""
    X, Y = random_data(60, 5, 2, seed=8)
    common = dict(widths=[5, 7, 6, 2], seed=3, sweeps=2, init="random")
    trained = fastdln.train(X, Y, engine=name, **common)
    reference = fastdln.train(X, Y, engine="reference", **common)
    for a, b in zip(trained.weights, reference.weights):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
