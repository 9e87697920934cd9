"""Numba kernels of the BCGD engine (docs/math.md sections 2 and 3).

Array in, array out: no Python objects, no validation (the API layer validates everything).
Kernels that call each other live in this one module so numba's cache sees their edits.

Layout conventions (paper convention, columns are samples):

- ``w``: all weights in one flat buffer; layer ``i`` (0-based) is
  ``w[woff[i]:woff[i+1]]`` viewed as ``(widths[i+1], widths[i])``.
- ``pbuf``: prefix products; block ``i >= 1`` is ``P_i = W_{i-1} ... W_0 X`` of shape
  ``(widths[i], r)``; ``P_0`` is ``X`` itself (``_prefix``), not a copy in ``pbuf``.
- ``sbuf``: suffix products; block ``i`` is ``S_i = W_{L-1} ... W_{i+1}`` of shape
  ``(nL, widths[i+1])``; block ``L-1`` is the identity and is never written.
- ``Rt``: the maintained residual against the optimum's output, transposed:
  ``(S W P - W* P_0)^T`` of shape ``(r, nL)`` (this layout makes ``R P^T`` and ``Z`` plain
  BLAS products, measured faster than the transposed-operand ones); ``Yt`` is the optimum's
  output ``(W* P_0)^T``, the target it is kept against.
- ``counts``: int64 counters ``[products, multiply-adds, big products]``; a big product has
  all three dimensions larger than ``nL`` (the ``n x n x r`` products of a forward pass).
- ``Rs``: the optimum's residual ``(W* P_0 - Y)^T``, same layout as ``Rt``, so that the
  residual against the data is ``Rt + Rs``; ``None`` where it is orthogonal to the data's
  rows (L2 with a rank the widths do not bind: the gradients are those of ``Rt`` alone).
  Errors ``sum l(Rt + Rs) - l(Rs)`` are summed entry by entry in a form that does not cancel
  (:func:`_step_error`, docs/math.md section 12).

Options that select code are arguments that are ``None`` when off, one per choice
(``descending``/``ascending``; ``l2``/``lp``/``loss``; ``optimal``/``bounded``/``constant``;
``blocked``), and each optional block is guarded by ``if option is not None``: numba prunes
the branches a ``None`` switches off before it types them (it prunes nothing on a value
that is not None), so a run compiles only the code its configuration uses (docs/math.md
section 13).
"""

import types

import numba.np.linalg  # noqa: F401 (registers numba's BLAS entry points, _XXGEMM's)
import numpy as np
from numba import types as nbtypes

from ._cache import njit  # numba.njit, cached outside the package and never failing

NO_SAMPLING = 0
IMPORTANCE = 1
UNIFORM = 2

# Products of fewer multiply-adds than this run as jitted loops, the others through BLAS.
# Chosen by measurement (benchmarks/tune_small_product.py): numba calls BLAS for about 40 ns,
# and OpenBLAS's small-matrix kernels beat the jitted loop from about 64 multiply-adds on.
SMALL_PRODUCT = 64
# Gram matrices ``S S^T`` up to this many multiply-adds run as jitted dot products of rows
# (symmetric: half the work): measured 35 ns against BLAS's 133 ns at 4 x 16, 161 against
# 290 at 10 x 16, but 106-156 against 121-122 at 4 x 128 and 832 against 561 at 10 x 128
# (benchmarks/tune_small_product.py).
SMALL_GRAM = 1600

# Gradients with more entries than WHOLE_GRADIENT are never stored whole: they are formed in
# the step by blocks of GRADIENT_BLOCK entries, so that an n x n matrix larger than the cache
# is neither written nor read back and the step and the next suffix ``S W`` share one pass
# over ``W``; ``||G||`` then comes from an LQ factorization of ``S``. Chosen by measurement
# (benchmarks/tune_gradient_block.py): blocks win from width 1448 on, tie at 1024 and lose
# below when the machine is quiet (OpenBLAS runs the whole products on both cores). The
# engine passes them to the kernels as ``blocking = [WHOLE_GRADIENT, GRADIENT_BLOCK]``.
WHOLE_GRADIENT = 1 << 20
GRADIENT_BLOCK = 1 << 17


# numba's own entry to the BLAS gemm (the one np.dot uses): C = alpha op(A) op(B) + beta C
# in column-major order, through scipy's cython_blas; resolved by name, so cacheable.
_XXGEMM = nbtypes.ExternalFunction("numba_xxgemm", nbtypes.intc(
    nbtypes.char, nbtypes.char, nbtypes.char, nbtypes.intp, nbtypes.intp, nbtypes.intp,
    nbtypes.voidptr, nbtypes.voidptr, nbtypes.intp, nbtypes.voidptr, nbtypes.intp,
    nbtypes.voidptr, nbtypes.voidptr, nbtypes.intp))
_NO_TRANSPOSE, _TRANSPOSE = 78, 84  # "N", "T"


def gemm_signature(dtype, small=None):
    """The signature :func:`gemm` is compiled for, per dtype and per ``small`` (None: BLAS
    only; True: jitted loops for tiny products too; see :func:`prepare`)."""
    return ("void(boolean, boolean, float64, {0}[:, ::1], {0}[:, ::1], float64, {0}[:, ::1], "
            "{0}[::1], int64[::1], int64, {1})").format(np.dtype(dtype).name,
                                                      "none" if small is None else "boolean")


