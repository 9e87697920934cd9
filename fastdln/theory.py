"""``fastdln.theory``: a public module of the facade, kept at ``fastdln/maths/theory.py``."""

import sys

from .maths import theory as _module

sys.modules[__name__] = _module
