"""Deprecated path: ``fastdln.trainer`` is now ``fastdln.core.trainer`` (README "Layout")."""

import sys
import warnings

from .core import trainer as _new

warnings.warn("fastdln.trainer moved to fastdln.core.trainer; import it from there",
              DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _new