def prepare(dtype, small=None):
    """Compile (or load from the cache) :func:`gemm` for ``dtype`` and ``small`` before a
    kernel uses it.

    Callers pass the transposes as constants, which numba types as literals: with compilation
    open it would compile one ``gemm`` (with its callees) per combination. So ``gemm`` gets
    explicit signatures, each compiled on its first use (never at import), and stays closed to
    new signatures otherwise. ``small`` is None when no product of the run is tiny: then the
    jitted loops for tiny products (and their compilation) are left out.
    """
    wanted = (np.dtype(dtype).name, small is None)
    if any((str(sig[3].dtype), isinstance(sig[10], nbtypes.NoneType)) == wanted
           for sig in gemm.signatures):
        return
    gemm.disable_compile(False)
    try:
        gemm.compile(gemm_signature(dtype, small))
    finally:  # closed again once it has a signature (numba refuses to close it before)
        if gemm.signatures:
            gemm.disable_compile(True)


@njit(cache=True, nogil=True)
def loop_gemm(ta, tb, alpha, A, B, beta, C):
    """``C = alpha op(A) op(B) + beta C`` as plain jitted loops (tiny products), where
    ``op(M)`` is ``M.T`` when its flag is True."""
    m, n = C.shape
    k = A.shape[0] if ta else A.shape[1]
    for i in range(m):
        for j in range(n):
            C[i, j] = 0.0 if beta == 0.0 else beta * C[i, j]
        for p in range(k):
            a = alpha * (A[p, i] if ta else A[i, p])
            if tb:
                for j in range(n):
                    C[i, j] += a * B[j, p]
            else:
                for j in range(n):
                    C[i, j] += a * B[p, j]


@njit(cache=True, nogil=True)
def blas_gemm(ta, tb, alpha, A, B, beta, C, scal):
    """``C = alpha op(A) op(B) + beta C`` by the BLAS gemm (see :func:`gemm`; ``k >= 1``)."""
    m, n = C.shape
    k = A.shape[0] if ta else A.shape[1]
    scal[0] = alpha
    scal[1] = beta
    kind = 100 if C.itemsize == 8 else 115  # "d" or "s"
    # row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T
    _XXGEMM(kind, _TRANSPOSE if tb else _NO_TRANSPOSE, _TRANSPOSE if ta else _NO_TRANSPOSE,
            n, m, k, scal[0:1].ctypes, B.ctypes, B.shape[1], A.ctypes, A.shape[1],
            scal[1:2].ctypes, C.ctypes, n)


@njit(cache=True, nogil=True)
def gemm(ta, tb, alpha, A, B, beta, C, scal, counts, big_dim, small):
    """``C = alpha op(A) op(B) + beta C`` for C-contiguous 2-D arrays of one dtype, where
    ``op(M)`` is ``M.T`` when its flag is True: jitted loops for tiny products (unless
    ``small`` is None: then the run has none), BLAS otherwise. One compiled specialization per
    dtype and ``small``, whatever the transposes (numba's ``np.dot`` compiles one per memory
    layout). ``scal`` (2 entries of C's dtype) holds alpha and beta for BLAS; ``counts``
    counts the products (see the module docstring)."""
    m, n = C.shape
    k = A.shape[0] if ta else A.shape[1]
    work = m * n * k
    counts[0] += 1
    counts[1] += work
    if m > big_dim and n > big_dim and k > big_dim:
        counts[2] += 1
    if m == 0 or n == 0:
        return
    if small is not None:
        if work < SMALL_PRODUCT or k == 0:
            loop_gemm(ta, tb, alpha, A, B, beta, C)
            return
    blas_gemm(ta, tb, alpha, A, B, beta, C, scal)


@njit(cache=True, nogil=True)
def gemm_loop(a, b, out, count):
    """``count`` products ``out = a @ b`` through the BLAS the kernels use (benchmarks)."""
    for _ in range(count):
        np.dot(a, b, out)


@njit(cache=True, nogil=True, inline="always")
def _gram(S, out, scal, counts, big_dim, small):
    """``out = S S^T``: dot products of rows for small ones (if ``small``), BLAS otherwise."""
    k, n = S.shape
    if small is not None:
        if k * n * k <= SMALL_GRAM:
            counts[0] += 1
            counts[1] += k * n * k
            gram_loop(S, out)
            return
    gemm(False, True, 1.0, S, S, 0.0, out, scal, counts, big_dim, small)


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def gram_loop(S, out):
    """``out = S S^T`` as jitted dot products of rows (using the symmetry)."""
    k, n = S.shape
    for i in range(k):
        for j in range(i + 1):
            acc = 0.0
            for p in range(n):
                acc += S[i, p] * S[j, p]
            out[i, j] = acc
            out[j, i] = acc


@njit(cache=True, nogil=True, inline="always")
def _block(buf, off, i, rows, cols):
    """Block ``i`` of a flat buffer, viewed as a ``(rows, cols)`` matrix."""
    return buf[off[i] : off[i] + rows * cols].reshape((rows, cols))


@njit(cache=True, nogil=True, inline="always")
def _prefix(X, pbuf, poff, i, rows, r):
    """``P_i``: ``X`` for ``i = 0``, else block ``i`` of ``pbuf``."""
    if i == 0:
        return X
    return _block(pbuf, poff, i, rows, r)


