"""The ``Store`` protocol: where the search keeps the states it has seen, and which of a step's targets are new.

As TLC's ``FPSet``: the search hands a store each expanded state's steps; the store counts
them, admits the new targets (numbering them in the order they were generated, so every
store gives the same ids) and, at the end of a level, gives the next one.

- :class:`FullStore` keys states by value (exact) and can keep every step (graphs, cycles);
- :class:`CompactStore` keeps 64-bit fingerprints in a :class:`~.compact.FingerprintSet`,
  looked up a chunk of steps at a time (the hot path of large runs);
- :class:`SeenStore` keeps fingerprints in a set, one step at a time, so that it can say
  whether a step went back to an older level, which :class:`ProvisoStore` (partial-order
  reduction's cycle proviso) asks of the store it wraps.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from ..state import State
from .compact import FingerprintSet
from .cycles import find_lasso
from .exploration import Exploration
from .memory import resident
from .successors import Successor, Successors

CHUNK = 1 << 15  # successors looked up in the compact store at once
MEMORY_EVERY = 1 << 13  # new states between two looks at the resident memory


class Store(Protocol):
    """A search's memory of states."""

    steps: int  # steps admitted (transitions)
    fired: list[int]  # steps per action instance

    def seed(self, s: Any) -> None:
        """Admit an initial state (a repeated one is skipped; no bound applies)."""
        ...

    def admit(self, sid: int, s: Any, succ: list[Successor]) -> bool:
        """Admit the steps of state ``sid`` (``s``); whether one led to a state of an older or the
        current level (only :class:`FullStore` and :class:`SeenStore` can tell; others say no)."""
        ...

    def next_level(self) -> tuple[list[int], Any]:
        """Close the level: the ids and the states of the next one."""
        ...

    def close(self) -> None:
        """The search is over: record what the store alone knows (cycles, for a store with edges)."""
        ...


class _Counting:
    """What every store shares: its exploration, the bound, the next level being filled."""

    def __init__(self, ex: Exploration, instances: int, max_states: int | None, new_level: Callable[[], Any],
                 budget: int | None = None):
        self.ex = ex
        self.max_states = max_states
        self.budget = budget
        self.until_look = MEMORY_EVERY
        self.new_level = new_level
        self.steps = 0
        self.fired = [0] * instances
        self.depth = 0  # of the states admitted now
        self.level_end = 0  # ids below it are of an older or the current level
        self.ids: list[int] = []
        self.frontier = new_level()

    def _full(self) -> bool:
        """Whether a new state may not be admitted: the state bound, or the memory budget, reached."""
        ex = self.ex
        if ex.hit_memory_bound:
            return True
        if self.max_states is not None and ex.size >= self.max_states:
            ex.hit_state_bound = True
            return True
        self.until_look -= 1
        return self.until_look <= 0 and self._over_budget()

    def _over_budget(self) -> bool:
        self.until_look = MEMORY_EVERY
        if self.budget is not None and resident() > self.budget:
            self.ex.hit_memory_bound = self.budget
        return bool(self.ex.hit_memory_bound)

    def next_level(self) -> tuple[list[int], Any]:
        self._over_budget()
        out = self.ids, self.frontier
        self.ids, self.frontier = [], self.new_level()
        if self.depth == 0:
            self.ex.initial_ids = list(out[0])
        self.depth += 1
        self.level_end = self.ex.size
        return out

    def close(self) -> None:
        pass


class FullStore(_Counting):
    """Every state by value: exact, and with ``edges`` every step as (source, instance, target)."""

    def __init__(self, ex: Exploration, instances: int, max_states: int | None, edges: bool, endings: bool,
                 budget: int | None = None):
        super().__init__(ex, instances, max_states, list, budget)
        self.index: dict[State, int] = {}
        self.endings = endings
        if edges:
            ex.edges = array("q")

    def seed(self, s: Any) -> None:
        if s not in self.index:
            self.index[s] = self.ex.add(s, -1, -1, 0, None)
            self.ids.append(self.index[s])
            self.frontier.append(s)

    def admit(self, sid: int, s: Any, succ: list[Successor]) -> bool:
        ex, index, edges, fired = self.ex, self.index, self.ex.edges, self.fired
        back = False
        for k, t, step_bad in succ:
            self.steps += 1
            fired[k] += 1
            if step_bad:
                ex.note_step(sid, k, t, step_bad)
            j = index.get(t)
            if j is None:
                if self._full():
                    continue
                j = index[t] = ex.add(t, sid, k, self.depth, None)
                self.ids.append(j)
                self.frontier.append(t)
            elif j < self.level_end:
                back = True
            if edges is not None:
                edges.extend((sid, k, j))
        return back

    def close(self) -> None:
        if self.endings and self.ex.edges is not None:
            self.ex.lasso = find_lasso(self.ex.size, self.ex.edges)
            self.ex.ends_checked = True


