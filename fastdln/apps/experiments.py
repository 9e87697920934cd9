"""Experiment grids: many training runs, on local processes or on a Dask cluster (apps layer).

A grid is the product of lists of settings (depths, widths, inits, orders, seeds, data sets,
...). Every run is one :func:`fastdln.train` call described by a plain dict, so it can travel
to another process or machine; each returns one row: its settings as requested (with the
defaults ``sweeps=1``, ``seed=0``), then its status, the error message of a run that failed,
the sweeps done, widths, initial and final error, seconds and the file of its error curve.
A failing run does not stop the grid, and rows are written to the CSV as runs finish.

Data sets are named by strings: ``"random:M:N0:NL[:SEED]"`` (the paper's random data:
``X`` N(0, 1/n0), ``Y`` U(-1, 2)), the path of an ``.npz`` with arrays ``X`` and ``Y``, or
two ``.npy`` paths ``"X.npy,Y.npy"`` (memory-mapped and read by blocks: data larger than
memory trains with the L2 loss); :func:`fastdln.apps.readers.read_grid_data` reads them.

Local processes run each run on one BLAS thread (``threads=1``, unless the run sets
``threads``), passed to :func:`fastdln.train` like every other option. A local worker that
dies costs only the run it held (an error row, :class:`WorkerDied`); workers die with the
process that runs the grid, however it dies.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import dataclasses
import difflib
import itertools
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing import get_context
from multiprocessing.connection import wait
from typing import Any

import numpy as np

from ..core.io import check_writable
from .progress import StopOnInterrupt
from .readers import read_grid_data
from ..core.settings import FRONT_END_DEFAULTS, Settings
from ..core.runner import train

__all__ = ["RESULT_COLUMNS", "RUN_KEYS", "GridTerminated", "WorkerDied", "check_config",
           "expand_grid", "grid_columns", "load_grid_file", "run_grid", "run_one", "run_or_report"]

# What a run configuration holds besides the training options (the fields of Settings,
# among them depth and width).
RUN_KEYS = ("data", "sweeps")
# Defaults of a run, written into its row so that every row states what was asked (the
# seed is the one Settings declares for grids).
_RUN_DEFAULTS: dict[str, Any] = {"sweeps": 1, **FRONT_END_DEFAULTS["grid"]}
# BLAS threads of each run on a local process (several processes share the cores).
_LOCAL_THREADS = 1
# How local workers start: fresh interpreters (no copy of the parent's threads and locks).
_START_METHOD = "spawn"
# The outcome of a run, after its settings in a row ("run": its position in the grid).
RESULT_COLUMNS = ("status", "error", "sweeps_done", "widths", "initial_error", "final_error",
                  "seconds", "curve")


def expand_grid(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The list of run configurations of a grid: every list value is an axis of the product.

    ``{"depth": [10, 50], "seed": [0, 1], "data": "random:600:128:10"}`` gives 4 runs.
    """
    axes = {k: (v if isinstance(v, list) else [v]) for k, v in spec.items()}
    names = list(axes)
    return [dict(zip(names, values)) for values in itertools.product(*axes.values())]


def run_one(config: dict[str, Any], curve_dir: str | None = None, *,
            threads: int | None = None) -> dict[str, Any]:
    """Train one configuration; returns its result row.

    Parameters
    ----------
    config : dict
        A run configuration (see :func:`run_grid`).
    curve_dir : str, optional
        Write the run's error curve there.
    threads : int, optional
        The ``threads`` option of a run whose ``config`` does not set it (a local grid's
        processes: 1); None leaves the :class:`fastdln.Settings` default.

    Returns
    -------
    dict
        Its settings as requested, then the outcome (:data:`RESULT_COLUMNS`). Raises on
        failure (see :func:`run_or_report`).
    """
    start = time.perf_counter()
    check_config(config)
    X, Y = read_grid_data(config["data"])
    Y = Y.reshape(len(Y), -1)
    requested = _requested(config)
    options = {k: v for k, v in requested.items() if k not in RUN_KEYS}
    if threads is not None:
        options.setdefault("threads", threads)
    stop = _worker_stop
    if stop is not None and stop.requested:
        raise RuntimeError("not run: the grid's worker got SIGTERM")
    callback = None if stop is None else (lambda trainer: stop.requested)
    result = train(X, Y, record="sweep", sweeps=requested["sweeps"], callback=callback,
                   **options)
    if result.status == "stopped":
        raise RuntimeError(f"stopped by SIGTERM after {result.sweeps} of "
                           f"{requested['sweeps']} sweeps")
    row = dict(requested, status=result.status, error="", sweeps_done=result.sweeps,
               widths=json.dumps([result.weights[0].shape[1]]
                                 + [W.shape[0] for W in result.weights]),
               initial_error=float(result.errors[0]), final_error=float(result.errors[-1]),
               seconds=time.perf_counter() - start, curve="")
    if curve_dir is not None:
        row["curve"] = _write_curve(curve_dir, config, result.errors)
    return row