# not inlined: inlined code takes its caller's flags, and the sum would lose its reassociation
@njit(cache=True, nogil=True, fastmath={"reassoc"})
def sum_squares(a):
    """``sum(a**2)`` in float64 (reassociated so that it vectorizes; no nnan/ninf flags)."""
    acc = 0.0
    flat = a.ravel()
    for j in range(flat.size):
        v = float(flat[j])
        acc += v * v
    return acc


@njit(cache=True, nogil=True, inline="always")
def _step_error(D, eta, Z, Rs, cross, l2, lp, loss):
    """``(||D - eta Z||_F^2, error)``: ``d`` the entries of ``D - eta Z`` (the output's distance
    to the optimum's output), ``s`` those of ``Rs`` (the optimum's residual, zero if None).

    ``error`` is ``sum l(s + d) - l(s)`` in a form without cancellation (docs/math.md section
    12). Where the optimum is unconstrained its gradient vanishes, ``sum l'(s) d = 0``, and
    the error is the sum of ``l(s + d) - l(s) - l'(s) d``: ``d^2`` for L2 (``l2``), ``d^2
    (C(p,2) s^(p-2) + C(p,3) s^(p-3) d + ... + d^(p-2))`` for ``|r|^p`` (``lp = p``), or
    ``value(s+d) - value(s) - l'(s) d`` for a custom ``loss``. L2 under a binding rank
    constraint adds the first-order term ``2 s d`` (``cross`` is ``Rs`` then, else None).
    Each term keeps its relative accuracy, so an error far below the loss's own rounding
    level is resolved (``sum l(R) - loss*`` would cancel to noise or to a false 0).
    """
    norm2 = 0.0
    diff = 0.0
    fd, fs = _flat_pair(D, Rs)
    fz = Z.ravel()
    for j in range(fd.size):
        d = float(fd[j]) - eta * float(fz[j])
        norm2 += d * d
        s = 0.0
        if Rs is not None:
            s = float(fs[j])
        if l2 is not None:
            diff += d * d
            if cross is not None:
                diff += 2.0 * d * s
        if lp is not None:
            diff += d * d * _power_remainder(s, d, lp)
        if loss is not None:
            diff += loss[0](s + d) - loss[0](s) - loss[1](s) * d
    return norm2, diff


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
def _flat_pair(D, Rs):
    """Flat views of ``D`` and ``Rs`` (``D`` twice when ``Rs`` is None: then never read)."""
    fd = D.ravel()
    if Rs is None:
        return fd, fd
    return fd, Rs.ravel()


@njit(cache=True, nogil=True, inline="always")
def _entry(fd, fs, j, Rs):
    """Entry ``j`` of ``D + Rs`` (of ``D`` when ``Rs`` is None)."""
    r = float(fd[j])
    if Rs is not None:
        r += float(fs[j])
    return r


@njit(cache=True, nogil=True)
def _derivative(D, Rs, out, l2, lp, loss):
    """``out = l'(D + Rs)`` entry by entry: ``r`` (L2), ``r^(p-1)`` (``lp``), ``loss[1](r)``."""
    fd, fs = _flat_pair(D, Rs)
    fo = out.ravel()
    for j in range(fd.size):
        r = _entry(fd, fs, j, Rs)
        if l2 is not None:
            fo[j] = r
        if lp is not None:
            fo[j] = r ** (lp - 1)
        if loss is not None:
            fo[j] = loss[1](r)


@njit(cache=True, nogil=True)
def _max_curvature(D, Rs, lp, loss):
    """``max (p-1) |r|^(p-2)`` (``lp``) or ``max C(r)`` (custom ``loss``, ``C >= |l''|``) over
    the entries ``r`` of ``D + Rs``: the curvature bound of the rates (3.11), (3.10)."""
    best = 0.0
    fd, fs = _flat_pair(D, Rs)
    for j in range(fd.size):
        r = _entry(fd, fs, j, Rs)
        if lp is not None:
            best = max(best, (lp - 1) * abs(r) ** (lp - 2))
        if loss is not None:
            best = max(best, loss[2](r))
    return best


@njit(cache=True, nogil=True, inline="always")
def _axpy(y, alpha, x):
    """``y -= alpha * x`` in place for matrices of one shape."""
    fy = y.ravel()
    fx = x.ravel()
    for j in range(fy.size):
        fy[j] -= alpha * fx[j]


@njit(cache=True, nogil=True, inline="always")
def _trace(K):
    acc = 0.0
    for i in range(K.shape[0]):
        acc += K[i, i]
    return acc


@njit(cache=True, nogil=True)
def _spectral_norm_squared(P, gram, scal, counts, big_dim, small):
    """``||P||_2^2`` as the top eigenvalue of the smaller Gram matrix of ``P``."""
    n, r = P.shape
    if n <= r:
        g = gram[: n * n].reshape((n, n))
        gemm(False, True, 1.0, P, P, 0.0, g, scal, counts, big_dim, small)
    else:
        g = gram[: r * r].reshape((r, r))
        gemm(True, False, 1.0, P, P, 0.0, g, scal, counts, big_dim, small)
    return max(np.linalg.eigvalsh(g)[-1], 0.0)


