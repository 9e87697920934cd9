"""The Numba engine: BCGD with running prefix/suffix products (docs/math.md sections 3-5),
on the kernels of :mod:`fastdln.maths._kernels`. Registered as ``"fast"``."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numba
import numpy as np
from numba.core.errors import NumbaExperimentalFeatureWarning

from ..maths import _gemm, _kernels, reference
from .common import (compile_notice, embed_blocks, gradient_rounding, padded_blocks,
                     sum_squares_by_rows)
from .registry import Capabilities, register

if TYPE_CHECKING:  # annotations only: the engines sit below the core
    from ..core.settings import Settings

__all__ = ["FastEngine"]


def _compiled_for(kernel, args):
    """The compiled code numba's dispatcher ``kernel`` runs for ``args``, or None (then the
    dispatcher is called every time)."""
    signature = tuple(numba.typeof(value) for value in args)
    if signature not in kernel.overloads:
        return None
    return kernel.get_overload(signature)

_SAMPLING_CODES = {None: _kernels.NO_SAMPLING, "importance": _kernels.IMPORTANCE,
                   "uniform": _kernels.UNIFORM}
NO_DRAWS = np.zeros(0)
NO_BATCHES = np.zeros((0, 0), np.int64)
_gradient_rows = getattr(_kernels.gradient_rows, "py_func", _kernels.gradient_rows)


@register("fast", Capabilities(
    summary="the Numba engine", compression=True, width_reduction=True, blas="kernels"))
class FastEngine:
    """BCGD with running prefix/suffix products in Numba kernels (docs/math.md sections 3-5).

    Its state lives in one workspace (see :mod:`fastdln.maths._kernels`): ``buf`` (every matrix
    the sweeps write, in the run's dtype), ``index`` (sizes, offsets, counters) and ``real``
    (``||P_i||^2``, the errors and rates of a call, the run's constants); ``w``, ``pbuf``,
    ``sbuf``, ``Rt``, ``counts`` and ``pnorms`` are views into them.
    """

    compressed = False
    state_keys = ("optimum_residual",)

    def __init__(self, Xw, Ow, weights, settings: Settings, *, m, optimum_residual, compressed,
                 constrained=False, reduce_width=None):
        """``Xw`` ``(n0, r)``: the (compressed) data, columns are samples; ``Ow`` ``(nL, r)``:
        the optimum's output ``W* Xw``, which the residual is kept against;
        ``optimum_residual``: ``W* Xw - Yw`` ``(nL, r)``, or None where it is orthogonal to
        the rows of ``Xw`` (see ``Problem.working_data``); ``constrained``: the optimum is
        under a binding rank constraint (its gradient does not vanish); ``reduce_width``:
        whether to train the padded blocks of Theorem 3.1 where the weights have that form
        (None: as ``settings.reduce_width`` says; a resumed engine does what it did)."""
        self.constrained = constrained
        self.settings = settings
        self.dtype = np.dtype(settings.dtype)
        self.inv_m = 1.0 / m
        self.m = m
        self.compressed = compressed
        self.sampling = _SAMPLING_CODES[settings.sampling]
        self.gd_ready = False  # GD: the caches hold the forward pass of the current weights
        self._full_weights = weights
        reduce_width = settings.reduce_width if reduce_width is None else reduce_width
        blocks = padded_blocks(weights) if reduce_width else None
        self.width_reduced = blocks is not None
        work_weights = blocks if blocks is not None else weights
        self.widths = np.array([work_weights[0].shape[1]] + [W.shape[0] for W in work_weights],
                               dtype=np.int64)
        self.depth = len(work_weights)
        Rs = (None if optimum_residual is None
              else np.ascontiguousarray(np.asarray(optimum_residual).T, self.dtype))
        self._allocate(work_weights, np.ascontiguousarray(Xw, self.dtype), Ow.T, Rs)
        self._small = True if self._has_small_products() else None
        _kernels.prepare(self.dtype, self._small)
        self._custom_loss = settings.custom_loss
        self._all_at_once = settings.training_method.all_layers_at_once
        self._options = self._kernel_options(constrained)
        self._called: set = set()  # kernels this engine has called (no notice after that)
        self._compiled = None  # the sweep kernel's compiled code for these arguments
        self._limit = None  # the error limit in real[LIMIT]
        self._threads = None  # the count in index[THREADS_] (None: 0, the kernel leaves it)
        # the sweep kernel switches the BLAS count itself where the library allows it
        self.kernel_threads = (_gemm.kernel_thread_control() and not self._all_at_once
                               and self.sampling == _kernels.NO_SAMPLING)
        # what decides the compiled code besides the kernel: dtype and the options set
        self._code_key = (self.dtype.name, tuple(v is None for v in self._options),
                          Rs is None)
        # the sweep kernel's arguments before and after the positions, bound once (every
        # array is updated in place, never replaced): a step costs little more than its call
        self._head = (self.buf, self.index, self.real, self.X.reshape(-1), self._Rs)

    def _has_small_products(self):
        """Whether a product of this run may be tiny (the jitted loops then serve them):
        every product's three dimensions are among ``nL``, ``r`` and the widths (a lower bound
        of ``d^3`` with ``d`` the smallest); the Gram matrices ``S S^T`` of the hidden layers
        are ``nL x n x nL`` (the top layer's, of ``S = I``, goes to BLAS otherwise: once a
        sweep); sampling and blocked gradients have dimensions of their own (batches, rows)."""
        k, r = int(self.widths[-1]), int(self.X.shape[1])
        smallest = min(k, r, int(self.widths.min()))
        hidden = self.widths[1:-1]
        small_gram = hidden.size > 0 and k * k * int(hidden.min()) <= _kernels.SMALL_GRAM
        return (smallest ** 3 < _kernels.SMALL_PRODUCT or small_gram
                or self.settings.training_method.samples or self._needs_blocks)

    def _kernel_options(self, constrained):
        """The kernels' code-selecting options, ``None`` when off (see ``_kernels``):
        ``(descending, ascending, lp, loss, bounded, constant, blocked, small, cross)``."""
        settings = self.settings
        lr = settings.lr
        custom = settings.custom_loss is not None
        return (True if settings.order == "descending" else None,
                True if settings.order == "ascending" else None,
                settings.power if settings.power != 2 and not custom else None,
                settings.custom_loss.kernel_functions() if custom else None,
                float(settings.eta) if lr == "bounded" else None,
                None if isinstance(lr, str) else float(lr),
                True if self._needs_blocks else None,
                self._small,
                True if constrained and self.Rs is not None else None)

    def state(self, mid_sweep=True):
        """What continuing bit for bit needs, also in the middle of a sweep: the data, the
        (full-width) weights, and the caches a sweep keeps (prefixes, suffixes, the
        maintained residual) where they cannot be rebuilt: in the middle of a sweep, and
        after a GD iteration (whose forward pass the next one reuses). A sweep's first
        update rebuilds them from the weights, so a state taken between sweeps holds none."""
        state = dict(X=self.X.copy(), Y=self.Yt.T.copy(), m=self.m,
                     optimum_residual=None if self.Rs is None else self.Rs.T.copy(),
                     constrained=self.constrained, compressed=self.compressed,
                     width_reduced=self.width_reduced,
                     weights=self.weights(), gd_ready=self.gd_ready)
        if mid_sweep or self.gd_ready:
            state.update({name: getattr(self, name).copy() for name in self._CACHES})
        return state

    _CACHES = ("pbuf", "pnorms", "sbuf", "Rt")

    def weight_views(self):
        """The working weights as views of the workspace (no copy)."""
        return [self.w[self.woff[i]:self.woff[i + 1]].reshape(self.widths[i + 1],
                                                               self.widths[i])
                for i in range(self.depth)]

    @classmethod
    def build(cls, data, weights, settings, *, m, optimum):
        Xw, _, Ow, Rw, compressed = data
        return cls(Xw, Ow, weights, settings, m=m, optimum_residual=Rw, compressed=compressed,
                   constrained=optimum.rank_constrained)

    @classmethod
    def from_state(cls, state, settings):
        engine = cls(state["X"], state["Y"], state["weights"], settings, m=state["m"],
                     optimum_residual=state["optimum_residual"], compressed=state["compressed"],
                     constrained=state["constrained"], reduce_width=state["width_reduced"])
        engine.gd_ready = state["gd_ready"]
        for name in cls._CACHES:
            if name not in state:  # a state between sweeps: the next sweep rebuilds them
                continue
            target = getattr(engine, name)
            if np.shape(state[name]) != target.shape:
                raise ValueError(f"state['engine'][{name!r}] has shape {np.shape(state[name])}, "
                                 f"expected {target.shape}: the state does not match its "
                                 "settings")
            target[...] = state[name]
        return engine

    def _allocate(self, weights, Xw, Yt, Rs):
        """The workspace (see the class docstring) and the working data ``Xw`` (kept as it
        is: contiguous in the run's dtype, it may be large)."""
        widths, dtype = self.widths, self.dtype
        k, r = int(widths[-1]), Xw.shape[1]
        L = len(weights)
        self.Rs = Rs
        self._Rs = None if Rs is None else Rs.reshape(-1)
        max_width = int(widths.max())
        layers = list(zip(widths[1:].tolist(), widths[:-1].tolist()))
        largest_layer = max(n_out * n_in for n_out, n_in in layers)
        method = self.settings.training_method
        self._needs_blocks = (method.blocked_gradients
                              and largest_layer > _kernels.WHOLE_GRADIENT)
        if self._needs_blocks:  # blocks of G
            largest_layer = max(_gradient_rows(n_out, n_in, _kernels.WHOLE_GRADIENT,
                                               _kernels.GRADIENT_BLOCK) * n_in
                                for n_out, n_in in layers)
        raw_residual = self.settings.power != 2 or self.settings.custom_loss is not None
        # J = l'(Rt + Rs) needs its own buffer unless it is Rt itself (L2, Rs None); bcsgd
        # forms its sampled residuals without it
        own_j = not method.samples and (raw_residual or Rs is not None)
        gram_side = min(max_width, r) if self.settings.lr == "bounded" else 1
        if self.sampling == _kernels.IMPORTANCE:
            gram_side = max_width
        regions = {_kernels.RT_: r * k, _kernels.A_: k * max_width,
                   _kernels.G_: largest_layer, _kernels.KK_: k * k,
                   _kernels.B_: k * max_width, _kernels.Z_: r * k,
                   _kernels.J_: r * k if own_j else 0, _kernels.WS_: 2 * k * max_width,
                   _kernels.GRAM_: gram_side * gram_side,
                   _kernels.M_: max_width * r if self.sampling == _kernels.IMPORTANCE else 0,
                   _kernels.SCAL_: 2,
                   _kernels.WPREV_: int(sum(a * b for a, b in layers))
                   if method.all_layers_at_once else 0,
                   _kernels.YT_: r * k}
        self.index, size = _kernels.workspace_layout(widths, r, regions)
        self.buf = np.empty(size, dtype)
        self.real = np.zeros(_kernels.NORMS + 3 * L)
        index = self.index
        woff = index[_kernels.HEADER + L + 1: _kernels.HEADER + 2 * (L + 1)]
        self.woff = woff
        self.w = self.buf[: woff[-1]]
        for i, W in enumerate(weights):
            self.w[woff[i]: woff[i + 1]] = W.ravel()
        poff = index[_kernels.HEADER + 2 * (L + 1): _kernels.HEADER + 3 * (L + 1)]
        soff = index[_kernels.HEADER + 3 * (L + 1):]
        self.pbuf = self.buf[poff[1]: soff[0]] if L > 1 else self.buf[soff[0]: soff[0]]
        self.sbuf = self.buf[soff[0]: soff[L]]
        self.sbuf[soff[L - 1] - soff[0]:] = np.eye(k, dtype=dtype).ravel()
        self.Rt = self._region(_kernels.RT_).reshape(r, k)
        self.X = Xw  # the working data: the problem's array where it is contiguous already
        self.Yt = self._region(_kernels.YT_).reshape(r, k)
        np.copyto(self.Yt, Yt, casting="unsafe")
        self.work_g = self._region(_kernels.G_)
        self.counts = index[_kernels.PRODUCTS: _kernels.BIG + 1]
        self.pnorms = self.real[_kernels.NORMS: _kernels.NORMS + L]
        self.pnorms[0] = sum_squares_by_rows(self.X)
        self.real[_kernels.INV_M] = self.inv_m
        self.real[_kernels.ROUNDING] = gradient_rounding(dtype, k, r)

    def _region(self, slot):
        return self.buf[self.index[slot]: self.index[slot + 1]]

    def run(self, begin, end, error_limit, draws=None, batches=None, threads=None):
        """See :class:`fastdln.engines.Engine`; the arrays returned are views of the
        workspace, valid until the next call. ``threads``: where :attr:`kernel_threads`,
        the kernel runs on that many BLAS threads and sets the count back itself."""
        if error_limit != self._limit:  # a trainer's limit is fixed: written once
            self.real[_kernels.LIMIT] = self._limit = error_limit
        if threads != self._threads:
            self.index[_kernels.THREADS_] = threads or 0
            self._threads = threads
        if self._all_at_once:
            return self._gd_iteration()
        if self.sampling != _kernels.NO_SAMPLING:
            done = self._sampled(begin, end, draws, batches)
        else:
            done = self._call(begin, end)
        first = _kernels.NORMS + self.depth
        errors = self.real[first: first + done]
        rates = self.real[first + self.depth: first + self.depth + done]
        if done == end - begin:
            return errors, rates, None
        return errors, rates, float(self.real[first + done])

    def _first_or_plain(self, name, call, *args):
        """``call(*args)``, the engine's first call of it with the compile notice around it."""
        if name in self._called:
            return call(*args)
        with compile_notice((name, self._code_key)):
            result = call(*args)
        self._called.add(name)
        return result

    def _call(self, begin, end):
        """The sweep kernel on the positions ``begin .. end-1``: through numba's dispatcher
        the first time, then straight into the compiled code it chose for these arguments
        (their types never change for an engine: the dispatcher's type resolution costs
        about as much as a small layer's update)."""
        if self._compiled is not None:
            return self._compiled(*self._head, begin, end, *self._options)
        if self._custom_loss is None:
            kernel = _kernels.bcgd_updates
            done = self._first_or_plain("bcgd", kernel, *self._head, begin, end,
                                        *self._options)
            self._compiled = _compiled_for(kernel, (*self._head, begin, end, *self._options))
            return done
        with warnings.catch_warnings():  # numba flags function arguments as experimental
            warnings.simplefilter("ignore", NumbaExperimentalFeatureWarning)
            return self._first_or_plain("custom", _kernels.custom_kernel(), *self._head,
                                        begin, end, *self._options)

    def _call_kernel(self, kernel, begin, end):
        """``kernel`` (the sweep kernel or a clone) on the positions ``begin .. end-1``."""
        return kernel(*self._head, begin, end, *self._options)

    def _sampled(self, begin, end, draws, batches):
        if draws is None:
            draws, batches = NO_DRAWS, NO_BATCHES
        return self._first_or_plain("bcsgd", self._sampled_kernel, begin, end, draws, batches)

    def _sampled_kernel(self, begin, end, draws, batches):
        descending, ascending, small = self._options[0], self._options[1], self._options[7]
        return _kernels.bcsgd_updates(*self._head, self.sampling,
                                      float(self.settings.eta or 0.0), draws, batches, begin,
                                      end, descending, ascending, small)

    def _gd_iteration(self):
        return self._first_or_plain("gd", self._gd_kernel)

    def _gd_kernel(self):
        lp, small, cross = self._options[2], self._options[7], self._options[8]
        error, applied = _kernels.gd_iteration(*self._head, float(self.settings.lr),
                                               not self.gd_ready, lp, small, cross)
        self.gd_ready = applied
        if not applied:
            return np.empty(0), np.empty(0), error
        return np.array([error]), np.array([float(self.settings.lr)]), None

    def threads_found(self):
        """The BLAS count the last kernel call found before switching it (0 if it did not
        switch): what to set back if that call raised."""
        return int(self.index[_kernels.FOUND_]) if self._threads else 0

    def residual(self):
        """``W_L ... W_1 X - Y`` from scratch (``(nL, r)``, working data): a forward pass in
        numpy (it runs once per trainer; no kernel to compile for it)."""
        weights = self.working_weights()
        if weights[-1].shape[0] < self.X.shape[1]:  # nL < r: the narrow product W_L ... W_1
            R = reference.suffix_product(weights, 0) @ self.X  # first, then one product
        else:
            R = reference.prefix_product(weights, self.depth + 1, self.X)
        return R - self.Yt.T

    def initial_error(self):
        settings = self.settings
        R_opt = 0.0 if self.Rs is None else self.Rs.T
        return reference.loss_difference(self.residual(), R_opt, settings.power,
                                         settings.custom_loss, self.constrained) * self.inv_m

    def working_weights(self):
        """The weights the kernels train (the reduced-width blocks if width reduction is on)."""
        return [view.copy() for view in self.weight_views()]

    def weights(self):
        blocks = self.working_weights()
        return embed_blocks(blocks, self._full_weights) if self.width_reduced else blocks
