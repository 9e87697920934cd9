"""The command line: train and predict on .npz and CSV data (names, stdin, intercepts), its
summary, one-line errors (exit 2), divergence (exit 1), Ctrl-C and SIGTERM (exit 130 and 143,
checkpoint)."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error, r2_score

import fastdln
from fastdln.apps import cli
from fastdln.apps.progress import Progress

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run(*argv, stdin=None):
    return subprocess.run([sys.executable, "-m", "fastdln", *map(str, argv)],
                          capture_output=True, text=True, timeout=300, input=stdin)


def main(capsys, *argv):
    """``fastdln ARGV`` in this process: ``(exit code, stdout, stderr lines)``."""
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exit_:  # argparse: usage errors, --help, --version
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, [line for line in err.splitlines() if line.strip()]


def _csv(path, names, columns, spaces=False):
    """A CSV of ``columns`` (a list of 1-D arrays) under ``names``; with ``spaces``, spaces
    around names and values and blank lines (one of them only spaces, two at the end)."""
    sep = " , " if spaces else ","
    rows = [sep.join(names)] + [sep.join(repr(float(v)) for v in row)
                                for row in zip(*columns)]
    if spaces:
        rows.insert(3, "")
        rows.insert(7, "    ")
        rows += ["", ""]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def data(tmp_path):
    """Affine data (far from centered): ``X`` (60, 4), ``Y`` (60, 2)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4)) + 3.0
    Y = X @ rng.normal(size=(4, 2)) + [5.0, -2.0] + 0.1 * rng.normal(size=(60, 2))
    npz = tmp_path / "data.npz"
    np.savez(npz, X=X, Y=Y)
    table = _csv(tmp_path / "data.csv", ["f1", "f2", "f3", "f4", "y"], [*X.T, Y[:, 0]])
    return X, Y, npz, table