def run_or_report(config: dict[str, Any], curve_dir: str | None = None, *,
                  threads: int | None = None) -> dict[str, Any]:
    """:func:`run_one`, with a failure as its row: ``status="error"`` and the message."""
    start = time.perf_counter()
    try:
        return run_one(config, curve_dir, threads=threads)
    except Exception as error:  # any failure of this run is its row, not the grid's end
        return _error_row(config, error, time.perf_counter() - start)


def _requested(config):
    """The run's settings as asked, with the defaults a row states (sweeps, seed)."""
    return dict(_RUN_DEFAULTS, **config)


def _error_row(config, error, seconds):
    message = " ".join(f"{type(error).__name__}: {error}".split())
    return dict(_requested(config), status="error", error=message, sweeps_done="",
                widths="", initial_error="", final_error="", seconds=seconds, curve="")


def _write_curve(curve_dir, config, errors):
    os.makedirs(curve_dir, exist_ok=True)
    key = "_".join(f"{k}={v}" for k, v in sorted(config.items()))
    path = os.path.join(curve_dir, "".join(c if c.isalnum() or c in "=._-" else "-"
                                           for c in key) + ".csv")
    np.savetxt(path, errors, header="error after each sweep", fmt="%.17g")
    return path


# In a grid's worker process: SIGTERM asks the run in progress to stop after its sweep.
_worker_stop: StopOnInterrupt | None = None
_PR_SET_PDEATHSIG = 1  # prctl(2)


def _start_worker():
    """A worker process's set-up: SIGTERM stops its run after the current sweep (an error
    row) and every later run before it starts, instead of killing the worker."""
    global _worker_stop
    _worker_stop = StopOnInterrupt(signals=(signal.SIGTERM,)).__enter__()


def _die_with_parent(parent):
    """End this process when ``parent`` dies, however it dies (SIGKILL included): on Linux
    the kernel sends SIGKILL (``prctl(PR_SET_PDEATHSIG)``), elsewhere a thread checks every
    second. The parent may have died before this call: checked once after."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    else:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def _watch_parent(parent, period=1.0):
    while os.getppid() == parent:
        time.sleep(period)
    os._exit(1)


def _worker_main(connection, parent):
    """A local worker: runs ``(config, curve_dir)`` tasks one at a time, sending back rows,
    until told to stop (None) or its parent is gone. Ctrl-C is the parent's to handle."""
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _start_worker()
    while True:
        try:
            task = connection.recv()
        except EOFError:  # the parent closed its end
            return
        if task is None:
            return
        connection.send(run_or_report(*task, threads=_LOCAL_THREADS))


class _Worker:
    """A worker process and the parent's end of its pipe."""

    def __init__(self, context):
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, os.getpid()),
                                       daemon=True)
        self.process.start()
        child.close()


class _LocalPool:
    """Spawned processes, each running one run at a time. A worker that dies (SIGKILL, the
    out-of-memory killer, a crash) costs only the run it held, an error row saying so, and a
    new worker takes its place; ``concurrent.futures`` would fail every pending run
    (``BrokenProcessPool``). ``processes`` (pid -> process) are the live workers."""

    def __init__(self, size, curve_dir, processes):
        self._context = get_context(_START_METHOD)
        self._size, self._curve_dir = size, curve_dir
        self.processes = processes

    def _start(self):
        worker = _Worker(self._context)
        self.processes[worker.process.pid] = worker.process
        return worker

    def runs(self, configs) -> Iterator[tuple[int, dict]]:
        """``(index, row)`` of each run as it finishes."""
        pending = list(enumerate(configs))[::-1]
        idle = [self._start() for _ in range(min(self._size, len(configs)))]
        busy: dict[_Worker, int] = {}
        try:
            while pending or busy:
                while idle and pending:
                    worker, (index, config) = idle.pop(), pending.pop()
                    with contextlib.suppress(OSError):  # a dead worker: seen below
                        worker.connection.send((config, self._curve_dir))
                    busy[worker] = index
                ready = set(wait([w.connection for w in busy]
                                 + [w.process.sentinel for w in busy]))
                for worker in [w for w in busy if {w.connection, w.process.sentinel} & ready]:
                    index = busy.pop(worker)
                    try:
                        row = worker.connection.recv()
                    except (EOFError, OSError):  # it died with this run
                        yield index, self._replace(worker, idle, configs[index], pending)
                        continue
                    idle.append(worker)
                    yield index, row
        finally:
            self._stop([*idle, *busy])

    def _replace(self, worker, idle, config, pending):
        """The row of the run a dead worker held; a new worker if runs are waiting."""
        worker.process.join()
        self.processes.pop(worker.process.pid, None)
        worker.connection.close()
        if pending:
            idle.append(self._start())
        return _error_row(config, WorkerDied(worker.process.exitcode), 0.0)

    def _stop(self, workers):
        for worker in workers:
            with contextlib.suppress(OSError):
                worker.connection.send(None)
        deadline = time.monotonic() + 5.0
        for worker in workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():  # stopped early (an exception, Ctrl-C)
                worker.process.kill()
                worker.process.join()
            self.processes.pop(worker.process.pid, None)
            worker.connection.close()


