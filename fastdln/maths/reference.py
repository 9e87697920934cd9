"""The naive reference implementation of BCGD, straight from the paper's formulas.

Every layer update recomputes the suffix product ``S = W_{L:i+1}`` and the prefix product
``P = W_{i-1:1} X`` from scratch on the full data (O(L) products per update, O(L^2) per
sweep) and every recorded error is a fresh forward pass. No caches, no compression, no width
reduction: this module is the truth that the fast engine is tested against and the baseline
of the benchmarks, so it stays obviously correct rather than fast. Formulas only (maths
layer): run it with ``fastdln.train(..., engine="reference")``.

The paper's convention is used: ``X`` is ``(n0, m)`` and ``Y`` is ``(nL, m)`` (columns are
samples); equations are those of docs/math.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["LayerUpdate", "gd_update", "l2_loss", "layer_update", "learning_rate",
           "loss_difference", "loss_value", "prefix_product", "residual_loss", "sampled_update",
           "suffix_product"]


def suffix_product(weights, i):
    """``S = W_L ... W_{i+1}`` for the 1-based layer ``i`` (identity of size nL if i = L)."""
    S = np.eye(weights[-1].shape[0], dtype=weights[-1].dtype)
    for W in reversed(weights[i:]):
        S = S @ W
    return S


def prefix_product(weights, i, X):
    """``P = W_{i-1} ... W_1 X`` for the 1-based layer ``i`` (``X`` itself if i = 1)."""
    P = X
    for W in weights[: i - 1]:
        P = W @ P
    return P


def loss_value(weights, X, Y, power=2, custom_loss=None):
    """``sum |W_L ... W_1 X - Y|^p`` (paper convention; ``p = 2``: the squared F-norm), or
    ``sum l(W_L ... W_1 X - Y)`` for a custom loss."""
    return residual_loss(prefix_product(weights, len(weights) + 1, X) - Y, power, custom_loss)


def residual_loss(R, power=2, custom_loss=None):
    """``sum R^p`` over the entries of a residual (``p`` even), or ``sum l(R)`` for a custom
    loss (docs/math.md section 1)."""
    if custom_loss is not None:
        return float(np.sum(custom_loss.elementwise("value", R)))
    return float(np.sum(np.asarray(R, dtype=np.float64) ** power))


def loss_difference(D, R_opt, power=2, custom_loss=None, constrained=False):
    """``sum l(R_opt + D) - l(R_opt)`` over the entries, without cancellation.

    ``loss(W) - loss(W*)`` computed as a difference of two sums loses everything below
    ``eps loss(W*)``: near the optimum it cancels to noise or to an exact, false 0. Here ``D =
    (W - W*) X`` is the output's distance to the optimum's output and ``R_opt = W* X - Y``
    the optimum's residual. Where the optimum is unconstrained its gradient vanishes
    (``sum l'(s) d = 0``) and each entry contributes ``l(s + d) - l(s) - l'(s) d``: ``d^2``
    (L2), ``d^2 sum_{j>=2} C(p, j) s^(p-j) d^(j-2)`` (``|r|^p``), ``value(s + d) - value(s) -
    derivative(s) d`` (custom). L2 under a binding rank constraint (``constrained``) adds
    ``2 s d``. The result keeps its relative accuracy down to errors of about ``(eps d)``
    relative (docs/math.md section 12).
    """
    D = np.asarray(D, dtype=np.float64)
    S = np.broadcast_to(np.asarray(R_opt, dtype=np.float64), D.shape)
    if custom_loss is not None:
        return float(np.sum(custom_loss.elementwise("value", S + D)
                            - custom_loss.elementwise("value", S)
                            - custom_loss.elementwise("derivative", S) * D))
    if power == 2:
        return float(np.sum(D * D + (2.0 * S * D if constrained else 0.0)))
    remainder = np.zeros_like(D)
    for j in range(power, 1, -1):  # Horner in d: sum_j C(p, j) s^(p-j) d^(j-2)
        remainder = remainder * D + math.comb(power, j) * S ** (power - j)
    return float(np.sum(D * D * remainder))


def l2_loss(weights, X, Y):
    """``||W_L ... W_1 X - Y||_F^2`` (paper convention)."""
    return loss_value(weights, X, Y, 2)


@dataclass
class LayerUpdate:
    """What one reference update of layer ``i`` computed (docs/math.md section 2)."""

    layer: int
    R: np.ndarray  # residual before the update, S W P - Y
    G: np.ndarray  # gradient S^T R P^T
    Z: np.ndarray  # S G P
    eta: float


def learning_rate(lr, G, Z, S, P, eta_bar=1.0, R=None, power=2, custom_loss=None):
    """The step size of one update: ``"optimal"`` (3.4), ``"bounded"`` (3.2) or a constant.

    For the Lp loss (``power = p > 2``) ``"optimal"`` is the near-optimal rate (3.11),
    ``||G||^2 / ((p-1) max|R|^(p-2) ||Z||^2)``; for a custom loss (3.10),
    ``||G||^2 / (max C(R) ||Z||^2)``.
    """
    if lr == "optimal":
        zz = float(np.sum(Z * Z))
        if custom_loss is not None:
            zz *= float(np.max(custom_loss.elementwise("curvature", R)))
        elif power > 2:
            zz *= (power - 1) * float(np.max(np.abs(R))) ** (power - 2)
        return float(np.sum(G * G)) / zz if zz > 0 else 0.0
    if lr == "bounded":
        denominator = np.linalg.norm(S, 2) ** 2 * np.linalg.norm(P, 2) ** 2
        return float(eta_bar / denominator) if denominator > 0 else 0.0
    return float(lr)


def layer_update(weights, i, X, Y, lr="optimal", eta_bar=1.0, rounding=0.0, power=2,
                 custom_loss=None):
    """Update the 1-based layer ``i`` of ``weights`` in place by one BCGD step.

    ``R = S W_i P - Y``, ``J = l'(R)`` (``R`` for L2, ``R^(p-1)`` for ``|r|^p / p``),
    ``G = S^T J P^T``, ``Z = S G P``, ``W_i <- W_i - eta G``. A gradient with
    ``||G|| <= rounding ||S|| ||J|| ||P||`` (Frobenius norms) is rounding noise and the update
    is skipped (``eta = 0``), like ``Z = 0`` (docs/math.md section 2).
    """
    S = suffix_product(weights, i)
    P = prefix_product(weights, i, X)
    W = weights[i - 1]
    R = S @ W @ P - Y
    J = custom_loss.elementwise("derivative", R) if custom_loss else R ** (power - 1)
    G = S.T @ J @ P.T
    Z = S @ G @ P
    noise = rounding * np.linalg.norm(S) * np.linalg.norm(J) * np.linalg.norm(P)
    eta = 0.0 if np.linalg.norm(G) <= noise else learning_rate(lr, G, Z, S, P, eta_bar, R,
                                                                  power, custom_loss)
    weights[i - 1] = W - eta * G
    return LayerUpdate(layer=i, R=R, G=G, Z=Z, eta=eta)


def sampled_update(weights, i, X, Y, sampling, u, batch, eta_bar=1.0):
    """One stochastic BCGD update of the 1-based layer ``i``, in place (docs/math.md section 8).

    ``sampling="importance"`` (Theorem 3.6): sample ``j`` with probability
    ``||p_j^T P||^2 / ||P^T P||_F^2`` (the first ``j`` whose cumulative probability reaches
    ``u``), ``W_i -= eta S^T r_j p_j^T`` with
    ``eta = (sigma_min(P)^2 / sigma_max(S)^2) eta_bar / ||p_j^T P||^2``.
    ``sampling="uniform"``: the columns ``batch``; the batch gradient with its optimal rate.
    Returns ``eta``.
    """
    S = suffix_product(weights, i)
    P = prefix_product(weights, i, X)
    W = weights[i - 1]
    R = S @ W @ P - Y
    if sampling == "importance":
        q = np.einsum("aj,aj->j", P, (P @ P.T) @ P)  # ||p_j^T P||^2
        cumulative = np.cumsum(q)
        candidates = np.flatnonzero((cumulative >= u * cumulative[-1]) & (q > 0))
        j = candidates[0] if candidates.size else np.flatnonzero(q > 0)[-1]
        singular = np.linalg.svd(P, compute_uv=False)
        sigma_min = singular[min(P.shape) - 1]
        sigma_max_S = np.linalg.norm(S, 2)
        eta = (sigma_min ** 2 / sigma_max_S ** 2) * eta_bar / q[j]
        G = S.T @ np.outer(R[:, j], P[:, j])
    else:
        G = S.T @ R[:, batch] @ P[:, batch].T
        Z = S @ G @ P[:, batch]
        zz = float(np.sum(Z * Z))
        eta = float(np.sum(G * G)) / zz if zz > 0 else 0.0
    weights[i - 1] = W - eta * G
    return float(eta)


def gd_update(weights, X, Y, eta, power=2):
    """One gradient descent iteration on every layer at once, in place (docs/math.md section 8).

    Every gradient ``G_i = S_i^T J P_i^T`` is computed from the old weights first, then all
    layers take the step ``W_i <- W_i - eta G_i``.
    """
    depth = len(weights)
    J = (prefix_product(weights, depth + 1, X) - Y) ** (power - 1)
    gradients = [suffix_product(weights, i).T @ J @ prefix_product(weights, i, X).T
                 for i in range(1, depth + 1)]
    for i, G in enumerate(gradients):
        weights[i] = weights[i] - eta * G
    return gradients
