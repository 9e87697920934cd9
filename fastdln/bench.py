"""``fastdln bench``: a standard set of sweep timings, fast engine against the naive reference
(apps layer).

Timings on a shared machine are noisy: each number is the best of several repeats, and the
fast sweep and the BLAS limits of one configuration are measured in alternating rounds.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass

import numpy as np

from .init import layer_widths
from .synthetic import random_data
from .trainer import Trainer

__all__ = ["Config", "QUICK", "STANDARD", "alternating_best", "best_time", "blas_limits",
           "COLUMNS", "compare", "format_table", "machine_differences", "machine_info", "main",
           "run_config", "setup_row"]

REFERENCE_BUDGET = 60.0  # seconds: a slower reference sweep is estimated from a smaller depth


@dataclass(frozen=True)
class Config:
    """A benchmark configuration: data ``(m, n0)``, ``(m, nL)``; hidden width; depth."""

    name: str
    n0: int
    nL: int
    m: int
    width: int
    depth: int
    order: str = "descending"


STANDARD = [
    Config("n128-L100", 128, 10, 600, 128, 100),
    Config("n128-L400", 128, 10, 600, 128, 400),
    Config("n128-L100-asc", 128, 10, 600, 128, 100, "ascending"),
    Config("n512-L20", 512, 10, 2000, 512, 20),
    Config("n16-L1000", 16, 4, 64, 16, 1000),
    Config("n128-m60000-L10", 128, 10, 60000, 128, 10),
    Config("n128-w1024-L10", 128, 10, 600, 1024, 10),
]
QUICK = [STANDARD[0], STANDARD[3], STANDARD[4]]

# Set-up rows: (samples, features) of the paper's random data with nL = 10, depth 20.
SETUP_STANDARD = [(1_000_000, 128), (60_000, 784)]
SETUP_QUICK = [(200_000, 128)]


def _trainer(config, depth, engine):
    X, Y = random_data(config.m, config.n0, config.nL, seed=0)
    widths = layer_widths(config.n0, config.nL, depth, config.width)
    trainer = Trainer(X, Y, widths=widths, seed=0, engine=engine, order=config.order)
    trainer.sweep()  # warm-up (compilation, caches)
    return trainer


def best_time(f, repeats):
    """The best of ``repeats`` wall-clock timings of ``f()`` (seconds)."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - start)
    return best


def blas_limits(n, count):
    """``count`` products ``(n x n) @ (n x n)``: by numpy, and from jitted code (the BLAS the
    kernels call), as two functions of no argument."""
    from ._kernels import gemm_loop

    a, b, out = np.random.rand(n, n), np.random.rand(n, n), np.empty((n, n))

    def numpy_products():
        for _ in range(count):
            np.dot(a, b, out=out)

    gemm_loop(a, b, out, 1)
    return numpy_products, lambda: gemm_loop(a, b, out, count)


def alternating_best(functions, repeats, pause=0.2):
    """The best time of each function, measured in ``repeats`` rounds that run all of them in
    turn: the machine's load changes between rounds, and this way every function sees the
    same mix. A pause before each function keeps one BLAS library from paying for another's
    threads still spinning (seen to make numpy 2x slower); an untimed call after it brings
    the caches and the clock back (the first call after a pause was 1.3x slower)."""
    best = [np.inf] * len(functions)
    for _ in range(repeats):
        for index, f in enumerate(functions):
            time.sleep(pause)
            f()
            best[index] = min(best[index], best_time(f, 1))
    return best


def _reference_time(config, fast):
    """Reference seconds per sweep, measured, or estimated (L^2 growth) from a smaller depth.

    The guess of the reference's cost scales the fast sweep by the depth and by what the fast
    engine saves through compression (``m / rank``) and width reduction.
    """
    fast_time = best_time(fast.sweep, 1)
    columns = min(config.m, config.n0) if fast.compressed else config.m
    trained_width = max(config.n0, config.nL) if fast.width_reduced else config.width
    saved = (config.m / columns) * (config.width / trained_width) ** 2
    depth, guess = config.depth, fast_time * config.depth * saved
    while depth > 2 and guess > REFERENCE_BUDGET:
        depth //= 2
        guess /= 4
    seconds = best_time(_trainer(config, depth, "reference").sweep, 1)
    return seconds * (config.depth / depth) ** 2, depth != config.depth


def run_config(config, repeats):
    """One row of the table: fast, reference, BLAS limit and their ratios."""
    fast = _trainer(config, config.depth, "fast")
    width = config.width if not fast.width_reduced else max(config.n0, config.nL)
    fast_time, limit, jit_limit = alternating_best(
        [fast.sweep, *blas_limits(width, config.depth)], repeats)
    reference, estimated = _reference_time(config, fast)
    return dict(config=asdict(config), fast_s=fast_time, reference_s=reference,
                reference_estimated=estimated, blas_limit_s=limit,
                us_per_update=fast_time / config.depth * 1e6,
                speedup=reference / fast_time, over_blas_limit=fast_time / limit,
                jit_blas_limit_s=jit_limit, over_jit_blas_limit=fast_time / jit_limit)


def setup_row(m, n0, repeats):
    """Seconds to build a :class:`fastdln.Trainer` (validation, the factor of ``[X Y]``, the
    optimum, the engine) on ``m x n0`` data, best of ``repeats``."""
    X, Y = random_data(m, n0, 10, seed=0)
    widths = layer_widths(n0, 10, 20, n0)
    Trainer(X[:200], Y[:200], widths=widths, seed=0)  # compile outside the measure
    seconds = best_time(lambda: Trainer(X, Y, widths=widths, seed=0), repeats)
    return dict(m=m, n0=n0, setup_s=seconds, data_gib=(X.nbytes + Y.nbytes) / 2**30)


