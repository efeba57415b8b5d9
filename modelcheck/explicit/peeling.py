"""Whether the partitioned search's reachability graph has a cycle: Kahn's peeling over the ranks.

An ``at_end`` property fails on every execution that never ends, that is on any cycle of the
reachability graph, as the single-process searches judge it (``native/search.c``'s
``mc_cycle``, :mod:`.cycles`). When one is asked, each rank of the partitioned search keeps
the steps it generated (source as its local id, target fingerprint, instance). Peeling then
goes in rounds: the states with no unpeeled predecessor are peeled, and their steps are sent
to the targets' owners, which lower those states' in-degrees. States left at the end lie on or
behind a cycle; their steps are gathered on rank 0, which finds one cycle among them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import lazy
from .kernels import owner

nx = lazy.module("networkx")  # imported on first use: only a cycle is drawn with it

CHUNK = 1 << 20  # targets sent in one exchange round
PER_STATE, PER_STEP = 64, 64  # bytes peel() adds per state of a rank (lookup, in-degrees, rows) and per step


def bytes_needed(states: int, steps: int) -> int:
    """About how many bytes :func:`peel` adds on a rank with ``states`` states and ``steps``
    steps (an upper estimate; the partitioned search checks it against its memory budget first)."""
    return states * PER_STATE + steps * PER_STEP


class Lookup:
    """This rank's states by fingerprint: local ids in the order the search stored them."""

    def __init__(self, fps: np.ndarray):
        self.fps = fps
        self.order = np.argsort(fps, kind="stable")
        self.sorted = fps[self.order]

    def ids(self, q: np.ndarray) -> np.ndarray:
        return self.order[np.searchsorted(self.sorted, q)]


def _send(ranks: Any, targets: np.ndarray) -> list[np.ndarray]:
    """Every rank's fingerprints in ``targets`` delivered to their owners, a chunk a round."""
    got: list[np.ndarray] = []
    pos = 0
    while True:
        part = targets[pos:pos + CHUNK]
        pos += len(part)
        own = owner(part, ranks.size)
        order = np.argsort(own, kind="stable")
        data = np.ascontiguousarray(part[order]).view(np.uint8)
        counts = np.bincount(own, minlength=ranks.size).astype(np.int64) * 8
        received, more = ranks.exchange(data, counts, pos < len(targets))
        got.append(received.copy().view(np.uint64))
        if not more:
            return got


def peel(ranks: Any, fps: np.ndarray, src: np.ndarray, dst: np.ndarray,
         inst: np.ndarray) -> tuple[int, list[tuple[int, int]]] | None:
    """None when the graph has no cycle; else (entry fingerprint, [(instance, target fingerprint)...])
    of one cycle, the same on every rank. ``fps``: this rank's states (local id = index);
    ``src``, ``dst``, ``inst``: the steps this rank generated."""
    n = len(fps)
    lookup = Lookup(fps)
    indeg = np.zeros(n, dtype=np.int64)
    for part in _send(ranks, dst):
        indeg += np.bincount(lookup.ids(part), minlength=n)
    by_src = np.argsort(src, kind="stable")
    src_sorted, dst_sorted = src[by_src], dst[by_src]
    starts = np.searchsorted(src_sorted, np.arange(n + 1))
    peeled = np.zeros(n, dtype=np.bool_)
    ready = np.flatnonzero(indeg == 0)
    while True:
        peeled[ready] = True
        counts = starts[ready + 1] - starts[ready]
        first = np.repeat(starts[ready], counts)
        step = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        targets = dst_sorted[first + step]
        touched = []
        for part in _send(ranks, targets):
            ids = lookup.ids(part)
            indeg -= np.bincount(ids, minlength=n)
            touched.append(ids)
        cand = np.unique(np.concatenate(touched)) if touched else np.empty(0, dtype=np.int64)
        ready = cand[(indeg[cand] == 0) & ~peeled[cand]]
        if not any(ranks.allgather(len(ready))):
            break
    left = ~peeled
    if not any(ranks.allgather(int(left.sum()))):
        return None
    mine = left[src]
    parts = ranks.allgather((fps[left], fps[src[mine]], inst[mine], dst[mine]))
    cycle = _cycle(parts) if ranks.rank == 0 else None
    return ranks.bcast(cycle, root=0)


def _cycle(parts: list[tuple[np.ndarray, ...]]) -> tuple[int, list[tuple[int, int]]] | None:
    """One cycle among the states left (rank 0, from every rank's part)."""
    left = set()
    for nodes, *_ in parts:
        left.update(int(x) for x in nodes)
    graph = nx.DiGraph()
    for _, srcs, insts, dsts in parts:
        for a, k, b in zip(srcs.tolist(), insts.tolist(), dsts.tolist()):
            if b in left and not graph.has_edge(a, b):
                graph.add_edge(a, b, via=k)
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return None
    return cycle[0][0], [(graph.edges[a, b]["via"], b) for a, b in cycle]
