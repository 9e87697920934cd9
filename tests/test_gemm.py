"""The gemm behind the kernels' symbols: scipy's, or a library this machine measured faster."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastdln
from fastdln.maths import _gemm, _wisdom
from fastdln.maths.synthetic import random_data
from tests.helpers import COMPILE_LISTENER, ROOT, max_relative_difference


def _verdict(path, ratios, stamp=None):
    """Write a verdict on the library at ``path`` into the wisdom file, as a new process
    reads it."""
    stamp = _gemm.library_stamp(path) if stamp is None else stamp
    _wisdom.record_gemm(_gemm.gemm_context(), str(path), stamp, ratios)
    assert _wisdom.flush()
    _wisdom._forget()


def test_a_library_is_chosen_per_dtype_where_it_measured_faster(wisdom, tmp_path):
    fast, slow = tmp_path / "libfast.so", tmp_path / "libslow.so"
    fast.write_bytes(b"a")
    slow.write_bytes(b"bb")
    assert _gemm.chosen_libraries() == {}
    _verdict(fast, {"float64": 0.8, "float32": 1.3})
    _verdict(slow, {"float64": 0.9, "float32": 0.99, "float16": 0.1})
    assert _gemm.chosen_libraries() == {"float64": str(fast)}  # the faster one; within 5%: no
    _verdict(slow, {"float64": 0.7, "float32": 0.5})
    assert _gemm.chosen_libraries() == {"float64": str(slow), "float32": str(slow)}
    slow.write_bytes(b"another build")  # not what was measured: not trusted
    assert _gemm.chosen_libraries() == {"float64": str(fast)}
    fast.unlink()  # uninstalled
    assert _gemm.chosen_libraries() == {}


def test_a_verdict_is_kept_per_cpu_and_scipy_blas(wisdom, tmp_path):
    fast = tmp_path / "libfast.so"
    fast.write_bytes(b"a")
    _wisdom.record_gemm("another machine | scipy 1.0 x", str(fast),
                        _gemm.library_stamp(str(fast)), {"float64": 0.5})
    assert _gemm.chosen_libraries() == {}


def test_what_is_not_mkl_cannot_serve(tmp_path):
    text = tmp_path / "libmkl_rt.so.9"
    text.write_text("not a library")
    assert _gemm.open_library(str(text)) is None
    from scipy.linalg import cython_blas

    assert _gemm.open_library(cython_blas.__file__) is None  # loadable, but not MKL


def test_without_a_verdict_the_symbols_are_scipys_and_import_loads_no_other_library():
    assert set(_gemm.providers().values()) == {"scipy"}
    script = textwrap.dedent("""
        import fastdln
        from fastdln.maths.synthetic import random_data
        fastdln.train(*random_data(50, 6, 2, seed=0), widths=[6, 6, 2], sweeps=2)
        with open("/proc/self/maps") as maps:
            print(any("mkl" in line for line in maps))
    """)
    if not os.path.exists("/proc/self/maps"):
        pytest.skip("no /proc/self/maps here")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert out.stdout.split() == ["False"]


CHOSEN = COMPILE_LISTENER + r"""
from fastdln.core import threads
from fastdln.maths import _gemm
from fastdln.maths.synthetic import random_data
X, Y = random_data(400, 48, 5, seed=1)
options = dict(widths=[48] * 6 + [5], seed=3, sweeps=3)
runs = {count: [fastdln.train(X, Y, threads=count, **options).weights for _ in range(2)]
        for count in (1, 2)}
same = {count: all(np.array_equal(a, b) for a, b in zip(*pair)) for count, pair in runs.items()}
mkl = [lib for lib in threads.kernel_libraries() if "mkl" in lib.filepath]
with threads.blas_threads(2, threads.kernel_libraries()):
    inside = mkl[0].get() if mkl else None
np.save(sys.argv[1], np.concatenate([w.ravel() for w in runs[1][0]]))
with open(sys.argv[2], "w") as out:
    json.dump({"providers": _gemm.providers(), "same": same, "inside": inside,
               "compiled": compiled,
               "kernel_libraries": [lib.filepath for lib in threads.kernel_libraries()]}, out)
"""


def test_a_library_measured_faster_serves_the_kernels_in_the_next_process(wisdom, tmp_path):
    """MKL (``pip install mkl``) chosen for float64 by a verdict in the wisdom file: a new
    process loads the kernels this one cached (nothing compiled: the code names the
    symbols), they call MKL (its verbose mode lists the calls), its
    thread count is the one fastdln sets, a fixed count gives the same bits run after run,
    and the results agree with scipy's BLAS to rounding."""
    found = _gemm.candidates()  # not loaded here: this process's libraries stay as they are
    if not found:
        pytest.skip("no MKL in this environment (pip install mkl)")
    X, Y = random_data(400, 48, 5, seed=1)
    ours = fastdln.train(X, Y, widths=[48] * 6 + [5], seed=3, sweeps=3, threads=1).weights
    _verdict(found[0], {"float64": 0.5})
    saved, report = tmp_path / "weights.npy", tmp_path / "result.json"
    out = subprocess.run([sys.executable, "-c", CHOSEN, str(saved), str(report)],
                         capture_output=True, text=True, cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=str(ROOT), MKL_VERBOSE="1"))
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(report.read_text())
    if result["providers"]["float64"] == "scipy":
        pytest.skip(f"{found[0]} cannot serve here (not LP64)")
    assert "DGEMM(" in out.stdout  # MKL says each call it serves
    assert result["providers"] == {"float64": found[0], "float32": "scipy"}
    assert any(os.path.realpath(path) == found[0] for path in result["kernel_libraries"])
    assert result["same"] == {"1": True, "2": True} and result["inside"] == 2
    assert result["compiled"] == []  # the cached kernels served
    theirs = np.load(saved)
    split = np.cumsum([w.size for w in ours])[:-1]
    assert max_relative_difference(ours, [a.reshape(w.shape) for a, w in
                                          zip(np.split(theirs, split), ours)]) < 1e-10
