"""Deprecated path: ``fastdln.experiments`` is now ``fastdln.apps.experiments``."""

import sys
import warnings

from .apps import experiments as _new

warnings.warn("fastdln.experiments moved to fastdln.apps.experiments; import it from there",
              DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _new
