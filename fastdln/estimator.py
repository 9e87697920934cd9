"""A scikit-learn estimator around :class:`fastdln.Trainer` (needs scikit-learn >= 1.6; apps
layer)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .init import layer_widths
from .problem import predict
from .trainer import Trainer
from .training import run_sweeps

__all__ = ["DeepLinearRegressor"]


class DeepLinearRegressor(RegressorMixin, BaseEstimator):
    """Deep linear network ``W_L ... W_1 x`` trained layer by layer (BCGD).

    Parameters
    ----------
    depth : int
        Number of layers ``L``.
    width : int, optional
        Width of the hidden layers (default ``max(n_features, n_outputs)``).
    init, order, lr, loss
        As in :func:`fastdln.train`.
    max_sweeps : int
        Maximum number of sweeps per call of :meth:`fit`.
    tol : float, optional
        Stop once ``(loss(W) - loss(W*)) / m <= tol``.
    random_state : None, int or numpy.random.RandomState
        Seeds the initialization.
    warm_start : bool
        When True, :meth:`fit` continues from the previous weights.

    Attributes
    ----------
    weights_ : list of ndarray
        ``W_l`` of shape ``(n_l, n_{l-1})``.
    errors_ : ndarray
        The error after every layer update of the last :meth:`fit` (the first entry is the
        error before it).
    n_sweeps_ : int
        Sweeps done by the last :meth:`fit`.
    n_features_in_ : int
    """

    def __init__(self, depth=2, width=None, init="orth-identity", order="descending",
                 lr="optimal", loss="l2", max_sweeps=100, tol=None, random_state=None,
                 warm_start=False):
        self.depth = depth
        self.width = width
        self.init = init
        self.order = order
        self.lr = lr
        self.loss = loss
        self.max_sweeps = max_sweeps
        self.tol = tol
        self.random_state = random_state
        self.warm_start = warm_start

    def fit(self, X: ArrayLike, y: ArrayLike) -> DeepLinearRegressor:
        """Train the network on ``X`` ``(m, n_features)`` and ``y`` ``(m,)`` or ``(m, n_outputs)``.

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, y_numeric=True, multi_output=True,
                             dtype=[np.float64, np.float32])
        Y = np.asarray(y, dtype=np.float64)
        self._single_output = Y.ndim == 1
        Y = Y.reshape(len(Y), -1)
        widths = self._widths(X.shape[1], Y.shape[1])
        previous: list[np.ndarray] | None = getattr(self, "weights_", None)
        weights = None
        if self.warm_start and previous is not None and [
                previous[0].shape[1]] + [W.shape[0] for W in previous] == widths:
            weights = previous
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        options = dict(order=self.order, lr=self.lr, loss=self.loss, tol=self.tol, seed=seed,
                       widths=widths)
        if weights is None:
            options["init"] = self.init
        trainer = Trainer(X, Y, weights, **options)
        run_sweeps(trainer, self.max_sweeps)
        self.weights_ = trainer.weights
        self.errors_ = trainer.errors
        self.n_sweeps_ = trainer.sweeps_done
        return self

    def _widths(self, n_features, n_outputs):
        depth = int(self.depth)
        if depth < 1:
            raise ValueError(f"depth must be an integer >= 1, got {self.depth!r}")
        width = None if self.width is None else int(self.width)
        return layer_widths(n_features, n_outputs, depth, width)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Network outputs, ``(m,)`` for a single-output fit, else ``(m, n_outputs)``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        out = predict(X, self.weights_)
        return out[:, 0] if self._single_output else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
