"""Measuring the GEMM libraries against scipy's on the kernels' shapes (``fastdln warmup``)."""

import json
import os
import subprocess
import sys

import pytest

from fastdln.maths import _fastest_gemm, _gemm, _wisdom
from tests.helpers import ROOT


def test_the_shapes_are_an_updates_products():
    assert _fastest_gemm.kernel_shapes(128) == [(128, 128, 138), (10, 128, 128),
                                                (128, 10, 138)]
    assert _fastest_gemm.kernel_shapes(16) == [(16, 16, 20), (4, 16, 16), (16, 4, 20)]


MEASURE = r"""
import json, sys
from fastdln.maths import _fastest_gemm
_fastest_gemm.WIDTHS = (16, 128)
lines = []
rows = _fastest_gemm.measure(rounds=1, report=lines.append)
print(json.dumps({"rows": rows, "lines": lines}))
"""


def test_each_library_found_is_measured_and_its_verdict_kept(wisdom):
    """In a process of its own: this one keeps MKL unloaded (the BLAS libraries a process
    controls are those loaded when it first looks)."""
    found = _gemm.candidates()
    if not found:
        pytest.skip("no MKL in this environment (pip install mkl)")
    out = subprocess.run([sys.executable, "-c", MEASURE], capture_output=True, text=True,
                         cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    rows, lines = result["rows"], result["lines"]
    if not rows:
        pytest.skip(f"{found} cannot serve here (not LP64)")
    assert [(row["library"], row["dtype"]) for row in rows] == [
        (path, dtype) for path in found for dtype in ("float64", "float32")]
    _wisdom._forget()  # read the file, as a new process does
    entry = _wisdom.gemm_entries(_gemm.gemm_context())[found[0]]
    assert entry["stamp"] == _gemm.library_stamp(found[0])
    for row, line in zip(rows, lines):
        assert sorted(row["ratios"]) == ["128", "16"]
        assert all(r > 0 for r in row["ratios"].values())
        assert entry["ratios"][row["dtype"]] == pytest.approx(row["ratio"])
        assert line.startswith(f"gemm {row['dtype']} ")
    chosen = {dtype for dtype, ratio in entry["ratios"].items() if ratio < _gemm.CHOOSE_BELOW}
    assert set(_gemm.chosen_libraries()) == chosen


def test_a_library_that_cannot_serve_is_refused(tmp_path):
    text = tmp_path / "libmkl_rt.so.9"
    text.write_text("not a library")
    with pytest.raises(ValueError, match="cannot serve"):
        _fastest_gemm.compare(str(text), "float64")


def test_a_library_measured_before_is_not_measured_again_unless_asked(wisdom, monkeypatch):
    """A verdict for this machine and this build of the library stands (warmup measures
    once); ``again`` (``fastdln warmup --all``) measures anew; another build is new."""
    library = "/nowhere/libmkl_rt.so.2"
    monkeypatch.setattr(_gemm, "candidates", lambda: [library])
    monkeypatch.setattr(_gemm, "library_stamp", lambda path: "build-1")
    opened = []
    monkeypatch.setattr(_gemm, "open_library", lambda path: opened.append(path))  # cannot serve
    _wisdom.record_gemm(_gemm.gemm_context(), library, "build-1", {"float64": 1.2})
    lines = []
    assert _fastest_gemm.measure(report=lines.append, again=False, dtypes=["float64"]) == []
    assert opened == [] and "measured before" in lines[0] and "float64 1.20" in lines[0]
    _fastest_gemm.measure(report=lines.append, again=False)  # float32 was never measured
    assert opened == [library]
    _fastest_gemm.measure(report=lines.append, again=True, dtypes=["float64"])
    assert opened == [library] * 2
    monkeypatch.setattr(_gemm, "library_stamp", lambda path: "build-2")
    _fastest_gemm.measure(report=lines.append, again=False, dtypes=["float64"])
    assert opened == [library] * 3


def test_a_verdict_for_one_dtype_keeps_the_others(wisdom, monkeypatch):
    library = "/nowhere/libmkl_rt.so.2"
    monkeypatch.setattr(_gemm, "candidates", lambda: [library])
    monkeypatch.setattr(_gemm, "library_stamp", lambda path: "build-1")
    monkeypatch.setattr(_gemm, "open_library", lambda path: {})
    monkeypatch.setattr(_fastest_gemm, "compare",
                        lambda path, dtype, rounds: {16: [[0.5]] * rounds})
    _wisdom.record_gemm(_gemm.gemm_context(), library, "build-1", {"float32": 1.2})
    rows = _fastest_gemm.measure(dtypes=["float64"])
    assert [row["dtype"] for row in rows] == ["float64"]
    _wisdom._forget()
    ratios = _wisdom.gemm_entries(_gemm.gemm_context())[library]["ratios"]
    assert ratios == pytest.approx({"float64": 0.5, "float32": 1.2})
