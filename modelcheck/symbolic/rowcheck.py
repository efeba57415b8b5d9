"""The certificate checked state by state: consecution evaluated over the symbolic paths, no solver.

The certificate is the explicit search's reachable set R (see :mod:`.certificate`). Handing
R to z3 as one formula stops working at a few thousand states. But each symbolic path of an
action instance is a condition on the state and a next state that is a *function* of the
state (the path's leaf terms), so consecution ``R(x) ∧ T(x, y) ⇒ R(y)`` can be checked by
evaluating, for every state of R, every path whose condition (and assumption guard) holds
there, and looking its next state up in R. Safety is the bad-state formula (property,
crash, fault) evaluated on every state of R; initiation is each initial state's membership.

The terms are the symbolic engine's, from the spec's code run over z3 values, not the
explicit engine's runs that produced R: a state the explicit search lost, or a step it
misjudged, shows as a next state outside R (an engine bug, as with the z3 check). The terms
are evaluated as Python text printed by :mod:`modelcheck.explicit.compiled.python_source` (a fixed subset of z3's
operators; another operator makes this check unavailable, and the caller falls back).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import z3

from ..explicit.compiled.python_source import Untranslatable, python_expr, stored
from .encode import Encoding, Guards

Row = tuple[Any, ...]


@dataclass
class RowCheck:
    """``ok``, ``untranslatable`` (``reason``), or a counterexample: ``failed`` names the condition
    and ``state``/``step``/``next`` say where."""

    status: str
    failed: str = ""
    state: Row | None = None
    step: int | None = None
    next: Row | None = None
    reason: str = ""
    paths_evaluated: int = 0
    timings: dict[str, float] = field(default_factory=dict)


def _source(enc: Encoding, guards: Guards, bad: z3.BoolRef) -> str:
    """``expand(row)`` → [(instance, next row)] over the paths enabled and allowed there; ``bad(row)``."""
    leaf = {str(x): f"v{i}" for i, x in enumerate(enc.x)}
    memo: dict = {}
    args = ", ".join(leaf.values())
    lines = [f"def expand({args}):", "    out = []"]
    for ie in enc.instances:
        for sp in ie.paths:
            live = z3.simplify(z3.And(sp.condition, z3.Not(sp.fault), enc._guard(sp, guards)))
            if z3.is_false(live):
                continue
            nxt = ", ".join(stored(e, python_expr(e, leaf, memo)) for e in sp.next)
            lines.append(f"    if {python_expr(live, leaf, memo)}:")
            lines.append(f"        out.append(({ie.index}, ({nxt},)))")
    lines.append("    return out")
    lines.append(f"def bad({args}):")
    lines.append(f"    return {python_expr(z3.simplify(bad), leaf, memo)}")
    return "\n".join(lines) + "\n"


def check_rows(enc: Encoding, guards: Guards, bad: z3.BoolRef, rows: Sequence[Row],
               acyclic: bool = False) -> RowCheck:
    """Initiation, consecution and safety of ``rows`` as the invariant, state by state.

    With ``acyclic`` (for ``at_end`` properties, which fail on an execution that never ends),
    also that the symbolic steps between the rows form no cycle: every execution then ends,
    in a state the safety check judged (``bad`` holds on a violating ending)."""
    started = time.perf_counter()
    try:
        source = _source(enc, guards, bad)
    except (Untranslatable, RecursionError) as err:
        return RowCheck("untranslatable", reason=f"{type(err).__name__}: {err}")
    namespace: dict[str, Any] = {}
    try:
        exec(compile(source, "<certificate rows>", "exec"), namespace)
    except (SyntaxError, RecursionError, MemoryError) as err:  # e.g. too deeply nested terms
        return RowCheck("untranslatable", reason=f"{type(err).__name__}: {err}")
    expand, is_bad = namespace["expand"], namespace["bad"]
    out = RowCheck("ok", timings={"generate": round(time.perf_counter() - started, 3)})
    flat = [tuple(int(v) for v in row) for row in rows]
    reachable = set(flat)
    t = time.perf_counter()
    for s in enc.compiled.initial:
        row = tuple(int(v) for v in enc.row(s))
        if row not in reachable:
            out.status, out.failed, out.state = "failed", "initiation", row
            return out
    out.timings["initiation"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    for row in flat:
        if is_bad(*row):
            out.status, out.failed, out.state = "failed", "safety", row
            return out
    out.timings["safety"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    index = {row: i for i, row in enumerate(flat)} if acyclic else {}
    edges: list[list[int]] = []
    for row in flat:
        targets = []
        for k, nxt in expand(*row):
            out.paths_evaluated += 1
            if nxt not in reachable:
                out.status, out.failed, out.state, out.step, out.next = "failed", "consecution", row, k, nxt
                return out
            if acyclic:
                targets.append(index[nxt])
        if acyclic:
            edges.append(targets)
    out.timings["consecution"] = round(time.perf_counter() - t, 3)
    if acyclic:
        t = time.perf_counter()
        on_cycle = _on_cycle(edges)
        out.timings["acyclic"] = round(time.perf_counter() - t, 3)
        if on_cycle is not None:
            out.status, out.failed, out.state = "failed", "acyclicity", flat[on_cycle]
    return out


def _on_cycle(edges: list[list[int]]) -> int | None:
    """A node on a cycle of the graph, or None when it has none (Kahn's algorithm)."""
    indegree = [0] * len(edges)
    for targets in edges:
        for j in targets:
            indegree[j] += 1
    ready = [i for i, d in enumerate(indegree) if d == 0]
    removed = 0
    while ready:
        i = ready.pop()
        removed += 1
        for j in edges[i]:
            indegree[j] -= 1
            if indegree[j] == 0:
                ready.append(j)
    if removed == len(edges):
        return None
    return next(i for i, d in enumerate(indegree) if d > 0)
