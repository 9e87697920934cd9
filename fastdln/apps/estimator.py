"""A scikit-learn estimator around :class:`fastdln.Trainer` (needs scikit-learn >= 1.6; apps
layer)."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ..maths._checks import check_count, check_flag
from .._version import __version__
from ..core.data import Data
from ..maths.init import layer_widths
from ..core.io import Model
from ..maths.optimum import end_to_end
from ..core.linear_map import predict
from ..core.settings import FRONT_END_DEFAULTS, Settings, check_settings
from ..core.threads import available_cores
from ..core.trainer import Trainer
from ..core.runner import NoChange, run_sweeps

__all__ = ["DeepLinearRegressor"]


class DeepLinearRegressor(RegressorMixin, BaseEstimator):
    """Deep linear network ``W_L ... W_1 x + b`` trained layer by layer (BCGD).

    The global optimum of the network is the least-squares fit, so after enough sweeps the
    predictions are those of :class:`sklearn.linear_model.LinearRegression`.

    Parameters
    ----------
    depth : int, default=3
        Number of layers ``L`` (>= 1).
    width : int, optional
        Width of the hidden layers (default ``max(n_features, n_outputs)``).
    init, order, lr, loss
        As in :func:`fastdln.train` (``lr``: ``"optimal"``, ``"bounded"`` or a positive
        float; ``loss``: ``"l2"``, ``"l<p>"`` or a :class:`fastdln.losses.ConvexLoss`).
    fit_intercept : bool, default=True
        Fit ``b``: the network trains on ``X`` and ``y`` centered by their (weighted) means
        (L2 loss only).
    max_sweeps : int, default=1000
        Maximum number of sweeps per call of :meth:`fit` (>= 1).
    tol : float or None, default=1e-4
        scikit-learn's rule for iterative estimators (``MLPRegressor``, ``SGDRegressor``):
        a sweep that lowers the training loss by less than ``tol`` times the best loss so
        far counts as no change, and ``n_iter_no_change`` of them in a row stop the fit (the
        ``loss_tol`` and ``n_iter_no_change`` options of :class:`fastdln.Settings`; the
        command line stops by the same rule). None: no such stop.
    n_iter_no_change : int, default=10
        Sweeps in a row without change (see ``tol``) that stop the fit.
    error_tol : float or None, default=None
        The exact-error stop: stop once the relative error
        ``(loss(W) - loss(W*)) / loss(0)`` is ``<= error_tol``, where ``loss(0)`` is the
        (weighted) loss of the zero map on the (centered) targets, for every loss:
        ``sum_i w_i |y_i - mean|^p`` for ``"l<p>"``, ``sum_i w_i l(-y_i)`` for a custom
        :class:`fastdln.losses.ConvexLoss`. A scale-free measure that, for the L2 loss, is
        how far the fit's R^2 on the training data is below the least-squares fit's (what
        ``tol`` meant before fastdln 0.2). On ill-conditioned data (images) a small
        ``error_tol`` may need many more sweeps than ``tol``'s rule for the same predictions.
        A :class:`ConvergenceWarning` is raised only when ``max_sweeps`` ends a fit that a
        stop rule (``tol`` or ``error_tol``) would have gone on with; with both None, none.
    random_state : None, int or numpy.random.RandomState
        Seeds the initialization.
    warm_start : bool, default=False
        When True, :meth:`fit` continues from the previous weights.
    n_jobs : int, optional
        BLAS threads during each sweep (the ``threads`` option of :class:`fastdln.Settings`);
        None measures one thread against all the cores as the fit goes. A fixed count gives
        bitwise reproducible fits. Negative values count back from the cores, as in joblib:
        -1 is all of them, -2 all but one (at least one).

    Attributes
    ----------
    coef_ : ndarray of shape (n_targets, n_features) or (n_features,)
        The end-to-end matrix ``W_L ... W_1`` (1-D for a 1-D ``y``, like
        ``LinearRegression.coef_``).
    intercept_ : float or ndarray of shape (n_targets,)
        ``b`` (0.0 without ``fit_intercept``).
    weights_ : list of ndarray
        ``W_l`` of shape ``(n_l, n_{l-1})``.
    errors_ : ndarray
        The error after every layer update of the last :meth:`fit` (the first entry is the
        error before it).
    n_iter_ : int
        Sweeps done by the last :meth:`fit`.
    relative_error_ : float
        The relative error (see ``tol``) at the end of the last :meth:`fit`.
    settings_ : fastdln.Settings
        The training options of the last :meth:`fit`.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names (a pandas DataFrame).
    """

    def __init__(self, depth=3, width=None, init="orth-identity", order="descending",
                 lr="optimal", loss="l2",
                 fit_intercept=FRONT_END_DEFAULTS["estimator"]["fit_intercept"],
                 max_sweeps=1000, tol=1e-4,
                 n_iter_no_change=FRONT_END_DEFAULTS["estimator"]["n_iter_no_change"],
                 error_tol=None, random_state=None, warm_start=False, n_jobs=None):
        self.depth = depth
        self.width = width
        self.init = init
        self.order = order
        self.lr = lr
        self.loss = loss
        self.fit_intercept = fit_intercept
        self.max_sweeps = max_sweeps
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.error_tol = error_tol
        self.random_state = random_state
        self.warm_start = warm_start
        self.n_jobs = n_jobs

    def fit(self, X: ArrayLike, y: ArrayLike,
            sample_weight: ArrayLike | None = None) -> DeepLinearRegressor:
        """Train the network on ``X`` ``(m, n_features)`` and ``y`` ``(m,)`` or ``(m, n_targets)``.

        Parameters
        ----------
        X : array_like of shape (m, n_features)
        y : array_like of shape (m,) or (m, n_targets)
        sample_weight : array_like of shape (m,), optional
            Non-negative weights of the samples (the loss is ``sum_i w_i l(r_i)``).

        Returns
        -------
        self
        """
        checked = self._checked_parameters()
        X, y = validate_data(self, X, y, y_numeric=True, multi_output=True,
                             dtype=[np.float64, np.float32])
        Y = np.asarray(y, dtype=np.float64)
        self._single_output = Y.ndim == 1
        Y = Y.reshape(len(Y), -1)
        scale = _zero_map_loss(Y, Data(X, Y, sample_weight).weight, checked)
        trainer = self._trainer(X, Y, sample_weight, checked, scale)
        losses, rule = [trainer.loss], NoChange(trainer.settings, trainer.loss)

        def watch(trainer):
            losses.append(trainer.loss)
            rule.stalled(trainer.loss)

        status = run_sweeps(trainer, self.max_sweeps, callback=watch)
        self.relative_error_ = float(trainer.errors[-1] / scale)
        # cut while still improving: a sweep of this fit improved by more than tol since
        # (with tol=None, the exact-error stop not reached)
        improving = rule.count < len(losses) - 1 if self.tol is not None else (
            self.error_tol is not None)
        if status == "max_sweeps" and improving:
            warnings.warn(self._still_improving(losses), ConvergenceWarning, stacklevel=2)
        self._store(trainer)
        return self

    def _still_improving(self, losses):
        """The :class:`ConvergenceWarning` of a fit that ``max_sweeps`` ended: how much the
        loss was still improving, and what to do."""
        recent = losses[-min(len(losses), 1 + self.n_iter_no_change):]
        gain = (recent[0] - recent[-1]) / max(recent[0], 1e-300) / max(len(recent) - 1, 1)
        rule = (f"tol={self.tol:g}" if self.error_tol is None else
                f"relative error {self.relative_error_:.2e} > error_tol={self.error_tol:g}")
        return (f"max_sweeps={self.max_sweeps} ended the fit while it was still improving "
                f"(the training loss fell by {gain:.1e} per sweep, relative, over the last "
                f"sweeps; {rule}): raise max_sweeps, or fit again with warm_start=True to "
                "continue from these weights" + ("" if self.tol is None else
                                                 "; a larger tol stops sooner"))

    def _options(self):
        """The parameters that are options of :class:`fastdln.Settings`, by their names."""
        stop = (dict(n_iter_no_change=None) if self.tol is None else
                dict(n_iter_no_change=self.n_iter_no_change, loss_tol=self.tol))
        return dict(depth=self.depth, width=self.width, order=self.order, lr=self.lr,
                    loss=self.loss, fit_intercept=self.fit_intercept, tol=self.error_tol,
                    threads=_threads(self.n_jobs), **stop)

    def _checked_parameters(self):
        """The parameters checked before any work, each error naming its parameter: the
        training options by :func:`fastdln.check_settings` (``init`` with them), the others
        here. Returns the checked options."""
        check_count(self.max_sweeps, "max_sweeps", 1)
        check_count(self.n_iter_no_change, "n_iter_no_change", 1)
        check_flag(self.warm_start, "warm_start")
        for parameter, option in (("tol", "loss_tol"), ("error_tol", "tol")):
            value = getattr(self, parameter)
            try:  # checked as the option, named as the parameter
                check_settings(**{option: value}) if value is not None else None
            except (TypeError, ValueError) as error:
                raise type(error)(str(error).replace(option, parameter, 1)) from None
        _check_random_state(self.random_state)
        return check_settings(init=self.init, **self._options())

    def _trainer(self, X, Y, sample_weight, checked, scale):
        """A :class:`fastdln.Trainer` from the parameters (and the previous weights), its
        ``tol`` in the unit of the errors: ``self.error_tol`` times the zero map's loss
        ``scale``."""
        widths = layer_widths(X.shape[1], Y.shape[1], checked.depth, checked.width)
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        options = dict(self._options(), widths=widths, seed=seed,
                       tol=None if self.error_tol is None else self.error_tol * scale)
        previous: list[np.ndarray] | None = getattr(self, "weights_", None)
        if self.warm_start and previous is not None and [
                previous[0].shape[1]] + [W.shape[0] for W in previous] == widths:
            return Trainer(X, Y, previous, sample_weight=sample_weight, **options)
        return Trainer(X, Y, sample_weight=sample_weight, init=self.init, **options)

    def _store(self, trainer):
        """The fitted attributes from a trained ``trainer``."""
        self.weights_ = trainer.weights
        self.errors_ = trainer.errors
        self.n_iter_ = trainer.sweeps_done
        self.settings_ = trainer.settings
        coef = end_to_end([W.astype(np.float64) for W in self.weights_])
        intercept = trainer.intercept
        self.coef_ = coef[0] if self._single_output else coef
        if not self.fit_intercept:
            self.intercept_ = 0.0  # like LinearRegression(fit_intercept=False)
        elif self._single_output:
            self.intercept_ = float(intercept[0])
        else:
            self.intercept_ = intercept

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Network outputs, ``(m,)`` for a 1-D ``y`` in :meth:`fit`, else ``(m, n_targets)``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        out = predict(X, self.weights_, self._intercept_vector())
        return out[:, 0] if self._single_output else out

    def _intercept_vector(self):
        """``intercept_`` as one entry per output."""
        return np.broadcast_to(self.intercept_, (self.weights_[-1].shape[0],))

    def to_model(self) -> Model:
        """The fitted network as a :class:`fastdln.Model` (what :func:`fastdln.save` writes).

        Its ``predict`` returns ``(m, n_targets)`` (a column for a 1-D ``y``).
        """
        check_is_fitted(self)
        names = getattr(self, "feature_names_in_", None)
        return Model(weights=self.weights_, widths=list(self.settings_.widths or ()),
                     settings=self.settings_.to_dict(), errors=self.errors_,
                     version=__version__, intercept=self._intercept_vector(),
                     feature_names=None if names is None else [str(n) for n in names])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


def _threads(n_jobs):
    """scikit-learn's ``n_jobs`` as a thread count (negative: counted back from the cores)."""
    if n_jobs is None:
        return None
    if isinstance(n_jobs, (bool, np.bool_)) or not isinstance(n_jobs, numbers.Integral):
        raise TypeError(f"n_jobs must be None or a non-zero integer, got {n_jobs!r}")
    if n_jobs == 0:
        raise ValueError("n_jobs must be None or a non-zero integer (negative: all the cores "
                         "but |n_jobs| - 1), got 0")
    return int(n_jobs) if n_jobs > 0 else max(1, available_cores() + 1 + int(n_jobs))


def _check_random_state(random_state):
    """``random_state`` as scikit-learn takes it: None, an int in [0, 2**32) or a
    :class:`numpy.random.RandomState`."""
    try:
        check_random_state(random_state)
    except (TypeError, ValueError):
        raise ValueError(f"random_state must be None, an integer in [0, 2**32) or a "
                         f"numpy.random.RandomState, got {random_state!r}") from None


def _zero_map_loss(Y, sample_weight, settings: Settings) -> float:
    """``loss(0) / m``, the unit of ``tol`` and of ``relative_error_``: the (weighted) loss of
    the zero map on ``Y`` (centered by its weighted mean when ``fit_intercept``), ``sum |r|^p``
    or a custom loss's ``sum l(r)`` over the residual ``r = -Y``; 1 when it is 0."""
    w = np.ones(len(Y)) if sample_weight is None else sample_weight
    residual = -(Y - (w @ Y) / w.sum()) if settings.fit_intercept else -Y
    custom = settings.custom_loss
    if custom is None:
        per_sample = np.sum(np.abs(residual) ** settings.power, axis=1)
    else:
        per_sample = np.sum(custom.elementwise("value", residual), axis=1)
    scale = float(w @ per_sample) / len(Y)
    return scale if scale > 0 else 1.0

