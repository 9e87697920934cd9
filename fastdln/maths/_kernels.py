"""Numba kernels of the BCGD engine (docs/math.md sections 2 and 3).

Array in, array out: no Python objects, no validation (the API layer validates everything).
Kernels that call each other live in this one module so numba's cache sees their edits.

A kernel takes its run's workspace as three flat arrays, built once by the engine
(:func:`workspace_layout`), the working data ``X`` (``(n0, r)``, flat; it may be large: the
engine's one copy of it, not in the workspace) and the optimum's residual (docs/math.md
section 13):

- ``buf`` (the run's dtype): ``Yt`` and every matrix the sweeps write, one after the other:
  the weights
  (layer ``i`` at ``woff[i]``, ``(widths[i+1], widths[i])`` row-major), the prefixes
  ``P_i = W_{i-1} ... W_0 X`` (``(widths[i], r)`` at ``poff[i]``, ``i >= 1``; ``P_0`` is
  ``X``), the suffixes ``S_i = W_{L-1} ... W_{i+1}`` (``(nL, widths[i+1])`` at ``soff[i]``;
  block ``L-1`` is the identity), the residual ``Rt`` and the work buffers (slots ``RT_`` ..
  ``YT_`` of ``index``);
- ``index`` (int64): the sizes, the offsets of those regions, the counters of products and
  ``widths``, ``woff``, ``poff``, ``soff`` (see the slot constants);
- ``real`` (float64): ``||P_i||_F^2``, the errors and rates of the call, the run's constants.

Every matrix is a flat slice of ``buf`` read with its dimensions (row-major), never a
reshaped view: a reshape costs a call into numba's runtime (about 20 ns), a slice nothing,
so that a layer update of a 16-wide network costs little more than its products. Products
go through :func:`mm` to the BLAS gemm behind the symbols ``fastdln_dgemm`` and
``fastdln_sgemm`` (:mod:`fastdln.maths._gemm`), or to jitted loops when tiny.

- ``Rt``: the maintained residual against the optimum's output, transposed:
  ``(S W P - W* P_0)^T`` of shape ``(r, nL)``; ``Yt`` is the optimum's output
  ``(W* P_0)^T``, the target it is kept against.
- ``Rs``: the optimum's residual ``(W* P_0 - Y)^T``, same layout as ``Rt``, so that the
  residual against the data is ``Rt + Rs``; ``None`` where it is orthogonal to the data's
  rows (L2 with a rank the widths do not bind: the gradients are those of ``Rt`` alone).
  Errors ``sum l(Rt + Rs) - l(Rs)`` are summed entry by entry in a form that does not cancel
  (:func:`_step_error`, docs/math.md section 12).
- counters (``index[PRODUCTS:]``): products, multiply-adds, big products (all three
  dimensions larger than ``nL``: the ``n x n x r`` products of a forward pass).

Options that select code are arguments that are ``None`` when off, and each optional block
is guarded by ``if option is None`` / ``is not None``: numba prunes the branches a ``None``
switches off before it types them (it prunes nothing on a value that is not None), so a
run compiles only the code its configuration uses (docs/math.md section 13). The options:
``descending`` or ``ascending`` (True; the other None), ``lp`` (p of the loss ``|r|^p /
p``; None with ``loss`` None: L2), ``loss`` (a custom loss's jitted functions), ``bounded``
(eta_bar of the rate (3.2)), ``constant`` (a constant rate; both None: the optimal rate),
``blocked`` (large gradients by blocks of rows), ``small`` (tiny products as jitted loops),
``cross`` (L2 under a binding rank constraint: the error has a first-order term).
"""

import types

import numba
import numba.np.linalg  # noqa: F401 (loads scipy's BLAS, whose gemm the symbols point to)
import numpy as np
from numba import types as nbtypes

from . import _gemm
from ._cache import njit  # numba.njit, cached outside the package and never failing

NO_SAMPLING = 0
IMPORTANCE = 1
UNIFORM = 2

# Products of fewer multiply-adds than this run as jitted loops, the others through BLAS.
# Chosen by measurement (benchmarks/tune_small_product.py): OpenBLAS's small-matrix kernels
# beat the jitted loop from about 64 multiply-adds on.
SMALL_PRODUCT = 64
# Gram matrices ``S S^T`` up to this many multiply-adds run as jitted dot products of rows
# (symmetric: half the work) when ``small``: measured 35 ns against BLAS's 133 ns at 4 x 16,
# 161 against 290 at 10 x 16, but slower than BLAS at 10 x 128
# (benchmarks/tune_small_product.py).
SMALL_GRAM = 1600

# Gradients with more entries than WHOLE_GRADIENT are never stored whole: they are formed in
# the step by blocks of GRADIENT_BLOCK entries, so that an n x n matrix larger than the cache
# is neither written nor read back and the step and the next suffix ``S W`` share one pass
# over ``W``; ``||G||`` then comes from an LQ factorization of ``S``. Chosen by measurement
# (benchmarks/tune_gradient_block.py): blocks win from width 1448 on, tie at 1024 and lose
# below when the machine is quiet.
WHOLE_GRADIENT = 1 << 20
GRADIENT_BLOCK = 1 << 17

# Slots of ``index``: sizes, offsets of the regions of ``buf``, counters, gradient blocking,
# then ``widths``, ``woff``, ``poff``, ``soff`` (``L + 1`` entries each) from HEADER on.
L_, R_, K_ = 0, 1, 2
RT_, A_, G_, KK_, B_, Z_, J_, WS_, GRAM_, M_, SCAL_, WPREV_, YT_, END_ = range(3, 17)
PRODUCTS, MACS, BIG = 17, 18, 19
WHOLE, BLOCK = 20, 21
THREADS_, FOUND_ = 22, 23  # the BLAS thread count a sweep kernel runs on (0: leave it), found
HEADER = 24
# Slots of ``real``: the constants, then ``||P_i||^2``, errors and rates (``L`` each).
INV_M, LIMIT, ROUNDING = 0, 1, 2
NORMS = 3

