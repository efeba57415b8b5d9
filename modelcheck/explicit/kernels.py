"""Batch expansion and fingerprint sets over packed rows, for the partitioned search.

A *row* is a flat state packed into ``width`` cells of one numpy integer type, so a level,
a batch of successors or a message between ranks is one 2-D array. Two kernels:

- :class:`NativeKernel`: the native library's ``mc_expand_rows`` (the configuration's
  successor function in C, with XXH64-style fingerprints of the packed rows) and its
  open-addressing fingerprint set (:func:`~.native.driver.partitioned`);
- :class:`PythonKernel`: the compiled mode's generated Python over flat tuples, with its
  ``hash()`` fingerprints and a Python ``set``, where no C compiler is found.

Fingerprints are handled as ``uint64``; the owner of a state is read from their high bits
(:func:`owner`), which neither kernel's set uses to place it.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UsageError
from .native import driver

MASK64 = (1 << 64) - 1


def owner(fps: np.ndarray, ranks: int) -> np.ndarray:
    """The rank owning each fingerprint: the top 32 bits scaled to ``ranks`` (a fair share each)."""
    return ((fps >> np.uint64(32)) * np.uint64(ranks) >> np.uint64(32)).astype(np.int64)


def signed(fp: int) -> int:
    """A ``uint64`` fingerprint as the signed value the single-process searches store."""
    return fp - (1 << 64) if fp >= 1 << 63 else fp


def record_type(cell: np.dtype, width: int) -> np.dtype:
    """One step as the ranks send it: fingerprint, source's fingerprint, instance, row (packed, 20 + row bytes)."""
    return np.dtype([("fp", "<u8"), ("parent", "<u8"), ("inst", "<i4"), ("row", cell, (width,))])


