"""Cycles of the reachability graph: an execution that never ends, shown as a lasso.

An ``at_end`` property fails on any cycle of reachable states. The full store keeps every
step as ``(source, instance, target)`` triples; the native search keeps only the steps into
states already stored, as int32 ``(source, target)`` pairs, and peels the graph (Kahn) in C,
so that the common answer, "no cycle", costs no Python. Both end here, to pick one cycle:
the full store's in networkx, the native search's over compressed rows of the states the
peeling left, step for step as networkx would (:func:`first_cycle`).
"""

from __future__ import annotations

from array import array
from typing import Any

import numpy as np

from .. import lazy

nx = lazy.module("networkx")  # imported on first use: most searches find no cycle to draw

ROWS_PER_ITEM = 64  # bytes lasso_among or a Part takes per state and per step (numpy, arrays), at most

Lasso = tuple[int, list[tuple[int, int]]]  # (entry state, cycle steps as (instance, target)); -1: any instance


def drawing_bytes(states: int, steps: int) -> int:
    """About how many bytes drawing a cycle or a loop takes over ``states`` states and ``steps``
    steps (:func:`lasso_among` among the states the peeling left, a :class:`Part` for a liveness
    component): an upper estimate, checked against the memory budget before it runs."""
    return (states + steps) * ROWS_PER_ITEM


class Part:
    """A small graph of states (a liveness component) as int32 compressed rows both ways: ids
    ``nodes`` (sorted), edges ``src`` → ``dst`` with instance ``via``, each (source, target)
    once, in the order they were added. What drawing a loop asks of networkx — successors, an
    edge's instance, :meth:`shortest_path` — answered as a networkx ``DiGraph`` built in that
    order would, in about 40 bytes a state and an edge where networkx takes about 1,000."""

    def __init__(self, nodes: np.ndarray, src: np.ndarray, dst: np.ndarray, via: np.ndarray):
        self.nodes = nodes
        k = len(nodes)
        s = np.searchsorted(nodes, src).astype(np.int32)
        d = np.searchsorted(nodes, dst).astype(np.int32)
        forward, backward = np.argsort(s, kind="stable"), np.argsort(d, kind="stable")
        self.out_at = np.searchsorted(s[forward], np.arange(k + 1)).astype(np.int32)
        self.out_to, self.out_via = d[forward], np.asarray(via)[forward].astype(np.int32)
        self.in_at = np.searchsorted(d[backward], np.arange(k + 1)).astype(np.int32)
        self.in_from = s[backward]

    def _at(self, sid: int) -> int:
        return int(np.searchsorted(self.nodes, sid))

    def successors(self, sid: int) -> list[int]:
        i = self._at(sid)
        return self.nodes[self.out_to[self.out_at[i]:self.out_at[i + 1]]].tolist()

    def via(self, a: int, b: int) -> int:
        """The instance of edge ``a`` → ``b``."""
        i, j = self._at(a), self._at(b)
        row = self.out_to[self.out_at[i]:self.out_at[i + 1]]
        return int(self.out_via[self.out_at[i] + int(np.flatnonzero(row == j)[0])])

    def shortest_path(self, a: int, b: int) -> list[int]:
        """The path ``networkx.shortest_path`` gives from ``a`` to ``b`` (its bidirectional
        breadth-first search, the smaller fringe grown first, rows in their order)."""
        if a == b:
            return [a]
        absent = -2
        out_at, out_to = memoryview(self.out_at), memoryview(self.out_to)
        in_at, in_from = memoryview(self.in_at), memoryview(self.in_from)
        pred = array("i", [absent]) * len(self.nodes)
        succ = array("i", [absent]) * len(self.nodes)
        source, target = self._at(a), self._at(b)
        pred[source] = succ[target] = -1
        forward, reverse = [source], [target]
        meet = -1
        while forward and reverse and meet < 0:
            if len(forward) <= len(reverse):
                level, forward = forward, []
                for v in level:
                    for e in range(out_at[v], out_at[v + 1]):
                        w = out_to[e]
                        if pred[w] == absent:
                            forward.append(w)
                            pred[w] = v
                        if succ[w] != absent:
                            meet = w
                            break
                    if meet >= 0:
                        break
            else:
                level, reverse = reverse, []
                for v in level:
                    for e in range(in_at[v], in_at[v + 1]):
                        w = in_from[e]
                        if succ[w] == absent:
                            succ[w] = v
                            reverse.append(w)
                        if pred[w] != absent:
                            meet = w
                            break
                    if meet >= 0:
                        break
        if meet < 0:
            raise ValueError(f"no path from {a} to {b}")
        path = []
        w = meet
        while w >= 0:
            path.append(w)
            w = pred[w]
        path.reverse()
        w = succ[path[-1]]
        while w >= 0:
            path.append(w)
            w = succ[w]
        return self.nodes[path].tolist()


