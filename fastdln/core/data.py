"""Training data of any size: arrays, memory maps (``.npy`` files) and dask arrays (core).

:class:`Data` checks shapes and dtypes without copying anything, then reads the data in
blocks of rows: for the factor of ``[X Y]`` that L2 training needs (one pass, one block in
memory, or on the dask workers with only the small factors coming back), or to build the
dense working copy that the other losses and methods need (the one copy they make).

Memory maps with a file behind them are read with ``os.pread`` rather than through the
mapping, so that the pages read do not stay in the process's resident memory.
"""

from __future__ import annotations

import hashlib
import math
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from ..maths.factor import BlockQR
from .threads import blas_threads

__all__ = ["BLOCK_ROWS", "Data", "Factor", "is_dask"]

# Rows per block: a few MB of float64 per block, large enough for BLAS-3 speed.
BLOCK_ROWS = 16384
# Rows per digest of the fingerprint: chunks from row 0, so that the fingerprint does not
# depend on how the data are read (blocks, threads, dask chunks).
FINGERPRINT_ROWS = 8192
# Rows per dtpqrt call (smaller blocks stay in cache: benchmarks/tune_block_qr.py).
FOLD_ROWS = 8192


def is_dask(array: Any) -> bool:
    """Whether ``array`` is a dask array (without importing dask)."""
    return type(array).__module__.split(".")[0] == "dask" and hasattr(array, "chunks")


def _check_kind(array, name, ndim):
    """Shape and dtype of an array-like, checked without reading its values."""
    if not (isinstance(array, np.ndarray) or is_dask(array)):
        array = np.asarray(array)
    dtype = np.dtype(array.dtype)
    if dtype.kind not in "iuf" or dtype == np.float16:
        raise TypeError(f"{name} must be a real array of integers or float32/float64, got "
                        f"dtype {dtype}")
    if array.ndim not in ndim:
        shapes = " or ".join(f"{d}-D" for d in ndim)
        raise ValueError(f"{name} must be {shapes}, got an array of shape {array.shape}")
    if any(np.isnan(size) for size in array.shape):
        raise ValueError(f"{name} has unknown chunk sizes; call {name}.compute_chunk_sizes()")
    if array.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {array.shape}")
    return array


@dataclass(frozen=True)
class Factor:
    """One pass over the data: the R factor of ``[w^(1/2) X, w^(1/2) Y]`` (centered by the
    weighted means when asked) and the largest absolute entries."""

    R: np.ndarray  # (n0 + nL, n0 + nL), upper triangular
    x_mean: np.ndarray | None
    y_mean: np.ndarray | None
    x_max: float
    y_max: float
    fingerprint: str | None = None  # Data.fingerprint(), when asked for in the same pass


