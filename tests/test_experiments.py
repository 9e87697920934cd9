"""Experiment grids on local processes and on a real dask LocalCluster (loopback)."""

import csv
import subprocess
import sys

import numpy as np
import pytest

from fastdln import experiments

GRID = dict(data=["random:120:6:2:0", "random:80:5:3:1"], depth=[1, 3], order=["descending",
            "ascending"], seed=[0, 1], sweeps=5)


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
    for config, row in zip(configs, rows):
        serial = experiments.run_one(config)
        assert row["final_error"] == serial["final_error"]  # one BLAS thread either way
        assert row["sweeps"] == 5 and row["status"] == "max_sweeps" and row["seconds"] > 0
        curve = np.loadtxt(row["curve"])
        assert curve.shape == (6,) and curve[-1] == row["final_error"]


def test_dask_local_cluster_equals_local_run():
    distributed = pytest.importorskip("distributed")
    configs = experiments.expand_grid(dict(GRID, seed=[0]))
    local = experiments.run_grid(configs, n_workers=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        remote = experiments.run_grid(configs, client=client)
    for a, b in zip(local, remote):
        assert a["final_error"] == pytest.approx(b["final_error"], rel=1e-12, abs=1e-300)
        assert {k: a[k] for k in configs[0]} == {k: b[k] for k in configs[0]}


def test_cli_grid_writes_results_csv(tmp_path):
    toml = tmp_path / "grid.toml"
    toml.write_text('[train]\nsweeps = 3\n\n[grid]\ndata = ["random:60:4:2:0"]\n'
                    'depth = [1, 2]\ninit = ["identity", "orth-identity"]\n')
    out = tmp_path / "results.csv"
    result = subprocess.run([sys.executable, "-m", "fastdln", "grid", str(toml), "--workers",
                             "2", "--out", str(out)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and {r["init"] for r in rows} == {"identity", "orth-identity"}
    assert all(float(r["final_error"]) >= 0 for r in rows)
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nsweeps = 3\n")
    result = subprocess.run([sys.executable, "-m", "fastdln", "grid", str(bad)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "[grid]" in result.stderr
