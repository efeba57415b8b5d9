"""The reachability graph: a networkx DiGraph of a finished search, and its DOT/GraphML export."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from . import lazy
from .atomic import write_text
from .explicit import Exploration
from .explicit.flat import fingerprint
from .trace import Trace

nx = lazy.module("networkx")  # imported on first use: most searches draw no graph


def reachability_graph(ex: Exploration) -> nx.DiGraph:
    """Nodes are state ids (discovery order), edges carry the step that links them.

    Node attributes: ``state`` (the State), ``fingerprint`` (stable 64-bit hex),
    ``depth``, ``initial``, ``terminal``. Edge attributes: ``action``, ``args`` and
    ``label`` (the step as a trace prints it). Parallel steps between the same two
    states keep the first (a DiGraph has one edge per pair); ``steps`` lists them all.
    """
    if ex.edges is None or ex.compact:
        raise ValueError("the search did not keep its states and edges; run it with keep_edges=True")
    compiled = ex.compiled
    terminal = set(ex.terminal)
    graph = nx.DiGraph(spec=compiled.spec.describe())
    for sid, s in enumerate(ex.states):
        graph.add_node(sid, state=s, fingerprint=fingerprint(s), depth=ex.depth[sid],
                       initial=ex.parent[sid] < 0, terminal=sid in terminal)
    edges = ex.edges
    instances = compiled.instances
    for n in range(0, len(edges), 3):
        src, k, dst = edges[n], edges[n + 1], edges[n + 2]
        step = instances[k].step
        label = compiled.show_step(step)
        if graph.has_edge(src, dst):
            graph.edges[src, dst]["steps"].append(label)
            continue
        graph.add_edge(src, dst, action=step.action, args=dict(step.args), label=label, steps=[label])
    return graph


def shortest_trace(graph: nx.DiGraph, ex: Exploration, targets: Iterable[int], prop: str = "") -> Trace | None:
    """The shortest path in the graph from any initial state to any target state."""
    sources = [n for n, d in graph.nodes(data="initial") if d]
    targets = set(targets)
    best: list[int] | None = None
    for target in sorted(targets):
        for source in sources:
            try:
                path = nx.shortest_path(graph, source, target)
            except nx.NetworkXNoPath:
                continue
            if best is None or len(path) < len(best):
                best = path
    if best is None:
        return None
    compiled = ex.compiled
    steps = []
    for a, b in itertools.pairwise(best):
        data = graph.edges[a, b]
        step = next(i.step for i in compiled.instances
                    if i.step.action == data["action"] and dict(i.step.args) == data["args"])
        steps.append((step, graph.nodes[b]["state"]))
    return Trace(graph.nodes[best[0]]["state"], tuple(steps), prop)


def _export_attrs(graph: nx.DiGraph, ex: Exploration) -> nx.DiGraph:
    """A copy whose attributes are all scalars, as GraphML and DOT need."""
    types = ex.compiled.state_class.types
    out = nx.DiGraph()
    for n, data in graph.nodes(data=True):
        s = data["state"]
        attrs: dict[str, Any] = {f"state.{k}": types[k].show(v) for k, v in zip(s.fields, s)}
        attrs.update(fingerprint=data["fingerprint"], depth=data["depth"],
                     initial=data["initial"], terminal=data["terminal"],
                     label=state_label(ex, s))
        out.add_node(n, **attrs)
    for a, b, data in graph.edges(data=True):
        out.add_edge(a, b, action=data["action"], label=data["label"], steps=" | ".join(data["steps"]))
    return out


def state_label(ex: Exploration, s: Any) -> str:
    types = ex.compiled.state_class.types
    return "\n".join(f"{k}={types[k].show(v)}" for k, v in zip(s.fields, s))


def write_graphml(graph: nx.DiGraph, ex: Exploration, path: str) -> None:
    """GraphML for yEd, Gephi and networkx itself, written atomically."""
    write_text(path, "\n".join(nx.generate_graphml(_export_attrs(graph, ex))) + "\n")


def to_dot(graph: nx.DiGraph, ex: Exploration, highlight: Iterable[tuple[int, int]] = ()) -> str:
    """DOT text of the graph; edges in ``highlight`` (and their nodes) are drawn red."""
    marked = set(highlight)
    marked_nodes = {n for e in marked for n in e}
    lines = ["digraph reachability {", '  node [shape=box, fontname="monospace", fontsize=9];',
             '  edge [fontname="monospace", fontsize=9];']
    for n, data in graph.nodes(data=True):
        style = []
        if data["initial"]:
            style.append("penwidth=2")
        if data["terminal"]:
            style.append("peripheries=2")
        if n in marked_nodes:
            style.append('color=red, fontcolor=red')
        label = _dot_escape(f"#{n}\n" + state_label(ex, data["state"]))
        lines.append(f'  {n} [label="{label}"{", " if style else ""}{", ".join(style)}];')
    for a, b, data in graph.edges(data=True):
        extra = ", color=red, fontcolor=red, penwidth=2" if (a, b) in marked else ""
        lines.append(f'  {a} -> {b} [label="{_dot_escape(" | ".join(data["steps"]))}"{extra}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\l") + ("\\l" if "\n" in text else "")
