"""Claims whose verdict is a race between runs: one data set, or several data seeds, judged at
the whole budget with the verdict at smaller budgets reported (apps layer)."""

from __future__ import annotations

from .claims import Claim
from .measures import DRASTIC, race_by_budget

__all__ = ["by_depth", "depth_labels", "drastically_ahead", "factors", "max_factor",
           "min_factor", "panels_claim", "race_claim", "seeds_claim"]


def by_depth(curves):
    """``{L: errors}`` -> ``{"L=<L>": errors}``, the labels the claims use."""
    return {f"L={L}": errors for L, errors in curves.items()}


def depth_labels(curves):
    """``{"L=<L>": L}`` for ``{L: errors}``: converts iterations to sweeps in a race."""
    return {f"L={L}": L for L in curves}


def factors(race, fast, slow):
    """``{level: {label: factor}}``: how many times faster each run of ``fast`` is than
    ``slow`` (below 1, or None where only ``slow`` reaches the level: behind); see
    :meth:`Race.factor`."""
    return {f"{level:.0e}": {label: race.factor(label, slow, level)[0] for label in fast}
            for level in race.keys}


def min_factor(race, fast, slow):
    """``{level: the smallest factor}`` of the runs ``fast`` over ``slow`` (None at a level
    that only ``slow`` reaches)."""
    return {level: None if None in values.values() else min(values.values())
            for level, values in factors(race, fast, slow).items()}


def max_factor(race, fast, slow):
    """``{level: the largest factor}`` of the runs ``fast`` over ``slow`` (None at a level
    that only ``slow`` reaches)."""
    return {level: max((v for v in values.values() if v is not None), default=None)
            for level, values in factors(race, fast, slow).items()}


def drastically_ahead(race, fast, slow):
    """Every run of ``fast`` is at least ``DRASTIC`` (10) times faster than ``slow`` at every
    level."""
    return all(f is not None and f >= DRASTIC for f in min_factor(race, fast, slow).values())


def _compact(value):
    """Numbers of ``measured`` in a few characters: ``{a: 1.234e-05}`` -> ``a 1.23e-05``."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} {_compact(v)}" for k, v in value.items()) + "}"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _budget_note(verdicts, unit):
    if len(set(verdicts.values())) < 2:
        return ""
    return ("; BUDGET-DEPENDENT: " + ", ".join(
        f"{'holds' if holds else 'fails'} at {budget}" for budget, holds in verdicts.items())
        + f" {unit}s")


def race_claim(id, text, curves, rule, *, unit, budget, depths=None, prefix="", extra=None,
               numbers=None):
    """A claim about runs on one data set: ``rule(race)`` at the whole ``budget`` (in
    ``unit``), with its verdict at a quarter and half of it in ``measured``.

    Parameters
    ----------
    id, text : str
        The claim's id and the paper's words.
    curves : dict
        ``{label: errors per iteration}``.
    rule : callable
        ``rule(Race) -> bool``: the paper's sentence as a test of the race.
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
    more = numbers(race) if numbers else {}
    measured = dict(race.measured(), verdict_by_budget=verdicts,
                    budget_dependent=len(set(verdicts.values())) > 1, **(extra or {}), **more)
    return Claim.check(id, text, verdicts[budget], measured, unit=unit,
                       evidence=prefix + race.summary() + "".join(
                           f"; {name}: {_compact(value)}" for name, value in more.items())
                       + _budget_note(verdicts, unit))


def panels_claim(id, text, panels, rule, *, unit, prefix=""):
    """A claim about runs in several panels (data sets, settings): it holds where
    ``rule(race, panel)`` holds in every panel at the panel's whole budget.

    Parameters
    ----------
    panels : dict
        ``{name: (curves, budget)}`` with ``curves`` ``{label: errors per iteration}``.
    rule : callable
        ``rule(Race, name) -> bool``.
    """
    measured, holds = {}, {}
    for name, (curves, budget) in panels.items():
        race, verdicts = race_by_budget(curves, lambda r, n=name: rule(r, n), unit=unit,
                                        budget=budget)
        holds[name] = verdicts[budget]
        measured[name] = dict(race.measured(), holds=verdicts[budget],
                              verdict_by_budget=verdicts,
                              budget_dependent=len(set(verdicts.values())) > 1)
        prefix += f"{name}: {race.summary()}{_budget_note(verdicts, unit)}. "
    return Claim.check(id, text, all(holds.values()), {"panels": measured}, unit=unit,
                       evidence=prefix.strip())


def seeds_claim(id, text, runs, rule, *, unit, budget, numbers=None):
    """A claim judged on several data seeds: it holds where ``rule(race)`` holds on every
    seed at the whole budget; ``measured`` has every seed's race, the count of seeds where it
    holds at each budget, and ``data_seeds``.

    Parameters
    ----------
    runs : dict
        ``{data seed: (cond(X), {L: errors per iteration})}``.
    numbers : callable, optional
        ``numbers(race) -> dict`` of more numbers per seed (ratios, best depth, ...).
    """
    per_seed, counts, races = {}, {}, {}
    for data_seed, (cond, curves) in runs.items():
        race, verdicts = race_by_budget(by_depth(curves), rule, unit=unit, budget=budget,
                                        depths=depth_labels(curves))
        races[data_seed] = race
        per_seed[data_seed] = dict(cond_X=cond, holds=verdicts[budget],
                                   verdict_by_budget=verdicts, **race.measured(),
                                   **(numbers(race) if numbers else {}))
        for b, holds in verdicts.items():
            counts[b] = counts.get(b, 0) + int(holds)
    verdicts = {b: count == len(runs) for b, count in counts.items()}
    measured = dict(data_seeds=list(runs), unit=unit, budget=budget, holds_on_seeds=counts,
                    verdict_by_budget=verdicts, budget_dependent=len(set(verdicts.values())) > 1,
                    per_seed=per_seed)
    conds = [cond for cond, _ in runs.values()]
    evidence = (f"holds on {counts[budget]} of {len(runs)} data seeds {list(runs)} "
                f"(cond(X) {min(conds):.3g} .. {max(conds):.3g}) at {budget} {unit}s "
                "(" + ", ".join(f"{c}/{len(runs)} at {b}" for b, c in counts.items()) + ")"
                + _budget_note(verdicts, unit))
    if numbers:
        evidence += "; " + "; ".join(
            f"seed {s}: " + ", ".join(f"{k} {_compact(v)}" for k, v in numbers(race).items())
            for s, race in races.items())
    return Claim.check(id, text, verdicts[budget], measured, unit=unit, evidence=evidence)
