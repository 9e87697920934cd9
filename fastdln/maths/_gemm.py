"""The BLAS gemm the kernels call, behind two symbols of this process (maths layer).

The kernels call ``fastdln_dgemm`` and ``fastdln_sgemm`` (the Fortran BLAS interface: every
argument by pointer) by name, so numba's cached code names the symbols, not an address, and
loads in any process once :func:`install` has registered them with LLVM. They point to
scipy's BLAS (``scipy.linalg.cython_blas``, the library numba's own linear algebra uses),
unless this machine measured another library's gemm faster for that dtype: MKL's
``mkl_rt`` from the ``mkl`` package (``pip install fastdln[mkl]``). The measure
(``fastdln/maths/_fastest_gemm.py``, run by ``fastdln warmup``) keeps its verdict in the
wisdom file (``fastdln/maths/_wisdom.py``), keyed by the CPU and scipy's BLAS; :func:`install`
reads it without loading any library, so import loads MKL only where it was measured
faster. :func:`providers` names the library behind each symbol for the thread control of
:mod:`fastdln.core.threads`.

Two more symbols, ``fastdln_blas_get_threads`` and ``fastdln_blas_set_threads``, are the
thread-count functions of scipy's BLAS (OpenBLAS's, found through the same linkage), so that
a kernel can switch the count for its call and set it back for a fraction of what a call
from Python costs (:func:`kernel_thread_control` says whether they were found and serve: not
when another library took a symbol over; when not, they point to stand-ins that are never
called).

A library taken over is set up for the kernels before its first call: the LP64 interface
(32-bit integers, as the kernels pass), conditional numerical reproducibility
(``MKL_CBWR=AUTO``: the same bits run after run on a fixed thread count, whatever the arrays'
alignment) unless ``MKL_CBWR`` is set, its OpenMP threading unless ``MKL_THREADING_LAYER``
is set, and no dynamic thread count (the count fastdln sets is the count used).
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys

from . import _wisdom

__all__ = ["CHOOSE_BELOW", "DOUBLE_SYMBOL", "GET_THREADS_SYMBOL", "SET_THREADS_SYMBOL",
           "SINGLE_SYMBOL", "candidates", "capsule_address", "chosen_libraries",
           "gemm_context", "install", "kernel_thread_control", "library_stamp",
           "open_library", "providers", "scipy_addresses"]

DOUBLE_SYMBOL = "fastdln_dgemm"
SINGLE_SYMBOL = "fastdln_sgemm"
SYMBOLS = {"float64": DOUBLE_SYMBOL, "float32": SINGLE_SYMBOL}
GET_THREADS_SYMBOL = "fastdln_blas_get_threads"
SET_THREADS_SYMBOL = "fastdln_blas_set_threads"
# Another library serves a dtype when its time is below this fraction of scipy's.
CHOOSE_BELOW = 0.95
_INSTALLED: dict = {}
_OPENED: dict = {}  # path -> {dtype name: address}, or None where it cannot serve
_GET_THREADS = ctypes.CFUNCTYPE(ctypes.c_int)
_SET_THREADS = ctypes.CFUNCTYPE(None, ctypes.c_int)

_MKL_LP64 = 0  # MKL_INTERFACE_LP64
_MKL_CBWR_AUTO = 2
_MKL_THREADING_INTEL = 0


def capsule_address(capsule) -> int:
    """The address a Cython ``__pyx_capi__`` capsule holds."""
    name_of = ctypes.pythonapi.PyCapsule_GetName
    name_of.restype, name_of.argtypes = ctypes.c_char_p, [ctypes.py_object]
    pointer_of = ctypes.pythonapi.PyCapsule_GetPointer
    pointer_of.restype = ctypes.c_void_p
    pointer_of.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return pointer_of(capsule, name_of(capsule))


def scipy_addresses() -> dict[str, int]:
    """dtype name -> address of scipy's gemm of that dtype."""
    from scipy.linalg import cython_blas

    return {dtype: capsule_address(cython_blas.__pyx_capi__[routine])
            for dtype, routine in (("float64", "dgemm"), ("float32", "sgemm"))}


