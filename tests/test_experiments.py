"""Experiment grids on local processes and on a real dask LocalCluster (loopback): failures
as rows, rows written as runs finish, the requested settings kept, typos in TOML refused,
SIGTERM (error rows, exit 143)."""

import csv
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import Future

import numpy as np
import pytest

from fastdln.apps import experiments, readers
from tests.helpers import ROOT

GRID = dict(data=["random:120:6:2:0", "random:80:5:3:1"], depth=[1, 3], order=["descending",
            "ascending"], seed=[0, 1], sweeps=5)


def _read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_expand_grid_is_the_product_of_lists():
    configs = experiments.expand_grid(GRID)
    assert len(configs) == 2 * 2 * 2 * 2
    assert all(c["sweeps"] == 5 for c in configs)
    assert {(c["depth"], c["order"]) for c in configs} == {(1, "descending"), (1, "ascending"),
                                                          (3, "descending"), (3, "ascending")}


def test_local_processes_equal_serial_runs(tmp_path):
    configs = experiments.expand_grid(GRID)
    rows = experiments.run_grid(configs, n_workers=2, curve_dir=str(tmp_path))
    assert len(rows) == len(configs)
    for index, (config, row) in enumerate(zip(configs, rows)):
        serial = experiments.run_one(config)
        assert row["final_error"] == serial["final_error"]  # one BLAS thread either way
        assert row["run"] == index and {k: row[k] for k in config} == config
        assert row["sweeps_done"] == 5 and row["status"] == "max_sweeps" and row["seconds"] > 0
        curve = np.loadtxt(row["curve"])
        assert curve.shape == (6,) and curve[-1] == row["final_error"]
        assert curve[0] == row["initial_error"] > row["final_error"]


def test_rows_keep_the_requested_settings_besides_the_outcome():
    row = experiments.run_one(dict(data="random:60:4:2:0", depth=3, width=5, sweeps=50,
                                   tol=1e-3))
    assert row["sweeps"] == 50 and 0 < row["sweeps_done"] < 50 and row["status"] == "converged"
    assert row["seed"] == 0 and row["width"] == 5 and row["widths"] == "[4, 5, 5, 2]"
    assert row["initial_error"] > 1e-3 >= row["final_error"] and row["error"] == ""
    default = experiments.run_one(dict(data="random:60:4:2:0", depth=1))
    assert default["sweeps"] == 1 == default["sweeps_done"]


def test_a_bad_run_is_its_row_and_the_others_arrive(tmp_path):
    """One missing data file: its row says so, the other runs finish, every row is written,
    and each row is in the file when its run is reported (a killed grid keeps them)."""
    configs = experiments.expand_grid(dict(data=["random:60:4:2:0", str(tmp_path / "missing.npz"),
                                                 "random:50:3:2:1"], depth=[1, 2], sweeps=3))
    out = tmp_path / "results.csv"
    in_file_when_reported = []

    def on_row(row):
        in_file_when_reported.append(str(row["run"]) in {r["run"] for r in _read(out)})

    rows = experiments.run_grid(configs, n_workers=2, out=out, on_row=on_row)
    assert in_file_when_reported == [True] * len(configs)
    bad = [row for row in rows if row["status"] == "error"]
    assert [row["run"] for row in bad] == [2, 3]
    assert all("missing.npz" in row["error"] and "no such file" in row["error"] for row in bad)
    assert all(row["status"] == "max_sweeps" for row in rows if row not in bad)
    written = sorted(_read(out), key=lambda r: int(r["run"]))
    assert [r["status"] for r in written] == [row["status"] for row in rows]
    assert list(written[0]) == experiments.grid_columns(configs)
    assert written[2]["final_error"] == "" and written[0]["widths"] == "[4, 2]"


def test_local_runs_get_one_blas_thread_as_a_setting_not_the_environment(monkeypatch):
    """Each local run trains with threads=1 unless it sets threads; the environment is left
    alone (no BLAS variables set for the workers)."""
    def train(X, Y, **options):
        raise RuntimeError(f"trained with threads={options.get('threads', 'unset')}, "
                           f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}")

    monkeypatch.setattr(experiments, "train", train)
    monkeypatch.setattr(experiments, "_START_METHOD", "fork")  # the workers see this train
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    rows = experiments.run_grid([dict(data="random:10:2:1", depth=1),
                                 dict(data="random:10:2:1", depth=1, threads=2)], n_workers=1)
    assert [row["error"] for row in rows] == [
        f"RuntimeError: trained with threads={n}, OPENBLAS_NUM_THREADS=None" for n in (1, 2)]
    assert "threads" not in rows[0]  # the row states what was asked
    with pytest.raises(RuntimeError, match="trained with threads=unset"):
        experiments.run_one(dict(data="random:10:2:1", depth=1))  # Settings' default


