"""Old path of ``fastdln.apps.cli``, without a warning: the ``fastdln`` command of an editable
install made before the layers' folders imports ``fastdln.cli:main`` (a warning would print
before every command); ``pip install -e .`` again points it at ``fastdln.apps.cli``."""

import sys

from .apps import cli as _new

sys.modules[__name__] = _new
