"""Liveness under weak and strong fairness: fair cycles and dead ends of the graph of every step, as lassos.

*p leads to q* fails when some reachable state where ``p`` holds and ``q`` does not starts
an execution that never reaches ``q``: a path through states without ``q`` that ends (no
step is enabled: a dead end) or goes round a *fair* cycle forever. *eventually q* is
*initial leads to q*. A fairness condition (an action declared ``fair=``, or a group of them)
is enabled in a state when a step of a member is, and taken by a step of a member. A cycle is
fair when each weak condition is, somewhere on it, taken or disabled, and each strong one is
taken on it or disabled all along it. For weak fairness it suffices to look at whole strongly
connected components of the graph restricted to states without ``q``: a component whose
states and steps meet every condition holds a fair cycle through all of its states, and one
that does not holds none (each of its cycles sees a subset of its states and steps). Strong
fairness (Streett) splits components further: a component where a strong condition is enabled
but never taken inside loses the states where it is enabled (no fair cycle goes through them),
and the components of the rest are computed again, until none is left to split.

The search reports what it needs: every step as a ``(source, instance, target)`` triple, in
the order generated (``Exploration.edges``), and, per state, whether the claim's trigger and
goal hold, with no reduction. The full store keeps the states, where both are judged here;
the native search keeps fingerprints only, so it judges them itself, as the witness
properties :func:`marks` adds (their bits per state are ``Exploration.marks``). Ids, steps and
their order are the same in every backend, so the refutation, and the lasso drawn from it,
are too.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from ..spec import LIVENESS, Property, PropertyKind
from .cycles import Part, drawing_bytes
from .memory import OverBudget, Scratch

Path = list[tuple[int, int]]  # (instance, target state) steps
GOAL, TRIGGER = "~goal", "~trigger"  # suffixes of the witness properties marks() adds


def marks(properties: list[Property]) -> list[Property]:
    """For each liveness property, witness properties judging per state its goal (``q``) and,
    for *p leads to q*, its trigger (``p``): what a search that keeps no states reports."""
    out = []
    for prop in properties:
        if prop.kind not in LIVENESS:
            continue
        if prop.kind == PropertyKind.EVENTUALLY:
            out.append(Property(prop.name + GOAL, PropertyKind.SOMETIMES, prop.func, prop.doc, prop.where))
            continue
        out.append(Property(prop.name + GOAL, PropertyKind.SOMETIMES,
                            lambda spec, s, f=prop.func: f(spec, s)[1], prop.doc, prop.where))
        out.append(Property(prop.name + TRIGGER, PropertyKind.SOMETIMES,
                            lambda spec, s, f=prop.func: f(spec, s)[0], prop.doc, prop.where))
    return out


@dataclass(frozen=True)
class Refutation:
    """A liveness counterexample by state ids: the state where the claim starts (``trigger``),
    a path from it without the goal, and a fair ``loop`` back to the path's end (``None``:
    the path ends in a dead end)."""

    trigger: int
    path: Path
    loop: Path | None


def refute(ex: Any, prop: Any, scratch: Scratch | None = None) -> Refutation | None:
    """The nearest refutation of liveness property ``prop`` in exploration ``ex``, or ``None``.

    The graph is kept as arrays (compressed rows, numpy; int32 per state and per step, the
    steps read where the search left them, a chunk at a time), not as Python lists or a
    networkx graph; the one component the refutation loops in becomes a
    :class:`.cycles.Part` (rows both ways) to draw its loop, by the paths networkx's
    ``shortest_path`` would take. Under a memory budget (``scratch``) the check first asks
    whether its arrays fit what the budget leaves (:func:`bytes_needed`); if not, and there is
    a spill directory, its int32 arrays go to files there (:class:`..memory.Scratch`) and only
    its boolean masks need to fit; drawing a loop is asked for too (:func:`.cycles.drawing_bytes`).
    What does not fit raises :class:`..memory.OverBudget`."""
    compiled = ex.compiled
    n, m = ex.size, len(ex.edges) // 3
    scratch = scratch or Scratch(None)
    disk = _on_disk(scratch, prop, n, m)
    scratch.watch(ex.edges, ex.marks, ex.parent)
    goal, trigger = _claims(ex, prop, scratch)
    fair = sorted(compiled.fairness)
    condition = {a: fair.index(name) for name in fair for a in compiled.fairness[name].actions}
    strong = np.array([compiled.fairness[name].kind == "strong" for name in fair], dtype=bool)
    steps = _numbers(ex.edges)
    duty_of = np.array([condition.get(i.name, -1) for i in compiled.instances] or [-1], dtype=np.int16)
    enabled = np.zeros((n, len(fair)), dtype=bool)  # per state, per fairness condition: a step of it is allowed
    has_steps = np.zeros(n, dtype=bool)
    inner = 0
    for src, ks, dst in _triples(steps, m, scratch):
        duty = duty_of[ks]
        on = duty >= 0
        enabled[src[on], duty[on]] = True
        has_steps[src] = True
        inner += int(np.count_nonzero(~goal[src] & ~goal[dst]))
    ends = ~goal & ~has_steps
    del has_steps
    graph = _Avoid(n, inner, scratch, disk)
    at = 0
    for src, ks, dst in _triples(steps, m, scratch):
        inside = ~goal[src] & ~goal[dst]
        k = int(np.count_nonzero(inside))
        graph.src[at:at + k], graph.ks[at:at + k], graph.dst[at:at + k] = src[inside], ks[inside], dst[inside]
        graph.duty[at:at + k] = duty_of[ks[inside]]
        at += k
    graph.index_rows()
    comp, count = _streett_components(graph, ~goal, enabled, strong)
    loops = _fair_components(graph, comp, count, enabled, strong)
    looping = np.zeros(count + 1, dtype=bool)  # index -1 (not alive) reads the last, False
    looping[list(loops)] = True
    bad = ends | looping[comp]
    del looping
    starts = np.flatnonzero(trigger & ~goal).astype(np.int32)
    depth = _numbers(ex.depth)
    starts = starts[np.lexsort((starts, depth[starts]))]  # by depth, then id
    found = graph.nearest(starts, bad)
    if found is None:
        return None
    start, route = found
    last = route[-1][1] if route else start
    loop = None
    if not ends[last]:
        c = int(comp[last])
        inside = sum(int(np.count_nonzero((comp[src] == c) & (comp[dst] == c))) for src, dst, _, _ in graph.chunks())
        scratch.afford(f"drawing the loop of {prop.name}", drawing_bytes(int(np.count_nonzero(comp == c)), inside))
        loop = loops[c](graph, last)
    return Refutation(start, route, loop)


CHUNK = 1 << 14  # steps (or states) a numpy pass over all of them handles at a time
PER_STATE, PER_STEP = 40, 24  # refute()'s heap bytes per state (Tarjan's, the rows, the BFS, masks) and per step
ON_DISK_PER_STATE = 16  # and per state with every int32 array in files (the boolean masks, a numpy temporary)
CHUNK_BYTES = CHUNK * 64  # a chunk's temporaries


def bytes_needed(states: int, steps: int, disk: bool = False) -> int:
    """About how many bytes :func:`refute` adds at most with ``states`` states and ``steps``
    steps, its arrays on the heap or (``disk``) its int32 arrays in files (then what it
    touches between two looks at the resident size too), the component a loop is drawn
    in aside (:func:`.cycles.drawing_bytes`): an upper estimate, above what
    tests/test_spill.py measures (21 to 30 bytes a state and a step on the heap, 40 bytes a
    state on disk)."""
    if disk:
        return states * ON_DISK_PER_STATE + CHUNK_BYTES + Scratch.MARGIN
    return states * PER_STATE + steps * PER_STEP + CHUNK_BYTES


def _on_disk(scratch: Scratch, prop: Any, n: int, m: int) -> bool:
    """Whether refute's int32 arrays go to files: only when they would pass the budget on the
    heap and there is a spill directory; OverBudget when even then the rest does not fit."""
    what = f"the liveness check of {prop.name} ({n:,} states, {m:,} steps)"
    try:
        scratch.afford(what, bytes_needed(n, m))
        return False
    except OverBudget:
        if not scratch.where:
            raise
    scratch.afford(what + f" with its arrays in {scratch.where}", bytes_needed(n, m, disk=True))
    return True


def _triples(steps: np.ndarray, m: int, scratch: Scratch) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The flat ``(source, instance, target)`` steps as three columns, a chunk at a time."""
    for lo in range(0, m, CHUNK):
        rows = steps[3 * lo:3 * min(lo + CHUNK, m)].reshape(-1, 3)
        yield rows[:, 0], rows[:, 1], rows[:, 2]
        scratch.tick(Scratch.TICKS)


