"""Checks of arrays, numbers and names shared by every public entry point (maths layer).

Numba kernels do no bounds checks, so everything a kernel sees is checked first: shapes,
dtypes, finiteness and values. Errors name the argument and what was expected. The training
options built on these checks live in :mod:`fastdln.core.settings`.
"""

from __future__ import annotations

import numbers
import operator

import numpy as np

__all__ = ["DTYPES", "check_array", "check_choice", "check_count", "check_dtype", "check_flag",
           "check_positive_float", "check_rng", "check_weights", "check_widths", "is_interactive",
           "weight_list"]

DTYPES = {"float64": np.float64, "float32": np.float32}


def is_interactive(stream) -> bool:
    """Whether ``stream`` is read by a person as it is written: a terminal, or a Jupyter
    notebook's output (ipykernel's stream); not a file, a pipe or a log."""
    if stream is None:
        return False
    if type(stream).__module__.split(".")[0] == "ipykernel":
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False


def check_dtype(dtype, name="dtype"):
    """Return the numpy float type for ``"float64"``/``"float32"`` (or the types themselves)."""
    try:
        key = np.dtype(dtype).name
    except TypeError:
        key = None
    if key not in DTYPES:
        raise ValueError(f"{name} must be 'float64' or 'float32', got {dtype!r}")
    return DTYPES[key]


def check_choice(value, name, choices):
    """Raise unless ``value`` is one of the strings in ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_count(value, name, minimum=0):
    """Return ``value`` as an int, raising unless it is an integer >= ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    value = operator.index(value)
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return value


def check_positive_float(value, name, upper=None):
    """Return ``value`` as a float in (0, upper) (open interval), else raise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value <= 0 or (upper is not None and value >= upper):
        bound = f"in (0, {upper:g})" if upper is not None else "positive and finite"
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return value


def check_array(a, name, ndim, dtype=np.float64):
    """Convert ``a`` to a C-contiguous array of ``dtype`` after checking kind, rank and values.

    Integer and float arrays are accepted; complex, boolean, string, object and float16 arrays
    are refused. The result is always a new array (the caller's array is never shared).
    """
    arr = np.asarray(a) if not isinstance(a, np.ndarray) else a
    kind = arr.dtype.kind
    if kind not in "iuf" or arr.dtype == np.float16:
        raise TypeError(
            f"{name} must be a real array of integers or float32/float64, got dtype {arr.dtype}"
        )
    if arr.ndim not in ndim:
        shapes = " or ".join(f"{d}-D" for d in ndim)
        raise ValueError(f"{name} must be {shapes}, got an array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    out = np.array(arr, dtype=dtype, order="C", copy=True)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} must be finite (no NaN or inf as {out.dtype}), found some")
    return out


def check_widths(widths, n0=None, nL=None):
    """Return ``widths`` as a list of ints >= 1 of length >= 2, matching the data if given."""
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__len__"):
        raise TypeError(f"widths must be a sequence of integers [n0, n1, ..., nL], got {widths!r}")
    widths = list(widths)
    if len(widths) < 2:
        raise ValueError(
            f"widths must have at least 2 entries (depth >= 1), got {len(widths)} entries"
        )
    out = []
    for j, w in enumerate(widths):
        if isinstance(w, (bool, np.bool_)) or not isinstance(w, numbers.Integral):
            raise TypeError(f"widths[{j}] must be an integer >= 1, got {w!r}")
        if w < 1:
            raise ValueError(f"widths[{j}] must be an integer >= 1, got {w}")
        out.append(int(w))
    if n0 is not None and out[0] != n0:
        raise ValueError(f"widths[0] must equal the number of features of X ({n0}), got {out[0]}")
    if nL is not None and out[-1] != nL:
        raise ValueError(f"widths[-1] must equal the number of outputs of Y ({nL}), got {out[-1]}")
    return out


def weight_list(weights):
    """``weights`` as a non-empty sequence of matrices (one 2-D array is a list of one)."""
    if isinstance(weights, np.ndarray) and weights.ndim == 2:
        weights = [weights]
    if isinstance(weights, (str, bytes)) or not hasattr(weights, "__len__"):
        raise TypeError(f"weights must be a list of 2-D arrays, got {type(weights).__name__}")
    if len(weights) == 0:
        raise ValueError("weights must contain at least one matrix (depth >= 1), got []")
    return weights


def check_weights(weights, dtype=np.float64, n0=None, nL=None):
    """Validate and copy a list of weight matrices ``W_l`` of shape ``(n_l, n_{l-1})``.

    Returns the copied weights and the widths ``[n0, ..., nL]`` they chain through.
    """
    weights = weight_list(weights)
    out = [check_array(W, f"weights[{j}]", (2,), dtype) for j, W in enumerate(weights)]
    for j in range(1, len(out)):
        if out[j].shape[1] != out[j - 1].shape[0]:
            raise ValueError(
                f"weights do not chain: weights[{j}] has shape {out[j].shape} but "
                f"weights[{j - 1}] has {out[j - 1].shape[0]} rows (expected "
                f"weights[{j}].shape[1] == {out[j - 1].shape[0]})"
            )
    widths = [out[0].shape[1]] + [W.shape[0] for W in out]
    if n0 is not None and widths[0] != n0:
        raise ValueError(
            f"weights[0] must have {n0} columns (the number of features of X), "
            f"got shape {out[0].shape}"
        )
    if nL is not None and widths[-1] != nL:
        raise ValueError(
            f"weights[-1] must have {nL} rows (the number of outputs of Y), "
            f"got shape {out[-1].shape}"
        )
    return out, widths


def check_flag(value, name):
    """``value`` as a bool; ``TypeError`` naming ``name`` unless it is True or False."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_rng(seed, name="seed"):
    """Return a ``numpy.random.Generator`` from ``None``, an int or a Generator."""
    if seed is None or isinstance(seed, np.random.Generator):
        return np.random.default_rng(seed)
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"{name} must be None, a non-negative integer or a numpy.random.Generator, "
            f"got {seed!r}"
        )
    if seed < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {seed}")
    return np.random.default_rng(int(seed))
