"""Figures 1, 4 and 9: layer-wise BCGD against gradient descent, per iteration (apps layer).

As in the paper, both methods get the same number of iterations (one BCGD iteration updates
one layer, one GD iteration all of them). GD's constant rate is the paper's where it gives
one (Figure 4, left: 1e-5 and 2e-5); elsewhere it is searched finely over the whole budget
(:mod:`.gd_rates`), and the chosen rate and its runner-up are reported.
"""

from __future__ import annotations

import math

import numpy as np

from ...maths.synthetic import random_data
from ...maths.theory import gd_rate
from .claims import Claim, mark_stand_in
from .figure_data import (COND_MATCH, FIG3_COND, condition_number, conditioned_data, matched_draws,
                   real_data)
from .gd_rates import CONVERGING, DIVERGED, PER_DECADE, curve_health, search_gd_rate
from .measures import (LINEAR_BEND, LINEAR_R2, OSCILLATING, STOP, TIE_BAND, Race,
                       horizons_text, linear_convergence, settled)
from .plots import save_panels
from .runs import train_curve, twinned
from .verdicts import (at_least, drastically_ahead, measured_ratios, min_factor, panels_claim,
                       race_claim)

__all__ = ["FEW_ITERATIONS", "OSCILLATING", "fig1", "fig4", "fig9"]

FEW_ITERATIONS = 10  # "diverge within few iterations"
LINEARITY_TEST = (f"straight-line fit of log10(error): R^2 >= {LINEAR_R2}, halves' slopes "
                  f"within {LINEAR_BEND:g}x, rises at < {OSCILLATING:.0%} of the iterations")


def _bcgd(X, Y, widths, iterations, **options):
    """BCGD with the optimal rate over ``iterations`` layer updates (it can run its twin)."""
    sweeps = math.ceil(iterations / (len(widths) - 1))
    return train_curve(X, Y, widths, sweeps, stop_below=STOP, twin=True, **options)


def _gd(X, Y, widths, iterations, rate, **options):
    return train_curve(X, Y, widths, iterations, stop_below=STOP, method="gd", lr=rate,
                       **options)


def _search(X, Y, widths, iterations, **options):
    """GD's rate searched from [11]'s rate ``nL / (3 L ||X||^2)``, judged over ``iterations``;
    the curves of the chosen rate and its runner-up can run their twins."""
    start = gd_rate(X, len(widths) - 1, widths[-1])
    search = search_gd_rate(lambda rate: _gd(X, Y, widths, iterations, rate, **options),
                            iterations, start)
    for trial in (search.chosen, search.runner_up):
        if trial is not None:
            trial.errors = twinned(trial.errors, X, Y, widths, iterations, stop_below=STOP,
                                   method="gd", lr=trial.rate, **options)
    return search


def _gd_label(search):
    chosen = search.chosen
    return f"GD {chosen.rate:.3g} (searched)" if chosen else "GD (no converging rate)"


def _gd_errors(search):
    """The chosen rate's curve, or a diverged one when no rate converged."""
    return search.chosen.errors if search.chosen else np.array([np.inf])


def _diverged_at(errors, iterations):
    """The iteration a run diverged at (None if it did not stop early)."""
    stopped = errors.size < iterations + 1 and not errors[-1] <= STOP
    return int(errors.size) if stopped else None


def _linear_text(label, c):
    if c["r2"] is None:
        return f"{label}: not linear (under 5 iterations above the floor, or not finite)"
    ratio = "n/a" if c["half_slope_ratio"] is None else f"{c['half_slope_ratio']:.2f}"
    return (f"{label}: {'linear' if c['linear'] else 'not linear'} over {c['span']} "
            f"iterations (R^2 {c['r2']:.3f}, second half's slope / first's {ratio}, "
            f"{_decades(c['decades_per_iteration'])} decades per iteration, "
            f"{c['increases']} rises)")


def _linear_claim(id, text, panels, prefix=""):
    """``panels``: ``{panel: {label: errors}}`` of GD at well-chosen rates (the paper's, or
    the searched rate and its runner-up, one grid step apart); a panel holds where one of
    them converges linearly (:func:`.measures.linear_convergence`), the claim where every
    panel holds."""
    checks = {panel: {label: linear_convergence(errors) for label, errors in curves.items()}
              for panel, curves in panels.items()}
    holds = {panel: any(c["linear"] for c in found.values()) for panel, found in checks.items()}
    evidence = "; ".join(f"{panel}: " + ", ".join(_linear_text(label, c)
                                                  for label, c in found.items())
                         for panel, found in checks.items())
    measured = dict(panels=checks, holds=holds, r2_at_least=LINEAR_R2,
                    half_slopes_within=LINEAR_BEND)
    return Claim.check(id, text, all(holds.values()), measured, unit="iteration",
                       evidence=prefix + evidence, reading=LINEARITY_TEST)