_NO_TRANSPOSE, _TRANSPOSE = 78, 84  # "N", "T"
_GEMM_SIGNATURE = nbtypes.void(*[nbtypes.voidptr] * 13)  # Fortran BLAS: all by pointer
_gemm.install()  # the symbols must resolve before any kernel is compiled or loaded
_DGEMM = nbtypes.ExternalFunction(_gemm.DOUBLE_SYMBOL, _GEMM_SIGNATURE)
_SGEMM = nbtypes.ExternalFunction(_gemm.SINGLE_SYMBOL, _GEMM_SIGNATURE)
_GET_THREADS = nbtypes.ExternalFunction(_gemm.GET_THREADS_SYMBOL, nbtypes.intc())
_SET_THREADS = nbtypes.ExternalFunction(_gemm.SET_THREADS_SYMBOL, nbtypes.void(nbtypes.intc))


def workspace_layout(widths, r, regions):
    """``(index, sizes)``: the int64 ``index`` of a run (offsets absolute in ``buf``) and the
    size of ``buf``. ``regions`` gives the sizes of the work regions by slot (see the slot
    constants); weights, prefixes and suffixes are sized from ``widths`` and ``r``."""
    widths = np.asarray(widths, np.int64)
    L, k = widths.size - 1, int(widths[-1])
    index = np.zeros(HEADER + 4 * (L + 1), np.int64)
    index[L_], index[R_], index[K_] = L, r, k
    layers = widths[1:] * widths[:-1]
    woff = np.concatenate([[0], np.cumsum(layers)])
    end = int(woff[-1])
    poff = np.zeros(L + 1, np.int64)  # block 0 of the prefixes is X itself
    for i in range(1, L):
        poff[i] = end
        end += int(widths[i]) * r
    soff = np.zeros(L + 1, np.int64)
    for i in range(L):
        soff[i] = end
        end += k * int(widths[i + 1])
    soff[L] = end
    for slot in range(RT_, YT_ + 1):
        index[slot] = end
        end += int(regions.get(slot, 0))
    index[END_] = end
    index[WHOLE], index[BLOCK] = WHOLE_GRADIENT, GRADIENT_BLOCK
    for j, part in enumerate((widths, woff, poff, soff)):
        index[HEADER + j * (L + 1): HEADER + (j + 1) * (L + 1)] = part
    return index, end


@njit(cache=True, nogil=True, inline="always")
def _width(index, i):
    return index[HEADER + i]


@njit(cache=True, nogil=True, inline="always")
def _weight(buf, index, i):
    """``W_i`` (flat, ``(widths[i+1], widths[i])``)."""
    return buf[index[HEADER + (index[L_] + 1) + i]:]


@njit(cache=True, nogil=True, inline="always")
def _prefix(buf, index, X, i):
    """``P_i`` (flat, ``(widths[i], r)``): ``X`` for ``i = 0``."""
    if i == 0:
        return X
    return buf[index[HEADER + 2 * (index[L_] + 1) + i]:]


@njit(cache=True, nogil=True, inline="always")
def _suffix(buf, index, i):
    """``S_i`` (flat, ``(nL, widths[i+1])``)."""
    return buf[index[HEADER + 3 * (index[L_] + 1) + i]:]


@njit(cache=True, nogil=True, inline="always")
def _region(buf, index, slot):
    return buf[index[slot]:index[slot + 1]]


def mm_signature(dtype, small=None):
    """The signature :func:`mm` is compiled for, per dtype and per ``small`` (None: BLAS only;
    True: jitted loops for tiny products too; see :func:`prepare`)."""
    real = nbtypes.Array(numba.from_dtype(np.dtype(dtype)), 1, "C")
    scratch = nbtypes.Tuple((real, nbtypes.int64[::1], nbtypes.int32[::1],
                             nbtypes.float64[::1]))
    return nbtypes.void(nbtypes.boolean, nbtypes.boolean, nbtypes.float64, real, real,
                        nbtypes.float64, real, nbtypes.int64, nbtypes.int64, nbtypes.int64,
                        scratch, nbtypes.none if small is None else nbtypes.boolean)


def prepare(dtype, small=None):
    """Compile (or load from the cache) :func:`mm` for ``dtype`` and ``small`` before a
    kernel uses it.

    Callers pass the transposes as constants, which numba types as literals: with compilation
    open it would compile one ``mm`` (with its callees) per combination, and inlined into
    every caller it would be compiled once per call site (a cold start several times as
    long). So ``mm`` gets explicit signatures, each compiled on its first use (never at
    import), and stays closed to new signatures otherwise. ``small`` is None when no product
    of the run is tiny: then the jitted loops for tiny products (and their compilation) are
    left out.
    """
    wanted = mm_signature(dtype, small)
    if any(tuple(signature) == tuple(wanted.args) for signature in mm.signatures):
        return
    mm.disable_compile(False)
    try:
        mm.compile(wanted)
    finally:  # closed again once it has a signature (numba refuses to close it before)
        if mm.signatures:
            mm.disable_compile(True)


