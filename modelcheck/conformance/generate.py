"""Scenarios generated from a configuration's reachability graph, and the coverage real runs reach.

A path of the graph says what the guest does (its submissions, and which completions it
waits for before submitting more), which requests fail, and where the VM is migrated;
the harness can steer exactly that much of it (:func:`scenario_of`). The device's own
choices (fetch, execute, complete order) are left to QEMU, and the observation is then
validated against the whole graph as any other.

The generator walks the graph from an initial state to an ending, seeded, preferring at
each state the steps whose action instance no chosen path has taken yet, and keeps a
walk when its scenario is new and covers an instance the chosen ones do not (then, up
to the count asked for, any new scenario). Coverage is measured on what real runs
matched: the states, transitions and action instances that lie on some path producing
exactly what QEMU was seen to do (:func:`.validate.matched`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from .mapping import NONE
from .scenarios import Scenario
from .validate import Graph, Matched

# The configuration the generated scenarios are drawn from: every kind of failure the
# harness injects (a write's ENOSPC, a flush's and a read's EIO), one migration, a read
# of a written sector, and a flush between writes, submitted by a guest that does not drain.
GENERATING = {
    "workload": "W2 F W6 R2", "qdepth": 4, "guest": "nodrain", "profile": "qemu-7.2",
    "werror": "stop", "rerror": "stop", "order": "any", "evict": "off",
    "failures": 1, "eio_failures": 0, "flush_failures": 1, "read_failures": 1, "migrations": 1,
}
WALKS = 4000  # walks tried before the generator gives up looking for new scenarios
PATIENCE = 200  # walks in a row without a new instance before any new scenario will do


@dataclass
class Walk:
    """A path as (state id, instance, next state id) edges from an initial state."""

    start: int
    edges: list[tuple[int, int, int]] = field(default_factory=list)


def scenario_of(graph: Graph, walk: Walk, name: str) -> Scenario | None:
    """What the harness can steer of a path, or None when it could not steer it faithfully.

    Not steerable: a flush that fails while nothing it would write was observed complete
    before the flush was submitted (QEMU skips a flush with nothing to write, so blkdebug
    could not fail it), or that fails after the VM already stopped once (the stop's own
    flush would take the injected error).
    """
    ex = graph.ex
    spec = ex.compiled.spec
    instances = ex.compiled.instances
    groups: list[tuple[list[int], int]] = []
    fail: list[int] = []
    migrations: list[int] = []
    observed_at_submit: dict[int, set[int]] = {}
    stops = 0
    for src, k, dst in walk.edges:
        step = instances[k].step
        before, after = ex.states[src], ex.states[dst]
        if step.action == "submit":
            r = step["r"]
            observed_at_submit[r] = {a for a in range(spec.n) if before.observed[a]}
            if not groups or groups[-1][1] > 0:
                groups.append(([], 0))
            groups[-1][0].append(r)
        elif step.action == "observe":
            groups[-1] = (groups[-1][0], groups[-1][1] + 1)
        elif step.action == "execute" and step["result"] != "ok":
            r = step["r"]
            if spec.kind[r] == "F":
                cached = {v for v in before.cache if v != NONE}
                if not cached or not cached <= observed_at_submit[r] or stops:
                    return None
            fail.append(r)
        elif step.action == "migrate":
            migrations[-1] += 1
        if before.vm != "stopped" and after.vm == "stopped":
            stops += 1
            migrations.append(0)
    while migrations and migrations[-1] == 0:
        migrations.pop()
    return Scenario(name, spec.workload, tuple(sorted(fail)), tuple((tuple(g), t) for g, t in groups),
                    tuple(migrations), "generated from the reachability graph")


def key(scenario: Scenario) -> tuple[Any, ...]:
    """What makes two scenarios the same experiment."""
    return (scenario.fail, scenario.plan(), scenario.migrations)


def walk(graph: Graph, rng: random.Random, covered: set[int], bias: float = 0.7) -> Walk:
    """A random path to an ending, preferring steps whose instance is not yet ``covered``."""
    path = Walk(rng.choice(graph.initial))
    sid = path.start
    seen = {sid}
    while graph.succ[sid]:
        options = [(k, dst) for k, dst, _ in graph.succ[sid] if dst not in seen]
        if not options:
            break
        fresh = [o for o in options if o[0] not in covered]
        k, dst = rng.choice(fresh if fresh and rng.random() < bias else options)
        path.edges.append((sid, k, dst))
        seen.add(dst)
        sid = dst
    return path


def generate(graph: Graph, count: int, seed: int) -> tuple[list[Scenario], set[int]]:
    """``count`` distinct steerable scenarios (fewer when the walks find no more) and the
    instances their planned paths cover.

    First only scenarios whose path takes an instance no earlier one took are kept, until
    ``PATIENCE`` walks in a row find none; then any new scenario, up to ``count``.
    """
    rng = random.Random(seed)
    chosen: list[Scenario] = []
    keys: set[tuple[Any, ...]] = set()
    covered: set[int] = set()
    fruitless = 0
    for _ in range(WALKS):
        if len(chosen) >= count:
            break
        path = walk(graph, rng, covered)
        end = path.edges[-1][2] if path.edges else path.start
        scenario = scenario_of(graph, path, f"gen-{len(chosen) + 1:02d}")
        if graph.succ[end] or scenario is None or key(scenario) in keys:
            fruitless += 1
            continue
        new = {k for _, k, _ in path.edges} - covered
        if not new and fruitless < PATIENCE:
            fruitless += 1
            continue
        fruitless = 0 if new else fruitless
        keys.add(key(scenario))
        chosen.append(scenario)
        covered |= new
    return chosen, covered


def instances_in(graph: Graph) -> set[int]:
    """The action instances some transition of the graph takes."""
    return {k for succ in graph.succ for k, _, _ in succ}


def coverage(graph: Graph, matches: list[Matched]) -> dict[str, Any]:
    """The fractions of instances, transitions and states real runs matched, and what they missed."""
    instances = instances_in(graph)
    transitions = sum(len(succ) for succ in graph.succ)
    states = len(graph.succ)
    hit = Matched()
    for m in matches:
        hit.states |= m.states
        hit.transitions |= m.transitions
        hit.instances |= m.instances

    def fraction(part: int, whole: int) -> dict[str, Any]:
        return {"matched": part, "total": whole, "fraction": round(part / whole, 4) if whole else None}

    missed = sorted(instances - hit.instances)
    by_action: dict[str, list[int]] = {}
    compiled = graph.ex.compiled
    for src, succ in enumerate(graph.succ):
        for k, _, _ in succ:
            counts = by_action.setdefault(compiled.instances[k].step.action, [0, 0])
            counts[1] += 1
            counts[0] += (src, k) in hit.transitions
    return {
        "action_instances": fraction(len(hit.instances), len(instances)),
        "transitions": fraction(len(hit.transitions), transitions),
        "states": fraction(len(hit.states), states),
        "unmatched_instances": [graph.label(k) for k in missed],
        "transitions_by_action": {a: {"matched": m, "total": t} for a, (m, t) in sorted(by_action.items())},
    }