class _Avoid:
    """The steps between states without the goal (``src``, ``ks``, ``dst`` and the fairness
    condition each takes, ``duty``, in the order they were generated) as compressed rows: a
    state's steps in generation order, so the first step to a target is the one a search or
    a loop takes (its instance, ``via``, that step's); a repeated (source, target) pair
    changes no component and no breadth-first path. Every array is int32 (``duty`` int16),
    in a file when ``disk``; the loops below read them through memoryviews, which give Python
    ints without a list of them, and tick the scratch space so that its pages are dropped
    near the budget."""

    def __init__(self, n: int, m: int, scratch: Scratch, disk: bool):
        self.n, self.scratch, self.disk = n, scratch, disk
        self.src, self.ks, self.dst = (scratch.array(m, np.int32, disk) for _ in range(3))
        self.duty = scratch.array(m, np.int16, disk)

    def index_rows(self) -> None:
        """The compressed rows (``offsets``, ``targets``, ``via``), once the steps are in."""
        by_source, self.targets, self.via = self.src, self.dst, self.ks
        if not self._by_source():  # the searches generate steps by source: never here so far
            order = np.argsort(self.src, kind="stable")
            by_source, self.targets, self.via = self.src[order], self.dst[order], self.ks[order]
        self.offsets = self.scratch.array(self.n + 1, np.int32, self.disk)
        for lo in range(0, self.n + 1, CHUNK):
            hi = min(lo + CHUNK, self.n + 1)
            self.offsets[lo:hi] = np.searchsorted(by_source, np.arange(lo, hi, dtype=np.int32))
            self.scratch.tick(Scratch.TICKS)

    def _by_source(self) -> bool:
        m = len(self.src)
        for lo in range(0, m, CHUNK):
            part = self.src[lo:min(lo + CHUNK + 1, m)]
            if not np.all(part[1:] >= part[:-1]):
                return False
            self.scratch.tick(Scratch.TICKS)
        return True

    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """``(src, dst, duty, ks)`` a chunk of steps at a time, in generation order."""
        for lo in range(0, len(self.src), CHUNK):
            hi = lo + CHUNK
            yield self.src[lo:hi], self.dst[lo:hi], self.duty[lo:hi], self.ks[lo:hi]
            self.scratch.tick(Scratch.TICKS)

    def components(self, alive: np.ndarray) -> tuple[np.ndarray, int]:
        """Strongly connected components among ``alive`` states (Tarjan, iterative): a number per
        state (-1: not alive), and how many there are."""
        off, adj = memoryview(self.offsets), memoryview(self.targets)
        live = memoryview(alive)
        tick = self.scratch.tick
        index = memoryview(self.scratch.full(self.n, np.int32, -1, self.disk))
        low = memoryview(self.scratch.array(self.n, np.int32, self.disk))
        comp = self.scratch.full(self.n, np.int32, -1, self.disk)
        comps = memoryview(comp)
        on_stack = bytearray(self.n)
        stack = array("i")
        work_v, work_i = array("i"), array("i")  # the DFS path: a state and its next step's position
        counter = count = 0
        for root in range(self.n):
            if not live[root] or index[root] >= 0:
                continue
            index[root] = low[root] = counter
            counter += 1
            stack.append(root)
            on_stack[root] = True
            work_v.append(root)
            work_i.append(off[root])
            while work_v:
                tick()
                v, i = work_v[-1], work_i[-1]
                end, descended = off[v + 1], False
                while i < end:
                    w = adj[i]
                    i += 1
                    if not live[w]:
                        continue
                    if index[w] < 0:
                        work_i[-1] = i
                        index[w] = low[w] = counter
                        counter += 1
                        stack.append(w)
                        on_stack[w] = True
                        work_v.append(w)
                        work_i.append(off[w])
                        descended = True
                        break
                    if on_stack[w] and index[w] < low[v]:
                        low[v] = index[w]
                if descended:
                    continue
                work_v.pop()
                work_i.pop()
                if work_v and low[v] < low[work_v[-1]]:
                    low[work_v[-1]] = low[v]
                if low[v] == index[v]:
                    while True:
                        w = stack.pop()
                        on_stack[w] = False
                        comps[w] = count
                        if w == v:
                            break
                    count += 1
        return comp, count

    def part(self, comp: np.ndarray, c: int) -> Part:
        """Component ``c``, each (source, target) pair once, with the instance of its first
        step, edges in the order of their first step."""
        kept = [(src[keep], dst[keep], ks[keep]) for src, dst, _, ks in self.chunks()
                for keep in [(comp[src] == c) & (comp[dst] == c)]]
        s, d, k = (np.concatenate([x[i] for x in kept]) if kept else np.zeros(0, dtype=np.int32) for i in range(3))
        _, first = np.unique(s.astype(np.int64) * self.n + d, return_index=True)
        first.sort()
        return Part(np.flatnonzero(comp == c), s[first], d[first], k[first])

    def nearest(self, starts: np.ndarray, bad: np.ndarray) -> tuple[int, Path] | None:
        """Breadth first from ``starts`` (in order) to the nearest state of ``bad``: (start, path)."""
        off, adj, via, is_bad = memoryview(self.offsets), memoryview(self.targets), memoryview(self.via), \
            memoryview(bad)
        tick = self.scratch.tick
        origin = memoryview(self.scratch.full(self.n, np.int32, -1, self.disk))
        back = memoryview(self.scratch.full(self.n, np.int32, -1, self.disk))  # the state each was reached from
        back_via = memoryview(self.scratch.array(self.n, np.int32, self.disk))  # and by which instance
        frontier = array("i")
        for sid in memoryview(starts):
            if origin[sid] < 0:
                origin[sid] = sid
                frontier.append(sid)
        while frontier:
            following = array("i")
            for sid in frontier:
                tick()
                if is_bad[sid]:
                    path: Path = []
                    node = sid
                    while back[node] >= 0:
                        path.append((back_via[node], node))
                        node = back[node]
                    return origin[sid], path[::-1]
                for i in range(off[sid], off[sid + 1]):
                    target = adj[i]
                    if origin[target] < 0:
                        origin[target] = origin[sid]
                        back[target] = sid
                        back_via[target] = via[i]
                        following.append(target)
            frontier = following
        return None


