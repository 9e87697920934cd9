"""The network as one linear map ``W = W_L ... W_1`` (core layer): the best such map for the
data (:func:`global_optimum`) and applying a network to data (:func:`predict`, in the
cheapest order of its matrix chain, :func:`chain_order`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from ..maths._checks import check_array, check_count, check_widths, weight_list
from .data import Data
from ..maths.optimum import Optimum
from .problem import Problem
from .settings import check_settings
from .threads import blas_threads

if TYPE_CHECKING:
    from ..maths.losses import ConvexLoss

__all__ = ["chain_order", "global_optimum", "predict"]


def global_optimum(X: ArrayLike, Y: ArrayLike, widths: Sequence[int] | None = None, *,
                   loss: str | ConvexLoss = "l2") -> Optimum:
    """The global minimizer of the deep linear network's loss over end-to-end matrices.

    Parameters
    ----------
    X : array_like, shape (m, n0)
        Inputs, one sample per row.
    Y : array_like, shape (m, nL) or (m,)
        Targets, one sample per row.
    widths : sequence of int, optional
        ``[n0, ..., nL]``. When ``rank(Y X^+) > min(widths)`` the end-to-end matrix is rank
        constrained and formula (A.2) of the paper gives the optimum; otherwise (or when
        ``widths`` is None) the least-norm solution ``Y X^+``.
    loss : {"l2", "l4", "l6", ...}, a name in fastdln.losses.REGISTRY or a ConvexLoss
        Loss ``sum |X W^T - Y|^p`` (or ``sum l(X W^T - Y)``). Beyond L2 the problem is
        smooth and convex and is solved by Newton's method with a backtracking line search
        from the L2 optimum, to a relative gradient norm of 1e-12 (no closed form; a binding
        rank constraint is refused).

    Returns
    -------
    Optimum
        ``.weight`` of shape ``(nL, n0)`` and ``.loss``.

    Notes
    -----
    (A.2): with the compact SVD ``X = Ux Sx Vx^T`` (paper's columns-are-samples ``X``) and the
    compact SVD ``Y Vx = Uy Sy Vy^T``, ``W* = Uy D Vy^T Sx^-1 Ux^T`` where ``D`` keeps the
    top ``min(widths)`` singular values (docs/math.md section 7). This is not the best
    low-rank approximation of ``Y X^+``.
    """
    data = Data(X, Y)
    min_width = min(data.n0, data.nL)
    if widths is not None:
        min_width = min(check_widths(widths, data.n0, data.nL))
    with blas_threads(None) as count:  # one count for all of its BLAS work, under the lock
        return Problem(data, check_settings(loss=loss), rescale=False,
                       workers=count).optimum(min_width)


def chain_order(dims: Sequence[int], split_limit: float | None = None):
    """The cheapest order of a matrix chain product, by dynamic programming.

    Parameters
    ----------
    dims : sequence of int
        ``[p_0, ..., p_N]``: matrix ``i`` of the chain is ``p_i x p_{i+1}``.
    split_limit : float, optional
        Run the full ``O(N^3)`` dynamic programme only when its work (``N^3 / 6`` steps) is
        at most this; beyond it, the best of the orders that multiply the first matrix
        through the chain up to some ``k`` and the rest from the right (``O(N)``).
        None: always the full programme.

    Returns
    -------
    cost : float
        Multiply-adds of the chosen order.
    split : ndarray of int, shape (N, N)
        ``split[i, j] = k``: the product of matrices ``i..j`` is ``(i..k) (k+1..j)``.
    """
    p = np.asarray(dims, dtype=np.float64)
    n = len(p) - 1
    if split_limit is not None and n > 2 and n ** 3 / 6 > split_limit:
        return _one_split_order(p)
    cost = np.zeros((n, n))
    split = np.zeros((n, n), dtype=np.int64)
    for length in range(1, n):
        i = np.arange(n - length)
        j = i + length
        k = i[:, None] + np.arange(length)
        total = cost[i[:, None], k] + cost[k + 1, j[:, None]] + p[i, None] * p[k + 1] * p[
            j + 1, None]
        best = np.argmin(total, axis=1)
        cost[i, j] = total[i, best]
        split[i, j] = k[i, best]
    return float(cost[0, n - 1]), split


def _one_split_order(p):
    """Matrices ``0..k`` left to right, times ``k+1..N-1`` right to left: the best ``k``."""
    n = len(p) - 1
    left = np.concatenate([[0.0], np.cumsum(p[0] * p[1:n] * p[2:])])  # 0..k, k = 0..n-1
    steps = p[1:n - 1] * p[2:n] * p[n]  # matrix a times (a+1..n-1), a = 1..n-2
    right = np.concatenate([np.cumsum(steps[::-1])[::-1], [0.0, 0.0]])[:n]  # k+1..n-1
    total = left + right + np.concatenate([p[0] * p[1:n] * p[n], [0.0]])
    k = int(np.argmin(total))
    split = np.zeros((n, n), dtype=np.int64)
    split[0, 1:k + 1] = np.arange(k)
    if k < n - 1:
        split[0, n - 1] = k
        split[k + 1:n - 1, n - 1] = np.arange(k + 1, n - 1)
    return float(total[k]), split


def _chain_product(matrices, split, i, j):
    """Matrices ``i..j`` multiplied in the order of ``split`` (no recursion)."""
    stack, done = [(i, j, False)], []
    while stack:
        a, b, ready = stack.pop()
        if a == b:
            done.append(matrices[a])
        elif ready:
            right = done.pop()
            done.append(done.pop() @ right)
        else:
            k = split[a, b]
            stack += [(a, b, True), (k + 1, b, False), (a, k, False)]
    return done[0]


def _factors_after_x(matrices, split):
    """``[P_1, P_2, ...]`` with ``X P_1 P_2 ...`` the chain ``X A_1 ... A_N`` in the order
    of ``split`` (the first matrix, ``X``, always sits in the leftmost factor)."""
    factors, j = [], len(matrices) - 1
    while j > 0:
        k = split[0, j]
        factors.append(_chain_product(matrices, split, k + 1, j))
        j = k
    return factors[::-1]


def _check_inputs(X):
    """``X`` as an array (not copied), its kind and shape checked."""
    X = X if isinstance(X, np.ndarray) else np.asarray(X)
    if X.dtype.kind not in "iuf" or X.dtype == np.float16:
        raise TypeError(f"X must be a real array of integers or float32/float64, got dtype "
                        f"{X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got an array of shape {X.shape}")
    if X.size == 0:
        raise ValueError(f"X must not be empty, got shape {X.shape}")
    return X


def _float64_weights(weights, n0):
    """The weights as float64 arrays (copied only when of another dtype) and the widths,
    checked like ``_checks.check_weights`` checks them."""
    weights = weight_list(weights)
    out, widths = [], [n0]
    for j, W in enumerate(weights):
        W = W if isinstance(W, np.ndarray) else np.asarray(W)
        if W.dtype.kind not in "iuf" or W.dtype == np.float16 or W.ndim != 2 or W.size == 0:
            check_array(W[:1, :1] if W.ndim == 2 and W.size else W, f"weights[{j}]", (2,))
        if j == 0 and W.shape[1] != n0:
            raise ValueError(f"weights[0] must have {n0} columns (the number of features of "
                             f"X), got shape {W.shape}")
        if W.shape[1] != widths[-1]:
            raise ValueError(f"weights do not chain: weights[{j}] has shape {W.shape} but "
                             f"weights[{j - 1}] has {widths[-1]} rows")
        W = W.astype(np.float64, copy=False)
        if not (np.isfinite(W.sum()) or np.all(np.isfinite(W))):
            raise ValueError(f"weights[{j}] must be finite (no NaN or inf), found some")
        out.append(W)
        widths.append(W.shape[0])
    return out, widths


def _check_finite_rows(block, start):
    """Raise naming the first non-finite entry (row ``start + i``, column ``j``) of ``X``."""
    if np.isfinite(block.sum()) or np.all(np.isfinite(block)):  # a finite sum: all finite
        return
    i, j = np.argwhere(~np.isfinite(block))[0]
    raise ValueError(f"X must be finite: row {start + i}, column {j} is {block[i, j]}")


# The full order search runs when its N^3 / 6 steps (about 30 ns each) are at most this
# fraction of the multiply-adds of a good order (a few hundredths of a ns each).
_ORDER_BUDGET = 1e-4
# Rows of X per block: a block of 2^18 float64 entries (2 MiB) stays in cache between the
# finiteness check and its products.
_BLOCK_ENTRIES = 2 ** 18


def predict(X: ArrayLike, weights: Sequence[ArrayLike],
            intercept: ArrayLike | None = None, *, threads: int | None = None) -> np.ndarray:
    """Network output ``X W_1^T ... W_L^T (+ intercept)`` for rows-are-samples inputs.

    The product is taken in the cheapest order of the chain ``X, W_1^T, ..., W_L^T``
    (:func:`chain_order`): usually the end-to-end matrix first, then one product with ``X``.
    ``X`` is read by blocks of rows, converted to float64 and checked a block at a time (never
    copied whole).

    Parameters
    ----------
    X : array_like, shape (m, n0)
        Inputs (integers, float32 or float64; a memory map is read by blocks).
    weights : list of array_like
        ``W_l`` of shape ``(n_l, n_{l-1})``.
    intercept : array_like, shape (nL,), optional
        Added to every output row (a model trained with ``fit_intercept=True``).
    threads : int, optional
        BLAS threads for the products, as the training option (default: chosen from the
        machine's load, see ``fastdln.core.threads``).

    Returns
    -------
    ndarray of float64, shape (m, nL)
    """
    threads = None if threads is None else check_count(threads, "threads", 1)
    with blas_threads(threads):
        return _predict(X, weights, intercept)


def _predict(X, weights, intercept):
    X = _check_inputs(X)
    weights, widths = _float64_weights(weights, X.shape[1])
    b = None
    if intercept is not None:
        b = check_array(intercept, "intercept", (1,))
        if b.shape != (widths[-1],):
            raise ValueError(f"intercept must have one entry per output ({widths[-1]}), got "
                             f"shape {b.shape}")
    m = X.shape[0]
    dims = [m] + widths
    bound, _ = chain_order(dims, split_limit=0.0)  # the O(L) search: an upper bound
    _, split = chain_order(dims, split_limit=_ORDER_BUDGET * bound)
    factors = _factors_after_x([None] + [W.T for W in weights], split)
    out = np.empty((m, widths[-1]))
    rows = max(1, _BLOCK_ENTRIES // X.shape[1])
    for start in range(0, m, rows):
        block = np.asarray(X[start:start + rows], dtype=np.float64)
        _check_finite_rows(block, start)
        for P in factors[:-1]:
            block = block @ P
        np.matmul(block, factors[-1], out=out[start:start + rows])
    if b is not None:
        out += b
    return out
