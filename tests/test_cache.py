"""The kernel cache never fails a run or an import: damaged files (overwritten, truncated,
bit-flipped), a full disk, no writable location; every cached function of the package uses
the checked cache. Faults are injected in fresh processes on a temporary ``NUMBA_CACHE_DIR``
warmed once for the module."""

import importlib
import json
import os
import pickle
import pkgutil
import resource
import shutil
import signal
import subprocess
import sys

import numba
import numpy as np
import pytest
from numba.core import caching
from numba.core.registry import CPUDispatcher

import fastdln
from fastdln.maths import _cache
from fastdln.maths._cache import KernelCacheWarning
from tests.helpers import ROOT

TRAIN = ["-m", "fastdln", "train", "data.npz", "--depth", "2", "--sweeps", "2", "--quiet",
         "--json"]
REPORT_MISSES = r"""
import runpy, sys, json
sys.argv = ["fastdln", *sys.argv[1:]]
from fastdln.maths import _kernels
try:
    runpy.run_module("fastdln", run_name="__main__")
finally:
    misses = sorted(name for name, value in vars(_kernels).items()
                    if hasattr(value, "stats") and sum(value.stats.cache_misses.values()))
    print(json.dumps({"compiled": misses}), file=sys.stderr)
"""


def _run(folder, cache, *args, preexec_fn=None, env=None):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run([sys.executable, "-c", REPORT_MISSES, *args], env=env,
                          capture_output=True, text=True, timeout=600, cwd=str(folder),
                          preexec_fn=preexec_fn)


def _compiled(result):
    return json.loads(result.stderr.strip().splitlines()[-1])["compiled"]


def _warnings(result):
    return [line for line in result.stderr.splitlines() if line.startswith("fastdln: warning")]


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    """A folder with data.npz, a warm cache for TRAIN, and TRAIN's output."""
    folder = tmp_path_factory.mktemp("warm")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    np.savez(folder / "data.npz", X=X, Y=X[:, :2] + 0.1)
    first = _run(folder, folder / "cache", *TRAIN[2:])
    assert first.returncode == 0, first.stderr
    assert _compiled(first)  # it did compile, cold
    [kernels] = (folder / "cache").iterdir()
    return folder, kernels, json.loads(first.stdout)


def _copy(warm, tmp_path):
    folder, kernels, expected = warm
    shutil.copytree(kernels.parent, tmp_path / "cache")
    shutil.copy(folder / "data.npz", tmp_path)
    return tmp_path / "cache" / kernels.name, expected


def _same_run(result, expected):
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert (got["error"], got["r2"]) == (expected["error"], expected["r2"])


def _file(kernels, function, data):
    [path] = kernels.glob(f"_kernels.{function}-*.py*{'.1.nbc' if data else '.nbi'}")
    return path


def _flip(path, where):
    blob = bytearray(path.read_bytes())
    blob[int(where * (len(blob) - 1))] ^= 0x10
    path.write_bytes(bytes(blob))


def test_damaged_files_cost_one_warning_and_are_rebuilt(warm, tmp_path):
    """Flipped bits in a data file's machine code, an emptied index and a truncated data file,
    at once (in mm, which a run loads, the loop it calls, and the sweep kernel): the run
    gives the same result with one warning line that names the folder and how to clear it;
    the next run loads everything, silently."""
    kernels, expected = _copy(warm, tmp_path)
    _flip(_file(kernels, "mm", data=True), 0.5)
    _file(kernels, "loop_mm", data=False).write_bytes(b"")
    data = _file(kernels, "bcgd_updates", data=True)
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    damaged = _run(tmp_path, tmp_path / "cache", *TRAIN[2:])
    _same_run(damaged, expected)
    [warning] = _warnings(damaged)
    assert f"kernel cache in {kernels} has a damaged file" in warning
    assert "fastdln warmup" in warning and f"deleting {kernels}" in warning
    assert "Traceback" not in damaged.stderr
    assert set(_compiled(damaged)) == {"mm", "loop_mm", "bcgd_updates"}
    again = _run(tmp_path, tmp_path / "cache", *TRAIN[2:])
    _same_run(again, expected)
    assert _compiled(again) == [] and not _warnings(again)


@pytest.mark.parametrize("where", [0.0, 0.3, 0.999])
def test_a_flipped_bit_anywhere_in_a_data_file_is_caught(tmp_path, where):
    """numba's own data files carry no checksum (a flipped bit in their machine code runs as
    wrong code or crashes): the checked file refuses it."""
    cache = _cache._CheckedCacheFile(str(tmp_path), "f-1.py311", "stamp")
    cache.save("key", ("code", b"\x90" * 1000))
    assert cache.load("key") == ("code", b"\x90" * 1000)
    [data] = tmp_path.glob("*.nbc")
    _flip(data, where)
    with pytest.raises(_cache._DamagedFile, match="checksum"):
        cache.load("key")


