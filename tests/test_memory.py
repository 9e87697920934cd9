"""Out of memory: refused before allocating, in one line naming the widths and the bytes,
from the API (MemoryError) and every command (exit 2); the limits read from the system."""

import os
import resource
import subprocess
import sys

import numpy as np
import pytest

import fastdln
from fastdln.maths import _memory
from tests.helpers import ROOT

LIMIT = 3 << 30  # an address-space limit (ulimit -v) for the subprocesses


def _limited(code_or_argv, tmp_path):
    """Run under ``RLIMIT_AS = LIMIT``; returns the completed process."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))

    argv = code_or_argv if isinstance(code_or_argv, list) else ["-c", code_or_argv]
    return subprocess.run([sys.executable, *argv], preexec_fn=limit, capture_output=True,
                          text=True, timeout=600, cwd=str(tmp_path),
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc (Linux)")
def test_the_api_raises_before_allocating_under_a_memory_limit(tmp_path):
    code = """
import resource, numpy as np, fastdln
rng = np.random.default_rng(0)
X, Y = rng.normal(size=(20, 4)), rng.normal(size=(20, 2))
for call in (lambda: fastdln.init_weights([4, 20000, 20000, 2]),
             lambda: fastdln.train(X, Y, depth=3, width=20000),
             lambda: fastdln.Trainer(X, Y, widths=[4, 14000, 14000, 2], dtype="float32")):
    try:
        call()
    except MemoryError as error:
        print(error)
print("peak", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""
    result = _limited(code, tmp_path)
    assert result.returncode == 0, result.stderr
    *errors, peak = result.stdout.strip().splitlines()
    assert len(errors) == 3
    assert errors[0] == (
        "out of memory: widths [4, 20000, 20000, 2] need 3.0 GiB (3200960000 bytes) for their "
        f"weights (float64), more than the {errors[0].split('more than the ')[1].split()[0]} "
        f"GiB this process may still use (the address-space limit, ulimit -v, of 3.0 GiB); "
        "use narrower or fewer layers")
    assert errors[1].startswith("out of memory: widths [4, 20000, 20000, 2] need 3.0 GiB")
    assert "; training (the network, drawn in float64 where it is float32, and the engine's " \
        "working copy) takes 6.0 GiB (2 times that), more than" in errors[1]
    assert "widths [4, 14000, 14000, 2] need 748.0 MiB" in errors[2] and "(float32)" in errors[2]
    assert "takes 2.9 GiB (4 times that)" in errors[2]
    assert int(peak.split()[1]) < 1 << 30  # nothing of the gigabytes was allocated


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc (Linux)")
def test_every_command_says_out_of_memory_in_one_line_and_exits_2(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", X=rng.normal(size=(30, 4)), Y=rng.normal(size=(30, 2)))
    train = _limited(["-m", "fastdln", "train", "d.npz", "--depth", "3", "--width", "20000"],
                     tmp_path)
    assert train.returncode == 2 and train.stdout == ""
    assert train.stderr.startswith("fastdln: error: out of memory: widths [4, 20000, 20000, 2] "
                                   "need 3.0 GiB (3200960000 bytes) for their weights")
    assert len(train.stderr.splitlines()) == 1
    # where the size is not known up front, numpy's MemoryError: one line as well
    demo = _limited(["-m", "fastdln", "demo", "--samples", str(10 ** 9)], tmp_path)
    assert demo.returncode == 2 and len(demo.stderr.splitlines()) == 1
    assert demo.stderr.startswith("fastdln: error: out of memory: Unable to allocate")
    grid = tmp_path / "g.toml"
    grid.write_text('[grid]\ndata = "random:30:4:2"\ndepth = 3\nwidth = [20000, 5]\n')
    rows = _limited(["-m", "fastdln", "grid", "g.toml", "--workers", "1", "--out", "r.csv"],
                    tmp_path)
    assert rows.returncode == 1, rows.stderr  # one run failed, the other finished
    written = (tmp_path / "r.csv").read_text()
    assert "MemoryError: out of memory: widths [4, 20000, 20000, 2]" in written
    assert "max_sweeps" in written


def test_the_cgroup_limits_v1_and_v2_are_read_up_the_hierarchy(tmp_path, monkeypatch):
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "cgroup").write_text("4:memory:/jobs/a\n0::/user/b\n")
    v2 = tmp_path / "cg" / "user" / "b"
    v2.mkdir(parents=True)
    (v2 / "memory.max").write_text("max\n")  # no limit here, one above
    (v2 / "memory.current").write_text("100\n")
    (v2.parent / "memory.max").write_text(str(8 << 30))
    (v2.parent / "memory.current").write_text(str(5 << 30))
    v1 = tmp_path / "cg" / "memory" / "jobs" / "a"
    v1.mkdir(parents=True)
    (v1 / "memory.limit_in_bytes").write_text(str(4 << 30))
    (v1 / "memory.usage_in_bytes").write_text(str(2 << 30))
    monkeypatch.setattr(_memory, "_PROC", str(proc))
    monkeypatch.setattr(_memory, "_CGROUP_ROOT", str(tmp_path / "cg"))
    assert _memory._cgroup() == (2 << 30, "the cgroup memory limit of 4.0 GiB")
    (v1 / "memory.limit_in_bytes").write_text(str(1 << 62))  # v1's "no limit"
    assert _memory._cgroup() == (3 << 30, "the cgroup memory limit of 8.0 GiB")


def test_what_fits_is_never_refused():
    available, _ = _memory.available_memory()
    assert available is None or available > 0
    weights = fastdln.init_weights([30, 200, 200, 4])  # far below any limit
    assert _memory.weight_bytes([30, 200, 200, 4], "float64") == sum(W.nbytes for W in weights)
    assert _memory.describe_bytes(28803360000) == "26.8 GiB"
    assert _memory.describe_bytes(512) == "512 B"
