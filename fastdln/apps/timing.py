"""What ``fastdln bench`` and its regression check share: the benchmark configurations,
timing primitives (alternating rounds, spreads), the machine's description, JSON files.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

__all__ = ["CONFIGS", "Config", "QUICK", "STANDARD", "alternating_best", "alternating_samples",
           "best_time", "blas_limits", "fixed_threads", "machine_differences", "machine_info",
           "sample_times", "spread", "write_json"]


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
CONFIGS = {config.name: config for config in STANDARD}


# -- timing primitives ----------------------------------------------------------------------
def spread(values):
    """``{"min", "median", "max"}`` of a sequence of numbers."""
    values = [float(v) for v in values]
    return dict(min=min(values), median=statistics.median(values), max=max(values))


def best_time(f, repeats):
    """The best of ``repeats`` wall-clock timings of ``f()`` (seconds)."""
    return min(sample_times(f, repeats))


def sample_times(f, repeats):
    """``repeats`` wall-clock timings of ``f()`` (seconds), in order."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        samples.append(time.perf_counter() - start)
    return samples


def blas_limits(n, count):
    """``count`` products ``(n x n) @ (n x n)``: by numpy, and from jitted code (the BLAS the
    kernels call), as two functions of no argument."""
    from ..maths._kernels import gemm_loop

    a, b, out = np.random.rand(n, n), np.random.rand(n, n), np.empty((n, n))

    def numpy_products():
        for _ in range(count):
            np.dot(a, b, out=out)

    gemm_loop(a, b, out, 1)
    return numpy_products, lambda: gemm_loop(a, b, out, count)


def alternating_samples(functions, rounds, pause=0.1):
    """One timing of each function per round, ``rounds`` rounds running all of them in turn.

    The machine's load changes between rounds, and this way every function sees the same mix.
    A pause before each function keeps one BLAS library from paying for another's threads
    still spinning; an untimed call after it brings the caches and the clock back (the first
    call after a pause was seen 1.3x slower). Returns a list of samples per function.
    """
    samples = [[] for _ in functions]
    for _ in range(rounds):
        for index, f in enumerate(functions):
            time.sleep(pause)
            f()
            samples[index].extend(sample_times(f, 1))
    return samples


def alternating_best(functions, repeats, pause=0.2):
    """The best time of each function over ``repeats`` alternating rounds
    (:func:`alternating_samples`)."""
    return [min(s) for s in alternating_samples(functions, repeats, pause)]


@contextmanager
def fixed_threads(threads):
    """Every loaded BLAS library (threadpoolctl) on ``threads`` threads inside the block."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        yield


# -- machine and saved runs ---------------------------------------------------------------
def machine_info():
    """CPU, cores, BLAS libraries (threadpoolctl) and versions, for the JSON file."""
    import numba

    info = dict(platform=platform.platform(), processor=platform.processor(),
                cores=os.cpu_count(), python=platform.python_version(),
                numpy=np.__version__, numba=numba.__version__, cpu=_cpu_model())
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [dict(library=p.get("internal_api"), version=p.get("version"),
                             threads=p.get("num_threads"), architecture=p.get("architecture"),
                             path=p.get("filepath")) for p in threadpool_info()]
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    return info


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        return names[0] if names else platform.processor()
    except OSError:
        return platform.processor()


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


def write_json(path, content):
    """Write ``content`` to ``path`` as indented JSON."""
    with open(path, "w") as f:
        json.dump(content, f, indent=1)
