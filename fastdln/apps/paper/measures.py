"""Measurements on error curves that the paper's claims rest on (apps layer).

A curve is the error before training (index 0) and after each iteration (one layer update of
BCGD, or one GD step). Runs are compared in the unit the paper uses (``"iteration"``, or
``"sweep"`` = L iterations of a depth-L network) with equal budgets in that unit. A claim about
speed compares the iterations (or sweeps) needed to reach an error level, not values at the
paper's 1e-10 floor where every converged run looks the same; a run that reaches no level
within the budget is ranked by its error at the end of the budget.

Three rules keep a verdict from resting on what the measurement cannot tell apart
(docs/paper.md, "Rules every comparison follows"):

- the tie band: times or errors within ``TIE_BAND`` (5%) of each other are a tie;
- rounding: a run may carry a ``twin`` (the same run on its data's rows in reverse order:
  the same iterates in exact arithmetic, other roundings). From the first iteration where
  the two differ by more than ``AGREEMENT`` (the run's *agreement horizon*) its errors are
  known only within a factor ``1 + ROUNDING`` (0.1 decade); a comparison that this could
  flip is a tie;
- similar: two curves at most ``OVERLAP_DECADES`` (0.1 decade) apart at every point of the
  budget on the paper's log plot are "similar" ("overlapping", "behave similarly"), and then
  neither is ahead of the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["AGREEMENT", "DRASTIC", "FLOOR", "LEVELS", "LINEAR_BEND", "LINEAR_R2", "OSCILLATING",
           "OVERLAP_DECADES", "READINGS", "ROUNDING", "STOP", "TIE_BAND", "UNITS", "VERDICTS",
           "Race", "Ratio", "agreement_horizon", "combine", "drop_share", "error_at_iteration",
           "error_race", "iterations_to", "judge", "layer_of_update", "linear_convergence",
           "common_level_ratio", "horizons_text", "race_by_budget", "settled",
           "time_ratio"]

FLOOR = 1e-10  # the paper plots errors below 1e-10 as 1e-10
LEVELS = (1e-6, FLOOR)  # the levels speed claims are measured at
STOP = FLOOR * 1e-6  # runs stop once below this: every level has been reached
DRASTIC = 10.0  # "drastically" / "by far": an order of magnitude
UNITS = ("iteration", "sweep")
LINEAR_R2 = 0.98  # a straight line in log10(error) fits this well ...
LINEAR_BEND = 2.0  # ... and its two halves' slopes agree within this factor
OSCILLATING = 0.1  # "highly oscillatory": the error rises at a tenth of the iterations or more
TIE_BAND = 0.05  # two times (or two errors) within 5% of the larger one are a tie
OVERLAP_DECADES = 0.1  # curves at most 0.1 decade apart everywhere are "similar"
AGREEMENT = 1e-6  # a run and its twin agree while their errors differ by at most this
# beyond the agreement horizon an error is known within a factor 10^0.1 = 1.26 (the
# resolution of "similar"); exact implementations were measured up to 11% apart there
ROUNDING = 10 ** OVERLAP_DECADES - 1
READINGS = {"levels": "iterations to a level", "errors": "error ratio at fixed budgets"}
PASS, FAIL, TIE = "PASS", "FAIL", "TIE"
VERDICTS = (PASS, FAIL, TIE)
EXACT, WORST, MEASURED = "exact", "worst", "measured"  # envelopes of a run (:class:`Track`)


def iterations_to(errors, level):
    """The first iteration whose error is below ``level`` (None if never)."""
    below = np.flatnonzero(np.asarray(errors) < level)
    return int(below[0]) if below.size else None


def error_at_iteration(errors, it):
    """The error after iteration ``it`` (the last one if the run stopped), floored at 1e-10."""
    return max(float(errors[min(it, len(errors) - 1)]), FLOOR)


def _extended(errors, size):
    """``errors`` as ``size`` floats: a run that stopped early below ``STOP`` (it converged)
    keeps its last error, one that stopped above it (it diverged) is infinite from there."""
    values = np.asarray(errors, dtype=float)[:size]
    values = np.where(np.isfinite(values), values, np.inf)
    if values.size == size:
        return values
    last = values[-1] if values.size and values[-1] <= STOP else np.inf
    return np.concatenate([values, np.full(size - values.size, last)])


def agreement_horizon(errors, twin, size=None):
    """The first iteration where a run and its twin disagree: their errors (floored at
    1e-10, as plotted) differ by more than ``AGREEMENT`` relatively; None if they agree
    over the first ``size`` iterations (default: the longer run)."""
    size = size or max(len(errors), len(twin))
    a = np.maximum(_extended(errors, size), FLOOR)
    b = np.maximum(_extended(twin, size), FLOOR)
    with np.errstate(invalid="ignore"):
        agree = (a == b) | (np.isfinite(a) & np.isfinite(b)
                            & (np.abs(a - b) <= AGREEMENT * np.maximum(a, b)))
    differ = np.flatnonzero(~agree)
    return int(differ[0]) if differ.size else None


class Track:
    """One run of a race: its errors per iteration up to the budget, the iterations per unit,
    and what rounding leaves of them (its envelope).

    The envelope ``EXACT`` is the errors themselves; ``MEASURED`` divides and multiplies
    them by ``1 + ROUNDING`` from the run's agreement horizon on (its ``twin``, the run on the
    data's rows in reverse order, is computed for it); ``WORST`` does so from iteration 0, a
    bound of ``MEASURED`` that needs no twin. A run without a twin is exact.
    """

    def __init__(self, curve, size, per_unit):
        self.curve = curve
        self.errors = _extended(curve, size)
        self.per_unit = per_unit
        self._horizon = None
        self._measured = False

    @property
    def has_twin(self):
        """Whether the run can run a twin (a :class:`.runs.Curve`), without running it."""
        return bool(getattr(self.curve, "can_twin", False))

    @property
    def horizon(self):
        """The agreement horizon (None: the twin agrees throughout, or there is no twin);
        computing it runs the twin if it has not run yet."""
        if not self._measured and self.has_twin:
            self._horizon = agreement_horizon(self.curve, self.curve.twin, self.errors.size)
        self._measured = True
        return self._horizon

    @property
    def twinned(self):
        """Whether the twin has been compared (its horizon is known)."""
        return self._measured and self.has_twin

    def envelope(self, kind):
        """``(low, high)`` errors per iteration that rounding allows."""
        start = None
        if kind == WORST and self.has_twin:
            start = 0
        elif kind == MEASURED:
            start = self.horizon
        if start is None:
            return self.errors, self.errors
        low, high = self.errors.copy(), self.errors.copy()
        low[start:] /= 1 + ROUNDING
        high[start:] *= 1 + ROUNDING
        return low, high


def settled(decide):
    """``decide(kind)`` for the envelope ``MEASURED``, computed only when ``EXACT`` and
    ``WORST`` disagree: ``decide`` must be monotone in the envelope's width, so agreeing
    bounds settle it without running the twins."""
    exact = decide(EXACT)
    return exact if decide(WORST) == exact else decide(MEASURED)


def _level_key(errors, level, per_unit):
    """``(0, time to level in units)`` if ``errors`` reach it, else ``(1, error at the end)``
    (inf for a run that diverged)."""
    reached = iterations_to(errors, level)
    if reached is not None:
        return (0, reached / per_unit)
    return (1, float(errors[-1]))


def _budget_key(errors, budget, per_unit):
    """``(1, error after budget units)``, floored at 1e-10 (inf: diverged)."""
    return (1, max(float(errors[budget * per_unit]), FLOOR))


def _beats(a, b):
    """Key ``a`` is ahead of key ``b`` by more than the tie band."""
    (done_a, value_a), (done_b, value_b) = a, b
    if done_a != done_b:
        return done_a < done_b
    if value_a >= value_b:
        return False
    return not np.isfinite(value_b) or value_b - value_a > TIE_BAND * value_b


def _first_at_or_below(errors, level):
    below = np.flatnonzero(errors <= level)
    return int(below[0]) if below.size else None


@dataclass(frozen=True)
class Ratio:
    """How many times faster one run is than another, in one unit.

    Attributes
    ----------
    value : float
        The ratio of the slow run's time to the fast one's (above 1: ahead), or of their
        errors at a budget in the reading "errors".
    unit : str
        What is divided, e.g. ``"iterations to 1e-06"``, ``"iterations to 2.1e-02 (the
        lowest level both reach)"``, ``"errors after 500 iterations"``.
    bound : {"exact", "lower", "upper"}
        ``"lower"``: only the fast run reaches the level (the budget over its time);
        ``"upper"``: only the slow one does.
    """

    value: float
    unit: str
    bound: str = "exact"

    def measured(self):
        return {"value": self.value, "unit": f"ratio of {self.unit}", "bound": self.bound}

    def __str__(self):
        sign = {"exact": "", "lower": ">=", "upper": "<="}[self.bound]
        return f"{sign}{self.value:.3g}x ({self.unit})"


def time_ratio(fast, slow, level, unit, per_fast=1, per_slow=1):
    """The :class:`Ratio` of the times ``fast`` and ``slow`` (errors per iteration, as long
    as the budget) need to reach ``level``; where only one reaches it, a bound with the
    budget; where neither does, at the lowest level both reach (the higher of their lowest
    errors, at least 1e-10): a ratio is always one of times."""
    budget_fast, budget_slow = (fast.size - 1) / per_fast, (slow.size - 1) / per_slow
    t_fast, t_slow = iterations_to(fast, level), iterations_to(slow, level)
    name = f"{unit}s to {level:.0e}"
    if t_fast is not None and t_slow is not None:
        return Ratio(_divide(t_slow / per_slow, t_fast / per_fast), name)
    if t_fast is not None:
        return Ratio(_divide(budget_slow, t_fast / per_fast), name, "lower")
    if t_slow is not None:
        return Ratio(_divide(t_slow / per_slow, budget_fast), name, "upper")
    return common_level_ratio(fast, slow, unit, per_fast, per_slow)


def common_level_ratio(fast, slow, unit, per_fast=1, per_slow=1):
    """The :class:`Ratio` of the times ``fast`` and ``slow`` need to reach the lowest level
    both reach within the budget (the higher of their lowest errors, at least 1e-10)."""
    common = max(_lowest(fast), _lowest(slow), FLOOR)
    if not np.isfinite(common):
        return Ratio(1.0, f"{unit}s (both diverged)")
    t_fast, t_slow = _first_at_or_below(fast, common), _first_at_or_below(slow, common)
    return Ratio(_divide(t_slow / per_slow, t_fast / per_fast),
                 f"{unit}s to {common:.2g} (the lowest level both reach)")


def _lowest(errors):
    finite = errors[np.isfinite(errors)]
    return float(finite.min()) if finite.size else np.inf


def _divide(a, b):
    return a / b if b > 0 else np.inf


@dataclass
class Race:
    """Runs compared in one unit with equal budgets: who reaches each level first.

    Attributes
    ----------
    unit : {"iteration", "sweep"}
        The unit of the budget and of the times.
    budget : int
        Units every run is given.
    tracks : dict
        ``{label: Track}``, each run's errors up to the budget.
    levels : tuple
        The error levels compared (reading ``"levels"``), or the budgets (in ``unit``) at
        which the errors are compared (reading ``"errors"``).
    mode : {"strict", "lenient"}
        How a comparison inside the tie band (or the rounding envelope) counts in
        :meth:`ahead` and :meth:`similar`: against the assertion (``"strict"``) or for it
        (``"lenient"``). A rule that holds strictly PASSes, one that fails leniently FAILs,
        anything else is a TIE (:func:`judge`).
    reading : {"levels", "errors"}
    """

    unit: str
    budget: int
    tracks: dict
    levels: tuple = LEVELS
    mode: str = "strict"
    reading: str = "levels"

    @classmethod
    def of(cls, curves, *, unit, budget, depths=None, levels=LEVELS):
        """Race ``curves`` (``{label: errors per iteration}``, each possibly with a
        ``twin``) over ``budget`` units; ``depths`` (``{label: L}``) converts iterations to
        sweeps for ``unit="sweep"``."""
        return cls(unit, budget, _tracks(curves, unit, budget, depths), tuple(levels))

    @property
    def labels(self):
        return list(self.tracks)

    def key(self, label, level, kind=EXACT, side=0):
        """The race key of ``label`` at ``level``: ``(0, time)`` or ``(1, error)``, lower is
        faster; of its envelope's low (``side`` 0) or high (1) curve."""
        track = self.tracks[label]
        errors = track.envelope(kind)[side]
        if self.reading == "errors":
            return _budget_key(errors, level, track.per_unit)
        return _level_key(errors, level, track.per_unit)

    @property
    def keys(self):
        """``{level: {label: key}}`` of the runs' errors themselves."""
        return {level: {label: self.key(label, level) for label in self.tracks}
                for level in self.levels}

    def with_mode(self, mode):
        """The same race with comparisons inside the tie band counted as ``mode`` says."""
        return Race(self.unit, self.budget, self.tracks, self.levels, mode, self.reading)

    def compare(self, a, b, level):
        """-1 if ``a`` is ahead of ``b`` at ``level`` by more than the tie band whatever
        rounding did, 1 if behind, 0 for a tie."""
        def decide(kind):
            if _beats(self.key(a, level, kind, 1), self.key(b, level, kind, 0)):
                return -1
            if _beats(self.key(b, level, kind, 1), self.key(a, level, kind, 0)):
                return 1
            return 0
        return settled(decide)

    def gap(self, labels, kind=EXACT):
        """``(low, high, at)``: the largest distance in decades between the curves of
        ``labels`` (log10 of the errors floored at 1e-10, as plotted) and the unit where it
        is; low and high are its bounds within the envelopes. The curves are compared at
        every iteration of the budget; per sweep at every fraction 1/L of a sweep of the
        deepest run (a run's error there is the one after its last update)."""
        finest = max(self.tracks[label].per_unit for label in labels)
        steps = np.arange(1, self.budget * finest + 1)
        lows, highs = [], []
        for label in labels:
            track = self.tracks[label]
            points = steps * track.per_unit // finest
            low, high = track.envelope(kind)
            lows.append(np.log10(np.maximum(low[points], FLOOR)))
            highs.append(np.log10(np.maximum(high[points], FLOOR)))
        lows, highs = np.array(lows), np.array(highs)
        with np.errstate(invalid="ignore"):
            widest = highs.max(axis=0) - lows.min(axis=0)
            narrowest = np.maximum(lows.max(axis=0) - highs.min(axis=0), 0.0)
        widest = np.where(np.isnan(widest), np.inf, widest)  # two diverged runs: apart
        narrowest = np.where(np.isnan(narrowest), np.inf, narrowest)
        at = steps[np.argmax(widest)]
        return float(narrowest.max()), float(widest.max()), (
            int(at) if finest == 1 else float(at / finest))

    def similar(self, *labels):
        """The curves of ``labels`` are similar: at most ``OVERLAP_DECADES`` apart at every
        unit of the budget ("overlapping", "behave similarly"). Strictly: surely within the
        threshold less the tie band; leniently: possibly within it plus the band."""
        if self.mode == "strict":
            return settled(lambda kind: self.gap(labels, kind)[1]
                            <= OVERLAP_DECADES * (1 - TIE_BAND))
        return settled(lambda kind: self.gap(labels, kind)[0] <= OVERLAP_DECADES * (1 + TIE_BAND))

    def ahead(self, a, b):
        """``a`` is ahead of ``b``: at every level by more than the tie band (``mode``
        strict) or within it (lenient), and the two curves are not similar."""
        worst = 0 if self.mode == "lenient" else -1
        faster = all(self.compare(a, b, level) <= worst for level in self.levels)
        return faster and not self.with_mode(_other(self.mode)).similar(a, b)

    def not_ahead(self, a, b):
        """The negation of :meth:`ahead` that keeps a rule monotone: ``a`` behind or tied at
        a level, or similar to ``b`` (overlapping curves are not ahead of each other)."""
        return not self.with_mode(_other(self.mode)).ahead(a, b)

    def fastest(self, label):
        """``label`` is ahead of every other run."""
        return all(self.ahead(label, other) for other in self.labels if other != label)

    def ratio(self, fast, slow, level, kind=EXACT, side="value"):
        """How many times faster ``fast`` is than ``slow`` at ``level`` (:class:`Ratio`, one
        unit): by :func:`time_ratio` (``level`` None: :func:`common_level_ratio`), or in the
        reading "errors" the ratio of their errors at the budget ``level``. ``side`` "low" /
        "high": the least / most favourable ratio within the envelope ``kind``."""
        f, s = self.tracks[fast], self.tracks[slow]
        pick = {"value": (0, 0), "low": (1, 0), "high": (0, 1)}[side]
        fast_errors, slow_errors = f.envelope(kind)[pick[0]], s.envelope(kind)[pick[1]]
        if self.reading == "errors":
            (_, e_fast), (_, e_slow) = (_budget_key(fast_errors, level, f.per_unit),
                                        _budget_key(slow_errors, level, s.per_unit))
            value = 1.0 if e_fast == e_slow else _divide(e_slow, e_fast)
            return Ratio(value, f"errors after {level} {self.unit}s")
        if level is None:
            return common_level_ratio(fast_errors, slow_errors, self.unit, f.per_unit,
                                      s.per_unit)
        return time_ratio(fast_errors, slow_errors, level, self.unit, f.per_unit, s.per_unit)

    def time_to(self, label, level):
        """Units ``label`` needed to reach ``level`` (None if not within the budget)."""
        done, value = self.key(label, level)
        return value if done == 0 else None

    def rounding(self):
        """JSON-ready: the agreement horizon of every run whose twin was compared."""
        horizons = {str(label): track.horizon for label, track in self.tracks.items()
                    if track.twinned}
        return {"rounding_band": ROUNDING, "agreement": AGREEMENT,
                "agreement_horizons": horizons}

    def measured(self):
        """JSON-ready: ``{"unit", "budget", "levels": {level: {label: entry}}}`` with entry
        ``{"<unit>s_to_level": time}`` or ``{"error_at_budget": error or "diverged"}``; in the
        reading ``"errors"``: ``{"unit", "budget", "errors_at": {budget: {label: error}}}``;
        the agreement horizons of the runs whose twins were compared, and the gaps between
        the curves (:meth:`gaps`)."""
        def entry(key):
            done, value = key
            if done == 0:
                return {f"{self.unit}s_to_level": value}
            return {"error_at_budget": _error_value(value)}
        keys = self.keys
        if self.reading == "errors":
            found = {"errors_at": {
                str(at): {str(label): _error_value(value) for label, (_, value) in k.items()}
                for at, k in keys.items()}}
        else:
            found = {"levels": {f"{level:.0e}": {str(label): entry(key)
                                                 for label, key in k.items()}
                                for level, k in keys.items()}}
        return {"unit": self.unit, "budget": self.budget, **found, **self.rounding(),
                "gaps_decades": self.gaps()}

    def gaps(self):
        """JSON-ready ``{"a | b": decades}``: the largest gap between every two runs'
        curves (as they are, no envelope), what :meth:`similar` compares with
        ``OVERLAP_DECADES``."""
        labels = self.labels
        return {f"{a} | {b}": self.gap([a, b])[1] for i, a in enumerate(labels)
                for b in labels[i + 1:]}

    def summary(self, labels=None):
        """One line: each run's time to each level, and the error at the budget of the runs
        that did not reach the lowest one; the agreement horizons found."""
        labels = labels or self.labels
        keys = self.keys
        if self.reading == "errors":
            parts = [f"error after {at} {self.unit}s: " + ", ".join(
                f"{label} {_error_text(k[label][1])}" for label in labels)
                for at, k in keys.items()]
        else:
            parts = []
            for level, k in keys.items():
                reached = [f"{label} {k[label][1]:.4g}" for label in labels if k[label][0] == 0]
                parts.append(f"{self.unit}s to {level:.0e}: " + (", ".join(reached) or "none"))
            lowest = keys[min(keys)]
            rest = [f"{label} {_error_text(lowest[label][1])}" for label in labels
                    if lowest[label][0] == 1]
            if rest:
                parts.append(f"error after {self.budget} {self.unit}s: " + ", ".join(rest))
        return "; ".join(parts) + horizons_text(self.rounding()["agreement_horizons"])


def horizons_text(horizons):
    """``"; rounding: twins disagree from iteration ..."`` for the runs that part (else "")."""
    apart = {label: h for label, h in horizons.items() if h is not None}
    if not apart:
        return ""
    return ("; rounding: twins disagree from iteration " + ", ".join(
        f"{h} ({label})" for label, h in apart.items())
        + f", known within {ROUNDING:.0%} from there")


def _other(mode):
    return "lenient" if mode == "strict" else "strict"


def _tracks(curves, unit, budget, depths):
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, not {unit!r}")
    if unit == "sweep" and depths is None:
        raise ValueError("a race in sweeps needs the depth of every run")
    tracks = {}
    for label, errors in curves.items():
        per_unit = depths[label] if unit == "sweep" else 1
        tracks[label] = Track(errors, budget * per_unit + 1, per_unit)
    return tracks


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
        ``reading="errors"``: its levels are the budgets.
    """
    tracks = _tracks(curves, unit, budget, depths)
    budgets = _budgets(budget, fractions)
    informative = [b for b in budgets if any(
        _budget_key(t.errors, b, t.per_unit)[1] > FLOOR for t in tracks.values())]
    return Race(unit, budget, tracks, tuple(informative or budgets[:1]), "strict", "errors")


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
