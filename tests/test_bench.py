"""The benchmark tooling works: ``fastdln bench`` logic and asv's discovery of the suites.

No timing is asserted here (timing claims live in the benchmarks themselves).
"""

import json
import pathlib
import subprocess
import sys

from fastdln import bench


def _row(name, fast_s):
    return dict(config=dict(name=name), fast_s=fast_s, reference_s=fast_s * 100,
                reference_estimated=False, blas_limit_s=fast_s / 2, us_per_update=1.0,
                speedup=100.0, over_blas_limit=2.0, jit_blas_limit_s=fast_s / 2,
                over_jit_blas_limit=2.0)


def test_compare_names_each_slower_configuration(tmp_path):
    old = tmp_path / "old.json"
    old.write_text(json.dumps(dict(machine={}, results=[_row("a", 1.0), _row("b", 1.0)])))
    slower = bench.compare([_row("a", 1.5), _row("b", 1.1), _row("new", 9.0)], old, 1.2)
    assert len(slower) == 1 and slower[0].startswith("a:")


def test_bench_runs_saves_and_compares(tmp_path, monkeypatch):
    tiny = bench.Config("tiny", 6, 2, 30, 6, 3)
    monkeypatch.setattr(bench, "QUICK", [tiny])
    monkeypatch.setattr(bench, "SETUP_QUICK", [(500, 8)])
    lines = []
    path = tmp_path / "run.json"
    assert bench.main(quick=True, json_path=str(path), repeats=1, echo=lines.append) == 0
    saved = json.loads(path.read_text())
    assert saved["machine"]["cores"] >= 1 and "numba" in saved["machine"]
    assert saved["results"][0]["config"]["name"] == "tiny"
    assert saved["setup"][0]["m"] == 500 and saved["setup"][0]["setup_s"] > 0
    assert any(line.startswith("set-up 500 x 8") for line in lines)
    assert any("tiny" in line and "speed-up" not in line for line in lines)
    # a threshold no run can meet makes the comparison fail and name the configuration
    code = bench.main(quick=True, compare_path=str(path), threshold=1e-9, repeats=1,
                      echo=lines.append)
    assert code == 1 and any(line.startswith("SLOWER tiny") for line in lines)


def test_asv_suites_are_valid():
    """``asv check --python=same`` (asv comes with the test extra): broken suites fail CI."""
    root = pathlib.Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-m", "asv", "check", "--python=same"], cwd=root,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No problems found" in result.stdout


def test_cli_bench_help():
    out = subprocess.run([sys.executable, "-m", "fastdln", "bench", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "--compare" in out and "--json" in out
    assert "another machine" in out and "fast/limit, the sweep as a multiple" in out


def test_compare_warns_when_the_old_file_is_from_another_machine(tmp_path, monkeypatch):
    tiny = bench.Config("tiny", 6, 2, 30, 6, 3)
    monkeypatch.setattr(bench, "QUICK", [tiny])
    monkeypatch.setattr(bench, "SETUP_QUICK", [(500, 8)])
    path = tmp_path / "run.json"
    lines = []
    assert bench.main(quick=True, json_path=str(path), repeats=1, echo=lines.append) == 0
    same = []
    bench.main(quick=True, compare_path=str(path), threshold=1e9, repeats=1, echo=same.append)
    assert not any(line.startswith("WARNING") for line in same)
    saved = json.loads(path.read_text())
    saved["machine"]["cpu"] = "Another CPU"
    saved["machine"]["cores"] = 96
    path.write_text(json.dumps(saved))
    other = []
    bench.main(quick=True, compare_path=str(path), threshold=1e9, repeats=1, echo=other.append)
    (warning,) = [line for line in other if line.startswith("WARNING")]
    assert "cpu: Another CPU ->" in warning and "cores: 96 ->" in warning