def format_setup(rows):
    return "\n".join(f"set-up {row['m']} x {row['n0']} ({row['data_gib']:.2f} GiB): "
                     f"{row['setup_s']:.3f} s" for row in rows)


def machine_info():
    """CPU, cores, BLAS libraries (threadpoolctl) and versions, for the JSON file."""
    import numba

    info = dict(platform=platform.platform(), processor=platform.processor(),
                cores=os.cpu_count(), python=platform.python_version(),
                numpy=np.__version__, numba=numba.__version__)
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        info["cpu"] = names[0] if names else platform.processor()
    except OSError:
        info["cpu"] = platform.processor()
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [dict(library=p.get("internal_api"), version=p.get("version"),
                             threads=p.get("num_threads"), architecture=p.get("architecture"))
                        for p in threadpool_info()]
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    return info


def format_table(rows):
    header = (f"{'config':18} {'fast s/sweep':>12} {'reference':>13} {'BLAS limit':>11} "
              f"{'us/update':>10} {'speed-up':>9} {'fast/limit':>10} {'fast/jit':>9}")
    lines = [header, "-" * len(header)]
    for row in rows:
        mark = "~" if row["reference_estimated"] else " "
        lines.append(
            f"{row['config']['name']:18} {row['fast_s']:12.5f} {mark}{row['reference_s']:12.4f} "
            f"{row['blas_limit_s']:11.5f} {row['us_per_update']:10.1f} {row['speedup']:9.0f} "
            f"{row['over_blas_limit']:10.2f} {row['over_jit_blas_limit']:9.2f}")
    lines.append("~ estimated from a smaller depth assuming the reference's L^2 growth. BLAS "
                 "limit: L numpy products (d x d) @ (d x d), d the width the kernels train (after "
                 "width reduction); fast/jit: against the same products from jitted code.")
    return "\n".join(lines)


COLUMNS = """Columns: fast s/sweep, the fast engine's best seconds per sweep; reference, the naive
engine's (~: estimated from a smaller depth by its L^2 growth); BLAS limit, L numpy
products (d x d) @ (d x d) with d the width the kernels train (after width reduction), what
a sweep costs at least; us/update, microseconds per layer update; speed-up,
reference / fast; fast/limit, the sweep as a multiple of the BLAS limit; fast/jit, against
the same products called from jitted code (the BLAS the kernels use). Set-up rows: seconds
to build a Trainer on that much data. Each number is the best of --repeats alternating
rounds (the machine's load changes between rounds)."""


def machine_differences(old_machine, new_machine):
    """What differs between two machines' ``machine_info()`` (CPU, cores, BLAS, versions)."""
    differences = []
    for key in ("cpu", "cores", "platform", "numpy", "numba"):
        if old_machine.get(key) != new_machine.get(key):
            differences.append(f"{key}: {old_machine.get(key)} -> {new_machine.get(key)}")

    def blas(machine):
        libraries = machine.get("blas")
        if not isinstance(libraries, list):
            return libraries
        return sorted(f"{b.get('library')} {b.get('version')} {b.get('architecture')}"
                      for b in libraries)

    if blas(old_machine) != blas(new_machine):
        differences.append(f"BLAS: {blas(old_machine)} -> {blas(new_machine)}")
    return differences


def compare(rows, old_path, threshold):
    """Names of configurations whose fast sweep got slower than ``threshold`` x the old one."""
    with open(old_path) as f:
        old = {row["config"]["name"]: row for row in json.load(f)["results"]}
    slower = []
    for row in rows:
        name = row["config"]["name"]
        if name in old and row["fast_s"] > threshold * old[name]["fast_s"]:
            slower.append(f"{name}: {old[name]['fast_s']:.5f} -> {row['fast_s']:.5f} s "
                          f"({row['fast_s'] / old[name]['fast_s']:.2f}x)")
    return slower


def main(quick=False, json_path=None, compare_path=None, threshold=1.2, repeats=None,
         echo=print):
    """Run the standard (or quick) set and print the table; return the process exit code."""
    configs = QUICK if quick else STANDARD
    repeats = repeats or (3 if quick else 9)
    rows = []
    for config in configs:
        rows.append(run_config(config, repeats))
        echo(f"  measured {config.name}")
    echo(format_table(rows))
    setups = [setup_row(m, n0, 3) for m, n0 in (SETUP_QUICK if quick else SETUP_STANDARD)]
    echo(format_setup(setups))
    if json_path:
        with open(json_path, "w") as f:
            json.dump(dict(machine=machine_info(), results=rows, setup=setups), f, indent=1)
        echo(f"wrote {json_path}")
    if compare_path:
        with open(compare_path) as f:
            old_machine = json.load(f).get("machine", {})
        differences = machine_differences(old_machine, machine_info())
        if differences:
            echo(f"WARNING: {compare_path} was measured on another machine or setup "
                 f"({'; '.join(differences)}): the ratios below compare machines, not only "
                 "code")
        slower = compare(rows, compare_path, threshold)
        for line in slower:
            echo(f"SLOWER {line}")
        if slower:
            return 1
        echo(f"no configuration slower than {threshold}x of {compare_path}")
    return 0
