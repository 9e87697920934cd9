"""Claims whose verdict is a race between runs: one data set, or several data seeds, judged at
the whole budget with the verdict at smaller budgets reported (apps layer)."""

from __future__ import annotations

import numpy as np

from .claims import Claim
from .measures import (DRASTIC, READINGS, TIE_BAND, Ratio, combine, error_race, judge,
                       race_by_budget, settled)

__all__ = ["at_least", "by_depth", "depth_labels", "drastically_ahead", "factors",
           "faster_by", "max_factor", "measured_ratios", "min_factor", "panels_claim",
           "race_claim", "seeds_claim"]


def by_depth(curves):
    """``{L: errors}`` -> ``{"L=<L>": errors}``, the labels the claims use."""
    return {f"L={L}": errors for L, errors in curves.items()}


def depth_labels(curves):
    """``{"L=<L>": L}`` for ``{L: errors}``: converts iterations to sweeps in a race."""
    return {f"L={L}": L for L in curves}


def factors(race, fast, slow):
    """``{level: {label: Ratio}}``: how many times faster each run of ``fast`` is than
    ``slow``, in one unit per ratio (:meth:`.measures.Race.ratio`: times to the level, a
    bound where only one run reaches it, the lowest level both reach where neither does; in
    the reading "errors" the levels are budgets and the ratios those of the errors)."""
    def name(level):  # a level (1e-06), or a budget in the reading "errors"
        return f"{level:.0e}" if race.reading == "levels" else str(level)
    return {name(level): {label: race.ratio(label, slow, level) for label in fast}
            for level in race.levels}


def min_factor(race, fast, slow):
    """``{level: the smallest Ratio}`` of the runs ``fast`` over ``slow``."""
    return {level: min(values.values(), key=lambda r: r.value)
            for level, values in factors(race, fast, slow).items()}


def max_factor(race, fast, slow):
    """``{level: the largest Ratio}`` of the runs ``fast`` over ``slow``."""
    return {level: max(values.values(), key=lambda r: r.value)
            for level, values in factors(race, fast, slow).items()}


def at_least(factor, threshold, mode):
    """``factor >= threshold`` with the tie band: a factor within ``TIE_BAND`` of the
    threshold counts as below it in a strict race and as above it in a lenient one."""
    if factor is None or not np.isfinite(factor):
        return factor is not None and factor > threshold
    tie = abs(factor - threshold) <= TIE_BAND * max(factor, threshold)
    return (factor >= threshold or mode == "lenient") if tie else factor > threshold


def faster_by(race, fast, slow, level, threshold):
    """``fast`` is at least ``threshold`` times faster than ``slow`` at ``level``, with the
    tie band (:func:`at_least`) and rounding: strictly with the least favourable ratio that
    the runs' envelopes allow, leniently with the most favourable. A bound counts for what
    it shows: a lower bound (the slow run never reached the level) may hide any larger
    ratio, so it never fails leniently; an upper bound never passes strictly."""
    side = "low" if race.mode == "strict" else "high"

    def decide(kind):
        ratio = race.ratio(fast, slow, level, kind, side)
        if ratio.bound == ("lower" if race.mode == "lenient" else "upper"):
            return race.mode == "lenient"
        return at_least(ratio.value, threshold, race.mode)
    return settled(decide)


def drastically_ahead(race, fast, slow):
    """Every run of ``fast`` is at least ``DRASTIC`` (10) times faster than ``slow`` at every
    level (:func:`faster_by`)."""
    return all(faster_by(race, label, slow, level, DRASTIC)
               for label in fast for level in race.levels)


def measured_ratios(value):
    """``value`` (numbers, dicts of them) with every :class:`.measures.Ratio` as its JSON
    form, its unit beside it."""
    if isinstance(value, Ratio):
        return value.measured()
    if isinstance(value, dict):
        return {key: measured_ratios(v) for key, v in value.items()}
    return value


