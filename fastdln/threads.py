"""How many threads the BLAS libraries get while fastdln trains (core layer).

With ``threads=N`` every loaded BLAS library (numpy's and scipy's OpenBLAS, MKL, ...: what
threadpoolctl finds) runs on ``N`` threads during each sweep, and the previous counts are
restored after it. With ``threads=None`` (automatic) the count is measured: the first sweeps
alternate between one thread and all the process's cores, then the faster count is used,
and the other one is tried again now and then, so that a run started on a quiet machine
notices a busy neighbour (where two BLAS threads wait for a descheduled one) and the reverse.
Results are bitwise reproducible for a fixed count; the automatic choice may differ between
runs in the last bits (BLAS sums in another order on another number of threads).
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager

__all__ = ["ThreadPolicy", "available_cores", "blas_threads"]

# Sweeps (calls) measured per count before the automatic choice is made, how many of the most
# recent measures of a count are kept, and how often the other count is tried again.
PROBES = 2
KEPT = 3
REPROBE_EVERY = 16


_FOUND: list = []


def _blas_libraries():
    """The loaded BLAS libraries' threadpoolctl controllers (looked up once per process)."""
    if not _FOUND:
        # scipy's BLAS (the kernels' and the set-up's) must be loaded to be found: numba
        # loads it with numba.np.linalg; made sure here (tests/test_threads.py)
        import scipy.linalg.cython_blas  # noqa: F401
        from threadpoolctl import ThreadpoolController

        _FOUND.extend(library for library in ThreadpoolController().lib_controllers
                      if library.user_api == "blas")
    return _FOUND


def available_cores() -> int:
    """Cores this process may run on (its affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def blas_threads(count: int, libraries=None):
    """Every loaded BLAS library on ``count`` threads inside the block, restored after."""
    libraries = _blas_libraries() if libraries is None else libraries
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
    """The BLAS thread count of each sweep: fixed, or chosen by measuring (``threads=None``).

    Parameters
    ----------
    threads : int or None
        A fixed count, or None for the automatic choice.
    cores : int, optional
        The largest count tried automatically (default: :func:`available_cores`).
    """

    def __init__(self, threads: int | None, cores: int | None = None) -> None:
        self.threads = threads
        cores = available_cores() if cores is None else cores
        self.counts = (threads,) if threads is not None else tuple(sorted({1, cores}))
        self._measures: dict[int, list[float]] = {count: [] for count in self.counts}
        self._calls = 0
        self._libraries = None

    @property
    def chosen(self) -> int:
        """The count the next sweep gets."""
        if len(self.counts) == 1:
            return self.counts[0]
        unmeasured = [c for c in self.counts if len(self._measures[c]) < PROBES]
        if unmeasured:
            return unmeasured[self._calls % len(unmeasured)]
        best = self.best
        if self._calls % REPROBE_EVERY == REPROBE_EVERY - 1:
            return next(c for c in self.counts if c != best)
        return best

    @property
    def best(self) -> int:
        """The count with the shortest recent time per update."""
        return min(self.counts, key=lambda c: min(self._measures[c], default=float("inf")))

    def record(self, count: int, seconds_per_update: float) -> None:
        measures = self._measures[count]
        measures.append(seconds_per_update)
        del measures[:-KEPT]
        self._calls += 1

    @contextmanager
    def applied(self, updates: int):
        """Run the block with the chosen count on every BLAS library; measure it."""
        count = self.chosen
        start = time.perf_counter()
        with blas_threads(count, self._blas_libraries()):
            yield count
        seconds = time.perf_counter() - start
        if updates > 0 and len(self.counts) > 1:
            self.record(count, seconds / updates)

    def _blas_libraries(self):
        if self._libraries is None:
            self._libraries = _blas_libraries()
        return self._libraries

    def __getstate__(self):  # the library handles are this process's: found again on use
        state = dict(self.__dict__)
        state["_libraries"] = None
        return state