class WorkerDied(RuntimeError):
    """The local worker process running a run died (its row's error)."""

    def __init__(self, exitcode):
        if exitcode is not None and exitcode < 0:
            name = signal.Signals(-exitcode).name
            how = f"killed by {name}" + (" (kill -9, or the out-of-memory killer)"
                                         if -exitcode == signal.SIGKILL else "")
        else:
            how = f"exited with code {exitcode}"
        super().__init__(f"the worker process running this run died ({how}); the other "
                         "runs went on")


class GridTerminated(SystemExit):
    """Raised by :func:`run_grid` after a SIGTERM, once every row is written: the runs it
    stopped are error rows (``rows``). Uncaught, the process ends with code 143 (like a
    SIGTERM)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        super().__init__(128 + signal.SIGTERM)
        self.rows = rows


def run_grid(configs: list[dict[str, Any]] | dict[str, Any], *, client: Any = None,
             n_workers: int | None = None, curve_dir: str | None = None,
             out: str | os.PathLike | None = None,
             on_row: Callable[[dict[str, Any]], Any] | None = None) -> list[dict[str, Any]]:
    """Run every configuration and return the result rows, in the order of ``configs``.

    A run that fails does not stop the others: its row has ``status="error"`` and the
    message in ``error``. A SIGTERM (what SLURM or Kubernetes send) to this process or to a
    local worker stops each run in progress after its current sweep and the runs not yet
    started: error rows saying so; then :class:`GridTerminated` is raised (exit code 143).

    Parameters
    ----------
    configs : list of dict or dict
        Run configurations, or a grid spec for :func:`expand_grid`. Keys: ``data``,
        ``depth``, optional ``width`` and ``sweeps`` (default 1), and any training option (a
        field of :class:`fastdln.Settings`; ``seed`` defaults to 0). An unknown key is
        refused before any run starts.
    client : dask.distributed.Client, optional
        Run on its cluster (a ``LocalCluster`` or a remote scheduler); otherwise on local
        processes, each run on one BLAS thread (``threads=1``) unless it sets ``threads``.
    n_workers : int, optional
        Local processes (default: the number of cores).
    curve_dir : str, optional
        Write each run's error curve there (a CSV per run, named after its settings).
    out : str or os.PathLike, optional
        A CSV to which each row is written (and flushed) as its run finishes, so that a
        killed grid keeps the rows of its finished runs; columns :func:`grid_columns`.
        ``out`` and (for local runs) ``curve_dir`` are checked writable before any run
        starts (``ValueError`` otherwise).
    on_row : callable, optional
        ``on_row(row)`` as each run finishes (e.g. a progress bar).

    Returns
    -------
    list of dict
        One row per run: ``run`` (its index), its settings, then :data:`RESULT_COLUMNS`.
    """
    if isinstance(configs, dict):
        configs = expand_grid(configs)
    configs = [dict(c) for c in configs]
    for c in configs:
        check_config(c)
    if out is not None:
        check_writable(out, "out")
    if curve_dir is not None and client is None:  # a cluster's workers write on their disks
        check_writable(curve_dir, "curve_dir", folder=True)
    rows: list[dict[str, Any]] = [{} for _ in configs]
    workers: dict = {}  # the local pool's processes, to pass a SIGTERM on to
    with _RowWriter(out, grid_columns(configs)) as writer, StopOnInterrupt(
            signals=(signal.SIGTERM,), on_signal=lambda s: _pass_on(workers, s)) as stop:
        for index, row in _finished_runs(configs, client, n_workers, curve_dir, workers):
            rows[index] = row = dict(run=index, **row)
            writer.write(row)
            if on_row is not None:
                on_row(row)
    if stop.requested:
        raise GridTerminated(rows)
    return rows


def _pass_on(workers, signum):
    """Send ``signum`` to the local pool's worker processes (their runs stop after a sweep)."""
    for process in list(workers.get("pool", {}).values()):
        with contextlib.suppress(OSError):
            os.kill(process.pid, signum)


