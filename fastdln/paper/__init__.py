"""Deprecated path: ``fastdln.paper`` is now ``fastdln.apps.paper`` (README "Layout")."""

import sys
import warnings

from ..apps import paper as _new
from ..apps.paper import datasets as _datasets

warnings.warn("fastdln.paper moved to fastdln.apps.paper; import it from there",
              DeprecationWarning, stacklevel=2)
sys.modules[__name__ + ".datasets"] = _datasets  # documented: fastdln.paper.datasets
sys.modules[__name__] = _new
