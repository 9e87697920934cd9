"""numba's on-disk cache of fastdln's kernels: where it lives, and that it never fails a run.

Where: never inside the installed package. numba's default writes its cache next to the
source, into ``fastdln/__pycache__``. pip does not know those files: uninstalling (for
example when ``pip install -e .`` replaces a regular install) leaves the folder behind, and
``import fastdln`` from elsewhere then finds it as an empty namespace package. So the kernels
cache where numba caches when the source folder is not writable: ``NUMBA_CACHE_DIR`` when it
is set, else numba's user-wide cache folder (``~/.cache/numba`` on Linux, one subfolder per
source folder), else, if neither is writable, next to the source as before.
``NUMBA_CACHE_LOCATOR_CLASSES`` still overrides all of this, as numba documents.

Never failing: every cached function of the package is made by :func:`njit` here, which
gives it a cache that turns each fault of the cache into a compilation in memory and at most
one :class:`KernelCacheWarning` per folder and kind of fault (naming the folder and how to
clear it):

- no writable location at all: compiled in memory in each process (import never fails);
- a damaged file (overwritten, truncated, bit-flipped, unreadable, from an interrupted or a
  concurrent writer): numba's own files carry no checksum, and a flipped bit in cached machine
  code runs as wrong code or crashes. Here every index and data file carries a SHA-256 of its
  content and every data file the key it was saved for; a file that fails either check (or
  fails to unpickle or to rebuild) is removed and the kernel compiled anew (and saved again);
- a failed save (disk full, read-only or vanished folder): the compiled kernel is used from
  memory, nothing half-written is left behind (numba writes a temporary file and renames it;
  data files are written before the index that names them).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import warnings

import numba
from numba.core import caching, config
from numba.core.serialize import dumps

__all__ = ["KernelCacheWarning", "cache_folder", "njit", "unusable_cache_dir",
           "user_wide_folder"]

# Part of every index file's version: files of numba's own format (no checksums) or of
# another numba version are stale, not damaged (compiled anew and overwritten, no warning).
_FORMAT = "fastdln-checked-1"
_DIGEST_SIZE = hashlib.sha256().digest_size


class KernelCacheWarning(RuntimeWarning):
    """The kernel cache could not be used; the kernels run compiled in memory instead."""


class _DamagedFile(Exception):
    """A cache file whose content fails its checksum or its key."""


def _locator(name):
    """numba >= 0.61 names its locators without the leading underscore."""
    return getattr(caching, name, None) or getattr(caching, "_" + name)


class _KernelCacheImpl(caching.CompileResultCacheImpl):
    _locator_classes = [_locator("UserProvidedCacheLocator"),
                        _locator("UserWideCacheLocator"),
                        _locator("InTreeCacheLocator")]


class _CheckedCacheFile(caching.IndexDataCacheFile):
    """numba's index and data files, each with a SHA-256 of its content; a data file also
    holds the key it was saved for (so an index and a data file of two concurrent writers
    never pair up into the wrong code)."""

    def __init__(self, cache_path, filename_base, source_stamp):
        super().__init__(cache_path, filename_base, source_stamp)
        self._version = (numba.__version__, _FORMAT)
        self.last_read = None  # the file a failed load was reading

    def load(self, key):
        name = self._load_index().get(key)
        if name is None:
            return None
        try:
            saved_key, data = self._load_data(name)
        except FileNotFoundError:  # removed since the index named it
            return None
        return data if saved_key == key else None  # a concurrent writer's file: a miss

    def save(self, key, data):
        try:
            overloads = self._load_index()
        except Exception:  # a damaged index: rewritten below
            overloads = {}
        name = overloads.get(key)
        if name is None:
            used = set(overloads.values())
            name = next(self._data_name(i) for i in range(1, len(used) + 2)
                        if self._data_name(i) not in used)
        self._save_data(name, (key, data))  # before the index that names it
        if overloads.get(key) != name:
            overloads[key] = name
            self._save_index(overloads)

    def _load_index(self):
        self.last_read = self._index_path
        try:
            with open(self._index_path, "rb") as f:
                version = pickle.load(f)
                blob = f.read()
        except FileNotFoundError:
            return {}
        if version != self._version:  # another numba, or numba's own unchecked format
            return {}
        stamp, overloads = _checked_loads(blob)
        return overloads if stamp == self._source_stamp else {}

    def _save_index(self, overloads):
        with self._open_for_write(self._index_path) as f:
            pickle.dump(self._version, f, protocol=-1)
            f.write(_checked_dumps((self._source_stamp, overloads)))

    def _load_data(self, name):
        self.last_read = self._data_path(name)
        with open(self.last_read, "rb") as f:
            return _checked_loads(f.read())

    def _save_data(self, name, data):
        with self._open_for_write(self._data_path(name)) as f:
            f.write(_checked_dumps(data))


def _checked_dumps(value):
    payload = dumps(value)
    return hashlib.sha256(payload).digest() + payload


def _checked_loads(blob):
    digest, payload = blob[:_DIGEST_SIZE], blob[_DIGEST_SIZE:]
    if hashlib.sha256(payload).digest() != digest:
        raise _DamagedFile("checksum mismatch: truncated or overwritten")
    return pickle.loads(payload)


class _KernelCache(caching.FunctionCache):
    """numba's per-function cache with checked files, where no fault leaves this object."""

    _impl_class = _KernelCacheImpl

    def __init__(self, py_func):
        super().__init__(py_func)
        self._cache_file = _CheckedCacheFile(self._cache_path, self._impl.filename_base,
                                             self._impl.locator.get_source_stamp())

    def load_overload(self, sig, target_context):
        try:
            return super().load_overload(sig, target_context)
        except Exception as error:  # whatever a damaged file raises: compile anew
            path = self._cache_file.last_read
            removed = _remove(path)
            _warn_once(self.cache_path, "damaged",
                       f"fastdln's kernel cache in {self.cache_path} has a damaged file "
                       f"({os.path.basename(path or '?')}: {_reason(error)}); "
                       + ("it was removed and the kernel compiled anew" if removed else
                          "the kernel is compiled in memory until the file is removed")
                       + f" (`fastdln warmup` rebuilds the cache; deleting {self.cache_path} "
                       "clears it)")
            return None

    def save_overload(self, sig, data):
        try:
            super().save_overload(sig, data)
        except Exception as error:  # disk full, read-only, vanished: keep it in memory
            _warn_once(self.cache_path, "unwritable",
                       f"could not save a compiled kernel in {self.cache_path} "
                       f"({_reason(error)}); kernels missing from the cache are compiled in "
                       "memory in each process: free space there or set NUMBA_CACHE_DIR to a "
                       f"writable folder (deleting {self.cache_path} clears the cache)")


