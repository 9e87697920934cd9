"""Packaging: typed, mypy clean and ruff clean (tools from the test extra)."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_py_typed_marker_ships():
    assert (ROOT / "fastdln" / "py.typed").exists()


def test_mypy_is_clean():
    result = subprocess.run([sys.executable, "-m", "mypy", "fastdln"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "fastdln", "tests",
                             "benchmarks"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
