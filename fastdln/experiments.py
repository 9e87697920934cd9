"""Experiment grids: many training runs, on local processes or on a Dask cluster (apps layer).

A grid is the product of lists of settings (depths, widths, inits, orders, seeds, data sets,
...). Every run is one :func:`fastdln.train` call described by a plain dict, so it can travel
to another process or machine; each returns one row: its settings, final error, status,
sweeps, seconds and the file of its error curve.

Data sets are named by strings: ``"random:M:N0:NL[:SEED]"`` (the paper's random data:
``X`` N(0, 1/n0), ``Y`` U(-1, 2)) or the path of an ``.npz`` with arrays ``X`` and ``Y``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

import numpy as np

from .init import layer_widths
from .paper.data import random_data
from .settings import Settings
from .training import train

__all__ = ["RUN_KEYS", "check_config", "expand_grid", "load_data", "load_grid_file",
           "run_grid", "run_one", "write_rows"]

_BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                          "NUMBA_NUM_THREADS")
# What a run configuration holds besides the training options (the fields of Settings).
RUN_KEYS = ("data", "depth", "width", "sweeps")


def expand_grid(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The list of run configurations of a grid: every list value is an axis of the product.

    ``{"depth": [10, 50], "seed": [0, 1], "data": "random:600:128:10"}`` gives 4 runs.
    """
    axes = {k: (v if isinstance(v, list) else [v]) for k, v in spec.items()}
    names = list(axes)
    return [dict(zip(names, values)) for values in itertools.product(*axes.values())]


def load_data(name):
    """``(X, Y)`` for a data set name (see the module docstring)."""
    if name.startswith("random:"):
        parts = [int(p) for p in name.split(":")[1:]]
        if len(parts) not in (3, 4):
            raise ValueError(f"data {name!r}: expected 'random:M:N0:NL[:SEED]'")
        m, n0, nL, seed = (*parts, 0) if len(parts) == 3 else parts
        return random_data(m, n0, nL, seed)
    with np.load(name, allow_pickle=False) as data:
        return data["X"], data["Y"]


def run_one(config, curve_dir=None):
    """Train one configuration; returns its result row (settings plus outcome)."""
    start = time.perf_counter()
    check_config(config)
    X, Y = load_data(config["data"])
    Y = Y.reshape(len(Y), -1)
    widths = layer_widths(X.shape[1], Y.shape[1], config["depth"], config.get("width"))
    options = {k: v for k, v in config.items() if k not in RUN_KEYS}
    options.setdefault("seed", 0)
    result = train(X, Y, widths=widths, record="sweep", sweeps=config.get("sweeps", 1),
                   **options)
    row = dict(config, final_error=float(result.errors[-1]), status=result.status,
               sweeps=result.sweeps, seconds=time.perf_counter() - start, curve="")
    if curve_dir is not None:
        os.makedirs(curve_dir, exist_ok=True)
        key = "_".join(f"{k}={v}" for k, v in sorted(config.items()))
        path = os.path.join(curve_dir, "".join(c if c.isalnum() or c in "=._-" else "-"
                                               for c in key) + ".csv")
        np.savetxt(path, result.errors, header="error after each sweep", fmt="%.17g")
        row["curve"] = path
    return row


@contextlib.contextmanager
def _one_blas_thread():
    """Workers started inside this block use one BLAS (and numba) thread each."""
    saved = {k: os.environ.get(k) for k in _BLAS_THREAD_VARIABLES}
    os.environ.update({k: "1" for k in _BLAS_THREAD_VARIABLES})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_grid(configs: list[dict[str, Any]] | dict[str, Any], *, client: Any = None,
             n_workers: int | None = None,
             curve_dir: str | None = None) -> list[dict[str, Any]]:
    """Run every configuration and return the result rows, in the order of ``configs``.

    Parameters
    ----------
    configs : list of dict or dict
        Run configurations, or a grid spec for :func:`expand_grid`. Keys: ``data``,
        ``depth``, optional ``width`` and ``sweeps``, and any training option (a field of
        :class:`fastdln.Settings`; ``seed`` defaults to 0).
    client : dask.distributed.Client, optional
        Run on its cluster (a ``LocalCluster`` or a remote scheduler); otherwise on local
        processes with one BLAS thread each.
    n_workers : int, optional
        Local processes (default: the number of cores).
    curve_dir : str, optional
        Write each run's error curve there (a CSV per run, named after its settings).
    """
    if isinstance(configs, dict):
        configs = expand_grid(configs)
    configs = [dict(c) for c in configs]
    for c in configs:
        check_config(c)
    if client is not None:
        futures = client.map(run_one, configs, curve_dir=curve_dir, pure=False)
        return client.gather(futures)
    n_workers = n_workers or os.cpu_count() or 1
    with _one_blas_thread(), ProcessPoolExecutor(n_workers,
                                                 mp_context=get_context("spawn")) as pool:
        return list(pool.map(run_one, configs, [curve_dir] * len(configs)))


def check_config(config):
    """Refuse a run configuration without ``data`` and ``depth`` or with an unknown key."""
    missing = {"data", "depth"} - set(config)
    if missing:
        raise ValueError(f"every run needs {sorted(missing)}; got {config}")
    known = set(RUN_KEYS) | {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(config) - known)
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} in the run {config}; the keys are "
                         f"{sorted(known)}")


def load_grid_file(path):
    """A grid from a TOML file: a ``[grid]`` table (lists are axes) and optional ``[train]``
    defaults merged into every run."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    with open(path, "rb") as f:
        document = tomllib.load(f)
    if "grid" not in document:
        raise ValueError(f"{path}: needs a [grid] table (e.g. depth = [10, 50])")
    return expand_grid({**document.get("train", {}), **document["grid"]})


def write_rows(path, rows):
    """Write result rows as CSV (the union of their keys as columns)."""
    import csv

    columns = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
