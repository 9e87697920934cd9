"""Deprecated path: ``fastdln.synthetic`` is now ``fastdln.maths.synthetic`` (README "Layout")."""

import sys
import warnings

from .maths import synthetic as _new

warnings.warn("fastdln.synthetic moved to fastdln.maths.synthetic; import it from there",
              DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _new
