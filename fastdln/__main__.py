"""``python -m fastdln``: the command line (see :mod:`fastdln.cli`)."""

import sys

from .apps.cli import main

sys.exit(main())