def _numbers(items: Any) -> np.ndarray:
    """A numpy view of an ``array`` or ``memoryview`` of numbers (the search's, mapped or not), not a copy."""
    return np.asarray(memoryview(items)) if len(items) else np.zeros(0, dtype=np.int64)


def _per_state(items: Any, n: int, test: Callable[[np.ndarray], np.ndarray], scratch: Scratch) -> np.ndarray:
    """``test`` of ``items`` (one per state, maybe mapped) as booleans, a chunk at a time."""
    values, out = _numbers(items), np.zeros(n, dtype=bool)
    for lo in range(0, n, CHUNK):
        out[lo:lo + CHUNK] = test(values[lo:lo + CHUNK])
        scratch.tick(Scratch.TICKS)
    return out


def _claims(ex: Any, prop: Property, scratch: Scratch) -> tuple[np.ndarray, np.ndarray]:
    """Per state (numpy booleans): whether the goal holds, and whether the claim starts there
    (its trigger without its goal; for *eventually*, an initial state)."""
    n = ex.size
    initial = _per_state(ex.parent, n, lambda p: p < 0, scratch)
    if ex.marks is not None:  # judged by the search itself (see marks())
        names = [p.name for p in ex.properties]

        def bit(name: str) -> Callable[[np.ndarray], np.ndarray]:
            at = np.uint64(names.index(name))
            return lambda b: (b.astype(np.uint64, copy=False) >> at) & np.uint64(1) != 0

        goal_bits = _per_state(ex.marks, n, bit(prop.name + GOAL), scratch)
        if prop.kind == PropertyKind.EVENTUALLY:
            starts = initial & ~goal_bits
        else:
            starts = _per_state(ex.marks, n, bit(prop.name + TRIGGER), scratch) & ~goal_bits
        return goal_bits, starts
    spec = ex.compiled.spec
    goal, trigger = [], []
    for sid, s in enumerate(ex.states):
        if prop.kind == PropertyKind.EVENTUALLY:
            p, q = initial[sid], prop.func(spec, s)
        else:
            p, q = prop.func(spec, s)
        goal.append(bool(q))
        trigger.append(bool(p) and not q)
    return np.asarray(goal, dtype=bool), np.asarray(trigger, dtype=bool)


