"""A checked claim of the paper, and the curve measurements claims rest on (apps layer)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FLOOR", "Claim", "error_after_sweep", "error_at_iteration", "iterations_to",
           "non_increasing"]

FLOOR = 1e-10  # the paper plots errors below 1e-10 as 1e-10


@dataclass
class Claim:
    """One sentence of the paper, checked: ``passed`` with the numbers behind it."""

    text: str
    passed: bool
    evidence: str

    def __str__(self):
        return f"[{'PASS' if self.passed else 'FAIL'}] {self.text}: {self.evidence}"


def error_after_sweep(errors, L, k):
    index = min(k * L, errors.size - 1)
    return max(float(errors[index]), FLOOR)


def iterations_to(errors, level):
    """The first iteration whose error is below ``level`` (None if never)."""
    below = np.flatnonzero(errors < level)
    return int(below[0]) if below.size else None


def error_at_iteration(errors, it):
    return max(float(errors[min(it, errors.size - 1)]), FLOOR)


def non_increasing(values):
    """Non-increasing (ties allowed, e.g. at the 1e-10 floor)."""
    return all(a >= b for a, b in zip(values, values[1:]))


