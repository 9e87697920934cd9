"""Figures and CSV tables of the reproductions (matplotlib, from the ``plot`` extra; apps)."""

from __future__ import annotations

import csv
import os
import textwrap

import numpy as np

from .measures import FLOOR

__all__ = ["MARKERS", "plot_iterations", "plot_seeds", "plot_sweeps_and_iterations",
           "save_panels", "write_csv", "write_panels_csv", "y_range"]

MARKERS = 12  # markers per curve at most: they tell the lines apart without hiding them
YLABEL = "error  (loss(W) - loss(W*)) / m, log scale"
TITLE_CHARS_PER_INCH = 9.5  # a figure's title (12 pt) wrapped to its width
PANEL_CHARS_PER_INCH = 11  # a panel's title (10 pt) wrapped to its width


def _wrapped(text, inches, per_inch):
    """``text`` in lines that fit ``inches`` of width."""
    return "\n".join(textwrap.wrap(text, max(20, int(inches * per_inch))))


def _titled(fig, title):
    """The figure's title, wrapped to its width (a constrained layout makes room for it)."""
    fig.suptitle(_wrapped(title, fig.get_figwidth(), TITLE_CHARS_PER_INCH))


def _panel_title(ax, fig, columns, text):
    """A panel's title (its data, so that its own PNG says what it shows), wrapped."""
    ax.set_title(_wrapped(text, fig.get_figwidth() / columns, PANEL_CHARS_PER_INCH),
                 fontsize=10)


def _write_table(path, header, rows):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def write_csv(path, curves):
    """One row per (depth, iteration): ``depth, iteration, sweep, error``."""
    _write_table(path, ["depth", "iteration", "sweep", "error"],
                 ([L, it, it / L, repr(float(e))] for L, errors in curves.items()
                  for it, e in enumerate(errors)))


def _save_figure(fig, axes, path):
    """Save the whole figure to ``path`` and each panel to ``<path stem>_panel<k>.png``."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=120)
    stem = path[:-4] if path.endswith(".png") else path
    renderer = fig.canvas.get_renderer()
    files = [path]
    for k, ax in enumerate(axes, 1):
        box = ax.get_tightbbox(renderer).transformed(fig.dpi_scale_trans.inverted())
        panel = f"{stem}_panel{k}.png"
        fig.savefig(panel, dpi=120, bbox_inches=box.expanded(1.02, 1.04))
        files.append(panel)
    return files


def y_range(curves):
    """``(low, high)`` of a log axis that fits the curves shown (floored at 1e-10): a factor
    2 of room beyond their smallest and largest values."""
    values = np.concatenate([np.maximum(np.asarray(e, dtype=float), FLOOR) for e in curves])
    values = values[np.isfinite(values)]
    if not values.size:
        return FLOOR / 2, 1.0
    return values.min() / 2, values.max() * 2


def _every(size):
    return max(1, size // MARKERS)


def _sweeps_and_iterations_row(left, right, curves, sweeps, iterations):
    """Error vs sweeps (left) and vs iterations (right, linear axis from iteration 0)."""
    shown = []
    for L, errors in curves.items():
        floored = np.maximum(errors, FLOOR)
        last_sweep = errors.size if sweeps is None else min(errors.size, sweeps * L + 1)
        ends = np.arange(0, last_sweep, L)  # the error after each complete sweep
        left.plot(ends / L, floored[ends], marker="o", ms=3, markevery=_every(ends.size),
                  label=f"L={L}")
        size = errors.size if iterations is None else min(errors.size, iterations + 1)
        right.plot(np.arange(size), floored[:size], label=f"L={L}")
        shown += [floored[ends], floored[:size]]
    low, high = y_range(shown)
    for ax, xlabel in [(left, "sweeps (every layer updated once)"),
                       (right, "iterations (layer updates; linear axis)")]:
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(YLABEL)
        ax.set_ylim(low, high)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)


def plot_sweeps_and_iterations(path, curves, title, sweeps=None, iterations=None, data=""):
    """Left: error vs sweeps (up to ``sweeps``, the budget per sweep); right: error vs
    iterations (up to ``iterations``, a linear axis from iteration 0); log-scale errors
    floored at 1e-10, the y-range fitted to the curves; ``data`` names the data in each
    panel's title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6), layout="constrained")
    _sweeps_and_iterations_row(left, right, curves, sweeps, iterations)
    for ax, unit in ((left, "per sweep"), (right, "per iteration")):
        _panel_title(ax, fig, 2, f"{unit}: {data}" if data else unit)
    _titled(fig, title)
    files = _save_figure(fig, (left, right), path)
    plt.close(fig)
    return files


def plot_seeds(path, rows, title, sweeps=None, iterations=None):
    """One row of :func:`plot_sweeps_and_iterations`' two panels per data draw: ``rows`` is
    ``{row title: {L: errors}}``. Returns ``[path]``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), 2, figsize=(11, 3.6 * len(rows)), squeeze=False,
                             layout="constrained")
    for (left, right), (row_title, curves) in zip(axes, rows.items()):
        _sweeps_and_iterations_row(left, right, curves, sweeps, iterations)
        _panel_title(left, fig, 2, f"per sweep: {row_title}")
        _panel_title(right, fig, 2, f"per iteration: {row_title}")
    _titled(fig, title)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return [path]


_CYCLE = ("o", "s", "^", "v", "D", "x", "+", "*", "P", "<")


def plot_iterations(path, panels, title, styles=None, data=""):
    """One log-scale panel per entry of ``panels`` (``{panel title: {label: errors}}``),
    sparse markers from a cycle; ``styles`` (``{label: matplotlib line options}``, e.g.
    ``marker``, ``markevery``, ``linestyle``) overrides them; ``data`` names the data in
    each panel's title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.6), squeeze=False,
                             layout="constrained")
    for ax, (panel_title, curves) in zip(axes[0], panels.items()):
        for k, (label, errors) in enumerate(curves.items()):
            style = dict(marker=_CYCLE[k % len(_CYCLE)], markevery=_every(errors.size))
            style.update((styles or {}).get(label, {}))
            ax.plot(np.arange(errors.size), np.maximum(errors, FLOOR), label=label, ms=5,
                    **style)
        ax.set_yscale("log")
        ax.set_xlabel("iterations (linear axis)")
        ax.set_ylabel(YLABEL)
        ax.set_ylim(*y_range(curves.values()))
        _panel_title(ax, fig, len(panels), f"{panel_title}; {data}" if data else panel_title)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    _titled(fig, title)
    files = _save_figure(fig, axes[0], path) if len(panels) > 1 else [path]
    if len(panels) == 1:
        fig.savefig(path, dpi=120)
    plt.close(fig)
    return files


def write_panels_csv(path, panels):
    """One row per (panel, run, iteration): ``panel, run, iteration, error``."""
    _write_table(path, ["panel", "run", "iteration", "error"],
                 ([panel, label, it, repr(float(e))] for panel, curves in panels.items()
                  for label, errors in curves.items() for it, e in enumerate(errors)))


def save_panels(out_dir, name, panels, title, styles=None, data=""):
    """The figure's PNG (and one PNG per panel when it has several) and a CSV of every
    curve; returns the files written."""
    os.makedirs(out_dir, exist_ok=True)
    files = plot_iterations(os.path.join(out_dir, f"{name}.png"), panels, title, styles, data)
    table = os.path.join(out_dir, f"{name}.csv")
    write_panels_csv(table, panels)
    return files + [table]