class CompactStore(_Counting):
    """64-bit fingerprints in sorted runs, a chunk of steps looked up at once; the new ones
    admitted in the order they were generated (the ids of a one-at-a-time search)."""

    def __init__(self, ex: Exploration, instances: int, max_states: int | None, new_level: Callable[[], Any],
                 fingerprint: Callable[[Any], int], signed: bool, budget: int | None = None):
        super().__init__(ex, instances, max_states, new_level, budget)
        self.fingerprint = fingerprint
        self.set = FingerprintSet(signed=signed)
        self.pending: list[tuple[int, int, Any]] = []  # (source, instance, successor) not yet looked up
        self.pending_fps: list[int] = []

    def seed(self, s: Any) -> None:
        fp = self.fingerprint(s)
        if fp not in self.set:
            self.set.add_new([fp])
            self.ids.append(self.ex.add(s, -1, -1, 0, fp))
            self.frontier.append(s)

    def admit(self, sid: int, s: Any, succ: list[Successor]) -> bool:
        fingerprint, fired, pending, fps = self.fingerprint, self.fired, self.pending, self.pending_fps
        self.steps += len(succ)
        for k, t, step_bad in succ:
            fired[k] += 1
            if step_bad:
                self.ex.note_step(sid, k, t, step_bad)
            pending.append((sid, k, t))
            fps.append(fingerprint(t))
        if len(pending) >= CHUNK:
            self._flush()
        return False

    def admit_packed(self, level: list[int], base: int, counts: list[int], src: array, inst: array,
                     prints: np.ndarray, packed: bytes) -> None:
        """Admit a chunk of steps a worker already fingerprinted and packed (sources are positions
        in ``level`` from ``base``)."""
        self.steps += len(prints)
        for k, n in enumerate(counts):
            self.fired[k] += n
        width = self.frontier.codec.size
        for n in self.set.add_new(prints):
            if self._full():
                break
            self.ids.append(self.ex.add(None, level[base + src[n]], inst[n], self.depth, int(prints[n])))
            self.frontier.append_packed(packed[n * width:(n + 1) * width])

    def _flush(self) -> None:
        pending, fps = self.pending, self.pending_fps
        for n in self.set.add_new(fps):
            if self._full():
                break
            src, k, t = pending[n]
            self.ids.append(self.ex.add(t, src, k, self.depth, fps[n]))
            self.frontier.append(t)
        pending.clear()
        fps.clear()

    def next_level(self) -> tuple[list[int], Any]:
        self._flush()
        return super().next_level()


class SeenStore(_Counting):
    """Fingerprints in a set, looked up one step at a time (slower than :class:`CompactStore`,
    but it can tell a step into an older level, which the proviso needs)."""

    def __init__(self, ex: Exploration, instances: int, max_states: int | None, fingerprint: Callable[[Any], int],
                 budget: int | None = None):
        super().__init__(ex, instances, max_states, list, budget)
        self.fingerprint = fingerprint
        self.seen: set[int] = set()
        self.fresh: set[int] = set()  # fingerprints admitted at the current depth

    def seed(self, s: Any) -> None:
        fp = self.fingerprint(s)
        if fp not in self.seen:
            self.seen.add(fp)
            self.ids.append(self.ex.add(s, -1, -1, 0, fp))
            self.frontier.append(s)

    def admit(self, sid: int, s: Any, succ: list[Successor]) -> bool:
        ex, seen, fresh = self.ex, self.seen, self.fresh
        back = False
        for k, t, step_bad in succ:
            self.steps += 1
            self.fired[k] += 1
            if step_bad:
                ex.note_step(sid, k, t, step_bad)
            fp = self.fingerprint(t)
            if fp in seen:
                back = back or fp not in fresh
                continue
            if self._full():
                continue
            seen.add(fp)
            fresh.add(fp)
            self.ids.append(ex.add(t, sid, k, self.depth, fp))
            self.frontier.append(t)
        return back

    def next_level(self) -> tuple[list[int], Any]:
        self.fresh = set()
        return super().next_level()


class ProvisoStore:
    """Partial-order reduction's cycle proviso (C3) around another store: when a kept step of a
    state goes back to an older or the current level, that state is expanded fully, once, so
    that every cycle of the reduced graph holds a fully expanded state."""

    def __init__(self, inner: FullStore | SeenStore, successors: Successors):
        self.inner = inner
        self.successors = successors

    @property
    def steps(self) -> int:
        return self.inner.steps

    @property
    def fired(self) -> list[int]:
        return self.inner.fired

    def seed(self, s: Any) -> None:
        self.inner.seed(s)

    def admit(self, sid: int, s: Any, succ: list[Successor]) -> bool:
        if self.inner.admit(sid, s, succ) and succ:
            kept = {k for k, _, _ in succ}
            self.inner.admit(sid, s, [x for x in self.successors.expand(s, True, full=True)[4] if x[0] not in kept])
        return False

    def next_level(self) -> tuple[list[int], Any]:
        return self.inner.next_level()

    def close(self) -> None:
        self.inner.close()
