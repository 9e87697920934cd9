"""Where numba caches fastdln's compiled kernels: never inside the installed package.

numba's default writes its cache next to the source, into ``fastdln/__pycache__``. pip does
not know those files: uninstalling (for example when ``pip install -e .`` replaces a regular
install) leaves the folder behind, and ``import fastdln`` from elsewhere then finds it as an
empty namespace package. So the kernels cache where numba caches when the source folder is
not writable: ``NUMBA_CACHE_DIR`` when it is set, else numba's user-wide cache folder
(``~/.cache/numba`` on Linux, one subfolder per source folder), else, if neither is
writable, next to the source as before. If no location is writable the kernels are compiled
in memory in each process (never an error). ``NUMBA_CACHE_LOCATOR_CLASSES`` still overrides
all of this, as numba documents.
"""

from __future__ import annotations

from numba.core import caching

__all__ = ["cache_outside_package", "cache_folder"]


def _locator(name):
    """numba >= 0.61 names its locators without the leading underscore."""
    return getattr(caching, name, None) or getattr(caching, "_" + name)


class _KernelCacheImpl(caching.CompileResultCacheImpl):
    _locator_classes = [_locator("UserProvidedCacheLocator"),
                        _locator("UserWideCacheLocator"),
                        _locator("InTreeCacheLocator")]


class _KernelCache(caching.FunctionCache):
    _impl_class = _KernelCacheImpl


def cache_outside_package(namespace):
    """Point the cache of every cached numba dispatcher in ``namespace`` (a module's
    ``globals()``) outside the package (see the module docstring)."""
    for dispatcher in list(namespace.values()):
        if not isinstance(getattr(dispatcher, "_cache", None), caching.FunctionCache):
            continue
        try:
            dispatcher._cache = _KernelCache(dispatcher.py_func)
        except RuntimeError:  # no writable location: compile in memory only
            dispatcher._cache = caching.NullCache()


def cache_folder(dispatcher):
    """The folder a dispatcher's compiled code is cached in, or None if it is not cached."""
    impl = getattr(getattr(dispatcher, "_cache", None), "_impl", None)
    return None if impl is None else impl.locator.get_cache_path()
