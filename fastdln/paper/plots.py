"""Figures and CSV tables of the reproductions (matplotlib, from the ``plot`` extra; apps)."""

from __future__ import annotations

import csv
import os
import textwrap

import numpy as np

from .measures import FLOOR

__all__ = ["plot_iterations", "plot_sweeps_and_iterations", "save_panels", "write_csv",
           "write_panels_csv"]


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


def plot_sweeps_and_iterations(path, curves, title, sweeps=None, iterations=None):
    """Left: error vs sweeps (up to ``sweeps``, the budget per sweep); right: error vs
    iterations (up to ``iterations``); log scale, floored at 1e-10."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for L, errors in curves.items():
        floored = np.maximum(errors, FLOOR)
        sweeps_axis = np.arange(errors.size) / L
        last_sweep = errors.size if sweeps is None else min(errors.size, sweeps * L + 1)
        ends = np.arange(0, last_sweep, L)  # the error after each complete sweep
        left.plot(sweeps_axis[ends], floored[ends], marker="o", ms=3, label=f"L={L}")
        shown = errors.size if iterations is None else min(errors.size, iterations + 1)
        right.plot(np.arange(shown), floored[:shown], label=f"L={L}")
    for ax, xlabel in [(left, "sweeps"), (right, "iterations")]:
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("error  (loss(W) - loss(W*)) / m")
        ax.set_ylim(FLOOR / 2, None)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    right.set_xscale("log")
    fig.suptitle(title)
    fig.tight_layout()
    files = _save_figure(fig, (left, right), path)
    plt.close(fig)
    return files


def plot_iterations(path, panels, title):
    """One log-scale panel per entry of ``panels`` (``{panel title: {label: errors}}``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), squeeze=False)
    for ax, (panel_title, curves) in zip(axes[0], panels.items()):
        for label, errors in curves.items():
            ax.plot(np.arange(errors.size), np.maximum(errors, FLOOR), label=label)
        ax.set_yscale("log")
        ax.set_xlabel("iterations")
        ax.set_ylabel("error  (loss(W) - loss(W*)) / m")
        ax.set_ylim(FLOOR / 2, None)
        ax.set_title("\n".join(textwrap.wrap(panel_title, 60)), fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
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


def save_panels(out_dir, name, panels, title):
    """The figure's PNG (and one PNG per panel when it has several) and a CSV of every
    curve; returns the files written."""
    os.makedirs(out_dir, exist_ok=True)
    files = plot_iterations(os.path.join(out_dir, f"{name}.png"), panels, title)
    table = os.path.join(out_dir, f"{name}.csv")
    write_panels_csv(table, panels)
    return files + [table]


