"""Reachability graphs of tiny cases, with the counterexample's path in red: DOT, and SVG via Graphviz.

A full state per node makes a picture of even 60 states unreadable, so this DOT is
compact: every state is a small circle labelled with its number (BFS discovery order,
so 0 is the initial state) whose tooltip, shown on hover in a browser, lists its
fields; the counterexample's steps are red and labelled, every other step is a thin
grey arrow whose tooltip names its step. The DOT text depends only on the
search (states numbered in BFS discovery order), so it is stable; the SVG is what
the installed Graphviz ``dot`` makes of it, and is left out when ``dot`` is missing.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
from collections.abc import Callable, Mapping
from typing import Any

import networkx as nx

from ..check import check, configure
from ..explicit import SearchOptions
from ..graph import reachability_graph, state_label
from ..trace import Trace, trace_from_json

GRAPH_MAX_STATES = 200  # a graph picture is drawn only for cases at most this big
GRAPHS_PER_GROUP = 1
DOT_TIMEOUT = 60
LEGEND = ("green: initial state · double circle: a final state · red: the counterexample, "
          "numbered by step, ending in the violating state · hover a state for its fields")


def pick_graph_cases(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(case, property) pairs to draw: per group, the smallest case with a counterexample, if tiny.

    Ties go to matrix order; the property is the first violated one. Deterministic.
    """
    best: dict[str, tuple[int, int, str, str]] = {}
    order = {name: i for i, name in enumerate(doc["cases"])}
    for rec in doc["records"]:
        if rec["counterexample"] is None or rec["engine"] != "explicit" or rec["states"] > GRAPH_MAX_STATES:
            continue
        group = doc["cases"][rec["case"]]["group"]
        key = (rec["states"], order[rec["case"]], rec["case"], rec["property"])
        if group not in best or key < best[group]:
            best[group] = key
    return [(case, prop) for _, _, case, prop in sorted(best.values(), key=lambda k: k[1])][:GRAPHS_PER_GROUP * 8]


def graph_dot(spec_path: str, params: Mapping[str, Any], trace_data: Mapping[str, Any], title: str) -> str:
    """Re-explore one case keeping every edge, and draw its graph with the counterexample's path."""
    spec = configure(spec_path, params)
    run = check(spec, [], SearchOptions(keep_edges=True))
    trace = trace_from_json(run.compiled, trace_data)
    graph = reachability_graph(run.exploration)
    return compact_dot(graph, _path_ids(run.exploration.states, trace), title,
                       describe=lambda state: state_label(run.exploration, state))


def _path_ids(states: list[Any], trace: Trace) -> list[int]:
    index = {s: i for i, s in enumerate(states)}
    return [index[s] for s in trace.states() if s in index]


def compact_dot(graph: nx.DiGraph, path: list[int], title: str,
                describe: Callable[[Any], str] | None = None) -> str:
    """DOT text: numbered circles for states (``describe`` gives each its tooltip), the path's edges red
    and labelled with their steps."""
    on_path = {(a, b): n for n, (a, b) in enumerate(itertools.pairwise(path), 1)}
    path_nodes = set(path)
    last = path[-1] if path else None
    lines = ["digraph reachability {",
             f'  label="{_escape(title)}\\n{LEGEND}"; labelloc=t; fontname="monospace"; fontsize=12;',
             '  node [shape=circle, width=0.3, fixedsize=true, fontname="monospace", fontsize=7, '
             'color="#888888", fontcolor="#555555"];',
             '  edge [color="#bbbbbb", arrowsize=0.5, fontname="monospace", fontsize=9];']
    for n, data in graph.nodes(data=True):
        attrs = [f'label="{n}"']
        if describe is not None:
            attrs.append(f'tooltip="{_escape(f"state {n}: " + describe(data["state"]).replace(chr(10), ", "))}"')
        if n in path_nodes:
            attrs += ['color="#c62828"', 'fontcolor="#c62828"', "penwidth=2"]
        if data["initial"]:
            attrs += ['style=filled', 'fillcolor="#c8e6c9"']
        if data["terminal"]:
            attrs.append("peripheries=2")
        if n == last:
            attrs += ['style=filled', 'fillcolor="#ffcdd2"', "width=0.34"]
        lines.append(f"  {n} [{', '.join(attrs)}];")
    for a, b, data in graph.edges(data=True):
        if (a, b) in on_path:
            label = f"{on_path[(a, b)]}. {data['label']}"
            lines.append(f'  {a} -> {b} [color="#c62828", fontcolor="#c62828", penwidth=2.5, arrowsize=0.8, '
                         f'label="{_escape(label)}"];')
        else:
            lines.append(f'  {a} -> {b} [tooltip="{_escape(str(data["label"]))}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_svg(dot_text: str) -> str | None:
    """SVG from Graphviz ``dot``, or None when it is not installed or fails."""
    exe = shutil.which("dot")
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, "-Tsvg"], input=dot_text, capture_output=True, text=True, timeout=DOT_TIMEOUT,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 and done.stdout else None


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