def test_files_of_another_writer_or_format_are_a_miss_not_a_fault(tmp_path):
    cache = _cache._CheckedCacheFile(str(tmp_path), "f-1.py311", "stamp")
    cache.save("float32", "code32")
    [data] = tmp_path.glob("*.nbc")
    # a concurrent writer saved another key under the same data file name
    other = _cache._CheckedCacheFile(str(tmp_path), "f-1.py311", "stamp")
    other._save_data(data.name, ("float64", "code64"))
    assert cache.load("float32") is None
    # numba's own (unchecked) index format, or another numba version: stale, rewritten
    [index] = tmp_path.glob("*.nbi")
    with open(index, "wb") as f:
        pickle.dump(numba.__version__, f)
        f.write(pickle.dumps(("stamp", {"float32": data.name})))
    assert cache.load("float32") is None
    cache.save("float32", "code32")
    assert cache.load("float32") == "code32"
    # a damaged index is rewritten by the next save
    index.write_bytes(b"\x80garbage")
    cache.save("float64", "code64")
    assert cache.load("float64") == "code64"


def test_a_full_disk_costs_one_warning(warm, tmp_path):
    """Writes past a file size limit fail (EFBIG, as ENOSPC on a full disk): the kernel runs
    from memory, one warning line, and nothing half-written is left behind."""
    kernels, expected = _copy(warm, tmp_path)
    for path in [*kernels.glob("_kernels.mm-*"), *kernels.glob("_kernels.loop_mm-*")]:
        path.unlink()
    before = set(os.listdir(kernels))

    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    full = _run(tmp_path, tmp_path / "cache", *TRAIN[2:], preexec_fn=limit_file_size,
                env=dict(PYTHONDONTWRITEBYTECODE="1"))
    _same_run(full, expected)
    [warning] = _warnings(full)
    assert f"could not save a compiled kernel in {kernels}" in warning
    assert "File too large" in warning and "NUMBA_CACHE_DIR" in warning
    assert set(os.listdir(kernels)) == before  # no temporary file, no index without data


def test_no_writable_cache_location_still_imports_and_trains(tmp_path):
    """NUMBA_CACHE_DIR and the user-wide folder under a regular file, and each package
    folder's ``__pycache__`` a regular file: compiled in memory, with one warning."""
    package = tmp_path / "copy" / "fastdln"
    shutil.copytree(ROOT / "fastdln", package,
                    ignore=shutil.ignore_patterns("__pycache__", "paper"))
    for folder in [package, *(p.parent for p in package.rglob("__init__.py"))]:
        (folder / "__pycache__").write_text("")  # no in-tree cache either
    (tmp_path / "blocker").write_text("")
    code = ("import warnings, fastdln, numpy as np; warnings.simplefilter('always');"
            "print(fastdln.losses.log_cosh.elementwise('value', np.zeros(3)).tolist())")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "copy"), PYTHONDONTWRITEBYTECODE="1",
               NUMBA_CACHE_DIR=str(tmp_path / "blocker" / "numba"),
               XDG_CACHE_HOME=str(tmp_path / "blocker" / "xdg"))
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=600, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[0.0, 0.0, 0.0]"
    assert result.stderr.count("KernelCacheWarning") == 1
    assert "no writable folder for fastdln's kernel cache" in result.stderr


def test_every_cached_function_of_the_package_uses_the_checked_cache():
    layers = [importlib.import_module(f"fastdln.{layer}")
              for layer in ("maths", "engines", "core", "apps")]  # not the moved paths' shims
    modules = [importlib.import_module(info.name) for layer in layers
               for info in pkgutil.walk_packages(layer.__path__, layer.__name__ + ".")]
    dispatchers = {id(value): value for module in modules for value in vars(module).values()
                   if isinstance(value, CPUDispatcher)}.values()
    cached = [d for d in dispatchers if type(d._cache) is not caching.NullCache]
    assert len(cached) > 30
    assert all(isinstance(d._cache, (_cache._KernelCache, _cache._MemoryOnlyCache))
               for d in cached), [d for d in cached if type(d._cache) is caching.FunctionCache]


def test_prepare_never_masks_the_real_error():
    """A failure while compiling mm's first signature (here an interrupt) surfaces as
    itself, not as numba's AssertionError from closing a dispatcher without signatures."""
    code = ("from fastdln.maths import _kernels\n"
            "def interrupted(signature):\n    raise KeyboardInterrupt\n"
            "_kernels.mm.compile = interrupted\n"
            "try:\n    _kernels.prepare('float64')\n"
            "except KeyboardInterrupt:\n    print('interrupted', _kernels.mm.signatures)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "interrupted []"


def test_warmup_says_when_numba_cache_dir_is_unusable(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setattr(numba.core.config, "CACHE_DIR", str(tmp_path / "file" / "numba"))
    assert "is unusable (NotADirectoryError" in _cache.unusable_cache_dir()
    with pytest.warns(KernelCacheWarning, match="NUMBA_CACHE_DIR=.* is unusable"):
        with pytest.raises(ValueError, match="dtype"):  # said before anything else
            fastdln.warmup(dtype=["float16"])
    monkeypatch.setattr(numba.core.config, "CACHE_DIR", str(tmp_path / "new" / "numba"))
    assert _cache.unusable_cache_dir() is None
