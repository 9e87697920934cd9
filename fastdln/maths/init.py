"""The initializations of the paper's Section 2.3 (docs/math.md section 6), registered by name.

Each one is an :class:`Initialization` in :data:`REGISTRY`; :data:`INITS` (the ``init``
option's choices), the settings, the command line and the tests read them from there. Adding
one means a function here and its entry (docs/extending.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ._checks import check_choice, check_count, check_dtype, check_rng, check_widths
from ._memory import check_fits, draw_copies

__all__ = ["INITS", "REGISTRY", "Initialization", "init_weights", "layer_widths"]


@dataclass(frozen=True)
class Initialization:
    """An initialization: its name, one line for help texts, whether it draws from the seed,
    and ``draw(widths, rng)`` -> the float64 weights ``W_l`` of shape ``(n_l, n_{l-1})``."""

    name: str
    summary: str
    random: bool
    draw: Callable[[list[int], np.random.Generator], list[np.ndarray]]


def _padded(shape, block):
    """``shape`` zeros with ``block`` in the top-left corner ("A ~ B" of the paper)."""
    out = np.zeros(shape)
    out[: block.shape[0], : block.shape[1]] = block
    return out


def _haar_orthogonal(size, rng):
    """A Haar-distributed random orthogonal matrix of the given size.

    The Q factor of a Gaussian matrix with the signs of R's diagonal moved into it (Mezzadri,
    "How to generate random matrices from the classical compact groups"): the draws of
    ``scipy.stats.ortho_group.rvs(size, random_state=rng)``, bit for bit, without importing
    scipy.stats (0.3-0.7 s).
    """
    if size == 1:
        return np.array([[1.0]])
    q, r = np.linalg.qr(rng.normal(size=(size, size)))
    d = r.diagonal()
    q *= (d / abs(d))[np.newaxis, :]
    return q


def _orthogonal(widths, rng):
    return [
        _padded((n_out, n_in), _haar_orthogonal(min(n_out, n_in), rng))
        for n_in, n_out in zip(widths[:-1], widths[1:])
    ]


def _orth_identity(widths, rng):
    dmax = max(widths[0], widths[-1])
    weights = []
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        size = min(n_out, n_in)
        k = min(size, dmax)
        block = np.eye(size)
        block[:k, :k] = _haar_orthogonal(k, rng)
        weights.append(_padded((n_out, n_in), block))
    return weights


def _identity(widths, rng):
    return [
        _padded((n_out, n_in), np.eye(min(n_out, n_in)))
        for n_in, n_out in zip(widths[:-1], widths[1:])
    ]


def _balanced(widths, rng):
    n0, nL, depth = widths[0], widths[-1], len(widths) - 1
    target = rng.normal(0.0, 1.0 / np.sqrt(n0), size=(nL, n0))
    if depth == 1:
        return [target]
    U, s, Vt = np.linalg.svd(target, full_matrices=False)
    keep = min(widths)  # a bottleneck keeps the top singular triplets only
    U, s, Vt = U[:, :keep], s[:keep], Vt[:keep]
    root = s ** (1.0 / depth)
    weights = [_padded((widths[1], n0), root[:, None] * Vt)]
    for n_in, n_out in zip(widths[1:-2], widths[2:-1]):
        weights.append(_padded((n_out, n_in), np.diag(root)))
    weights.append(_padded((nL, widths[-2]), U * root))
    return weights


def _random(widths, rng):
    return [
        rng.normal(0.0, 1.0 / np.sqrt(n_in), size=(n_out, n_in))
        for n_in, n_out in zip(widths[:-1], widths[1:])
    ]


REGISTRY = {unit.name: unit for unit in (
    Initialization("orthogonal", "W_j ~ Q, Q Haar orthogonal of size min(n_j, n_{j-1}), zero "
                   "padded (not the semi-orthogonal torch.nn.init.orthogonal_)", True,
                   _orthogonal),
    Initialization("orth-identity", "W_j ~ blockdiag(Q, I), Q orthogonal of size min(n_j, "
                   "n_{j-1}, max(n0, nL)), zero padded", True, _orth_identity),
    Initialization("identity", "W_j ~ I, zero padded", False, _identity),
    Initialization("balanced", "W0 with N(0, 1/n0) entries, W0 = U diag(s) V^T: W_L ~ U "
                   "s^(1/L), W_j ~ diag(s^(1/L)), W_1 ~ diag(s^(1/L)) V^T, so the end-to-end "
                   "product is W0 (its best rank-min(widths) part under a bottleneck)", True,
                   _balanced),
    Initialization("random", "entries N(0, 1/n_{j-1})", True, _random),
)}
INITS = tuple(REGISTRY)  # the init option's choices


def layer_widths(n0: int, nL: int, depth: int, width: int | None = None) -> list[int]:
    """``[n0, width, ..., width, nL]`` for a network of ``depth`` layers.

    ``width`` defaults to ``max(n0, nL)``, the narrowest hidden width that keeps the exact
    width reduction of Theorem 3.1 available (docs/math.md section 5).
    """
    depth = check_count(depth, "depth", minimum=1)
    width = max(n0, nL) if width is None else check_count(width, "width", minimum=1)
    return check_widths([n0] + [width] * (depth - 1) + [nL])


def init_weights(widths: Sequence[int], init: str = "orth-identity", *,
                 seed: int | np.random.Generator | None = None,
                 dtype: str = "float64") -> list[np.ndarray]:
    """Initial weights of a deep linear network (paper, Section 2.3).

    Parameters
    ----------
    widths : sequence of int
        ``[n0, n1, ..., nL]``; the depth is ``L = len(widths) - 1``.
    init : str
        A name in :data:`INITS`; ``REGISTRY[init].summary`` states its definition ("A ~ B":
        ``A`` is ``B`` zero padded).
    seed : None, int or numpy.random.Generator
        Source of randomness; the same int gives the same weights.
    dtype : {"float64", "float32"}

    Returns
    -------
    list of ndarray
        ``L`` matrices, ``W_l`` of shape ``(n_l, n_{l-1})``.

    Raises
    ------
    MemoryError
        Before any allocation, when the weights need more memory than this process may still
        use (the message names the widths and the bytes; see ``fastdln/maths/_memory.py``).
    """
    widths = check_widths(widths)
    check_choice(init, "init", INITS)
    dtype = check_dtype(dtype)
    rng = check_rng(seed)
    if draw_copies(dtype):  # MemoryError naming the widths, before any allocation
        check_fits(widths, dtype, copies=1 + draw_copies(dtype),
                   held_by="drawing them in float64 and converting")
    else:
        check_fits(widths, dtype)
    return [np.ascontiguousarray(W, dtype=dtype) for W in REGISTRY[init].draw(widths, rng)]
