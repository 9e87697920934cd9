"""Reproductions of the paper's Section 4 experiments (Figures 1 to 9) (apps layer).

Each figure function ``figN(out_dir, *, quick, seed, quiet[, data_dir])`` runs the
experiment, writes PNGs of its panels and a CSV of every curve, and returns ``(claims,
files)``: the paper's sentences checked in numbers (:class:`.claims.Claim`). :func:`run_figure`
also writes the claims into ``out_dir/claims.json``. Claims that depend on the draw are
measured over several data seeds, claims that depend on a budget say so; seeds and budgets
are never chosen to make a sentence of the paper true.

- :mod:`.gd_figures`: Figures 1, 4, 9 (BCGD against GD);
- :mod:`.depth_figures`: Figures 2, 3, 7, 8 (depth);
- :mod:`.architecture_figures`: Figures 5, 6 (narrow layers, order and initialization).
"""

from __future__ import annotations

from ..progress import Progress
from .architecture_figures import fig5, fig6
from .claims import write_claims
from .depth_figures import fig2, fig3, fig7, fig8
from .gd_figures import fig1, fig4, fig9
from .runs import counting_runs, train_curve

__all__ = ["FIGURES", "REAL_DATA", "fig1", "fig2", "fig3", "fig4", "fig5", "fig6", "fig7",
           "fig8", "fig9", "run_figure", "train_curve"]

FIGURES = {"fig1": fig1, "fig2": fig2, "fig3": fig3, "fig4": fig4, "fig5": fig5, "fig6": fig6,
           "fig7": fig7, "fig8": fig8, "fig9": fig9}
REAL_DATA = ("fig7", "fig8", "fig9")


def run_figure(name, out_dir, *, quick=False, seed=0, quiet=False, data_dir=None):
    """Run one figure with a progress bar of its training runs (on a terminal, unless
    ``quiet``) and write its claims into ``out_dir/claims.json``.

    Returns
    -------
    (list of Claim, list of str)
        The claims and the files written (``claims.json`` last).
    """
    options = dict(quick=quick, seed=seed, quiet=quiet)
    if name in REAL_DATA:
        options["data_dir"] = data_dir
    with Progress(None, f"{name} runs", "run", enabled=not quiet) as progress:
        with counting_runs(progress):
            claims, files = FIGURES[name](out_dir, **options)
    path = write_claims(out_dir, claims, run=dict(seed=seed, quick=quick, data_dir=data_dir),
                        figure_order=list(FIGURES))
    return claims, files + [path]
