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


def _run(args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, timeout=900, **kwargs)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_install_run_then_editable_install_keeps_import_working(tmp_path):
    """The README's two commands in order: a regular install whose first run compiles (and
    caches) kernels, then ``pip install -e``, then ``import fastdln`` from another folder.
    numba used to cache into the installed package folder, which pip then left behind as an
    empty namespace package that shadowed the editable install."""
    import shutil
    import site
    import sysconfig

    source = tmp_path / "src"
    listing = ["git", "ls-files", "--cached", "--others", "--exclude-standard"]
    files = _run(listing, cwd=ROOT).split()
    for name in files:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = str(venv / "bin" / "python")
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    # this environment's packages (numba, numpy, scipy, pip, setuptools), no downloads
    here = [sysconfig.get_paths()["purelib"], *site.getsitepackages()]
    (pathlib.Path(purelib.strip()) / "here.pth").write_text("\n".join(here) + "\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {"HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    pip = [python, "-m", "pip", "install", "-q", "--no-deps"]
    _run(pip + [str(source)], env=env, cwd=outside)
    train = ("import numpy as np, fastdln; X = np.eye(6)[:, :3]; "
             "r = fastdln.train(X, X[:, :2], widths=[3, 4, 2], sweeps=1); print(fastdln.__file__)")
    installed = _run([python, "-c", train], env=env, cwd=outside).strip()
    assert "site-packages" in installed
    _run(pip + ["-e", str(source)], env=env, cwd=outside)
    check = "import fastdln; print(fastdln.__file__, callable(fastdln.train))"
    assert _run([python, "-c", check], env=env, cwd=outside).split() == [
        str(source / "fastdln" / "__init__.py"), "True"]
