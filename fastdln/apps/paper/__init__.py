"""The paper's Section 4, reproduced: ``fastdln reproduce FIGURE`` (apps layer).

- :mod:`.figures`: the registry of Figures 1 to 9 and :func:`run_figure` (writes
  ``claims.json``); the experiments are in :mod:`.gd_figures` (1, 4, 9),
  :mod:`.depth_figures` (2, 3, 7, 8) and :mod:`.architecture_figures` (5, 6);
- :mod:`.claims`: a claim of the paper as data, and ``claims.json``;
- :mod:`.measures`: curve measurements (levels reached, races with equal budgets);
- :mod:`.verdicts`: claims whose verdict is a race between runs;
- :mod:`.gd_rates`: the search of GD's constant rate;
- :mod:`.runs`: training runs (one curve, one run per depth);
- :mod:`.figure_data`: the data each figure trains on (Section 4.1's draws, cond-matched ones,
  the real data sets or stand-ins);
- :mod:`.datasets`: readers of the MNIST and UCI gas sensor files;
- :mod:`.plots`: PNGs and CSV tables.

See docs/paper.md for every claim, the paper's sentence and how it is measured.
"""

from ...maths.synthetic import random_data
from .figures import FIGURES, run_figure

__all__ = ["FIGURES", "random_data", "run_figure"]
