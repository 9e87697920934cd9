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
- ``Rt``: the maintained residual, transposed: ``(S W P - Y)^T`` of shape ``(r, nL)`` (this
  layout makes ``R P^T`` and ``Z`` plain BLAS products, measured faster than the
  transposed-operand ones); ``Yt`` likewise.
- ``counts``: int64 counters ``[products, multiply-adds, big products]``; a big product has
  all three dimensions larger than ``nL`` (the ``n x n x r`` products of a forward pass).
"""

import types

import numba.np.linalg  # noqa: F401 (registers numba's BLAS entry points, _XXGEMM's)
import numpy as np
from numba import njit
from numba import types as nbtypes

DESCENDING = 0
ASCENDING = 1

NO_SAMPLING = 0
IMPORTANCE = 1
UNIFORM = 2

LR_OPTIMAL = 0
LR_BOUNDED = 1
LR_CONSTANT = 2

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


def _gemm_signatures(*tail):
    """Explicit signatures of :func:`gemm` (both dtypes): callers pass the transposes as
    constants, and numba would otherwise compile one version (with its callees) per
    combination of constants."""
    head = "(boolean, boolean, float64, {0}[:, ::1], {0}[:, ::1], float64, {0}[:, ::1]"
    return [("void" + head + "".join(", " + t for t in tail) + ")").format(dtype)
            for dtype in ("float64", "float32")]


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


@njit(_gemm_signatures("{0}[::1]", "int64[::1]", "int64"), cache=True, nogil=True)
def gemm(ta, tb, alpha, A, B, beta, C, scal, counts, big_dim):
    """``C = alpha op(A) op(B) + beta C`` for C-contiguous 2-D arrays of one dtype, where
    ``op(M)`` is ``M.T`` when its flag is True: jitted loops for tiny products, BLAS
    otherwise. One compiled specialization per dtype, whatever the transposes (numba's
    ``np.dot`` compiles one per memory layout). ``scal`` (2 entries of C's dtype) holds alpha
    and beta for BLAS; ``counts`` counts the products (see the module docstring)."""
    m, n = C.shape
    k = A.shape[0] if ta else A.shape[1]
    work = m * n * k
    counts[0] += 1
    counts[1] += work
    if m > big_dim and n > big_dim and k > big_dim:
        counts[2] += 1
    if m == 0 or n == 0:
        return
    if work < SMALL_PRODUCT or k == 0:
        loop_gemm(ta, tb, alpha, A, B, beta, C)
    else:
        blas_gemm(ta, tb, alpha, A, B, beta, C, scal)


@njit(cache=True, nogil=True)
def gemm_loop(a, b, out, count):
    """``count`` products ``out = a @ b`` through the BLAS the kernels use (benchmarks)."""
    for _ in range(count):
        np.dot(a, b, out)


@njit(cache=True, nogil=True)
def _gram(S, out, scal, counts, big_dim):
    """``out = S S^T``: dot products of rows for small ones, BLAS otherwise."""
    k, n = S.shape
    if k * n * k > SMALL_GRAM:
        gemm(False, True, 1.0, S, S, 0.0, out, scal, counts, big_dim)
        return
    counts[0] += 1
    counts[1] += k * n * k
    gram_loop(S, out)


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


@njit(cache=True, nogil=True)
def _block(buf, off, i, rows, cols):
    """Block ``i`` of a flat buffer, viewed as a ``(rows, cols)`` matrix."""
    return buf[off[i] : off[i] + rows * cols].reshape((rows, cols))


@njit(cache=True, nogil=True)
def _prefix(X, pbuf, poff, i, rows, r):
    """``P_i``: ``X`` for ``i = 0``, else block ``i`` of ``pbuf``."""
    if i == 0:
        return X
    return _block(pbuf, poff, i, rows, r)


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def sum_squares(a):
    """``sum(a**2)`` in float64 (reassociated so that it vectorizes; no nnan/ninf flags)."""
    acc = 0.0
    flat = a.ravel()
    for j in range(flat.size):
        v = float(flat[j])
        acc += v * v
    return acc


@njit(cache=True, nogil=True)
def _step_norm_squared(R, eta, Z):
    """``||R - eta Z||_F^2`` without forming it (the error after a step)."""
    acc = 0.0
    fr = R.ravel()
    fz = Z.ravel()
    for j in range(fr.size):
        v = float(fr[j]) - eta * float(fz[j])
        acc += v * v
    return acc


@njit(cache=True, nogil=True)
def _step_power_sum(R, eta, Z, power):
    """``sum |R - eta Z|^p`` for an even ``p`` (the Lp loss after a step)."""
    acc = 0.0
    fr = R.ravel()
    fz = Z.ravel()
    for j in range(fr.size):
        v = float(fr[j]) - eta * float(fz[j])
        acc += v ** power
    return acc


@njit(cache=True, nogil=True)
def _custom_derivative(R, out, derivative):
    """``out = l'(R)`` elementwise for a custom loss (uncached clones only)."""
    fr = R.ravel()
    fo = out.ravel()
    for j in range(fr.size):
        fo[j] = derivative(float(fr[j]))


@njit(cache=True, nogil=True)
def _custom_max_curvature(R, curvature):
    """``max C(R)`` over the residual's entries, ``C >= |l''|`` (custom loss, (3.10))."""
    best = 0.0
    flat = R.ravel()
    for j in range(flat.size):
        best = max(best, curvature(float(flat[j])))
    return best


@njit(cache=True, nogil=True)
def _custom_step_loss(R, eta, Z, value):
    """``sum value(R - eta Z)`` for a custom loss."""
    acc = 0.0
    fr = R.ravel()
    fz = Z.ravel()
    for j in range(fr.size):
        acc += value(float(fr[j]) - eta * float(fz[j]))
    return acc


@njit(cache=True, nogil=True)
def _odd_power(R, exponent, out):
    """``out = R ** exponent`` elementwise (``exponent`` odd: the sign is kept)."""
    fr = R.ravel()
    fo = out.ravel()
    for j in range(fr.size):
        fo[j] = fr[j] ** exponent


@njit(cache=True, nogil=True)
def _max_abs(a):
    best = 0.0
    flat = a.ravel()
    for j in range(flat.size):
        best = max(best, abs(float(flat[j])))
    return best


@njit(cache=True, nogil=True)
def _axpy(y, alpha, x):
    """``y -= alpha * x`` in place for matrices of one shape."""
    fy = y.ravel()
    fx = x.ravel()
    for j in range(fy.size):
        fy[j] -= alpha * fx[j]


@njit(cache=True, nogil=True)
def _spectral_norm_squared(P, gram, scal, counts, big_dim):
    """``||P||_2^2`` as the top eigenvalue of the smaller Gram matrix of ``P``."""
    n, r = P.shape
    if n <= r:
        g = gram[: n * n].reshape((n, n))
        gemm(False, True, 1.0, P, P, 0.0, g, scal, counts, big_dim)
    else:
        g = gram[: r * r].reshape((r, r))
        gemm(True, False, 1.0, P, P, 0.0, g, scal, counts, big_dim)
    return max(np.linalg.eigvalsh(g)[-1], 0.0)


@njit(cache=True, nogil=True)
def _update_layer(W, S, P, Rt, S_next, p_norm2, r_norm2, work_a, work_g, work_k, work_b,
                  work_z, work_j, work_s, blocking, gram, lr_mode, lr_value, power, rounding,
                  loss_offset, inv_m, error_limit, scal, counts, loss):
    """One BCGD update of ``W`` with ``S``, ``P`` frozen (docs/math.md section 2).

    ``G = S^T (J P^T)`` and ``Z = (S S^T)(J P^T) P`` so that no ``n x m`` intermediate
    appears, with ``J = l'(R)``: ``R`` for L2 (``power == 2``), ``R^(p-1)`` for the Lp loss
    ``|r|^p / p`` (``power == p``, even), or ``loss = (value, derivative, curvature)`` jitted
    scalar functions of a custom convex loss (``None`` otherwise; see ``custom_kernel``).
    ``R`` is updated in place to ``R - eta Z`` (exact). The loss is ``sum |R|^p`` (no 1/p, as
    the paper's error measure) or ``sum value(R)``. Returns
    ``(eta, error)``; if the new error would be non-finite or above ``error_limit`` nothing is
    changed and the (bad) error is returned with ``eta = nan``. A gradient below the rounding
    level of its own computation, ``rounding * ||S||_F ||J||_F ||P||_F``, is treated as zero
    (skipped): the optimal rate of a noise gradient would only amplify the noise.
    ``p_norm2`` and ``r_norm2`` are ``||P||_F^2`` and ``||R||_F^2``, known to the caller.
    Unless it is empty, ``S_next`` receives the next suffix ``S W`` with the new ``W`` (also when
    the update is skipped, not when it would diverge). Returns ``(eta, error, ||R_new||_F^2)``.
    """
    k = Rt.shape[1]
    n_out, n_in = W.shape
    At = work_a[: n_in * k].reshape((n_in, k))
    K = work_k[: k * k].reshape((k, k))
    Bt = work_b[: n_in * k].reshape((n_in, k))
    Zt = work_z
    if loss is None and power == 2:
        Jt = Rt
        j_norm2 = r_norm2
    else:
        Jt = work_j
        if loss is None:
            _odd_power(Rt, power - 1, Jt)
        else:
            _custom_derivative(Rt, Jt, loss[1])
        j_norm2 = sum_squares(Jt)
    gemm(False, False, 1.0, P, Jt, 0.0, At, scal, counts, k)  # (J P^T)^T
    _gram(S, K, scal, counts, k)
    gemm(False, False, 1.0, At, K, 0.0, Bt, scal, counts, k)  # (S G)^T
    gemm(True, False, 1.0, P, Bt, 0.0, Zt, scal, counts, k)  # (S G P)^T
    rows = gradient_rows(n_out, n_in, blocking)
    G = work_g[: rows * n_in].reshape((rows, n_in))
    if rows == n_out:  # ||G||^2 from G itself: tr(A^T S S^T A) loses accuracy as G gets small
        gemm(True, True, 1.0, S, At, 0.0, G, scal, counts, k)
        gg = sum_squares(G)
    else:  # G is formed only in the step; ||G|| from an LQ factorization of S
        gg = _gradient_norm_squared(S, At, work_s)
    if gg <= rounding * rounding * np.trace(K) * j_norm2 * p_norm2:
        eta = 0.0  # G is rounding noise (||G|| <= rounding ||S|| ||J|| ||P||): nothing to gain
    elif lr_mode == LR_OPTIMAL:  # (3.4) for L2; (3.11) near-optimal for Lp
        zz = sum_squares(Zt)
        if loss is not None:  # (3.10): ||G||^2 / (max C(R) ||Z||^2)
            zz *= _custom_max_curvature(Rt, loss[2])
        elif power > 2:
            zz *= (power - 1) * _max_abs(Rt) ** (power - 2)
        eta = gg / zz if zz > 0.0 else 0.0
    elif lr_mode == LR_BOUNDED:  # (3.2): eta_bar / (||S||_2^2 ||P||_2^2)
        s_norm = max(np.linalg.eigvalsh(K)[-1], 0.0)
        p_norm = _spectral_norm_squared(P, gram, scal, counts, k)
        denominator = s_norm * p_norm
        eta = lr_value / denominator if denominator > 0.0 else 0.0
    else:
        eta = lr_value
    new_norm2 = _step_norm_squared(Rt, eta, Zt)
    if loss is not None:
        new_loss = _custom_step_loss(Rt, eta, Zt, loss[0])
    elif power == 2:
        new_loss = new_norm2
    else:
        new_loss = _step_power_sum(Rt, eta, Zt, power)
    error = (new_loss - loss_offset) * inv_m
    if not (error <= error_limit):  # also catches NaN
        return np.nan, error, r_norm2
    if eta != 0.0:
        _axpy(Rt, eta, Zt)
    if rows == n_out:
        if eta != 0.0:
            _axpy(W, eta, G)
        if S_next.size > 0:
            gemm(False, False, 1.0, S, W, 0.0, S_next, scal, counts, k)
    else:
        _blocked_step(W, S, At, S_next, eta, rows, work_g, work_s, scal, counts)
    return eta, error, new_norm2


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
def _blocked_step(W, S, At, S_next, eta, rows, work_g, work_s, scal, counts):
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
            gemm(True, True, 1.0, S_cols, At, 0.0, G_rows, scal, counts, k)
            _axpy(W_rows, eta, G_rows)
        if S_next.size > 0:
            gemm(False, False, 1.0, S_cols, W_rows, 0.0 if r0 == 0 else 1.0, S_next, scal,
                 counts, k)


@njit(cache=True, nogil=True)
def _prefix_pass(w, woff, widths, X, pbuf, poff, pnorms, Rt, Yt, scal, counts):
    """Descending pre-pass: all prefixes with the old weights (and their squared norms while
    they are in cache), and a fresh residual."""
    L = widths.size - 1
    k = widths[L]
    r = Yt.shape[0]
    for i in range(L - 1):
        W = _block(w, woff, i, widths[i + 1], widths[i])
        P = _prefix(X, pbuf, poff, i, widths[i], r)
        P_next = _block(pbuf, poff, i + 1, widths[i + 1], r)
        gemm(False, False, 1.0, W, P, 0.0, P_next, scal, counts, k)
        pnorms[i + 1] = sum_squares(P_next)
    W = _block(w, woff, L - 1, k, widths[L - 1])
    gemm(True, True, 1.0, _prefix(X, pbuf, poff, L - 1, widths[L - 1], r), W, 0.0, Rt, scal,
         counts, k)
    _axpy(Rt, 1.0, Yt)


@njit(cache=True, nogil=True)
def _suffix_pass(w, woff, widths, sbuf, soff, work_b, scal, counts):
    """Ascending pre-pass: all suffixes with the old weights, and a fresh residual."""
    L = widths.size - 1
    k = widths[L]
    for i in range(L - 1, 0, -1):
        S = _block(sbuf, soff, i, k, widths[i + 1])
        W = _block(w, woff, i, widths[i + 1], widths[i])
        gemm(False, False, 1.0, S, W, 0.0, _block(sbuf, soff, i - 1, k, widths[i]), scal, counts,
             k)
    end_to_end = work_b[: k * widths[0]].reshape((k, widths[0]))
    S = _block(sbuf, soff, 0, k, widths[1])
    gemm(False, False, 1.0, S, _block(w, woff, 0, widths[1], widths[0]), 0.0, end_to_end, scal,
         counts, k)
    return end_to_end


@njit(cache=True, nogil=True)
def _start_sweep(w, woff, widths, X, pbuf, poff, pnorms, sbuf, soff, Rt, Yt, work_b, order,
                 scal, counts):
    """The pre-pass of a sweep: the caches with the old weights and a fresh residual (no
    drift across sweeps). Returns ``||R||_F^2``."""
    k = widths[widths.size - 1]
    if order == DESCENDING:
        _prefix_pass(w, woff, widths, X, pbuf, poff, pnorms, Rt, Yt, scal, counts)
    else:
        end_to_end = _suffix_pass(w, woff, widths, sbuf, soff, work_b, scal, counts)
        gemm(True, True, 1.0, X, end_to_end, 0.0, Rt, scal, counts, k)
        _axpy(Rt, 1.0, Yt)
    return sum_squares(Rt)


@njit(cache=True, nogil=True)
def _layer_views(w, woff, widths, X, pbuf, poff, sbuf, soff, pos, order):
    """``(i, W, S, P, S_next)`` of the update at ``pos``: the layer, its weight, suffix and
    prefix, and where the next suffix goes (descending; empty otherwise)."""
    L = widths.size - 1
    k = widths[L]
    i = L - 1 - pos if order == DESCENDING else pos
    new_suffix = order == DESCENDING and i > 0
    return (i, _block(w, woff, i, widths[i + 1], widths[i]),
            _block(sbuf, soff, i, k, widths[i + 1]),
            _prefix(X, pbuf, poff, i, widths[i], X.shape[1]),
            _block(sbuf, soff, i - 1 if new_suffix else i, k, widths[i] if new_suffix else 0))


@njit(cache=True, nogil=True)
def _next_prefix(W, P, i, widths, pbuf, poff, pnorms, order, scal, counts):
    """Ascending: the next layer's prefix ``W P`` with the new weight (and its norm)."""
    if order == ASCENDING and i < widths.size - 2:
        P_next = _block(pbuf, poff, i + 1, widths[i + 1], P.shape[1])
        gemm(False, False, 1.0, W, P, 0.0, P_next, scal, counts, widths[widths.size - 1])
        pnorms[i + 1] = sum_squares(P_next)


@njit(cache=True, nogil=True)
def bcgd_updates(w, woff, widths, pbuf, poff, pnorms, sbuf, soff, X, Yt, Rt,
                 work_a, work_g, work_k, work_b, work_z, work_j, work_s, blocking, gram,
                 order, lr_mode, lr_value, power, rounding, begin, end, loss_offset, inv_m,
                 error_limit, errors, rates, scal, counts, loss=None):
    """Run the layer updates at positions ``begin .. end-1`` of one BCGD sweep.

    Position 0 starts a sweep: the pre-pass rebuilds the caches with the old weights and a
    fresh residual (no drift across sweeps). Descending visits layers ``L-1 .. 0`` keeping
    ``S`` up to date with the new weights; ascending visits ``0 .. L-1`` keeping ``P``.
    ``errors[j]`` gets ``(||Rt||^2 - loss_offset) * inv_m`` after update ``begin + j`` and
    ``rates[j]`` its learning rate. ``pnorms[i]`` holds ``||P_i||_F^2`` (``pnorms[0]``, of
    ``X``, is set by the caller). Returns the number of updates done: fewer than
    ``end - begin`` when an update would diverge (error non-finite or above ``error_limit``);
    that update is not applied and its error is stored at ``errors[done]``.
    """
    if begin == 0:
        r_norm2 = _start_sweep(w, woff, widths, X, pbuf, poff, pnorms, sbuf, soff, Rt, Yt,
                               work_b, order, scal, counts)
    else:
        r_norm2 = sum_squares(Rt)
    for pos in range(begin, end):
        i, W, S, P, S_next = _layer_views(w, woff, widths, X, pbuf, poff, sbuf, soff, pos,
                                          order)
        eta, errors[pos - begin], r_norm2 = _update_layer(
            W, S, P, Rt, S_next, pnorms[i], r_norm2, work_a, work_g, work_k, work_b,
            work_z, work_j, work_s, blocking, gram, lr_mode, lr_value, power, rounding,
            loss_offset, inv_m, error_limit, scal, counts, loss)
        if np.isnan(eta):
            return pos - begin
        rates[pos - begin] = eta
        _next_prefix(W, P, i, widths, pbuf, poff, pnorms, order, scal, counts)
    return end - begin


@njit(cache=True, nogil=True)
def bcsgd_updates(w, woff, widths, pbuf, poff, pnorms, sbuf, soff, X, Yt, Rt,
                  work_a, work_g, work_k, work_b, work_z, work_m, gram, order, eta_bar,
                  sampling, draws, batches, begin, end, loss_offset, inv_m, error_limit,
                  errors, rates, scal, counts):
    """Stochastic BCGD (docs/math.md section 8): as :func:`bcgd_updates`, each update with
    one sample drawn by importance (``sampling`` 1, uniform number ``draws[pos]``) or the
    batch ``batches[pos]`` (``sampling`` 2)."""
    if begin == 0:
        _start_sweep(w, woff, widths, X, pbuf, poff, pnorms, sbuf, soff, Rt, Yt, work_b,
                     order, scal, counts)
    for pos in range(begin, end):
        i, W, S, P, S_next = _layer_views(w, woff, widths, X, pbuf, poff, sbuf, soff, pos,
                                          order)
        eta, errors[pos - begin] = _sampled_update(
            W, S, P, Rt, sampling, draws[pos], batches[pos], eta_bar, work_a, work_g,
            work_k, work_b, work_z, work_m, gram, loss_offset, inv_m, error_limit, scal,
            counts)
        if np.isnan(eta):
            return pos - begin
        rates[pos - begin] = eta
        if S_next.size > 0:
            gemm(False, False, 1.0, S, W, 0.0, S_next, scal, counts, S.shape[0])
        _next_prefix(W, P, i, widths, pbuf, poff, pnorms, order, scal, counts)
    return end - begin


@njit(cache=True, nogil=True)
def _importance_sample(P, M, work_m, u, scal, counts, k):
    """Theorem 3.6's sample: ``j`` with probability ``||p_j^T P||^2 / ||P^T P||_F^2``.

    ``M = P P^T`` is given; ``||p_j^T P||^2 = p_j^T M p_j``. Returns ``(j, ||p_j^T P||^2)``.
    """
    n, m = P.shape
    MP = work_m[: n * m].reshape((n, m))
    gemm(False, False, 1.0, M, P, 0.0, MP, scal, counts, k)
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
def _sampled_update(W, S, P, Rt, sampling, u, batch, eta_bar, work_a, work_g, work_k,
                    work_b, work_z, work_m, gram, loss_offset, inv_m, error_limit, scal,
                    counts):
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
    _gram(S, K, scal, counts, k)
    b = batch.size
    Pb = np.empty((n_in, b), P.dtype)
    Rb = np.empty((b, k), P.dtype)
    Zb = np.empty((b, k), P.dtype)
    if sampling == IMPORTANCE:
        M = gram[: n_in * n_in].reshape((n_in, n_in))
        gemm(False, True, 1.0, P, P, 0.0, M, scal, counts, k)
        j, q = _importance_sample(P, M, work_m, u, scal, counts, k)
        s_max = max(np.linalg.eigvalsh(K)[-1], 0.0)
        p_eigs = np.linalg.eigvalsh(M)
        p_min = max(p_eigs[n_in - min(n_in, m)], 0.0)  # sigma_min(P)^2, min(n, m)-th largest
        eta = p_min / s_max * eta_bar / q if s_max > 0.0 and q > 0.0 else 0.0
        for a in range(n_in):  # At = p_j r_j^T, so G = S^T At^T = S^T r_j p_j^T
            for c in range(k):
                At[a, c] = P[a, j] * Rt[j, c]
    else:
        for a in range(n_in):
            for t in range(b):
                Pb[a, t] = P[a, batch[t]]
        for t in range(b):
            for c in range(k):
                Rb[t, c] = Rt[batch[t], c]
        gemm(False, False, 1.0, Pb, Rb, 0.0, At, scal, counts, k)
    gemm(True, True, 1.0, S, At, 0.0, G, scal, counts, k)
    gemm(False, False, 1.0, At, K, 0.0, Bt, scal, counts, k)  # (S G)^T
    if sampling != IMPORTANCE:
        gemm(True, False, 1.0, Pb, Bt, 0.0, Zb, scal, counts, k)
        zz = sum_squares(Zb)
        eta = sum_squares(G) / zz if zz > 0.0 else 0.0
    Zt = work_z
    gemm(True, False, 1.0, P, Bt, 0.0, Zt, scal, counts, k)  # (S G P)^T on all samples
    new_norm2 = _step_norm_squared(Rt, eta, Zt)
    error = (new_norm2 - loss_offset) * inv_m
    if not (error <= error_limit):
        return np.nan, error
    if eta != 0.0:
        _axpy(W, eta, G)
        _axpy(Rt, eta, Zt)
    return eta, error


@njit(cache=True, nogil=True)
def gd_iteration(w, woff, widths, pbuf, poff, pnorms, sbuf, soff, X, Yt, Rt, w_previous,
                 work_a, work_b, work_g, work_j, eta, power, fresh, loss_offset, inv_m,
                 error_limit, scal, counts):
    """One gradient descent iteration: every layer at once with a constant rate (docs/math.md 8).

    All gradients use the old weights: prefixes ``P_i`` and the residual come from a forward
    pass (kept from the previous iteration unless ``fresh``), suffixes from one backward pass
    over the old weights. After the update a forward pass with the new weights gives the
    error and the caches of the next iteration. Returns ``(error, applied)``; if the error is
    non-finite or above ``error_limit`` the old weights are restored and ``applied`` is False.
    """
    L = widths.size - 1
    k = widths[L]
    r = Yt.shape[0]
    if fresh:
        _prefix_pass(w, woff, widths, X, pbuf, poff, pnorms, Rt, Yt, scal, counts)
    _suffix_pass(w, woff, widths, sbuf, soff, work_b, scal, counts)
    if power == 2:
        Jt = Rt
    else:
        Jt = work_j
        _odd_power(Rt, power - 1, Jt)
    w_previous[:] = w
    for i in range(L):
        n_out, n_in = widths[i + 1], widths[i]
        At = work_a[: n_in * k].reshape((n_in, k))
        G = work_g[: n_out * n_in].reshape((n_out, n_in))
        gemm(False, False, 1.0, _prefix(X, pbuf, poff, i, n_in, r), Jt, 0.0, At, scal, counts, k)
        gemm(True, True, 1.0, _block(sbuf, soff, i, k, n_out), At, 0.0, G, scal, counts, k)
        _axpy(_block(w, woff, i, n_out, n_in), eta, G)
    _prefix_pass(w, woff, widths, X, pbuf, poff, pnorms, Rt, Yt, scal, counts)
    loss = sum_squares(Rt) if power == 2 else _step_power_sum(Rt, 0.0, Rt, power)
    error = (loss - loss_offset) * inv_m
    if not (error <= error_limit):
        w[:] = w_previous
        return error, False
    return error, True


_CUSTOM_LOSS_FUNCTIONS = ("bcgd_updates", "_update_layer", "_custom_derivative",
                          "_custom_max_curvature", "_custom_step_loss")
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
