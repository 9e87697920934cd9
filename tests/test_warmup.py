"""The first call compiles only what it uses, and ``fastdln warmup`` compiles it in advance.

Each test runs fresh processes on an empty ``NUMBA_CACHE_DIR`` and reads numba's
``numba:compile`` events (no timing: what is compiled, not how long it takes).
"""

import json
import os
import select
import subprocess
import sys
from subprocess import PIPE
from types import SimpleNamespace

from tests.helpers import COMPILE_LISTENER, ROOT

TRAIN = COMPILE_LISTENER + r"""
from fastdln.maths import _kernels
rng = np.random.default_rng(0)
options = dict(dict(widths=[12] * 5 + [3]), **json.loads(sys.argv[1]))
X, Y = rng.normal(size=(60, 12)), rng.normal(size=(60, options.pop("nL", 3)))
fastdln.train(X, Y, sweeps=2, seed=0, **options)
dtypes = sorted({str(sig[3].dtype) for sig in _kernels.mm.signatures})
print(json.dumps({"compiled": compiled, "mm": dtypes}))
"""

# kernels of other configurations: the bounded rate, wide layers, Lp and custom losses, the
# ascending order, GD and stochastic BCGD
NOT_CALLED_BY_L2 = {
    "eigvalsh_impl", "_spectral_norm_squared", "_blocked_step", "_gradient_norm_squared",
    "_gradient_by_rows", "_step_by_rows", "gradient_rows", "_suffix_pass", "_derivative",
    "_max_curvature", "_power_remainder", "_power_quotient", "bcsgd_updates",
    "_sampled_update", "_importance_sample", "gd_iteration", "_next_prefix",
}


