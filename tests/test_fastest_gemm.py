"""Measuring the GEMM libraries against scipy's on the kernels' shapes (``fastdln warmup``)."""

import pytest

from fastdln.maths import _fastest_gemm, _gemm, _wisdom


def test_the_shapes_are_an_updates_products():
    assert _fastest_gemm.kernel_shapes(128) == [(128, 128, 138), (10, 128, 128),
                                                (128, 10, 138)]
    assert _fastest_gemm.kernel_shapes(16) == [(16, 16, 20), (4, 16, 16), (16, 4, 20)]


def test_each_library_found_is_measured_and_its_verdict_kept(wisdom, monkeypatch):
    found = _gemm.candidates()
    if not found or _gemm.open_library(found[0]) is None:
        pytest.skip("no MKL in this environment (pip install mkl)")
    monkeypatch.setattr(_fastest_gemm, "WIDTHS", (16, 128))
    lines = []
    rows = _fastest_gemm.measure(rounds=1, report=lines.append)
    assert [(row["library"], row["dtype"]) for row in rows] == [
        (path, dtype) for path in found for dtype in ("float64", "float32")]
    _wisdom._forget()  # as a new process reads it
    entry = _wisdom.gemm_entries(_gemm.gemm_context())[found[0]]
    assert entry["stamp"] == _gemm.library_stamp(found[0])
    for row, line in zip(rows, lines):
        assert sorted(row["ratios"]) == [16, 128] and all(r > 0 for r in row["ratios"].values())
        assert entry["ratios"][row["dtype"]] == pytest.approx(row["ratio"])
        assert line.startswith(f"gemm {row['dtype']} ")
    chosen = {dtype for dtype, ratio in entry["ratios"].items() if ratio < _gemm.CHOOSE_BELOW}
    assert set(_gemm.chosen_libraries()) == chosen


def test_a_library_that_cannot_serve_is_refused(tmp_path):
    text = tmp_path / "libmkl_rt.so.9"
    text.write_text("not a library")
    with pytest.raises(ValueError, match="cannot serve"):
        _fastest_gemm.compare(str(text), "float64")
