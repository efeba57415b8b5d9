"""The explicit search loop: breadth-first, level by level, over any backend and any store.

As networkx's BFS and TLC's worker loop: take a level, ask the backend for each state's
steps (:class:`~.successors.Successors`, here or on workers), hand them to the store
(:class:`~.stores.Store`), which admits the new states in the order they were generated.
BFS order makes every recorded counterexample a shortest one. The loop knows no backend,
store or reduction: :mod:`.plan` picks them. Nothing iterates a set or uses a salted
hash, so ids, counts and traces do not depend on ``PYTHONHASHSEED`` nor on the workers.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any, Protocol

from .exploration import Exploration
from .options import Progress
from .stores import Store
from .successors import Successors


class Levels(Protocol):
    """How a level is expanded: here, or on workers (see :mod:`.successors`)."""

    def run(self, level: list[int], frontier: Any, expand: bool, ex: Exploration, store: Any) -> None: ...

    def close(self) -> None: ...


def search(ex: Exploration, successors: Successors, store: Store, levels: Levels, max_depth: int | None,
           on_progress: Callable[[Progress], None] | None, started: float, time_limit: float | None = None) -> None:
    """Fill ``ex`` with every state reachable from ``successors.initial`` (within ``max_depth``;
    past ``time_limit`` seconds from ``started``, the stored states are judged and no new one admitted)."""
    for s in successors.initial:
        store.seed(s)
    level, frontier = store.next_level()
    # Python's cyclic collector would scan the search's millions of live tuples again and
    # again (about a fifth of a compiled search's time); the search makes no reference
    # cycles of its own, so it runs paused and collects only the young objects once a level.
    collecting = gc.isenabled()
    try:
        gc.disable()
        d = 0
        while level:
            cut = max_depth is not None and d >= max_depth
            ex.hit_depth_bound |= cut
            if time_limit is not None and not cut and time.perf_counter() - started >= time_limit:
                ex.hit_time_limit = time_limit
            levels.run(level, frontier, not (cut or ex.hit_memory_bound or ex.hit_time_limit), ex, store)
            level, frontier = store.next_level()
            if on_progress is not None:
                on_progress(Progress(ex.size, len(level), d, store.steps, time.perf_counter() - started))
            d += 1
            if collecting:
                gc.collect(0)
    finally:
        if collecting:
            gc.enable()
        levels.close()
    ex.transitions = store.steps
    ex.fired_instances = list(store.fired)
    ex.fired = dict.fromkeys(ex.compiled.actions, 0)
    for k, n in enumerate(store.fired):
        ex.fired[ex.compiled.instances[k].name] += n
    store.close()
    successors.finish(ex)
