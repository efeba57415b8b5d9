"""Trace validation: is an observation of the real device a path of the spec's reachability graph?

The search walks the product of the reachability graph (a finished explicit search kept
with its edges) and the observation: a node is a state plus, per channel, how many
observed events have been matched. A step may be taken when each event it emits is the
next expected one on its channel. A path matches when every channel is used up, nothing is in flight
at its end (the harness reads its last counters once every request it submitted has
completed, when QEMU has nothing left to do) and the final state's disk (cache over
durable image) is what QEMU left on disk.

When no path matches, the *nearest allowed* path is the one that matches with a single
channel (or the disk) left free, chosen by the smallest edit distance between what that
channel observed and what the path produced; both are returned side by side.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import ModelcheckError
from ..explicit import Exploration
from .mapping import CHANNELS, Expectation, idle, show_event, step_events, visible_disk

Node = tuple[Any, ...]  # (state id, positions..., recorded free events)


class SearchLimit(ModelcheckError):
    """The product of graph and observation grew past its limit: inconclusive (exit 3)."""

    exit_code = 3


@dataclass
class Mismatch:
    """Where the observation leaves the spec: one channel observed vs the nearest allowed."""

    channel: str
    observed: list[str]
    allowed: list[str]
    distance: int
    path: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"channel": self.channel, "observed": self.observed, "allowed": self.allowed,
                "distance": self.distance, "path": self.path}

    def side_by_side(self) -> list[str]:
        """Two aligned lines: ``observed failures: W2 W10 W6`` over ``allowed  failures: ...``."""
        return [f"observed {self.channel}: {' '.join(self.observed) or '(none)'}",
                f"allowed  {self.channel}: {' '.join(self.allowed) or '(none)'}"]


@dataclass
class Validation:
    """The verdict on one observation: a matching path (step labels), or the nearest miss."""

    matches: bool
    path: list[str] = field(default_factory=list)
    mismatch: Mismatch | None = None
    product_nodes: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"matches": self.matches, "path": self.path,
                "mismatch": self.mismatch.as_json() if self.mismatch else None,
                "product_nodes": self.product_nodes}


class Graph:
    """Successors of each state with the events of each step, computed once per exploration."""

    def __init__(self, ex: Exploration):
        if ex.edges is None:
            raise ValueError("the search did not keep its edges; run it with keep_edges=True")
        compiled = ex.compiled
        spec = compiled.spec
        self.ex = ex
        self.names: tuple[str, ...] | None = getattr(spec, "names", None)
        self.initial = [sid for sid in range(len(ex.states)) if ex.parent[sid] < 0]
        self.succ: list[list[tuple[int, int, tuple[tuple[str, Any], ...]]]] = [[] for _ in ex.states]
        edges = ex.edges
        instances = compiled.instances
        states = ex.states
        for n in range(0, len(edges), 3):
            src, k, dst = edges[n], edges[n + 1], edges[n + 2]
            step = instances[k].step
            events = step_events(spec, states[src], step.action, states[dst], dict(step.args))
            self.succ[src].append((k, dst, events))
        self.disk = [visible_disk(spec, s) for s in states]
        self.idle = [idle(s) for s in states]

    def label(self, k: int) -> str:
        compiled = self.ex.compiled
        return compiled.show_step(compiled.instances[k].step)


def _search(graph: Graph, want: Expectation, free: str | None, limit: int,
            seen: list[int]) -> Iterator[tuple[Node, list[str]]]:
    """Yield ``(node, path)`` for each accepting product node, shortest paths first.

    ``free`` names a channel (or ``"disk"``) that is recorded instead of matched;
    ``seen[0]`` counts the product nodes reached so far.
    """
    chans = [c for c in CHANNELS if c != free]
    index = {c: i for i, c in enumerate(chans)}
    expected = [want.channel(c) for c in chans]
    ends = tuple(len(e) for e in expected)
    parent: dict[Node, tuple[Node | None, int]] = {}
    queue: deque[Node] = deque()
    for sid in graph.initial:
        node = (sid, (0,) * len(chans), ())
        parent[node] = (None, -1)
        queue.append(node)
    while queue:
        node = queue.popleft()
        sid, pos, rec = node
        if pos == ends and graph.idle[sid] and (free == "disk" or graph.disk[sid] == want.disk):
            seen[0] = len(parent)
            yield node, _path(graph, parent, node)
        for k, dst, events in graph.succ[sid]:
            step = _advance(events, pos, index, expected, ends, free)
            if step is None:
                continue
            moved, freed = step
            recorded = graph.disk[dst] if free == "disk" else (*rec, *freed)
            nxt = (dst, moved, recorded)
            if nxt not in parent:
                if len(parent) >= limit:
                    raise SearchLimit(f"more than {limit} product nodes; give a smaller scenario")
                parent[nxt] = (node, k)
                queue.append(nxt)
    seen[0] = len(parent)


def _path(graph: Graph, parent: dict[Node, tuple[Node | None, int]], node: Node) -> list[str]:
    steps = []
    cur: Node | None = node
    while cur is not None:
        prev, k = parent[cur]
        if prev is not None:
            steps.append(graph.label(k))
        cur = prev
    steps.reverse()
    return steps


def edit_distance(a: list[str], b: list[str]) -> int:
    """Levenshtein distance between two sequences of event texts.

    >>> edit_distance(["W6", "W10", "W2"], ["W2", "W10", "W6"])
    2
    """
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def _show(graph: Graph, channel: str, events: Any) -> list[str]:
    if channel == "disk":
        return [f"s{s}={graph.names[r] if graph.names and r is not None else r}" for s, r in events]
    return [show_event(channel, e, graph.names) for e in events]


@dataclass
class Matched:
    """The part of the graph that some path producing exactly the observation runs through."""

    states: set[int] = field(default_factory=set)
    transitions: set[tuple[int, int]] = field(default_factory=set)  # (source state, instance)
    instances: set[int] = field(default_factory=set)


def matched(graph: Graph, want: Expectation, limit: int = 2_000_000) -> Matched:
    """Every state, transition and action instance on some accepting path of ``want``.

    A forward search of the product (graph x observation positions) records its edges;
    a backward search from the accepting nodes keeps those that can still finish.
    Empty when the observation matches no path.
    """
    chans = list(CHANNELS)
    positions = {c: i for i, c in enumerate(chans)}
    expected = [want.channel(c) for c in chans]
    ends = tuple(len(e) for e in expected)
    index: dict[tuple[int, tuple[int, ...]], int] = {}
    nodes: list[tuple[int, tuple[int, ...]]] = []
    back: list[list[tuple[int, int]]] = []  # per node: (predecessor node, instance)
    queue: deque[int] = deque()
    for sid in graph.initial:
        node = (sid, (0,) * len(chans))
        index[node] = len(nodes)
        nodes.append(node)
        back.append([])
        queue.append(index[node])
    accepting = []
    while queue:
        n = queue.popleft()
        sid, pos = nodes[n]
        if pos == ends and graph.idle[sid] and graph.disk[sid] == want.disk:
            accepting.append(n)
        for k, dst, events in graph.succ[sid]:
            step = _advance(events, pos, positions, expected, ends)
            if step is None:
                continue
            nxt = (dst, step[0])
            m = index.get(nxt)
            if m is None:
                if len(nodes) >= limit:
                    raise SearchLimit(f"more than {limit} product nodes; give a smaller scenario")
                m = index[nxt] = len(nodes)
                nodes.append(nxt)
                back.append([])
                queue.append(m)
            back[m].append((n, k))
    out = Matched()
    alive = set(accepting)
    stack = list(accepting)
    while stack:
        m = stack.pop()
        out.states.add(nodes[m][0])
        for n, k in back[m]:
            out.transitions.add((nodes[n][0], k))
            out.instances.add(k)
            if n not in alive:
                alive.add(n)
                stack.append(n)
    return out


def validate(graph: Graph, want: Expectation, limit: int = 2_000_000, explain: bool = True) -> Validation:
    """Whether some path of the spec produces ``want``; else (when ``explain``) the nearest
    allowed path. A channel whose free search outgrows ``limit`` is not offered as the nearest."""
    seen = [0]
    for _node, path in _search(graph, want, None, limit, seen):
        return Validation(True, path=path, product_nodes=seen[0])
    nodes = seen[0]
    if not explain:
        return Validation(False, product_nodes=nodes)
    best: Mismatch | None = None
    for free in (*CHANNELS, "disk"):
        observed = _show(graph, free, want.disk if free == "disk" else want.channel(free))
        shown: set[tuple[str, ...]] = set()
        try:
            for node, path in _search(graph, want, free, limit // 10, [0]):
                allowed = _show(graph, free, node[2])
                if tuple(allowed) in shown:
                    continue
                shown.add(tuple(allowed))
                distance = edit_distance(observed, allowed)
                if best is None or distance < best.distance:
                    best = Mismatch(free, observed, allowed, distance, path)
        except SearchLimit:
            continue
    if best is None:
        best = Mismatch("all", [], [], -1, [])
    return Validation(False, mismatch=best, product_nodes=nodes)


def _advance(events: Any, pos: tuple[int, ...], index: dict[str, int], expected: list[Any], ends: tuple[int, ...],
             free: str | None = None) -> tuple[tuple[int, ...], tuple[Any, ...]] | None:
    """The channel positions after a transition's ``events`` and the events of the ``free``
    channel (recorded, not matched); None when an event is not the next one a channel expects."""
    moved = list(pos)
    freed = []
    for chan, event in events:
        if chan == free:
            freed.append(event)
            continue
        i = index[chan]
        if moved[i] >= ends[i] or expected[i][moved[i]] != event:
            return None
        moved[i] += 1
    return tuple(moved), tuple(freed)
