"""Progress reporting shared by the applications (command line, reproductions) (apps layer).

A bar is drawn (``tqdm.auto``: a text bar on a terminal, a widget in a Jupyter notebook,
with tqdm's own settings such as ``TQDM_DISABLE=1`` or ``TQDM_MININTERVAL``) only when the
stream reaches a person, a terminal or a notebook: written into a log file or a pipe, a bar
is noise. :func:`sweep_callback` turns a bar into the
callback of :func:`fastdln.core.runner.run_sweeps`; with a :class:`StopOnInterrupt`, Ctrl-C or
SIGTERM stops the loop after the current sweep instead of in the middle of it.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

from ..maths._checks import is_interactive

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
        Where the bar goes (default ``sys.stderr``); nothing is drawn unless it is a terminal
        or a notebook's output.
    """

    def __init__(self, total: int | None, description: str, unit: str = "it",
                 enabled: bool = True, stream: Any = None) -> None:
        stream = sys.stderr if stream is None else stream
        self._bar = None
        if enabled and is_interactive(stream):
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=description, unit=unit, dynamic_ncols=True,
                             file=stream)

    @property
    def shown(self) -> bool:
        """Whether a bar is drawn."""
        return self._bar is not None

    def start_at(self, done: int) -> None:
        """Start the bar at ``done`` steps (a resumed run's), not counted in its rate."""
        if self._bar is not None and done != self._bar.n:
            self._bar.n = self._bar.last_print_n = self._bar.initial = done
            self._bar.refresh()

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


class StopOnInterrupt:
    """A context in which Ctrl-C (SIGINT) and SIGTERM ask for a stop instead of ending at once.

    The first signal sets :attr:`requested` and :attr:`signal` (a sweep loop checks it
    between sweeps, so the trainer's state stays consistent and can be checkpointed); a
    second one has the signal's usual effect (``KeyboardInterrupt``, or the end of the
    process for SIGTERM: what a scheduler such as SLURM or Kubernetes sends before killing).
    Outside the main thread (where no handler can be installed) the signals keep their usual
    effect.

    Parameters
    ----------
    signals : tuple of int
        The signals handled (default SIGINT and SIGTERM).
    on_signal : callable, optional
        ``on_signal(signum)`` is called by the handler (e.g. to pass the signal on).
    """

    def __init__(self, signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM),
                 on_signal: Any = None) -> None:
        self.requested = False
        self.signal: int | None = None
        self._signals = signals
        self._on_signal = on_signal
        self._previous: dict[int, Any] = {}

    @property
    def exit_code(self) -> int:
        """The shell's code for a process ended by the signal received: ``128 + signum``."""
        return 128 + int(self.signal if self.signal is not None else signal.SIGINT)

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signal).name if self.signal is not None else ""

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True
        self.signal = signum
        signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT
                      else signal.SIG_DFL)
        if self._on_signal is not None:
            self._on_signal(signum)

    def __enter__(self) -> StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = {signum: signal.signal(signum, self._handle)
                              for signum in self._signals}
        return self

    def __exit__(self, *exc_info: Any) -> None:
        for signum, previous in self._previous.items():
            if previous is not None:  # None: a handler not installed from Python
                signal.signal(signum, previous)
        self._previous = {}


def sweep_callback(progress: Progress, updates: int = 1, stop: StopOnInterrupt | None = None):
    """A :func:`fastdln.core.runner.run_sweeps` callback that advances ``progress`` by
    ``updates`` per sweep and shows the current error; it stops the loop (returns True) once
    ``stop`` has been requested. A resumed run's bar starts at the checkpoint's sweep
    (``callback.start``, which :func:`fastdln.core.runner.run_sweeps` calls first)."""
    def callback(trainer):
        progress.update(updates, error=f"{trainer.errors[-1]:.3e}")
        return stop is not None and stop.requested

    callback.start = lambda trainer: progress.start_at(  # type: ignore[attr-defined]
        trainer.sweeps_done * updates)
    return callback
