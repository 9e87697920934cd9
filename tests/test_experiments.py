"""Experiment grids on local processes and on a real dask LocalCluster (loopback): failures
as rows, rows written as runs finish, the requested settings kept, typos in TOML refused,
SIGTERM (error rows, exit 143)."""

import csv
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pytest

from fastdln.apps import experiments, readers

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


class _InProcess(ThreadPoolExecutor):
    """A process pool's stand-in that runs in this process (no signal handlers)."""

    def __init__(self, workers, mp_context=None, initializer=None):
        super().__init__(workers)


def test_local_runs_get_one_blas_thread_as_a_setting_not_the_environment(monkeypatch):
    """Each local run trains with threads=1 unless it sets threads; os.environ is left
    alone (no BLAS variables set for the workers)."""
    seen = []

    def train(X, Y, **options):
        seen.append(options.get("threads", "unset"))
        raise RuntimeError("trained")

    monkeypatch.setattr(experiments, "train", train)
    monkeypatch.setattr(experiments, "ProcessPoolExecutor", _InProcess)
    environment = dict(os.environ)
    rows = experiments.run_grid([dict(data="random:10:2:1", depth=1),
                                 dict(data="random:10:2:1", depth=1, threads=2)], n_workers=1)
    assert [row["error"] for row in rows] == ["RuntimeError: trained"] * 2
    assert seen == [1, 2] and dict(os.environ) == environment
    assert "threads" not in rows[0]  # the row states what was asked
    with pytest.raises(RuntimeError, match="trained"):
        experiments.run_one(dict(data="random:10:2:1", depth=1))
    assert seen[-1] == "unset"  # a run of its own keeps Settings' default


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
