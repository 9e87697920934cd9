"""``fastdln.losses``: a public module of the facade, kept at ``fastdln/maths/losses.py``."""

import sys

from .maths import losses as _module

sys.modules[__name__] = _module
