"""What the engines share: the layer order, the rounding level of a gradient, Theorem 3.1's
padded blocks, the compile notice."""

from __future__ import annotations

import sys
import threading
from contextlib import contextmanager

import numpy as np

from ..maths._checks import is_interactive

__all__ = ["compile_notice", "embed_blocks", "gradient_rounding", "layer_at", "padded_blocks",
           "sum_squares_by_rows"]

# A kernel's first call in a process that takes longer than this is compiling: say so once.
COMPILE_NOTICE_SECONDS = 1.0
_CALLED: set = set()


def _say_compiling():
    print("fastdln: compiling the kernels of this configuration (once per environment, "
          "seconds; 'fastdln warmup' does it ahead of time)", file=sys.stderr, flush=True)


def _on_terminal():
    """Whether stderr reaches a person: a terminal or a notebook (not a log or a pipe)."""
    return is_interactive(sys.stderr)


@contextmanager
def compile_notice(key):
    """A line on stderr (on a terminal or in a notebook, like the progress bars) if the first
    call of a kernel configuration in this process takes longer than
    ``COMPILE_NOTICE_SECONDS`` (numba compiles it: it is not in the cache yet)."""
    if key in _CALLED or not _on_terminal():
        _CALLED.add(key)
        yield
        return
    timer = threading.Timer(COMPILE_NOTICE_SECONDS, _say_compiling)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        _CALLED.add(key)


def sum_squares_by_rows(A, rows=8192):
    """``||A||_F^2`` in float64, by blocks of rows (no whole float64 copy of float32 data)."""
    total = 0.0
    for start in range(0, A.shape[0], rows):
        block = np.asarray(A[start:start + rows], np.float64).ravel()
        total += float(block @ block)
    return total


def layer_at(position, depth, order):
    """0-based index of the layer updated at ``position`` of a sweep."""
    return depth - 1 - position if order == "descending" else position


def gradient_rounding(dtype, k, r):
    """Relative rounding level of ``G = S^T (R P^T)``: ``eps (nL + r)``, a worst-case bound."""
    return float(np.finfo(dtype).eps) * (k + r)


def padded_blocks(weights):
    """The ``max(n0, nL)`` blocks of Theorem 3.1 if the weights have its padded form, else None.

    The form is ``W_1 = [A_1; 0]``, ``W_L = [A_L, 0]``, ``W_j = blockdiag(A_j, E_j)`` with every
    hidden width ``>= dmax``: all gradients then vanish outside the ``A`` blocks, so training
    the width-``dmax`` network on the ``A`` blocks is exact (docs/math.md section 5).
    """
    widths = [weights[0].shape[1]] + [W.shape[0] for W in weights]
    dmax = max(widths[0], widths[-1])
    hidden = widths[1:-1]
    if not hidden or min(hidden) < dmax or max(hidden) == dmax:
        return None
    first, last = weights[0], weights[-1]
    if np.any(first[dmax:]) or np.any(last[:, dmax:]):
        return None
    if any(np.any(W[:dmax, dmax:]) or np.any(W[dmax:, :dmax]) for W in weights[1:-1]):
        return None
    blocks = [first[:dmax]] + [W[:dmax, :dmax] for W in weights[1:-1]] + [last[:, :dmax]]
    return [np.ascontiguousarray(B) for B in blocks]


def embed_blocks(blocks, full_weights):
    """Full-width weights: copies of ``full_weights`` with the trained blocks written in."""
    out = []
    for B, W in zip(blocks, full_weights):
        W = W.copy()
        W[: B.shape[0], : B.shape[1]] = B
        out.append(W)
    return out
