"""Figures 5 and 6: narrow layers, and the update order and initialization, per iteration
(apps layer). The runs of a figure have the same depth, so equal iterations are equal
sweeps."""

from __future__ import annotations

import numpy as np

from ...core.threads import blas_threads
from ...core.trainer import Trainer
from ...maths.synthetic import random_data
from .claims import Claim
from .measures import drop_share, layer_of_update
from .plots import save_panels
from .runs import init_seed, train_curve
from .verdicts import panels_claim, race_claim

__all__ = ["MOSTLY", "fig5", "fig6", "update_marks"]

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


ZERO = 1e-10  # a singular value below this times the largest one is zero
SIGMA_SWEEPS = 2  # the sweeps s whose updates the sigma_min statements are checked on


def input_singular_values(X, Y, widths, seed, sweeps=SIGMA_SWEEPS):
    """Theorem 3.2's ``sigma_rx(W_{(i-1):1} X)`` (``rx = rank X``) at every update of the
    first ``sweeps`` sweeps of descending BCGD, over its largest singular value:
    ``{l: [ratio per sweep]}`` for the ``l``-th update of a sweep (layer ``L - l + 1``).
    A product with fewer than ``rx`` rows has it 0. Also the ratio of the smallest
    singular value ``sigma_min`` (the ``min(n, m)``-th, the paper's notation) per update."""
    L, rx = len(widths) - 1, int(np.linalg.matrix_rank(X))
    trainer = Trainer(X, Y, widths=widths, seed=init_seed(seed))
    by_update, smallest = {}, {}
    for _ in range(sweeps):
        with blas_threads(1):  # small products: one thread is the fastest on a busy machine
            inputs = [np.asarray(X, dtype=float)]  # W_{j:1} X, rows are samples
            for W in trainer.weights[:-1]:
                inputs.append(inputs[-1] @ W.T)
            for update in range(1, L + 1):
                s = np.linalg.svd(inputs[L - update], compute_uv=False)
                by_update.setdefault(update, []).append(
                    float(s[rx - 1] / s[0]) if s.size >= rx else 0.0)
                smallest.setdefault(update, []).append(float(s[-1] / s[0]))
        trainer.sweep()
    return by_update, smallest


def _sigma_claim(X, Y, seed):
    """"the Arch 1 results in sigma_min(W_{(L-l):1} X) = 0, for all s and 1 <= l < L, and the
    Arch 2 ... for all s and 1 <= l <= 50", read as Theorem 3.2 uses it: the rx-th singular
    value (rx = rank X, the one gamma's kappa_rx divides by) on the first sweeps."""
    named = {ARCH1: range(1, 100), ARCH2: range(1, 51)}
    found, zero, literal = {}, {}, {}
    for arch, widths in _architectures().items():
        ratios, smallest = input_singular_values(X, Y, widths, seed)
        inside = named.get(arch, range(0))
        found[arch] = {"largest_at_named_updates": max((max(ratios[u]) for u in inside),
                                                       default=None),
                       "smallest_at_other_updates": min(min(ratios[u]) for u in ratios
                                                        if u not in inside)}
        zero[arch] = all(max(ratios[u]) <= ZERO for u in inside)
        literal[arch] = min((min(smallest[u]) for u in inside), default=None)
    holds = zero[ARCH1] and zero[ARCH2]
    return Claim.check(
        "fig5.sigma_min_zero", "Precisely, the Arch 1 results in sigma_min(W_{(L-l):1} X) = 0, "
        "for all s and 1 <= l < L, and the Arch 2 results in sigma_min(W_{(L-l):1} X) = 0 for "
        "all s and 1 <= l <= 50 (here: sigma_rx, rx = rank X, on the first "
        f"{SIGMA_SWEEPS} sweeps).", holds,
        {"sweeps_checked": SIGMA_SWEEPS, "zero_below": ZERO, "sigma_rx_over_sigma_max": found,
         "zero_at_named_updates": zero, "literal_sigma_min_over_sigma_max": literal},
        unit="iteration", evidence="sigma_rx(W_{(L-l):1} X) / sigma_max at the updates named: "
        + "; ".join(f"{arch} at most {v['largest_at_named_updates']:.2g}, elsewhere at least "
                    f"{v['smallest_at_other_updates']:.2g}" if v["largest_at_named_updates"]
                    is not None else f"{arch} (none named) at least "
                    f"{v['smallest_at_other_updates']:.2g}" for arch, v in found.items())
        + "; read literally (sigma_min = the min(n, m)-th singular value) the smallest is "
        + ", ".join(f"{arch} {v:.2g}" for arch, v in literal.items() if v is not None),
        reading=f"sigma_rx of the updated layer's input below {ZERO:g} of sigma_max at every "
                "update named, on the first sweeps")


def fig5(out_dir, *, quick=False, seed=0, quiet=False):
    """Figure 5: n0=128, nL=20, L=100, descending; Arch1 widths 20, Arch2 128 with
    n_50=20, Arch3 128; 2000 iterations (500 with ``quick``)."""
    X, Y = random_data(600, 128, 20, seed)
    iterations = 500 if quick else 2000
    curves = {name: train_curve(X, Y, widths, iterations // 100, seed=seed, twin=True)
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
        _sigma_claim(X, Y, seed),
    ]
    panels = {"n0=128, nL=20, L=100": curves}
    return claims, save_panels(out_dir, "fig5", panels, "Fig. 5: narrow layers (circles: "
                               "before and after each layer-1 update of Arch 1; stars: of "
                               "layers 50 and 1 of Arch 2)", _fig5_styles(iterations),
                               data=f"Section 4.1 data, seed {seed}")


def update_marks(L, layers, iterations):
    """The iterations before and after each update of ``layers`` (descending order) within
    ``iterations``: where the paper marks Figure 5's curves."""
    updates = [k for k in range(1, iterations + 1) if layer_of_update(k, L) in layers]
    return sorted({k - 1 for k in updates} | set(updates))


def _fig5_styles(iterations):
    """The paper's styles: Arch 1 dashed with circles at its layer-1 updates, Arch 2 solid
    with stars at its updates of layers 50 and 1, Arch 3 dotted."""
    return {ARCH1: dict(linestyle="--", marker="o", markevery=update_marks(100, [1], iterations)),
            ARCH2: dict(linestyle="-", marker="*", markevery=update_marks(100, [50, 1],
                                                                          iterations)),
            ARCH3: dict(linestyle=":", marker=None)}


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


def _random_gap(race, panel):
    """How far apart the random initialization's two orders are, in decades."""
    return {"random_orders_gap_decades": race.gap(["random, ascending",
                                                   "random, descending"])[1]}


def _random_order(race, panel):
    """Random: both orders similar for n0 < nL (at most 0.1 decade apart everywhere),
    ascending ahead for n0 > nL."""
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
                                                          init=init, order=order, seed=seed,
                                                          twin=True)
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
                     "here similar: at most 0.1 decade apart everywhere) ... for the balanced "
                     "and the random initialization, the errors by the ascending BCGD decay "
                     "faster than those by the descending BCGD (n0=300, nL=50).", panels,
                     _random_order, unit="iteration", numbers=_random_gap),
    ]
    return claims, save_panels(out_dir, "fig6", {name: c for name, (c, _) in panels.items()},
                               "Fig. 6: ascending vs descending, L=50, width 300",
                               data=f"Section 4.1 data, seed {seed}")
