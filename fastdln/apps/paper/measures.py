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

__all__ = ["DRASTIC", "FLOOR", "LEVELS", "LINEAR_BEND", "LINEAR_R2", "OSCILLATING",
           "READINGS", "STOP",
           "TIE_BAND", "UNITS", "VERDICTS",
           "Race", "combine", "drop_share", "error_at_iteration", "error_race", "iterations_to",
           "judge", "largest_gap", "layer_of_update", "linear_convergence", "race_by_budget"]

FLOOR = 1e-10  # the paper plots errors below 1e-10 as 1e-10
LEVELS = (1e-6, FLOOR)  # the levels speed claims are measured at
STOP = FLOOR * 1e-6  # runs stop once below this: every level has been reached
DRASTIC = 10.0  # "drastically" / "by far": an order of magnitude
UNITS = ("iteration", "sweep")
LINEAR_R2 = 0.98  # a straight line in log10(error) fits this well ...
LINEAR_BEND = 2.0  # ... and its two halves' slopes agree within this factor
OSCILLATING = 0.1  # "highly oscillatory": the error rises at a tenth of the iterations or more
TIE_BAND = 0.05  # two times (or two errors) within 5% of the larger one are a tie
READINGS = {"levels": "iterations to a level", "errors": "error ratio at fixed budgets"}
PASS, FAIL, TIE = "PASS", "FAIL", "TIE"
VERDICTS = (PASS, FAIL, TIE)


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
        ``{level: {label: (0, time) or (1, error at the budget)}}``; lower is faster. In the
        reading ``"errors"`` the levels are budgets (in ``unit``) and every key is
        ``(1, error there)``.
    mode : {"strict", "lenient"}
        How a comparison inside the tie band counts in :meth:`ahead`: never ahead
        (``"strict"``) or ahead (``"lenient"``). A rule that holds strictly PASSes, one that
        fails leniently FAILs, anything else is a TIE (:func:`judge`).
    reading : {"levels", "errors"}
    """

    unit: str
    budget: int
    keys: dict
    mode: str = "strict"
    reading: str = "levels"

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

    def with_mode(self, mode):
        """The same race with comparisons inside the tie band counted as ``mode`` says."""
        return Race(self.unit, self.budget, self.keys, mode, self.reading)

    def compare(self, a, b, level):
        """-1 if ``a`` is ahead of ``b`` at ``level`` by more than the tie band, 1 if behind,
        0 for a tie (times or errors within ``TIE_BAND`` of the larger; both diverged)."""
        (done_a, value_a), (done_b, value_b) = self.keys[level][a], self.keys[level][b]
        if done_a != done_b:
            return -1 if done_a < done_b else 1
        if value_a == value_b:
            return 0
        if not np.isfinite(max(value_a, value_b)):
            return -1 if value_a < value_b else 1
        if abs(value_a - value_b) <= TIE_BAND * max(value_a, value_b):
            return 0
        return -1 if value_a < value_b else 1

    def ahead(self, a, b):
        """``a`` is ahead of ``b`` at every level: by more than the tie band (``mode``
        strict), or within it (lenient)."""
        worst = 0 if self.mode == "lenient" else -1
        return all(self.compare(a, b, level) <= worst for level in self.keys)

    def similar(self, a, b):
        """``a`` and ``b`` are tied (within the tie band) at every level: "behave
        similarly". The same in both modes: a tie is what it asserts."""
        return all(self.compare(a, b, level) == 0 for level in self.keys)

    def not_ahead(self, a, b):
        """The negation of :meth:`ahead` that keeps a rule monotone: in a strict race ``a``
        is not ahead even within the band, in a lenient one not ahead beyond it."""
        return not self.with_mode("lenient" if self.mode == "strict" else "strict").ahead(a, b)

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
        ``{"<unit>s_to_level": time}`` or ``{"error_at_budget": error or "diverged"}``; in the
        reading ``"errors"``: ``{"unit", "budget", "errors_at": {budget: {label: error}}}``."""
        def entry(key):
            done, value = key
            if done == 0:
                return {f"{self.unit}s_to_level": value}
            return {"error_at_budget": value if np.isfinite(value) else "diverged"}
        if self.reading == "errors":
            return {"unit": self.unit, "budget": self.budget, "errors_at": {
                str(at): {str(label): _error_value(value) for label, (_, value) in keys.items()}
                for at, keys in self.keys.items()}}
        return {"unit": self.unit, "budget": self.budget,
                "levels": {f"{level:.0e}": {str(label): entry(key) for label, key in keys.items()}
                           for level, keys in self.keys.items()}}

    def summary(self, labels=None):
        """One line: each run's time to each level, and the error at the budget of the runs
        that did not reach the lowest one."""
        labels = labels or self.labels
        if self.reading == "errors":
            return "; ".join(f"error after {at} {self.unit}s: " + ", ".join(
                f"{label} {_error_text(keys[label][1])}" for label in labels)
                for at, keys in self.keys.items())
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


def _error_value(value):
    return value if np.isfinite(value) else "diverged"


def judge(race, rule):
    """``"PASS"`` if ``rule`` holds with every tie counted against it, ``"FAIL"`` if it fails
    with every tie counted for it, else ``"TIE"``: a gap inside the tie band decides nothing.
    ``rule(race)`` must use :meth:`Race.ahead` / :meth:`Race.not_ahead` (monotone)."""
    if rule(race.with_mode("strict")):
        return PASS
    return TIE if rule(race.with_mode("lenient")) else FAIL


def combine(verdicts):
    """The verdict of a claim that must hold in every part: FAIL if one part fails, PASS if
    all pass, else TIE."""
    verdicts = list(verdicts)
    if FAIL in verdicts:
        return FAIL
    return PASS if all(v == PASS for v in verdicts) else TIE


def _budgets(budget, fractions=(0.25, 0.5, 1.0)):
    return sorted({max(1, round(budget * f)) for f in fractions} | {budget})


def race_by_budget(curves, rule, *, unit, budget, depths=None, fractions=(0.25, 0.5, 1.0)):
    """A race's verdict (:func:`judge`) at fractions of the budget.

    Returns
    -------
    (Race, dict)
        The race at the full budget, and ``{budget: verdict}`` for every fraction.
    """
    races = {b: Race.of(curves, unit=unit, budget=b, depths=depths)
             for b in _budgets(budget, fractions)}
    return races[budget], {b: judge(race, rule) for b, race in races.items()}


def error_race(curves, *, unit, budget, depths=None, fractions=(0.25, 0.5, 1.0)):
    """The second reading of a race: the errors (floored at 1e-10, as plotted) at fixed
    budgets, a quarter, half and all of ``budget`` (in ``unit``). A budget where every run is
    at the floor compares nothing and is left out (unless all are).

    Returns
    -------
    Race
        ``reading="errors"``: its levels are the budgets, its keys ``(1, error there)``.
    """
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, not {unit!r}")
    per_unit = {label: (depths[label] if unit == "sweep" else 1) for label in curves}
    keys = {}
    for b in _budgets(budget, fractions):
        keys[b] = {label: (1, _error_within(errors, b * per_unit[label]))
                   for label, errors in curves.items()}
    informative = {b: k for b, k in keys.items() if any(v > FLOOR for _, v in k.values())}
    return Race(unit, budget, informative or dict([next(iter(keys.items()))]), "strict",
                "errors")


def _error_within(errors, it):
    """The error after iteration ``it`` floored at 1e-10; inf for a run that stopped early
    above the stop level (diverged)."""
    if it >= len(errors) and not errors[-1] <= STOP:
        return np.inf
    value = error_at_iteration(errors, it)
    return value if np.isfinite(value) else np.inf


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


def _slope(log):
    """The least-squares slope of ``log`` against 0, 1, 2, ... and the fit's R^2."""
    k = np.arange(log.size, dtype=float)
    slope, intercept = np.polyfit(k, log, 1)
    spread = float(((log - log.mean()) ** 2).sum())
    residual = float(((log - (slope * k + intercept)) ** 2).sum())
    return float(slope), (1.0 - residual / spread) if spread > 0 else 0.0