def _compact(value):
    """Numbers of ``measured`` in a few characters: ``{a: 1.234e-05}`` -> ``a 1.23e-05``."""
    if isinstance(value, dict):
        texts = {k: _compact(v) for k, v in value.items()}
        if len(texts) > 1 and len(set(texts.values())) == 1 and all(
                isinstance(v, Ratio) for v in value.values()):  # one ratio for every level
            return next(iter(texts.values()))
        return "{" + ", ".join(f"{k} {text}" for k, text in texts.items()) + "}"
    if isinstance(value, Ratio):
        return str(value)
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _budget_note(verdicts, unit):
    if len(set(verdicts.values())) < 2:
        return ""
    return ("; BUDGET-DEPENDENT: " + ", ".join(
        f"{verdict} at {budget}" for budget, verdict in verdicts.items()) + f" {unit}s")


def _second_reading(curves, rule, *, unit, budget, depths=None):
    """The verdict and numbers of the reading "error ratio at fixed budgets"."""
    race = error_race(curves, unit=unit, budget=budget, depths=depths)
    return judge(race, rule), race


def _readings(verdict, second, second_race):
    """``measured``'s account of both readings; the verdict uses "levels"."""
    return {"reading": "levels", "tie_band": TIE_BAND,
            "verdict_by_reading": {"levels": verdict, "errors": second},
            "readings": {"levels": {"name": READINGS["levels"], "verdict": verdict},
                         "errors": dict(name=READINGS["errors"], verdict=second,
                                        **second_race.measured())}}


def _reading_note(second):
    return (f"; verdict by {READINGS['levels']} (by {READINGS['errors']}: {second}); "
            f"tie band {TIE_BAND:.0%}")


def race_claim(id, text, curves, rule, *, unit, budget, depths=None, prefix="", extra=None,
               numbers=None):
    """A claim about runs on one data set: ``rule(race)`` judged (:func:`.measures.judge`)
    at the whole ``budget`` (in ``unit``), with its verdict at a quarter and half of it and
    by the second reading (errors at fixed budgets) in ``measured``.

    Parameters
    ----------
    id, text : str
        The claim's id and the paper's words.
    curves : dict
        ``{label: errors per iteration}``.
    rule : callable
        ``rule(Race) -> bool``: the paper's sentence as a monotone test of the race.
    unit : {"iteration", "sweep"}
    budget : int
    depths : dict, optional
        ``{label: L}``, needed for ``unit="sweep"``.
    prefix : str
        Starts the evidence line (e.g. the data set).
    extra : dict, optional
        More numbers for ``measured``.
    numbers : callable, optional
        ``numbers(race) -> dict``: more numbers of the race at the whole budget.
    """
    race, verdicts = race_by_budget(curves, rule, unit=unit, budget=budget, depths=depths)
    second, second_race = _second_reading(curves, rule, unit=unit, budget=budget, depths=depths)
    more = numbers(race) if numbers else {}
    measured = dict(race.measured(), verdict_by_budget=verdicts,
                    budget_dependent=len(set(verdicts.values())) > 1, **(extra or {}),
                    **measured_ratios(more),
                    **_readings(verdicts[budget], second, second_race))
    if numbers:
        measured["readings"]["errors"].update(measured_ratios(numbers(second_race)))
    return Claim.check(id, text, verdicts[budget], measured, unit=unit,
                       evidence=prefix + race.summary() + "".join(
                           f"; {name}: {_compact(value)}" for name, value in more.items())
                       + _budget_note(verdicts, unit) + _reading_note(second))


