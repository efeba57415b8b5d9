"""How a level is expanded: here, or on worker processes (:class:`Serial`, :class:`Pooled`,
:class:`PackedPooled`).

Each hands every state's answer to the store in state order, so ids do not depend on the
number of workers. It sits above the stores and the worker pools it joins, so that the
``Successors`` protocol below them imports neither.
"""

from __future__ import annotations

from array import array
from typing import Any

import numpy as np

from .exploration import Exploration
from .parallel import PackedPool, Pool
from .stores import CompactStore, Store
from .successors import Successors


class Serial:
    """Expand a level in this process."""

    def __init__(self, successors: Successors):
        self.successors = successors

    def run(self, level: list[int], frontier: Any, expand: bool, ex: Exploration, store: Store) -> None:
        one = self.successors.expand
        admit, note = store.admit, ex.note_state
        for sid, s in zip(level, frontier):
            bad, hit, ends, terminal, succ = one(s, expand)
            if bad or hit or terminal:
                note(sid, bad, hit, ends, terminal)
            admit(sid, s, succ)

    def close(self) -> None:
        pass


class Pooled:
    """Expand a level's states on forked worker processes (answers in state order)."""

    def __init__(self, pool: Pool):
        self.pool = pool

    def run(self, level: list[int], frontier: Any, expand: bool, ex: Exploration, store: Store) -> None:
        answers = self.pool.expand(frontier, [expand] * len(level))
        for sid, s, (bad, hit, ends, terminal, succ) in zip(level, frontier, answers):
            if bad or hit or terminal:
                ex.note_state(sid, bad, hit, ends, terminal)
            store.admit(sid, s, succ)

    def close(self) -> None:
        self.pool.close()


class PackedPooled:
    """Expand a packed level of flat states on workers that also fingerprint and pack the
    successors; the store admits each chunk's new ones in the order they were generated."""

    def __init__(self, pool: PackedPool):
        self.pool = pool

    def run(self, level: list[int], frontier: Any, expand: bool, ex: Exploration, store: CompactStore) -> None:
        for base, (events, step_events, counts, sources, via, fps, packed) in self.pool.expand(frontier.buf, expand):
            for i, bad, hit, ends, terminal in events:
                ex.note_state(level[base + i], bad, hit, ends, terminal)
            for i, k, t, step_bad in step_events:
                ex.note_step(level[base + i], k, t, step_bad)
            src, inst = array("I"), array("I")
            src.frombytes(sources)
            inst.frombytes(via)
            store.admit_packed(level, base, counts, src, inst, np.frombuffer(fps, dtype=np.int64), packed)

    def close(self) -> None:
        self.pool.close()