def _streett_components(graph: _Avoid, alive: np.ndarray, enabled: np.ndarray,
                        strong: np.ndarray) -> tuple[np.ndarray, int]:
    """The components among ``alive`` states that no strong condition splits further.

    A component where strong condition ``a`` is enabled somewhere but taken by none of its
    steps holds no fair cycle through a state enabling ``a``: those states are dropped and the
    components of the rest computed again. Without strong conditions this is one pass."""
    alive = alive.copy()
    while True:
        comp, count = graph.components(alive)
        if not strong.any():
            return comp, count
        drop = np.zeros_like(alive)
        for a in np.flatnonzero(strong).tolist():
            on, took = _enabled_and_taken(graph, comp, count, enabled, a)
            split = np.append(on & ~took, False)  # index -1 (not alive) reads the appended False
            drop |= split[comp] & enabled[:, a]
        if not drop.any():
            return comp, count
        alive &= ~drop


def _enabled_and_taken(graph: _Avoid, comp: np.ndarray, count: int, enabled: np.ndarray,
                       a: int) -> tuple[np.ndarray, np.ndarray]:
    """Per component: whether condition ``a`` is enabled in one of its states, and whether one
    of its steps (inside it) takes ``a``."""
    on, took = np.zeros(count, dtype=bool), np.zeros(count, dtype=bool)
    on[comp[(comp >= 0) & enabled[:, a]]] = True
    for src, dst, duty, _ in graph.chunks():
        cs = comp[src]
        took[cs[(cs >= 0) & (cs == comp[dst]) & (duty == a)]] = True
    return on, took