@njit(cache=True, nogil=True, inline="always")
def _loss_derivative(Rt, r_norm2, work_j, Rs, l2, lp, loss):
    """``(J, ||J||_F^2)`` with ``J = l'(Rt + Rs)``: ``Rt`` itself for L2 when ``Rs`` is None
    (``r_norm2`` is its squared norm), else written to ``work_j``."""
    if lp is not None:
        _derivative(Rt, Rs, work_j, None, lp, None)
        return work_j, sum_squares(work_j)
    if loss is not None:
        _derivative(Rt, Rs, work_j, None, None, loss)
        return work_j, sum_squares(work_j)
    if Rs is not None:  # L2 against a residual that is not orthogonal to the data
        _derivative(Rt, Rs, work_j, l2, None, None)
        return work_j, sum_squares(work_j)
    return Rt, r_norm2


@njit(cache=True, nogil=True, inline="always")
def _rate(gg, K, P, Zt, Rt, Rs, gram, scal, counts, lp, loss, optimal, bounded, constant, small):
    """The learning rate: ``optimal``: (3.4) for L2, near-optimal (3.11) for ``lp``, (3.10)
    for a custom ``loss``; ``bounded = eta_bar``: (3.2) ``eta_bar / (||S||_2^2 ||P||_2^2)``;
    else the ``constant``."""
    eta = 0.0
    if constant is not None:
        eta = constant
    if bounded is not None:
        s_norm = max(np.linalg.eigvalsh(K)[-1], 0.0)
        denominator = s_norm * _spectral_norm_squared(P, gram, scal, counts, K.shape[0], small)
        eta = bounded / denominator if denominator > 0.0 else 0.0
    if optimal is not None:
        zz = sum_squares(Zt)
        if lp is not None:  # (3.11): ||G||^2 / ((p-1) max |R|^(p-2) ||Z||^2)
            zz *= _max_curvature(Rt, Rs, lp, loss)
        if loss is not None:  # (3.10): ||G||^2 / (max C(R) ||Z||^2)
            zz *= _max_curvature(Rt, Rs, lp, loss)
        eta = gg / zz if zz > 0.0 else 0.0
    return eta


@njit(cache=True, nogil=True, inline="always")
def _update_layer(W, S, P, Rt, Rs, S_next, p_norm2, r_norm2, work_a, work_g, work_k, work_b,
                  work_z, work_j, work_s, gram, rounding, inv_m, error_limit, scal, counts, cross,
                  l2, lp, loss, optimal, bounded, constant, blocked, small):
    """One BCGD update of ``W`` with ``S``, ``P`` frozen (docs/math.md section 2).

    ``G = S^T (J P^T)`` and ``Z = (S S^T)(J P^T) P`` so that no ``n x m`` intermediate
    appears, with ``J = l'(R)``: ``R`` for L2 (``l2``), ``R^(p-1)`` for the Lp loss
    ``|r|^p / p`` (``lp = p``, even), or ``loss = (value, derivative, curvature)`` jitted
    scalar functions of a custom convex loss (see ``custom_kernel``); exactly one of the three
    is not None. The rate: see :func:`_rate`. ``R`` is
    updated in place to ``R - eta Z`` (exact). The error is ``(sum l(R) - l(R*)) / m`` with
    ``l(r) = |r|^p`` (no 1/p, as the paper's error measure) or ``value``. A gradient below
    the rounding level of its own computation, ``rounding * ||S||_F ||J||_F ||P||_F``, is
    treated as zero (skipped): the optimal rate of a noise gradient would only amplify the
    noise. ``p_norm2`` and ``r_norm2`` are ``||P||_F^2`` and ``||R||_F^2``, known to the
    caller. ``blocked`` (``[WHOLE_GRADIENT, GRADIENT_BLOCK]``, or None when no layer is that
    large) forms large gradients by blocks of rows in the step. Unless it is empty,
    ``S_next`` receives the next suffix ``S W`` with the new ``W`` (also when the update is
    skipped, not when it would diverge). Returns ``(eta, error, ||R_new||_F^2)``; if the new
    error would be non-finite or above ``error_limit`` nothing is changed and the (bad)
    error is returned with ``eta = nan``.
    """
    k = Rt.shape[1]
    n_out, n_in = W.shape
    At = work_a[: n_in * k].reshape((n_in, k))
    K = work_k[: k * k].reshape((k, k))
    Bt = work_b[: n_in * k].reshape((n_in, k))
    Zt = work_z
    Jt, j_norm2 = _loss_derivative(Rt, r_norm2, work_j, Rs, l2, lp, loss)
    gemm(False, False, 1.0, P, Jt, 0.0, At, scal, counts, k, small)  # (J P^T)^T
    _gram(S, K, scal, counts, k, small)
    gemm(False, False, 1.0, At, K, 0.0, Bt, scal, counts, k, small)  # (S G)^T
    gemm(True, False, 1.0, P, Bt, 0.0, Zt, scal, counts, k, small)  # (S G P)^T
    if blocked is None:
        rows = n_out
        G = work_g[: n_out * n_in].reshape((n_out, n_in))
        gg = _whole_gradient(S, At, G, scal, counts, small)
    else:
        rows = gradient_rows(n_out, n_in, blocked)
        G = work_g[: rows * n_in].reshape((rows, n_in))
        gg = _gradient_by_rows(S, At, G, rows == n_out, work_s, scal, counts, small)
    if gg <= rounding * rounding * _trace(K) * j_norm2 * p_norm2:
        eta = 0.0  # G is rounding noise (||G|| <= rounding ||S|| ||J|| ||P||): nothing to gain
    else:
        eta = _rate(gg, K, P, Zt, Rt, Rs, gram, scal, counts, lp, loss, optimal, bounded,
                    constant, small)
    new_norm2, new_diff = _step_error(Rt, eta, Zt, Rs, cross, l2, lp, loss)
    error = new_diff * inv_m
    if not (error <= error_limit):  # also catches NaN
        return np.nan, error, r_norm2
    if eta != 0.0:
        _axpy(Rt, eta, Zt)
    if blocked is None:
        _whole_step(W, S, G, S_next, eta, scal, counts, small)
    else:
        _step_by_rows(W, S, At, G, S_next, eta, rows, work_g, work_s, scal, counts, small)
    return eta, error, new_norm2


