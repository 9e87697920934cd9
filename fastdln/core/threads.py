"""How many threads the BLAS libraries get while fastdln works (core layer).

With ``threads=N`` every loaded BLAS library (numpy's and scipy's OpenBLAS, MKL, ...: what
threadpoolctl finds) runs on ``N`` threads during each sweep and the set-up (factor,
initialization, optimum), and the previous counts are restored after each. With
``threads=None`` (automatic) the count is chosen before each sweep from the machine's load
(the CPU time other processes took over the last moments, from ``/proc/stat``; at the start,
their runnable tasks): beside other running processes (where a BLAS thread waits for a
descheduled partner: measured 2-3x slower sweeps), one thread per core left, at least one;
on a quiet machine the count measured faster for problems of the same size: by this run,
else by this process, else by earlier processes on this machine (the wisdom file,
``fastdln/maths/_wisdom.py``, written by ``fastdln warmup`` and refined by runs), else all the
cores. On a quiet machine the other count is tried now and then (first after
``FIRST_PROBE`` sweeps, so short runs never pay for it); a run that has measured both counts
leaves its medians for the wisdom file (once, written off the hot path: when the process
sets up its next trainer, or at exit). The cores are the process's affinity, capped by the
BLAS libraries' own thread count when fastdln first looks them up (``OPENBLAS_NUM_THREADS``,
``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` set lower stay the limit) and by the counts found
when a block starts (an enclosing ``threadpoolctl.threadpool_limits``). Results are bitwise
reproducible for a fixed count; the automatic choice may differ between runs in the last
bits (BLAS sums in another order on another number of threads).
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager

from ..maths import _gemm, _wisdom

__all__ = ["ThreadPolicy", "automatic_count", "available_cores", "blas_threads",
           "fewest_of_the_fastest", "machine_load", "other_runnable", "remember_measures",
           "wisdom_context"]

# Sweeps (calls) on a quiet machine before the other count is first tried, how often it is
# tried again, how many recent measures of a count are kept, and how long a load reading holds.
FIRST_PROBE = 16
REPROBE_EVERY = 32
KEPT = 3
LOAD_SECONDS = 0.05
# Under threads=None a set-up whose matrices are all narrower than this runs on one thread
# (benchmarks/first_sweeps.py: n128-L100's set-up is faster on one, n512-L20's on two).
SMALL_SETUP = 256
# Thread counts whose times lie within this fraction of the fastest's tie (fewest wins).
WISE_TIE = 0.03

_FOUND: list = []
_KERNELS: list = []  # the ones the kernels call
_CAP: list = []
_LOCK = threading.RLock()
# the count measured faster on a quiet machine, per problem size (this process)
_QUIET_BEST: dict = {}


class BlasLibrary:
    """One loaded BLAS library's thread count, read and set through the library's own C
    functions (a fraction of a microsecond a call).

    threadpoolctl finds the libraries; its own setter is not used on the hot path: it walks
    Python code on every call, and for OpenBLAS on its pthreads layer it sets the count only
    from the first Python thread that ever set one (any other thread is silently ignored),
    which would let a trainer in a second thread run on another count than it asked for.
    Libraries whose functions are not known here (an OpenMP build, whose count is
    per-thread) go through threadpoolctl.
    """

    def __init__(self, controller) -> None:
        self.controller = controller
        self.filepath = controller.filepath
        self._get, self._set = _count_functions(controller)
        # the fastest callables (the C functions themselves where known), for the hot path
        self.getter = self._get if self._get is not None else self.get
        self.setter = self._set if self._set is not None else self.set

    def get(self) -> int:
        return int(self._get()) if self._get is not None else int(self.controller.num_threads)

    def set(self, count: int) -> None:
        if self._set is not None:
            self._set(count)
        else:
            self.controller.set_num_threads(count)


def _count_functions(controller):
    """``(get, set)`` C functions of a library's thread count, or ``(None, None)``."""
    import ctypes

    api = controller.internal_api
    names: list[tuple[str, str]] = []
    if api == "openblas" and getattr(controller, "threading_layer", None) == "pthreads":
        names = [(f"{prefix}openblas_get_num_threads{suffix}",
                  f"{prefix}openblas_set_num_threads{suffix}")
                 for prefix in ("", "scipy_") for suffix in ("", "64_", "_64")]
    elif api == "mkl":
        names = [("MKL_Get_Max_Threads", "MKL_Set_Num_Threads")]
    elif api == "blis":
        names = [("bli_thread_get_num_threads", "bli_thread_set_num_threads")]
    try:
        library = ctypes.CDLL(controller.filepath, mode=getattr(os, "RTLD_NOLOAD", 0))
    except OSError:
        return None, None
    for get_name, set_name in names:
        if hasattr(library, get_name) and hasattr(library, set_name):
            get, set_ = getattr(library, get_name), getattr(library, set_name)
            get.restype, get.argtypes = ctypes.c_int, []
            set_.restype, set_.argtypes = None, [ctypes.c_int]
            return get, set_
    return None, None