def _well_chosen(search):
    """``{label: errors}`` of the searched rate and its runner-up (if any)."""
    found = {_gd_label(search): _gd_errors(search)}
    if search.runner_up is not None:
        found[f"GD {search.runner_up.rate:.3g} (runner-up)"] = search.runner_up.errors
    return found


def _decades(value):
    return "n/a" if value is None else f"{value:.3g}"


def fig1(out_dir, *, quick=False, seed=0, quiet=False):
    """Figure 1: BCGD (optimal rate) vs GD, n0=128, nL=10, L=100, width 128, orthogonal
    init, 1000 iterations each (300 with ``quick``); GD's rate searched."""
    X, Y = random_data(600, 128, 10, seed)
    widths = [128] * 100 + [10]
    iterations = 300 if quick else 1000
    options = dict(init="orthogonal", seed=seed)
    search = _search(X, Y, widths, iterations, **options)
    gd = _gd_label(search)
    curves = {"BCGD": _bcgd(X, Y, widths, iterations, **options), gd: _gd_errors(search)}
    extra = search.measured()
    prefix = f"{search.describe()}. "
    claims = [
        race_claim("fig1.bcgd_ahead_of_gd", "we clearly see that BCGD converges drastically "
                   "faster than GD (here: BCGD ahead of the best-rate GD)", curves,
                   lambda race: race.ahead("BCGD", gd), unit="iteration", budget=iterations,
                   prefix=prefix, extra=extra),
        race_claim("fig1.bcgd_drastically_ahead_of_gd", "we clearly see that BCGD converges "
                   "drastically faster than GD (here: at least 10x fewer iterations to each "
                   "level)", curves, lambda race: drastically_ahead(race, ["BCGD"], gd),
                   unit="iteration", budget=iterations, prefix=prefix, extra=extra,
                   numbers=lambda race: {"bcgd_over_gd_factor": min_factor(race, ["BCGD"], gd)}),
    ]
    if search.runner_up is not None:
        curves[f"GD {search.runner_up.rate:.3g} (runner-up)"] = search.runner_up.errors
    panels = {"n0=128, nL=10, L=100, width 128, orthogonal init": curves}
    return claims, save_panels(out_dir, "fig1", panels, "Fig. 1: BCGD vs GD",
                               data=f"Section 4.1 data, seed {seed}")


def _oscillation(errors):
    rises = np.diff(errors) > 0
    return {"increases": int(rises.sum()), "iterations": int(rises.size),
            "highly_oscillatory": bool(rises.mean() >= OSCILLATING)}


def _left_panel(seed, iterations):
    """Figure 4 left: L=400 on Section 4.1.1's data, the paper's GD rates 1e-5 and 2e-5."""
    X, Y = random_data(600, 128, 10, seed)
    widths = [128] * 400 + [10]
    curves = {"BCGD": _bcgd(X, Y, widths, iterations, seed=seed)}
    for rate in (1e-5, 2e-5):
        curves[f"GD {rate:g}"] = _gd(X, Y, widths, iterations, rate, seed=seed, twin=True)
    rate_11 = gd_rate(X, 400, 10)
    diverged = _diverged_at(_gd(X, Y, widths, iterations, rate_11, seed=seed), iterations)
    return curves, rate_11, diverged


def _divergence_claim(diverged):
    """``diverged``: ``{panel: {"rate": [11]'s rate, "diverged_at": iteration or None}}``."""
    few = all(d["diverged_at"] is not None and d["diverged_at"] <= FEW_ITERATIONS
              for d in diverged.values())
    return Claim.check(
        "fig4.gd_rate_of_11_diverges", "We tried the learning rate of eta = nL / (3 L ||X||^2) "
        "from [11], however, we observed that it makes GD diverge within few iterations.", few,
        dict(diverged, few_iterations=FEW_ITERATIONS), unit="iteration",
        evidence="; ".join(f"{name}: rate {d['rate']:.3g} diverges at iteration "
                           f"{d['diverged_at']}" for name, d in diverged.items()),
        reading=f"[11]'s rate diverges within {FEW_ITERATIONS} iterations on every panel")


