"""What fastdln measured on this machine, remembered across processes (FFTW's "wisdom").

A small JSON file beside numba's kernel cache (``NUMBA_CACHE_DIR`` when set, else numba's
user-wide cache folder, ``~/.cache/numba`` on Linux), named ``fastdln-wisdom.json``, or
where ``FASTDLN_WISDOM`` says. It holds

- ``threads``: per machine (CPU model) and BLAS library, per dtype and problem size class,
  a few samples of the seconds per update measured on a quiet machine on each BLAS thread
  count (one sample: one process's measures of one problem on every count it tried);
- ``gemm``: per machine and default BLAS, the measured speed of each other GEMM library found
  (its time over the default's on the kernels' shapes, per dtype).

Entries are keyed by what the measurements depend on, so nothing is trusted across CPUs or
libraries. The file is read once per process and written only at moments that are not hot
(a trainer's set-up, warmup, the interpreter's exit), under a lock, by writing a temporary
file and renaming it over the old one: two processes writing at once merge their entries,
neither loses the other's. A file that cannot be read, is not JSON, or is another program's
or a newer fastdln's, is ignored (nothing is raised; a newer version's file is not
overwritten); where the folder is not writable the measures stay in memory.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import math
import os
import platform
import threading
import time

from ._files import atomic_write

__all__ = ["FORMAT", "VERSION", "cache_root", "flush", "gemm_entries", "machine", "record_gemm",
           "record_threads", "thread_samples", "wisdom_file"]

FORMAT = "fastdln-wisdom"
VERSION = 1
FILE_NAME = "fastdln-wisdom.json"
KEPT_SAMPLES = 8  # the newest samples kept per size class
LOCK_SECONDS = 2.0  # how long a writer waits for another one before giving up

_LOCK = threading.RLock()
_STATE: dict = {}  # "memory": what this process knows; "pending": what it has yet to write


def wisdom_file() -> str | None:
    """The wisdom file's path (it may not exist yet): ``FASTDLN_WISDOM`` when set, else
    ``fastdln-wisdom.json`` in numba's cache folder (None where no folder is known)."""
    given = os.environ.get("FASTDLN_WISDOM")
    if given:
        return given
    folder = cache_root()
    return os.path.join(folder, FILE_NAME) if folder else None


def cache_root() -> str:
    """The folder numba caches in: ``NUMBA_CACHE_DIR`` when set, else numba's user-wide
    cache folder (where ``fastdln/maths/_cache.py`` puts the kernels: one subfolder per source
    folder inside it)."""
    from numba.core import config

    from ._cache import user_wide_folder

    given = getattr(config, "CACHE_DIR", "")  # set from the environment at numba's import
    return given or user_wide_folder()


def machine() -> str:
    """This CPU, as precisely as the system tells it (model, family, stepping, a digest of
    its instruction-set flags), looked up once per process."""
    with _LOCK:
        if "machine" not in _STATE:
            _STATE["machine"] = _cpu_description()
        return _STATE["machine"]


def _cpu_description() -> str:
    fields = {}
    try:
        with open("/proc/cpuinfo", "rb") as info:
            for line in info:  # the first processor's block is enough
                if not line.strip():
                    break
                name, _, value = line.decode(errors="replace").partition(":")
                fields[name.strip()] = value.strip()
    except OSError:
        pass
    if not fields:
        return f"{platform.machine()} {platform.processor()}".strip() or "unknown"
    flags = fields.get("flags", fields.get("Features", ""))
    digest = hashlib.sha256(" ".join(sorted(flags.split())).encode()).hexdigest()[:12]
    names = ("vendor_id", "model name", "cpu family", "model", "stepping", "CPU part")
    return " / ".join(fields[name] for name in names if name in fields) + f" / flags {digest}"


def thread_samples(context: str, dtype: str, size_class: int) -> list[dict[int, float]]:
    """The remembered samples (thread count -> seconds per update) for problems of
    ``dtype`` in ``size_class`` under ``context`` (machine and BLAS library), newest last;
    for a class never measured, the nearest measured class's within 2 (the smaller one on a
    tie), else none."""
    classes = _memory()["threads"].get(context, {}).get(dtype, {})
    if not classes:
        return []
    nearest = min(classes, key=lambda c: (abs(int(c) - size_class), int(c)))
    if abs(int(nearest) - size_class) > 2:
        return []
    return [{int(count): seconds for count, seconds in sample["seconds"].items()}
            for sample in classes[nearest]]


def record_threads(context: str, dtype: str, size_class: int, seconds: dict[int, float],
                   source: str) -> None:
    """Remember one quiet sample (thread count -> seconds per update); written by the next
    :func:`flush`."""
    sample = {"seconds": {str(count): float(value) for count, value in seconds.items()},
              "at": time.time(), "source": source}
    update = {"threads": {context: {dtype: {str(size_class): [sample]}}}, "gemm": {}}
    _remember(update)


def gemm_entries(context: str) -> dict[str, dict]:
    """The GEMM libraries measured against the default under ``context`` (machine and
    default BLAS): path -> ``{"stamp", "ratios": {dtype: time over the default's}, "at"}``."""
    return dict(_memory()["gemm"].get(context, {}))


def record_gemm(context: str, path: str, stamp: str, ratios: dict[str, float]) -> None:
    """Remember one library's measured GEMM time over the default's, per dtype."""
    entry = {"stamp": stamp, "ratios": {k: float(v) for k, v in ratios.items()},
             "at": time.time()}
    _remember({"threads": {}, "gemm": {context: {path: entry}}})