@njit(cache=True, nogil=True)
def mm(ta, tb, alpha, A, B, beta, C, m, n, k, scratch, small):
    """``C = alpha op(A) op(B) + beta C`` on flat row-major matrices: ``C`` is ``m x n``,
    ``op(A)`` ``m x k``, ``op(B)`` ``k x n``, where ``op(M)`` is ``M.T`` when its flag is
    True. Tiny products run as jitted loops (unless ``small`` is None: then the run has
    none), the others through BLAS. ``scratch = (buf, index, ints, real)``: alpha and beta
    go to the ``SCAL_`` region of ``buf``, the counters are ``index``'s, ``ints`` holds the
    Fortran interface's integers."""
    buf, index, ints = scratch[0], scratch[1], scratch[2]
    work = m * n * k
    index[PRODUCTS] += 1
    index[MACS] += work
    big = index[K_]
    if m > big and n > big and k > big:
        index[BIG] += 1
    if m == 0 or n == 0:
        return
    if small is not None:
        if work < SMALL_PRODUCT or k == 0:
            loop_mm(ta, tb, alpha, A, B, beta, C, m, n, k)
            return
    scal = buf[index[SCAL_]:]
    scal[0] = alpha
    scal[1] = beta
    # row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T
    ints[0] = _TRANSPOSE if tb else _NO_TRANSPOSE
    ints[1] = _TRANSPOSE if ta else _NO_TRANSPOSE
    ints[2], ints[3], ints[4] = n, m, k
    ints[5] = k if tb else n  # leading dimensions: the row lengths
    ints[6] = m if ta else k
    ints[7] = n
    if C.itemsize == 8:
        _DGEMM(ints[0:].ctypes, ints[1:].ctypes, ints[2:].ctypes, ints[3:].ctypes,
               ints[4:].ctypes, scal.ctypes, B.ctypes, ints[5:].ctypes, A.ctypes,
               ints[6:].ctypes, scal[1:].ctypes, C.ctypes, ints[7:].ctypes)
    else:
        _SGEMM(ints[0:].ctypes, ints[1:].ctypes, ints[2:].ctypes, ints[3:].ctypes,
               ints[4:].ctypes, scal.ctypes, B.ctypes, ints[5:].ctypes, A.ctypes,
               ints[6:].ctypes, scal[1:].ctypes, C.ctypes, ints[7:].ctypes)


@njit(cache=True, nogil=True)
def loop_mm(ta, tb, alpha, A, B, beta, C, m, n, k):
    """:func:`mm` as plain jitted loops (tiny products)."""
    for i in range(m):
        for j in range(n):
            C[i * n + j] = 0.0 if beta == 0.0 else beta * C[i * n + j]
        for p in range(k):
            a = alpha * (A[p * m + i] if ta else A[i * k + p])
            if tb:
                for j in range(n):
                    C[i * n + j] += a * B[j * k + p]
            else:
                for j in range(n):
                    C[i * n + j] += a * B[p * n + j]


def new_scratch(buf, index, real):
    """The ``scratch`` of :func:`mm` outside a kernel (tests and benchmarks)."""
    return buf, index, np.zeros(8, np.int32), real


@njit(cache=True, nogil=True)
def gemm_loop(a, b, out, count):
    """``count`` products ``out = a @ b`` through the BLAS the kernels use (benchmarks)."""
    for _ in range(count):
        np.dot(a, b, out)


# not inlined: inlined code takes its caller's flags, and the sum would lose its reassociation
@njit(cache=True, nogil=True, fastmath={"reassoc"})
def sum_squares(a, size):
    """``sum(a[:size]**2)`` in float64 (reassociated so that it vectorizes; no nnan/ninf)."""
    acc = 0.0
    for j in range(size):
        v = float(a[j])
        acc += v * v
    return acc


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def gram_loop(S, out, k, n):
    """``out = S S^T`` (``S`` is ``k x n``) as jitted dot products of rows (symmetric)."""
    for i in range(k):
        for j in range(i + 1):
            acc = 0.0
            for p in range(n):
                acc += S[i * n + p] * S[j * n + p]
            out[i * k + j] = acc
            out[j * k + i] = acc


@njit(cache=True, nogil=True, inline="always")
def _gram(S, out, k, n, scratch, small):
    """``out = S S^T``: dot products of rows for small ones (if ``small``), BLAS otherwise."""
    if small is not None:
        if k * n * k <= SMALL_GRAM:
            index = scratch[1]
            index[PRODUCTS] += 1
            index[MACS] += k * n * k
            gram_loop(S, out, k, n)
            return
    mm(False, True, 1.0, S, S, 0.0, out, k, k, n, scratch, small)


@njit(cache=True, nogil=True, inline="always")
def _axpy(y, alpha, x, size):
    """``y -= alpha * x`` in place over ``size`` entries."""
    for j in range(size):
        y[j] -= alpha * x[j]


@njit(cache=True, nogil=True, inline="always")
def _trace(K, k):
    acc = 0.0
    for i in range(k):
        acc += K[i * k + i]
    return acc


@njit(cache=True, nogil=True)
def _power_remainder(s, d, p):
    """``((s + d)^p - s^p - p s^(p-1) d) / d^2 = sum_{j=2..p} C(p, j) s^(p-j) d^(j-2)``
    (Horner in ``d``)."""
    binomial = 1.0  # C(p, j) from j = p down
    acc = 0.0
    for j in range(p, 1, -1):
        acc = acc * d + binomial * s ** (p - j)
        binomial = binomial * j / (p - j + 1)
    return acc


@njit(cache=True, nogil=True, inline="always")
def _entry(D, Rs, j):
    """Entry ``j`` of ``D + Rs`` (of ``D`` when ``Rs`` is None)."""
    r = float(D[j])
    if Rs is not None:
        r += float(Rs[j])
    return r


