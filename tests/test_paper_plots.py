"""The figures' PNGs: titles that fit, panels that name their data, and Figure 5's marks
where the paper puts them."""

import numpy as np
import pytest

from fastdln.apps.paper.architecture_figures import update_marks
from fastdln.apps.paper.plots import plot_iterations, plot_sweeps_and_iterations

LONG = ("Fig. 7: STAND-IN synthetic UCI-shaped data, geometric spectrum (2565 x 128, cond(X) "
        "= 7.094e+04, data seed 3) ([3]'s dashed line not drawn: the paper states no value)")


def _figure_and_texts(monkeypatch):
    """Run a plot function and keep its figure open to measure its texts."""
    import matplotlib.pyplot as plt

    kept = []
    monkeypatch.setattr(plt, "close", kept.append)
    return kept


@pytest.mark.parametrize("panels", [1, 2])
def test_titles_fit_the_figure_and_panels_name_their_data(tmp_path, monkeypatch, panels):
    kept = _figure_and_texts(monkeypatch)
    curves = {"L=1": np.geomspace(1, 1e-3, 50), "L=2": np.geomspace(1, 1e-4, 50)}
    plot_iterations(str(tmp_path / "f.png"), {f"panel {k}": curves for k in range(panels)},
                    LONG, data="STAND-IN digits (1797 x 64)")
    fig = kept[0]
    renderer = fig.canvas.get_renderer()
    width = fig.bbox.width
    title = fig._suptitle.get_window_extent(renderer)
    assert 0 <= title.x0 and title.x1 <= width, (title, width)
    for ax in fig.axes:
        assert "STAND-IN digits (1797 x 64)" in ax.get_title().replace("\n", " ")
        box = ax.title.get_window_extent(renderer)
        assert 0 <= box.x0 and box.x1 <= width


def test_sweep_and_iteration_panels_name_their_data(tmp_path, monkeypatch):
    kept = _figure_and_texts(monkeypatch)
    curves = {1: np.geomspace(1, 1e-12, 41), 4: np.geomspace(1, 1e-3, 41)}
    plot_sweeps_and_iterations(str(tmp_path / "f.png"), curves, "title", 5, 30,
                               data="Section 4.1 data, cond(X) = 2.69, seed 3")
    titles = [ax.get_title().replace("\n", " ") for ax in kept[0].axes]
    assert titles == ["per sweep: Section 4.1 data, cond(X) = 2.69, seed 3",
                      "per iteration: Section 4.1 data, cond(X) = 2.69, seed 3"]


def test_figure_5_marks_the_errors_before_and_after_the_updates_the_paper_names():
    """Descending, L=100: layer 1 is updated at iterations 100, 200, ..., layer 50 at 51,
    151, ...; the paper marks the errors before and after them."""
    assert update_marks(100, [1], 300) == [99, 100, 199, 200, 299, 300]
    assert update_marks(100, [50, 1], 200) == [50, 51, 99, 100, 150, 151, 199, 200]