def linear_convergence(errors):
    """Whether a curve converges linearly, as the paper reads it off a log-scale plot: a
    straight descending line in log10(error) against iterations.

    Measured over the span above the floor, from the start to the first error below 1e-10
    (or the end): the least-squares line through log10(error) descends, fits with
    R^2 >= ``LINEAR_R2`` (0.98), and the slopes fitted to the first and the second half of
    the span agree within a factor ``LINEAR_BEND`` (2): a sublinear curve flattens, one that
    plateaus after a fast start bends. Isolated spikes hardly move the fit and do not reject
    a curve; one that rises at ``OSCILLATING`` (a tenth) of its iterations or more is
    oscillating, not linear.

    Returns
    -------
    dict
        ``linear`` (bool), ``span`` (iterations), ``r2``, ``decades_per_iteration`` (the
        line's slope, negated), ``half_slope_ratio`` (second half's over the first's) and
        ``increases`` (iterations that raise the error).
    """
    errors = np.asarray(errors, dtype=float)
    end = iterations_to(errors, FLOOR)
    end = errors.size - 1 if end is None else end
    if end < 4 or not np.all(np.isfinite(errors[: end + 1])):
        return dict(linear=False, span=int(end), r2=None, decades_per_iteration=None,
                    half_slope_ratio=None, increases=None)
    log = np.log10(np.maximum(errors[: end + 1], FLOOR))
    slope, r2 = _slope(log)
    first, second = _slope(log[: end // 2 + 1])[0], _slope(log[end // 2:])[0]
    ratio = second / first if first < 0 else None
    increases = int(np.sum(errors[1: end + 1] > errors[:end] * (1 + 1e-12)))
    linear = (slope < 0 and r2 >= LINEAR_R2 and ratio is not None
              and 1 / LINEAR_BEND <= ratio <= LINEAR_BEND and increases < OSCILLATING * end)
    return dict(linear=bool(linear), span=int(end), r2=float(r2),
                decades_per_iteration=-slope, half_slope_ratio=ratio, increases=increases)
