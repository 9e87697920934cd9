"""Deprecated path: ``fastdln.io`` is now ``fastdln.core.io`` (README "Layout")."""

import sys
import warnings

from .core import io as _new

warnings.warn("fastdln.io moved to fastdln.core.io; import it from there",
              DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _new
