"""Training data made ready for an engine, apart from the stepping (core layer).

:class:`Problem` validates the data once, rescales extreme data exactly, factorizes it, finds
the global optimum the errors are measured against and hands the engine its working data:
the exact L2 compression where it applies (docs/math.md section 4), else the full data.
:class:`Scaling` maps weights, rates, errors and the optimum back to the caller's units.
Also the public :func:`global_optimum` and :func:`predict`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from ._checks import check_array, check_count, check_widths, weight_list
from .data import Data
from .factor import split_factor
from .optimum import ElementwiseLoss, Optimum, PowerLoss, convex_optimum, l2_optimum, rank_of
from .settings import Settings, check_settings
from .threads import automatic_count, blas_threads

if TYPE_CHECKING:
    from .losses import ConvexLoss

__all__ = ["Centering", "Problem", "Scaling", "chain_order", "global_optimum", "predict"]


@dataclass(frozen=True)
class Scaling:
    """The exact power-of-two rescaling of extreme data (docs/math.md section 10).

    The engine trains on ``X / x`` and ``Y / y`` with ``W_1`` multiplied by ``x / y``; for the
    line-search rates (optimal, bounded, stochastic) the trajectory is the same.
    """

    x: float = 1.0
    y: float = 1.0
    power: int = 2

    @property
    def identity(self) -> bool:
        return self.x == self.y == 1.0

    @property
    def error_unit(self) -> float:
        """Errors in the caller's units are the engine's times this."""
        return self.y ** self.power

    def weights_in(self, weights):
        """The caller's weights in the engine's units (a new list)."""
        if self.x == self.y:
            return list(weights)
        return [weights[0] * (self.x / self.y)] + list(weights[1:])

    def weights_out(self, weights):
        """The engine's weights in the caller's units (in place on the list's first entry)."""
        if self.x != self.y:
            weights[0] = weights[0] * (self.y / self.x)
        return weights

    def rates_out(self, rates, first_layer):
        """Learning rates in the caller's units; ``first_layer`` marks updates of ``W_1``."""
        if self.identity:
            return rates
        p, a, b = self.power, self.x, self.y
        return np.where(first_layer, rates * b ** (2 - p) / a ** 2, rates / b ** p)

    def optimum_out(self, optimum: Optimum) -> Optimum:
        if self.identity:
            return optimum
        return Optimum(weight=optimum.weight * (self.y / self.x),
                       loss=optimum.loss * self.error_unit,
                       rank_constrained=optimum.rank_constrained, loss_name=optimum.loss_name,
                       newton_iterations=optimum.newton_iterations)


@dataclass(frozen=True)
class Centering:
    """The (weighted) means an affine model was centered with (docs/math.md section 11)."""

    x_mean: np.ndarray
    y_mean: np.ndarray

    def intercept(self, end_to_end: np.ndarray) -> np.ndarray:
        """``b = mean(Y) - W mean(X)`` for the end-to-end matrix ``W`` ``(nL, n0)``."""
        return self.y_mean - end_to_end @ self.x_mean


def _power_of_two(largest):
    """``2^k`` near ``largest`` when it lies beyond ``2^+-64``, else 1."""
    if largest == 0.0 or 2.0 ** -64 <= largest <= 2.0 ** 64:
        return 1.0
    return float(2.0 ** np.round(np.log2(largest)))


def _scaling_for(x_size, y_size, settings):
    """Rescale only where the rates are scale-covariant line searches."""
    with np.errstate(over="ignore"):
        unit = np.float64(y_size) ** settings.power
    if not np.isfinite(unit):
        raise ValueError(
            f"Y is too large: its scale is about {y_size:.3g}, and the loss (in units of its "
            f"power {settings.power}) does not fit in float64; divide Y by a constant (the "
            "fitted weights scale with it)")
    covariant = settings.custom_loss is None and (isinstance(settings.lr, str)
                                                  or settings.training_method.samples)
    if not covariant:
        return Scaling(power=settings.power)
    a, b = _power_of_two(x_size), _power_of_two(y_size)
    if not np.isfinite(a / b) or a / b == 0.0:
        return Scaling(power=settings.power)
    return Scaling(a, b, settings.power)


class Problem:
    """Validated, rescaled and factorized training data, and its global optimum.

    The L2 loss needs only the factor ``R`` of ``[X Y]``, computed in one pass over blocks of
    rows (docs/math.md section 4): the data may be a memory map or a dask array and are never
    copied whole. The other losses (and the L2 runs that train on the full data) read the
    data once into a dense working copy.

    Parameters
    ----------
    data : fastdln.data.Data
        The training data (``X``, ``Y`` and the sample weights), validated by their shapes.
    settings : Settings
        The run's settings, checked and complete (``loss``, ``lr``, ``method``,
        ``fit_intercept`` decide the scaling, the centering and the optimum).
    rescale : bool
        Rescale extreme data where that is exact (docs/math.md section 10).
    workers : int, optional
        Threads that fold the L2 factor side by side (default: ``settings.threads``, else
        the automatic count of :mod:`fastdln.threads`).
    fingerprint : bool
        Compute the data's fingerprint (:meth:`fastdln.data.Data.fingerprint`) in the same
        pass that reads them (for checkpoints): ``self.fingerprint``, else None.
    """

    def __init__(self, data: Data, settings: Settings, *, rescale: bool = True,
                 workers: int | None = None, fingerprint: bool = False):
        self.workers = workers
        self.data = data
        self.m, self.n0, self.nL = data.m, data.n0, data.nL
        self.settings = settings
        if data.weight is not None and settings.custom_loss is not None:
            raise ValueError("sample_weight is available for the 'l2' and 'l<p>' losses, not "
                             f"for a custom loss ({settings.loss_name})")
        self.centering: Centering | None = None
        self._dense: tuple | None = None
        if settings.power == 2 and settings.custom_loss is None:
            self.fingerprint = self._factorize(rescale, fingerprint)
        else:
            self.fingerprint = self._read_dense(rescale, fingerprint)

    def _factorize(self, rescale, fingerprint):
        """L2: one pass for the factor (and the fingerprint); scale from the columns' root
        mean squares. Returns the fingerprint, or None."""
        workers = self.workers or self.settings.threads or automatic_count()
        factor = self.data.factor(center=self.settings.fit_intercept, workers=workers,
                                  fingerprint=fingerprint)
        if self.settings.fit_intercept:
            self.centering = Centering(factor.x_mean, factor.y_mean)
        R, n0 = factor.R, self.n0
        rms = _column_norms(R) / np.sqrt(self.m)  # column norms are R's column norms
        self.scaling = (_scaling_for(float(rms[:n0].max()), float(rms[n0:].max()),
                                     self.settings) if rescale else Scaling())
        if not self.scaling.identity:
            R = np.concatenate([R[:, :n0] / self.scaling.x, R[:, n0:] / self.scaling.y], 1)
        self._split = split_factor(R, n0, self.m)
        self.rank = self._split.rank
        self.y_norm2 = self._split.y_norm2
        return factor.fingerprint

    def _read_dense(self, rescale, fingerprint):
        """Lp and custom losses: the data in memory (weighted rows), and their SVD. Returns
        the fingerprint (taken as the data are read), or None."""
        power = self.settings.power
        weight = self.data.weight
        root = None if weight is None else weight ** (1.0 / power)
        X, Y, digest = self.data.dense(root_weight=root, fingerprint=fingerprint)
        self.scaling = (_scaling_for(float(np.max(np.abs(X))), float(np.max(np.abs(Y))),
                                     self.settings) if rescale else Scaling(power=power))
        if not self.scaling.identity:
            X /= self.scaling.x
            Y /= self.scaling.y
        self._dense = (X, Y)
        U, s, Vt = np.linalg.svd(X, full_matrices=False)
        r = rank_of(s, X.shape)
        self._svd = (U[:, :r], s[:r], Vt[:r])
        self.rank = r
        self.y_norm2 = float(np.sum(Y * Y))
        return digest

    def optimum(self, min_width: int) -> Optimum:
        """The global optimum for networks whose narrowest layer has ``min_width`` units."""
        if self._dense is None:
            split = self._split
            weight, compressed_loss, constrained = l2_optimum(split.s, split.Vt, split.Yc,
                                                              min_width)
            return Optimum(weight=weight, loss=split.unreachable + compressed_loss,
                           rank_constrained=constrained)
        return self._convex_optimum(min_width)

    def _convex_optimum(self, min_width):
        name, power, custom = (self.settings.loss_name, self.settings.power,
                               self.settings.custom_loss)
        if min_width < min(self.n0, self.nL):
            raise ValueError(
                f"widths bind the rank (min(widths) = {min_width} < min(n0, nL)): the {name} "
                "optimum under a rank constraint is not available; use loss='l2' or wider "
                "layers")
        if custom is not None and custom.second_derivative is None:
            raise ValueError(f"the {name} loss has no second_derivative: Newton's method for "
                             "its optimum needs it (ConvexLoss(..., second_derivative=...))")
        elementwise = ElementwiseLoss(custom) if custom is not None else PowerLoss(power)
        X, Y = self._dense
        weight, iterations = convex_optimum(*self._svd, Y, elementwise)
        loss = float(np.sum(elementwise.value(X @ weight.T - Y)))
        return Optimum(weight=weight, loss=loss, rank_constrained=False, loss_name=name,
                       newton_iterations=iterations)

    def working_data(self, optimum: Optimum):
        """``(Xw, Yw, Ow, Rw, compressed)`` for the engine, columns are samples.

        The exact L2 compression (docs/math.md section 4) where it is exact and gains
        something (``compress="auto"``: when ``rank(X) < m``), or is asked for; else the full
        data. ``Ow = W* Xw`` is the optimum's output, the target the fast engine keeps its
        residual against, and ``Rw = Ow - Yw`` the optimum's residual, so that errors are
        measured without cancellation (docs/math.md section 12). ``Rw`` is None where it is
        orthogonal to the rows of ``Xw`` (L2 with a rank the widths do not bind, no
        sampling): there the gradients are those of the residual against ``Ow`` alone.
        """
        settings = self.settings
        exact = self._dense is None and not settings.training_method.samples
        wanted = settings.compress is True or (settings.compress == "auto"
                                               and self.rank < self.m)
        orthogonal = exact and not optimum.rank_constrained
        compressed = settings.engine == "fast" and exact and wanted
        if compressed:
            split = self._split
            Xw, Yw = split.Vt.T * split.s, split.Yc.T
            if orthogonal:  # W* Xw = Yw exactly
                return Xw, Yw, Yw, None, True
        else:
            X, Y = self._dense if self._dense is not None else self._dense_l2()
            Xw, Yw = X.T, Y.T
        Ot = Xw.T @ optimum.weight.T  # (r, nL) C-contiguous: the engine's layout, no copy
        Ow = Ot.T
        return Xw, Yw, Ow, None if orthogonal else (Ot - Yw.T).T, compressed
    def _dense_l2(self):
        """The L2 data in memory as the engine trains on them: centered, weighted, scaled."""
        weight, centering, scaling = self.data.weight, self.centering, self.scaling
        X, Y, _ = self.data.dense(
            x_shift=None if centering is None else centering.x_mean,
            y_shift=None if centering is None else centering.y_mean,
            root_weight=None if weight is None else np.sqrt(weight))
        if not scaling.identity:
            X /= scaling.x
            Y /= scaling.y
        return X, Y


def _column_norms(A):
    """Euclidean norms of the columns, without overflow for entries beyond 1e154."""
    largest = np.max(np.abs(A), axis=0) if A.size else np.zeros(A.shape[1])
    safe = np.where(largest > 0, largest, 1.0)
    return largest * np.sqrt(np.sum((A / safe) ** 2, axis=0))


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
    loss : {"l2", "l4", "l6", ...} or fastdln.losses.ConvexLoss
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
    problem = Problem(Data(X, Y), check_settings(loss=loss), rescale=False)
    min_width = min(problem.n0, problem.nL)
    if widths is not None:
        min_width = min(check_widths(widths, problem.n0, problem.nL))
    return problem.optimum(min_width)


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
        machine's load, see ``fastdln.threads``).

    Returns
    -------
    ndarray of float64, shape (m, nL)
    """
    threads = None if threads is None else check_count(threads, "threads", 1)
    with blas_threads(automatic_count() if threads is None else threads):
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