def _blas_libraries():
    """The loaded BLAS libraries (looked up once per process)."""
    with _LOCK:
        if not _FOUND:
            # scipy's BLAS (the kernels' and the set-up's) must be loaded to be found: numba
            # loads it with numba.np.linalg; made sure here (tests/test_threads.py)
            import scipy.linalg.cython_blas  # noqa: F401
            from threadpoolctl import ThreadpoolController

            _FOUND.extend(BlasLibrary(controller)
                          for controller in ThreadpoolController().lib_controllers
                          if controller.user_api == "blas")
            _CAP.append(max([library.get() for library in _FOUND], default=1))
            _KERNELS.extend(library for library in _FOUND if _called_by_the_kernels(library))
            if not _KERNELS:  # not found where it lives: count on every library
                _KERNELS.extend(_FOUND)
    return _FOUND


def kernel_libraries():
    """The BLAS libraries the kernels call (one of :func:`_blas_libraries` per library behind
    their gemm symbols: scipy's, or the one measured faster, ``fastdln/maths/_gemm.py``): a
    sweep or a step sets the count of these only, the rest of a run's BLAS work (set-up,
    optimum, prediction, diagnostics) every library's."""
    _blas_libraries()
    return _KERNELS


def _called_by_the_kernels(library) -> bool:
    """Whether a symbol of the kernels' gemm points into this library: it is the library
    that took a symbol over (the same file), or, for the symbols left to scipy, scipy's
    ``cython_blas`` resolves the library's thread-count function to the library itself (it is
    then among the libraries ``cython_blas`` was linked to; true where that cannot be
    told)."""
    import ctypes

    from scipy.linalg import cython_blas

    behind = set(_gemm.providers().values())
    if os.path.realpath(library.filepath) in behind:
        return True
    if "scipy" not in behind:
        return False
    if library._get is None:
        return True
    try:
        linked = ctypes.CDLL(cython_blas.__file__, mode=getattr(os, "RTLD_NOLOAD", 0))
        found = getattr(linked, library._get.__name__)
    except (AttributeError, OSError):
        return False
    address = ctypes.cast(found, ctypes.c_void_p).value
    return address == ctypes.cast(library._get, ctypes.c_void_p).value


def _median(values) -> float:
    """The lower median (a measure that was taken, not a mean of two)."""
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]


def _is_size_class(size) -> bool:
    """Whether ``size`` is a size class the wisdom file keeps: ``(dtype name, int)``."""
    return (isinstance(size, tuple) and len(size) == 2 and isinstance(size[0], str)
            and isinstance(size[1], int))


def wisdom_context() -> str:
    """What thread measures depend on besides the problem: this CPU and the BLAS libraries
    the kernels call (name, version, path)."""
    libraries = " + ".join(sorted(
        f"{library.controller.internal_api} {library.controller.version} {library.filepath}"
        for library in kernel_libraries()))
    return f"{_wisdom.machine()} | {libraries}"


def remember_measures(size: tuple, seconds: dict[int, float], source: str) -> None:
    """Remember quiet seconds per update per thread count for problems of size class
    ``size`` (``(dtype name, class)``) in the wisdom file (written at the next flush)."""
    _wisdom.record_threads(wisdom_context(), size[0], size[1], seconds, source)


