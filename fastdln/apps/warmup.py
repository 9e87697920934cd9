"""Compile the kernels of chosen configurations ahead of time (applications layer).

A run compiles only the kernels its configuration uses, on their first use in an
environment (seconds), and numba caches them (see ``fastdln/maths/_cache.py``): every later
process loads them in milliseconds. :func:`warmup` pays that first use in advance, for a
Docker image, a CI cache or asv's ``install_command``: it trains a tiny network once per
configuration, which compiles exactly the kernels a real run of that configuration loads.
A damaged cache file it meets is removed and its kernel compiled and cached anew.

The configurations come from the registries: the methods of :data:`fastdln.methods.REGISTRY`
(each with the rates, losses and orders its own checks accept), the named rates of
:data:`fastdln.methods.RATES` and a constant one. Besides its options, a run's kernels depend
on the shapes of its network (:data:`SHAPES`); by default only what a default run uses is
compiled: the default options on a network without tiny products.
"""

from __future__ import annotations

import itertools
import time
import warnings
from collections.abc import Sequence

import numpy as np

from ..maths import _kernels
from ..maths._cache import KernelCacheWarning, cache_folder, unusable_cache_dir
from ..core.methods import RATES, REGISTRY
from ..core.settings import Settings, check_settings
from ..core.trainer import Trainer
from ..core.tuning import measure_machine
from ..maths._fastest_gemm import measure as measure_gemm

__all__ = ["SHAPES", "WARMUP_CHOICES", "kernel_cache_folder", "warmup"]

# Networks whose kernels differ (each a variant of the compiled code; see fastdln.engines.fast):
# "plain": no product small enough for the jitted loops (several outputs, real widths: the
# README's example, image data); "small": tiny products (one or two outputs, tiny widths);
# "rank-bound": hidden widths below the optimum's rank (its residual enters the gradients);
# "blocked": layers too large to hold a gradient whole (formed by blocks of rows).
SHAPES = ("plain", "small", "rank-bound", "blocked")
# what each option may be in a warmup (custom losses compile anew in every process; "l4"
# stands for every even power: p is an argument of the kernels, not a variant of them)
WARMUP_CHOICES = {
    "dtype": ("float64", "float32"),
    "method": tuple(REGISTRY),
    "loss": ("l2", "l4"),
    "lr": (*RATES, "constant"),
    "order": ("descending", "ascending"),
    "shape": SHAPES,
}
_DEFAULTS = {name: (getattr(Settings(), name),) for name in ("dtype", "method", "loss", "lr",
                                                              "order")}
_DEFAULTS["shape"] = ("plain",)
_RATE_VALUES = {"constant": dict(lr=1e-3), "bounded": dict(lr="bounded", eta=1.0)}


def _choices(name, given):
    values = _DEFAULTS[name] if given is None else tuple(given)
    unknown = [v for v in values if v not in WARMUP_CHOICES[name]]
    if unknown or not values:
        raise ValueError(f"{name} must be among {list(WARMUP_CHOICES[name])}, got "
                         f"{list(values)}")
    return values


def _resolved(dtype, method, loss, lr, order):
    """The settings of one combination as its method's checks resolve them, or None when
    they refuse it (e.g. a named rate for gradient descent)."""
    rate = _RATE_VALUES.get(lr, dict(lr=lr))
    try:
        return check_settings(dtype=dtype, method=method, loss=loss, order=order, **rate)
    except ValueError:
        return None


def _configurations(chosen, rates_given):
    """The distinct kernel configurations of the requested combinations (without a requested
    rate, each method's first valid one)."""
    seen: list[dict] = []
    names = ("dtype", "method", "loss", "lr", "order")
    for values in itertools.product(*(chosen[name] for name in names)):
        config = dict(zip(names, values))
        rates = chosen["lr"] if rates_given else WARMUP_CHOICES["lr"]
        for lr in rates:
            settings = _resolved(**dict(config, lr=lr))
            if settings is not None:
                break
        if settings is None:
            continue
        method = settings.training_method
        config = dict(config, lr=lr, loss=settings.loss_name)
        if method.all_layers_at_once:  # one update for every layer: no order
            config["order"] = _DEFAULTS["order"][0]
        for shape in chosen["shape"]:
            if shape in ("rank-bound", "blocked") and not (
                    method.blocked_gradients and settings.power == 2):
                continue  # variants of the L2 sweep kernel only
            entry = dict(config, shape=shape)
            if entry not in seen:
                seen.append(entry)
    return seen


def _data(m, n0, nL):
    rng = np.random.default_rng(0)
    return rng.normal(size=(m, n0)), rng.normal(size=(m, nL))