class _MemoryOnlyCache(caching.NullCache):
    """No writable cache location: compile in memory, and say so once, at the first compile."""

    def save_overload(self, sig, data):
        _warn_once(None, "nowhere",
                   "no writable folder for fastdln's kernel cache (tried NUMBA_CACHE_DIR="
                   f"{config.CACHE_DIR or '(unset)'}, {user_wide_folder()} and the package "
                   "folder); the kernels are compiled in memory in each process (seconds at "
                   "each start): set NUMBA_CACHE_DIR to a writable folder")


_warned: set = set()


def _warn_once(folder, kind, message):
    if (folder, kind) not in _warned:
        _warned.add((folder, kind))
        warnings.warn(message, KernelCacheWarning, stacklevel=2)


def _reason(error):
    text = " ".join(str(error).split())
    text = text if len(text) <= 160 else text[:157] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _remove(path):
    """Remove a damaged cache file; whether it is gone."""
    if path is None:
        return False
    try:
        os.remove(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def user_wide_folder():
    """numba's user-wide cache folder (where the kernels go without ``NUMBA_CACHE_DIR``)."""
    from numba.misc.appdirs import AppDirs

    return AppDirs(appname="numba", appauthor=False).user_cache_dir


def njit(function=None, *, cache=False, **options):
    """``numba.njit``; with ``cache=True`` the function caches as this module says (in a
    folder outside the package, and never failing a run or an import)."""
    if function is None:
        return lambda f: njit(f, cache=cache, **options)
    dispatcher = numba.njit(function, cache=False, **options)
    if cache:
        try:
            dispatcher._cache = _KernelCache(dispatcher.py_func)
        except (RuntimeError, OSError):  # no writable location (or an unreadable source)
            dispatcher._cache = _MemoryOnlyCache()
    return dispatcher


def cache_folder(dispatcher):
    """The folder a dispatcher's compiled code is cached in, or None if it is not cached (no
    writable location, or saving failed in this process)."""
    cache = getattr(dispatcher, "_cache", None)
    if not isinstance(cache, _KernelCache) or (cache.cache_path, "unwritable") in _warned:
        return None
    return cache.cache_path


def unusable_cache_dir():
    """Why ``NUMBA_CACHE_DIR`` cannot hold the cache (one line), or None if it is unset or
    usable."""
    if not config.CACHE_DIR:
        return None
    try:
        os.makedirs(config.CACHE_DIR, exist_ok=True)
        probe = os.path.join(config.CACHE_DIR, f".fastdln-probe-{os.getpid()}")
        with open(probe, "wb") as f:
            f.write(b"x")
        os.remove(probe)
    except OSError as error:
        return f"NUMBA_CACHE_DIR={config.CACHE_DIR} is unusable ({_reason(error)})"
    return None
