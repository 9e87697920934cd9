"""The real-data readers on small files written in the original formats."""

import gzip
import struct

import numpy as np
import pytest

from fastdln.apps.paper import datasets


def _write_idx(path, magic, array, compress=False):
    payload = struct.pack(f">{1 + array.ndim}I", magic, *array.shape) + array.tobytes()
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(payload)


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_idx_round_trip(tmp_path, compress):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=7, dtype=np.uint8)
    suffix = ".gz" if compress else ""
    _write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", 2051, images, compress)
    _write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", 2049, labels, compress)
    X, Y = datasets.load_mnist(str(tmp_path))
    assert X.shape == (7, 784) and Y.shape == (7, 10)
    np.testing.assert_allclose(X, images.reshape(7, -1) / 255.0)
    np.testing.assert_array_equal(Y.argmax(axis=1), labels)
    assert np.all(Y.sum(axis=1) == 1)


def test_mnist_test_split_reads_the_t10k_files(tmp_path):
    rng = np.random.default_rng(3)
    train = rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    test = rng.integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
    _write_idx(tmp_path / "train-images-idx3-ubyte", 2051, train)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", 2049, np.arange(6, dtype=np.uint8))
    with pytest.raises(datasets.DataFileError, match="t10k-images"):
        datasets.load_mnist(str(tmp_path), split="test")  # only the training files yet
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", 2051, test, compress=True)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", 2049, np.array([9, 8, 7, 6], np.uint8),
               compress=True)
    X, Y = datasets.load_mnist(str(tmp_path), split="test")
    np.testing.assert_allclose(X, test.reshape(4, -1) / 255.0)
    np.testing.assert_array_equal(Y.argmax(axis=1), [9, 8, 7, 6])
    assert datasets.load_mnist(str(tmp_path))[0].shape == (6, 784)  # "train" by default
    with pytest.raises(ValueError, match="split"):
        datasets.load_mnist(str(tmp_path), split="t10k")


def test_mnist_malformed_files_give_clear_errors(tmp_path):
    with pytest.raises(datasets.DataFileError, match="not found"):
        datasets.load_mnist(str(tmp_path))
    images = np.zeros((3, 28, 28), np.uint8)
    _write_idx(tmp_path / "train-images-idx3-ubyte", 2051, images)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", 2051, np.zeros(3, np.uint8))
    with pytest.raises(datasets.DataFileError, match="magic"):
        datasets.load_mnist(str(tmp_path))
    _write_idx(tmp_path / "train-labels-idx1-ubyte", 2049, np.zeros(3, np.uint8))
    data = (tmp_path / "train-images-idx3-ubyte").read_bytes()
    (tmp_path / "train-images-idx3-ubyte").write_bytes(data[:-100])  # truncated
    with pytest.raises(datasets.DataFileError, match="truncated"):
        datasets.load_mnist(str(tmp_path))


def _gas_line(gas, concentration, values):
    return f"{gas};{concentration:.6f} " + " ".join(f"{i + 1}:{v:.6f}"
                                                    for i, v in enumerate(values))


def test_gas_sensor_ethanol_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    rows = [(1 + (j % 3 == 0), 10.0 * j, rng.normal(size=128)) for j in range(12)]
    half = len(rows) // 2
    for k, chunk in enumerate([rows[:half], rows[half:]], 1):
        (tmp_path / f"batch{k}.dat").write_text(
            "\n".join(_gas_line(*row) for row in chunk) + "\n")
    X, Y = datasets.load_gas_sensor_ethanol(str(tmp_path))
    ethanol = [row for row in rows if row[0] == 1]
    assert X.shape == (len(ethanol), 128) and Y.shape == (len(ethanol), 1)
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(X.std(axis=0), 1, rtol=1e-12)
    raw = np.round(np.array([row[2] for row in ethanol]), 6)  # as written to the file
    np.testing.assert_allclose(X, (raw - raw.mean(0)) / raw.std(0), rtol=1e-9, atol=1e-9)
    target = np.array([row[1] for row in ethanol])
    np.testing.assert_allclose(Y[:, 0], (target - target.mean()) / target.std(), rtol=1e-9)


