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

The search reports what it needs: every state by value and every step (the full store,
no reductions). The planner chooses that search whenever a liveness property is asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import networkx as nx

from ..spec import PropertyKind

Path = list[tuple[int, int]]  # (instance, target state) steps


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
    spec, states, edges, instances = compiled.spec, ex.states, ex.edges, compiled.instances
    goal, trigger = [], []
    for sid, s in enumerate(states):
        if prop.kind == PropertyKind.EVENTUALLY:
            p, q = ex.parent[sid] < 0, prop.func(spec, s)
        else:
            p, q = prop.func(spec, s)
        goal.append(bool(q))
        trigger.append(bool(p) and not q)
    enabled: list[set[str]] = [set() for _ in states]
    avoid = nx.DiGraph()
    avoid.add_nodes_from(sid for sid in range(len(states)) if not goal[sid])
    for n in range(0, len(edges), 3):
        src, k, dst = edges[n], edges[n + 1], edges[n + 2]
        enabled[src].add(instances[k].name)
        if not goal[src] and not goal[dst]:
            if avoid.has_edge(src, dst):
                avoid.edges[src, dst]["via"].append(k)
            else:
                avoid.add_edge(src, dst, via=[k])
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


def _fair_components(graph: nx.DiGraph, enabled: list[set[str]], fairness: dict[str, str],
                     instances: Any) -> dict[int, Any]:
    """For each state of a fair cycle, a function drawing a fair loop from that state."""
    found: dict[int, Any] = {}
    for nodes in sorted(nx.strongly_connected_components(graph), key=min):
        part = graph.subgraph(nodes)
        if len(nodes) == 1 and not part.number_of_edges():
            continue
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