def numpy_records(b: Batch, src_fps: np.ndarray, ranks: int, record: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`NativeKernel.records` in numpy."""
    own = owner(b.fps, ranks)
    order = np.argsort(own, kind="stable")
    rec = np.empty(len(b.fps), dtype=record)
    rec["fp"], rec["parent"], rec["inst"], rec["row"] = (b.fps[order], src_fps[b.src[order].astype(np.int64)],
                                                        b.inst[order], b.rows[order])
    return rec.view(np.uint8), np.bincount(own, minlength=ranks).astype(np.int64)


@dataclass
class Batch:
    """What expanding ``consumed`` rows gave: per step its row, fingerprint, source row and
    instance and the step properties it violates; per source row its property mask."""

    consumed: int
    rows: np.ndarray
    fps: np.ndarray  # uint64
    src: np.ndarray  # int32, index into the rows expanded
    inst: np.ndarray  # int32
    step_mask: np.ndarray  # uint64 per step
    state_mask: np.ndarray  # uint64 per source row
    terminals: int


class Fault(UsageError):
    """The successor code hands a state back to the spec's own code (a step that raises or leaves
    the field types); the partitioned search stops and says to run it without --distributed (exit 2)."""


class NativeKernel:
    """The native library's batch expansion and fingerprint set."""

    name = "native (C)"
    fingerprints = "native-xxh64"

    def __init__(self, lib: Any, flat: Any):
        self.lib = lib
        self.c, cell = driver.partitioned(lib)
        self.dtype = np.dtype(cell)
        self.width = lib.width
        self.flatten = flat.layout.flatten
        self._buffers: tuple[np.ndarray, ...] | None = None

    def pack(self, states: list[tuple[int, ...]]) -> np.ndarray:
        return np.array(states, dtype=self.dtype).reshape(len(states), self.width)

    def fingerprint(self, rows: np.ndarray) -> np.ndarray:
        out = np.empty(len(rows), dtype=np.uint64)
        rows = np.ascontiguousarray(rows)
        self.c.mc_fingerprint_rows(rows.ctypes.data, len(rows), out.ctypes.data)
        return out

    def expand(self, rows: np.ndarray, successors: bool, cap: int) -> Batch:
        """Expand ``rows`` until about ``cap`` steps are written (into buffers reused from batch to batch:
        a batch is packed into records before the next one is expanded)."""
        rows = np.ascontiguousarray(rows)
        n = len(rows)
        if self._buffers is None or len(self._buffers[1]) != cap:
            self._buffers = (np.empty((cap, self.width), dtype=self.dtype), np.empty(cap, dtype=np.uint64),
                             np.empty(cap, dtype=np.int32), np.empty(cap, dtype=np.int32),
                             np.empty(cap, dtype=np.uint64))
        out, fps, src, inst, smask = self._buffers
        state_mask = np.zeros(min(n, cap), dtype=np.uint64)
        n = len(state_mask)  # cap bounds the rows of a batch too (rows without a step write nothing)
        counts = np.zeros(3, dtype=np.int64)
        got = self.c.mc_expand_rows(rows.ctypes.data, n, 1 if successors else 0, cap, out.ctypes.data,
                                    fps.ctypes.data, src.ctypes.data, inst.ctypes.data, smask.ctypes.data,
                                    state_mask.ctypes.data, counts.ctypes.data)
        if got == driver.MC_FAULT:
            raise Fault(f"a step the C code does not decide, from state {tuple(rows[counts[2]].tolist())}")
        if got == driver.MC_NOMEM:
            raise MemoryError("the native batch expansion could not allocate")
        w = int(counts[0])
        return Batch(int(got), out[:w], fps[:w], src[:w], inst[:w], smask[:w], state_mask[:got], int(counts[1]))

    def records(self, b: Batch, src_fps: np.ndarray, ranks: int, record: np.dtype) -> tuple[np.ndarray, np.ndarray]:
        """The batch's steps as message records (:func:`record_type`) sorted by owner, and the count per rank."""
        out = np.empty(len(b.fps) * record.itemsize, dtype=np.uint8)  # its own: MPI may still be sending it
        counts = np.zeros(ranks, dtype=np.int64)
        src_fps = np.ascontiguousarray(src_fps, dtype=np.uint64)
        self.c.mc_pack_records(b.rows.ctypes.data, b.fps.ctypes.data, b.src.ctypes.data, b.inst.ctypes.data,
                               len(b.fps), src_fps.ctypes.data, ranks, counts.ctypes.data, out.ctypes.data,
                               record.itemsize)
        return out, counts

    def new_set(self) -> NativeSet:
        return NativeSet(self.c)

    def key(self, flatten: Any) -> Any:
        """The fingerprint of a concrete state, as the Exploration stores it (traces are rebuilt with it)."""
        lib = self.lib
        return lambda s: lib.fingerprint(flatten(s))


class NativeSet:
    """The native open-addressing set of ``uint64`` fingerprints."""

    def __init__(self, c: Any):
        self.c = c
        self.handle = c.mc_dset_new()
        if not self.handle:
            raise MemoryError("the fingerprint set could not allocate")

    def add(self, fps: np.ndarray, insert: bool = True) -> np.ndarray:
        """Which of ``fps`` are new (a repeat within ``fps`` is not); inserted unless ``insert`` is false."""
        fps = np.ascontiguousarray(fps, dtype=np.uint64)
        fresh = np.empty(len(fps), dtype=np.uint8)
        got = self.c.mc_dset_insert(self.handle, fps.ctypes.data, len(fps), fresh.ctypes.data, 1 if insert else 0)
        if got == driver.MC_NOMEM:
            raise MemoryError("the fingerprint set could not grow")
        return fresh.view(np.bool_)

    def admit(self, data: np.ndarray, record: np.dtype, level: NativeSet | None) -> tuple[np.ndarray, int]:
        """The received records (bytes) whose fingerprints are new, inserted; with ``level`` (the next
        level's states so far, which they join) also how many reach a state of this level or an older one."""
        n = len(data) // record.itemsize
        back = np.zeros(1, dtype=np.int64)
        got = self.c.mc_dset_admit(self.handle, data.ctypes.data, n, record.itemsize,
                                   level.handle if level is not None else None, back.ctypes.data)
        if got == driver.MC_NOMEM:
            raise MemoryError("the fingerprint set could not grow")
        return data[:got * record.itemsize].view(record), int(back[0])

    def __len__(self) -> int:
        return int(self.c.mc_dset_size(self.handle))

    def bytes(self) -> int:
        return int(self.c.mc_dset_bytes(self.handle))

    def close(self) -> None:
        if self.handle:
            self.c.mc_dset_free(ctypes.c_void_p(self.handle))
            self.handle = None


