"""The paper's theoretical quantities, for diagnostics and tests (docs/math.md sections 2, 8, 9).

Data follow the public convention (rows are samples); ``X`` is ``(m, n0)``. Condition numbers
of ``X`` are those of the paper's ``n0 x m`` matrix ``X^T`` (the same singular values).
"""

from __future__ import annotations

import math

import numpy as np

from . import reference
from ._checks import check_array, check_count, check_positive_float

__all__ = ["gd_rate", "R_L", "h", "c_constant", "initial_radius", "sweep_rate",
           "theorem_3_4_bound", "gamma_bounded", "kappa_r",
           "layer_diagnostics"]


def gd_rate(X, depth, nL):
    """The constant GD learning rate ``nL / (3 L ||X||_2^2)`` of the paper's reference [11].

    The paper saw GD diverge with it (Section 4); use it as a baseline, not a recommendation.
    """
    X = check_array(X, "X", (2,))
    depth = check_count(depth, "depth", minimum=1)
    nL = check_count(nL, "nL", minimum=1)
    return nL / (3.0 * depth * np.linalg.norm(X, 2) ** 2)


def R_L(L):
    """``R_L = 2 / ((5L - 3) + sqrt((5L - 3)^2 - 4L))`` of Theorem 3.3; ``L R_L -> 1/5``."""
    L = check_count(L, "L", minimum=1)
    a = 5.0 * L - 3.0
    return 2.0 / (a + math.sqrt(a * a - 4.0 * L))


def h(L):
    """``h(L) = L R_L (1 - R_L)^(2L-2) / (1 + R_L)^(3L-1)`` of (3.6)."""
    r = R_L(L)
    return L * r * (1.0 - r) ** (2 * L - 2) / (1.0 + r) ** (3 * L - 1)


def _kappa_and_scaled_sigma(X, W_star):
    X = check_array(X, "X", (2,))
    W_star = check_array(W_star, "W_star", (2,))
    s = np.linalg.svd(X, compute_uv=False)
    output = X @ W_star.T  # (W* X)^T in the paper's convention
    sigma_min = np.linalg.svd(output, compute_uv=False)[min(output.shape) - 1]
    return s[0] / s[-1], sigma_min / s[0]


def c_constant(X, W_star, L):
    """The constant ``c`` of (3.6): ``1 + kappa^2 (1 + sqrt(1 + 4 h s / kappa^2)) / (2 h s)``.

    ``kappa = kappa(X)``, ``s = sigma_min(W* X) / ||X||``, ``h = h(L)``.
    """
    kappa, s = _kappa_and_scaled_sigma(X, W_star)
    hl = h(L)
    return 1.0 + kappa ** 2 * (1.0 + math.sqrt(1.0 + 4.0 * hl * s / kappa ** 2)) / (2.0 * hl * s)


def initial_radius(X, W_star, L):
    """Theorem 3.3's radius ``sigma_min(W* X) / (||X|| c)`` for ``||W_0 - W*||_F``."""
    _, s = _kappa_and_scaled_sigma(X, W_star)
    return s / c_constant(X, W_star, L)


def sweep_rate(kappa, L, eta=1.0):
    """Theorem 3.3's factor per sweep, ``gamma^(2L)`` with ``gamma = 1 - eta / (5 kappa^2)``."""
    kappa = check_positive_float(kappa, "kappa")
    eta = check_positive_float(eta, "eta", upper=1.0 + 1e-12)
    L = check_count(L, "L", minimum=1)
    return (1.0 - eta / (5.0 * kappa ** 2)) ** (2 * L)


def theorem_3_4_bound(initial_gap, kappa, L, k, eta=1.0):
    """Theorem 3.4's bound (3.7) on ``loss(W_k) - loss(W*)`` after ``k >= 1`` sweeps (nL = 1).

    ``initial_gap * (1 - eta/kappa^2)^(2(L+k-1)) * (gamma^(2(L-1)))^(k-1)``, with
    ``gamma = 1 - eta / (5 kappa^2)``.
    """
    k = check_count(k, "k", minimum=1)
    L = check_count(L, "L", minimum=1)
    first = (1.0 - eta / kappa ** 2) ** (2 * (L + k - 1))
    gamma = 1.0 - eta / (5.0 * kappa ** 2)
    return initial_gap * first * (gamma ** (2 * (L - 1))) ** (k - 1)


def kappa_r(A, r):
    """``kappa_r(A) = sigma_max(A) / sigma_r(A)`` (inf when ``sigma_r`` is 0 or missing)."""
    s = np.linalg.svd(np.asarray(A, dtype=float), compute_uv=False)
    if r < 1 or r > s.size or s[r - 1] == 0.0:
        return math.inf
    return float(s[0] / s[r - 1])


def gamma_bounded(kappa_S, kappa_P, eta=1.0):
    """Theorem 3.2's per-update factor ``max(1 - eta / (kappa_r(S)^2 kappa_rx(P)^2), eta - 1)``."""
    return max(1.0 - eta / (kappa_S ** 2 * kappa_P ** 2), eta - 1.0)


def layer_diagnostics(weights, i, X, rank_S, rank_P, eta=1.0):
    """Theorem 3.2's ``(kappa_r(S), kappa_rx(P), gamma)`` before updating the 1-based layer
    ``i`` (paper convention: ``X`` is ``(n0, m)``; docs/math.md section 2).

    ``rank_S`` is the rank ``r`` of the optimum, ``rank_P`` that of the data; ``eta`` is
    ``eta_bar`` of the bounded rate (1 for the others).
    """
    kappa_S = kappa_r(reference.suffix_product(weights, i), rank_S)
    kappa_P = kappa_r(reference.prefix_product(weights, i, X), rank_P)
    return kappa_S, kappa_P, gamma_bounded(kappa_S, kappa_P, eta)