def _sensitivity_claim(slow, fast):
    """GD at the paper's 1e-5 (``slow``) and 2e-5 (``fast``) on Figure 4's left task."""
    linear, oscillating = linear_convergence(slow), _oscillation(fast)
    return Claim.check(
        "fig4.gd_sensitive_to_rate", "GD with the learning rate of 1e-5 produces a linear "
        "convergence, however, GD with the learning rate of 2e-5 leads a highly oscillatory "
        "behavior in the error.", linear["linear"] and oscillating["highly_oscillatory"],
        {"gd_1e-5": linear, "gd_2e-5": oscillating}, unit="iteration",
        evidence=f"L=400: GD 1e-5 {'linear' if linear['linear'] else 'not linear'} "
                 f"({linear['increases']} increases); GD 2e-5 raises the error at "
                 f"{oscillating['increases']} of {oscillating['iterations']} iterations "
                 f"(highly oscillatory: >= {OSCILLATING:.0%})",
        reading=f"1e-5: {LINEARITY_TEST}; 2e-5: rises at >= {OSCILLATING:.0%} of the "
                "iterations")


SENSITIVITY_STEPS = 3  # grid steps above a well-chosen rate: up to 10^0.3 = 2x, the paper's pair


def _behaviour(errors, budget):
    """How GD at one rate behaved: its health (:func:`.gd_rates.curve_health`), its rises,
    and whether it fails to converge steadily (diverged, stalled or highly oscillatory)."""
    health, rises = curve_health(errors, budget), _oscillation(errors)
    return dict(health=health, **rises,
                fails=health != CONVERGING or rises["highly_oscillatory"])


def _rates_above(search, run):
    """``{rate: errors}`` of GD at 1..``SENSITIVITY_STEPS`` grid steps above the searched
    rate (the search's own trials where it ran them, else ``run(rate)``)."""
    step, found = 10 ** (1 / PER_DECADE), {}
    for k in range(1, SENSITIVITY_STEPS + 1):
        rate = search.chosen.rate * step ** k
        trial = next((t for t in search.trials if math.isclose(t.rate, rate, rel_tol=1e-6)),
                     None)
        found[rate] = trial.errors if trial is not None else run(rate)
    return found


def _highly_sensitive_claim(panels):
    """"It is also clear that GD is highly sensitive with respect to learning rate", beyond
    the paper's one pair: in each panel a rate at most 2x (10^0.3) a well-chosen one (the
    paper's 1e-5 on the left, the searched rate on the right) makes GD diverge, stall or
    oscillate highly. ``panels``: ``{panel: (well-chosen rate, {rate: errors}, budget)}``."""
    found = {}
    for name, (rate, curves, budget) in panels.items():
        found[name] = {"well_chosen_rate": rate, "rates": {
            f"{r:.3g}": dict(_behaviour(errors, budget), times_well_chosen=r / rate)
            for r, errors in curves.items()}}
    first = {name: next((float(r) for r, b in panel["rates"].items() if b["fails"]), None)
             for name, panel in found.items()}
    return Claim.check(
        "fig4.gd_highly_sensitive", "It is also clear that GD is highly sensitive with "
        "respect to learning rate (here: in both panels, a rate at most 2x a well-chosen one "
        "makes GD diverge, stall or oscillate highly).", all(v is not None for v in
                                                           first.values()),
        {"panels": found, "first_failing_rate": first}, unit="iteration",
        evidence="; ".join(
            f"{name}: well-chosen {panel['well_chosen_rate']:.3g}, then " + ", ".join(
                f"{r} {b['health']}{', highly oscillatory' if b['highly_oscillatory'] else ''}"
                for r, b in panel["rates"].items()) for name, panel in found.items()),
        reading=f"a rate at most {10 ** (SENSITIVITY_STEPS / PER_DECADE):.3g}x the well-chosen "
                "one diverges, stalls or rises at >= "
                f"{OSCILLATING:.0%} of the iterations, in every panel")


