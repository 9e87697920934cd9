"""The BLAS gemm the kernels call, behind two symbols of this process (maths layer).

The kernels call ``fastdln_dgemm`` and ``fastdln_sgemm`` (the Fortran BLAS interface: every
argument by pointer) by name, so numba's cached code names the symbols, not an address, and
loads in any process once :func:`install` has registered them with LLVM. They point to
scipy's BLAS (``scipy.linalg.cython_blas``, the library numba's own linear algebra uses),
the library :func:`provider` names for the thread control of :mod:`fastdln.core.threads`.

Two more symbols, ``fastdln_blas_get_threads`` and ``fastdln_blas_set_threads``, are that
library's own thread-count functions (OpenBLAS's, found through the same linkage), so that
a kernel can switch the count for its call and set it back for a fraction of what a call
from Python costs (:func:`kernel_thread_control` says whether they were found; when not,
they point to stand-ins that are never called).
"""

from __future__ import annotations

import ctypes
import os

__all__ = ["DOUBLE_SYMBOL", "GET_THREADS_SYMBOL", "SET_THREADS_SYMBOL", "SINGLE_SYMBOL", "install",
           "kernel_thread_control", "provider"]

DOUBLE_SYMBOL = "fastdln_dgemm"
SINGLE_SYMBOL = "fastdln_sgemm"
GET_THREADS_SYMBOL = "fastdln_blas_get_threads"
SET_THREADS_SYMBOL = "fastdln_blas_set_threads"
_INSTALLED: dict = {}
_GET_THREADS = ctypes.CFUNCTYPE(ctypes.c_int)
_SET_THREADS = ctypes.CFUNCTYPE(None, ctypes.c_int)


def capsule_address(capsule) -> int:
    """The address a Cython ``__pyx_capi__`` capsule holds."""
    name_of = ctypes.pythonapi.PyCapsule_GetName
    name_of.restype, name_of.argtypes = ctypes.c_char_p, [ctypes.py_object]
    pointer_of = ctypes.pythonapi.PyCapsule_GetPointer
    pointer_of.restype = ctypes.c_void_p
    pointer_of.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return pointer_of(capsule, name_of(capsule))


def install() -> None:
    """Register the two symbols (once per process; before any kernel is compiled or loaded
    from the cache)."""
    if _INSTALLED:
        return
    import llvmlite.binding as llvm
    from scipy.linalg import cython_blas

    for symbol, routine in ((DOUBLE_SYMBOL, "dgemm"), (SINGLE_SYMBOL, "sgemm")):
        llvm.add_symbol(symbol, capsule_address(cython_blas.__pyx_capi__[routine]))
    _INSTALLED["provider"] = "scipy"
    found = _thread_functions(cython_blas.__file__)
    _INSTALLED["thread_control"] = found is not None
    if found is None:  # stand-ins, so that cached code resolves; the kernels never call them
        found = _INSTALLED["stand_ins"] = (_GET_THREADS(lambda: 1), _SET_THREADS(lambda n: None))
    for symbol, function in zip((GET_THREADS_SYMBOL, SET_THREADS_SYMBOL), found):
        llvm.add_symbol(symbol, ctypes.cast(function, ctypes.c_void_p).value)


def _thread_functions(linked_to):
    """OpenBLAS's ``openblas_{get,set}_num_threads`` (with the affixes of scipy's and numpy's
    builds) as the library ``linked_to`` resolves them, or None (another BLAS, or an OpenMP
    build whose count is per thread)."""
    try:
        library = ctypes.CDLL(linked_to, mode=getattr(os, "RTLD_NOLOAD", 0))
    except OSError:
        return None
    for prefix in ("scipy_", ""):
        for suffix in ("", "64_", "_64"):
            names = (f"{prefix}openblas_get_num_threads{suffix}",
                     f"{prefix}openblas_set_num_threads{suffix}")
            layer = f"{prefix}openblas_get_parallel{suffix}"
            if all(hasattr(library, name) for name in names):
                if hasattr(library, layer) and getattr(library, layer)() != 1:
                    return None  # 1: pthreads; 2: OpenMP (per-thread counts); 0: serial
                return tuple(getattr(library, name) for name in names)
    return None


def kernel_thread_control() -> bool:
    """Whether the kernels can switch the BLAS thread count themselves (the library behind
    the GEMM symbols is OpenBLAS on its pthreads layer)."""
    install()
    return _INSTALLED["thread_control"] and _INSTALLED["provider"] == "scipy"


def provider() -> str:
    """Which library the symbols point to: ``"scipy"`` (scipy's BLAS)."""
    install()
    return _INSTALLED["provider"]
