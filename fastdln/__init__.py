"""fastdln: fast layer-wise training of deep linear networks.

Block coordinate gradient descent (BCGD) for ``W_L ... W_1 x`` after Shin, "Layer-wise
training for deep linear networks". Rows are samples: ``X`` is ``(m, n0)``, ``Y`` is
``(m, nL)``; weights ``W_l`` have shape ``(n_l, n_{l-1})``.
"""

from . import reference, theory
from .init import init_weights
from .io import Model, load, save
from .optimum import Optimum, global_optimum, predict
from .trainer import Trainer
from .training import TrainResult, train

__version__ = "0.1.0"

__all__ = [
    "DeepLinearRegressor",
    "Model",
    "Optimum",
    "TrainResult",
    "Trainer",
    "global_optimum",
    "init_weights",
    "load",
    "predict",
    "reference",
    "save",
    "theory",
    "train",
]


def __getattr__(name):
    """``fastdln.DeepLinearRegressor`` on first use (scikit-learn is an optional extra)."""
    if name == "DeepLinearRegressor":
        from .estimator import DeepLinearRegressor

        return DeepLinearRegressor
    raise AttributeError(f"module 'fastdln' has no attribute {name!r}")
