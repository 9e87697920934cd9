"""Models on disk, atomic checkpoints, and resuming after SIGKILL bit for bit."""

import errno
from collections import OrderedDict
import hashlib
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import fastdln
from fastdln.core import io
from fastdln.maths.synthetic import random_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_save_load_round_trip(tmp_path):
    X, Y = random_data(50, 6, 2, seed=0)
    result = fastdln.train(X, Y, widths=[6, 7, 2], seed=1, sweeps=3, lr="bounded", eta=1.5)
    path = tmp_path / "model.npz"
    fastdln.save(path, result)
    model = fastdln.load(path)
    for a, b in zip(model.weights, result.weights):
        np.testing.assert_array_equal(a, b)
    assert model.widths == [6, 7, 2] and model.settings["lr"] == "bounded"
    np.testing.assert_array_equal(model.errors, result.errors)
    np.testing.assert_array_equal(model.predict(X), fastdln.predict(X, result.weights))
    assert model.version == fastdln.__version__
    fastdln.save(tmp_path / "w.npz", result.weights)  # a plain weight list works too
    assert fastdln.load(tmp_path / "w.npz").errors is None


def test_load_refuses_newer_truncated_and_foreign_files(tmp_path):
    path = tmp_path / "model.npz"
    fastdln.save(path, fastdln.init_weights([3, 4, 2], "random", seed=0))
    data = path.read_bytes()
    (tmp_path / "short.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        fastdln.load(tmp_path / "short.npz")
    np.savez(tmp_path / "foreign.npz", a=np.ones(3))
    with pytest.raises(ValueError, match="not a fastdln model"):
        fastdln.load(tmp_path / "foreign.npz")
    with np.load(path) as f:
        arrays = dict(f)
    arrays["metadata"] = np.array(str(arrays["metadata"]).replace('"format": 1', '"format": 9'))
    np.savez(tmp_path / "newer.npz", **arrays)
    with pytest.raises(ValueError, match="newer"):
        fastdln.load(tmp_path / "newer.npz")


def test_checkpoint_is_checksummed_and_versioned(tmp_path):
    X, Y = random_data(40, 5, 2, seed=1)
    path = tmp_path / "run.ckpt"
    fastdln.train(X, Y, widths=[5, 5, 2], seed=0, sweeps=4, checkpoint=path)
    state, extra = io.read_checkpoint(path)
    assert state["progress"]["sweeps_done"] == 4 and len(extra["fingerprint"]) == 64
    blob = path.read_bytes()
    (tmp_path / "torn.ckpt").write_bytes(blob[:-10])
    with pytest.raises(ValueError, match="checksum"):
        io.read_checkpoint(tmp_path / "torn.ckpt")
    (tmp_path / "newer.ckpt").write_bytes(blob.replace(b"CHECKPOINT\n1 ", b"CHECKPOINT\n7 ", 1))
    with pytest.raises(ValueError, match="newer"):
        io.read_checkpoint(tmp_path / "newer.ckpt")
    with pytest.raises(ValueError, match="other training data"):
        fastdln.train(X + 1, Y, sweeps=6, resume=path)
    # whole and checksummed, but naming what this installation lacks (another numpy's module)
    foreign = pickle.dumps(dict(state=OrderedDict(), extra={})).replace(b"collections",
                                                                        b"nonesuch_mo")
    header = f"1 {hashlib.sha256(foreign).hexdigest()}\n".encode()
    (tmp_path / "foreign.ckpt").write_bytes(io._CHECKPOINT_MAGIC + header + foreign)
    with pytest.raises(ValueError, match="foreign.ckpt: a checkpoint this fastdln cannot read"):
        io.read_checkpoint(tmp_path / "foreign.ckpt")


@pytest.mark.parametrize("options", [dict(), dict(method="bcsgd", sampling="uniform"),
                                     dict(method="gd", lr=0.01), dict(loss="l4")],
                         ids=["bcgd", "bcsgd", "gd", "l4"])
def test_resume_is_bitwise_identical(tmp_path, options):
    X, Y = random_data(60, 6, 2, seed=2)
    common = dict(widths=[6, 8, 8, 2], seed=3, **options)
    full = fastdln.train(X, Y, sweeps=9, **common)
    path = tmp_path / "run.ckpt"
    fastdln.train(X, Y, sweeps=4, checkpoint=path, **common)
    resumed = fastdln.train(X, Y, sweeps=9, resume=path)
    for a, b in zip(resumed.weights, full.weights):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(resumed.errors, full.errors)


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_disk_full_while_checkpointing_keeps_the_previous_checkpoint(tmp_path, monkeypatch,
                                                                    failing):
    X, Y = random_data(40, 5, 2, seed=4)
    path = tmp_path / "run.ckpt"
    fastdln.train(X, Y, widths=[5, 5, 2], seed=0, sweeps=2, checkpoint=path)
    before = path.read_bytes()

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io.os, failing, no_space)
    with pytest.raises(OSError, match="No space left.*previous file"):
        fastdln.train(X, Y, widths=[5, 5, 2], seed=0, sweeps=3, checkpoint=path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.ckpt"]  # no temporary file left


SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import fastdln
    rng = np.random.default_rng(7)
    X = rng.normal(0, 0.2, (300, 24)); Y = rng.uniform(-1, 2, (300, 3))
    checkpoint, out, resume = sys.argv[1], sys.argv[2], sys.argv[3] == "resume"
    kwargs = dict(resume=checkpoint) if resume else dict(widths=[24] * 30 + [3], seed=5)
    result = fastdln.train(X, Y, sweeps=4000, checkpoint=checkpoint, checkpoint_every=50,
                           method="bcsgd", sampling="uniform", batch_size=40, **kwargs)
    fastdln.save(out, result)
""")


def test_sigkill_at_random_moments_then_resume_bitwise(tmp_path):
    """Kill the training process at random moments, resume each time: never a corrupt
    checkpoint, and the final weights equal an uninterrupted run's bit for bit."""
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=ROOT)
    reference = tmp_path / "reference.npz"
    subprocess.run([sys.executable, str(script), str(tmp_path / "ref.ckpt"), str(reference),
                    "fresh"], check=True, env=env, timeout=300)
    checkpoint, out = tmp_path / "run.ckpt", tmp_path / "out.npz"
    rng = np.random.default_rng(11)
    kills = 0
    mode = "fresh"
    while not out.exists() and kills < 20:
        process = subprocess.Popen([sys.executable, str(script), str(checkpoint), str(out),
                                    mode], env=env)
        time.sleep(rng.uniform(0.6, 2.0))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=60)
        if checkpoint.exists():
            io.read_checkpoint(checkpoint)  # never corrupt: the checksum holds
            mode = "resume"
    if not out.exists():
        subprocess.run([sys.executable, str(script), str(checkpoint), str(out), mode],
                       check=True, env=env, timeout=300)
    assert kills >= 3, "the run finished too fast to be interrupted; lengthen it"
    print(f"killed {kills} times")
    expected, got = fastdln.load(reference), fastdln.load(out)
    for a, b in zip(got.weights, expected.weights):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_saved_files_get_the_umask_mode(tmp_path, umask):
    X, Y = random_data(30, 4, 2, seed=5)
    previous = os.umask(umask)
    try:
        fastdln.save(tmp_path / "model.npz", fastdln.init_weights([4, 3, 2], seed=0))
        fastdln.train(X, Y, widths=[4, 3, 2], seed=0, sweeps=1, checkpoint=tmp_path / "c.ckpt")
    finally:
        os.umask(previous)
    expected = 0o666 & ~umask
    for name in ("model.npz", "c.ckpt"):
        assert (tmp_path / name).stat().st_mode & 0o777 == expected, name


