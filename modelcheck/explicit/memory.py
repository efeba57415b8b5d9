"""The memory budget of a search: how much resident memory it may use before it stops.

A search that reaches its budget ends like one that reaches a state bound — every stored
state is still judged, no new one is admitted — and its verdicts say ``HOLDS up to
bound (memory budget … reached)``: an honest partial answer instead of the kernel's OOM
killer. The native search first spills (``explicit/native/search.c``: its streamed arrays move
to files in the spill directory) and stops only when its fingerprint set cannot grow. The
default is half of the machine's memory, split among the processes that search at once
(workers, or matrix cases run side by side). The checks after the search (liveness, drawing a
cycle) hold to it too: their large arrays go to the spill directory (:class:`Scratch`), and
what still cannot fit is ``UNKNOWN`` with the budget it needs (:class:`OverBudget`).
"""

from __future__ import annotations

import errno
import mmap
import os
import resource
import tempfile
from typing import Any

import numpy as np

from ..errors import ModelcheckError

DEFAULT_SHARE = 0.5  # of the machine's memory, for all the processes of one run together


class SpillError(ModelcheckError):
    """The search, or a check after it, could not write its spill files (an unwritable
    directory, a full disk): exit 2."""

    def __init__(self, where: str, err: int):
        fix = "free space there" if err in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) else "make it writable"
        super().__init__(f"{where}: cannot spill the search to disk ({os.strerror(err)}); {fix}, choose another "
                         f"directory with --spill-dir, or raise --memory")
        self.where, self.errno = where, err


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


class Scratch:
    """Where a check after the search keeps its large arrays, under ``budget`` (``None``: none).

    ``array(count, dtype, disk=True)`` gives a zeroed numpy array in an unlinked file in
    ``where`` (the spill directory; blocks reserved first, so a full disk is an error here,
    never a SIGBUS later), mapped shared; ``disk=False``, or no ``where``, one on the heap.
    ``watch`` adds mapped buffers the search left (its spilled steps, marks, parents).
    ``tick()``, called often in the check's loops, looks at the resident size every
    :data:`TICKS` calls and, within :data:`MARGIN` of the budget, drops every mapped page: they
    stay in their files (the page cache) and come back when touched, so the check's resident
    size is its heap arrays and what it touched since the last drop."""

    TICKS = 1 << 9
    MARGIN = 4 << 20  # what TICKS calls may touch at most (two pages each)

    def __init__(self, budget: int | None, where: str = ""):
        self.budget, self.where = budget, where
        self.maps: list[mmap.mmap] = []
        self.ticks = 0

    def array(self, count: int, dtype: Any, disk: bool = True) -> np.ndarray:
        if not disk or not self.where:
            return np.zeros(count, dtype=dtype)
        size = max(count * np.dtype(dtype).itemsize, 1)
        try:
            with tempfile.TemporaryFile(dir=self.where) as f:
                os.posix_fallocate(f.fileno(), 0, size)
                mapped = mmap.mmap(f.fileno(), size)  # its own duplicate of the descriptor
        except OSError as err:
            raise SpillError(self.where, err.errno or errno.EIO) from None
        self.maps.append(mapped)
        return np.frombuffer(mapped, dtype=dtype, count=count)

    def full(self, count: int, dtype: Any, value: int, disk: bool = True) -> np.ndarray:
        """As :meth:`array`, every item ``value`` (written a chunk at a time, with ticks)."""
        out = self.array(count, dtype, disk)
        for lo in range(0, count, 1 << 16):
            out[lo:lo + (1 << 16)] = value
            self.tick(self.TICKS)
        return out

    def watch(self, *buffers: Any) -> None:
        for b in buffers:
            if isinstance(getattr(b, "obj", None), mmap.mmap):
                self.maps.append(b.obj)

    def afford(self, what: str, need: int) -> None:
        """:func:`afford` under this budget."""
        afford(self.budget, what, need)

    def tick(self, weight: int = 1) -> None:
        """Count ``weight`` steps of work (a chunk of a numpy pass counts :data:`TICKS`)."""
        self.ticks += weight
        if self.ticks < self.TICKS or not self.maps or self.budget is None:
            return
        self.ticks = 0
        if resident() + self.MARGIN > self.budget:
            self.drop()

    def drop(self) -> None:
        for mapped in self.maps:
            mapped.madvise(mmap.MADV_DONTNEED)


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
