"""The benchmark tooling works: ``fastdln bench`` (table, ``--compare``, ``--against``) and
asv's discovery of the suites.

No timing is asserted here (timing claims live in the benchmarks themselves): the verdicts
are tested on injected timings, the machinery on tiny configurations.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from fastdln.apps import bench

ROOT = pathlib.Path(__file__).resolve().parents[1]
TINY = bench.Config("tiny", 6, 2, 30, 6, 3)


def _row(name, fast_s, samples=None):
    return dict(config=dict(name=name), fast_s=fast_s, reference_s=fast_s * 100,
                reference_estimated=False, blas_limit_s=fast_s / 2, us_per_update=1.0,
                speedup=100.0, over_blas_limit=2.0, jit_blas_limit_s=fast_s / 2,
                over_jit_blas_limit=2.0, **({} if samples is None else
                                             dict(fast_samples=samples)))


# -- verdicts on injected timings ---------------------------------------------------------
def test_robust_interval_is_the_middle_half():
    assert bench.robust_interval([1.0, 5.0, 2.0, 3.0, 0.1]) == (1.0, 3.0)
    assert bench.robust_interval([0.2, 1.0, 5.0, 2.0, 3.0, 0.1, 9.0, 7.0, 4.0]) == (1.0, 5.0)
    assert bench.robust_interval([1.0, 5.0, 0.1]) == (0.1, 5.0)


@pytest.mark.parametrize("ratios, noise, verdict", [
    ([1.14, 1.15, 1.16, 1.13, 1.17], [0.99, 1.01, 1.0, 1.02, 0.98], "slower"),
    # one disturbed round in five does not decide
    ([1.14, 1.15, 0.7, 1.13, 1.17], [0.99, 1.01, 1.0, 1.6, 0.98], "slower"),
    # the ratios overlap the noise band: not flagged
    ([1.14, 1.15, 1.16, 1.13, 1.17], [0.9, 1.14, 1.0, 1.15, 0.98], "same"),
    # above a quiet band but below the threshold's floor (1.05): not flagged
    ([1.03, 1.03, 1.04, 1.03, 1.04], [1.0, 1.0, 1.0, 1.0, 1.0], "same"),
    ([0.8, 0.82, 0.79, 0.81, 0.8], [0.99, 1.01, 1.0, 1.02, 0.98], "faster"),
])
def test_judge_flags_only_a_ratio_interval_outside_the_noise_band(ratios, noise, verdict):
    assert bench.judge(ratios, noise, threshold=1.05) == verdict


def test_summary_takes_the_best_sweep_of_each_round_and_pairs_rounds():
    samples = {"c": {"A": [[2.0, 1.0], [4.0, 2.0]], "A2": [[1.0, 3.0], [2.0, 2.0]],
                     "B": [[1.5, 1.6], [3.0, 9.0]]}}
    row = bench.summarize_against(samples, 1.05)["c"]
    assert row["ratio"]["values"] == [1.5, 1.5] and row["noise"]["values"] == [1.0, 1.0]
    assert row["old_s"] == dict(min=1.0, median=1.5, max=2.0) and row["verdict"] == "slower"


class FakeWorker:
    """Answers like :class:`fastdln.apps.bench.Worker`: ``seconds * factor`` per sweep."""

    def __init__(self, factor, calls):
        self.factor, self.calls, self.info = factor, calls, dict(file="fake", blas=None)

    def time(self, name, repeats, min_time=0.0):
        self.calls.append((self, name))
        return [0.01 * self.factor] * repeats

    def close(self):
        pass


def test_alternate_rotates_the_workers_order_every_round():
    calls = []
    workers = {key: FakeWorker(1.0, calls) for key in bench.WORKER_NAMES}
    samples = bench.alternate(workers, ["c"], rounds=3, repeats=2, pause=0.0,
                              clock=lambda _: None)
    assert [len(samples["c"][key]) for key in bench.WORKER_NAMES] == [3, 3, 3]
    firsts = [calls[3 * r][0] for r in range(3)]
    assert len({id(w) for w in firsts}) == 3  # each worker comes first once


def _fake_run(monkeypatch, tmp_path, factor):
    calls = []
    workers = dict(A=FakeWorker(1.0, calls), A2=FakeWorker(1.0, calls),
                   B=FakeWorker(factor, calls))
    monkeypatch.setattr(bench, "git_repository", lambda path: str(tmp_path))
    monkeypatch.setattr(bench, "_trees", lambda options, repo: (
        {}, dict(A="old (abc)", B="new (def)")))
    monkeypatch.setattr(bench, "_data_files", lambda names, folder: [])
    monkeypatch.setattr(bench, "_start_workers", lambda trees, spec, threads: workers)
    options = bench.AgainstOptions("old", configs=("n128-L100", "n16-L1000"), rounds=5,
                                   repeats=2, pause=0.0)
    lines, path = [], tmp_path / "against.json"
    code = bench.compare_revisions(options, echo=lines.append, json_path=str(path))
    return code, "\n".join(lines).splitlines(), json.loads(path.read_text())


@pytest.mark.parametrize("factor, code, verdict", [(1.0, 0, "SAME"), (1.2, 1, "SLOWER"),
                                                   (0.8, 0, "FASTER")])
def test_against_exit_status_and_report(monkeypatch, tmp_path, factor, code, verdict):
    exit_code, lines, saved = _fake_run(monkeypatch, tmp_path, factor)
    assert exit_code == code
    rows = [line for line in lines if line.startswith(("n128-L100", "n16-L1000"))]
    assert len(rows) == 2 and all(line.endswith(verdict) for line in rows)
    assert (lines[-1].startswith("REGRESSION: n128-L100, n16-L1000") if code
            else lines[-1] == "no regression")
    assert saved["regression"] is bool(code)


def test_against_json_keeps_every_sample_the_machine_and_the_blas(monkeypatch, tmp_path):
    _, _, saved = _fake_run(monkeypatch, tmp_path, 1.2)
    rounds = saved["samples"]["n128-L100"]["B"]
    assert len(rounds) == 5 and all(len(r) == 2 for r in rounds)
    machine = saved["machine"]
    assert machine["cores"] >= 1 and machine["cpu"] and "numpy" in machine
    assert "numba" in machine and isinstance(machine["blas"], list)
    assert saved["options"]["threads"] == 1 and saved["options"]["rounds"] == 5
    summary = saved["summary"]["n16-L1000"]
    assert summary["ratio"]["median"] == pytest.approx(1.2) and summary["verdict"] == "slower"
    assert set(summary["noise"]) >= {"min", "median", "max", "interval", "values"}


# -- the machinery, on tiny configurations ------------------------------------------------
def test_worker_imports_its_tree_with_fixed_threads_and_times_sweeps(tmp_path, monkeypatch):
    monkeypatch.setitem(bench.CONFIGS, "tiny", TINY)
    configs = bench._data_files(["tiny"], str(tmp_path))
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(dict(configs=configs, threads=1)))
    worker = bench.Worker(str(ROOT), str(spec), threads=1)
    try:
        info = worker.ready()
        samples = worker.time("tiny", 3)
        more = worker.time("tiny", 2, min_time=0.02)  # sweeps until they fill 0.02 s
    finally:
        worker.close()
    assert info["file"].startswith(str(ROOT)) and info["threads_option"] is True
    assert all(library["threads"] == 1 for library in info["blas"])
    assert len(samples) == 3 and all(s > 0 for s in samples)
    assert len(more) > 2 and sum(more) >= 0.02 > sum(more[:-1])


def _git(folder, *args):
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True,
                   env=dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
                            GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t"))


def test_revision_tree_extracts_a_commit_once(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("first")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "commit", "-q", "-m", "one")
    repo = bench.git_repository(str(tmp_path))
    commit = bench.resolve_revision(repo, "HEAD")
    (tmp_path / "a.txt").write_text("changed, not committed")
    tree, cache = bench.revision_tree(repo, commit)
    assert pathlib.Path(tree, "a.txt").read_text() == "first"
    assert bench.revision_tree(repo, commit) == (tree, cache)
    with pytest.raises(ValueError, match="--against nope"):
        bench.resolve_revision(repo, "nope")


@pytest.mark.parametrize("argv, fragment", [
    (["--against", "HEAD", "--repo", "{tmp}"], "needs a git checkout"),
    (["--new", "HEAD"], "--new REV needs --against"),
    (["--against", "HEAD", "--configs", "n1-L1"], "--configs"),
    (["--against", "HEAD", "--quick"], "--against cannot be combined"),
    (["--threshold", "0.9"], "--threshold"),
])
def test_bench_usage_errors_exit_2_naming_the_option(tmp_path, argv, fragment):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    result = subprocess.run([sys.executable, "-m", "fastdln", "bench", *argv],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2 and fragment in result.stderr
    assert "Traceback" not in result.stderr


# -- the table and --compare ----------------------------------------------------------------
def test_compare_gives_ratios_with_spread_and_names_slower_configurations(tmp_path):
    old = tmp_path / "old.json"
    old.write_text(json.dumps(dict(machine={}, results=[
        _row("a", 1.0, [1.0, 1.1, 1.2]), _row("b", 1.0)])))
    lines, slower = bench.compare([_row("a", 1.5, [1.5, 1.6, 1.7]), _row("b", 1.1),
                                   _row("new", 9.0)], old, 1.2)
    assert slower == ["a"] and len(lines) == 2
    assert lines[0].startswith("SLOWER a") and "median 1.455, min 1.500" in lines[0]
    assert "[1000.000-1200.000]" in lines[0]


def test_bench_runs_saves_every_sample_and_compares(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "QUICK", [TINY])
    monkeypatch.setattr(bench, "SETUP_QUICK", [(500, 8)])
    lines = []
    path = tmp_path / "run.json"
    assert bench.main(quick=True, json_path=str(path), repeats=3, echo=lines.append) == 0
    saved = json.loads(path.read_text())
    assert saved["machine"]["cores"] >= 1 and "numba" in saved["machine"]
    assert saved["threads"] == 1 and saved["results"][0]["threads"] == 1
    row = saved["results"][0]
    assert row["config"]["name"] == "tiny" and len(row["fast_samples"]) == 3
    assert row["fast_spread"]["min"] <= row["fast_s"] <= row["fast_spread"]["max"]
    assert saved["setup"][0]["m"] == 500 and len(saved["setup"][0]["setup_samples"]) == 3
    assert any(line.startswith("set-up 500 x 8") for line in lines)
    assert any(line.startswith("tiny") for line in "\n".join(lines).splitlines())
    # a threshold no run can meet makes the comparison fail and name the configuration
    code = bench.main(quick=True, compare_path=str(path), threshold=1e-9, repeats=1,
                      echo=lines.append)
    assert code == 1 and any(line.startswith("SLOWER tiny") for line in lines)


def test_compare_warns_when_the_old_file_is_from_another_machine(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "QUICK", [TINY])
    monkeypatch.setattr(bench, "SETUP_QUICK", [(500, 8)])
    path = tmp_path / "run.json"
    assert bench.main(quick=True, json_path=str(path), repeats=1, echo=lambda _: None) == 0
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


def test_cli_bench_help():
    out = subprocess.run([sys.executable, "-m", "fastdln", "bench", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "--compare" in out and "--json" in out and "--against" in out
    assert "another machine" in out and "fast/limit, the sweep as a multiple" in out


def test_asv_suites_are_valid():
    """``asv check --python=same`` (asv comes with the test and bench extras): broken suites
    fail CI."""
    result = subprocess.run([sys.executable, "-m", "asv", "check", "--python=same"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No problems found" in result.stdout
