"""Measurements on error curves that the paper's claims rest on (apps layer).

A curve is the error before training (index 0) and after each iteration (one layer update of
BCGD, or one GD step). Runs are compared in the unit the paper uses (``"iteration"``, or
``"sweep"`` = L iterations of a depth-L network) with equal budgets in that unit. A claim about
speed compares the iterations (or sweeps) needed to reach an error level, not values at the
paper's 1e-10 floor where every converged run looks the same; a run that reaches no level
within the budget is ranked by its error at the end of the budget.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DRASTIC", "FLOOR", "LEVELS", "STOP", "UNITS", "Race", "drop_share",
           "error_at_iteration", "iterations_to", "largest_gap", "layer_of_update",
           "linear_convergence", "race_by_budget"]

FLOOR = 1e-10  # the paper plots errors below 1e-10 as 1e-10
LEVELS = (1e-6, FLOOR)  # the levels speed claims are measured at
STOP = FLOOR * 1e-6  # runs stop once below this: every level has been reached
DRASTIC = 10.0  # "drastically" / "by far": an order of magnitude
UNITS = ("iteration", "sweep")


def iterations_to(errors, level):
    """The first iteration whose error is below ``level`` (None if never)."""
    below = np.flatnonzero(np.asarray(errors) < level)
    return int(below[0]) if below.size else None


def error_at_iteration(errors, it):
    """The error after iteration ``it`` (the last one if the run stopped), floored at 1e-10."""
    return max(float(errors[min(it, len(errors) - 1)]), FLOOR)


def _time_key(errors, level, budget, per_unit):
    """``(0, time)`` if ``errors`` reach ``level`` within ``budget`` units, else
    ``(1, error at the end of the budget)``; inf for a run that stopped (diverged) early."""
    needed = budget * per_unit + 1
    cut = np.asarray(errors[:needed], dtype=float)
    reached = iterations_to(cut, level)
    if reached is not None:
        return (0, reached / per_unit)
    complete = cut.size == needed and np.isfinite(cut[-1])
    return (1, float(cut[-1]) if complete else np.inf)


@dataclass
class Race:
    """Runs compared in one unit with equal budgets: who reaches each level first.

    Attributes
    ----------
    unit : {"iteration", "sweep"}
        The unit of the budget and of the times.
    budget : int
        Units every run is given.
    keys : dict
        ``{level: {label: (0, time) or (1, error at the budget)}}``; lower is faster.
    """

    unit: str
    budget: int
    keys: dict

    @classmethod
    def of(cls, curves, *, unit, budget, depths=None, levels=LEVELS):
        """Race ``curves`` (``{label: errors per iteration}``) over ``budget`` units;
        ``depths`` (``{label: L}``) converts iterations to sweeps for ``unit="sweep"``."""
        if unit not in UNITS:
            raise ValueError(f"unit must be one of {UNITS}, not {unit!r}")
        if unit == "sweep" and depths is None:
            raise ValueError("a race in sweeps needs the depth of every run")
        per_unit = {label: (depths[label] if unit == "sweep" else 1) for label in curves}
        keys = {level: {label: _time_key(errors, level, budget, per_unit[label])
                        for label, errors in curves.items()} for level in levels}
        return cls(unit, budget, keys)

    @property
    def labels(self):
        return list(next(iter(self.keys.values())))

    def ahead(self, a, b):
        """``a`` is strictly ahead of ``b`` at every level."""
        return all(keys[a] < keys[b] for keys in self.keys.values())

    def fastest(self, label):
        """``label`` is ahead of every other run at every level."""
        return all(self.ahead(label, other) for other in self.labels if other != label)

    def factor(self, fast, slow, level):
        """How many times faster ``fast`` is than ``slow`` at ``level``.

        Returns
        -------
        (float or None, bool)
            The ratio of their times to the level when both reach it; ``budget / time``,
            a lower bound (flag False), when only ``fast`` does; the ratio of their errors at
            the budget when neither does; None when only ``slow`` reaches it.
        """
        (done_f, value_f), (done_s, value_s) = self.keys[level][fast], self.keys[level][slow]
        if done_f == 0 and done_s == 0:
            return value_s / max(value_f, 1e-300), True
        if done_f == 0:
            return self.budget / max(value_f, 1e-300), False
        if done_s == 0:
            return None, True
        return value_s / max(value_f, 1e-300), True

    def time_to(self, label, level):
        """Units ``label`` needed to reach ``level`` (None if not within the budget)."""
        done, value = self.keys[level][label]
        return value if done == 0 else None

    def measured(self):
        """JSON-ready: ``{"unit", "budget", "levels": {level: {label: entry}}}`` with entry
        ``{"<unit>s_to_level": time}`` or ``{"error_at_budget": error or "diverged"}``."""
        def entry(key):
            done, value = key
            if done == 0:
                return {f"{self.unit}s_to_level": value}
            return {"error_at_budget": value if np.isfinite(value) else "diverged"}
        return {"unit": self.unit, "budget": self.budget,
                "levels": {f"{level:.0e}": {str(label): entry(key) for label, key in keys.items()}
                           for level, keys in self.keys.items()}}

    def summary(self, labels=None):
        """One line: each run's time to each level, and the error at the budget of the runs
        that did not reach the lowest one."""
        labels = labels or self.labels
        parts = []
        for level, keys in self.keys.items():
            reached = [f"{label} {keys[label][1]:.4g}" for label in labels if keys[label][0] == 0]
            parts.append(f"{self.unit}s to {level:.0e}: " + (", ".join(reached) or "none"))
        lowest = self.keys[min(self.keys)]
        rest = [f"{label} {_error_text(lowest[label][1])}" for label in labels
                if lowest[label][0] == 1]
        if rest:
            parts.append(f"error after {self.budget} {self.unit}s: " + ", ".join(rest))
        return "; ".join(parts)


def _error_text(value):
    return f"{value:.3e}" if np.isfinite(value) else "diverged"


def race_by_budget(curves, rule, *, unit, budget, depths=None, fractions=(0.25, 0.5, 1.0)):
    """A race's verdict at fractions of the budget: whether ``rule(race)`` holds at each.

    Returns
    -------
    (Race, dict)
        The race at the full budget, and ``{budget: verdict}`` for every fraction.
    """
    budgets = sorted({max(1, round(budget * f)) for f in fractions} | {budget})
    races = {b: Race.of(curves, unit=unit, budget=b, depths=depths) for b in budgets}
    return races[budget], {b: bool(rule(race)) for b, race in races.items()}


def largest_gap(curves, iterations):
    """The largest distance in decades between the curves (log10 of the errors floored at
    1e-10, as plotted) over iterations 1..``iterations``, and the iteration where it is.

    Returns
    -------
    (float, int)
    """
    logs = np.log10([[error_at_iteration(errors, it) for it in range(1, iterations + 1)]
                     for errors in curves])
    gaps = logs.max(axis=0) - logs.min(axis=0)
    return float(gaps.max()), int(np.argmax(gaps)) + 1


def layer_of_update(k, L, order="descending"):
    """The layer (1..L) that iteration ``k`` (1, 2, ...) updates."""
    position = (k - 1) % L
    return L - position if order == "descending" else position + 1


def drop_share(errors, L, layers, order="descending"):
    """The share of the total decrease of log10(error) (floored at 1e-10, as plotted) that
    the updates of ``layers`` made: what "the errors decrease mostly after updating ..."
    measures on the paper's log-scale plots. None if the error did not decrease."""
    log = np.log10(np.maximum(np.asarray(errors, dtype=float), FLOOR))
    drops = -np.diff(log)
    total = drops.sum()
    if total <= 0:
        return None
    updated = np.array([layer_of_update(k, L, order) for k in range(1, log.size)])
    return float(drops[np.isin(updated, list(layers))].sum() / total)