@njit(cache=True, nogil=True, inline="always")
def _step_error(D, eta, Z, Rs, size, cross, lp, loss):
    """``(||D - eta Z||_F^2, error)`` over the ``size`` entries: ``d`` those of ``D - eta
    Z`` (the output's distance to the optimum's output), ``s`` those of ``Rs`` (the
    optimum's residual, zero if None).

    ``error`` is ``sum l(s + d) - l(s)`` in a form without cancellation (docs/math.md section
    12). Where the optimum is unconstrained its gradient vanishes, ``sum l'(s) d = 0``, and
    the error is the sum of ``l(s + d) - l(s) - l'(s) d``: ``d^2`` for L2, ``d^2
    (C(p,2) s^(p-2) + C(p,3) s^(p-3) d + ... + d^(p-2))`` for ``|r|^p`` (``lp = p``), or
    ``value(s+d) - value(s) - l'(s) d`` for a custom ``loss``. L2 under a binding rank
    constraint adds the first-order term ``2 s d`` (``cross``). Each term keeps its relative
    accuracy, so an error far below the loss's own rounding level is resolved (``sum l(R) -
    loss*`` would cancel to noise or to a false 0).
    """
    norm2 = 0.0
    diff = 0.0
    for j in range(size):
        d = float(D[j]) - eta * float(Z[j])
        norm2 += d * d
        s = 0.0
        if Rs is not None:
            s = float(Rs[j])
        if lp is None and loss is None:
            diff += d * d
            if cross is not None:
                diff += 2.0 * d * s
        if lp is not None:
            diff += d * d * _power_remainder(s, d, lp)
        if loss is not None:
            diff += loss[0](s + d) - loss[0](s) - loss[1](s) * d
    return norm2, diff


@njit(cache=True, nogil=True)
def _derivative(D, Rs, out, size, lp, loss):
    """``out = l'(D + Rs)`` entry by entry: ``r`` (L2), ``r^(p-1)`` (``lp``), ``loss[1](r)``."""
    for j in range(size):
        r = _entry(D, Rs, j)
        if lp is None and loss is None:
            out[j] = r
        if lp is not None:
            out[j] = r ** (lp - 1)
        if loss is not None:
            out[j] = loss[1](r)


@njit(cache=True, nogil=True)
def _max_curvature(D, Rs, size, lp, loss):
    """``max (p-1) |r|^(p-2)`` (``lp``) or ``max C(r)`` (custom ``loss``, ``C >= |l''|``) over
    the entries ``r`` of ``D + Rs``: the curvature bound of the rates (3.11), (3.10)."""
    best = 0.0
    for j in range(size):
        r = _entry(D, Rs, j)
        if lp is not None:
            best = max(best, (lp - 1) * abs(r) ** (lp - 2))
        if loss is not None:
            best = max(best, loss[2](r))
    return best


@njit(cache=True, nogil=True, inline="always")
def _loss_derivative(Rt, r_norm2, work_j, Rs, size, lp, loss):
    """``(J, ||J||_F^2)`` with ``J = l'(Rt + Rs)``: ``Rt`` itself for L2 when ``Rs`` is None
    (``r_norm2`` is its squared norm), else written to ``work_j``."""
    if lp is not None or loss is not None or Rs is not None:
        _derivative(Rt, Rs, work_j, size, lp, loss)
        return work_j, sum_squares(work_j, size)
    return Rt, r_norm2


@njit(cache=True, nogil=True)
def _spectral_norm_squared(M, rows, cols, gram, scratch, small):
    """``||M||_2^2`` (``M`` is ``rows x cols``) as the top eigenvalue of its smaller Gram
    matrix."""
    side = min(rows, cols)
    g = gram[: side * side]
    if rows <= cols:
        mm(False, True, 1.0, M, M, 0.0, g, rows, rows, cols, scratch, small)
    else:
        mm(True, False, 1.0, M, M, 0.0, g, cols, cols, rows, scratch, small)
    return max(np.linalg.eigvalsh(g.reshape((side, side)))[-1], 0.0)


@njit(cache=True, nogil=True, inline="always")
def _rate(gg, P, n_in, Rt, Rs, scratch, lp, loss, bounded, constant, small):
    """The learning rate: optimal: (3.4) for L2, near-optimal (3.11) for ``lp``, (3.10) for a
    custom ``loss``; ``bounded = eta_bar``: (3.2) ``eta_bar / (||S||_2^2 ||P||_2^2)``; else
    the ``constant``. ``K = S S^T`` and ``Zt`` are in their work regions."""
    buf, index = scratch[0], scratch[1]
    k, r = index[K_], index[R_]
    eta = 0.0
    if constant is not None:
        eta = constant
    if bounded is not None:
        K = _region(buf, index, KK_)
        s_norm = max(np.linalg.eigvalsh(K[: k * k].reshape((k, k)))[-1], 0.0)
        gram = _region(buf, index, GRAM_)
        denominator = s_norm * _spectral_norm_squared(P, n_in, r, gram, scratch, small)
        eta = bounded / denominator if denominator > 0.0 else 0.0
    if bounded is None and constant is None:
        zz = sum_squares(_region(buf, index, Z_), r * k)
        if lp is not None or loss is not None:  # (3.11), (3.10): times max |l''|
            zz *= _max_curvature(Rt, Rs, r * k, lp, loss)
        eta = gg / zz if zz > 0.0 else 0.0
    return eta


