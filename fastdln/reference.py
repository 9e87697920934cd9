"""``fastdln.reference``: a public module of the facade, kept at ``fastdln/maths/reference.py``."""

import sys

from .maths import reference as _module

sys.modules[__name__] = _module