def test_train_then_predict_npz(tmp_path, data):
    X, Y, npz, _ = data
    model = tmp_path / "model.npz"
    result = run("train", npz, "--depth", 3, "--sweeps", 60, "--out", model, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["widths"] == [4, 4, 4, 2] and summary["error"] < 1e-20
    loaded = fastdln.load(model)
    assert loaded.feature_names is None and loaded.settings["fit_intercept"] is True
    predicted = run("predict", model, npz)
    assert predicted.returncode == 0
    assert predicted.stdout.splitlines()[0] == "y0,y1"
    values = np.loadtxt(predicted.stdout.splitlines(), delimiter=",", skiprows=1)
    np.testing.assert_allclose(values, loaded.predict(X), rtol=1e-15)
    np.testing.assert_allclose(values, LinearRegression().fit(X, Y).predict(X), atol=1e-8)


def test_csv_round_trip_spaces_blank_lines_reordered_columns_and_stdin(tmp_path, data):
    X, Y, _, _ = data
    table = _csv(tmp_path / "spaced.csv", ["f1", "f2", "f3", "f4", "y"], [*X.T, Y[:, 0]],
                 spaces=True)
    model = tmp_path / "m.npz"
    result = run("train", table, "--target", "y", "--depth", 2, "--sweeps", 60, "--out",
                 model, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    expected = LinearRegression().fit(X, Y[:, 0])
    fitted = expected.predict(X)
    assert summary["r2"] == pytest.approx(r2_score(Y[:, 0], fitted), abs=1e-12)
    assert summary["mse"] == pytest.approx(mean_squared_error(Y[:, 0], fitted), rel=1e-9)
    loaded = fastdln.load(model)
    assert loaded.feature_names == ["f1", "f2", "f3", "f4"] and loaded.target_names == ["y"]
    reordered = _csv(tmp_path / "reordered.csv", ["y", "f3", "f1", "f4", "f2"],
                     [Y[:, 0], X[:, 2], X[:, 0], X[:, 3], X[:, 1]])
    for predicted in (run("predict", model, "-", stdin=reordered.read_text()),
                      run("predict", model, table)):
        assert predicted.returncode == 0, predicted.stderr
        lines = predicted.stdout.splitlines()
        assert lines[0] == "y" and len(lines) == 61
        values = np.loadtxt(lines[1:], delimiter=",")
        np.testing.assert_allclose(values, loaded.predict(X)[:, 0], rtol=1e-14)
        np.testing.assert_allclose(values, fitted, atol=1e-8)
    from_stdin = run("train", "-", "--target", "y", "--depth", 2, "--sweeps", 60, "--json",
                     stdin=table.read_text())
    assert json.loads(from_stdin.stdout)["r2"] == summary["r2"]


def test_intercept_by_default_and_on_request(capsys, tmp_path, data):
    X, Y, npz, _ = data
    common = ("train", npz, "--depth", 2, "--sweeps", 200, "--json")
    for flag, fit_intercept in [((), True), (("--fit-intercept", "false"), False)]:
        code, out, err = main(capsys, *common, *flag)
        assert code == 0, err
        expected = LinearRegression(fit_intercept=fit_intercept).fit(X, Y)
        assert json.loads(out)["r2"] == pytest.approx(expected.score(X, Y), abs=1e-6)
    code, _, err = main(capsys, *common, "--loss", "l4", "--fit-intercept", "false")
    assert code == 0, err


def test_summary_reports_mse_and_r2_besides_the_error(capsys, data):
    X, Y, npz, _ = data
    code, out, _ = main(capsys, "train", npz, "--depth", 2, "--sweeps", 3)
    assert code == 0
    assert out.startswith("stopped at the sweep limit (raise --sweeps to go on): 3 sweeps, "
                          "error ")
    assert "(loss - optimal loss) / m" in out and "MSE" in out and "R^2" in out
    code, out, _ = main(capsys, "train", npz, "--depth", 2, "--sweeps", 3, "--json")
    summary = json.loads(out)
    zero = np.sum((Y - Y.mean(axis=0)) ** 2) / len(Y)  # the zero map's loss, centered
    assert summary["relative_error"] == pytest.approx(summary["error"] / zero, rel=1e-12)
    code, out, _ = main(capsys, "train", npz, "--depth", 2, "--sweeps", 500, "--tol", 1e-12)
    assert code == 0 and out.startswith("converged (error <= --tol 1e-12): ")
    assert "relative error " in out
    code, out, _ = main(capsys, "train", npz, "--depth", 2)
    assert code == 0 and out.startswith("converged (the loss improved by less than --loss-tol "
                                        "0.0001 in 10 sweeps in a row): ")
    code, out, _ = main(capsys, "train", npz, "--depth", 2, "--n-iter-no-change", "none",
                        "--sweeps", 40, "--json")
    assert json.loads(out)["sweeps"] == 40 and json.loads(out)["n_iter_no_change"] is None


def test_a_csv_without_header(capsys, tmp_path, data):
    X, Y, _, _ = data
    rows = np.column_stack([X, Y[:, 0]])
    path = tmp_path / "plain.csv"
    np.savetxt(path, rows, delimiter=",", fmt="%.17g")
    code, _, err = main(capsys, "train", path, "--target", 4, "--depth", 2)
    assert code == 2 and len(err) == 1 and "--no-header" in err[0]
    model = tmp_path / "m.npz"
    code, out, err = main(capsys, "train", path, "--target", 4, "--depth", 2, "--no-header",
                          "--sweeps", 60, "--out", model, "--json")
    assert code == 0, err
    assert json.loads(out)["r2"] == pytest.approx(LinearRegression().fit(X, Y[:, 0]).score(
        X, Y[:, 0]), abs=1e-9)  # no row lost
    np.savetxt(path, X, delimiter=",", fmt="%.17g")
    code, out, err = main(capsys, "predict", model, path, "--no-header")
    assert code == 0 and out.splitlines()[0] == "y" and len(out.splitlines()) == 61


@pytest.mark.parametrize("columns, fragment", [
    (["f1", "f2", "f3"], "lacks 1 feature column of the model: ['f4']"),
    (["f1", "f2", "F3", "f4"], "lacks 1 feature column of the model: ['f3']; did you mean 'F3'?"),
    (["f1", "f2", "f3", "f4", "extra"], "has 1 column the model was not trained on: ['extra']"),
])
def test_predict_refuses_missing_and_extra_columns(capsys, tmp_path, data, columns,
                                                   fragment):
    X, Y, _, table = data
    model = tmp_path / "m.npz"
    assert main(capsys, "train", table, "--target", "y", "--depth", 2, "--sweeps", 2,
                "--out", model)[0] == 0
    path = _csv(tmp_path / "p.csv", columns, [np.ones(5)] * len(columns))
    code, out, err = main(capsys, "predict", model, path)
    assert code == 2 and out == "" and len(err) == 1 and fragment in err[0]


def test_version_and_help_with_defaults_and_choices(capsys):
    code, out, _ = main(capsys, "--version")
    assert code == 0 and out.strip() == f"fastdln {fastdln.__version__}"
    code, out, _ = main(capsys, "train", "--help")
    text = " ".join(out.split())
    assert code == 0
    for fragment in ["--sweeps SWEEPS the most sweeps, a resumed run's included; a run stops "
                     "sooner by --n-iter-no-change (as DeepLinearRegressor's max_sweeps) "
                     "(default: 1000)", "--n-iter-no-change N_ITER_NO_CHANGE stop once the loss "
                     "improved by less than loss-tol (relative) in this many sweeps in a row "
                     "('none': never) (default: 10)",
                     "(default: true; one of true, false)", "(default: 0)",
                     "(default: descending; one of descending, ascending)",
                     "--checkpoint-every CHECKPOINT_EVERY (default: 10)"]:
        assert fragment in text
    code, out, _ = main(capsys, "grid", "--help")
    assert "(default: results.csv)" in " ".join(out.split())


# Each case: its row in docs/errors.md's command-line table, the command, what stderr says.
BAD_INPUT = [
    ("missing data file", ["train", "{missing}", "--depth", "2"], "no such file"),
    ("CSV without `--target`", ["train", "{csv}", "--depth", "2"], "--target"),
    ("`--target` column not in the header", ["train", "{csv}", "--depth", "2", "--target",
                                             "zz"], "not in"),
    ("CSV whose first line is numbers", ["train", "{plain}", "--depth", "2", "--target", "0"],
     "--no-header"),
    ("CSV value that is not a number", ["train", "{bad_value}", "--depth", "2", "--target",
                                        "y"], "line 3, column 'y': 'oops' is not a number"),
    ("`--depth 0`", ["train", "{npz}", "--depth", "0"], "--depth"),
    ("no `--depth` (and no `--resume`)", ["train", "{npz}"], "--depth is required"),
    ("`--width 0`", ["train", "{npz}", "--depth", "2", "--width", "0"],
     "--width must be an integer >= 1, got 0"),
    ("`--sweeps -5`", ["train", "{npz}", "--depth", "2", "--sweeps", "-5"], "--sweeps"),
    ("`--checkpoint-every 0`", ["train", "{npz}", "--depth", "2", "--checkpoint-every", "0"],
     "--checkpoint-every"),
    ("`--seed -1`", ["train", "{npz}", "--depth", "2", "--seed", "-1"], "--seed must be"),
    ("`--tol -1`", ["train", "{npz}", "--depth", "2", "--tol", "-1"], "--tol must be"),
    ("`--eta 3`", ["train", "{npz}", "--depth", "2", "--lr", "bounded", "--eta", "3"],
     "--eta must be in (0, 2)"),
    ("`--lr fast`", ["train", "{npz}", "--depth", "2", "--lr", "fast"],
     "error: --lr: cannot read 'fast'"),
    ("`--lr fast`", ["train", "{npz}", "--depth", "x"], "error: --depth: cannot read 'x'"),
    ("misspelt `--target` on a CSV that also has a text column",
     ["train", "{mixed}", "--depth", "2", "--target", "lable"],
     "--target column 'lable' is not in"),
    ("a directory given as data, model or grid", ["train", "{folder}", "--depth", "2",
                                                  "--target", "y"], "is a directory"),
    ("a directory given as data, model or grid", ["predict", "{folder}", "{csv}"],
     "is a directory, not a fastdln model"),
    ("a directory given as data, model or grid", ["grid", "{folder}"],
     "is a directory, not a grid file"),
    ("a CSV separated by semicolons or tabs", ["train", "{semicolons}", "--depth", "2",
                                               "--target", "y"],
     "one column with semicolons in it: fastdln reads comma-separated values; convert"),
    ("a CSV separated by semicolons or tabs", ["predict", "{model}", "{tabs}"],
     "one column with tabs in it"),
    ("unknown `--init` / odd `--loss l3`", ["train", "{npz}", "--depth", "2", "--init", "he"],
     "init"),
    ("unknown `--init` / odd `--loss l3`", ["train", "{npz}", "--depth", "2", "--loss", "l3"],
     "loss"),
    ("`--loss l4` without `--fit-intercept false`", ["train", "{npz}", "--depth", "2",
                                                     "--loss", "l4"], "--fit-intercept false"),
    ("`.npz` that is not a zip", ["train", "{broken}", "--depth", "2"], "not a readable"),
    ("model file that is not a fastdln model / truncated", ["predict", "{csv}", "{npz}"],
     "not a fastdln model"),
    ("model file that is not a fastdln model / truncated", ["predict", "{truncated}",
                                                            "{npz}"], "truncated"),
    ("`predict` data with another number of features", ["predict", "{model}", "{npz}"],
     "the model takes 3"),
    ("`grid --workers 0`", ["grid", "{npz}", "--workers", "0"], "--workers"),
    ("`bench --threshold 0`", ["bench", "--threshold", "0"], "--threshold"),
    ("`demo --samples 0`", ["demo", "--samples", "0"], "--samples"),
    ("`reproduce --seed -1`", ["reproduce", "fig1", "--seed", "-1"], "--seed"),
    ("unknown sub-command", ["frobnicate"], "invalid choice"),
    ("an output that is an input (by path, hard or symbolic link)",
     ["predict", "{model}", "{csv}", "--out", "{csv}"], "the same file as the data"),
    ("an output that is an input (by path, hard or symbolic link)",
     ["predict", "{model}", "{csv}", "--out", "{hard_link}"], "the same file as the data"),
    ("an output that is an input (by path, hard or symbolic link)",
     ["predict", "{model}", "{csv}", "--out", "{model_link}"], "the same file as the model"),
    ("an output that is an input (by path, hard or symbolic link)",
     ["train", "{npz}", "--depth", "2", "--out", "{npz}"], "the same file as the data"),
    ("an output that is an input (by path, hard or symbolic link)",
     ["bench", "--json", "{csv}", "--compare", "{csv}"], "the same file as --compare"),
    ("an output in a missing folder, a folder, or two outputs in one file",
     ["train", "{npz}", "--depth", "2", "--out", "{missing_folder}/m.npz"], "does not exist"),
    ("an output in a missing folder, a folder, or two outputs in one file",
     ["predict", "{model}", "{csv}", "--out", "{folder}"], "is a directory"),
    ("an output in a missing folder, a folder, or two outputs in one file",
     ["train", "{npz}", "--depth", "2", "--out", "{folder}/m", "--checkpoint", "{folder}/m"],
     "the same file as --out"),
    ("an output in a missing folder, a folder, or two outputs in one file",
     ["grid", "{grid}", "--out", "{grid}"], "the same file as the grid"),
    ("an output in a missing folder, a folder, or two outputs in one file",
     ["grid", "{grid}", "--curves", "{csv}"], "--curves"),
    ("an output in a missing folder, a folder, or two outputs in one file",
     ["reproduce", "fig1", "--out", "{csv}"], "is a file, not a folder"),
    ("a network too large for memory (`--width 1000000`)", ["train", "{npz}", "--depth", "3",
                                                           "--width", "1000000"],
     "out of memory: widths"),
]


@pytest.mark.parametrize("row, argv, fragment", BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_files_and_options_exit_2_in_one_line(capsys, tmp_path, data, row, argv,
                                                  fragment):
    _, _, npz, table = data
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    model = tmp_path / "model.npz"
    fastdln.save(model, fastdln.init_weights([3, 2], "random", seed=0))
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(model.read_bytes()[:200])
    plain = tmp_path / "plain.csv"
    plain.write_text("1,2\n3,4\n")
    bad_value = tmp_path / "bad_value.csv"
    bad_value.write_text("x,y\n1,2\n3,oops\n")
    (tmp_path / "folder").mkdir()
    os.link(table, tmp_path / "hard_link.csv")
    os.symlink(model, tmp_path / "model_link.npz")
    grid = tmp_path / "grid.toml"
    grid.write_text(f'[grid]\ndata = ["{npz}"]\ndepth = [2]\n')
    names = dict(missing=tmp_path / "nope.npz", csv=table, npz=npz, broken=broken,
                 truncated=truncated, model=model, plain=plain, bad_value=bad_value,
                 folder=tmp_path / "folder", hard_link=tmp_path / "hard_link.csv",
                 model_link=tmp_path / "model_link.npz", grid=grid,
                 missing_folder=tmp_path / "no_folder")
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("a,b,kind,label\n1,2,shoe,3\n4,5,bag,6\n")
    (tmp_path / "semicolons.csv").write_text("a;b;y\n1;2;3\n")
    (tmp_path / "tabs.csv").write_text("a\tb\ty\n1\t2\t3\n")
    names.update(mixed=mixed, semicolons=tmp_path / "semicolons.csv",
                 tabs=tmp_path / "tabs.csv")
    before = {path: path.read_bytes() for path in (table, npz, model, grid)}
    code, out, err = main(capsys, *[a.format(**names) for a in argv])
    assert code == 2 and out == ""
    assert len(err) == 1 and fragment in err[0], err
    assert "Traceback" not in err[0]
    assert all(path.read_bytes() == content for path, content in before.items())


def test_every_bad_input_case_is_in_the_docs():
    docs = (ROOT / "docs" / "errors.md").read_text().split("## Command line")[1]
    rows = {line.split("|")[1].strip() for line in docs.splitlines() if line.startswith("| ")}
    assert {case[0] for case in BAD_INPUT} <= rows, {c[0] for c in BAD_INPUT} - rows


def test_outputs_are_checked_before_any_work(capsys, tmp_path, data, monkeypatch):
    """A bad ``--out`` is reported before the data are read and before training."""
    _, _, npz, _ = data
    monkeypatch.setattr(cli, "read_training_data", None)  # reading would fail loudly
    monkeypatch.setattr(cli, "load", None)
    code, _, err = main(capsys, "train", npz, "--depth", 2, "--sweeps", 100000, "--out",
                        tmp_path / "nodir" / "m.npz")
    assert code == 2 and err == [f"fastdln: error: --out {tmp_path / 'nodir' / 'm.npz'}: the "
                                 f"folder {tmp_path / 'nodir'} does not exist (create it "
                                 "first)"]
    code, _, err = main(capsys, "predict", npz, npz, "--out", tmp_path)
    assert code == 2 and "is a directory" in err[0]


def test_an_explicit_data_dir_without_the_files_exits_2_naming_what_it_looked_for(
        capsys, tmp_path):
    code, _, err = main(capsys, "reproduce", "fig8", "--quick", "--quiet", "--data-dir",
                        tmp_path, "--out", tmp_path / "figures")
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"fastdln: error: data_dir '{tmp_path}': no MNIST files there "
                             f"(train-images-idx3-ubyte[.gz] not found in '{tmp_path}'")


def test_a_checkpoint_may_continue_in_the_file_it_resumes(capsys, tmp_path, data):
    _, _, npz, _ = data
    checkpoint = tmp_path / "run.ckpt"
    code, _, _ = main(capsys, "train", npz, "--depth", 2, "--sweeps", 3, "--checkpoint",
                      checkpoint, "--checkpoint-every", 1, "--quiet")
    assert code == 0
    code, _, err = main(capsys, "train", npz, "--sweeps", 5, "--resume", checkpoint,
                        "--checkpoint", checkpoint, "--checkpoint-every", 1, "--quiet")
    assert code == 0, err
    assert fastdln.core.io.read_checkpoint(checkpoint)[0]["progress"]["sweeps_done"] == 5


def test_divergence_is_one_line_and_exit_1(tmp_path, data):
    _, _, npz, _ = data
    model = tmp_path / "m.npz"
    result = run("train", npz, "--depth", 3, "--lr", "1e6", "--out", model)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "diverged at iteration" in lines[0], result.stderr
    assert ".py" not in result.stderr and not model.exists()


class _Terminal:
    """A stream that says it is a terminal and keeps what is written to it."""

    def __init__(self):
        self.text = ""

    def isatty(self):
        return True

    def write(self, text):
        self.text += text

    def flush(self):
        pass


class _NotebookStream(_Terminal):
    """What a Jupyter kernel's sys.stderr looks like: ipykernel's stream, not a terminal."""

    def isatty(self):
        return False


_NotebookStream.__module__ = "ipykernel.iostream"


def test_no_progress_bar_unless_stderr_is_a_terminal_or_a_notebook(tmp_path, data):
    _, _, npz, _ = data
    result = run("train", npz, "--depth", 2, "--sweeps", 5)  # stderr is a pipe
    assert result.returncode == 0 and result.stderr == ""
    notebook = _NotebookStream()
    with Progress(5, "sweeps", "sweep", stream=notebook) as bar:
        assert bar.shown  # tqdm.auto: a widget in a real notebook, text here
        bar.update(1)
    assert "sweeps" in notebook.text
    terminal = _Terminal()
    with Progress(5, "sweeps", "sweep", stream=terminal) as bar:
        bar.update(1, error="1e-3")
    assert bar.shown is False and "sweeps" in terminal.text  # closed after drawing
    piped = _Terminal()
    piped.isatty = lambda: False
    with Progress(5, "sweeps", "sweep", stream=piped) as bar:
        assert not bar.shown
    assert piped.text == ""


def test_a_resumed_progress_bar_starts_at_the_checkpoints_sweep(tmp_path, data):
    from fastdln.apps.progress import sweep_callback

    X, Y, _, _ = data
    path = tmp_path / "run.ckpt"
    fastdln.train(X, Y, depth=2, seed=0, sweeps=3, checkpoint=path)
    terminal = _Terminal()
    with Progress(5, "sweeps", "sweep", stream=terminal) as bar:
        fastdln.train(X, Y, sweeps=5, resume=path, callback=sweep_callback(bar))
    shown = [part.split("|")[-1].split()[0] for part in terminal.text.split("\r")
             if "|" in part]
    assert shown[0] in ("0/5", "3/5") and "3/5" in shown and shown[-1] == "5/5", shown
    assert not {"1/5", "2/5"} & set(shown), shown


def test_ctrl_c_before_training_exits_130(capsys, monkeypatch, data):
    _, _, _, table = data

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("fastdln.apps.readers.read_csv", interrupted)
    code, out, err = main(capsys, "train", table, "--target", "y", "--depth", 2)
    assert code == 130 and err == ["fastdln: interrupted"]


@pytest.mark.parametrize("signum, code, said", [(signal.SIGINT, 130, "interrupted"),
                                                (signal.SIGTERM, 143, "stopped by SIGTERM")])
def test_a_signal_stops_after_a_sweep_writes_a_checkpoint_and_resumes_bitwise(
        tmp_path, signum, code, said):
    """Ctrl-C (exit 130) or a scheduler's SIGTERM (exit 143): a checkpoint of the last whole
    sweep and one line; --resume finishes with the weights of an uninterrupted run."""
    rng = np.random.default_rng(3)
    data = tmp_path / "big.npz"
    np.savez(data, X=rng.normal(size=(300, 40)), Y=rng.normal(size=(300, 5)))
    checkpoint = tmp_path / "run.ckpt"
    common = ["train", str(data), "--depth", "12", "--seed", "4", "--quiet",
              "--n-iter-no-change", "none"]
    process = subprocess.Popen([sys.executable, "-m", "fastdln", *common, "--sweeps",
                                "10000000", "--checkpoint", str(checkpoint),
                                "--checkpoint-every", "7", "--out", str(tmp_path / "no.npz")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=ROOT)
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)
    assert process.returncode == code, err
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err and out == ""
    assert f"checkpoint written to {checkpoint}" in lines[0]
    assert f"--resume {checkpoint}" in lines[0]
    done = int(lines[0].split(f"{said} after ")[1].split()[0])
    state, _ = fastdln.core.io.read_checkpoint(checkpoint)
    assert state["progress"]["sweeps_done"] == done >= 7
    assert not (tmp_path / "no.npz").exists()
    total = done + 3
    resumed = run(*common[:2], "--resume", checkpoint, "--sweeps", total, "--quiet",
                  "--out", tmp_path / "resumed.npz")
    assert resumed.returncode == 0, resumed.stderr
    straight = run(*common, "--sweeps", total, "--out", tmp_path / "straight.npz")
    assert straight.returncode == 0, straight.stderr
    a, b = fastdln.load(tmp_path / "resumed.npz"), fastdln.load(tmp_path / "straight.npz")
    for Wa, Wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(Wa, Wb)
    np.testing.assert_array_equal(a.intercept, b.intercept)
    assert os.path.getsize(checkpoint) > 0


def test_train_and_predict_npy_files_read_by_blocks(tmp_path):
    """``fastdln train X.npy --y Y.npy`` memory-maps both files (the data are read by blocks,
    never whole) and trains exactly like the same arrays in an .npz."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(3000, 6))
    Y = X @ rng.normal(size=(6, 2)) + 0.1 * rng.normal(size=(3000, 2)) + 4.0
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "Y.npy", Y)
    np.savez(tmp_path / "data.npz", X=X, Y=Y)
    common = ["--depth", 3, "--sweeps", 20, "--json", "--seed", 1]
    npy = run("train", tmp_path / "X.npy", "--y", tmp_path / "Y.npy", *common, "--out",
              tmp_path / "npy.npz")
    npz = run("train", tmp_path / "data.npz", *common)
    assert npy.returncode == 0, npy.stderr
    a, b = json.loads(npy.stdout), json.loads(npz.stdout)
    for key in ("error", "initial_error", "mse", "r2"):
        assert a[key] == pytest.approx(b[key], rel=1e-12, abs=1e-15), key
    predicted = run("predict", tmp_path / "npy.npz", tmp_path / "X.npy")
    assert predicted.returncode == 0, predicted.stderr
    values = np.loadtxt(predicted.stdout.splitlines()[1:], delimiter=",")
    assert np.mean((values - Y) ** 2) == pytest.approx(a["mse"], rel=1e-9)
    for argv, fragment in [(["train", tmp_path / "X.npy", "--depth", 2], "--y"),
                           (["train", tmp_path / "data.npz", "--y", tmp_path / "Y.npy",
                             "--depth", 2], "--y is for .npy data"),
                           (["train", tmp_path / "X.npy", "--y", tmp_path / "nope.npy",
                             "--depth", 2], "no such file")]:
        bad = run(*argv)
        assert bad.returncode == 2 and fragment in bad.stderr, bad.stderr


def test_a_registered_command_is_listed_offered_and_run(capsys, monkeypatch):
    """Adding a command is one :class:`Command` in ``COMMANDS``: ``fastdln --help`` lists it
    (in its description too) and ``fastdln NAME`` runs it with its options."""
    hello = cli.Command("hello", "print a greeting",
                        lambda parser: parser.add_argument("--name", default="world"),
                        lambda args: print(f"hello {args.name}") or 0)
    monkeypatch.setitem(cli.COMMANDS, "hello", hello)
    code, out, _ = main(capsys, "hello", "--name", "fastdln")
    assert code == 0 and out == "hello fastdln\n"
    code, out, _ = main(capsys, "--help")
    description = " ".join(out.split()).split("Commands: ", 1)[1].split(";", 1)[0]
    assert code == 0 and description.split(", ") == list(cli.COMMANDS)
    assert "print a greeting" in out


def test_help_is_plain_text():
    """No reST markup (``x``, :class:) nor layer notes in what --help prints."""
    for argv in (["--help"], ["train", "--help"], ["grid", "--help"], ["predict", "--help"]):
        shown = run(*argv)
        assert shown.returncode == 0, shown.stderr
        for markup in ("``", ":class:", ":func:", "apps layer"):
            assert markup not in shown.stdout, (argv, markup)


def test_a_train_result_prints_in_one_short_line():
    X, Y = np.ones((50, 30)) + np.eye(50, 30), np.ones((50, 2))
    result = fastdln.train(X, Y, widths=[30] * 12 + [2], sweeps=2, seed=0)
    text = repr(result)
    assert "\n" not in text and len(text) <= 200 and "array" not in text
    assert text.startswith("TrainResult(status='max_sweeps', sweeps=2, ")
    assert "[30, 30, ..., 2] (12 layers)" in text


def test_a_wide_csv_gets_short_messages(capsys, tmp_path):
    """794 columns: a --target typo suggests close names, a bad cell names its column."""
    names = [f"pixel{j}" for j in range(784)] + [f"label{j}" for j in range(10)]
    columns = list(np.random.default_rng(0).normal(size=(len(names), 4)))
    path = _csv(tmp_path / "wide.csv", names, columns)
    code, _, err = main(capsys, "train", path, "--depth", 1, "--target", "lable0,label1")
    assert code == 2 and len(err) == 1 and len(err[0].replace(str(path), "")) <= 200, err
    assert "--target column 'lable0' is not in" in err[0] and "did you mean 'label0'" in err[0]
    text = path.read_text().splitlines()
    text[2] = text[2].replace(",", ",nan,", 1).rsplit(",", 1)[0]
    path.write_text("\n".join(text) + "\n")
    code, _, err = main(capsys, "train", path, "--depth", 1, "--target", "label0")
    assert code == 2 and len(err) == 1 and len(err[0].replace(str(path), "")) <= 200, err
    assert err[0].endswith("line 3, column 'pixel1': 'nan' (values must be finite numbers)")


@pytest.mark.parametrize("where", ["column", "npy"])
def test_sample_weights_from_a_csv_column_or_an_npy(capsys, tmp_path, data, where):
    X, Y, _, _ = data
    w = np.random.default_rng(1).uniform(0, 3, len(X))
    path = _csv(tmp_path / "w.csv", ["f1", "f2", "w", "f3", "f4", "y"],
                [X[:, 0], X[:, 1], w, X[:, 2], X[:, 3], Y[:, 0]])
    if where == "npy":
        np.save(tmp_path / "w.npy", w)
        path = _csv(tmp_path / "plain.csv", ["f1", "f2", "f3", "f4", "y"], [*X.T, Y[:, 0]])
    weight = "w" if where == "column" else tmp_path / "w.npy"
    model = tmp_path / "m.npz"
    code, out, err = main(capsys, "train", path, "--target", "y", "--sample-weight", weight,
                          "--depth", 2, "--sweeps", 3, "--json", "--out", model)
    assert code == 0, err
    expected = fastdln.train(X, Y[:, 0], sample_weight=w, depth=2, sweeps=3, seed=0,
                             fit_intercept=True)
    loaded = fastdln.load(model)
    assert loaded.feature_names == ["f1", "f2", "f3", "f4"]  # the weights are no feature
    for mine, theirs in zip(loaded.weights, expected.weights):
        np.testing.assert_array_equal(mine, theirs)
    prediction = fastdln.predict(X, expected.weights, expected.intercept)
    summary = json.loads(out)
    assert summary["r2"] == pytest.approx(r2_score(Y[:, 0], prediction, sample_weight=w),
                                          rel=1e-12)
    assert summary["mse"] == pytest.approx(mean_squared_error(Y[:, 0], prediction,
                                                              sample_weight=w), rel=1e-12)


@pytest.mark.parametrize("weight, fragment", [
    ("y", "--sample-weight column 'y' is also a --target column"),
    ("W", "--sample-weight column 'W' is not in"),
    ("{short}", "sample_weight must have one weight per sample (60)"),
])
def test_bad_sample_weights_are_one_line(capsys, tmp_path, data, weight, fragment):
    _, _, npz, table = data
    np.save(tmp_path / "short.npy", np.ones(5))
    weight = weight.format(short=tmp_path / "short.npy")
    code, _, err = main(capsys, "train", table, "--target", "y", "--sample-weight", weight,
                        "--depth", 1)
    assert code == 2 and len(err) == 1 and fragment in err[0], err
    code, _, err = main(capsys, "train", npz, "--sample-weight", "w", "--depth", 1)
    assert code == 2 and "give an .npy of weights" in err[0], err


def test_metrics_read_a_memory_map_once_by_blocks_through_data(tmp_path, monkeypatch):
    """MSE and R^2 (weighted, merged over blocks of 7 rows) are scikit-learn's, from one
    pass of fastdln.core.data.Data over the memory-mapped X."""
    from fastdln.core import data as data_module

    rng = np.random.default_rng(8)
    X = rng.normal(size=(50, 3)) + 100.0  # large means: the merge must not cancel
    Y = X @ rng.normal(size=(3, 2)) + rng.normal(size=(50, 2)) + 1e4
    w = rng.uniform(0.0, 2.0, 50)
    np.save(tmp_path / "X.npy", X)
    X_map = np.load(tmp_path / "X.npy", mmap_mode="r")
    result = fastdln.train(X, Y, sample_weight=w, depth=2, sweeps=5, seed=0,
                           fit_intercept=True)
    fitted = fastdln.predict(X, result.weights, result.intercept)
    passes = []
    blocks = data_module.Data.blocks

    def counted(self, *args, **kwargs):
        passes.append(self.X is X_map)
        return blocks(self, *args, **kwargs)

    monkeypatch.setattr(data_module, "BLOCK_ROWS", 7)
    monkeypatch.setattr(data_module.Data, "blocks", counted)
    mse, r2, _ = cli._fit_metrics(X_map, Y, result.weights, result.intercept, True, w)
    assert passes == [True]
    assert mse == pytest.approx(mean_squared_error(Y, fitted, sample_weight=w), rel=1e-12)
    assert r2 == pytest.approx(r2_score(Y, fitted, sample_weight=w), rel=1e-10)


def test_nan_in_an_npy_names_its_row_and_column(tmp_path):
    X = np.ones((40000, 3))
    X[33333, 2] = np.nan
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "Y.npy", np.ones((40000, 1)))
    result = run("train", tmp_path / "X.npy", "--y", tmp_path / "Y.npy", "--depth", 1)
    assert result.returncode == 2
    assert result.stderr.strip() == ("fastdln: error: X must be finite (no NaN or inf as "
                                     "float64): row 33333, column 2 is nan")


def test_the_command_line_and_the_estimator_stop_alike_by_default(capsys, tmp_path):
    """Same data, same network and seed, every stopping option at its default: the same
    sweeps and the same predictions (scikit-learn's rule, the same budget)."""
    from sklearn.utils import check_random_state

    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, 12)) @ np.diag(np.geomspace(1, 1e-2, 12)) + 1.0
    Y = X @ rng.normal(size=(12, 3)) + 0.3 * rng.normal(size=(200, 3))
    data, model = tmp_path / "data.npz", tmp_path / "model.npz"
    np.savez(data, X=X, Y=Y)
    estimator = fastdln.DeepLinearRegressor(random_state=0).fit(X, Y)
    seed = check_random_state(0).randint(2**31 - 1)  # the seed the estimator draws
    code, out, _ = main(capsys, "train", data, "--depth", 3, "--seed", seed, "--json",
                        "--out", model)
    summary = json.loads(out)
    assert code == 0 and summary["status"] == "converged"
    assert summary["sweeps"] == estimator.n_iter_ < estimator.max_sweeps
    np.testing.assert_allclose(fastdln.load(model).predict(X), estimator.predict(X),
                               rtol=1e-10, atol=1e-10)
