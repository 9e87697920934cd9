"""The tie band and the two readings of a speed claim, on synthetic curves: a gap inside the
band (docs/paper.md: 5%) is a TIE that neither passes nor fails a claim of "ahead", so no
verdict flips on noise, and every race claim reports both readings ("iterations to a level"
and "error ratio at fixed budgets") and says which one its verdict uses."""

import numpy as np
import pytest

from fastdln.apps.paper.claims import Claim
from fastdln.apps.paper.measures import (FLOOR, TIE_BAND, Race, combine, error_race, judge,
                                    race_by_budget)
from fastdln.apps.paper.verdicts import (at_least, drastically_ahead, min_factor, panels_claim,
                                    race_claim, seeds_claim)


def geometric(rate, iterations, start=1.0):
    return start * rate ** np.arange(iterations + 1, dtype=float)


def flat(level, iterations):
    """A curve that drops to ``level`` at once and stays: compared by its error at the end."""
    return np.concatenate([[1.0], np.full(iterations, level)])


def ahead(a, b):
    return lambda race: race.ahead(a, b)


def test_the_tie_band_is_five_percent():
    assert TIE_BAND == 0.05


def reaching(at, size=200, level=1e-12):
    """A curve at 1 until iteration ``at``, then at ``level``: compared by when it drops."""
    return np.concatenate([np.full(at, 1.0), np.full(size - at + 1, level)])


@pytest.mark.parametrize("gap, verdict, reverse", [
    (1.007, "FAIL", "FAIL"), (1.2, "FAIL", "FAIL"), (10 ** 0.1, "TIE", "FAIL"),
    (1.5, "PASS", "FAIL")])
def test_overlapping_curves_are_never_ahead_of_each_other(gap, verdict, reverse):
    """Fig. 3's L5 at 2.479e-2 against L3 at 2.461e-2 (0.7%): the lines overlap on the
    paper's log plot (at most 0.1 decade apart everywhere), so neither is ahead, whichever
    is lower; at 0.1 decade apart it is a tie, beyond it the lower one is ahead."""
    curves = {"a": flat(2.461e-2, 100), "b": flat(2.461e-2 * gap, 100)}
    race = Race.of(curves, unit="iteration", budget=100)
    assert judge(race, ahead("a", "b")) == verdict
    assert judge(race, ahead("b", "a")) == reverse
    similar = {"FAIL": "PASS", "TIE": "TIE", "PASS": "FAIL"}[verdict]
    assert judge(race, lambda r: r.similar("a", "b")) == similar


def test_errors_at_the_budget_within_the_band_tie():
    """Curves far apart on the way that end within 5% of each other tie at the budget."""
    early = np.concatenate([[1.0], np.full(100, 1e-2)])
    late = np.concatenate([np.ones(50), np.full(51, 1.03e-2)])
    race = Race.of({"early": early, "late": late}, unit="iteration", budget=100)
    assert judge(race, ahead("early", "late")) == "TIE"
    late[-1] = 1.3e-2  # 30% apart at the budget
    race = Race.of({"early": early, "late": late}, unit="iteration", budget=100)
    assert judge(race, ahead("early", "late")) == "PASS"


def test_times_to_a_level_within_the_band_tie():
    """101 against 104 iterations to a level (3%) tie; 101 against 171 do not."""
    race = Race.of({"a": reaching(101), "b": reaching(104), "c": reaching(171)},
                   unit="iteration", budget=200)
    assert race.compare("a", "b", 1e-6) == 0 and race.compare("a", "c", 1e-6) == -1
    assert judge(race, ahead("a", "b")) == "TIE" and judge(race, ahead("a", "c")) == "PASS"
    assert judge(race, ahead("c", "a")) == "FAIL"


@pytest.mark.parametrize("odd_level, verdict", [
    (0.99e-2, "PASS"),  # 1% ahead of L=1, overlapping: not ahead (the paper's picture)
    (1e-2 / 10 ** 0.1, "TIE"),  # 0.1 decade ahead: at the threshold of "overlapping"
    (0.5e-2, "FAIL"),  # 0.3 decade ahead: the "not" fails
    (2e-2, "PASS")])  # behind
def test_overlapping_curves_pass_not_ahead(odd_level, verdict):
    """Fig. 8: "accelerated convergence by the network whose depth is even but not odd": an
    odd depth whose line overlaps L=1's is not ahead of it, whichever is lower."""
    curves = {"L=1": flat(1e-2, 50), "L=2": flat(5e-3, 50), "L=3": flat(odd_level, 50)}
    race = Race.of(curves, unit="iteration", budget=50)

    def rule(r):
        return r.ahead("L=2", "L=1") and r.not_ahead("L=3", "L=1")
    assert judge(race, rule) == verdict


