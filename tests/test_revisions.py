"""``fastdln bench --against``: the verdicts on injected timings, the worker processes and
the extraction of a revision on tiny configurations (no timing is asserted)."""

import json
import os
import pathlib
import subprocess

import pytest

from fastdln.apps import revisions, timing

ROOT = pathlib.Path(__file__).resolve().parents[1]
TINY = timing.Config("tiny", 6, 2, 30, 6, 3)


# -- verdicts on injected timings ---------------------------------------------------------
def test_robust_interval_is_the_middle_half():
    assert revisions.robust_interval([1.0, 5.0, 2.0, 3.0, 0.1]) == (1.0, 3.0)
    assert revisions.robust_interval([0.2, 1.0, 5.0, 2.0, 3.0, 0.1, 9.0, 7.0, 4.0]) == (1.0, 5.0)
    assert revisions.robust_interval([1.0, 5.0, 0.1]) == (0.1, 5.0)


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
    assert revisions.judge(ratios, noise, threshold=1.05) == verdict


def test_summary_takes_the_best_sweep_of_each_round_and_pairs_rounds():
    samples = {"c": {"A": [[2.0, 1.0], [4.0, 2.0]], "A2": [[1.0, 3.0], [2.0, 2.0]],
                     "B": [[1.5, 1.6], [3.0, 9.0]]}}
    row = revisions.summarize_against(samples, 1.05)["c"]
    assert row["ratio"]["values"] == [1.5, 1.5] and row["noise"]["values"] == [1.0, 1.0]
    assert row["old_s"] == dict(min=1.0, median=1.5, max=2.0) and row["verdict"] == "slower"


class FakeWorker:
    """Answers like :class:`fastdln.apps.revisions.Worker`: ``seconds * factor`` per sweep."""

    def __init__(self, factor, calls):
        self.factor, self.calls, self.info = factor, calls, dict(file="fake", blas=None)

    def time(self, name, repeats, min_time=0.0):
        self.calls.append((self, name))
        return [0.01 * self.factor] * repeats

    def close(self):
        pass


def test_alternate_rotates_the_workers_order_every_round():
    calls = []
    workers = {key: FakeWorker(1.0, calls) for key in revisions.WORKER_NAMES}
    samples = revisions.alternate(workers, ["c"], rounds=3, repeats=2, pause=0.0,
                              clock=lambda _: None)
    assert [len(samples["c"][key]) for key in revisions.WORKER_NAMES] == [3, 3, 3]
    firsts = [calls[3 * r][0] for r in range(3)]
    assert len({id(w) for w in firsts}) == 3  # each worker comes first once


def _fake_run(monkeypatch, tmp_path, factor):
    calls = []
    workers = dict(A=FakeWorker(1.0, calls), A2=FakeWorker(1.0, calls),
                   B=FakeWorker(factor, calls))
    monkeypatch.setattr(revisions, "git_repository", lambda path: str(tmp_path))
    monkeypatch.setattr(revisions, "_trees", lambda options, repo: (
        {}, dict(A="old (abc)", B="new (def)")))
    monkeypatch.setattr(revisions, "_data_files", lambda names, folder: [])
    monkeypatch.setattr(revisions, "_start_workers", lambda trees, spec, threads: workers)
    options = revisions.AgainstOptions("old", configs=("n128-L100", "n16-L1000"), rounds=5,
                                   repeats=2, pause=0.0)
    lines, path = [], tmp_path / "against.json"
    code = revisions.compare_revisions(options, echo=lines.append, json_path=str(path))
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
    monkeypatch.setitem(timing.CONFIGS, "tiny", TINY)
    configs = revisions._data_files(["tiny"], str(tmp_path))
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(dict(configs=configs, threads=1)))
    worker = revisions.Worker(str(ROOT), str(spec), threads=1)
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
    repo = revisions.git_repository(str(tmp_path))
    commit = revisions.resolve_revision(repo, "HEAD")
    (tmp_path / "a.txt").write_text("changed, not committed")
    tree, cache = revisions.revision_tree(repo, commit)
    assert pathlib.Path(tree, "a.txt").read_text() == "first"
    assert revisions.revision_tree(repo, commit) == (tree, cache)
    with pytest.raises(ValueError, match="--against nope"):
        revisions.resolve_revision(repo, "nope")
