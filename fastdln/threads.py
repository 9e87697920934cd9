"""How many threads the BLAS libraries get while fastdln works (core layer).

With ``threads=N`` every loaded BLAS library (numpy's and scipy's OpenBLAS, MKL, ...: what
threadpoolctl finds) runs on ``N`` threads during each sweep and the set-up (factor,
initialization, optimum), and the previous counts are restored after each. With
``threads=None`` (automatic) the count is chosen before each sweep from the machine's load
(the CPU time other processes took over the last moments, from ``/proc/stat``; at the start,
their runnable tasks): beside other running processes (where a BLAS thread waits for a
descheduled partner: measured 2-3x slower sweeps), one thread per core left, at least one;
on a quiet machine all the cores, or the count this process measured faster for problems
of the same size. On a quiet machine the other count is tried now and then (first after
``FIRST_PROBE`` sweeps, so short runs never pay for it). The cores are the process's
affinity, capped by the BLAS libraries' own thread count when fastdln first looks them up
(``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` set lower stay the
limit). Results are bitwise reproducible for a fixed count; the automatic choice may differ
between runs in the last bits (BLAS sums in another order on another number of threads).
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager

__all__ = ["ThreadPolicy", "automatic_count", "available_cores", "blas_threads",
           "machine_load", "other_runnable"]

# Sweeps (calls) on a quiet machine before the other count is first tried, how often it is
# tried again, how many recent measures of a count are kept, and how long a load reading holds.
FIRST_PROBE = 16
REPROBE_EVERY = 32
KEPT = 3
LOAD_SECONDS = 0.05
# Under threads=None a set-up whose matrices are all narrower than this runs on one thread
# (benchmarks/first_sweeps.py: n128-L100's set-up is faster on one, n512-L20's on two).
SMALL_SETUP = 256

_FOUND: list = []
_CAP: list = []
_LOCK = threading.RLock()
# the count measured faster on a quiet machine, per problem size (this process)
_QUIET_BEST: dict = {}


def _blas_libraries():
    """The loaded BLAS libraries' threadpoolctl controllers (looked up once per process)."""
    with _LOCK:
        if not _FOUND:
            # scipy's BLAS (the kernels' and the set-up's) must be loaded to be found: numba
            # loads it with numba.np.linalg; made sure here (tests/test_threads.py)
            import scipy.linalg.cython_blas  # noqa: F401
            from threadpoolctl import ThreadpoolController

            _FOUND.extend(library for library in ThreadpoolController().lib_controllers
                          if library.user_api == "blas")
            _CAP.append(max([library.num_threads for library in _FOUND], default=1))
    return _FOUND


def available_cores() -> int:
    """Cores this process may run on (its affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def automatic_cores() -> int:
    """The largest count the automatic choice uses: the cores, capped by the BLAS libraries'
    thread count when fastdln first looked them up (``OPENBLAS_NUM_THREADS`` and the like)."""
    _blas_libraries()
    return max(1, min(available_cores(), _CAP[0]))


def other_runnable(reads: int = 3) -> int:
    """Runnable tasks of other processes right now (Linux: ``procs_running`` of
    ``/proc/stat`` less this process's running threads, such as BLAS threads still spinning
    after a call; the least of a few reads; 0 where it cannot be read)."""
    counts = []
    try:
        for _ in range(reads):
            counts.append(_running_tasks() - _own_running_threads())
    except (OSError, ValueError, IndexError):
        return 0
    return max(0, min(counts, default=0))


class _LoadMeter:
    """Cores kept busy by other processes, process-wide: from the CPU time the machine spent
    (``/proc/stat``) less this process's (``/proc/self/stat``) since the previous reading
    when that lies between ``LOAD_SECONDS`` and 2 s back, else from the runnable tasks
    (:func:`other_runnable`). CPU time is the steadier signal: BLAS threads of this process
    spinning after a call are its own time, not another process's."""

    def __init__(self):
        self._lock = threading.Lock()
        self._last = None  # (time, busy, total, own) in seconds and clock ticks
        self._others = 0

    def __call__(self) -> int:
        with self._lock:
            now = time.monotonic()
            if self._last is not None and now - self._last[0] < LOAD_SECONDS:
                return self._others
            try:
                snapshot = (now, *_cpu_ticks())
            except (OSError, ValueError, IndexError):
                return other_runnable()
            last, self._last = self._last, snapshot
            if last is None or now - last[0] > 2.0:
                self._others = other_runnable()
            else:
                busy, total, own = (a - b for a, b in zip(snapshot[1:], last[1:]))
                cores = available_cores()
                self._others = int(round(max(0.0, busy - own) * cores / max(total, 1)))
            return self._others


def _cpu_ticks():
    """``(busy, total, own)`` clock ticks: all CPUs' non-idle and total time, this
    process's user and system time."""
    with open("/proc/stat", "rb") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and iowait
    total = sum(fields[:8])  # user .. steal (guest time is already in user)
    with open("/proc/self/stat", "rb") as own:
        times = own.read().rsplit(b")", 1)[1].split()
    return total - idle, total, int(times[11]) + int(times[12])  # utime, stime


