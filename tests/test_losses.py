"""Losses by name: the registered custom losses are accepted by their name wherever a loss is."""

import subprocess
import sys

import numpy as np
import pytest

import fastdln
from fastdln.core.settings import check_settings
from fastdln.maths.losses import REGISTRY
from fastdln.maths.synthetic import random_data


@pytest.mark.parametrize("name", REGISTRY)
def test_a_registered_loss_by_name_trains_as_its_object(name):
    X, Y = random_data(40, 5, 2, seed=31)
    by_name = fastdln.train(X, Y, widths=[5, 6, 2], loss=name, sweeps=3, seed=0)
    by_object = fastdln.train(X, Y, widths=[5, 6, 2], loss=REGISTRY[name], sweeps=3, seed=0)
    np.testing.assert_array_equal(by_name.errors, by_object.errors)
    settings = check_settings(loss=name)
    assert settings.custom_loss is REGISTRY[name] and settings.loss_name == name
    assert check_settings(**settings.to_dict()).custom_loss is REGISTRY[name]


def test_an_unknown_loss_name_is_refused_naming_the_registered_ones():
    with pytest.raises(ValueError, match="registered loss .*'log-cosh'.* got 'log-sinh'"):
        check_settings(loss="log-sinh")


def test_the_command_line_offers_the_registered_losses(tmp_path):
    X, Y = random_data(30, 4, 2, seed=32)
    data = tmp_path / "data.npz"
    np.savez(data, X=X, Y=Y)
    help_text = subprocess.run([sys.executable, "-m", "fastdln", "train", "--help"],
                               capture_output=True, text=True, check=True).stdout
    name = next(iter(REGISTRY))
    assert all(registered in help_text for registered in REGISTRY)
    result = subprocess.run([sys.executable, "-m", "fastdln", "train", str(data), "--depth",
                             "2", "--loss", name, "--fit-intercept", "false", "--sweeps", "2",
                             "--out", str(tmp_path / "model.npz"), "--quiet"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert fastdln.load(tmp_path / "model.npz").settings["loss"] == name