def find_lasso(size: int, edges: array) -> Lasso | None:
    """A cycle among ``size`` states whose steps are the flat ``(source, instance, target)`` triples ``edges``."""
    graph = nx.DiGraph()
    graph.add_nodes_from(range(size))
    for n in range(0, len(edges), 3):
        graph.add_edge(edges[n], edges[n + 2], via=edges[n + 1])
    return _cycle(graph)


def lasso_among(parent: Any, via: Any, pairs: Any, left: Any) -> Lasso | None:
    """A cycle among the states ``left`` marks, from the tree steps (``parent``, ``via``) and the
    other steps (``pairs``, flat ``(source, target)``; their instance is unknown, -1).

    The very cycle ``networkx.find_cycle`` finds in the graph of those states (nodes by id;
    a state's steps in the order they would be added: its tree steps by target, then its
    pairs in order, each (source, target) once), found here over int32 compressed rows of
    the states left (about 40 bytes a state and a step, where networkx takes about 1,000), so
    that drawing a cycle fits a memory budget the search fitted."""
    flags = np.frombuffer(left, dtype=np.uint8) != 0
    nodes = np.flatnonzero(flags)
    if not nodes.size:
        return None
    ups = _numbers(parent)[nodes].astype(np.int64)
    tree = (ups >= 0) & flags[np.maximum(ups, 0)]
    kept = _numbers(pairs).reshape(-1, 2)
    kept = kept[flags[kept[:, 0]] & flags[kept[:, 1]]]
    src = np.concatenate([ups[tree], kept[:, 0]]).astype(np.int64)
    dst = np.concatenate([nodes[tree], kept[:, 1]]).astype(np.int64)
    how = np.concatenate([_numbers(via)[nodes[tree]].astype(np.int64), np.full(len(kept), -1, dtype=np.int64)])
    _, first = np.unique(src * len(flags) + dst, return_index=True)  # each (source, target) once, the first
    first.sort()
    src, dst, how = src[first], dst[first], how[first]
    order = np.argsort(src, kind="stable")
    src, dst, how = src[order], dst[order], how[order]
    offsets = np.searchsorted(src, np.append(nodes, nodes[-1] + 1)).astype(np.int32)
    targets = np.searchsorted(nodes, dst).astype(np.int32)  # as positions among the states left
    found = first_cycle(offsets, targets)
    if found is None:
        return None
    return int(nodes[found[0][0]]), [(int(how[e]), int(dst[e])) for _, e in found]


def first_cycle(offsets: np.ndarray, targets: np.ndarray) -> list[tuple[int, int]] | None:
    """The cycle ``networkx.find_cycle`` returns for the graph whose nodes are ``0..n-1`` in that
    order and whose node ``v`` has the edges ``offsets[v]:offsets[v+1]`` of ``targets``, in that
    order: as ``(tail, edge position)`` pairs, or ``None``. Its algorithm, step for step: an
    edge-by-edge depth-first search from each node not yet explored, the active path kept as
    edges, popped back to the tail of an edge met after backtracking; the first edge into a
    node of the active path closes the cycle."""
    off, adj = memoryview(offsets), memoryview(targets)
    n = len(offsets) - 1
    explored = bytearray(n)
    active = bytearray(n)
    stamp = array("i", [-1]) * n  # the start node whose search has read the node's edges
    cursor = array("i", [0]) * n  # the next of its edges that search reads
    for start in range(n):
        if explored[start]:
            continue
        seen = array("i", [start])
        root = start  # the active node that is no edge's head
        active[start] = True
        path_tail, path_edge, path_head = array("i"), array("i"), array("i")
        previous = -1
        stack = array("i", [start])
        while stack:
            tail = stack[-1]
            if stamp[tail] != start:
                stamp[tail], cursor[tail] = start, off[tail]
            e = cursor[tail]
            if e == off[tail + 1]:
                stack.pop()
                continue
            cursor[tail] = e + 1
            head = adj[e]
            stack.append(head)
            if explored[head]:
                continue
            if previous >= 0 and tail != previous:  # backtracked: pop back to an edge into tail
                while True:
                    if not path_head:
                        active[root] = False
                        root = tail
                        active[tail] = True
                        break
                    path_tail.pop()
                    path_edge.pop()
                    active[path_head.pop()] = False
                    if path_head and path_head[-1] == tail:
                        break
            path_tail.append(tail)
            path_edge.append(e)
            if active[head]:
                i = path_tail.index(head)
                return list(zip(path_tail[i:], path_edge[i:], strict=True))
            path_head.append(head)
            seen.append(head)
            active[head] = True
            previous = head
        for v in path_head:
            active[v] = False
        active[root] = False
        for v in seen:
            explored[v] = True
    return None


def _numbers(items: Any) -> np.ndarray:
    """A numpy view of an ``array`` or ``memoryview`` of numbers (mapped or not), not a copy."""
    return np.asarray(memoryview(items)) if len(items) else np.zeros(0, dtype=np.int64)


def _cycle(graph: nx.DiGraph) -> Lasso | None:
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return None
    entry = cycle[0][0]
    return entry, [(graph.edges[a, b]["via"], b) for a, b in cycle]