def test_gas_sensor_malformed_files_give_clear_errors(tmp_path):
    with pytest.raises(datasets.DataFileError, match="no batch"):
        datasets.load_gas_sensor_ethanol(str(tmp_path))
    (tmp_path / "batch1.dat").write_text("1;10.0 1:0.5 2:oops\n")
    with pytest.raises(datasets.DataFileError, match="line 1"):
        datasets.load_gas_sensor_ethanol(str(tmp_path))
    (tmp_path / "batch1.dat").write_text(_gas_line(2, 5.0, np.ones(128)) + "\n")
    with pytest.raises(datasets.DataFileError, match="no ethanol"):
        datasets.load_gas_sensor_ethanol(str(tmp_path))


def test_stand_ins_are_real_installed_data():
    X, Y = datasets.digits_stand_in()
    assert X.shape == (1797, 64) and Y.shape == (1797, 10) and 0 <= X.min() <= X.max() <= 1
    X, Y = datasets.regression_stand_in()
    assert X.shape == (442, 10) and Y.shape == (442, 1)


def test_reproduce_fig8_reads_the_mnist_files_of_data_dir(tmp_path, capsys):
    """`fastdln reproduce fig8 --quick --data-dir DIR` on MNIST-format files (gzip IDX, the
    four train / t10k files) runs the real Figure 8 on them, not on the digits stand-in, and
    says how many images it read. The images are 12 x 12 (pixels outside the inner 8 x 8
    always 0, like MNIST's border: rank 64 of 144 columns) to keep width-n0 networks small."""
    import csv
    import json

    from fastdln.apps import cli

    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    rng = np.random.default_rng(3)
    images = np.zeros((300, 12, 12), np.uint8)
    images[:, 2:-2, 2:-2] = rng.integers(0, 256, (300, 8, 8), dtype=np.uint8)
    labels = (np.arange(300) % 10).astype(np.uint8)
    for stem, count in (("train", 300), ("t10k", 20)):  # fig8 trains on the training split
        _write_idx(data / f"{stem}-images-idx3-ubyte.gz", 2051, images[:count], compress=True)
        _write_idx(data / f"{stem}-labels-idx1-ubyte.gz", 2049, labels[:count], compress=True)
    argv = ["reproduce", "fig8", "--quick", "--data-dir", str(data), "--out", str(out),
            "--quiet"]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert f"read MNIST: 300 rows x 144 columns, 10 classes (from {data})" in printed
    assert "STAND-IN" not in printed and "digits" not in printed
    entries = [e for e in json.loads((out / "claims.json").read_text()) if e["figure"] == "fig8"]
    assert {e["id"] for e in entries} >= {"fig8.data", "fig8.depth2_best_per_iteration",
                                          "fig8.even_depths_accelerate", "fig8.odd_depths_overlap"}
    assert all(e["run"]["data_dir"] == str(data) and e["run"]["quick"] for e in entries)
    assert all(e["evidence"].startswith("MNIST (300 x 144, rank 64,") for e in entries)
    described = next(e for e in entries if e["id"] == "fig8.data")["measured"]
    assert described["data"] == "MNIST" and described["stand_in"] is False
    assert described["shape"] == [300, 144] and described["rank_X"] == 64
    assert described["data_seed"] is None
    with open(out / "fig8.csv") as f:  # the real figure: depths 1..10, whole sweeps to 200
        rows = list(csv.DictReader(f))
    assert sorted({r["run"] for r in rows}) == sorted(f"L={L}" for L in range(1, 11))
    assert all(sum(r["run"] == f"L={L}" for r in rows) >= 201 for L in range(1, 11))