@njit(cache=True, nogil=True, inline="always")
def _update_layer(W, S, P, S_next, i, norms, scratch, Rs, cross, lp, loss, bounded, constant,
                  blocked, small):
    """One BCGD update of ``W`` (layer ``i``) with ``S``, ``P`` frozen (docs/math.md 2).

    ``G = S^T (J P^T)`` and ``Z = (S S^T)(J P^T) P`` so that no ``n x m`` intermediate
    appears, with ``J = l'(R)``: ``R`` for L2, ``R^(p-1)`` for the Lp loss ``|r|^p / p``
    (``lp = p``, even), or ``loss = (value, derivative, curvature)`` jitted scalar functions
    of a custom convex loss (see ``custom_kernel``). The rate: see :func:`_rate`. ``R`` is
    updated in place to ``R - eta Z`` (exact). The error is ``(sum l(R) - l(R*)) / m`` with
    ``l(r) = |r|^p`` (no 1/p, as the paper's error measure) or ``value``. A gradient below
    the rounding level of its own computation, ``rounding * ||S||_F ||J||_F ||P||_F``, is
    treated as zero (skipped): the optimal rate of a noise gradient would only amplify the
    noise. ``norms = (||P||_F^2, ||R||_F^2)``. ``blocked`` forms large gradients by blocks of
    rows in the step. ``S_next`` receives the next suffix ``S W`` with the new ``W`` unless
    it is empty (also when the update is skipped, not when it would
    diverge). Returns
    ``(eta, error, ||R_new||_F^2)``; if the new error would be non-finite or above the run's
    limit nothing is changed and the (bad) error is returned with ``eta = nan``.
    """
    buf, index, real = scratch[0], scratch[1], scratch[3]
    k, r = index[K_], index[R_]
    n_out, n_in = _width(index, i + 1), _width(index, i)
    p_norm2, r_norm2 = norms
    Rt = _region(buf, index, RT_)
    At = _region(buf, index, A_)
    K = _region(buf, index, KK_)
    Bt = _region(buf, index, B_)
    Zt = _region(buf, index, Z_)
    mmscratch = scratch
    Jt, j_norm2 = _loss_derivative(Rt, r_norm2, _region(buf, index, J_), Rs, r * k, lp, loss)
    mm(False, False, 1.0, P, Jt, 0.0, At, n_in, k, r, mmscratch, small)  # (J P^T)^T
    _gram(S, K, k, n_out, mmscratch, small)
    mm(False, False, 1.0, At, K, 0.0, Bt, n_in, k, k, mmscratch, small)  # (S G)^T
    mm(True, False, 1.0, P, Bt, 0.0, Zt, r, k, n_in, mmscratch, small)  # (S G P)^T
    rows = n_out
    G = _region(buf, index, G_)
    if blocked is None:
        mm(True, True, 1.0, S, At, 0.0, G, n_out, n_in, k, mmscratch, small)
        gg = sum_squares(G, n_out * n_in)
    else:
        rows = gradient_rows(n_out, n_in, index[WHOLE], index[BLOCK])
        if rows == n_out:
            mm(True, True, 1.0, S, At, 0.0, G, n_out, n_in, k, mmscratch, small)
            gg = sum_squares(G, n_out * n_in)
        else:
            gg = _gradient_norm_squared(S, At, k, n_out, n_in, _region(buf, index, WS_))
    rounding = real[ROUNDING]
    if gg <= rounding * rounding * _trace(K, k) * j_norm2 * p_norm2:
        eta = 0.0  # G is rounding noise (||G|| <= rounding ||S|| ||J|| ||P||): nothing to gain
    else:
        eta = _rate(gg, P, n_in, Rt, Rs, scratch, lp, loss, bounded, constant, small)
    new_norm2, new_diff = _step_error(Rt, eta, Zt, Rs, r * k, cross, lp, loss)
    error = new_diff * real[INV_M]
    if not (error <= real[LIMIT]):  # also catches NaN
        return np.nan, error, r_norm2
    if eta != 0.0:
        _axpy(Rt, eta, Zt, r * k)
    if blocked is None:
        _whole_step(W, S, G, S_next, eta, n_out, n_in, scratch, small)
    elif rows == n_out:
        _whole_step(W, S, G, S_next, eta, n_out, n_in, scratch, small)
    else:
        _blocked_step(W, S, At, S_next, eta, rows, n_out, n_in, scratch, small)
    return eta, error, new_norm2


@njit(cache=True, nogil=True, inline="always")
def _whole_step(W, S, G, S_next, eta, n_out, n_in, scratch, small):
    """``W -= eta G`` and, unless ``S_next`` is empty, the next suffix ``S_next = S W``."""
    if eta != 0.0:
        _axpy(W, eta, G, n_out * n_in)
    if S_next.size > 0:
        mm(False, False, 1.0, S, W, 0.0, S_next, scratch[1][K_], n_in, n_out, scratch, small)