def _wise_count(size: tuple, counts: tuple) -> int | None:
    """The count the wisdom file's samples for ``size`` find faster among ``counts`` (the
    median over samples of each count's time over the sample's fastest), or None. Counts
    within ``WISE_TIE`` of the fastest tie, and the fewest threads of a tie win (tiny
    problems run as fast on one: the other cores stay free for other work)."""
    samples = [sample for sample in _wisdom.thread_samples(wisdom_context(), *size)
               if all(count in sample for count in counts)]
    if not samples:
        return None
    return fewest_of_the_fastest({count: _median([sample[count] / min(sample[c] for c in counts)
                                                  for sample in samples]) for count in counts})


def fewest_of_the_fastest(times: dict[int, float]) -> int:
    """The fewest threads among the counts whose time lies within ``WISE_TIE`` of the
    fastest (``times``: count -> time)."""
    best = min(times.values())
    return min(count for count, time in times.items() if time <= best * (1 + WISE_TIE))

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


def acquire(libraries) -> list[int]:
    """Take the process-wide lock of BLAS thread counts and return the libraries' counts as
    found. Every :func:`acquire` is paired with a :func:`restore` (which releases it)."""
    _LOCK.acquire()
    try:
        return [library.get() for library in libraries]
    except BaseException:
        _LOCK.release()
        raise


def apply(count: int, found: list[int], libraries) -> None:
    """Set ``count`` on the libraries whose count differs (inside :func:`acquire`)."""
    for library, before in zip(libraries, found):
        if before != count:
            library.setter(count)


def restore(count: int, found: list[int], libraries) -> None:
    """Set back the counts :func:`acquire` found and release the lock."""
    try:
        for library, before in zip(libraries, found):
            if before != count:
                library.setter(before)
    finally:
        _LOCK.release()


def found_cap(found: list[int]) -> int:
    """The most threads an automatic choice may use beside the counts found: an enclosing
    ``threadpoolctl.threadpool_limits`` (what joblib and dask workers set) is a cap."""
    return max(1, min(found, default=1))


