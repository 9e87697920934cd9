"""The paper reproductions: claims that hold robustly across seeds, checked in numbers."""

import os
import subprocess
import sys

import pytest

from fastdln.paper import figures as reproduce


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


def test_fig1_quick_bcgd_far_ahead_of_tuned_gd(tmp_path):
    claims, _ = reproduce.fig1(str(tmp_path), quick=True, seed=2, quiet=True)
    (ahead,) = _claims(claims, "100x")
    assert ahead.passed, ahead


def test_fig3_quick_deeper_is_faster_per_sweep_on_every_seed(tmp_path):
    claims, files = reproduce.fig3(str(tmp_path), quick=True, seed=5, quiet=True)
    per_sweep = _claims(claims, "per sweep")
    assert len(per_sweep) == 3 and all(c.passed for c in per_sweep), per_sweep
    (spread,) = _claims(claims, "far (10x)")
    assert "of 3 seeds" in spread.evidence  # the spread is reported, whatever it is


def test_fig4_quick_gd_rates_of_the_paper(tmp_path):
    claims, _ = reproduce.fig4(str(tmp_path), quick=True, seed=1, quiet=True)
    for fragment in ("decreases steadily", "oscillates", "L=400: BCGD is ahead"):
        (claim,) = _claims(claims, fragment)
        assert claim.passed, claim


def test_fig5_quick_narrow_layers_stall(tmp_path):
    claims, _ = reproduce.fig5(str(tmp_path), quick=True, seed=4, quiet=True)
    assert len(claims) == 2 and all(c.passed for c in claims), claims  # after 5 sweeps


@pytest.mark.parametrize("figure", ["fig7", "fig8", "fig9"])
def test_real_data_figures_say_which_data_they_used(tmp_path, figure):
    claims, files = reproduce.FIGURES[figure](str(tmp_path), quick=True, quiet=True)
    data = [c for c in claims if c.text == "data"] or claims
    assert any("STAND-IN" in c.evidence for c in data)
    assert all(os.path.getsize(f) > 0 for f in files)
    if figure == "fig9":
        assert all(c.passed for c in claims), claims


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