def test_a_lost_worker_is_the_row_of_its_run():
    futures = [Future(), Future()]
    futures[0].set_result(dict(status="max_sweeps"))
    futures[1].set_exception(RuntimeError("worker killed"))
    configs = [dict(data="random:10:2:1", depth=1), dict(data="random:10:2:1", depth=2)]
    rows = dict(experiments._rows_of(futures, futures, configs))
    assert rows[0] == dict(status="max_sweeps")
    assert rows[1]["status"] == "error" and rows[1]["error"] == "RuntimeError: worker killed"
    assert rows[1]["depth"] == 2 and rows[1]["sweeps"] == 1


@pytest.mark.parametrize("text, fragment", [
    ('[train]\nsweep = 5\n[grid]\ndepth = [1]\n',
     "unknown key(s) ['sweep'] in [train] of {path} (did you mean 'sweeps'?)"),
    ('[grid]\ndepth = [1]\nordr = ["ascending"]\nit = [1]\n',
     "unknown key(s) ['it', 'ordr'] in [grid] of {path} (did you mean 'init', 'order'?)"),
    ('[grids]\ndepth = [1]\n', "{path}: unknown table [grids] at the top level"),
    ('sweeps = 3\n[grid]\ndepth = [1]\n', "{path}: unknown key 'sweeps' at the top level"),
    ('[train]\nsweeps = 3\n', "{path}: needs a [grid] table"),
    ('[grid\ndepth = [1]\n', "{path}: not valid TOML"),
])
def test_grid_files_with_typos_are_refused_naming_key_and_file(tmp_path, text, fragment):
    path = tmp_path / "grid.toml"
    path.write_text(text)
    with pytest.raises(ValueError) as caught:
        experiments.load_grid_file(path)
    assert fragment.format(path=path) in str(caught.value)


def test_run_configs_with_unknown_keys_are_refused_before_any_run():
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['sweep'\] in the run"):
        experiments.run_grid([dict(data="random:10:2:1", depth=1),
                              dict(data="random:10:2:1", depth=1, sweep=3)])


