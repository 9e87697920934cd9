"""Deprecated path: ``fastdln.methods`` is now ``fastdln.core.methods`` (README "Layout")."""

import sys
import warnings

from .core import methods as _new

warnings.warn("fastdln.methods moved to fastdln.core.methods; import it from there",
              DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _new