class Data:
    """Validated training data, read by blocks of rows.

    Parameters
    ----------
    X : array_like or dask array, shape (m, n0)
    Y : array_like or dask array, shape (m, nL) or (m,)
    sample_weight : array_like, shape (m,), optional
        Non-negative, not all zero (checked here; values of ``X``, ``Y`` are checked for
        finiteness while they are read).
    """

    def __init__(self, X: Any, Y: Any, sample_weight: Any = None) -> None:
        self.X = _check_kind(X, "X", (2,))
        Y = _check_kind(Y, "Y", (1, 2))
        self.Y = Y.reshape(Y.shape[0], 1) if Y.ndim == 1 else Y
        if self.X.shape[0] != self.Y.shape[0]:
            raise ValueError(
                f"X and Y must have the same number of samples (rows): X has "
                f"{self.X.shape[0]}, Y has {self.Y.shape[0]}")
        self.m, self.n0 = (int(n) for n in self.X.shape)
        self.nL = int(self.Y.shape[1])
        self.weight = None if sample_weight is None else _check_weight(sample_weight, self.m)
        self.dask = is_dask(self.X) or is_dask(self.Y)

    @property
    def nbytes(self) -> int:
        return (self.n0 + self.nL) * self.m * 8

    # -- reading ---------------------------------------------------------------------------
    def blocks(self, rows: int | None = None, start: int = 0, stop: int | None = None):
        """``(start, X block, Y block)`` as float64 arrays, one block of rows at a time from
        rows ``start:stop`` (checked for finiteness as they are read)."""
        if self.dask:
            raise TypeError("a dask array is read on its workers (Data.factor)")
        rows = rows or BLOCK_ROWS
        stop = self.m if stop is None else stop
        readers = [_reader(self.X), _reader(self.Y)]
        for begin in range(start, stop, rows):
            end = min(begin + rows, stop)
            Xb, Yb = (read(begin, end) for read in readers)
            yield begin, Xb, Yb

    def factor(self, center: bool, rows: int | None = None, workers: int = 1,
               fingerprint: bool = False) -> Factor:
        """The factor of the (weighted, centered) data in one pass (docs/math.md sections 4
        and 11); ``workers`` threads fold disjoint row ranges side by side (each on one BLAS
        thread) and their factors are combined. ``fingerprint``: also the data's
        :meth:`fingerprint`, from the same reads."""
        rows = rows or BLOCK_ROWS
        if self.dask:
            parts = _dask_parts(self, partial(_chunk_factor, center=center, rows=rows,
                                              fingerprint=fingerprint))
        else:
            ranges = _row_ranges(self.m, rows, workers)
            fold = partial(self._fold, center, rows, fingerprint=fingerprint)
            if len(ranges) == 1:
                parts = [fold(ranges[0])]
            else:
                with blas_threads(1), ThreadPoolExecutor(len(ranges)) as pool:
                    parts = list(pool.map(fold, ranges))
        digests = [d for part in parts for d in part[3]] if fingerprint else None
        return _combine(parts, self.n0, center, self._fingerprint_of(digests))

    def fingerprint(self) -> str:
        """SHA-256 of the data as float64 (what a resumed run must see again), read by
        blocks (on the workers for dask arrays): the digests of chunks of
        ``FINGERPRINT_ROWS`` rows of ``X``, ``Y`` and the sample weights, hashed in order
        with the shapes. It depends on the values only, not on the memory layout, the
        dtype's width or the dask chunks."""
        if self.dask:
            parts = _dask_parts(self, _chunk_digests)
            return self._fingerprint_of([d for part in parts for d in part])
        digests = _Digests(0)
        for begin, Xb, Yb in self.blocks():
            digests.add(Xb, Yb, _rows(self.weight, begin, len(Xb)))
        return self._fingerprint_of(digests.result())

    def _fingerprint_of(self, digests):
        if digests is None:
            return None
        total = hashlib.sha256(f"{self.m},{self.n0},{self.nL},{self.weight is not None};"
                               .encode())
        for digest in digests:
            total.update(digest)
        return total.hexdigest()

    def _fold(self, center, rows, span, fingerprint=False):
        """The factor, largest entries and (with ``fingerprint``) digests of the rows
        ``span = (start, stop)``."""
        start, stop = span
        fold = _Fold(self.n0 + self.nL + int(center), center)
        digests = _Digests(start) if fingerprint else None
        for begin, Xb, Yb in self.blocks(rows, start, stop):
            weight = _rows(self.weight, begin, len(Xb))
            fold.add(Xb, Yb, weight, begin)
            if digests is not None:
                digests.add(Xb, Yb, weight)
        return (*fold.result(), digests.result() if digests is not None else [])

    def dense(self, x_shift=None, y_shift=None, root_weight=None, fingerprint=False):
        """``(X, Y, fingerprint)``: ``X`` and ``Y`` in memory as float64, minus the shifts and
        times ``root_weight`` per row: the one copy the full-data methods make. ``X`` is in
        Fortran order, so that ``X.T`` is the engine's C-contiguous ``(n0, m)``; ``Y`` in C
        order, the engine's residual layout. ``fingerprint``: also the data's
        :meth:`fingerprint` from the same reads (else None)."""
        if self.dask:
            warnings.warn(f"this run needs the whole data in memory: the dask arrays "
                          f"({self.nbytes / 2**30:.2f} GiB) are computed on the client",
                          UserWarning, stacklevel=4)
            X, Y = (np.asarray(A.compute()) if is_dask(A) else A for A in (self.X, self.Y))
            return Data(X, Y, self.weight).dense(x_shift, y_shift, root_weight, fingerprint)
        X = np.empty((self.m, self.n0), order="F")
        Y = np.empty((self.m, self.nL))
        digests = _Digests(0) if fingerprint else None
        for start, Xb, Yb in self.blocks():
            _largest(Xb, "X", start)
            _largest(Yb, "Y", start)
            if digests is not None:
                digests.add(Xb, Yb, _rows(self.weight, start, len(Xb)))
            stop = start + len(Xb)
            for target, block, shift in ((X, Xb, x_shift), (Y, Yb, y_shift)):
                if shift is not None:
                    block = block - shift
                if root_weight is not None:
                    block = block * root_weight[start:stop, None]
                target[start:stop] = block
        return X, Y, self._fingerprint_of(None if digests is None else digests.result())