machine_load = _LoadMeter()


def _running_tasks():
    with open("/proc/stat", "rb") as stat:
        for line in stat:
            if line.startswith(b"procs_running"):
                return int(line.split()[1])
    raise ValueError("no procs_running in /proc/stat")


def _own_running_threads():
    """This process's threads in state R (this one included)."""
    running = 0
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        running += fields[0] == b"R"
    return max(running, 1)


def automatic_count(size=None, cores: int | None = None, load=None) -> int:
    """The count for one piece of BLAS work under ``threads=None`` (``predict``, the set-up's
    folds): what a fresh :class:`ThreadPolicy` chooses for its first sweep."""
    return ThreadPolicy(None, cores=cores, size=size, load=load).chosen


@contextmanager
def blas_threads(count: int, libraries=None):
    """Every loaded BLAS library on ``count`` threads inside the block, restored after.

    The setting is process-wide: blocks entered from several Python threads hold one lock,
    so that each restores the count it found (they run one after the other).
    """
    libraries = _blas_libraries() if libraries is None else libraries
    with _LOCK:
        previous = [library.num_threads for library in libraries]
        for library, before in zip(libraries, previous):
            if before != count:
                library.set_num_threads(count)
        try:
            yield
        finally:
            for library, before in zip(libraries, previous):
                if before != count:
                    library.set_num_threads(before)


class ThreadPolicy:
    """The BLAS thread count of each sweep: fixed, or chosen (``threads=None``).

    Parameters
    ----------
    threads : int or None
        A fixed count, or None for the automatic choice (see the module docstring).
    cores : int, optional
        The largest count tried automatically (default: :func:`automatic_cores`).
    size : hashable, optional
        The problem's size class: what this process measured on a problem of the same size
        class is where a new policy starts.
    load : callable, optional
        Returns the number of cores other processes keep busy (default: the process-wide
        ``machine_load``).
    """

    def __init__(self, threads: int | None, cores: int | None = None, size=None,
                 load=None) -> None:
        self.threads = threads
        self.size = size
        self._load = machine_load if load is None else load
        if threads is not None:
            self.counts: tuple = (threads,)
        else:
            cores = automatic_cores() if cores is None else cores
            self.counts = tuple(sorted({1, cores}))
        self._measures: dict[int, list[float]] = {count: [] for count in self.counts}
        self._quiet_calls = 0
        self._others = 0  # the load the last choice saw (a busy sweep's time is not kept)
        self._libraries = None
        self.last: int | None = None  # the count the last block ran on

    @property
    def chosen(self) -> int:
        """The count the next sweep gets."""
        if len(self.counts) == 1:
            return self.counts[0]
        cores = self.counts[-1]
        self._others = self._load()  # machine_load keeps its reading for LOAD_SECONDS
        if self._others > 0:
            return max(1, cores - self._others)
        best = self.best
        calls = self._quiet_calls - FIRST_PROBE
        if calls >= 0 and calls % REPROBE_EVERY == 0:
            return next(c for c in self.counts if c != best)
        return best

    @property
    def best(self) -> int:
        """The count faster on a quiet machine: by this policy's recent measures (median)
        once both counts have some, else what this process measured for the same size, else
        all the cores."""
        if all(self._measures[c] for c in self.counts):
            return min(self.counts, key=lambda c: sorted(self._measures[c])[
                (len(self._measures[c]) - 1) // 2])
        return min(self.counts[-1], _QUIET_BEST.get(self.size, self.counts[-1]))

    def record(self, count: int, seconds_per_update: float) -> None:
        """A quiet sweep's time per update on ``count`` threads (busy sweeps are not kept:
        there the count follows the load)."""
        if self._others > 0 or count not in self._measures:
            return
        measures = self._measures[count]
        measures.append(seconds_per_update)
        del measures[:-KEPT]
        self._quiet_calls += 1
        if all(self._measures[c] for c in self.counts):
            _QUIET_BEST[self.size] = self.best

    @contextmanager
    def applied(self, updates: int):
        """Run the block with the chosen count on every BLAS library; measure it."""
        count = self.last = self.chosen
        start = time.perf_counter()
        with blas_threads(count, self.blas_libraries()):
            yield count
        seconds = time.perf_counter() - start
        if updates > 0 and len(self.counts) > 1:
            self.record(count, seconds / updates)

    @contextmanager
    def setup(self, largest: int):
        """Run the set-up (factor, initialization, optimum) on the chosen count, or on one
        thread when its largest matrix dimension is below ``SMALL_SETUP`` (measured: the
        QRs of 128 x 128 layers run slower on two threads even on a quiet machine)."""
        count = self.chosen if self.threads is not None or largest >= SMALL_SETUP else 1
        with blas_threads(count, self.blas_libraries()):
            yield count

    def blas_libraries(self):
        """The BLAS libraries loaded in this process (threadpoolctl's, looked up once)."""
        if self._libraries is None:
            self._libraries = _blas_libraries()
        return self._libraries

    def __getstate__(self):  # the library handles and the load reader are this process's
        state = dict(self.__dict__)
        state["_libraries"] = None
        state["_load"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._load = machine_load
