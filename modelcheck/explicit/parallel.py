"""Expanding a BFS level on worker processes, with results identical to one process.

Workers are forked from the searching process, so they inherit its compiled spec
(specs loaded by path need no re-import) and its :class:`~modelcheck.explicit.interpreted.Expander`.
States travel as plain tuples; each chunk's answers come back in order, so the search
merges them exactly as a single process would.
"""

from __future__ import annotations

import gc
import multiprocessing
import signal
import struct
from array import array
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from ..state import State
from .interpreted import Expander
from .successors import Expansion

# Set in each worker process by _init (inherited through fork); never in the parent.
_worker: dict[str, Any] = {}


def _init(expander: Expander) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the searching process's to report, in one line
    _worker["x"] = expander


def _expand_chunk(chunk: list[tuple[tuple, bool]]) -> list[Expansion]:
    expander = _worker["x"]
    cls = expander.state_cls
    out = []
    for values, successors in chunk:
        bad, hit, ends, terminal, succ = expander.expand(tuple.__new__(cls, values), successors)
        out.append((bad, hit, ends, terminal, [(k, tuple(t), sb) for k, t, sb in succ]))
    gc.collect(0)  # workers fork from a search that paused the collector: young garbage cycles, once a chunk
    return out


class Pool:
    """A pool of forked workers that expand lists of states."""

    def __init__(self, expander: Expander, workers: int, chunk: int = 256):
        self.cls = expander.state_cls
        self.chunk = chunk
        context = multiprocessing.get_context("fork")
        self.executor = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init,
                                            initargs=(expander,))

    def expand(self, states: list[State], successors: list[bool]) -> Iterator[Expansion]:
        """Expansions of ``states``, in order."""
        items = [(tuple(s), f) for s, f in zip(states, successors)]
        chunks = [items[i:i + self.chunk] for i in range(0, len(items), self.chunk)]
        cls = self.cls
        for answers in self.executor.map(_expand_chunk, chunks):
            for bad, hit, ends, terminal, succ in answers:
                yield bad, hit, ends, terminal, [(k, tuple.__new__(cls, t), sb) for k, t, sb in succ]

    def close(self) -> None:
        self.executor.shutdown(cancel_futures=True)


# --------------------------------------------------------------------------- packed flat states

ChunkAnswer = tuple[list, list, list[int], bytes, bytes, bytes, bytes]


def _init_packed(expander: Any, codec: str, instances: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the searching process's to report, in one line
    _worker["x"] = expander
    _worker["codec"] = struct.Struct(codec)
    _worker["instances"] = instances


def _expand_packed(blob: bytes, successors: bool) -> ChunkAnswer:
    """Expand a chunk of packed flat states; answer in a form that pickles as a few byte strings.

    Returns ``(events, step_events, fired, sources, instances, fingerprints, successors)``:
    ``events`` = ``(i, bad, hit, ends, terminal)`` for the chunk's ``i``-th state when any is
    set; ``step_events`` = ``(i, k, t, step_bad)`` for steps that violate a step property;
    ``fired`` the steps per instance; then per step, in order, its source's position in the
    chunk (uint32), its instance (uint32), its successor's fingerprint (int64: ``hash()``) and the
    successor itself, packed.
    """
    expander, codec = _worker["x"], _worker["codec"]
    expand, fingerprint, pack = expander.expand, expander.fingerprint, codec.pack
    fired = [0] * _worker["instances"]
    events: list = []
    step_events: list = []
    sources, via, fps = array("I"), array("I"), array("q")
    out = bytearray()
    for i, x in enumerate(codec.iter_unpack(blob)):
        bad, hit, ends, terminal, succ = expand(x, successors)
        if bad or hit or terminal:
            events.append((i, bad, hit, ends, terminal))
        for k, t, step_bad in succ:
            fired[k] += 1
            if step_bad:
                step_events.append((i, k, t, step_bad))
            sources.append(i)
            via.append(k)
            fps.append(fingerprint(t))
            out += pack(*t)
    gc.collect(0)  # as in _expand_chunk
    return events, step_events, fired, sources.tobytes(), via.tobytes(), fps.tobytes(), bytes(out)


class PackedPool:
    """Forked workers that expand a packed frontier level (:class:`~modelcheck.explicit.compact.PackedLevel`)
    chunk by chunk and also fingerprint and pack the successors, so that what crosses the
    process boundary is a few byte strings per chunk and the searching process only looks
    up fingerprints and admits the new states. Chunks are answered in order."""

    def __init__(self, expander: Any, workers: int, codec: struct.Struct, instances: int, chunk: int = 1024):
        self.codec = codec
        self.chunk = chunk
        self.ahead = 2 * workers  # chunks in flight, so that answers never pile up
        context = multiprocessing.get_context("fork")
        self.executor = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_packed,
                                            initargs=(expander, codec.format, instances))

    def expand(self, buf: bytes | bytearray, successors: bool) -> Iterator[tuple[int, ChunkAnswer]]:
        """``(position of the chunk's first state, its answer)`` for each chunk of ``buf``, in order."""
        step, size = self.chunk * self.codec.size, self.codec.size
        pending: deque = deque()
        for start in range(0, len(buf), step):
            pending.append((start, self.executor.submit(_expand_packed, bytes(buf[start:start + step]), successors)))
            if len(pending) > self.ahead:
                start, future = pending.popleft()
                yield start // size, future.result()
        for start, future in pending:
            yield start // size, future.result()

    def close(self) -> None:
        self.executor.shutdown(cancel_futures=True)
