"""Figures 5 and 6: narrow layers, and the update order and initialization, per iteration
(apps layer). The runs of a figure have the same depth, so equal iterations are equal
sweeps."""

from __future__ import annotations

from .claims import Claim
from ...maths.synthetic import random_data
from .measures import drop_share
from .plots import save_panels
from .runs import train_curve
from .verdicts import panels_claim, race_claim

__all__ = ["MOSTLY", "fig5", "fig6"]

MOSTLY = 0.5  # "decrease mostly after updating ...": more than half of the decrease
ARCH1, ARCH2, ARCH3 = "Arch1 (all 20)", "Arch2 (n_50 = 20)", "Arch3 (all 128)"


def _architectures():
    arch2 = [128] * 100 + [20]
    arch2[50] = 20
    return {ARCH1: [128] + [20] * 100, ARCH2: arch2, ARCH3: [128] * 100 + [20]}


def _share_claim(id, text, curves, arch, layers, where):
    shares = {name: drop_share(errors, 100, layers) for name, errors in curves.items()}
    share = shares[arch]
    return Claim.check(
        id, text, share is not None and share > MOSTLY,
        {"share_of_log_decrease": shares, "layers": where, "mostly": MOSTLY},
        unit="iteration", evidence=f"share of the decrease of log10(error) made at {where}: "
        + ", ".join(f"{name} {s:.3f}" if s is not None else f"{name} none"
                    for name, s in shares.items()),
        reading=f"share of the decrease of log10(error) at {where} > {MOSTLY:g}")


def fig5(out_dir, *, quick=False, seed=0, quiet=False):
    """Figure 5: n0=128, nL=20, L=100, descending; Arch1 widths 20, Arch2 128 with
    n_50=20, Arch3 128; 2000 iterations (500 with ``quick``)."""
    X, Y = random_data(600, 128, 20, seed)
    iterations = 500 if quick else 2000
    curves = {name: train_curve(X, Y, widths, iterations // 100, seed=seed)
              for name, widths in _architectures().items()}
    claims = [
        race_claim("fig5.arch3_ahead_of_arch2", "We see the fastest convergence by the network "
                   "of Arch 3 among others.", curves, lambda race: race.fastest(ARCH3),
                   unit="iteration", budget=iterations),
        _share_claim("fig5.arch1_drop_at_layer1", "For the network of Arch 1, we see that the "
                     "errors decrease mostly only after updating the first layer weight "
                     "matrix.", curves, ARCH1, [1], "the layer-1 updates"),
        _share_claim("fig5.arch2_drop_at_layers_50_to_1", "For the network of Arch 2, we see "
                     "that the errors decrease mostly after updating from the 50th to the 1st "
                     "layer weight matrices.", curves, ARCH2, range(1, 51),
                     "the updates of layers 50..1"),
    ]
    panels = {"n0=128, nL=20, L=100": curves}
    markers = {ARCH1: "o", ARCH2: "*", ARCH3: None}  # the paper's circles and stars
    return claims, save_panels(out_dir, "fig5", panels, f"Fig. 5: narrow layers (seed {seed})",
                               markers)


INITS = ("orth-identity", "balanced", "random")
ORDERS = ("ascending", "descending")
SHAPES = {"n0=50, nL=300": (50, 300, "ascending"), "n0=300, nL=50": (300, 50, "descending")}


def _fig6_rules():
    def order_by_shape(race, panel):
        winner = SHAPES[panel][2]
        loser = ORDERS[1 - ORDERS.index(winner)]
        return race.ahead(f"orth-identity, {winner}", f"orth-identity, {loser}")

    def orth_identity_first(race, panel):
        return all(race.ahead(f"orth-identity, {order}", f"{init}, {order}")
                   for order in ORDERS for init in INITS[1:])

    def fastest(race, panel):
        return race.fastest(f"orth-identity, {SHAPES[panel][2]}")
    return order_by_shape, orth_identity_first, fastest


def _balanced_order(race, panel):
    """Balanced: descending ahead for n0 < nL ("the opposite" of orth-identity), ascending
    ahead for n0 > nL."""
    winner = "descending" if panel == "n0=50, nL=300" else "ascending"
    loser = ORDERS[1 - ORDERS.index(winner)]
    return race.ahead(f"balanced, {winner}", f"balanced, {loser}")


def _random_order(race, panel):
    """Random: both orders alike for n0 < nL, ascending ahead for n0 > nL."""
    if panel == "n0=50, nL=300":
        return race.similar("random, ascending", "random, descending")
    return race.ahead("random, ascending", "random, descending")


def fig6(out_dir, *, quick=False, seed=0, quiet=False):
    """Figure 6: L=50, widths 300, orth-identity/balanced/random, ascending vs descending;
    600 iterations (200 with ``quick``)."""
    iterations = 200 if quick else 600
    panels = {}
    for panel, (n0, nL, _) in SHAPES.items():
        X, Y = random_data(600, n0, nL, seed)
        widths = [n0] + [300] * 49 + [nL]
        panels[panel] = ({f"{init}, {order}": train_curve(X, Y, widths, iterations // 50,
                                                          init=init, order=order, seed=seed)
                          for init in INITS for order in ORDERS}, iterations)
    order_by_shape, orth_identity_first, fastest = _fig6_rules()
    claims = [
        panels_claim("fig6.order_by_shape", "when the orth-identity initialization is "
                     "employed, the ascending BCGD performs better than the descending BCGD if "
                     "the output dimension is larger than the input dimension, and vice "
                     "versa.", panels, order_by_shape, unit="iteration"),
        panels_claim("fig6.orth_identity_beats_balanced_and_random", "In all cases, we observe "
                     "that the orth-identity initialization outperforms than other "
                     "initialization schemes, regardless of the update ordering (here: with "
                     "either order, orth-identity ahead of balanced and random).", panels,
                     orth_identity_first, unit="iteration"),
        panels_claim("fig6.orth_identity_best_order_fastest", "We see that the ascending BCGD "
                     "with the orth-identity initialization results in the fastest convergence "
                     "among others (n0=50, nL=300) ... the descending BCGD with the "
                     "orth-identity initialization results in the fastest convergence among "
                     "others (n0=300, nL=50).", panels, fastest, unit="iteration"),
        panels_claim("fig6.balanced_order", "For the balanced initialization, the opposite is "
                     "observed (n0=50, nL=300: descending ahead) ... for the balanced and the "
                     "random initialization, the errors by the ascending BCGD decay faster "
                     "than those by the descending BCGD (n0=300, nL=50).", panels,
                     _balanced_order, unit="iteration"),
        panels_claim("fig6.random_order", "For the random initialization, the errors by both "
                     "the ascending and descending orderings behave similarly (n0=50, nL=300: "
                     "here within the tie band at every level) ... for the balanced and the "
                     "random initialization, the errors by the ascending BCGD decay faster "
                     "than those by the descending BCGD (n0=300, nL=50).", panels,
                     _random_order, unit="iteration"),
    ]
    return claims, save_panels(out_dir, "fig6", {name: c for name, (c, _) in panels.items()},
                               f"Fig. 6: ascending vs descending, L=50, width 300 (seed {seed})")