def panels_claim(id, text, panels, rule, *, unit, prefix="", numbers=None):
    """A claim about runs in several panels (data sets, settings): it holds where
    ``rule(race, panel)`` holds in every panel at the panel's whole budget (a FAIL in one
    panel fails it, a TIE and no FAIL ties it). ``measured["budget_dependent"]`` is true
    when a panel's verdict changes with the budget (``budget_dependent_panels`` names them).

    Parameters
    ----------
    panels : dict
        ``{name: (curves, budget)}`` with ``curves`` ``{label: errors per iteration}``.
    rule : callable
        ``rule(Race, name) -> bool``.
    numbers : callable, optional
        ``numbers(race, name) -> dict``: more numbers of a panel's race at its whole budget.
    """
    measured, verdict, second = {}, {}, {}
    for name, (curves, budget) in panels.items():
        def named(r, n=name):
            return rule(r, n)
        race, verdicts = race_by_budget(curves, named, unit=unit, budget=budget)
        second[name], second_race = _second_reading(curves, named, unit=unit, budget=budget)
        verdict[name] = verdicts[budget]
        more = numbers(race, name) if numbers else {}
        measured[name] = dict(race.measured(), holds=verdicts[budget] == "PASS",
                              verdict=verdicts[budget], verdict_by_budget=verdicts,
                              budget_dependent=len(set(verdicts.values())) > 1,
                              **measured_ratios(more),
                              **_readings(verdicts[budget], second[name], second_race))
        prefix += f"{name}: {race.summary()}" + "".join(
            f"; {key}: {_compact(value)}" for key, value in more.items()) + (
            f"{_budget_note(verdicts, unit)}. ")
    overall, overall_second = combine(verdict.values()), combine(second.values())
    dependent = [name for name, panel in measured.items() if panel["budget_dependent"]]
    return Claim.check(id, text, overall, {"panels": measured, "reading": "levels",
                                           "tie_band": TIE_BAND,
                                           "budget_dependent": bool(dependent),
                                           "budget_dependent_panels": dependent,
                                           "verdict_by_reading": {"levels": overall,
                                                                  "errors": overall_second}},
                       unit=unit, evidence=prefix.strip() + _reading_note(overall_second))


def seeds_claim(id, text, runs, rule, *, unit, budget, numbers=None):
    """A claim judged on several data seeds: it holds where ``rule(race)`` holds on every
    seed at the whole budget (a FAIL on one seed fails it, a TIE and no FAIL ties it);
    ``measured`` has every seed's race, the count of seeds where it holds at each budget, and
    ``data_seeds``.

    Parameters
    ----------
    runs : dict
        ``{data seed: (cond(X), {L: errors per iteration})}``.
    numbers : callable, optional
        ``numbers(race) -> dict`` of more numbers per seed (ratios, best depth, ...).
    """
    per_seed, by_budget, races, second = {}, {}, {}, {}
    for data_seed, (cond, curves) in runs.items():
        labelled, depths = by_depth(curves), depth_labels(curves)
        race, verdicts = race_by_budget(labelled, rule, unit=unit, budget=budget, depths=depths)
        second[data_seed], second_race = _second_reading(labelled, rule, unit=unit,
                                                         budget=budget, depths=depths)
        races[data_seed] = race
        per_seed[data_seed] = dict(cond_X=cond, holds=verdicts[budget] == "PASS",
                                   verdict=verdicts[budget], verdict_by_budget=verdicts,
                                   **race.measured(),
                                   **measured_ratios(numbers(race) if numbers else {}),
                                   **_readings(verdicts[budget], second[data_seed],
                                               second_race))
        for b, verdict in verdicts.items():
            by_budget.setdefault(b, []).append(verdict)
    counts = {b: verdicts.count("PASS") for b, verdicts in by_budget.items()}
    verdicts = {b: combine(v) for b, v in by_budget.items()}
    overall_second = combine(second.values())
    measured = dict(data_seeds=list(runs), unit=unit, budget=budget, holds_on_seeds=counts,
                    verdict_by_budget=verdicts, budget_dependent=len(set(verdicts.values())) > 1,
                    per_seed=per_seed, reading="levels", tie_band=TIE_BAND,
                    verdict_by_reading={"levels": verdicts[budget], "errors": overall_second})
    conds = [cond for cond, _ in runs.values()]
    evidence = (f"holds on {counts[budget]} of {len(runs)} data seeds {list(runs)} "
                f"(cond(X) {min(conds):.3g} .. {max(conds):.3g}) at {budget} {unit}s "
                "(" + ", ".join(f"{c}/{len(runs)} at {b}" for b, c in counts.items()) + "; "
                + ", ".join(f"seed {s} {per_seed[s]['verdict']}" for s in runs) + ")"
                + _budget_note(verdicts, unit))
    if numbers:
        evidence += "; " + "; ".join(
            f"seed {s}: " + ", ".join(f"{k} {_compact(v)}" for k, v in numbers(race).items())
            for s, race in races.items())
    return Claim.check(id, text, verdicts[budget], measured, unit=unit,
                       evidence=evidence + _reading_note(overall_second))
