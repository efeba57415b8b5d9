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
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from .. import lazy
from ..spec import LIVENESS, Property, PropertyKind
from .cycles import drawing_bytes

nx = lazy.module("networkx")  # imported on first use: only a refutation draws its loop with it

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


def refute(ex: Any, prop: Any, afford: Callable[[str, int], None] | None = None) -> Refutation | None:
    """The nearest refutation of liveness property ``prop`` in exploration ``ex``, or ``None``.

    ``afford(what, bytes)`` is asked first for the whole check (:func:`bytes_needed`) and
    again before a loop is drawn (:func:`drawing_bytes` of its component); it raises
    (:class:`..memory.OverBudget`) when they would pass the memory budget.

    The graph is kept as arrays (compressed rows, numpy; int32 per state and per step, the
    steps read where the search left them, not copied), not as Python lists or a networkx
    graph: only the one component the refutation loops in becomes a networkx graph, to draw
    its loop. :func:`bytes_needed` says how much memory this takes."""
    compiled = ex.compiled
    n = ex.size
    if afford is not None:
        afford(f"the liveness check of {prop.name} ({n:,} states, {len(ex.edges) // 3:,} steps)",
               bytes_needed(n, len(ex.edges) // 3))
    goal, trigger = _claims(ex, prop)
    fair = sorted(compiled.fairness)
    condition = {a: fair.index(name) for name in fair for a in compiled.fairness[name].actions}
    strong = np.array([compiled.fairness[name].kind == "strong" for name in fair], dtype=bool)
    steps = _numbers(ex.edges).reshape(-1, 3)
    src, ks, dst = steps[:, 0], steps[:, 1], steps[:, 2]
    duty = np.array([condition.get(i.name, -1) for i in compiled.instances] or [-1], dtype=np.int16)[ks]
    enabled = np.zeros((n, len(fair)), dtype=bool)  # per state, per fairness condition: a step of it is allowed
    enabled[src[duty >= 0], duty[duty >= 0]] = True
    ends = ~goal & (np.bincount(src, minlength=n) == 0)
    inside = ~goal[src] & ~goal[dst]
    graph = _Avoid(n, *(a[inside].astype(np.int32, copy=False) for a in (src, ks, dst)))
    duty = duty[inside]
    del steps, src, ks, dst, inside
    comp, count = _streett_components(graph, ~goal, enabled, duty, strong)
    loops = _fair_components(graph, comp, count, enabled, duty, strong)
    bad = ends | (comp >= 0) & np.isin(comp, list(loops))
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
        if afford is not None:
            inner = int(np.count_nonzero((comp[graph.src] == c) & (comp[graph.dst] == c)))
            afford(f"drawing the loop of {prop.name}", drawing_bytes(int(np.count_nonzero(comp == c)), inner))
        loop = loops[c](graph, last)
    return Refutation(start, route, loop)


class _Avoid:
    """The steps between states without the goal (``src``, ``ks``, ``dst``, in the order they
    were generated) as compressed rows: a state's steps in generation order, so the first step
    to a target is the one a search or a loop takes (its instance, ``via``, that step's); a
    repeated (source, target) pair changes no component and no breadth-first path. Every array
    is int32; the loops below read them through memoryviews, which give Python ints without a
    list of them."""

    def __init__(self, n: int, src: np.ndarray, ks: np.ndarray, dst: np.ndarray):
        self.src, self.ks, self.dst = src, ks, dst
        order = None if np.all(src[1:] >= src[:-1]) else np.argsort(src, kind="stable")  # generated by source
        self.targets = dst if order is None else dst[order]
        self.via = ks if order is None else ks[order]
        by_source = src if order is None else src[order]
        self.offsets = np.searchsorted(by_source, np.arange(n + 1, dtype=np.int32)).astype(np.int32)
        self.n = n

    def components(self, alive: np.ndarray) -> tuple[np.ndarray, int]:
        """Strongly connected components among ``alive`` states (Tarjan, iterative): a number per
        state (-1: not alive), and how many there are."""
        off, adj = memoryview(self.offsets), memoryview(self.targets)
        live = memoryview(alive)
        index = array("i", [-1]) * self.n
        low = array("i", [0]) * self.n
        comp = np.full(self.n, -1, dtype=np.int32)
        comps = memoryview(comp)
        on_stack = bytearray(self.n)
        stack = array("i")
        work_v, work_i = array("i"), array("i")  # the DFS path: a state and its next step's position
        roots = np.flatnonzero(alive).astype(np.int32)
        counter = count = 0
        for root in memoryview(roots):
            if index[root] >= 0:
                continue
            index[root] = low[root] = counter
            counter += 1
            stack.append(root)
            on_stack[root] = True
            work_v.append(root)
            work_i.append(off[root])
            while work_v:
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

    def part(self, comp: np.ndarray, c: int) -> nx.DiGraph:
        """Component ``c`` as a networkx graph, each (source, target) pair once, with the
        instance of its first step, edges in the order of their first step."""
        part = nx.DiGraph()
        part.add_nodes_from(np.flatnonzero(comp == c).tolist())
        keep = np.flatnonzero((comp[self.src] == c) & (comp[self.dst] == c))
        s, d, k = self.src[keep], self.dst[keep], self.ks[keep]
        _, first = np.unique(s.astype(np.int64) * self.n + d, return_index=True)
        first.sort()
        part.add_edges_from((a, b, {"via": [v]}) for a, b, v in zip(s[first].tolist(), d[first].tolist(),
                                                                      k[first].tolist()))
        return part

    def nearest(self, starts: np.ndarray, bad: np.ndarray) -> tuple[int, Path] | None:
        """Breadth first from ``starts`` (in order) to the nearest state of ``bad``: (start, path)."""
        off, adj, via, is_bad = memoryview(self.offsets), memoryview(self.targets), memoryview(self.via), \
            memoryview(bad)
        origin = array("i", [-1]) * self.n
        back = array("i", [-1]) * self.n  # the state each was reached from (-1: a start)
        back_via = array("i", [0]) * self.n  # and by which instance
        frontier = array("i")
        for sid in memoryview(starts):
            if origin[sid] < 0:
                origin[sid] = sid
                frontier.append(sid)
        while frontier:
            following = array("i")
            for sid in frontier:
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


def bytes_needed(states: int, steps: int) -> int:
    """About how many bytes :func:`refute` adds at most for a graph of ``states`` states and
    ``steps`` steps, the component networkx draws a loop in aside (:func:`drawing_bytes`): an
    upper estimate (30 to 35 bytes a state and a step measured on the virtio-blk
    configurations of tests/test_spill.py, with a quarter more for safety)."""
    return (states * PER_STATE + steps * PER_STEP) * 5 // 4


PER_STATE, PER_STEP = 40, 32  # refute(): arrays per state (Tarjan's, the compressed rows, BFS) and per step


def _claims(ex: Any, prop: Property) -> tuple[np.ndarray, np.ndarray]:
    """Per state (numpy booleans): whether the goal holds, and whether the claim starts there
    (its trigger without its goal; for *eventually*, an initial state)."""
    initial = _numbers(ex.parent) < 0
    if ex.marks is not None:  # judged by the search itself (see marks())
        names = [p.name for p in ex.properties]
        bits = _numbers(ex.marks).astype(np.uint64, copy=False)
        goal_bits = (bits >> np.uint64(names.index(prop.name + GOAL))) & np.uint64(1) != 0
        if prop.kind == PropertyKind.EVENTUALLY:
            starts = initial & ~goal_bits
        else:
            starts = (bits >> np.uint64(names.index(prop.name + TRIGGER))) & np.uint64(1) != 0
            starts &= ~goal_bits
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


def _streett_components(graph: _Avoid, alive: np.ndarray, enabled: np.ndarray, duty: np.ndarray,
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
            on, took = _enabled_and_taken(graph, comp, count, enabled, duty, a)
            split = np.append(on & ~took, False)  # index -1 (not alive) reads the appended False
            drop |= split[comp] & enabled[:, a]
        if not drop.any():
            return comp, count
        alive &= ~drop


def _enabled_and_taken(graph: _Avoid, comp: np.ndarray, count: int, enabled: np.ndarray, duty: np.ndarray,
                       a: int) -> tuple[np.ndarray, np.ndarray]:
    """Per component: whether condition ``a`` is enabled in one of its states, and whether one
    of its steps (inside it) takes ``a``."""
    alive = comp >= 0
    src, dst = graph.src, graph.dst
    internal = alive[src] & (comp[src] == comp[dst])
    on = np.bincount(comp[alive], weights=enabled[alive, a], minlength=count) > 0
    took = np.bincount(comp[src[internal & (duty == a)]], minlength=count) > 0
    return on, took


def _fair_components(graph: _Avoid, comp: np.ndarray, count: int, enabled: np.ndarray,
                     duty: np.ndarray, strong: np.ndarray) -> dict[int, Any]:
    """For each component holding a fair cycle, a function drawing a fair loop from one of its states.

    A component holds a cycle when it has two states or a step to itself; it is fair when each
    weak condition is disabled in one of its states or taken by one of its steps, and each
    strong one is disabled in all of its states or taken by one of its steps. The loop does, in
    the order of the conditions' names, the least such state (weak) or the least such step
    ``(source, target, instance)``; a strong condition disabled all along needs nothing."""
    src, dst, ks = graph.src, graph.dst, graph.ks
    alive = comp >= 0
    sizes = np.bincount(comp[alive], minlength=count)
    internal = alive[src] & (comp[src] == comp[dst])
    cyclic = (sizes > 1) | (np.bincount(comp[src[(src == dst) & alive[src]]], minlength=count) > 0)
    fair_so_far = cyclic.copy()
    conditions = enabled.shape[1]
    for a in range(conditions):
        on, took = _enabled_and_taken(graph, comp, count, enabled, duty, a)
        if strong[a]:
            fair_so_far &= ~on | took
            continue
        off = np.bincount(comp[alive], weights=~enabled[alive, a], minlength=count) > 0
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
            sel = np.flatnonzero(internal & (duty == a) & (comp[src] == c))
            best = sel[np.lexsort((ks[sel], dst[sel], src[sel]))[0]]
            duties.append(("step", int(src[best]), (int(dst[best]), int(ks[best]))))
        found[c] = _loop_drawer(comp, c, duties)
    return found


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
                loop.append((part.edges[entry, target]["via"][0], target))
                here = target
            loop += _walk(part, here, entry)
        return loop

    return draw


def _walk(part: nx.DiGraph, a: int, b: int) -> Path:
    if a == b:
        return []
    nodes = nx.shortest_path(part, a, b)
    return [(part.edges[u, v]["via"][0], v) for u, v in pairwise(nodes)]
