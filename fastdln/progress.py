"""Progress reporting shared by the applications (command line, reproductions) (apps layer).

A bar is drawn (tqdm, from the ``plot`` extra) only when the stream is a terminal: written
into a log file or a pipe, a bar is noise. :func:`sweep_callback` turns a bar into the
callback of :func:`fastdln.training.run_sweeps`; with a :class:`StopOnInterrupt`, Ctrl-C
stops the loop after the current sweep instead of in the middle of it.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

__all__ = ["Progress", "StopOnInterrupt", "sweep_callback"]


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


class StopOnInterrupt:
    """A context in which Ctrl-C (SIGINT) asks for a stop instead of raising at once.

    The first Ctrl-C sets :attr:`requested` (a sweep loop checks it between sweeps, so the
    trainer's state stays consistent and can be checkpointed); a second one raises
    ``KeyboardInterrupt`` as usual. Outside the main thread (where no handler can be
    installed) Ctrl-C keeps its usual effect.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __enter__(self) -> StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


def sweep_callback(progress: Progress, updates: int = 1, stop: StopOnInterrupt | None = None):
    """A :func:`fastdln.training.run_sweeps` callback that advances ``progress`` by
    ``updates`` per sweep and shows the current error; it stops the loop (returns True) once
    ``stop`` has been requested."""
    def callback(trainer):
        progress.update(updates, error=f"{trainer.errors[-1]:.3e}")
        return stop is not None and stop.requested
    return callback