def _tiny_runs(config):
    """Small trainings that call the configuration's kernels for its shape, as ``(X, Y,
    options)``."""
    method = REGISTRY[config["method"]]
    options = dict(dtype=config["dtype"], method=config["method"], loss=config["loss"],
                   order=config["order"], seed=0, compress=False,
                   **_RATE_VALUES.get(config["lr"], dict(lr=config["lr"])))
    if method.samples:  # batches: the kernels of uniform sampling serve importance too
        options.update(sampling="uniform", batch_size=4)
    tiny = _data(12, 4, 3)
    return {
        "plain": [(*_data(40, 8, 4), dict(options, widths=[8, 104, 4]))],
        "small": [(*tiny, dict(options, widths=[4, 5, 3]))],
        "rank-bound": [(*tiny, dict(options, widths=[4, 2, 3])),
                       (*_data(60, 16, 13), dict(options, widths=[16, 12, 13]))],
        "blocked": [(*tiny, dict(options, widths=[4, 6, 3], blocked=True))],
    }[config["shape"]]


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
           order: Sequence[str] | None = None, *, shape: Sequence[str] | None = None,
           everything: bool = False, measure_threads: bool = False,
           report=None) -> list[dict]:
    """Compile (or load) into numba's cache every kernel the given configurations use,
    measure this machine's fastest GEMM library where the ``mkl`` extra is installed and
    that library was not measured on this machine before (:mod:`fastdln.maths.
    _fastest_gemm`) and, when asked, its BLAS thread counts (:mod:`fastdln.core.tuning`).

    Parameters
    ----------
    dtype, method, loss, lr, order : sequence of str, optional
        The values to warm up, every combination of them that the methods accept (default:
        the default settings, ``float64``, ``bcgd``, ``l2``, ``optimal``, ``descending``).
        ``lr`` is ``"optimal"``, ``"bounded"`` or ``"constant"`` (any constant rate: one
        kernel); without it, each method gets its first valid rate (gradient descent a
        constant one).
    shape : sequence of str, optional
        Among :data:`SHAPES` (default ``("plain",)``: what a default run on data with
        several outputs uses; ``"small"`` for one or two outputs or tiny widths).
    everything : bool
        Every combination of :data:`WARMUP_CHOICES` (a few minutes the first time), the
        thread measures, and the GEMM libraries measured again.
    measure_threads : bool
        Also measure the BLAS thread counts of each dtype on networks of widths 16 to 512
        into the wisdom file that ``threads=None`` follows (:func:`fastdln.core.tuning.
        measure_machine`; several times the default warmup's compiling, so not by default).
    report : callable, optional
        Called with one line per configuration (e.g. ``print``).

    Returns
    -------
    list of dict
        One per configuration: its options, ``shape`` and ``seconds`` (compiling, or loading
        from the cache when it is already warm).

    Raises
    ------
    ValueError
        For an unknown value, or when the methods accept none of the combinations.
    """
    unusable = unusable_cache_dir()  # numba then caches elsewhere without a word
    if unusable is not None:
        warnings.warn(f"{unusable}; the kernels go to numba's next cache location instead",
                      KernelCacheWarning, stacklevel=2)
    if everything:
        dtype, method, loss, lr, order, shape = (WARMUP_CHOICES[name] for name in _DEFAULTS)
    chosen = {name: _choices(name, given) for name, given in
              zip(_DEFAULTS, (dtype, method, loss, lr, order, shape))}
    configurations = _configurations(chosen, rates_given=lr is not None)
    if not configurations:
        raise ValueError(f"no method among {list(chosen['method'])} accepts these options "
                         f"(lr {list(chosen['lr'])}, loss {list(chosen['loss'])})")
    done = []
    for config in configurations:
        start = time.perf_counter()
        for X, Y, options in _tiny_runs(config):
            _train_once(X, Y, options)
        config["seconds"] = time.perf_counter() - start
        done.append(config)
        if report is not None:
            report(_line(config))
    # MKL against scipy's BLAS where the mkl extra is installed, once per machine and build
    measure_gemm(report=report, again=everything, dtypes=chosen["dtype"])
    if measure_threads or everything:  # this machine's BLAS threads, for threads=None
        measure_machine(chosen["dtype"], report)
    return done


def _line(config: dict) -> str:
    return (" ".join(str(config[name]) for name in _DEFAULTS)
            + f": {config['seconds']:.1f} s")


def kernel_cache_folder() -> str | None:
    """Where the compiled kernels are cached (``NUMBA_CACHE_DIR`` if set, else numba's
    user-wide cache folder), or None if they cannot be cached here."""
    return cache_folder(_kernels.bcgd_updates)
