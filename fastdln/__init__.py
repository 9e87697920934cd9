"""fastdln: fast layer-wise training of deep linear networks.

Block coordinate gradient descent (BCGD) for ``W_L ... W_1 x`` after Shin, "Layer-wise
training for deep linear networks". Rows are samples: ``X`` is ``(m, n0)``, ``Y`` is
``(m, nL)``; weights ``W_l`` have shape ``(n_l, n_{l-1})``.
"""

from .maths import losses, reference, theory
from ._version import __version__
from .maths.init import init_weights
from .core.io import Model, load, save
from .maths.optimum import Optimum
from .core.linear_map import global_optimum, predict
from .core.settings import Settings, check_settings
from .core.trainer import Trainer
from .core.runner import TrainResult, train
from .apps.warmup import warmup


__all__ = [
    "__version__",
    "DeepLinearRegressor",
    "Model",
    "Optimum",
    "Settings",
    "TrainResult",
    "Trainer",
    "global_optimum",
    "check_settings",
    "init_weights",
    "load",
    "losses",
    "predict",
    "reference",
    "save",
    "theory",
    "train",
    "warmup",
]


def __getattr__(name):
    """``fastdln.DeepLinearRegressor`` on first use (scikit-learn is an optional extra)."""
    if name == "DeepLinearRegressor":
        from .apps.estimator import DeepLinearRegressor

        return DeepLinearRegressor
    raise AttributeError(f"module 'fastdln' has no attribute {name!r}")