@njit(cache=True, nogil=True, inline="always")
def _whole_gradient(S, At, G, scal, counts, small):
    """``G = S^T A`` and ``||G||_F^2`` from ``G`` itself (``tr(A^T S S^T A)`` loses accuracy
    as ``G`` gets small)."""
    gemm(True, True, 1.0, S, At, 0.0, G, scal, counts, S.shape[0], small)
    return sum_squares(G)


@njit(cache=True, nogil=True)
def _gradient_by_rows(S, At, G, whole, work_s, scal, counts, small):
    """``||G||_F^2``: from ``G`` formed whole, or, for a gradient formed only in the step by
    blocks of rows, from an LQ factorization of ``S``."""
    if whole:
        return _whole_gradient(S, At, G, scal, counts, small)
    return _gradient_norm_squared(S, At, work_s)


@njit(cache=True, nogil=True, inline="always")
def _whole_step(W, S, G, S_next, eta, scal, counts, small):
    """``W -= eta G`` and, unless ``S_next`` is empty, the next suffix ``S_next = S W``."""
    if eta != 0.0:
        _axpy(W, eta, G)
    if S_next.size > 0:
        gemm(False, False, 1.0, S, W, 0.0, S_next, scal, counts, S.shape[0], small)


@njit(cache=True, nogil=True)
def _step_by_rows(W, S, At, G, S_next, eta, rows, work_g, work_s, scal, counts, small):
    """The step of :func:`_update_layer` when blocks are on: whole if ``G`` was formed whole
    (``rows`` is all of them), else by blocks of ``rows`` rows."""
    if rows == W.shape[0]:
        _whole_step(W, S, G, S_next, eta, scal, counts, small)
    else:
        _blocked_step(W, S, At, S_next, eta, rows, work_g, work_s, scal, counts, small)