def _remember(update: dict) -> None:
    """Queue ``update`` (constant time: merged when next read or written)."""
    with _LOCK:
        _STATE.setdefault("queue", []).append(update)
        if not _STATE.get("at_exit"):
            atexit.register(flush)
            _STATE["at_exit"] = True


def _fold_queue() -> None:
    """Merge the queued updates into what this process knows and has yet to write."""
    queue = _STATE.pop("queue", [])
    for update in queue:
        _STATE["memory"] = _merge(_STATE["memory"], update)
        _STATE["pending"] = _merge(_STATE.get("pending", _empty()), update)


def flush() -> bool:
    """Write what this process measured since its last flush into the file (merged with
    what other processes wrote meanwhile). True if written or nothing was pending; False
    where it could not be (no writable folder, a newer version's file, a busy lock)."""
    with _LOCK:
        _memory()
        pending = _STATE.get("pending")
        if not pending or pending == _empty():
            return True
        path = wisdom_file()
        if path is None or not _write(path, pending):
            return False
        _STATE["pending"] = _empty()
        return True


def _memory() -> dict:
    """What this process knows: the file as read once, merged with its own measures."""
    with _LOCK:
        if "memory" not in _STATE:
            path = wisdom_file()
            _STATE["memory"] = _read(path)[0] if path else _empty()
        if _STATE.get("queue"):
            _fold_queue()
        return _STATE["memory"]


def _forget() -> None:
    """Drop what this process read and measured (the next use reads the file again)."""
    with _LOCK:
        for name in ("memory", "pending", "queue"):
            _STATE.pop(name, None)


def _empty() -> dict:
    return {"threads": {}, "gemm": {}}


def _read(path: str) -> tuple[dict, bool]:
    """``(content, ours)``: the file's valid entries (empty when it is missing, unreadable,
    not JSON or not a wisdom file), and whether it may be overwritten (not a newer
    version's)."""
    try:
        with open(path, "rb") as file:
            raw = json.loads(file.read().decode())
    except (OSError, ValueError):  # missing, unreadable, not UTF-8, not JSON
        return _empty(), True
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        return _empty(), True
    version = raw.get("version")
    if not isinstance(version, int) or version > VERSION:
        return _empty(), False
    return {"threads": _valid_threads(raw.get("threads")),
            "gemm": _valid_gemm(raw.get("gemm"))}, True


def _positive(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0)


def _valid_sample(sample) -> bool:
    if not isinstance(sample, dict) or not _positive(sample.get("at")):
        return False
    seconds = sample.get("seconds")
    return (isinstance(sample.get("source"), str) and isinstance(seconds, dict)
            and bool(seconds) and all(k.isdigit() and int(k) > 0 and _positive(v)
                                      for k, v in seconds.items()))


def _valid_threads(raw) -> dict:
    found: dict = {}
    for context, dtypes in (raw.items() if isinstance(raw, dict) else ()):
        for dtype, classes in (dtypes.items() if isinstance(dtypes, dict) else ()):
            for size, samples in (classes.items() if isinstance(classes, dict) else ()):
                kept = [s for s in (samples if isinstance(samples, list) else ())
                        if _valid_sample(s)]
                if kept and size.lstrip("-").isdigit():
                    found.setdefault(context, {}).setdefault(dtype, {})[size] = kept
    return found


def _valid_gemm(raw) -> dict:
    found: dict = {}
    for context, entries in (raw.items() if isinstance(raw, dict) else ()):
        for path, entry in (entries.items() if isinstance(entries, dict) else ()):
            ratios = entry.get("ratios") if isinstance(entry, dict) else None
            if (isinstance(ratios, dict) and ratios and isinstance(entry.get("stamp"), str)
                    and _positive(entry.get("at"))
                    and all(_positive(v) for v in ratios.values())):
                found.setdefault(context, {})[path] = entry
    return found


def _merge(base: dict, extra: dict) -> dict:
    """``base`` with ``extra``'s entries added: thread samples joined (the newest
    ``KEPT_SAMPLES`` per class kept, duplicates once), a library's GEMM entry the newer one."""
    merged = json.loads(json.dumps(base))  # a deep copy of plain JSON data
    for context, dtypes in extra["threads"].items():
        for dtype, classes in dtypes.items():
            for size, samples in classes.items():
                place = merged["threads"].setdefault(context, {}).setdefault(dtype, {})
                joined = {json.dumps(s, sort_keys=True): s for s in place.get(size, []) + samples}
                place[size] = sorted(joined.values(), key=lambda s: s["at"])[-KEPT_SAMPLES:]
    for context, entries in extra["gemm"].items():
        place = merged["gemm"].setdefault(context, {})
        for path, entry in entries.items():
            if path not in place or place[path]["at"] <= entry["at"]:
                place[path] = entry
    return merged


def _write(path: str, pending: dict) -> bool:
    """Merge ``pending`` into the file under the writers' lock, written whole or not at all
    (:func:`fastdln.maths._files.atomic_write`); False (never an error) where that cannot be
    done."""
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
        with _writers_lock(path + ".lock"):
            current, ours = _read(path)
            if not ours:
                return False
            content = _merge(current, pending)
            atomic_write(path, json.dumps({"format": FORMAT, "version": VERSION, **content},
                                          indent=1, sort_keys=True).encode())
    except (OSError, TimeoutError):
        return False
    return True


@contextlib.contextmanager
def _writers_lock(lock_path: str):
    """An exclusive lock between writing processes (``flock``; none where it does not
    exist), given up after ``LOCK_SECONDS`` (TimeoutError)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: the rename alone keeps the file whole
        yield
        return
    with open(lock_path, "a") as lock:
        deadline = time.monotonic() + LOCK_SECONDS
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(lock_path) from None
                time.sleep(0.01)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)