def _finished_runs(configs, client, n_workers, curve_dir,
                   workers) -> Iterator[tuple[int, dict]]:
    """``(index, row)`` of each run as it finishes (a lost worker's runs: error rows)."""
    if client is not None:
        from distributed import as_completed as dask_completed

        futures = client.map(run_or_report, configs, curve_dir=curve_dir, pure=False)
        yield from _rows_of(dask_completed(futures), futures, configs)
        return
    pool = _LocalPool(n_workers or os.cpu_count() or 1, curve_dir, workers.setdefault("pool", {}))
    yield from pool.runs(configs)


def _rows_of(finished, futures, configs):
    position = {id(future): index for index, future in enumerate(futures)}
    for future in finished:
        index = position[id(future)]
        try:
            yield index, future.result()
        except Exception as error:  # the worker died (killed, out of memory, ...)
            yield index, _error_row(configs[index], error, 0.0)


def grid_columns(configs: list[dict[str, Any]]) -> list[str]:
    """The columns of a grid's rows: ``run``, the settings the configs name (with
    ``sweeps`` and ``seed``), then :data:`RESULT_COLUMNS`."""
    columns = ["run"]
    for config in configs:
        columns += [k for k in _requested(config) if k not in columns]
    return columns + list(RESULT_COLUMNS)


class _RowWriter:
    """Rows appended to a CSV (header first), each flushed as it comes; nothing for None."""

    def __init__(self, path, columns):
        self._path, self._columns = path, columns
        self._file: Any = None
        self._writer: Any = None

    def __enter__(self):
        if self._path is not None:
            self._file = open(self._path, "w", newline="")
            self._writer = csv.DictWriter(self._file, fieldnames=self._columns, restval="")
            self._writer.writeheader()
            self._file.flush()
        return self

    def write(self, row):
        if self._writer is not None:
            self._writer.writerow(row)
            self._file.flush()

    def __exit__(self, *exc_info):
        if self._file is not None:
            self._file.close()


def check_config(config: dict[str, Any], source: str = "the run") -> None:
    """Refuse a run configuration without ``data`` and ``depth`` or with an unknown key
    (``source`` names where it comes from in the message)."""
    missing = {"data", "depth"} - set(config)
    if missing:
        raise ValueError(f"every run needs {sorted(missing)}; {source} {config} lacks them")
    _check_keys(config, source)


_KNOWN_KEYS = tuple(RUN_KEYS) + tuple(f.name for f in dataclasses.fields(Settings))


def _check_keys(keys, where):
    """Refuse the keys that are neither run keys nor training options, naming ``where``."""
    unknown = sorted(set(keys) - set(_KNOWN_KEYS))
    if unknown:
        close = [match for key in unknown
                 for match in difflib.get_close_matches(key, _KNOWN_KEYS, n=1)]
        hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
        raise ValueError(f"unknown key(s) {unknown} in {where}{hint}; the keys are "
                         f"{sorted(_KNOWN_KEYS)}")


def load_grid_file(path: str | os.PathLike) -> list[dict[str, Any]]:
    """A grid from a TOML file: a ``[grid]`` table (lists are axes) and optional ``[train]``
    defaults merged into every run. Other tables and unknown keys are refused, naming the
    key and the file."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    name = os.fspath(path)
    if os.path.isdir(name):
        raise ValueError(f"{name}: is a directory, not a grid file (TOML)")
    with open(path, "rb") as f:
        try:
            document = tomllib.load(f)
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"{name}: not valid TOML ({error})") from None
    for key, value in document.items():
        if key not in ("train", "grid"):
            kind = "table [" + key + "]" if isinstance(value, dict) else f"key {key!r}"
            raise ValueError(f"{name}: unknown {kind} at the top level; a grid file has a "
                             "[grid] table and an optional [train] table")
    if "grid" not in document:
        raise ValueError(f"{name}: needs a [grid] table (e.g. depth = [10, 50])")
    for table in ("train", "grid"):
        _check_keys(document.get(table, {}), f"[{table}] of {name}")
    return expand_grid({**document.get("train", {}), **document["grid"]})
