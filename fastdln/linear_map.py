"""Deprecated path: ``fastdln.linear_map`` is now ``fastdln.core.linear_map`` (README "Layout")."""

import sys
import warnings

from .core import linear_map as _new

warnings.warn("fastdln.linear_map moved to fastdln.core.linear_map; import it from there",
              DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _new