def test_names_of_features_and_targets_travel_with_the_model(tmp_path):
    weights = fastdln.init_weights([3, 4, 2], "random", seed=0)
    path = tmp_path / "named.npz"
    fastdln.save(path, weights, feature_names=["a", "b", "c"], target_names=["u", "v"])
    model = fastdln.load(path)
    assert model.feature_names == ["a", "b", "c"] and model.target_names == ["u", "v"]
    fastdln.save(tmp_path / "again.npz", model)  # a Model keeps its names
    assert fastdln.load(tmp_path / "again.npz").target_names == ["u", "v"]
    assert fastdln.load(tmp_path / "again.npz").feature_names == ["a", "b", "c"]
    fastdln.save(tmp_path / "plain.npz", weights)
    assert fastdln.load(tmp_path / "plain.npz").feature_names is None
    for names, error, fragment in [(["a", "b"], ValueError, "3 names"),
                                   (["a", "a", "b"], ValueError, "distinct"),
                                   ("abc", TypeError, "sequence of strings"),
                                   ([1, 2, 3], TypeError, "sequence of strings")]:
        with pytest.raises(error, match=fragment):
            fastdln.save(tmp_path / "bad.npz", weights, feature_names=names)


def test_a_run_stopped_by_its_callback_checkpoints_where_it_stopped(tmp_path):
    """Between two periodic checkpoints, a stop (e.g. Ctrl-C on the command line) writes the
    last whole sweep, and resuming from it equals the uninterrupted run."""
    X, Y = random_data(50, 6, 2, seed=8)
    common = dict(widths=[6, 7, 7, 2], seed=2, fit_intercept=True)
    path = tmp_path / "run.ckpt"
    stopped = fastdln.train(X, Y, sweeps=20, checkpoint=path, checkpoint_every=5,
                            callback=lambda trainer: trainer.sweeps_done == 3, **common)
    assert stopped.status == "stopped" and stopped.sweeps == 3
    state, _ = io.read_checkpoint(path)
    assert state["progress"]["sweeps_done"] == 3
    resumed = fastdln.train(X, Y, sweeps=9, resume=path)
    full = fastdln.train(X, Y, sweeps=9, **common)
    for a, b in zip(resumed.weights, full.weights):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(resumed.errors, full.errors)