class _Fold:
    """The factor of blocks of rows folded in one after another, and the largest entries."""

    def __init__(self, columns, center):
        self.qr = BlockQR(columns)
        self.center = center
        self.x_max = self.y_max = 0.0

    def add(self, Xb, Yb, weight, begin=None):
        """Fold in a block of rows (``begin``: its first row's index in the data, if known)."""
        self.x_max = max(self.x_max, _largest(Xb, "X", begin))
        self.y_max = max(self.y_max, _largest(Yb, "Y", begin))
        c, n0 = int(self.center), Xb.shape[1]
        root_weight = None if weight is None else np.sqrt(weight)[:, None]
        for start in range(0, len(Xb), FOLD_ROWS):
            rows = slice(start, start + FOLD_ROWS)
            block = np.empty((len(Xb[rows]), self.qr.R.shape[0]), order="F")
            if self.center:
                block[:, 0] = 1.0
            block[:, c : c + n0] = Xb[rows]
            block[:, c + n0 :] = Yb[rows]
            if root_weight is not None:
                block *= root_weight[rows]
            self.qr.add_rows(block)

    def result(self):
        return self.qr.R, self.x_max, self.y_max


class _Digests:
    """SHA-256 digests of the chunks of ``FINGERPRINT_ROWS`` rows (counted from row 0) of
    blocks of rows given in order from row ``start``, a chunk boundary. A chunk's digest
    hashes the digests of its ``X``, ``Y`` and weight rows, so that it does not depend on
    how the chunk was split into blocks."""

    def __init__(self, start):
        self.row = start
        self.open = None
        self.digests = []

    def add(self, Xb, Yb, weight=None):
        parts = [Xb, Yb] if weight is None else [Xb, Yb, weight]
        done = 0
        while done < len(Xb):
            if self.open is None:
                self.open = [hashlib.sha256() for _ in parts]
            take = min(len(Xb) - done, FINGERPRINT_ROWS - self.row % FINGERPRINT_ROWS)
            for hasher, part in zip(self.open, parts):
                hasher.update(np.ascontiguousarray(part[done:done + take], np.float64))
            done += take
            self.row += take
            if self.row % FINGERPRINT_ROWS == 0:
                self._close()

    def _close(self):
        self.digests.append(hashlib.sha256(b"".join(h.digest() for h in self.open)).digest())
        self.open = None

    def result(self):
        """The digests of the chunks, the last one closed even if it is short."""
        if self.open is not None:
            self._close()
        return self.digests


