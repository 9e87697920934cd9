"""Deprecated path: ``fastdln.settings`` is now ``fastdln.core.settings`` (README "Layout")."""

import sys
import warnings

from .core import settings as _new

warnings.warn("fastdln.settings moved to fastdln.core.settings; import it from there",
              DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _new