def linear_convergence(errors):
    """Whether a curve converges linearly, as the paper reads it off a log-scale plot: a
    straight descending line until the 1e-10 floor.

    Measured from the start to the first error below 1e-10 (or the end): no iteration raises
    the error (beyond rounding, 1e-12 relative), and the last quarter lowers log10(error) at
    least half as fast per iteration as the whole span does (a sublinear curve flattens).

    Returns
    -------
    dict
        ``linear`` (bool), ``span`` (iterations), ``increases``, ``decades_per_iteration``
        (whole span) and ``decades_per_iteration_last_quarter``.
    """
    errors = np.asarray(errors, dtype=float)
    end = iterations_to(errors, FLOOR)
    end = errors.size - 1 if end is None else end
    if end < 4 or not np.all(np.isfinite(errors[: end + 1])):
        return dict(linear=False, span=int(end), increases=None, decades_per_iteration=None,
                    decades_per_iteration_last_quarter=None)
    log = np.log10(np.maximum(errors[: end + 1], FLOOR))
    increases = int(np.sum(errors[1: end + 1] > errors[:end] * (1 + 1e-12)))
    quarter = end - (3 * end) // 4
    whole = (log[0] - log[end]) / end
    last = (log[end - quarter] - log[end]) / quarter
    return dict(linear=bool(increases == 0 and whole > 0 and last >= whole / 2),
                span=int(end), increases=increases, decades_per_iteration=float(whole),
                decades_per_iteration_last_quarter=float(last))
