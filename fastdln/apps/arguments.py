"""argparse types shared by the commands: integers and numbers checked where they are read."""

from __future__ import annotations

import argparse

import numpy as np

__all__ = ["integer_at_least", "number_where"]


def integer_at_least(minimum):
    """An argparse ``type``: an integer >= ``minimum`` (the command line's options too)."""
    def integer(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value
    return integer


def number_where(accept, expected):
    """An argparse ``type``: a finite float for which ``accept`` holds."""
    def number(text):
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (np.isfinite(value) and accept(value)):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value
    return number

