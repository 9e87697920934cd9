"""The BLAS gemm the kernels call, behind two symbols of this process (maths layer).

The kernels call ``fastdln_dgemm`` and ``fastdln_sgemm`` (the Fortran BLAS interface: every
argument by pointer) by name, so numba's cached code names the symbols, not an address, and
loads in any process once :func:`install` has registered them with LLVM. They point to
scipy's BLAS (``scipy.linalg.cython_blas``, the library numba's own linear algebra uses),
the library :func:`provider` names for the thread control of :mod:`fastdln.threads`.
"""

from __future__ import annotations

import ctypes

__all__ = ["DOUBLE_SYMBOL", "SINGLE_SYMBOL", "install", "provider"]

DOUBLE_SYMBOL = "fastdln_dgemm"
SINGLE_SYMBOL = "fastdln_sgemm"
_INSTALLED: dict = {}


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


def provider() -> str:
    """Which library the symbols point to: ``"scipy"`` (scipy's BLAS)."""
    install()
    return _INSTALLED["provider"]