def _run(code, cache, *args):
    """Run with stderr on a pseudo-terminal (the compile notice is for terminals only)."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT))
    main, terminal = os.openpty()
    try:
        result = subprocess.run([sys.executable, "-c", code, *args], env=env, stdout=PIPE,
                                stderr=terminal, text=True, timeout=600, cwd=str(cache))
    finally:
        os.close(terminal)
    stderr = _drain(main)
    assert result.returncode == 0, stderr[-3000:]
    return SimpleNamespace(stdout=result.stdout, stderr=stderr)


def _drain(fd):
    chunks = []
    try:
        while select.select([fd], [], [], 0.1)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError:  # the terminal's other end is closed
        pass
    finally:
        os.close(fd)
    return b"".join(chunks).decode(errors="replace")


def _compiled(cache, **options):
    result = _run(TRAIN, cache, json.dumps(options))
    return dict(json.loads(result.stdout.strip().splitlines()[-1]), stderr=result.stderr)


def test_a_first_l2_train_compiles_no_kernel_it_does_not_call(tmp_path):
    first = _compiled(tmp_path)
    names = {name.split(".")[0] for name in first["compiled"]}
    assert "bcgd_updates" in names  # it did compile, cold
    assert not names & NOT_CALLED_BY_L2, names & NOT_CALLED_BY_L2
    assert first["mm"] == ["float64"]  # no float32 code for a float64 run
    assert "fastdln: compiling the kernels" in first["stderr"]  # the user is told, once
    assert first["stderr"].count("fastdln: compiling") == 1
    # another configuration compiles its own code, and only that
    bounded = _compiled(tmp_path, lr="bounded", eta=1.0)
    bounded_names = {name.split(".")[0] for name in bounded["compiled"]}
    assert {"_spectral_norm_squared", "eigvalsh_impl"} <= bounded_names
    assert not bounded_names & {"_blocked_step", "_suffix_pass", "_derivative"}


def test_a_network_without_tiny_products_compiles_no_loops_for_them(tmp_path):
    """Every product of widths [12, 120, 4] on 12 features has at least 64 multiply-adds and
    every hidden Gram matrix more than SMALL_GRAM: the jitted loops are left out."""
    run = _compiled(tmp_path, widths=[12, 120, 4], nL=4, reduce_width=False)
    names = {name.split(".")[0] for name in run["compiled"]}
    assert "bcgd_updates" in names and not names & {"loop_mm", "gram_loop"}, names


def _warmup(cache, *options):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-m", "fastdln", "warmup", *options], env=env,
                            capture_output=True, text=True, timeout=600, cwd=str(cache))
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_default_warmup_compiles_what_a_default_run_uses_and_nothing_else(tmp_path):
    """Without options: the default settings on a network without tiny products (several
    outputs, real widths), one configuration; a default run of that kind then compiles
    nothing."""
    out = _warmup(tmp_path)
    assert out.splitlines()[0].startswith("float64 bcgd l2 optimal descending plain: ")
    assert [line for line in out.splitlines() if line.startswith(("float", "bcgd"))] == [
        out.splitlines()[0]] and f"kernels cached in {tmp_path}" in out
    plain = dict(widths=[12, 120, 4], nL=4, reduce_width=False)
    warm = _compiled(tmp_path, **plain)
    assert warm["compiled"] == [] and "compiling" not in warm["stderr"]
    # a damaged cache: warmup says so in one line and rebuilds it (tests/test_cache.py has more)
    [kernels] = tmp_path.glob("maths_*")
    for path in sorted(kernels.glob("_kernels.mm-*.nbc"))[:1]:
        path.write_bytes(path.read_bytes()[:100])
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    again = subprocess.run([sys.executable, "-m", "fastdln", "warmup"], env=env,
                           capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("fastdln: warning:") == 1, again.stderr
    assert f"kernel cache in {kernels} has a damaged file" in again.stderr
    assert _compiled(tmp_path, **plain)["compiled"] == []


def test_warmup_of_the_other_shapes_then_a_new_process_compiles_nothing(tmp_path):
    out = _warmup(tmp_path, "--shape", "small", "rank-bound")
    assert "float64 bcgd l2 optimal descending small" in out
    warm = _compiled(tmp_path)  # five layers of 12 on 3 outputs: tiny products
    assert warm["compiled"] == [] and "compiling" not in warm["stderr"]
    assert _compiled(tmp_path, widths=[12, 2, 3])["compiled"] == []  # the rank binds


def test_the_registries_drive_warmup():
    """No method is named in warmup.py: every registered method is warmed up under --all,
    each with the rates its own checks accept (gradient descent a constant one)."""
    import importlib

    from fastdln.core.methods import REGISTRY

    module = importlib.import_module("fastdln.apps.warmup")

    source = (ROOT / "fastdln" / "apps" / "warmup.py").read_text()
    assert not [name for name in REGISTRY if f'"{name}"' in source or f"'{name}'" in source]
    every = module._configurations({name: module.WARMUP_CHOICES[name]
                                    for name in module.WARMUP_CHOICES}, rates_given=True)
    assert {c["method"] for c in every} == set(REGISTRY)
    for config in every:
        assert module._resolved(**{k: v for k, v in config.items() if k != "shape"})
    assert {c["lr"] for c in every if REGISTRY[c["method"]].all_layers_at_once} == {"constant"}
    chosen = {name: module._choices(name, None) for name in module.WARMUP_CHOICES}
    chosen["method"] = tuple(REGISTRY)
    for config in module._configurations(chosen, rates_given=False):  # a valid rate each
        assert module._resolved(**{k: v for k, v in config.items() if k != "shape"})


def test_the_thread_measures_are_asked_for_not_the_default(monkeypatch):
    """Measuring the BLAS threads costs several times the default warmup: only with
    measure_threads (``--measure-threads``) or everything (``--all``)."""
    import importlib

    module = importlib.import_module("fastdln.apps.warmup")
    measured = []
    monkeypatch.setattr(module, "measure_machine", lambda dtypes, report: measured.append(
        tuple(dtypes)))
    monkeypatch.setattr(module, "_tiny_runs", lambda config: [])  # no compiling here
    module.warmup()
    assert measured == []
    module.warmup(dtype=["float32"], measure_threads=True)
    assert measured == [("float32",)]
    parser = importlib.import_module("fastdln.apps.cli").build_parser()
    assert parser.parse_args(["warmup", "--measure-threads"]).measure_threads