class PythonKernel:
    """The compiled mode's generated Python, one flat tuple at a time (no C compiler)."""

    name = "compiled Python"
    fingerprints = "python-hash"

    def __init__(self, flat: Any):
        self.flat = flat
        self.width = max(flat.layout.width, 1)
        self.dtype = np.dtype(np.int64)
        self.hash = flat.fingerprint

    def pack(self, states: list[tuple[int, ...]]) -> np.ndarray:
        return np.array(states, dtype=self.dtype).reshape(len(states), self.width)

    def fingerprint(self, rows: np.ndarray) -> np.ndarray:
        return np.array([self.hash(tuple(r)) & MASK64 for r in rows.tolist()], dtype=np.uint64)

    def expand(self, rows: np.ndarray, successors: bool, cap: int) -> Batch:
        expand, fp = self.flat.expand, self.hash
        out: list[tuple[int, ...]] = []
        fps: list[int] = []
        src: list[int] = []
        inst: list[int] = []
        smask: list[int] = []
        state_mask: list[int] = []
        terminals = 0
        listed = rows.tolist()
        i = 0
        for i, row in enumerate(listed):
            if len(out) >= cap:
                break
            bad, hit, ends, terminal, succ = expand(tuple(row), successors)
            m = 0
            for b in (*bad, *hit, *(ends if terminal else ())):
                m |= 1 << b
            state_mask.append(m)
            terminals += bool(terminal)
            for k, t, sb in succ:
                out.append(t)
                fps.append(fp(t) & MASK64)
                src.append(i)
                inst.append(k)
                smask.append(sum(1 << b for b in sb))
        else:
            i = len(listed)
        packed = np.array(out, dtype=self.dtype).reshape(len(out), self.width)
        return Batch(i, packed, np.array(fps, dtype=np.uint64), np.array(src, dtype=np.int32),
                     np.array(inst, dtype=np.int32), np.array(smask, dtype=np.uint64),
                     np.array(state_mask, dtype=np.uint64), terminals)

    def records(self, b: Batch, src_fps: np.ndarray, ranks: int, record: np.dtype) -> tuple[np.ndarray, np.ndarray]:
        return numpy_records(b, src_fps, ranks, record)

    def new_set(self) -> PythonSet:
        return PythonSet()

    def key(self, flatten: Any) -> Any:
        return lambda s: self.hash(flatten(s))


class PythonSet:
    """A Python set of fingerprints."""

    def __init__(self) -> None:
        self.seen: set[int] = set()

    def add(self, fps: np.ndarray, insert: bool = True) -> np.ndarray:
        seen = self.seen
        fresh = np.zeros(len(fps), dtype=np.bool_)
        batch: set[int] = set()
        for j, fp in enumerate(fps.tolist()):
            if fp not in seen and fp not in batch:
                fresh[j] = True
                batch.add(fp)
        if insert:
            seen |= batch
        return fresh

    def admit(self, data: np.ndarray, record: np.dtype, level: PythonSet | None) -> tuple[np.ndarray, int]:
        recs = data.view(record)
        fresh = self.add(recs["fp"])
        back = 0
        if level is not None:
            level.add(recs["fp"][fresh])
            back = int(level.add(recs["fp"][~fresh], insert=False).sum())
        return recs[fresh], back

    def __len__(self) -> int:
        return len(self.seen)

    def bytes(self) -> int:
        return 0

    def close(self) -> None:
        self.seen.clear()