def test_dask_local_cluster_equals_local_run():
    distributed = pytest.importorskip("distributed")
    configs = experiments.expand_grid(dict(GRID, seed=[0]))
    configs.append(dict(data="missing.npz", depth=1))
    local = experiments.run_grid(configs, n_workers=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        remote = experiments.run_grid(configs, client=client)
    for a, b in zip(local, remote):
        assert a["status"] == b["status"] and a["run"] == b["run"]
        if a["status"] != "error":
            assert a["final_error"] == pytest.approx(b["final_error"], rel=1e-12, abs=1e-300)
        assert {k: a.get(k) for k in configs[0]} == {k: b.get(k) for k in configs[0]}
    assert remote[-1]["status"] == "error" and "no such file" in remote[-1]["error"]


def test_cli_grid_writes_every_row_and_exits_1_when_a_run_failed(tmp_path):
    toml = tmp_path / "grid.toml"
    toml.write_text('[train]\nsweeps = 3\n\n[grid]\ndata = ["random:60:4:2:0", "nope.npz"]\n'
                    'depth = [1, 2]\ninit = ["identity", "orth-identity"]\n')
    out = tmp_path / "results.csv"
    result = subprocess.run([sys.executable, "-m", "fastdln", "grid", str(toml), "--workers",
                             "2", "--out", str(out)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 1, result.stderr
    assert result.stderr == ""  # no progress bar: stderr is not a terminal
    assert "wrote 8 rows" in result.stdout and "4 run(s) failed" in result.stdout
    rows = _read(out)
    assert len(rows) == 8 and {r["init"] for r in rows} == {"identity", "orth-identity"}
    assert sorted(r["status"] for r in rows) == ["error"] * 4 + ["max_sweeps"] * 4
    assert all(float(r["final_error"]) >= 0 for r in rows if r["status"] != "error")
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nsweep = 3\n[grid]\ndepth = [1]\n")
    result = subprocess.run([sys.executable, "-m", "fastdln", "grid", str(bad)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "'sweep'" in result.stderr and str(bad) in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_a_grid_reads_npy_pairs_by_blocks_like_npz(tmp_path):
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(500, 5)), rng.normal(size=(500, 2))
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "Y.npy", Y)
    np.savez(tmp_path / "d.npz", X=X, Y=Y)
    pair = readers.read_grid_data(f"{tmp_path / 'X.npy'},{tmp_path / 'Y.npy'}")
    assert all(isinstance(a, np.memmap) for a in pair)
    npy = experiments.run_one(dict(data=f"{tmp_path / 'X.npy'}, {tmp_path / 'Y.npy'}",
                                   depth=2, sweeps=3))
    npz = experiments.run_one(dict(data=str(tmp_path / "d.npz"), depth=2, sweeps=3))
    assert npy["final_error"] == npz["final_error"]
    with pytest.raises(ValueError, match="two files"):
        readers.read_grid_data(str(tmp_path / "X.npy"))


def _children(pid):
    """The process ids of ``pid``'s children (Linux /proc)."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            found += [int(child) for child in f.read().split()]
    return found


def _cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="reads /proc (Linux)")
def test_sigterm_to_a_grid_makes_its_runs_error_rows_and_exits_143(tmp_path):
    """SIGTERM to ``fastdln grid``: the run in progress stops after a sweep, it and the run
    not started become error rows, every row is written, one line, exit 143."""
    toml = tmp_path / "grid.toml"
    toml.write_text('[train]\nsweeps = 100000000\n\n[grid]\ndata = "random:300:32:4:0"\n'
                    'depth = [30, 31]\n')
    out = tmp_path / "results.csv"
    process = subprocess.Popen([sys.executable, "-m", "fastdln", "grid", str(toml),
                                "--workers", "1", "--out", str(out)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    busy = []
    while not busy and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)  # a worker that has trained for a while (not the resource tracker)
        busy = [c for c in _children(process.pid) if _cpu_seconds(c) > 4.0]
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert busy and process.returncode == 143, stderr
    assert stderr.splitlines() == [f"fastdln: stopped by SIGTERM; wrote 2 rows to {out} (the "
                                   "runs it stopped are error rows)"]
    rows = _read(out)
    assert [r["status"] for r in rows] == ["error", "error"]
    assert rows[0]["error"].startswith("RuntimeError: stopped by SIGTERM after ")
    assert rows[1]["error"] == "RuntimeError: not run: the grid's worker got SIGTERM"


def _alive(pid):
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _busiest_child(process, seconds):
    """The child of ``process`` that has used the most CPU, once it has used ``seconds``."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
        children = {c: _cpu_seconds(c) for c in _children(process.pid) if _alive(c)}
        busy = [c for c, cpu in children.items() if cpu > seconds]
        if busy:
            return max(busy, key=children.get)
    raise AssertionError("no busy worker")


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="reads /proc (Linux)")
def test_a_killed_worker_costs_only_its_own_run(tmp_path):
    """kill -9 of the worker running the first run (as the out-of-memory killer would):
    that run is an error row saying so, a new worker runs the three runs still waiting."""
    toml = tmp_path / "grid.toml"
    toml.write_text('[grid]\ndata = "random:300:32:4:0"\ndepth = 30\n'
                    'sweeps = [100000000, 3, 4, 5]\n')
    out = tmp_path / "results.csv"
    process = subprocess.Popen([sys.executable, "-m", "fastdln", "grid", str(toml),
                                "--workers", "1", "--out", str(out)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    os.kill(_busiest_child(process, 4.0), signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 1, stderr
    assert "1 run(s) failed" in stdout and "Traceback" not in stderr
    rows = {int(r["run"]): r for r in _read(out)}
    assert [rows[i]["status"] for i in range(4)] == ["error"] + ["max_sweeps"] * 3
    assert rows[0]["error"] == (
        "WorkerDied: the worker process running this run died (killed by SIGKILL (kill -9, "
        "or the out-of-memory killer)); the other runs went on")
    assert [rows[i]["sweeps_done"] for i in range(1, 4)] == ["3", "4", "5"]


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="reads /proc (Linux)")
def test_workers_die_with_a_killed_grid(tmp_path):
    """kill -9 of ``fastdln grid`` itself: its workers end within seconds, not minutes."""
    toml = tmp_path / "grid.toml"
    toml.write_text('[train]\nsweeps = 100000000\n\n[grid]\ndata = "random:300:32:4:0"\n'
                    'depth = [30, 31]\n')
    process = subprocess.Popen([sys.executable, "-m", "fastdln", "grid", str(toml),
                                "--workers", "2", "--out", str(tmp_path / "results.csv")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _busiest_child(process, 2.0)
    workers = _children(process.pid)
    process.kill()
    process.wait()
    deadline = time.monotonic() + 10
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_alive, workers))


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="reads /proc (Linux)")
def test_without_prctl_a_thread_ends_a_worker_whose_parent_is_gone():
    """The fallback where the kernel offers no parent-death signal (not Linux)."""
    child = ("import os; from fastdln.apps.experiments import _watch_parent; "
             "print(os.getpid(), flush=True); _watch_parent(os.getppid(), period=0.05)")
    parent = ("import subprocess, sys; child = subprocess.Popen([sys.executable, '-c', "
              f"{child!r}], stdout=subprocess.PIPE, text=True); "
              "print(child.stdout.readline(), end='')")
    result = subprocess.run([sys.executable, "-c", parent], capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    pid = int(result.stdout)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)