@njit(cache=True, nogil=True)
def gradient_rows(n_out, n_in, blocking):
    """Rows per block of an ``(n_out, n_in)`` gradient: all of them unless it has more than
    ``blocking[0]`` entries, else blocks of at most ``blocking[1]`` entries."""
    if n_out * n_in <= blocking[0]:
        return n_out
    return min(n_out, max(1, blocking[1] // n_in))


@njit(cache=True, nogil=True)
def _rows(A, r0, r1):
    """Rows ``r0 .. r1-1`` of a C-contiguous matrix, as a C-contiguous view."""
    cols = A.shape[1]
    return A.ravel()[r0 * cols : r1 * cols].reshape((r1 - r0, cols))


@njit(cache=True, nogil=True)
def _gradient_norm_squared(S, At, work_s):
    """``||S^T A||_F^2`` without forming ``S^T A``: with ``S = L Q`` (Householder, ``Q`` with
    orthonormal rows), ``||S^T a|| = ||L^T a||`` for every column ``a`` of ``A``. Its error
    is within ``eps cond(S)``, as when forming the product; the Gram form
    ``tr(A^T S S^T A)`` squares ``cond(S)``."""
    k, n = S.shape
    M = work_s[: k * n].reshape((k, n))
    v = work_s[k * n : k * n + n]
    for row in range(k):
        for j in range(n):
            M[row, j] = S[row, j]
    for c in range(min(k, n)):  # zero M[c, c+1:] by a reflection of the columns c..n-1
        norm2 = 0.0
        for j in range(c, n):
            norm2 += M[c, j] * M[c, j]
        if norm2 == 0.0:
            continue
        alpha = -np.sqrt(norm2) if M[c, c] >= 0.0 else np.sqrt(norm2)
        v_norm2 = 0.0
        for j in range(c, n):
            v[j] = M[c, j] - alpha if j == c else M[c, j]
            v_norm2 += v[j] * v[j]
        for row in range(c, k):
            projection = 0.0
            for j in range(c, n):
                projection += M[row, j] * v[j]
            projection *= 2.0 / v_norm2
            for j in range(c, n):
                M[row, j] -= projection * v[j]
    total = 0.0
    for a in range(At.shape[0]):  # sum over columns a of A (rows of At) of ||L^T a||^2
        for c in range(min(k, n)):
            y = 0.0
            for row in range(c, k):
                y += M[row, c] * At[a, row]
            total += y * y
    return total


@njit(cache=True, nogil=True)
def _blocked_step(W, S, At, S_next, eta, rows, work_g, work_s, scal, counts, small):
    """``W -= eta G`` with ``G = S^T A`` formed block by block of rows, and (unless ``S_next``
    is empty) ``S_next = S W`` accumulated from the new blocks while they are in cache."""
    k, n_out = S.shape
    n_in = W.shape[1]
    for r0 in range(0, n_out, rows):
        r1 = min(r0 + rows, n_out)
        S_cols = work_s[: k * (r1 - r0)].reshape((k, r1 - r0))  # S[:, r0:r1], contiguous
        for c in range(k):
            for j in range(r1 - r0):
                S_cols[c, j] = S[c, r0 + j]
        W_rows = _rows(W, r0, r1)
        if eta != 0.0:
            G_rows = work_g[: (r1 - r0) * n_in].reshape((r1 - r0, n_in))
            gemm(True, True, 1.0, S_cols, At, 0.0, G_rows, scal, counts, k, small)
            _axpy(W_rows, eta, G_rows)
        if S_next.size > 0:
            gemm(False, False, 1.0, S_cols, W_rows, 0.0 if r0 == 0 else 1.0, S_next, scal,
                 counts, k, small)


@njit(cache=True, nogil=True, inline="always")
def _prefix_pass(w, woff, widths, X, pbuf, poff, pnorms, Rt, Yt, scal, counts, small):
    """Descending pre-pass: all prefixes with the old weights (and their squared norms while
    they are in cache), and a fresh residual."""
    L = widths.size - 1
    k = widths[L]
    r = Yt.shape[0]
    for i in range(L - 1):
        W = _block(w, woff, i, widths[i + 1], widths[i])
        P = _prefix(X, pbuf, poff, i, widths[i], r)
        P_next = _block(pbuf, poff, i + 1, widths[i + 1], r)
        gemm(False, False, 1.0, W, P, 0.0, P_next, scal, counts, k, small)
        pnorms[i + 1] = sum_squares(P_next)
    W = _block(w, woff, L - 1, k, widths[L - 1])
    gemm(True, True, 1.0, _prefix(X, pbuf, poff, L - 1, widths[L - 1], r), W, 0.0, Rt, scal,
         counts, k, small)
    _axpy(Rt, 1.0, Yt)


@njit(cache=True, nogil=True)
def _suffix_pass(w, woff, widths, sbuf, soff, work_b, scal, counts, small):
    """Ascending pre-pass: all suffixes with the old weights, and a fresh residual."""
    L = widths.size - 1
    k = widths[L]
    for i in range(L - 1, 0, -1):
        S = _block(sbuf, soff, i, k, widths[i + 1])
        W = _block(w, woff, i, widths[i + 1], widths[i])
        gemm(False, False, 1.0, S, W, 0.0, _block(sbuf, soff, i - 1, k, widths[i]), scal, counts,
             k, small)
    end_to_end = work_b[: k * widths[0]].reshape((k, widths[0]))
    S = _block(sbuf, soff, 0, k, widths[1])
    gemm(False, False, 1.0, S, _block(w, woff, 0, widths[1], widths[0]), 0.0, end_to_end, scal,
         counts, k, small)
    return end_to_end


@njit(cache=True, nogil=True, inline="always")
def _start_sweep(w, woff, widths, X, pbuf, poff, pnorms, sbuf, soff, Rt, Yt, work_b, scal,
                 counts, descending, ascending, small):
    """The pre-pass of a sweep: the caches with the old weights and a fresh residual (no
    drift across sweeps): prefixes for a descending sweep, suffixes for an ascending one.
    Returns ``||R||_F^2``."""
    k = widths[widths.size - 1]
    if descending is not None:
        _prefix_pass(w, woff, widths, X, pbuf, poff, pnorms, Rt, Yt, scal, counts, small)
    if ascending is not None:
        end_to_end = _suffix_pass(w, woff, widths, sbuf, soff, work_b, scal, counts, small)
        gemm(True, True, 1.0, X, end_to_end, 0.0, Rt, scal, counts, k, small)
        _axpy(Rt, 1.0, Yt)
    return sum_squares(Rt)


@njit(cache=True, nogil=True, inline="always")
def _layer_views(w, woff, widths, X, pbuf, poff, sbuf, soff, pos, descending):
    """``(i, W, S, P, S_next)`` of the update at ``pos``: the layer, its weight, suffix and
    prefix, and where the next suffix goes (descending; empty otherwise)."""
    L = widths.size - 1
    k = widths[L]
    i = pos
    S_next = _block(sbuf, soff, i, k, 0)
    if descending is not None:
        i = L - 1 - pos
        S_next = _block(sbuf, soff, max(i - 1, 0), k, widths[i] if i > 0 else 0)
    return (i, _block(w, woff, i, widths[i + 1], widths[i]),
            _block(sbuf, soff, i, k, widths[i + 1]),
            _prefix(X, pbuf, poff, i, widths[i], X.shape[1]), S_next)


@njit(cache=True, nogil=True, inline="always")
def _next_prefix(W, P, i, widths, pbuf, poff, pnorms, scal, counts, small):
    """Ascending: the next layer's prefix ``W P`` with the new weight (and its norm)."""
    if i < widths.size - 2:
        P_next = _block(pbuf, poff, i + 1, widths[i + 1], P.shape[1])
        gemm(False, False, 1.0, W, P, 0.0, P_next, scal, counts, widths[widths.size - 1], small)
        pnorms[i + 1] = sum_squares(P_next)


@njit(cache=True, nogil=True)
def bcgd_updates(w, woff, widths, pbuf, poff, pnorms, sbuf, soff, X, Yt, Rt, Rs,
                 work_a, work_g, work_k, work_b, work_z, work_j, work_s, gram, rounding,
                 begin, end, inv_m, error_limit, errors, rates, scal, counts, cross, descending,
                 ascending, l2, lp, loss, optimal, bounded, constant, blocked, small):
    """Run the layer updates at positions ``begin .. end-1`` of one BCGD sweep.

    Position 0 starts a sweep: the pre-pass rebuilds the caches with the old weights and a
    fresh residual (no drift across sweeps). Descending visits layers ``L-1 .. 0`` keeping
    ``S`` up to date with the new weights; ascending visits ``0 .. L-1`` keeping ``P``.
    ``errors[j]`` gets the error after update ``begin + j`` (see :func:`_update_layer`, which
    also explains the other options) and ``rates[j]`` its learning rate. ``pnorms[i]`` holds
    ``||P_i||_F^2`` (``pnorms[0]``, of ``X``, is set by the caller). Returns the number of
    updates done: fewer than ``end - begin`` when an update would diverge (error non-finite
    or above ``error_limit``); that update is not applied and its error is stored at
    ``errors[done]``.
    """
    if begin == 0:
        r_norm2 = _start_sweep(w, woff, widths, X, pbuf, poff, pnorms, sbuf, soff, Rt, Yt,
                               work_b, scal, counts, descending, ascending, small)
    else:
        r_norm2 = sum_squares(Rt)
    for pos in range(begin, end):
        i, W, S, P, S_next = _layer_views(w, woff, widths, X, pbuf, poff, sbuf, soff, pos,
                                          descending)
        eta, errors[pos - begin], r_norm2 = _update_layer(
            W, S, P, Rt, Rs, S_next, pnorms[i], r_norm2, work_a, work_g, work_k, work_b,
            work_z, work_j, work_s, gram, rounding, inv_m, error_limit, scal, counts, cross,
            l2, lp, loss, optimal, bounded, constant, blocked, small)
        if np.isnan(eta):
            return pos - begin
        rates[pos - begin] = eta
        if ascending is not None:
            _next_prefix(W, P, i, widths, pbuf, poff, pnorms, scal, counts, small)
    return end - begin


@njit(cache=True, nogil=True)
def bcsgd_updates(w, woff, widths, pbuf, poff, pnorms, sbuf, soff, X, Yt, Rt, Rs,
                  work_a, work_g, work_k, work_b, work_z, work_m, gram, eta_bar,
                  sampling, draws, batches, begin, end, inv_m, error_limit,
                  errors, rates, scal, counts, descending, ascending, small):
    """Stochastic BCGD (docs/math.md section 8): as :func:`bcgd_updates`, each update with
    one sample drawn by importance (``sampling`` 1, uniform number ``draws[pos]``) or the
    batch ``batches[pos]`` (``sampling`` 2)."""
    if begin == 0:
        _start_sweep(w, woff, widths, X, pbuf, poff, pnorms, sbuf, soff, Rt, Yt, work_b,
                     scal, counts, descending, ascending, small)
    for pos in range(begin, end):
        i, W, S, P, S_next = _layer_views(w, woff, widths, X, pbuf, poff, sbuf, soff, pos,
                                          descending)
        eta, errors[pos - begin] = _sampled_update(
            W, S, P, Rt, Rs, sampling, draws[pos], batches[pos], eta_bar, work_a, work_g,
            work_k, work_b, work_z, work_m, gram, inv_m, error_limit, scal, counts, small)
        if np.isnan(eta):
            return pos - begin
        rates[pos - begin] = eta
        if S_next.size > 0:
            gemm(False, False, 1.0, S, W, 0.0, S_next, scal, counts, S.shape[0], small)
        if ascending is not None:
            _next_prefix(W, P, i, widths, pbuf, poff, pnorms, scal, counts, small)
    return end - begin


@njit(cache=True, nogil=True)
def _importance_sample(P, M, work_m, u, scal, counts, k, small):
    """Theorem 3.6's sample: ``j`` with probability ``||p_j^T P||^2 / ||P^T P||_F^2``.

    ``M = P P^T`` is given; ``||p_j^T P||^2 = p_j^T M p_j``. Returns ``(j, ||p_j^T P||^2)``.
    """
    n, m = P.shape
    MP = work_m[: n * m].reshape((n, m))
    gemm(False, False, 1.0, M, P, 0.0, MP, scal, counts, k, small)
    weights = np.zeros(m)
    total = 0.0
    for a in range(n):
        for j in range(m):
            weights[j] += P[a, j] * MP[a, j]
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
def _sampled_update(W, S, P, Rt, Rs, sampling, u, batch, eta_bar, work_a, work_g, work_k,
                    work_b, work_z, work_m, gram, inv_m, error_limit, scal, counts, small):
    """One stochastic BCGD update of ``W`` (L2; docs/math.md section 8). Returns ``(eta, error)``.

    Importance sampling (Theorem 3.6): ``W -= eta S^T r_j p_j^T`` with
    ``eta = (sigma_min(P)^2 / sigma_max(S)^2) eta_bar / ||p_j^T P||^2``. Uniform batches:
    the gradient of the batch's loss with its optimal rate (3.4). The full residual is
    updated exactly, so the recorded error is the true one.
    """
    k = Rt.shape[1]
    n_out, n_in = W.shape
    m = P.shape[1]
    G = work_g[: n_out * n_in].reshape((n_out, n_in))
    K = work_k[: k * k].reshape((k, k))
    At = work_a[: n_in * k].reshape((n_in, k))
    Bt = work_b[: n_in * k].reshape((n_in, k))
    _gram(S, K, scal, counts, k, small)
    b = batch.size
    Pb = np.empty((n_in, b), P.dtype)
    Rb = np.empty((b, k), P.dtype)
    Zb = np.empty((b, k), P.dtype)
    if sampling == IMPORTANCE:
        M = gram[: n_in * n_in].reshape((n_in, n_in))
        gemm(False, True, 1.0, P, P, 0.0, M, scal, counts, k, small)
        j, q = _importance_sample(P, M, work_m, u, scal, counts, k, small)
        s_max = max(np.linalg.eigvalsh(K)[-1], 0.0)
        p_eigs = np.linalg.eigvalsh(M)
        p_min = max(p_eigs[n_in - min(n_in, m)], 0.0)  # sigma_min(P)^2, min(n, m)-th largest
        eta = p_min / s_max * eta_bar / q if s_max > 0.0 and q > 0.0 else 0.0
        for a in range(n_in):  # At = p_j r_j^T, so G = S^T At^T = S^T r_j p_j^T
            for c in range(k):
                At[a, c] = P[a, j] * (Rt[j, c] + Rs[j, c])
    else:
        for a in range(n_in):
            for t in range(b):
                Pb[a, t] = P[a, batch[t]]
        for t in range(b):
            for c in range(k):
                Rb[t, c] = Rt[batch[t], c] + Rs[batch[t], c]
        gemm(False, False, 1.0, Pb, Rb, 0.0, At, scal, counts, k, small)
    gemm(True, True, 1.0, S, At, 0.0, G, scal, counts, k, small)
    gemm(False, False, 1.0, At, K, 0.0, Bt, scal, counts, k, small)  # (S G)^T
    if sampling != IMPORTANCE:
        gemm(True, False, 1.0, Pb, Bt, 0.0, Zb, scal, counts, k, small)
        zz = sum_squares(Zb)
        eta = sum_squares(G) / zz if zz > 0.0 else 0.0
    Zt = work_z
    gemm(True, False, 1.0, P, Bt, 0.0, Zt, scal, counts, k, small)  # (S G P)^T on all samples
    error = _step_error(Rt, eta, Zt, Rs, None, True, None, None)[1] * inv_m
    if not (error <= error_limit):
        return np.nan, error
    if eta != 0.0:
        _axpy(W, eta, G)
        _axpy(Rt, eta, Zt)
    return eta, error


@njit(cache=True, nogil=True)
def gd_iteration(w, woff, widths, pbuf, poff, pnorms, sbuf, soff, X, Yt, Rt, Rs, w_previous,
                 work_a, work_b, work_g, work_j, eta, fresh, inv_m, error_limit, scal, counts,
                 cross, l2, lp, small):
    """One gradient descent iteration: every layer at once with a constant rate (docs/math.md 8).

    All gradients use the old weights: prefixes ``P_i`` and the residual come from a forward
    pass (kept from the previous iteration unless ``fresh``), suffixes from one backward pass
    over the old weights. After the update a forward pass with the new weights gives the
    error and the caches of the next iteration. ``l2`` not None for L2, ``lp = p`` for
    ``|r|^p`` (the other one None).
    Returns ``(error, applied)``; if the error is non-finite or above ``error_limit`` the old
    weights are restored and ``applied`` is False.
    """
    L = widths.size - 1
    k = widths[L]
    r = Yt.shape[0]
    if fresh:
        _prefix_pass(w, woff, widths, X, pbuf, poff, pnorms, Rt, Yt, scal, counts, small)
    _suffix_pass(w, woff, widths, sbuf, soff, work_b, scal, counts, small)
    Jt = _loss_derivative(Rt, 0.0, work_j, Rs, l2, lp, None)[0]
    w_previous[:] = w
    for i in range(L):
        n_out, n_in = widths[i + 1], widths[i]
        At = work_a[: n_in * k].reshape((n_in, k))
        G = work_g[: n_out * n_in].reshape((n_out, n_in))
        P = _prefix(X, pbuf, poff, i, n_in, r)
        gemm(False, False, 1.0, P, Jt, 0.0, At, scal, counts, k, small)
        gemm(True, True, 1.0, _block(sbuf, soff, i, k, n_out), At, 0.0, G, scal, counts, k, small)
        _axpy(_block(w, woff, i, n_out, n_in), eta, G)
    _prefix_pass(w, woff, widths, X, pbuf, poff, pnorms, Rt, Yt, scal, counts, small)
    error = _step_error(Rt, 0.0, Rt, Rs, cross, l2, lp, None)[1] * inv_m
    if not (error <= error_limit):
        w[:] = w_previous
        return error, False
    return error, True


_CUSTOM_LOSS_FUNCTIONS = ("bcgd_updates", "_update_layer", "_loss_derivative", "_rate",
                          "_step_error", "_derivative", "_max_curvature")
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
            original = globals()[function_name].py_func
            clone = types.FunctionType(original.__code__, namespace, function_name,
                                       original.__defaults__, original.__closure__)
            namespace[function_name] = njit(cache=False, nogil=True)(clone)
        _custom_clones.update({n: namespace[n] for n in _CUSTOM_LOSS_FUNCTIONS})
    return _custom_clones[name]

