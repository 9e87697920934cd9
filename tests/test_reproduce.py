"""The paper reproductions: claims that hold robustly across seeds, checked in numbers."""

import os
import subprocess
import sys

import pytest

from fastdln import reproduce


def _claims(claims, fragment):
    return [c for c in claims if fragment in c.text]


def test_fig2_full_size(tmp_path):
    """L=400 reaches the optimum (< 1e-10) in one sweep; per iteration L=1 is ahead."""
    claims, files = reproduce.fig2(str(tmp_path), seed=3, quiet=True)
    assert all(os.path.getsize(f) > 0 for f in files)
    (one_sweep,) = _claims(claims, "after one sweep")
    assert one_sweep.passed, one_sweep
    for claim in _claims(claims, "L=1 is fastest") + _claims(claims, "deeper is faster"):
        assert claim.passed, claim


def test_fig6_orth_identity_with_the_right_order_is_fastest(tmp_path):
    claims, _ = reproduce.fig6(str(tmp_path), quick=True, seed=1, quiet=True)
    assert len(claims) == 4
    for claim in claims:
        assert claim.passed, claim


def test_cli_reproduce_writes_png_csv_and_summary(tmp_path):
    out = subprocess.run([sys.executable, "-m", "fastdln", "reproduce", "fig2", "--out",
                          str(tmp_path), "--quiet"], capture_output=True, text=True, check=True)
    assert "[PASS] L=400 reaches the optimum" in out.stdout
    assert (tmp_path / "fig2.png").stat().st_size > 10_000
    header = (tmp_path / "fig2.csv").read_text().splitlines()[0]
    assert header == "depth,iteration,sweep,error"


@pytest.mark.parametrize("argv", [["reproduce", "fig99"], ["bench", "--threshold", "x"]])
def test_cli_rejects_bad_arguments_with_exit_2(argv):
    result = subprocess.run([sys.executable, "-m", "fastdln", *argv], capture_output=True,
                            text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
