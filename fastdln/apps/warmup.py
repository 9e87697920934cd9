"""Compile the kernels of chosen configurations ahead of time (applications layer).

A run compiles only the kernels its configuration uses, on their first use in an
environment (seconds), and numba caches them (see ``fastdln/_cache.py``): every later
process loads them in milliseconds. :func:`warmup` pays that first use in advance, for a
Docker image, a CI cache or asv's ``install_command``: it trains a tiny network once per
configuration, which compiles exactly the kernels a real run of that configuration loads.
A damaged cache file it meets is removed and its kernel compiled and cached anew.
"""

from __future__ import annotations

import itertools
import time
import warnings
from collections.abc import Iterable, Sequence

import numpy as np

from ..maths import _kernels
from ..maths._cache import KernelCacheWarning, cache_folder, unusable_cache_dir
from ..core.trainer import Trainer
from ..core.tuning import measure_machine

__all__ = ["WARMUP_CHOICES", "kernel_cache_folder", "warmup"]

# what each option may be in a warmup (custom losses compile anew in every process)
WARMUP_CHOICES = {
    "dtype": ("float64", "float32"),
    "method": ("bcgd", "gd", "bcsgd"),
    "loss": ("l2", "l4"),
    "lr": ("optimal", "bounded", "constant"),
    "order": ("descending", "ascending"),
}
_DEFAULTS = {"dtype": ("float64",), "method": ("bcgd",), "loss": ("l2",), "lr": ("optimal",),
             "order": ("descending",)}


def _choices(name, given):
    values = _DEFAULTS[name] if given is None else tuple(given)
    unknown = [v for v in values if v not in WARMUP_CHOICES[name]]
    if unknown or not values:
        raise ValueError(f"{name} must be among {list(WARMUP_CHOICES[name])}, got "
                         f"{list(values)}")
    return values


def _configurations(dtype, method, loss, lr, order):
    """The distinct kernel configurations of the requested combinations."""
    seen = []
    for d, me, lo, r, o in itertools.product(dtype, method, loss, lr, order):
        if me == "gd":  # one GD kernel per dtype and loss: constant rate, no order
            r, o = "constant", "descending"
        if me == "bcsgd":  # L2, its own rate; the order matters
            lo, r = "l2", "optimal"
        config = dict(dtype=d, method=me, loss=lo, lr=r, order=o)
        if config not in seen:
            seen.append(config)
    return seen


def _data(m, n0, nL):
    rng = np.random.default_rng(0)
    return rng.normal(size=(m, n0)), rng.normal(size=(m, nL))


def _tiny_runs(config):
    """Small trainings that call the configuration's kernels, as ``(X, Y, options)``: with
    tiny products and without (the kernels leave the tiny products' loops out when a network
    has none); for L2 BCGD also with a rank the widths bind (the optimum's residual enters the
    gradients) and with gradients formed by blocks (layers past ``WHOLE_GRADIENT``
    entries)."""
    options = dict(dtype=config["dtype"], method=config["method"], loss=config["loss"],
                   order=config["order"], seed=0, compress=False)
    lr = config["lr"]
    options["lr"] = {"constant": 1e-3, "bounded": "bounded"}.get(lr, lr)
    if lr == "bounded":
        options["eta"] = 1.0
    if config["method"] == "bcsgd":
        options.update(sampling="uniform", batch_size=4)
    tiny, wide = _data(12, 4, 3), _data(40, 8, 4)
    runs = [(*tiny, dict(options, widths=[4, 5, 3])), (*wide, dict(options, widths=[8, 104, 4]))]
    if config["method"] == "bcgd" and config["loss"] == "l2":  # the rank binds; blocks
        runs.append((*tiny, dict(options, widths=[4, 2, 3])))
        runs.append((*_data(60, 16, 13), dict(options, widths=[16, 12, 13])))
        runs.append((*tiny, dict(options, widths=[4, 6, 3], blocked=True)))
    return runs


def _train_once(X, Y, options):
    blocked = options.pop("blocked", False)
    saved = _kernels.WHOLE_GRADIENT, _kernels.GRADIENT_BLOCK
    if blocked:  # the engine reads the limits when it allocates: tiny limits, same kernels
        _kernels.WHOLE_GRADIENT, _kernels.GRADIENT_BLOCK = 8, 8
    try:
        trainer = Trainer(X, Y, reduce_width=False, threads=1, **options)
        trainer.sweep(2)
    finally:
        _kernels.WHOLE_GRADIENT, _kernels.GRADIENT_BLOCK = saved


def warmup(dtype: Sequence[str] | None = None, method: Sequence[str] | None = None,
           loss: Sequence[str] | None = None, lr: Sequence[str] | None = None,
           order: Sequence[str] | None = None, *, everything: bool = False,
           report=None) -> list[dict]:
    """Compile (or load) into numba's cache every kernel the given configurations use, and
    measure this machine's BLAS thread counts for each dtype (:mod:`fastdln.core.tuning`).

    Parameters
    ----------
    dtype, method, loss, lr, order : sequence of str, optional
        The values to warm up, every combination of them (default: the default settings,
        ``float64``, ``bcgd``, ``l2``, ``optimal``, ``descending``). ``lr`` is
        ``"optimal"``, ``"bounded"`` or ``"constant"`` (any constant rate: one kernel).
    everything : bool
        Every combination of :data:`WARMUP_CHOICES` (a few minutes the first time).
    report : callable, optional
        Called with one line per configuration (e.g. ``print``).

    Returns
    -------
    list of dict
        One per configuration: its options and ``seconds`` (compiling, or loading from the
        cache when it is already warm).
    """
    unusable = unusable_cache_dir()  # numba then caches elsewhere without a word
    if unusable is not None:
        warnings.warn(f"{unusable}; the kernels go to numba's next cache location instead",
                      KernelCacheWarning, stacklevel=2)
    if everything:
        dtype, method, loss, lr, order = (WARMUP_CHOICES[name] for name in _DEFAULTS)
    chosen = [_choices(name, given) for name, given in
              zip(_DEFAULTS, (dtype, method, loss, lr, order))]
    done = []
    for config in _configurations(*chosen):
        start = time.perf_counter()
        for X, Y, options in _tiny_runs(config):
            _train_once(X, Y, options)
        config["seconds"] = time.perf_counter() - start
        done.append(config)
        if report is not None:
            report(_line(config))
    measure_machine(chosen[0], report)  # this machine's BLAS threads, for threads=None
    return done


def _line(config: dict) -> str:
    names: Iterable[str] = ("dtype", "method", "loss", "lr", "order")
    return (" ".join(str(config[name]) for name in names)
            + f": {config['seconds']:.1f} s")


def kernel_cache_folder() -> str | None:
    """Where the compiled kernels are cached (``NUMBA_CACHE_DIR`` if set, else numba's
    user-wide cache folder), or None if they cannot be cached here."""
    return cache_folder(_kernels.bcgd_updates)