@njit(cache=True, nogil=True)
def gradient_rows(n_out, n_in, whole, block):
    """Rows per block of an ``(n_out, n_in)`` gradient: all of them unless it has more than
    ``whole`` entries, else blocks of at most ``block`` entries."""
    if n_out * n_in <= whole:
        return n_out
    return min(n_out, max(1, block // n_in))


@njit(cache=True, nogil=True)
def _gradient_norm_squared(S, At, k, n, n_in, work_s):
    """``||S^T A||_F^2`` without forming ``S^T A`` (``S`` is ``k x n``, ``At`` ``n_in x k``):
    with ``S = L Q`` (Householder, ``Q`` with orthonormal rows), ``||S^T a|| = ||L^T a||``
    for every column ``a`` of ``A``. Its error is within ``eps cond(S)``, as when forming the
    product; the Gram form ``tr(A^T S S^T A)`` squares ``cond(S)``."""
    M = work_s[: k * n]
    v = work_s[k * n : k * n + n]
    for j in range(k * n):
        M[j] = S[j]
    for c in range(min(k, n)):  # zero M[c, c+1:] by a reflection of the columns c..n-1
        norm2 = 0.0
        for j in range(c, n):
            norm2 += M[c * n + j] * M[c * n + j]
        if norm2 == 0.0:
            continue
        alpha = -np.sqrt(norm2) if M[c * n + c] >= 0.0 else np.sqrt(norm2)
        v_norm2 = 0.0
        for j in range(c, n):
            v[j] = M[c * n + j] - alpha if j == c else M[c * n + j]
            v_norm2 += v[j] * v[j]
        for row in range(c, k):
            projection = 0.0
            for j in range(c, n):
                projection += M[row * n + j] * v[j]
            projection *= 2.0 / v_norm2
            for j in range(c, n):
                M[row * n + j] -= projection * v[j]
    total = 0.0
    for a in range(n_in):  # sum over columns a of A (rows of At) of ||L^T a||^2
        for c in range(min(k, n)):
            y = 0.0
            for row in range(c, k):
                y += M[row * n + c] * At[a * k + row]
            total += y * y
    return total


@njit(cache=True, nogil=True)
def _blocked_step(W, S, At, S_next, eta, rows, n_out, n_in, scratch, small):
    """``W -= eta G`` with ``G = S^T A`` formed block by block of rows, and (unless ``S_next``
    is empty) ``S_next = S W`` accumulated from the new blocks while they are in cache."""
    buf, index = scratch[0], scratch[1]
    k = index[K_]
    work_g = _region(buf, index, G_)
    work_s = _region(buf, index, WS_)
    for r0 in range(0, n_out, rows):
        r1 = min(r0 + rows, n_out)
        width = r1 - r0
        for c in range(k):  # S[:, r0:r1], contiguous
            for j in range(width):
                work_s[c * width + j] = S[c * n_out + r0 + j]
        W_rows = W[r0 * n_in:]
        if eta != 0.0:
            mm(True, True, 1.0, work_s, At, 0.0, work_g, width, n_in, k, scratch, small)
            _axpy(W_rows, eta, work_g, width * n_in)
        if S_next.size > 0:
            mm(False, False, 1.0, work_s, W_rows, 0.0 if r0 == 0 else 1.0, S_next, k, n_in,
               width, scratch, small)


@njit(cache=True, nogil=True, inline="always")
def _prefix_pass(buf, index, real, X, Yt, scratch, small):
    """Descending pre-pass: all prefixes with the old weights (and their squared norms while
    they are in cache), and a fresh residual."""
    L, k, r = index[L_], index[K_], index[R_]
    for i in range(L - 1):
        n_out = _width(index, i + 1)
        P_next = _prefix(buf, index, X, i + 1)
        mm(False, False, 1.0, _weight(buf, index, i), _prefix(buf, index, X, i), 0.0, P_next,
           n_out, r, _width(index, i), scratch, small)
        real[NORMS + i + 1] = sum_squares(P_next, n_out * r)
    Rt = _region(buf, index, RT_)
    mm(True, True, 1.0, _prefix(buf, index, X, L - 1), _weight(buf, index, L - 1), 0.0, Rt,
       r, k, _width(index, L - 1), scratch, small)
    _axpy(Rt, 1.0, Yt, r * k)


@njit(cache=True, nogil=True)
def _suffix_pass(buf, index, scratch, small):
    """Ascending pre-pass: all suffixes with the old weights; returns the end-to-end matrix
    ``S_0 W_0`` (``nL x n0``, in the ``B_`` region)."""
    L, k = index[L_], index[K_]
    for i in range(L - 1, 0, -1):
        mm(False, False, 1.0, _suffix(buf, index, i), _weight(buf, index, i), 0.0,
           _suffix(buf, index, i - 1), k, _width(index, i), _width(index, i + 1), scratch,
           small)
    end_to_end = _region(buf, index, B_)
    mm(False, False, 1.0, _suffix(buf, index, 0), _weight(buf, index, 0), 0.0, end_to_end, k,
       _width(index, 0), _width(index, 1), scratch, small)
    return end_to_end


@njit(cache=True, nogil=True, inline="always")
def _start_sweep(buf, index, real, X, Yt, scratch, descending, ascending, small):
    """The pre-pass of a sweep: the caches with the old weights and a fresh residual (no
    drift across sweeps): prefixes for a descending sweep, suffixes for an ascending one.
    Returns ``||R||_F^2``."""
    k, r = index[K_], index[R_]
    Rt = _region(buf, index, RT_)
    if descending is not None:
        _prefix_pass(buf, index, real, X, Yt, scratch, small)
    if ascending is not None:
        end_to_end = _suffix_pass(buf, index, scratch, small)
        mm(True, True, 1.0, X, end_to_end, 0.0, Rt, r, k, _width(index, 0), scratch, small)
        _axpy(Rt, 1.0, Yt, r * k)
    return sum_squares(Rt, r * k)


@njit(cache=True, nogil=True, inline="always")
def _layer_at(index, pos, descending):
    """The layer updated at ``pos`` of a sweep."""
    if descending is not None:
        return index[L_] - 1 - pos
    return pos


@njit(cache=True, nogil=True, inline="always")
def _next_suffix(buf, index, i, descending):
    """Where the next suffix ``S W`` goes: the layer below's (descending, above layer 0);
    empty otherwise."""
    if descending is not None and i > 0:
        return _suffix(buf, index, i - 1)
    return buf[:0]


@njit(cache=True, nogil=True, inline="always")
def _next_prefix(buf, index, real, X, i, scratch, small):
    """Ascending: the next layer's prefix ``W P`` with the new weight (and its norm)."""
    if i < index[L_] - 1:
        n_out, r = _width(index, i + 1), index[R_]
        P_next = _prefix(buf, index, X, i + 1)
        mm(False, False, 1.0, _weight(buf, index, i), _prefix(buf, index, X, i), 0.0, P_next,
           n_out, r, _width(index, i), scratch, small)
        real[NORMS + i + 1] = sum_squares(P_next, n_out * r)


@njit(cache=True, nogil=True)
def bcgd_updates(buf, index, real, X, Rs, begin, end, descending, ascending, lp, loss,
                 bounded, constant, blocked, small, cross):
    """Run the layer updates at positions ``begin .. end-1`` of one BCGD sweep.

    Position 0 starts a sweep: the pre-pass rebuilds the caches with the old weights and a
    fresh residual (no drift across sweeps). Descending visits layers ``L-1 .. 0`` keeping
    ``S`` up to date with the new weights; ascending visits ``0 .. L-1`` keeping ``P``.
    The error after update ``begin + j`` goes to ``real[NORMS + L + j]``, its rate to
    ``real[NORMS + 2 L + j]`` (see :func:`_update_layer`, which also explains the options).
    ``real[NORMS + i]`` holds ``||P_i||_F^2`` (``i = 0``, of ``X``, set by the engine).
    Returns the number of updates done: fewer than ``end - begin`` when an update would
    diverge (error non-finite or above ``real[LIMIT]``); that update is not applied and its
    error is stored after the others.
    ``index[THREADS_]``, when positive, is the BLAS thread count of the call: the kernel
    switches the count of the library behind the GEMM symbols to it and back (the count
    found stays in ``index[FOUND_]``, for the caller to set back if the call raises).
    """
    want = index[THREADS_]
    if want > 0:  # switch the BLAS thread count for this call (C calls, not Python's)
        index[FOUND_] = _GET_THREADS()
        if index[FOUND_] != want:
            _SET_THREADS(want)
    done = _bcgd_body(buf, index, real, X, Rs, begin, end, descending, ascending, lp, loss,
                      bounded, constant, blocked, small, cross)
    if want > 0 and index[FOUND_] != want:
        _SET_THREADS(index[FOUND_])
    return done


@njit(cache=True, nogil=True)
def _bcgd_body(buf, index, real, X, Rs, begin, end, descending, ascending, lp, loss, bounded,
               constant, blocked, small, cross):
    """The updates of :func:`bcgd_updates`."""
    L, k, r = index[L_], index[K_], index[R_]
    Yt = _region(buf, index, YT_)
    scratch = (buf, index, np.zeros(8, np.int32), real)
    if begin == 0:
        r_norm2 = _start_sweep(buf, index, real, X, Yt, scratch, descending, ascending, small)
    else:
        r_norm2 = sum_squares(_region(buf, index, RT_), r * k)
    errors, rates = NORMS + L, NORMS + 2 * L
    for pos in range(begin, end):
        i = _layer_at(index, pos, descending)
        W, S, P = _weight(buf, index, i), _suffix(buf, index, i), _prefix(buf, index, X, i)
        eta, real[errors + pos - begin], r_norm2 = _update_layer(
            W, S, P, _next_suffix(buf, index, i, descending), i, (real[NORMS + i], r_norm2),
            scratch, Rs, cross, lp, loss, bounded, constant, blocked, small)
        if np.isnan(eta):
            return pos - begin
        real[rates + pos - begin] = eta
        if ascending is not None:
            _next_prefix(buf, index, real, X, i, scratch, small)
    return end - begin


@njit(cache=True, nogil=True)
def bcsgd_updates(buf, index, real, X, Rs, sampling, eta_bar, draws, batches, begin, end,
                  descending, ascending, small):
    """Stochastic BCGD (docs/math.md section 8): as :func:`bcgd_updates`, each update with
    one sample drawn by importance (``sampling`` 1, uniform number ``draws[pos]``) or the
    batch ``batches[pos]`` (``sampling`` 2)."""
    L = index[L_]
    Yt = _region(buf, index, YT_)
    scratch = (buf, index, np.zeros(8, np.int32), real)
    if begin == 0:
        _start_sweep(buf, index, real, X, Yt, scratch, descending, ascending, small)
    errors, rates = NORMS + L, NORMS + 2 * L
    k = index[K_]
    for pos in range(begin, end):
        i = _layer_at(index, pos, descending)
        W, S, P = _weight(buf, index, i), _suffix(buf, index, i), _prefix(buf, index, X, i)
        eta, real[errors + pos - begin] = _sampled_update(
            W, S, P, i, Rs, sampling, draws[pos], batches[pos], eta_bar, real, scratch, small)
        if np.isnan(eta):
            return pos - begin
        real[rates + pos - begin] = eta
        S_next = _next_suffix(buf, index, i, descending)
        if S_next.size > 0:
            mm(False, False, 1.0, S, W, 0.0, S_next, k, _width(index, i), _width(index, i + 1),
               scratch, small)
        if ascending is not None:
            _next_prefix(buf, index, real, X, i, scratch, small)
    return end - begin


@njit(cache=True, nogil=True)
def _importance_sample(P, M, n, m, u, scratch, small):
    """Theorem 3.6's sample: ``j`` with probability ``||p_j^T P||^2 / ||P^T P||_F^2``.

    ``M = P P^T`` (``n x n``) is given; ``||p_j^T P||^2 = p_j^T M p_j``. Returns ``(j,
    ||p_j^T P||^2)``.
    """
    buf, index = scratch[0], scratch[1]
    MP = _region(buf, index, M_)
    mm(False, False, 1.0, M, P, 0.0, MP, n, m, n, scratch, small)
    weights = np.zeros(m)
    total = 0.0
    for a in range(n):
        for j in range(m):
            weights[j] += P[a * m + j] * MP[a * m + j]
    for j in range(m):
        total += weights[j]
    target = u * total
    running = 0.0
    for j in range(m):
        running += weights[j]
        if running >= target and weights[j] > 0.0:
            return j, weights[j]
    for j in range(m - 1, -1, -1):  # rounding left target above the last partial sum
        if weights[j] > 0.0:
            return j, weights[j]
    return 0, 0.0


@njit(cache=True, nogil=True)
def _sampled_update(W, S, P, i, Rs, sampling, u, batch, eta_bar, real, scratch, small):
    """One stochastic BCGD update of ``W`` (layer ``i``; L2; docs/math.md section 8).
    Returns ``(eta, error)``.

    Importance sampling (Theorem 3.6): ``W -= eta S^T r_j p_j^T`` with
    ``eta = (sigma_min(P)^2 / sigma_max(S)^2) eta_bar / ||p_j^T P||^2``. Uniform batches:
    the gradient of the batch's loss with its optimal rate (3.4). The full residual is
    updated exactly, so the recorded error is the true one.
    """
    buf, index = scratch[0], scratch[1]
    k, m = index[K_], index[R_]
    n_out, n_in = _width(index, i + 1), _width(index, i)
    Rt = _region(buf, index, RT_)
    G = _region(buf, index, G_)
    K = _region(buf, index, KK_)
    At = _region(buf, index, A_)
    Bt = _region(buf, index, B_)
    _gram(S, K, k, n_out, scratch, small)
    b = batch.size
    Pb = np.empty(n_in * b, P.dtype)
    Rb = np.empty(b * k, P.dtype)
    Zb = np.empty(b * k, P.dtype)
    if sampling == IMPORTANCE:
        M = _region(buf, index, GRAM_)
        mm(False, True, 1.0, P, P, 0.0, M, n_in, n_in, m, scratch, small)
        j, q = _importance_sample(P, M, n_in, m, u, scratch, small)
        s_max = max(np.linalg.eigvalsh(K[: k * k].reshape((k, k)))[-1], 0.0)
        p_eigs = np.linalg.eigvalsh(M[: n_in * n_in].reshape((n_in, n_in)))
        p_min = max(p_eigs[n_in - min(n_in, m)], 0.0)  # sigma_min(P)^2, min(n, m)-th largest
        eta = p_min / s_max * eta_bar / q if s_max > 0.0 and q > 0.0 else 0.0
        for a in range(n_in):  # At = p_j r_j^T, so G = S^T At^T = S^T r_j p_j^T
            for c in range(k):
                At[a * k + c] = P[a * m + j] * (Rt[j * k + c] + Rs[j * k + c])
    else:
        for a in range(n_in):
            for t in range(b):
                Pb[a * b + t] = P[a * m + batch[t]]
        for t in range(b):
            for c in range(k):
                Rb[t * k + c] = Rt[batch[t] * k + c] + Rs[batch[t] * k + c]
        mm(False, False, 1.0, Pb, Rb, 0.0, At, n_in, k, b, scratch, small)
    mm(True, True, 1.0, S, At, 0.0, G, n_out, n_in, k, scratch, small)
    mm(False, False, 1.0, At, K, 0.0, Bt, n_in, k, k, scratch, small)  # (S G)^T
    if sampling != IMPORTANCE:
        mm(True, False, 1.0, Pb, Bt, 0.0, Zb, b, k, n_in, scratch, small)
        zz = sum_squares(Zb, b * k)
        eta = sum_squares(G, n_out * n_in) / zz if zz > 0.0 else 0.0
    Zt = _region(buf, index, Z_)
    mm(True, False, 1.0, P, Bt, 0.0, Zt, m, k, n_in, scratch, small)  # (S G P)^T, all samples
    error = _step_error(Rt, eta, Zt, Rs, m * k, None, None, None)[1] * real[INV_M]
    if not (error <= real[LIMIT]):
        return np.nan, error
    if eta != 0.0:
        _axpy(W, eta, G, n_out * n_in)
        _axpy(Rt, eta, Zt, m * k)
    return eta, error


@njit(cache=True, nogil=True)
def gd_iteration(buf, index, real, X, Rs, eta, fresh, lp, small, cross):
    """One gradient descent iteration: every layer at once with a constant rate (docs/math.md 8).

    All gradients use the old weights: prefixes ``P_i`` and the residual come from a forward
    pass (kept from the previous iteration unless ``fresh``), suffixes from one backward pass
    over the old weights. After the update a forward pass with the new weights gives the
    error and the caches of the next iteration. ``lp = p`` for ``|r|^p`` (None: L2).
    Returns ``(error, applied)``; if the error is non-finite or above the run's limit the old
    weights are restored and ``applied`` is False.
    """
    L, k, r = index[L_], index[K_], index[R_]
    Yt = _region(buf, index, YT_)
    scratch = (buf, index, np.zeros(8, np.int32), real)
    if fresh:
        _prefix_pass(buf, index, real, X, Yt, scratch, small)
    _suffix_pass(buf, index, scratch, small)
    Rt = _region(buf, index, RT_)
    Jt = _loss_derivative(Rt, 0.0, _region(buf, index, J_), Rs, r * k, lp, None)[0]
    weights_size = index[HEADER + 2 * (L + 1) - 1]  # woff[L]
    w, w_previous = buf[:weights_size], _region(buf, index, WPREV_)
    w_previous[:] = w
    At, G = _region(buf, index, A_), _region(buf, index, G_)
    for i in range(L):
        n_out, n_in = _width(index, i + 1), _width(index, i)
        mm(False, False, 1.0, _prefix(buf, index, X, i), Jt, 0.0, At, n_in, k, r, scratch,
           small)
        mm(True, True, 1.0, _suffix(buf, index, i), At, 0.0, G, n_out, n_in, k, scratch, small)
        _axpy(_weight(buf, index, i), eta, G, n_out * n_in)
    _prefix_pass(buf, index, real, X, Yt, scratch, small)
    error = _step_error(Rt, 0.0, Rt, Rs, r * k, cross, lp, None)[1] * real[INV_M]
    if not (error <= real[LIMIT]):
        w[:] = w_previous
        return error, False
    return error, True


_CUSTOM_LOSS_FUNCTIONS = ("bcgd_updates", "_bcgd_body", "_update_layer", "_loss_derivative",
                          "_rate", "_step_error", "_derivative", "_max_curvature")
_custom_clones: dict = {}


def custom_kernel(name="bcgd_updates"):
    """An uncached clone of a kernel for custom losses (jitted functions as arguments).

    Numba compiles a new specialization for every set of function arguments and, when
    caching, would add it to the on-disk cache in every process. The functions that receive
    the loss are therefore re-jitted without cache into a separate namespace; everything else
    (products, passes) stays the cached code. Compiled on first use in each process.
    """
    if not _custom_clones:
        namespace = dict(globals())
        for function_name in _CUSTOM_LOSS_FUNCTIONS:
            original = globals()[function_name]
            clone = types.FunctionType(original.py_func.__code__, namespace, function_name,
                                       original.py_func.__defaults__,
                                       original.py_func.__closure__)
            namespace[function_name] = njit(cache=False, nogil=True)(clone)
        _custom_clones.update({n: namespace[n] for n in _CUSTOM_LOSS_FUNCTIONS})
    return _custom_clones[name]