def install() -> None:
    """Register the symbols (once per process; before any kernel is compiled or loaded from
    the cache): each gemm symbol to the library measured fastest for its dtype, else
    scipy's."""
    if _INSTALLED:
        return
    import llvmlite.binding as llvm
    from scipy.linalg import cython_blas

    addresses = scipy_addresses()
    chosen = dict.fromkeys(addresses, "scipy")
    for dtype, path in chosen_libraries().items():
        opened = open_library(path)
        if opened is not None:
            addresses[dtype], chosen[dtype] = opened[dtype], path
    for dtype, symbol in SYMBOLS.items():
        llvm.add_symbol(symbol, addresses[dtype])
    _INSTALLED["providers"] = chosen
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
    both GEMM symbols is scipy's, OpenBLAS on its pthreads layer)."""
    install()
    return _INSTALLED["thread_control"] and set(_INSTALLED["providers"].values()) == {"scipy"}


def providers() -> dict[str, str]:
    """dtype name -> the library behind its gemm symbol: ``"scipy"`` (scipy's BLAS) or the
    path of the library that took it over."""
    install()
    return dict(_INSTALLED["providers"])


def candidates() -> list[str]:
    """Paths of the other GEMM libraries installed in this environment (a file-name search in
    ``sys.prefix``: nothing is loaded): MKL's single dynamic library, newest first."""
    patterns = {"win32": ["Library/bin/mkl_rt*.dll"],
                "darwin": ["lib/libmkl_rt*.dylib"]}.get(sys.platform, ["lib/libmkl_rt.so*"])
    found = {os.path.realpath(path) for pattern in patterns
             for path in glob.glob(os.path.join(sys.prefix, pattern))}
    return sorted(found, reverse=True)


def library_stamp(path: str) -> str:
    """The file's size and modification time: another build of a library is measured anew."""
    status = os.stat(path)
    return f"{status.st_size}-{status.st_mtime_ns}"


def gemm_context() -> str:
    """What a verdict depends on besides the library: the CPU and scipy's BLAS (scipy's
    version and where its ``cython_blas`` lives)."""
    import scipy
    from scipy.linalg import cython_blas

    return f"{_wisdom.machine()} | scipy {scipy.__version__} {cython_blas.__file__}"


def chosen_libraries() -> dict[str, str]:
    """dtype name -> path of the library whose gemm this machine measured faster than
    scipy's (below ``CHOOSE_BELOW`` of its time), for the dtypes where one was; nothing is
    loaded. A library that changed since (another size or time) is not trusted."""
    chosen: dict[str, tuple[str, float]] = {}
    for path, entry in _wisdom.gemm_entries(gemm_context()).items():
        try:
            if library_stamp(path) != entry["stamp"]:
                continue
        except OSError:  # uninstalled since
            continue
        for dtype, ratio in entry["ratios"].items():
            best = chosen.get(dtype)
            if dtype in SYMBOLS and ratio < CHOOSE_BELOW and (best is None or ratio < best[1]):
                chosen[dtype] = (path, ratio)
    return {dtype: path for dtype, (path, _) in chosen.items()}


def open_library(path: str) -> dict[str, int] | None:
    """Load ``path`` (once per process), set it up for the kernels (see the module
    docstring) and return the addresses of its Fortran ``dgemm`` and ``sgemm`` per dtype
    name; None where it cannot serve (not loadable, not MKL, or set to 64-bit integers by
    someone else in this process)."""
    if path not in _OPENED:
        _OPENED[path] = _open(path)
    return _OPENED[path]


def _open(path: str) -> dict[str, int] | None:
    try:
        library = ctypes.CDLL(path, mode=getattr(os, "RTLD_GLOBAL", 0))
        set_interface = library.MKL_Set_Interface_Layer
        routines = {"float64": library.dgemm, "float32": library.sgemm}
    except (OSError, AttributeError):
        return None
    set_interface.restype, set_interface.argtypes = ctypes.c_int, [ctypes.c_int]
    if set_interface(_MKL_LP64) != _MKL_LP64:
        return None
    if not os.environ.get("MKL_CBWR"):
        library.MKL_CBWR_Set.argtypes = [ctypes.c_int]
        library.MKL_CBWR_Set(_MKL_CBWR_AUTO)  # refused (harmless) if MKL already ran
    if not os.environ.get("MKL_THREADING_LAYER"):
        library.MKL_Set_Threading_Layer.argtypes = [ctypes.c_int]
        library.MKL_Set_Threading_Layer(_MKL_THREADING_INTEL)
    library.MKL_Set_Dynamic.argtypes = [ctypes.c_int]
    library.MKL_Set_Dynamic(0)
    return {dtype: int(ctypes.cast(routine, ctypes.c_void_p).value or 0)
            for dtype, routine in routines.items()}
