"""The memory budget of a search: how much resident memory it may use before it stops.

A search that reaches its budget ends like one that reaches a state bound — every stored
state is still judged, no new one is admitted — and its verdicts say ``HOLDS up to
bound (memory budget … reached)``: an honest partial answer instead of the kernel's OOM
killer. The native search first spills (``explicit/native/search.c``: its streamed arrays move
to files in the spill directory) and stops only when its fingerprint set cannot grow. The
default is half of the machine's memory, split among the processes that search at once
(workers, or matrix cases run side by side).
"""

from __future__ import annotations

import os
import resource

DEFAULT_SHARE = 0.5  # of the machine's memory, for all the processes of one run together


class OverBudget(Exception):
    """A check after the search (liveness, drawing a cycle) would pass the memory budget:
    ``reason`` says which check, how much it needs and the budget that would let it run."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def afford(budget: int | None, what: str, need: int) -> None:
    """Raise :class:`OverBudget` when ``need`` more bytes than this process holds now would pass
    ``budget`` (``None``: no budget, everything fits)."""
    if budget is None:
        return
    now = resident()
    if now + need > budget:
        raise OverBudget(f"memory budget {show(budget)} reached: {what} needs about {show(need)} more than the "
                         f"{show(now)} in use; raise it with --memory to at least {show(now + need)}")


def machine_bytes() -> int | None:
    """The machine's physical memory, or ``None`` where the system does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def default_budget(processes: int = 1) -> int | None:
    """Half of the machine's memory divided among ``processes`` (``None``: unknown, no budget)."""
    total = machine_bytes()
    return None if total is None else int(total * DEFAULT_SHARE) // max(processes, 1)


def resident() -> int:
    """This process's resident memory now, in bytes (Linux ``/proc``; elsewhere its peak so far)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak() -> None:
    """Start this process's peak resident size (``VmHWM``) afresh, where Linux allows it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_since_reset() -> int:
    """This process's peak resident memory since :func:`reset_peak` (Linux ``VmHWM``; else since it started)."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return peak_resident()


def peak_resident() -> int:
    """This process's peak resident memory so far, in bytes (``getrusage``; Linux counts KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def in_memory_filesystem(path: str) -> bool:
    """Whether ``path`` lies on a tmpfs or ramfs (Linux ``/proc/mounts``): spilling there saves no memory."""
    try:
        with open("/proc/mounts") as f:
            mounts = [line.split()[1:3] for line in f]
    except OSError:
        return False
    where = os.path.realpath(path)
    best = max((m for m in mounts if where == m[0] or where.startswith(m[0].rstrip("/") + "/")),
               key=lambda m: len(m[0]), default=None)
    return best is not None and best[1] in ("tmpfs", "ramfs")


def show(n: int) -> str:
    """Bytes for people: ``512 MB``, ``1.5 GB``."""
    if n >= 1 << 30:
        return f"{n / (1 << 30):.1f} GB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.0f} MB"
    return f"{n} bytes"


def parse(text: str) -> int:
    """``2G``, ``512M``, ``100K`` or a number of bytes; ValueError on anything else."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    scale = units.get(t[-1:], 1) if t else 1
    number = float(t[:-1] if t[-1:] in units else t)
    if number <= 0:
        raise ValueError(text)
    return int(number * scale)
