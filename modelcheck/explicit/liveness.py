"""Liveness under weak fairness: fair cycles and dead ends of the full store's graph, as lassos.

*p leads to q* fails when some reachable state where ``p`` holds and ``q`` does not starts
an execution that never reaches ``q``: a path through states without ``q`` that ends (no
step is enabled: a dead end) or goes round a *fair* cycle forever. *eventually q* is
*initial leads to q*. A cycle is fair when every action declared ``fair="weak"`` is, somewhere
on it, either taken or disabled. For weak fairness it suffices to look at whole strongly
connected components of the graph restricted to states without ``q``: a component whose
states and steps meet every condition holds a fair cycle through all of its states, and one
that does not holds none (each of its cycles sees a subset of its states and steps).
Strong fairness would need the components split further; the spec API does not offer it.

The search reports what it needs: every step as a ``(source, instance, target)`` triple, in
the order generated (``Exploration.edges``), and, per state, whether the claim's trigger and
goal hold, with no reduction. The full store keeps the states, where both are judged here;
the native search keeps fingerprints only, so it judges them itself, as the witness
properties :func:`marks` adds (their bits per state are ``Exploration.marks``). Ids, steps and
their order are the same in every backend, so the refutation, and the lasso drawn from it,
are too.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import networkx as nx

from ..spec import LIVENESS, Property, PropertyKind

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


def refute(ex: Any, prop: Any) -> Refutation | None:
    """The nearest refutation of liveness property ``prop`` in exploration ``ex``, or ``None``."""
    compiled = ex.compiled
    edges, instances = ex.edges, compiled.instances
    goal, trigger = _claims(ex, prop)
    names = [inst.name for inst in instances]
    enabled: list[set[str]] = [set() for _ in range(ex.size)]
    via: dict[tuple[int, int], list[int]] = {}  # steps between two states without the goal, in order
    for src, k, dst in zip(edges[0::3], edges[1::3], edges[2::3]):
        enabled[src].add(names[k])
        if not goal[src] and not goal[dst]:
            via.setdefault((src, dst), []).append(k)
    avoid = nx.DiGraph()
    avoid.add_nodes_from(sid for sid in range(ex.size) if not goal[sid])
    avoid.add_edges_from((a, b, {"via": ks}) for (a, b), ks in via.items())
    loops = _fair_components(avoid, enabled, compiled.fairness, instances)
    ends = {sid for sid in avoid if not enabled[sid]}
    bad = ends | set(loops)
    starts = [sid for sid in avoid if trigger[sid]]
    starts.sort(key=lambda sid: (ex.depth[sid], sid))
    found = _nearest(avoid, starts, bad)
    if found is None:
        return None
    start, route = found
    last = route[-1][1] if route else start
    loop = None if last in ends else loops[last](last)
    return Refutation(start, route, loop)


def _claims(ex: Any, prop: Property) -> tuple[list[bool], list[bool]]:
    """Per state: whether the goal holds, and whether the claim starts there (its trigger
    without its goal; for *eventually*, an initial state)."""
    initial = [p < 0 for p in ex.parent]
    if ex.marks is not None:  # judged by the search itself (see marks())
        names = [p.name for p in ex.properties]
        g = 1 << names.index(prop.name + GOAL)
        goal = [bool(m & g) for m in ex.marks]
        if prop.kind == PropertyKind.EVENTUALLY:
            return goal, [i and not q for i, q in zip(initial, goal)]
        t = 1 << names.index(prop.name + TRIGGER)
        return goal, [bool(m & t) and not q for m, q in zip(ex.marks, goal)]
    spec = ex.compiled.spec
    goal, trigger = [], []
    for sid, s in enumerate(ex.states):
        if prop.kind == PropertyKind.EVENTUALLY:
            p, q = initial[sid], prop.func(spec, s)
        else:
            p, q = prop.func(spec, s)
        goal.append(bool(q))
        trigger.append(bool(p) and not q)
    return goal, trigger


def _fair_components(graph: nx.DiGraph, enabled: list[set[str]], fairness: dict[str, str],
                     instances: Any) -> dict[int, Any]:
    """For each state of a fair cycle, a function drawing a fair loop from that state."""
    found: dict[int, Any] = {}
    for nodes in sorted(nx.strongly_connected_components(graph), key=min):
        if len(nodes) == 1 and not graph.has_edge(v := next(iter(nodes)), v):
            continue  # no cycle through it (most components: looked at without a subgraph view)
        part = graph.subgraph(nodes)
        duties = []  # for each fair action: a state that disables it, or one of its steps
        for action in sorted(fairness):
            off = sorted(sid for sid in nodes if action not in enabled[sid])
            if off:
                duties.append(("state", off[0], None))
                continue
            taken = sorted((a, b, k) for a, b, data in part.edges(data=True) for k in data["via"]
                           if instances[k].name == action)
            if not taken:
                break  # the action stays enabled and is never taken here: no fair cycle
            duties.append(("step", taken[0][0], taken[0][1:]))
        else:
            for sid in nodes:
                found[sid] = _loop_drawer(part, duties)
    return found


def _loop_drawer(part: nx.DiGraph, duties: list[tuple[str, int, Any]]) -> Any:
    def draw(entry: int) -> Path:
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


def _nearest(graph: nx.DiGraph, starts: list[int], bad: set[int]) -> tuple[int, Path] | None:
    """Breadth first from ``starts`` (in order) to the nearest state of ``bad``: (start, path)."""
    origin: dict[int, int] = {}
    back: dict[int, tuple[int, int]] = {}
    frontier = []
    for sid in starts:
        if sid not in origin:
            origin[sid] = sid
            frontier.append(sid)
    while frontier:
        following = []
        for sid in frontier:
            if sid in bad:
                path: Path = []
                node = sid
                while node in back:
                    prev, k = back[node]
                    path.append((k, node))
                    node = prev
                return origin[sid], path[::-1]
            for target in graph.successors(sid):
                if target not in origin:
                    origin[target] = origin[sid]
                    back[target] = (sid, graph.edges[sid, target]["via"][0])
                    following.append(target)
        frontier = following
    return None