def _right_panel(seed, iterations):
    """Figure 4 right: L=5 on Section 4.1.2's data (the first draw with cond(X) within 1.5x
    of the caption's 236, as Figure 3's first), GD's rate searched."""
    data_seed = next(iter(matched_draws(128, seed, count=1)[0]))
    X, Y = conditioned_data(600, 128, 10, data_seed)
    widths = [128] * 5 + [10]
    search = _search(X, Y, widths, iterations, seed=seed)
    curves = {"BCGD": _bcgd(X, Y, widths, iterations, seed=seed),
              _gd_label(search): _gd_errors(search)}
    start = search.trials[0]  # [11]'s rate
    diverged = (_diverged_at(start.errors, iterations) if start.health == DIVERGED else None)
    above = {} if search.chosen is None else _rates_above(
        search, lambda rate: _gd(X, Y, widths, iterations, rate, seed=seed))
    return curves, search, above, {"rate": start.rate, "diverged_at": diverged,
                                   "cond_X": condition_number(X)[0], "data_seed": data_seed}


def _fig4_data_claim(conds):
    """The caption's condition numbers (2.6 left, 236 right): each panel's cond(X) within
    ``COND_MATCH`` (1.5) times it. ``conds``: ``{panel: (cond, paper's, data seed)}``."""
    close = {name: paper / COND_MATCH <= cond <= paper * COND_MATCH
             for name, (cond, paper, _) in conds.items()}
    return Claim.check(
        "fig4.data", "(Left) The model matrix has a condition number of 2.6 ... (Right) The "
        "model matrix has a condition number of 236", all(close.values()),
        {name: {"cond_X": cond, "paper_cond_X": paper, "data_seed": data_seed,
                "matched": close[name]} for name, (cond, paper, data_seed) in conds.items()},
        evidence="; ".join(f"{name}: cond(X) {cond:.4g} (data seed {data_seed}; the paper's "
                           f"{paper:g})" for name, (cond, paper, data_seed) in conds.items()),
        reading=f"cond(X) within {COND_MATCH:g}x of the caption's")


def _especially_claim(panels, gd):
    """"especially when the model matrix has a big condition number": BCGD's ratio over GD
    (the paper's 1e-5 on the left, the searched rate on the right) is larger on the right,
    beyond the tie band. Both are ratios of iterations to the lowest level both runs of the
    panel reach (like with like, whichever levels they reach)."""
    races = {name: Race.of(curves, unit="iteration", budget=budget)
             for name, (curves, budget) in panels.items()}
    (small, left), (large, right) = races.items()

    def larger(mode):
        least, most = ("low", "high") if mode == "strict" else ("high", "low")
        return lambda kind: at_least(
            right.ratio("BCGD", gd[large], None, kind, least).value
            / left.ratio("BCGD", gd[small], None, kind, most).value, 1.0, mode)
    verdict = "PASS" if settled(larger("strict")) else (
        "TIE" if settled(larger("lenient")) else "FAIL")
    found = {name: race.ratio("BCGD", gd[name], None) for name, race in races.items()}
    rounding = {name: race.rounding() for name, race in races.items()}
    return Claim.check(
        "fig4.gain_larger_at_large_cond", "it is clear that BCGD converges significantly "
        "faster than GD, especially when the model matrix has a big condition number (here: "
        "BCGD's ratio over GD larger in the right panel)", verdict,
        {"bcgd_over_gd_factor": measured_ratios(found), "gd": gd, "rounding": rounding},
        unit="iteration", evidence="BCGD over GD: " + ", ".join(
            f"{name} {ratio}" for name, ratio in found.items()) + "".join(
            f"; {name}: {horizons_text(r['agreement_horizons']).removeprefix('; ')}"
            for name, r in rounding.items() if any(r["agreement_horizons"].values())),
        reading="BCGD's ratio over GD of iterations to the lowest level both reach, larger "
                "on the right", tie_band=TIE_BAND)


