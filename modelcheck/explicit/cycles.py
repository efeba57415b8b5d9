"""Cycles of the reachability graph: an execution that never ends, shown as a lasso.

An ``at_end`` property fails on any cycle of reachable states. The full store keeps every
step as ``(source, instance, target)`` triples; the native search keeps only the steps into
states already stored, as int32 ``(source, target)`` pairs, and peels the graph (Kahn) in C,
so that the common answer, "no cycle", costs no Python. Both end here, in networkx, to pick
one cycle.
"""

from __future__ import annotations

from array import array

from .. import lazy

nx = lazy.module("networkx")  # imported on first use: most searches find no cycle to draw

NX_PER_STATE, NX_PER_STEP = 600, 500  # bytes of a networkx DiGraph's node and edge (a small attribute dict)

Lasso = tuple[int, list[tuple[int, int]]]  # (entry state, cycle steps as (instance, target)); -1: any instance


def drawing_bytes(states: int, steps: int) -> int:
    """About how many bytes a networkx graph of ``states`` states and ``steps`` steps takes (with
    each step's instance): what drawing a cycle among the states a peeling left, or a liveness
    loop in its component, costs; checked against the memory budget before it is built."""
    return states * NX_PER_STATE + steps * NX_PER_STEP


def find_lasso(size: int, edges: array) -> Lasso | None:
    """A cycle among ``size`` states whose steps are the flat ``(source, instance, target)`` triples ``edges``."""
    graph = nx.DiGraph()
    graph.add_nodes_from(range(size))
    for n in range(0, len(edges), 3):
        graph.add_edge(edges[n], edges[n + 2], via=edges[n + 1])
    return _cycle(graph)


def lasso_among(parent: array, via: array, pairs: array, left: array) -> Lasso | None:
    """A cycle among the states ``left`` marks, from the tree steps (``parent``, ``via``) and the
    other steps (``pairs``, flat ``(source, target)``; their instance is unknown, -1)."""
    graph = nx.DiGraph()
    for v, flag in enumerate(left):
        if flag:
            graph.add_node(v)
            p = parent[v]
            if p >= 0 and left[p]:
                graph.add_edge(p, v, via=via[v])
    for n in range(0, len(pairs), 2):
        a, b = pairs[n], pairs[n + 1]
        if left[a] and left[b] and not graph.has_edge(a, b):
            graph.add_edge(a, b, via=-1)
    return _cycle(graph)


def _cycle(graph: nx.DiGraph) -> Lasso | None:
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return None
    entry = cycle[0][0]
    return entry, [(graph.edges[a, b]["via"], b) for a, b in cycle]
