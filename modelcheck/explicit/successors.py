"""The ``Successors`` protocol: what the search asks of a backend, and how a level is expanded.

A backend gives the initial states, expands one state (judging the properties on it and
its steps) and fingerprints a state. The interpreted
:class:`~modelcheck.explicit.interpreted.Expander`, the compiled
:class:`~modelcheck.explicit.compiled.expander.FlatExpander` and its symmetric wrapper
implement it; the native search is a sibling search the plan runs instead
(:mod:`modelcheck.explicit.native.driver`).

A level is expanded here or on worker processes (:class:`Serial`, :class:`Pooled`,
:class:`PackedPooled`); each hands every state's answer to the store in state order, so
ids do not depend on the number of workers.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from .exploration import Exploration
    from .parallel import PackedPool, Pool
    from .stores import CompactStore, Store

# One step: (instance index, next state — a State or a flat tuple —, indices of the step
# properties it violates). The one successor type of every backend.
Successor = tuple[int, Any, tuple[int, ...]]
# (invariants violated, witnesses reached, at_end properties violated if terminal, terminal, successors)
Expansion = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], bool, list[Successor]]


class Successors(Protocol):
    """A backend's successor function."""

    initial: Sequence[Any]  # the initial states, already canonical under symmetry

    def expand(self, s: Any, successors: bool = True, full: bool = False) -> Expansion:
        """Judge ``s`` and, unless ``successors`` is false (a depth bound), give its steps (all of
        them when ``full``, else those partial-order reduction keeps)."""
        ...

    def fingerprint(self, s: Any) -> int:
        """The compact store's 64-bit fingerprint of ``s``."""
        ...

    def finish(self, ex: Exploration) -> None:
        """Turn what the search stored back into ordinary states (compiled backends store flat ones)."""
        ...


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