def _fair_components(graph: _Avoid, comp: np.ndarray, count: int, enabled: np.ndarray,
                     strong: np.ndarray) -> dict[int, Any]:
    """For each component holding a fair cycle, a function drawing a fair loop from one of its states.

    A component holds a cycle when it has two states or a step to itself; it is fair when each
    weak condition is disabled in one of its states or taken by one of its steps, and each
    strong one is disabled in all of its states or taken by one of its steps. The loop does, in
    the order of the conditions' names, the least such state (weak) or the least such step
    ``(source, target, instance)``; a strong condition disabled all along needs nothing."""
    alive = comp >= 0
    looped = _larger_than_one(comp, count, graph.scratch)
    for src, dst, _, _ in graph.chunks():
        cs = comp[src]
        looped[cs[(src == dst) & (cs >= 0)]] = True
    fair_so_far = looped
    conditions = enabled.shape[1]
    for a in range(conditions):
        on, took = _enabled_and_taken(graph, comp, count, enabled, a)
        if strong[a]:
            fair_so_far &= ~on | took
            continue
        off = np.zeros(count, dtype=bool)
        off[comp[alive & ~enabled[:, a]]] = True
        fair_so_far &= off | took
    found: dict[int, Any] = {}
    for c in np.flatnonzero(fair_so_far).tolist():
        duties: list[tuple[str, int, Any]] = []
        members = np.flatnonzero(comp == c)
        for a in range(conditions):
            disabled = members[~enabled[members, a]]
            if strong[a] and disabled.size == members.size:
                continue
            if not strong[a] and disabled.size:
                duties.append(("state", int(disabled.min()), None))
                continue
            best = min(_least_steps(graph, comp, c, a))
            duties.append(("step", best[0], (best[1], best[2])))
        found[c] = _loop_drawer(comp, c, duties)
    return found


def _larger_than_one(comp: np.ndarray, count: int, scratch: Scratch) -> np.ndarray:
    """Per component: whether it has two states or more (a chunk of states at a time, two bytes
    a component, where a bincount would take eight)."""
    seen, many = np.zeros(count, dtype=bool), np.zeros(count, dtype=bool)
    for lo in range(0, len(comp), CHUNK):
        part = comp[lo:lo + CHUNK]
        ids, times = np.unique(part[part >= 0], return_counts=True)
        many[ids[(times > 1) | seen[ids]]] = True
        seen[ids] = True
        scratch.tick(Scratch.TICKS)
    return many


def _least_steps(graph: _Avoid, comp: np.ndarray, c: int, a: int) -> Iterator[tuple[int, int, int]]:
    """Per chunk, the least ``(source, target, instance)`` of the steps inside component ``c``
    that take condition ``a``."""
    for src, dst, duty, ks in graph.chunks():
        sel = np.flatnonzero((comp[src] == c) & (comp[dst] == c) & (duty == a))
        if sel.size:
            i = sel[np.lexsort((ks[sel], dst[sel], src[sel]))[0]]
            yield int(src[i]), int(dst[i]), int(ks[i])


def _loop_drawer(comp: np.ndarray, c: int, duties: list[tuple[str, int, Any]]) -> Any:
    def draw(graph: _Avoid, entry: int) -> Path:
        part = graph.part(comp, c)
        loop: Path = []
        here = entry
        for what, sid, step in duties:
            loop += _walk(part, here, sid)
            here = sid
            if what == "step":
                target, k = step
                loop.append((k, target))
                here = target
        if here != entry or not loop:
            if here == entry:  # nothing walked yet: leave and come back
                target = min(part.successors(entry))
                loop.append((part.via(entry, target), target))
                here = target
            loop += _walk(part, here, entry)
        return loop

    return draw


def _walk(part: Part, a: int, b: int) -> Path:
    if a == b:
        return []
    return [(part.via(u, v), v) for u, v in pairwise(part.shortest_path(a, b))]
