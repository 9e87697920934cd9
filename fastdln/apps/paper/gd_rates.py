"""Fair GD baselines: a constant learning rate searched finely, judged over the whole budget
(apps layer).

The paper chose GD's rates "by trial-and-error ... that leads the fastest convergence". Here:
from a starting rate (the rate of the paper's reference [11]), steps of 10x find the largest
rate that converges below one that does not (the stability edge within 10x), then the grid of
10 rates per decade is walked up and down from it while the curve gets faster, so the chosen
rate beats both of its grid neighbours. Every trial runs the whole budget and is judged on it
(iterations to 1e-10, else the error at the end); a curve that diverges or stops decreasing is
never chosen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .measures import FLOOR, STOP

__all__ = ["CONVERGING", "DIVERGED", "NOT_DECREASING", "RateSearch", "RateTrial",
           "curve_health", "search_gd_rate"]

CONVERGING, DIVERGED, NOT_DECREASING = "converging", "diverged", "not decreasing"
PER_DECADE = 10
LOWEST, HIGHEST = 1e-12, 1e3  # the search gives up outside these rates


def curve_health(errors, budget):
    """How a constant-rate run of ``budget`` iterations behaved.

    - ``"diverged"``: it stopped before the budget without reaching the stop level, or an
      error is not finite;
    - ``"not decreasing"``: above 1e-10 at the end, and either its lowest error is not in the
      last tenth of the budget (it went back up) or the second half of the budget did not
      lower it at all (it stalled);
    - ``"converging"`` otherwise, however slowly.
    """
    errors = np.asarray(errors, dtype=float)
    if not np.all(np.isfinite(errors)) or (errors.size < budget + 1 and errors[-1] > STOP):
        return DIVERGED
    lowest_at_the_end = errors[-max(1, budget // 10):].min()
    if lowest_at_the_end <= FLOOR:
        return CONVERGING
    went_up = lowest_at_the_end > errors.min()
    stalled = lowest_at_the_end >= errors[: budget // 2 + 1].min()
    return NOT_DECREASING if went_up or stalled else CONVERGING


@dataclass
class RateTrial:
    """One GD run at a constant ``rate`` over the whole budget."""

    rate: float
    errors: np.ndarray = field(repr=False)
    health: str
    key: tuple  # (0, iterations to 1e-10) or (1, error at the budget): lower is faster

    @property
    def converging(self):
        return self.health == CONVERGING

    def describe(self):
        done, value = self.key
        speed = (f"1e-10 after {value:.0f} iterations" if done == 0
                 else f"{value:.2e} at the budget" if np.isfinite(value) else "diverged")
        return f"{self.rate:.3g} ({self.health}, {speed})"


def _trial(rate, errors, budget):
    health = curve_health(errors, budget)
    reached = np.flatnonzero(errors < FLOOR)
    if reached.size:
        key = (0, float(reached[0]))
    else:
        key = (1, float(errors[-1]) if health != DIVERGED else math.inf)
    return RateTrial(float(rate), np.asarray(errors), health, key)


@dataclass
class RateSearch:
    """The rates tried, the chosen one (the fastest converging curve) and its runner-up."""

    budget: int
    trials: list

    @property
    def ranked(self):
        """Converging trials, fastest first."""
        return sorted((t for t in self.trials if t.converging), key=lambda t: t.key)

    @property
    def chosen(self):
        return self.ranked[0] if self.ranked else None

    @property
    def runner_up(self):
        return self.ranked[1] if len(self.ranked) > 1 else None

    def measured(self):
        """JSON-ready: the chosen rate, its runner-up and every rate tried."""
        def rate(trial):
            return None if trial is None else trial.rate
        return {"gd_rate": rate(self.chosen), "gd_rate_runner_up": rate(self.runner_up),
                "gd_budget": self.budget, "gd_rates_per_decade": PER_DECADE,
                "gd_rates_tried": {f"{t.rate:.4g}": t.health
                                   for t in sorted(self.trials, key=lambda t: t.rate)}}

    def describe(self):
        chosen, runner = self.chosen, self.runner_up
        if chosen is None:
            return f"no converging GD rate in [{LOWEST:g}, {HIGHEST:g}]"
        return (f"GD rate {chosen.describe()}, runner-up "
                f"{runner.describe() if runner else 'none'}; {len(self.trials)} rates tried "
                f"over the whole budget of {self.budget} iterations")


def search_gd_rate(curve_for, budget, start):
    """Search GD's constant rate: bracket the stability edge from ``start`` in steps of 10x,
    then walk the grid of 10 rates per decade up and down from the largest converging rate
    while the curve gets faster (a local optimum on that grid).

    Parameters
    ----------
    curve_for : callable
        ``curve_for(rate)`` runs GD for ``budget`` iterations and returns its errors (shorter
        if the run diverged).
    budget : int
        Iterations of every trial; the rates are judged on the whole of it.
    start : float
        The first rate tried.

    Returns
    -------
    RateSearch
    """
    tried = {}

    def trial(rate):
        label = round(math.log10(rate), 9)
        if label not in tried:
            tried[label] = _trial(rate, curve_for(rate), budget)
        return tried[label]

    good = _bracket(trial, start)
    if good is not None:
        step = 10 ** (1 / PER_DECADE)
        best = trial(good)
        for factor in (step, 1 / step):
            while LOWEST <= best.rate * factor <= HIGHEST:
                neighbour = trial(best.rate * factor)
                if not (neighbour.converging and neighbour.key < best.key):
                    break
                best = neighbour
    return RateSearch(budget, list(tried.values()))


def _bracket(trial, start):
    """The largest converging rate of the steps of 10x from ``start`` whose 10x larger rate
    does not converge (None if no rate in [LOWEST, HIGHEST] converges)."""
    rate = start
    if trial(rate).converging:
        while rate * 10 <= HIGHEST and trial(rate * 10).converging:
            rate *= 10
        return rate
    while rate / 10 >= LOWEST:
        rate /= 10
        if trial(rate).converging:
            return rate
    return None
