"""The paper's Section 4, reproduced: ``fastdln reproduce FIGURE`` (apps layer).

- :mod:`.data`: the random data of Section 4.1 and the real data sets (or stand-ins);
- :mod:`.datasets`: readers of the MNIST and UCI gas sensor files;
- :mod:`.claims`: a checked claim and the curve measurements claims rest on;
- :mod:`.plots`: PNGs and CSV tables;
- :mod:`.figures`: the experiments of Figures 1 to 9.
"""

from .data import random_data
from .figures import FIGURES, run_figure

__all__ = ["FIGURES", "random_data", "run_figure"]