def test_check_writable_refuses_bad_outputs_by_name(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("x")
    cases = {str(tmp_path / "folder"): "is a directory",
             str(tmp_path / "none" / "m.npz"): "does not exist",
             str(tmp_path / "file" / "m.npz"): "does not exist"}
    for path, expected in cases.items():
        with pytest.raises(ValueError, match=f"^--out {path}: .*{expected}"):
            io.check_writable(path, "--out")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        io.check_writable(tmp_path / "file", "--curves", folder=True)
    with pytest.raises(ValueError, match="is a file, not a folder"):
        io.check_writable(tmp_path / "file" / "sub", "--curves", folder=True)
    io.check_writable(tmp_path / "new" / "deeper", "--curves", folder=True)  # made on writing
    io.check_writable(tmp_path / "file", "--out")  # an existing file is replaced
    assert not (tmp_path / "new").exists()


def test_check_writable_knows_an_input_by_its_identity_not_its_name(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    os.link(data, tmp_path / "hard.csv")
    os.symlink(data, tmp_path / "soft.csv")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    inputs = [("the model", tmp_path / "missing.npz"), ("the data", "-"),
              ("the data", str(data))]
    for name in ("data.csv", "hard.csv", "soft.csv"):
        with pytest.raises(ValueError, match=f"the same file as the data {data}, an input"):
            io.check_writable(tmp_path / name, "--out", inputs=inputs)
    with pytest.raises(ValueError, match="the same file"):  # relative and absolute spellings
        io.check_writable(os.path.relpath(data), "--out", inputs=inputs)
    io.check_writable(tmp_path / "other.csv", "--out", inputs=inputs)
    assert data.read_text() == "a,b\n1,2\n"


def test_check_writable_refuses_a_folder_or_file_without_permission(tmp_path, monkeypatch):
    target = tmp_path / "m.npz"
    target.write_text("x")
    monkeypatch.setattr(os, "access", lambda path, mode: os.fspath(path) != str(tmp_path))
    with pytest.raises(ValueError, match="no permission to write in the folder"):
        io.check_writable(target, "--out")
    with pytest.raises(ValueError, match="no permission to write in the folder"):
        io.check_writable(tmp_path / "figures", "--out", folder=True)
    monkeypatch.setattr(os, "access", lambda path, mode: os.fspath(path) != str(target))
    with pytest.raises(ValueError, match="read-only"):
        io.check_writable(target, "--out")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_check_writable_refuses_a_read_only_folder(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o500)
    with pytest.raises(ValueError, match="no permission"):
        io.check_writable(folder / "m.npz", "--out")


def test_train_checks_its_checkpoint_before_the_set_up(tmp_path, monkeypatch):
    X, Y = random_data(30, 4, 2, seed=0)
    monkeypatch.setattr(fastdln.core.runner, "Trainer", None)  # the set-up would fail loudly
    with pytest.raises(ValueError, match="^checkpoint .*does not exist"):
        fastdln.train(X, Y, depth=2, checkpoint=tmp_path / "none" / "run.ckpt")


def test_writing_through_a_symbolic_link_updates_its_target_and_keeps_the_link(tmp_path):
    """``--out link.npz`` where the link points elsewhere (a shared folder): the atomic
    rename goes to the target's folder, the link stays a link."""
    (tmp_path / "real").mkdir()
    link = tmp_path / "model.npz"
    link.symlink_to(tmp_path / "real" / "model.npz")  # dangling until the first write
    weights = fastdln.init_weights([3, 4, 2], "random", seed=0)
    for _ in range(2):
        fastdln.save(link, weights)
        assert link.is_symlink() and (tmp_path / "real" / "model.npz").is_file()
    np.testing.assert_array_equal(fastdln.load(link).weights[0], weights[0])
    checkpoint = tmp_path / "run.ckpt"
    checkpoint.symlink_to(tmp_path / "real" / "run.ckpt")
    io.write_checkpoint(checkpoint, {"format": 0}, {"note": 1})
    assert checkpoint.is_symlink() and io.read_checkpoint(checkpoint)[1] == {"note": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz", "real", "run.ckpt"]