def test_the_band_applies_to_the_tenfold_of_drastically():
    assert at_least(12.0, 10.0, "strict") and not at_least(9.8, 10.0, "strict")
    assert at_least(9.8, 10.0, "lenient") and not at_least(5.0, 10.0, "lenient")
    assert at_least(np.inf, 10.0, "strict") and not at_least(None, 10.0, "lenient")
    race = Race.of({"fast": reaching(10), "slow": reaching(98)}, unit="iteration", budget=200)
    assert judge(race, lambda r: drastically_ahead(r, ["fast"], "slow")) == "TIE"


def test_a_gap_inside_the_band_never_flips_a_verdict_between_budgets():
    """Two curves 1% apart all along overlap: neither ahead (FAIL) at a quarter, half and all
    of the budget, where a strict comparison would have flipped with the sign of the
    noise."""
    rng = np.random.default_rng(0)
    base = geometric(0.99, 400)
    noisy = base * (1 + 0.01 * rng.choice([-1, 1], size=base.size))
    _, verdicts = race_by_budget({"a": base, "b": noisy}, ahead("a", "b"), unit="iteration",
                                 budget=400)
    assert set(verdicts.values()) == {"FAIL"}


def test_both_readings_are_reported_and_the_verdict_names_its_own():
    """Fig. 1: BCGD needs 1.6x fewer iterations to each level (not drastically faster by
    iterations to a level), but its error is >10x lower at fixed budgets."""
    curves = {"fast": geometric(0.8, 200), "slow": geometric(0.87, 200)}
    claim = race_claim("figX.drastic", "drastically faster", curves,
                       lambda r: drastically_ahead(r, ["fast"], "slow"), unit="iteration",
                       budget=200, numbers=lambda r: {"factor": min_factor(r, ["fast"], "slow")})
    m = claim.measured
    assert claim.verdict == "FAIL" and m["reading"] == "levels" and m["tie_band"] == TIE_BAND
    assert m["verdict_by_reading"] == {"levels": "FAIL", "errors": "PASS"}
    errors = m["readings"]["errors"]
    assert errors["name"] == "error ratio at fixed budgets" and errors["verdict"] == "PASS"
    # at 200 iterations both are at the floor: that budget compares nothing and is left out
    assert sorted(errors["errors_at"]) == ["100", "50"]
    assert errors["factor"]["50"]["value"] == pytest.approx((0.87 / 0.8) ** 50)
    assert errors["factor"]["50"]["unit"] == "ratio of errors after 50 iterations"
    assert "iterations to a level" in claim.evidence and "(by error ratio at fixed budgets: " \
        "PASS)" in claim.evidence and "tie band 5%" in claim.evidence


def test_error_race_reads_the_errors_at_fixed_budgets_in_sweeps():
    curves = {"L=1": geometric(0.5, 10), "L=4": geometric(0.9, 40)}
    race = error_race(curves, unit="sweep", budget=10, depths={"L=1": 1, "L=4": 4})
    assert race.keys[10]["L=4"] == (1, pytest.approx(0.9 ** 40))
    assert race.keys[10]["L=1"] == (1, pytest.approx(max(0.5 ** 10, FLOOR)))
    with pytest.raises(ValueError, match="unit"):
        error_race(curves, unit="epoch", budget=10)


def test_parts_combine_fail_first_then_tie():
    assert combine(["PASS", "PASS"]) == "PASS" and combine(["PASS", "TIE"]) == "TIE"
    assert combine(["TIE", "FAIL", "PASS"]) == "FAIL"
    tie = {"a": reaching(101), "b": reaching(103)}
    clear = {"a": reaching(101), "b": reaching(150)}
    claim = panels_claim("figX.p", "a ahead", {"one": (tie, 200), "two": (clear, 200)},
                         lambda r, _: r.ahead("a", "b"), unit="iteration")
    assert claim.verdict == "TIE" and claim.measured["panels"]["two"]["verdict"] == "PASS"
    runs = {0: (1.0, {1: reaching(100), 3: reaching(50)}),
            1: (2.0, {1: reaching(100), 3: reaching(97)})}
    claim = seeds_claim("figX.s", "L=3 ahead", runs, lambda r: r.ahead("L=3", "L=1"),
                        unit="iteration", budget=200)
    assert claim.verdict == "TIE" and claim.measured["holds_on_seeds"][200] == 1
    assert "seed 1 TIE" in claim.evidence


def test_a_tie_is_a_verdict_of_its_own():
    assert Claim.check("fig1.x", "w", "TIE", {}, reading="r", tie_band=TIE_BAND).verdict == "TIE"
    with pytest.raises(ValueError, match="holds"):
        Claim.check("fig1.x", "w", "INFO", {}, reading="r")


