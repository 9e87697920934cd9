"""What an engine is (:class:`Engine`, :class:`Capabilities`) and the one registry of them.

The trainer, the problem, the settings, ``fastdln bench`` and the command line ask the
registry (``REGISTRY[name]``, :func:`get_engine`) what an engine can do; none of them
compares names. Adding an engine is one module with its class and :func:`register`
(docs/extending.md).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

if TYPE_CHECKING:  # annotations only: the engines sit below the core
    from ..core.settings import Settings

__all__ = ["Capabilities", "ENTRY_POINTS", "Engine", "REGISTRY", "discover", "get_engine",
           "register", "unsupported"]

KINDS_OF_LOSS = frozenset({"l2", "lp", "custom"})


@dataclass(frozen=True)
class Capabilities:
    """What an engine can run, checked by :func:`fastdln.check_settings` before any work.

    Attributes
    ----------
    summary : str
        One line for help texts (``fastdln train --help``).
    dtypes : frozenset of str
        The precisions it trains in.
    losses : frozenset of str
        Kinds of loss: ``"l2"``, ``"lp"`` (``|r|^p / p``, p even), ``"custom"``
        (:class:`fastdln.losses.ConvexLoss`).
    methods : frozenset of str or None
        The training methods (:mod:`fastdln.core.methods`) it runs; None: every one.
    compression : bool
        It trains on the exactly compressed L2 data (docs/math.md section 4) when the problem
        offers them; else on the full working data.
    width_reduction : bool
        It applies Theorem 3.1's width reduction itself (``Engine.width_reduced``).
    blas : {"all", "kernels"}
        The BLAS libraries its runs call: every loaded one (numpy's linear algebra), or only
        the one the kernels call (:func:`fastdln.core.threads.kernel_libraries`): what a
        sweep's thread count is set on.
    """

    summary: str
    dtypes: frozenset = frozenset({"float64", "float32"})
    losses: frozenset = KINDS_OF_LOSS
    methods: frozenset | None = None
    compression: bool = False
    width_reduction: bool = False
    blas: str = "all"

    def __post_init__(self):
        if not self.losses <= KINDS_OF_LOSS or self.blas not in ("all", "kernels"):
            raise ValueError(f"Capabilities: losses must be among {sorted(KINDS_OF_LOSS)} and "
                             f"blas 'all' or 'kernels', got {sorted(self.losses)}, "
                             f"{self.blas!r}")


class Engine(Protocol):
    """The interface an engine offers the trainer (the working data have columns as
    samples: ``X`` is ``(n0, r)``).

    ``build(data, weights, settings, *, m, optimum)`` makes one from
    ``Problem.working_data``'s ``(Xw, Yw, Ow, Rw, compressed)`` (``Ow = W* Xw`` the optimum's
    output, ``Rw`` its residual or None), the initial weights and the run's settings;
    ``from_state(state, settings)`` continues from :meth:`state` bit for bit (a dict with at
    least ``X``, ``Y``, ``m``, ``compressed``, ``width_reduced``, ``weights`` and its
    ``state_keys``); ``state(mid_sweep=False)`` may leave out what the next sweep rebuilds.
    ``weights()`` and ``working_weights()`` are copies (full width, and as trained);
    ``weight_views()`` the working weights without a copy where it holds them.
    ``run(begin, end, error_limit, draws=None, batches=None)`` performs the layer updates at
    positions ``begin .. end-1`` of a sweep (one GD iteration for methods that update all
    layers at once) and returns ``(errors, rates, bad)``: float64 arrays (which may be views
    of the engine's own buffers, valid until its next ``run``), and the error of an update
    that would have made the error non-finite or above ``error_limit`` (not applied; None if
    none); ``draws``/``batches`` are a stochastic sweep's random numbers.
    """

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    state_keys: ClassVar[tuple]  # keys its state() always holds beside the common ones
    settings: Settings
    m: int
    depth: int
    X: np.ndarray
    compressed: bool
    width_reduced: bool

    @classmethod
    def build(cls, data: tuple, weights: list, settings: Settings, *, m: int,
              optimum: Any) -> Engine: ...

    @classmethod
    def from_state(cls, state: dict, settings: Settings) -> Engine: ...

    def run(self, begin: int, end: int, error_limit: float, draws: Any = None,
            batches: Any = None) -> tuple: ...

    def initial_error(self) -> float: ...

    def weights(self) -> list: ...

    def working_weights(self) -> list: ...

    def weight_views(self) -> list: ...

    def state(self, mid_sweep: bool = True) -> dict: ...


REGISTRY: dict[str, type] = {}
_ENGINE_METHODS = ("build", "from_state", "run", "initial_error", "weights",
                   "working_weights", "weight_views", "state")


def register(name: str, capabilities: Capabilities):
    """Class decorator: register an engine under ``name`` with its ``capabilities``."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"an engine's name must be an identifier, got {name!r}")
    if not isinstance(capabilities, Capabilities):
        raise TypeError("register(name, capabilities): capabilities must be a Capabilities")

    def decorate(cls):
        missing = [method for method in _ENGINE_METHODS if not callable(getattr(cls, method,
                                                                                None))]
        if not isinstance(getattr(cls, "state_keys", None), tuple):
            missing.append("state_keys (a tuple)")
        if missing:
            raise TypeError(f"engine {name!r} ({cls.__name__}) lacks {', '.join(missing)}")
        if REGISTRY.get(name, cls) is not cls:
            raise ValueError(f"an engine named {name!r} is registered already "
                             f"({REGISTRY[name].__name__})")
        cls.name, cls.capabilities = name, capabilities
        REGISTRY[name] = cls
        return cls

    return decorate


ENTRY_POINTS = "fastdln.engines"
_DISCOVERED: list = []


def discover() -> None:
    """Import the engines other packages declare: each entry point of the group
    ``fastdln.engines`` names a module that registers its engine when imported (another
    package's ``pyproject.toml``: ``[project.entry-points."fastdln.engines"]``,
    ``myengine = "mypackage.engine"``). Once per process; a plugin that fails to import is
    left out with a warning naming it (it never breaks a run of another engine)."""
    if _DISCOVERED:
        return
    _DISCOVERED.append(True)
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINTS):
        try:
            entry.load()
        except Exception as error:  # a broken plugin must not break fastdln
            warnings.warn(f"fastdln: the engine plugin {entry.name!r} ({entry.value}) could "
                          f"not be imported: {error}", RuntimeWarning, stacklevel=2)


def get_engine(name: str) -> type:
    """The engine class registered as ``name``, looking at the plugins' entry points for a
    name not registered yet (``ValueError`` naming the registered ones)."""
    if isinstance(name, str) and name not in REGISTRY:
        discover()
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"engine must be one of {', '.join(map(repr, REGISTRY))}; got "
                         f"{name!r}") from None


def unsupported(capabilities: Capabilities, *, dtype: str, loss_kind: str,
                method: str) -> list[str]:
    """What of a run's settings an engine with ``capabilities`` cannot do (empty: all)."""
    problems = []
    if dtype not in capabilities.dtypes:
        problems.append(f"dtype={dtype!r} (it trains in {', '.join(sorted(capabilities.dtypes))})")
    if loss_kind not in capabilities.losses:
        problems.append(f"a {loss_kind} loss (it takes {', '.join(sorted(capabilities.losses))})")
    if capabilities.methods is not None and method not in capabilities.methods:
        problems.append(f"method={method!r} (it runs {', '.join(sorted(capabilities.methods))})")
    return problems
