"""Progress reporting shared by the applications (command line, reproductions) (apps layer).

A bar is drawn (tqdm, from the ``plot`` extra) only when the stream is a terminal: written
into a log file or a pipe, a bar is noise. :func:`sweep_callback` turns a bar into the
callback of :func:`fastdln.training.run_sweeps`.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["Progress", "sweep_callback"]


class Progress:
    """A progress bar over ``total`` steps (None: unknown), or nothing when not wanted.

    Parameters
    ----------
    total : int or None
    description : str
    unit : str
    enabled : bool
        False (e.g. ``--quiet``) draws nothing.
    stream : file, optional
        Where the bar goes (default ``sys.stderr``); nothing is drawn unless it is a terminal.
    """

    def __init__(self, total: int | None, description: str, unit: str = "it",
                 enabled: bool = True, stream: Any = None) -> None:
        stream = sys.stderr if stream is None else stream
        self._bar = None
        if enabled and _is_terminal(stream):
            try:
                from tqdm import tqdm
            except ImportError:  # the plot extra brings tqdm; without it, no bar
                return
            self._bar = tqdm(total=total, desc=description, unit=unit, dynamic_ncols=True,
                             file=stream)

    @property
    def shown(self) -> bool:
        """Whether a bar is drawn."""
        return self._bar is not None

    def update(self, steps: int = 1, **postfix: Any) -> None:
        if self._bar is not None:
            self._bar.update(steps)
            if postfix:
                self._bar.set_postfix(**postfix)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def _is_terminal(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def sweep_callback(progress: Progress, updates: int = 1):
    """A :func:`fastdln.training.run_sweeps` callback that advances ``progress`` by
    ``updates`` per sweep and shows the current error."""
    def callback(trainer):
        progress.update(updates, error=f"{trainer.errors[-1]:.3e}")
    return callback