@contextmanager
def blas_threads(count: int | None, libraries=None):
    """Every loaded BLAS library on ``count`` threads inside the block, restored after
    (``None``: the automatic count of a first sweep, capped by the counts found).

    The setting is process-wide: blocks entered from several Python threads hold one lock,
    so that each runs on its own count and restores the count it found (they run one after
    the other).
    """
    libraries = _blas_libraries() if libraries is None else libraries
    found = acquire(libraries)
    try:
        if count is None:
            count = min(automatic_count(), found_cap(found))
        apply(count, found, libraries)
        yield count
    finally:
        restore(count if count is not None else -1, found, libraries)


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
        self._load = machine_load if load is None else load
        if threads is not None:
            self.counts: tuple = (threads,)
        else:
            cores = automatic_cores() if cores is None else cores
            self.counts = tuple(sorted({1, cores}))
        self._measures: dict[int, list[float]] = {count: [] for count in self.counts}
        self._quiet_calls = 0
        self._measured_all = False
        self._others = 0  # the load the last choice saw (a busy sweep's time is not kept)
        self._libraries = None
        self.last: int | None = None  # the count the last block ran on
        self.sized(size)

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
        what this machine measured for the size class before (the wisdom file), else all
        the cores."""
        if all(self._measures[c] for c in self.counts):
            return min(self.counts, key=lambda c: _median(self._measures[c]))
        measured = _QUIET_BEST.get(self.size)
        if measured is not None:
            return min(self.counts[-1], measured.best)
        return self.counts[-1] if self._wise is None else self._wise

    def sized(self, size) -> None:
        """Set the problem's size class (hashable; a ``(dtype name, class)`` pair is looked
        up in the wisdom file) and what this machine measured for it before. Not for the hot
        path: it also writes what earlier runs of this process measured."""
        self.size = size
        self._wise = None
        if self.threads is None and len(self.counts) > 1 and _is_size_class(size):
            _wisdom.flush()
            self._wise = _wise_count(size, self.counts)

    def record(self, count: int, seconds_per_update: float) -> None:
        """A quiet sweep's time per update on ``count`` threads (busy sweeps are not kept:
        there the count follows the load). Once every count has a measure, their medians are
        remembered for the wisdom file (written later, off the hot path)."""
        if self._others > 0 or count not in self._measures:
            return
        measures = self._measures[count]
        measures.append(seconds_per_update)
        if len(measures) > KEPT:
            del measures[0]
        self._quiet_calls += 1
        if not self._measured_all and all(self._measures[c] for c in self.counts):
            self._measured_all = True
            if _is_size_class(self.size):
                remember_measures(self.size, {c: _median(self._measures[c])
                                              for c in self.counts}, "run")
        if self._measured_all:
            _QUIET_BEST[self.size] = self  # new policies of this size start on its best

    def choose(self, found: list[int]) -> int:
        """The count of the next block, given the counts found when it starts: fixed, or the
        automatic choice capped by an enclosing limit (:func:`found_cap`)."""
        if self.threads is not None:
            return self.threads
        return min(self.chosen, found_cap(found))

    def enter(self, libraries=None) -> tuple:
        """Start a block (see :meth:`applied`) without a context manager, for the hot path of
        a single update: returns the token :meth:`exit` takes. ``libraries``: the BLAS
        libraries the block's work calls (default: every one loaded). Each library's count
        is read and set, only where it differs, through its own C function."""
        libraries = self.blas_libraries() if libraries is None else libraries
        _LOCK.acquire()
        found: list[int] = []
        try:
            found = [library.getter() for library in libraries]
            count = self.threads
            if count is None:
                count = min(self.chosen, found_cap(found))
            self.last = count
            apply(count, found, libraries)
        except BaseException:
            restore(-1, found, libraries)  # puts back what was read, releases the lock
            raise
        return count, found, libraries, (time.perf_counter() if self.threads is None else 0.0)

    def exit(self, token: tuple, updates: int) -> None:
        """End a block :meth:`enter` started (the counts found set back, the lock released);
        a quiet block of ``updates`` is measured (under ``threads=None``)."""
        count, found, libraries, start = token
        restore(count, found, libraries)
        if self.threads is None and updates > 0 and len(self.counts) > 1:
            self.record(count, (time.perf_counter() - start) / updates)

    def enter_kernel(self, libraries) -> tuple:
        """Start a block whose kernel switches the count itself (the engines'
        ``kernel_threads``): take the lock and choose the count (reading ``libraries``'
        counts only for the automatic choice's cap); returns the token
        :meth:`exit_kernel` takes."""
        _LOCK.acquire()
        try:
            count = self.threads
            if count is None:
                count = min(self.chosen, found_cap([lib.getter() for lib in libraries]))
            self.last = count
        except BaseException:
            _LOCK.release()
            raise
        return count, (time.perf_counter() if self.threads is None else 0.0)

    def exit_kernel(self, token: tuple, updates: int) -> None:
        """End a block :meth:`enter_kernel` started (the lock released; a quiet block of
        ``updates`` measured under ``threads=None``)."""
        _LOCK.release()
        count, start = token
        if self.threads is None and updates > 0 and len(self.counts) > 1:
            self.record(count, (time.perf_counter() - start) / updates)

    @contextmanager
    def applied(self, updates: int):
        """Run the block with the chosen count on every BLAS library (under the process-wide
        lock, restoring the counts found after it); measure it."""
        token = self.enter()
        try:
            yield token[0]
        except BaseException:
            restore(*token[:3])
            raise
        self.exit(token, updates)

    @contextmanager
    def setup(self, largest: int):
        """Run the set-up (factor, initialization, optimum) on the chosen count, or on one
        thread when its largest matrix dimension is below ``SMALL_SETUP`` (measured: the
        QRs of 128 x 128 layers run slower on two threads even on a quiet machine)."""
        libraries = self.blas_libraries()
        found = acquire(libraries)
        count = -1
        try:
            count = self.choose(found) if largest >= SMALL_SETUP or self.threads else 1
            apply(count, found, libraries)
            yield count
        finally:
            restore(count, found, libraries)

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