def fig4(out_dir, *, quick=False, seed=0, quiet=False):
    """Figure 4: BCGD vs GD. Left: L=400, small cond(X), GD at the paper's 1e-5 and 2e-5,
    400 iterations (150 with ``quick``). Right: L=5, large cond(X), GD's rate searched,
    2000 iterations (500)."""
    left_budget, right_budget = (150, 500) if quick else (400, 2000)
    left, rate_11, left_diverged = _left_panel(seed, left_budget)
    right, search, above, right_diverged = _right_panel(seed, right_budget)
    panels = {"L=400, small cond(X)": (left, left_budget),
              "L=5, large cond(X)": (right, right_budget)}
    searched = f"L=5 (cond(X) = {right_diverged['cond_X']:.4g}): {search.describe()}. "
    ahead = panels_claim(
        "fig4.bcgd_ahead_of_gd", "it is clear that BCGD converges significantly faster than "
        "GD, especially when the model matrix has a big condition number (here: BCGD ahead of "
        "every GD curve of both panels)", panels, lambda race, _: all(
            race.ahead("BCGD", label) for label in race.labels if label != "BCGD"),
        unit="iteration", prefix=searched)
    ahead.measured.update(search.measured(), cond_X_large=right_diverged["cond_X"])
    left_cond = condition_number(random_data(600, 128, 10, seed)[0])[0]
    claims = [
        _fig4_data_claim({"L=400, small cond(X)": (left_cond, 2.6, seed),
                          "L=5, large cond(X)": (right_diverged["cond_X"], FIG3_COND,
                                                 right_diverged["data_seed"])}),
        _especially_claim(panels, {"L=400, small cond(X)": "GD 1e-05",
                                   "L=5, large cond(X)": _gd_label(search)}),
        _divergence_claim({"L=400, small cond(X)": {"rate": rate_11, "diverged_at": left_diverged},
                           "L=5, large cond(X)": right_diverged}),
        _linear_claim("fig4.gd_converges_linearly", "In both cases, we observe that GD "
                      "converges linearly when learning rate is chosen properly.",
                      {"L=400 (the paper's rate)": {"GD 1e-5": left["GD 1e-05"]},
                       "L=5 (searched)": _well_chosen(search)}, prefix=searched),
        _sensitivity_claim(left["GD 1e-05"], left["GD 2e-05"]),
        _highly_sensitive_claim({
            "L=400, small cond(X)": (1e-5, {2e-5: left["GD 2e-05"]}, left_budget),
            "L=5, large cond(X)": (search.chosen.rate if search.chosen else math.nan,
                                   above, right_budget)}),
        ahead,
    ]
    drawn = {f"L=400: Section 4.1 data, cond(X) = {left_cond:.3g}, seed {seed}": left,
             f"L=5: Section 4.1.2 data, cond(X) = {right_diverged['cond_X']:.3g}, data seed "
             f"{right_diverged['data_seed']}": dict(right, **_well_chosen(search))}
    return claims, save_panels(out_dir, "fig4", drawn, "Fig. 4: BCGD vs GD (every GD curve "
                               "judged is drawn)")


def fig9(out_dir, *, quick=False, seed=0, quiet=False, data_dir=None):
    """Figure 9: BCGD vs GD on the UCI data (L=4) and MNIST (L=2) or their stand-ins, identity
    init, width n0, 1000 iterations (200 with ``quick``); GD's rate searched."""
    iterations = 200 if quick else 1000
    panels, described, gd_curves, searched, stand_ins = {}, {}, {}, [], []
    for kind, L in (("uci", 4), ("mnist", 2)):
        data = real_data(kind, data_dir, seed)
        widths = [data.X.shape[1]] * L + [data.Y.shape[1]]
        search = _search(data.X, data.Y, widths, iterations, init="identity", seed=seed)
        name, gd = f"{data.tag}, L={L}", _gd_label(search)
        curves = {"BCGD": _bcgd(data.X, data.Y, widths, iterations, init="identity",
                                seed=seed),
                  gd: _gd_errors(search)}
        panels[name] = (curves, iterations)
        described[kind] = dict(data.measured(), depth=L, **search.measured())
        gd_curves[name] = _well_chosen(search)
        searched.append(f"{data.tag}, L={L}: {search.describe()}")
        stand_ins += data.stand_ins
    claims = [
        Claim.info("fig9.data", "On the left and right, the results for the UCI and the MNIST "
                   "datasets are presented, respectively.", described, ". ".join(searched),
                   reading="description: the data and GD's searched rates"),
        panels_claim("fig9.bcgd_ahead_of_gd", "In all cases, we see that BCGD converges faster "
                     "than GD", panels, lambda race, _: race.ahead("BCGD", race.labels[1]),
                     unit="iteration"),
        _linear_claim("fig9.gd_converges_linearly", "while GD with a well-chosen learning rate "
                      "converges linearly.", gd_curves),
    ]
    mark_stand_in(claims, stand_ins)
    files = save_panels(out_dir, "fig9", {name: dict(c, **gd_curves[name])
                                          for name, (c, _) in panels.items()},
                        "Fig. 9: BCGD vs GD on real data (or stand-ins; every GD curve judged "
                        "is drawn)")
    return claims, files
