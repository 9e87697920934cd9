"""Whether a network fits in memory, checked before its weights are allocated.

A network's weights take ``sum_l n_l n_{l-1}`` numbers, known from its widths before
anything is allocated. :func:`check_fits` compares what a run needs with what this process
may still use, as far as the system says: the address-space limit (``ulimit -v``,
``RLIMIT_AS``), the cgroup's memory limit (a container's or a scheduler's, v1 or v2) and the
machine's available memory and free swap (``/proc/meminfo``). Too much raises
``MemoryError`` in one line naming the widths and the bytes, before any allocation; the
command line prints it and exits 2. Where nothing can be read (not Linux), nothing is
refused up front, and an allocation that fails raises numpy's ``MemoryError``.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["available_memory", "check_fits", "describe_bytes", "draw_copies", "weight_bytes"]

_CGROUP_ROOT = "/sys/fs/cgroup"
_PROC = "/proc/self"
_UNLIMITED = 1 << 60  # cgroup v1 writes "no limit" as a number near 2**63


def weight_bytes(widths, dtype) -> int:
    """The bytes of the weights ``W_l`` of shape ``(n_l, n_{l-1})`` for these widths."""
    itemsize = np.dtype(dtype).itemsize
    return sum(int(a) * int(b) for a, b in zip(widths[:-1], widths[1:])) * itemsize


def draw_copies(dtype) -> int:
    """Copies (in ``dtype``) of the weights that drawing them in float64 adds: 2 for float32
    (initializations draw in float64, then convert), 0 for float64."""
    itemsize = np.dtype(dtype).itemsize
    return 8 // itemsize if itemsize < 8 else 0


def describe_bytes(count: float) -> str:
    """``count`` bytes in the largest binary unit that keeps a number >= 1 (``26.8 GiB``)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def check_fits(widths, dtype, *, copies: int = 1, held_by: str = "") -> None:
    """Raise ``MemoryError`` if ``copies`` times the weights of ``widths`` (``held_by``
    says who holds the copies) do not fit in what this process may still use
    (:func:`available_memory`)."""
    weights = weight_bytes(widths, dtype)
    needed = copies * weights
    available, limit = available_memory()
    if available is None or needed <= available:
        return
    held = (f"; {held_by} takes {describe_bytes(needed)} ({copies} times that)"
            if copies > 1 else "")
    raise MemoryError(f"out of memory: widths {[int(n) for n in widths]} need "
                      f"{describe_bytes(weights)} ({weights} bytes) for their weights "
                      f"({np.dtype(dtype).name}){held}, more than the "
                      f"{describe_bytes(available)} this process may still use ({limit}); "
                      "use narrower or fewer layers")


def available_memory() -> tuple[int | None, str]:
    """``(bytes, what limits them)``: the least this process may still allocate under each
    limit the system shows, or ``(None, "")`` when none can be read."""
    found = [limit for limit in (_address_space(), _cgroup(), _machine()) if limit is not None]
    if not found:
        return None, ""
    return min(found)


def _address_space():
    """What ``RLIMIT_AS`` (``ulimit -v``) leaves above this process's address space."""
    try:
        import resource
    except ImportError:  # not POSIX
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    used = _status_bytes("VmSize")
    if used is None:
        return None
    return max(0, soft - used), f"the address-space limit, ulimit -v, of {describe_bytes(soft)}"


def _status_bytes(field):
    try:
        with open(os.path.join(_PROC, "status")) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _cgroup():
    """What the tightest memory limit of this process's cgroups (and their parents) leaves."""
    tightest = None
    for limit_file, usage_file in _cgroup_files():
        limit, usage = _read_number(limit_file), _read_number(usage_file)
        if limit is None or usage is None or limit >= _UNLIMITED:
            continue
        room = (max(0, limit - usage), f"the cgroup memory limit of {describe_bytes(limit)}")
        tightest = room if tightest is None else min(tightest, room)
    return tightest


def _cgroup_files():
    """``(limit, usage)`` file pairs of every memory cgroup holding this process (v2 and v1),
    from its own up to the root of the hierarchy."""
    try:
        with open(os.path.join(_PROC, "cgroup")) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    pairs = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # v2: one unified hierarchy
            base, names = _CGROUP_ROOT, ("memory.max", "memory.current")
        elif "memory" in controllers.split(","):
            base, names = os.path.join(_CGROUP_ROOT, "memory"), ("memory.limit_in_bytes",
                                                                 "memory.usage_in_bytes")
        else:
            continue
        parts = [p for p in path.split("/") if p]
        for depth in range(len(parts), -1, -1):  # a container sees its cgroup as the root
            folder = os.path.join(base, *parts[:depth])
            pairs.append(tuple(os.path.join(folder, name) for name in names))
    return pairs


def _read_number(path):
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    if text == "max":
        return _UNLIMITED
    return int(text) if text.isdigit() else None


def _machine():
    """The machine's available memory plus free swap (``/proc/meminfo``)."""
    values = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                name, _, rest = line.partition(":")
                values[name] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    if "MemAvailable" not in values:
        return None
    room = values["MemAvailable"] + values.get("SwapFree", 0)
    return room, f"the machine's available memory and free swap, {describe_bytes(room)}"
