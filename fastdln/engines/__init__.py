"""The engines that run a training's updates (between the maths and the core layers).

Each engine is a module of this folder with one class registered by name (:mod:`.registry`:
the :class:`Engine` interface, its :class:`Capabilities`, ``REGISTRY``): ``"fast"``
(:mod:`.fast`, the Numba kernels) and ``"reference"`` (:mod:`.reference`, the naive
formulas); other packages add theirs through the entry points ``fastdln.engines``
(:func:`discover`). :func:`make_engine` and :func:`engine_from_state` build the one a run's
settings name.
"""

from . import fast, reference  # noqa: F401 (their registration)
from .common import layer_at
from .registry import (ENTRY_POINTS, REGISTRY, Capabilities, Engine, discover, get_engine,
                       register, unsupported)

__all__ = ["Capabilities", "ENTRY_POINTS", "Engine", "REGISTRY", "discover", "engine_from_state",
           "get_engine", "layer_at", "make_engine", "register", "unsupported"]


def make_engine(data, weights, settings, *, m, optimum):
    """The engine ``settings.engine`` names, on the working data ``(Xw, Yw, Ow, Rw,
    compressed)`` of ``Problem.working_data``."""
    return get_engine(settings.engine).build(data, weights, settings, m=m, optimum=optimum)


def engine_from_state(state, settings):
    """The engine ``settings.engine`` names, continuing from its ``state()``."""
    return get_engine(settings.engine).from_state(state, settings)
