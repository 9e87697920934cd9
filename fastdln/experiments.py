"""Experiment grids: many training runs, on local processes or on a Dask cluster.

A grid is the product of lists of settings (depths, widths, inits, orders, seeds, data sets,
...). Every run is one :func:`fastdln.train` call described by a plain dict, so it can travel
to another process or machine; each returns one row: its settings, final error, status,
sweeps, seconds and the file of its error curve.

Data sets are named by strings: ``"random:M:N0:NL[:SEED]"`` (the paper's random data:
``X`` N(0, 1/n0), ``Y`` U(-1, 2)) or the path of an ``.npz`` with arrays ``X`` and ``Y``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

import numpy as np

__all__ = ["expand_grid", "run_grid", "run_one", "load_grid_file", "write_rows"]

_BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                          "NUMBA_NUM_THREADS")
_TRAIN_KEYS = ("init", "order", "lr", "eta", "loss", "method", "sweeps", "tol", "dtype")


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
        rng = np.random.default_rng(seed)
        return rng.normal(0, 1 / np.sqrt(n0), (m, n0)), rng.uniform(-1, 2, (m, nL))
    with np.load(name, allow_pickle=False) as data:
        return data["X"], data["Y"]


def run_one(config, curve_dir=None):
    """Train one configuration; returns its result row (settings plus outcome)."""
    from .training import train

    start = time.perf_counter()
    X, Y = load_data(config["data"])
    Y = Y.reshape(len(Y), -1)
    depth = int(config["depth"])
    width = int(config.get("width") or max(X.shape[1], Y.shape[1]))
    widths = [X.shape[1]] + [width] * (depth - 1) + [Y.shape[1]]
    options = {k: config[k] for k in _TRAIN_KEYS if k in config}
    result = train(X, Y, widths=widths, seed=config.get("seed", 0), record="sweep", **options)
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
        ``depth``, optional ``width``, ``seed`` and any of ``init``, ``order``, ``lr``, ``eta``,
        ``loss``, ``method``, ``sweeps``, ``tol``, ``dtype``.
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
        missing = {"data", "depth"} - set(c)
        if missing:
            raise ValueError(f"every run needs {sorted(missing)}; got {c}")
    if client is not None:
        futures = client.map(run_one, configs, curve_dir=curve_dir, pure=False)
        return client.gather(futures)
    n_workers = n_workers or os.cpu_count() or 1
    with _one_blas_thread(), ProcessPoolExecutor(n_workers,
                                                 mp_context=get_context("spawn")) as pool:
        return list(pool.map(run_one, configs, [curve_dir] * len(configs)))


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
