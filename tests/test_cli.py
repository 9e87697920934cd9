"""The command line: train and predict on .npz and CSV data; bad input exits 2 in one line."""

import json
import subprocess
import sys

import numpy as np
import pytest

import fastdln


def run(*argv):
    return subprocess.run([sys.executable, "-m", "fastdln", *map(str, argv)],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    Y = X @ rng.normal(size=(4, 2))
    npz = tmp_path / "data.npz"
    np.savez(npz, X=X, Y=Y)
    table = tmp_path / "data.csv"
    rows = ["f1,f2,f3,f4,y"] + [",".join(repr(float(v)) for v in [*x, y])
                                for x, y in zip(X, Y[:, 0])]
    table.write_text("\n".join(rows) + "\n")
    return X, Y, npz, table


def test_train_then_predict_npz(tmp_path, data):
    X, Y, npz, _ = data
    model = tmp_path / "model.npz"
    result = run("train", npz, "--depth", 3, "--sweeps", 30, "--out", model, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["widths"] == [4, 4, 4, 2] and summary["error"] < 1e-20
    loaded = fastdln.load(model)
    predicted = run("predict", model, npz)
    assert predicted.returncode == 0
    values = np.loadtxt(predicted.stdout.splitlines(), delimiter=",")
    np.testing.assert_allclose(values, loaded.predict(X), rtol=1e-15)
    np.testing.assert_allclose(values, Y, atol=1e-8)


def test_train_csv_with_target_column(tmp_path, data):
    X, Y, _, table = data
    result = run("train", table, "--target", "y", "--depth", 2, "--sweeps", 30, "--quiet",
                 "--out", tmp_path / "m.npz")
    assert result.returncode == 0, result.stderr
    assert "max_sweeps" in result.stdout or "converged" in result.stdout
    predicted = run("predict", tmp_path / "m.npz", table, "--target", "y")
    values = np.loadtxt(predicted.stdout.splitlines(), delimiter=",")
    np.testing.assert_allclose(values, Y[:, 0], atol=1e-8)


@pytest.mark.parametrize("argv, fragment", [
    (["train", "{missing}", "--depth", "2"], "no such file"),
    (["train", "{csv}", "--depth", "2"], "--target"),
    (["train", "{csv}", "--depth", "2", "--target", "zz"], "not in"),
    (["train", "{npz}", "--depth", "0"], "--depth"),
    (["train", "{npz}", "--depth", "2", "--lr", "fast"], "--lr"),
    (["train", "{npz}", "--depth", "2", "--init", "he"], "init"),
    (["train", "{npz}", "--depth", "2", "--loss", "l3"], "loss"),
    (["train", "{broken}", "--depth", "2"], "not a readable"),
    (["predict", "{csv}", "{npz}"], "not a fastdln model"),
    (["predict", "{truncated}", "{npz}"], "truncated"),
    (["train", "{npz}"], "required"),
])
def test_bad_files_and_options_exit_2_in_one_line(tmp_path, data, argv, fragment):
    _, _, npz, table = data
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    model = tmp_path / "model.npz"
    fastdln.save(model, fastdln.init_weights([4, 2], "random", seed=0))
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(model.read_bytes()[:200])
    names = dict(missing=tmp_path / "nope.npz", csv=table, npz=npz, broken=broken,
                 truncated=truncated)
    result = run(*[a.format(**names) for a in argv])
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert fragment in result.stderr
    if argv[0] == "train" and "required" not in fragment:
        assert len(lines) == 1, result.stderr