def test_every_claim_states_its_reading_and_tie_band():
    """A claim that is not a race names its test and says it has no tie band; one with a band
    gives it; a race states "levels" in ``measured``; a claim stating none is refused."""
    plain = Claim.check("fig1.x", "w", True, {"n": 3}, evidence="n 3", reading="n above 2")
    assert plain.measured == {"n": 3, "reading": "n above 2", "tie_band": None,
                              "tie_band_note": "not a race"}
    assert plain.evidence == "n 3; reading: n above 2; no tie band (not a race)"
    banded = Claim.check("fig1.y", "w", "TIE", {}, evidence="e", reading="r", tie_band=0.05)
    assert banded.evidence == "e; reading: r; tie band 5%"
    assert "tie_band_note" not in banded.measured
    info = Claim.info("fig1.z", "w", {}, reading="description: the data")
    assert info.evidence == "reading: description: the data; no tie band (not a race)"
    race = race_claim("figX.r", "a ahead", {"a": geometric(0.5, 40), "b": geometric(0.9, 40)},
                      ahead("a", "b"), unit="iteration", budget=40)
    assert race.measured["reading"] == "levels" and race.measured["tie_band"] == TIE_BAND
    with pytest.raises(ValueError, match="reading"):
        Claim.check("fig1.x", "w", True, {"n": 3})
    with pytest.raises(ValueError, match="twice"):
        Claim.check("fig1.x", "w", True, race.measured, reading="r")
    with pytest.raises(ValueError, match="reading"):
        Claim("fig1.x", "w", "PASS", {"n": 3})


def _fig7_panels(l2_deep_rate, l4_deep_rate, iterations=200):
    """Fig. 7-like panels: L=1 at rate 0.95 per iteration, the deep nets at the given rates."""
    def panel(deep_rate):
        return {f"L={L}": geometric(0.95 if L == 1 else deep_rate, iterations)
                for L in range(1, 6)}
    return {"L2 loss": panel(l2_deep_rate), "L4 loss": panel(l4_deep_rate)}


@pytest.mark.parametrize("l2_rate, l4_rate, verdict", [
    (0.9, 0.98, "PASS"),     # depth ahead with L2, behind with L4: the paper's finding
    (0.9, 0.9, "FAIL"),      # depth ahead with both losses: [3]'s conclusion, not the paper's
    (0.98, 0.98, "FAIL"),    # no acceleration with L2
    (0.9, 0.9495, "TIE")])   # L4's deep nets within the band of L=1
def test_fig7_depth_accelerates_l2_but_not_l4(l2_rate, l4_rate, verdict):
    """"Unlike the conclusion of [3], we found that the depth leads to acceleration for the
    L2-loss, but not for the L4-loss": one verdict over both panels, with the tie band."""
    from fastdln.apps.paper.depth_figures import _fig7_depth_claims

    panels = _fig7_panels(l2_rate, l4_rate, iterations=600)  # every run reaches 1e-6
    significantly, unlike = _fig7_depth_claims(panels, 600, "synthetic: ", {})
    assert unlike.id == "fig7.depth_accelerates_l2_not_l4" and unlike.verdict == verdict
    assert significantly.id == "fig7.l2_depth_significantly_accelerates"
    assert significantly.passed == (l2_rate < 0.95 * 0.95)
    factors = significantly.measured["smallest_deep_over_L1_factor"]
    # the ratio of L=1's iterations to 1e-6 to the deep nets', with its unit
    # (only L=1 reaches it within 600 iterations: the deep nets' times are above the budget)
    deep_to_level = np.ceil(np.log(1e-6) / np.log(l2_rate))
    expected = np.ceil(np.log(1e-6) / np.log(0.95)) / min(deep_to_level, 600)
    assert factors["1e-06"]["value"] == pytest.approx(expected, rel=0.02)
    assert factors["1e-06"]["bound"] == ("upper" if deep_to_level > 600 else "exact")
    assert factors["1e-06"]["unit"] == "ratio of iterations to 1e-06"
    assert significantly.measured["verdict_by_reading"]["errors"] in ("PASS", "FAIL", "TIE")


def test_fig7_reference_of_3_is_info_and_not_drawn():
    """[3]'s dashed line: the paper states no value for it, so it is an INFO that says so and
    gives the best L4 error at the budget to compare with the paper's figure."""
    from fastdln.apps.paper.depth_figures import reference_of_3

    panels = _fig7_panels(0.9, 0.98, iterations=50)
    claim = reference_of_3(panels["L4 loss"], 50)
    assert claim.verdict == "INFO" and claim.measured["drawn"] is False
    assert claim.measured["best_l4_depth"] == "L=1"
    assert claim.measured["best_l4_error_at_budget"] == pytest.approx(0.95 ** 50)
    assert "1,000,000" in claim.claim and "not drawn" in claim.evidence
