"""Deprecated path: ``fastdln.threads`` is now ``fastdln.core.threads`` (README "Layout")."""

import sys
import warnings

from .core import threads as _new

warnings.warn("fastdln.threads moved to fastdln.core.threads; import it from there",
              DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _new