def _row_ranges(m, rows, workers):
    """At most ``workers`` consecutive row ranges of whole blocks (at least one range), each
    starting at a chunk of the fingerprint."""
    unit = math.lcm(rows, FINGERPRINT_ROWS)
    units = -(-m // unit)
    parts = max(1, min(workers, units))
    edges = [min(m, unit * (units * part // parts)) for part in range(parts + 1)]
    return list(zip(edges[:-1], edges[1:]))


def _largest(block, name, begin=None):
    """The largest absolute entry; raises for NaN or inf (NaN propagates through max), naming
    the first one's row (counted from ``begin``, when known) and column."""
    largest = max(float(np.max(block)), -float(np.min(block))) if block.size else 0.0
    if not np.isfinite(largest):
        i, j = np.argwhere(~np.isfinite(block))[0]
        row = f"row {begin + i}" if begin is not None else f"row {i} of a chunk"
        raise ValueError(f"{name} must be finite (no NaN or inf as float64): {row}, column "
                         f"{j} is {block[i, j]}")
    return largest


def _check_weight(sample_weight, m):
    w = np.asarray(sample_weight)
    if w.dtype.kind not in "iuf":
        raise TypeError(f"sample_weight must be a real array, got dtype {w.dtype}")
    w = np.array(w, dtype=np.float64)
    if w.shape != (m,):
        raise ValueError(f"sample_weight must have one weight per sample ({m}), got shape "
                         f"{w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("sample_weight must be finite (no NaN or inf), found some")
    if np.any(w < 0) or not np.any(w > 0):
        raise ValueError("sample_weight must be non-negative and not all zero")
    return w


def _rows(weight, start, count):
    return None if weight is None else weight[start : start + count]


def _reader(array):
    """A function ``(start, stop) -> rows as float64``, reading a file-backed memory map by
    ``os.pread`` (no pages left mapped) and anything else by slicing."""
    filename = getattr(array, "filename", None)
    if isinstance(array, np.memmap) and filename and array.flags.c_contiguous and \
            os.path.exists(filename):
        return _file_reader(array)
    return lambda start, stop: np.asarray(array[start:stop], dtype=np.float64)


def _file_reader(array):
    row_bytes = array.itemsize * int(np.prod(array.shape[1:], dtype=np.int64))
    base = array.offset + _view_offset(array)
    shape = array.shape[1:]

    def read(start, stop):
        with open(array.filename, "rb", buffering=0) as f:
            raw = os.pread(f.fileno(), (stop - start) * row_bytes, base + start * row_bytes)
        block = np.frombuffer(raw, dtype=array.dtype).reshape((stop - start, *shape))
        return block.astype(np.float64)

    return read


def _view_offset(array):
    """Bytes between the start of the memory map and this view of it."""
    base = array
    while isinstance(base.base, np.memmap):
        base = base.base
    return array.__array_interface__["data"][0] - base.__array_interface__["data"][0]


def _combine(parts, n0, center, fingerprint=None):
    """One factor from the factors of disjoint blocks of rows (docs/math.md section 11)."""
    if len(parts) == 1:
        R = parts[0][0]
    else:
        qr = BlockQR(parts[0][0].shape[0])
        for part in parts:
            qr.add_factor(part[0])
        R = qr.R
    x_max = max(p[1] for p in parts)
    y_max = max(p[2] for p in parts)
    if not center:
        return Factor(np.triu(R), None, None, x_max, y_max, fingerprint)
    # With a ones column first, R's first row is sqrt(sum w) times the weighted means and
    # the rest of R is the factor of the centered data (Householder QR is exact in this).
    means = R[0, 1:] / R[0, 0]
    return Factor(np.triu(R[1:, 1:]), means[:n0], means[n0:], x_max, y_max, fingerprint)


def _dask_parts(data, on_chunk):
    """``on_chunk(X rows, Y rows, weight rows, first row)`` for every chunk of rows of the
    dask arrays, computed on the workers: only what it returns comes back, never the data.
    The chunks are moved to start at chunks of the fingerprint."""
    import dask
    import dask.array as da

    X = data.X if is_dask(data.X) else da.from_array(data.X, chunks=(BLOCK_ROWS, -1))
    X = X.rechunk({0: _aligned_chunks(X.chunks[0]), 1: -1})
    Y = data.Y if is_dask(data.Y) else da.from_array(data.Y, chunks=(X.chunks[0], -1))
    Y = Y.rechunk((X.chunks[0], -1))
    starts = np.concatenate([[0], np.cumsum(X.chunks[0])]).astype(int)
    tasks = [dask.delayed(on_chunk)(xb, yb, _rows(data.weight, s, e - s), s)
             for xb, yb, s, e in zip(X.to_delayed().ravel(), Y.to_delayed().ravel(),
                                     starts[:-1], starts[1:])]
    return list(dask.compute(*tasks))


def _aligned_chunks(chunks):
    """Row chunks whose inner edges are moved to the nearest multiple of FINGERPRINT_ROWS."""
    edges = np.cumsum(chunks)
    inner = {int(round(e / FINGERPRINT_ROWS)) * FINGERPRINT_ROWS for e in edges[:-1]}
    kept = sorted(e for e in inner if 0 < e < edges[-1]) + [int(edges[-1])]
    return tuple(np.diff([0, *kept]).tolist())


def _chunk_factor(Xb, Yb, weight, begin, center, rows, fingerprint):
    """On a worker: the factor of one chunk of rows (read by blocks), its largest entries and
    (with ``fingerprint``) the digests of its rows, which start at ``begin``."""
    Xb = np.asarray(Xb, dtype=np.float64)
    Yb = np.asarray(Yb, dtype=np.float64)
    fold = _Fold(Xb.shape[1] + Yb.shape[1] + int(center), center)
    for start in range(0, len(Xb), rows):
        fold.add(Xb[start : start + rows], Yb[start : start + rows],
                 _rows(weight, start, min(rows, len(Xb) - start)))
    digests = _chunk_digests(Xb, Yb, weight, begin) if fingerprint else []
    return (*fold.result(), digests)


def _chunk_digests(Xb, Yb, weight, begin):
    """On a worker: the fingerprint's digests of one chunk of rows starting at ``begin``."""
    digests = _Digests(begin)
    digests.add(np.asarray(Xb, dtype=np.float64), np.asarray(Yb, dtype=np.float64), weight)
    return digests.result()
