"""The explicit engine: exhaustive breadth-first search over a spec's reachable states.

One generic loop (as networkx's BFS): for each state in discovery order, fire every
action instance, keep the steps every active assumption allows, deduplicate next
states exactly (the state tuple is the key) and judge properties on the way. BFS
order makes every recorded counterexample a shortest one. Only plain tuples, ints and
strings are hashed, and nothing iterates a set, so counts and traces do not depend
on ``PYTHONHASHSEED``.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import SpecError
from .spec import Compiled, Disabled, Property, check_state
from .state import State
from .trace import Trace
from .verdict import PropertyResult, Verdict


@dataclass(frozen=True)
class Progress:
    """A snapshot handed to the progress callback while a search runs."""

    states: int
    frontier: int
    depth: int
    transitions: int
    seconds: float


@dataclass
class SearchOptions:
    """Bounds and switches of one search.

    ``max_states`` and ``max_depth`` cut the search (verdicts then say "up to bound");
    ``keep_edges`` records every transition (needed for the reachability graph);
    ``validate`` checks each new state's fields against their declared types;
    ``use_hints`` fires only the arguments an action's ``hint`` names (same states, same
    order, fewer calls) and ``check_hints`` verifies that no other argument is enabled.
    """

    max_states: int | None = None
    max_depth: int | None = None
    keep_edges: bool = False
    validate: bool = True
    use_hints: bool = True
    check_hints: bool = False
    on_progress: Callable[[Progress], None] | None = None
    progress_every: int = 2048


@dataclass
class Exploration:
    """What a search found: the states, how each was first reached, and the verdicts' evidence."""

    compiled: Compiled
    properties: list[Property]
    states: list[State] = field(default_factory=list)
    parent: array = field(default_factory=lambda: array("q"))
    via: array = field(default_factory=lambda: array("q"))
    depth: array = field(default_factory=lambda: array("q"))
    edges: array | None = None  # flat (source, instance, target) triples
    transitions: int = 0
    terminal: list[int] = field(default_factory=list)
    hit_state_bound: bool = False
    hit_depth_bound: bool = False
    fired: dict[str, int] = field(default_factory=dict)
    violated_at: dict[str, int] = field(default_factory=dict)  # always, at_end, sometimes (witness)
    violated_step: dict[str, tuple[int, int, State]] = field(default_factory=dict)
    lasso: tuple[int, list[tuple[int, int]]] | None = None  # (entry state, cycle edges)
    seconds: float = 0.0

    @property
    def bounded(self) -> bool:
        return self.hit_state_bound or self.hit_depth_bound

    @property
    def max_depth(self) -> int:
        return max(self.depth) if self.depth else 0

    @property
    def never_enabled(self) -> list[str]:
        """Actions that no reachable state enables (a sign of a guard that is too strong)."""
        return [a for a in self.compiled.actions if not self.fired.get(a)]

    def path_to(self, sid: int) -> list[tuple[int, int]]:
        """``(instance, state)`` pairs from an initial state to ``sid``, shortest first found."""
        path = []
        while self.parent[sid] >= 0:
            path.append((self.via[sid], sid))
            sid = self.parent[sid]
        path.append((-1, sid))
        path.reverse()
        return path

    def trace_to(self, sid: int, prop: str = "", kind: str = "counterexample") -> Trace:
        path = self.path_to(sid)
        inst = self.compiled.instances
        steps = tuple((inst[k].step, self.states[s]) for k, s in path[1:])
        return Trace(self.states[path[0][1]], steps, prop, kind)

    def result(self, prop: Property) -> PropertyResult:
        """The verdict on one property, with its shortest trace."""
        base = dict(name=prop.name, kind=prop.kind, engine="explicit", states=len(self.states),
                    transitions=self.transitions, depth=self.max_depth, seconds=self.seconds,
                    assumptions=tuple(a.name for a in self.compiled.active_assumptions))
        name = prop.name
        if prop.kind == "sometimes":
            if name in self.violated_at:
                trace = self.trace_to(self.violated_at[name], name, "witness")
                return PropertyResult(verdict=Verdict.HOLDS, trace=trace, **base)
            if self.bounded:
                reason = f"no witness within the bound ({self._bound_text()})"
                return PropertyResult(verdict=Verdict.UNKNOWN, reason=reason, **base)
            return PropertyResult(verdict=Verdict.VIOLATED, reason="no reachable state is a witness", **base)
        trace = None
        if prop.kind == "step" and name in self.violated_step:
            src, k, dst = self.violated_step[name]
            head = self.trace_to(src, name)
            trace = Trace(head.initial, (*head.steps, (self.compiled.instances[k].step, dst)), name)
        elif name in self.violated_at:
            trace = self.trace_to(self.violated_at[name], name)
        elif prop.kind == "at_end" and self.lasso is not None:
            entry, cycle = self.lasso
            head = self.trace_to(entry, name)
            inst = self.compiled.instances
            loop = tuple((inst[k].step, self.states[t]) for k, t in cycle)
            trace = Trace(head.initial, head.steps + loop, name, loop_start=len(head.steps))
        if trace is not None:
            return PropertyResult(verdict=Verdict.VIOLATED, trace=trace, **base)
        if self.bounded:
            return PropertyResult(verdict=Verdict.HOLDS_UP_TO_BOUND, reason=self._bound_text(), **base)
        return PropertyResult(verdict=Verdict.HOLDS, **base)

    def _bound_text(self) -> str:
        cut = []
        if self.hit_state_bound:
            cut.append(f"state bound {len(self.states)} reached")
        if self.hit_depth_bound:
            cut.append("depth bound reached")
        return ", ".join(cut)


def explore(compiled: Compiled, properties: list[Property], options: SearchOptions | None = None) -> Exploration:
    """Search every reachable state of ``compiled`` and judge ``properties`` in each."""
    opts = options or SearchOptions()
    started = time.perf_counter()
    spec = compiled.spec
    state_cls = compiled.state_class
    instances = compiled.instances
    assumptions = [a.func for a in compiled.active_assumptions]
    invariants = [p for p in properties if p.kind == "always"]
    step_props = [p for p in properties if p.kind == "step"]
    witnesses = [p for p in properties if p.kind == "sometimes"]
    endings = [p for p in properties if p.kind == "at_end"]
    keep_edges = opts.keep_edges or bool(endings)

    ex = Exploration(compiled, list(properties))
    if keep_edges:
        ex.edges = array("q")
    states, parent, via, depth = ex.states, ex.parent, ex.via, ex.depth
    edges = ex.edges
    index: dict[State, int] = {}
    fired = dict.fromkeys(compiled.actions, 0)
    max_states, max_depth = opts.max_states, opts.max_depth
    validate = opts.validate

    def admit(s: State, src: int, k: int, d: int) -> int:
        sid = len(states)
        index[s] = sid
        states.append(s)
        parent.append(src)
        via.append(k)
        depth.append(d)
        for p in invariants:
            if p.name not in ex.violated_at and not _judge(p, spec, s):
                ex.violated_at[p.name] = sid
        for p in witnesses:
            if p.name not in ex.violated_at and _judge(p, spec, s):
                ex.violated_at[p.name] = sid
        return sid

    for s in compiled.initial:
        if s not in index:
            admit(s, -1, -1, 0)

    plan = _firing_plan(compiled, opts.use_hints)
    check_hints = opts.check_hints and opts.use_hints
    transitions = 0
    next_report = opts.progress_every
    i = 0
    while i < len(states):
        s = states[i]
        d = depth[i]
        if max_depth is not None and d >= max_depth:
            ex.hit_depth_bound = True
            i += 1
            continue
        enabled = False
        ks = _instances_to_fire(plan, spec, s)
        if check_hints:
            _verify_hints(compiled, s, ks)
        for k in ks:
            inst = instances[k]
            try:
                t = inst.func(spec, s, *inst.args)
            except Disabled:
                continue
            if t.__class__ is not state_cls:
                check_state(state_cls, t, inst.where, f"action {inst.name}")
            if assumptions and not all(a(spec, s, inst.step, t) for a in assumptions):
                continue
            enabled = True
            transitions += 1
            fired[inst.name] += 1
            for p in step_props:
                if p.name not in ex.violated_step and not _judge_step(p, spec, s, inst, t):
                    ex.violated_step[p.name] = (i, k, t)
            j = index.get(t)
            if j is None:
                if max_states is not None and len(states) >= max_states:
                    ex.hit_state_bound = True
                    continue
                if validate:
                    _check_changed(state_cls, s, t, inst.where, f"action {inst.name}")
                j = admit(t, i, k, d + 1)
            if edges is not None:
                edges.extend((i, k, j))
        if not enabled:
            ex.terminal.append(i)
            for p in endings:
                if p.name not in ex.violated_at and not _judge(p, spec, s):
                    ex.violated_at[p.name] = i
        i += 1
        if opts.on_progress is not None and i >= next_report:
            next_report = i + opts.progress_every
            opts.on_progress(Progress(len(states), len(states) - i, d, transitions, time.perf_counter() - started))

    ex.transitions = transitions
    ex.fired = fired
    if endings and edges is not None:
        ex.lasso = _find_lasso(ex)
    ex.seconds = time.perf_counter() - started
    if opts.on_progress is not None:
        opts.on_progress(Progress(len(states), 0, ex.max_depth, transitions, ex.seconds))
    return ex


Plan = list[tuple[list[int], Callable | None, dict[Any, int]]]


def _firing_plan(compiled: Compiled, use_hints: bool) -> Plan:
    """Per action: its instance indices, its hint (or None), and a map from hinted arguments to instance."""
    plan: Plan = []
    for name in compiled.actions:
        ks = [k for k, inst in enumerate(compiled.instances) if inst.name == name]
        hint = compiled.hints.get(name) if use_hints else None
        lookup: dict[Any, int] = {}
        for k in ks:
            args = compiled.instances[k].args
            lookup[args[0] if len(args) == 1 else args] = k
        plan.append((ks, hint, lookup))
    return plan


def _instances_to_fire(plan: Plan, spec: object, s: State) -> list[int]:
    """The instance indices worth firing in ``s``, in declaration order (as without hints)."""
    out: list[int] = []
    for ks, hint, lookup in plan:
        if hint is None:
            out.extend(ks)
            continue
        out.extend(sorted({lookup[a] for a in hint(spec, s) if a in lookup}))
    return out


def _verify_hints(compiled: Compiled, s: State, fired: list[int]) -> None:
    """SpecError if an instance a hint left out is enabled in ``s``."""
    chosen = set(fired)
    for k, inst in enumerate(compiled.instances):
        if k in chosen:
            continue
        try:
            inst.func(compiled.spec, s, *inst.args)
        except Disabled:
            continue
        raise SpecError(f"the hint of {inst.name} leaves out {compiled.show_step(inst.step)}, which is enabled",
                        where=inst.where, fix="make the hint return every argument the guards may allow")


def _check_changed(state_cls: type[State], s: State, t: State, where: object, what: str) -> None:
    """Type-check only the fields a step changed (the others are the parent's, already checked)."""
    types = state_cls.types
    for name, old, new in zip(state_cls.fields, s, t):
        if new is not old and not types[name].contains(new):
            check_state(state_cls, t, where, what)  # raises, naming the field


def _judge(p: Property, spec: object, s: State) -> bool:
    verdict = p.func(spec, s)
    if verdict is True or verdict is False:
        return verdict
    raise SpecError(f"property returned {verdict!r}, not a bool", where=p.where,
                    fix="return True or False")


def _judge_step(p: Property, spec: object, s: State, inst: object, t: State) -> bool:
    verdict = p.func(spec, s, inst.step, t)  # type: ignore[attr-defined]
    if verdict is True or verdict is False:
        return verdict
    raise SpecError(f"property returned {verdict!r}, not a bool", where=p.where,
                    fix="return True or False")


def _find_lasso(ex: Exploration) -> tuple[int, list[tuple[int, int]]] | None:
    """A cycle of reachable states, if any: an execution that never ends."""
    import networkx as nx

    graph = nx.DiGraph()
    edges = ex.edges
    assert edges is not None
    graph.add_nodes_from(range(len(ex.states)))
    for n in range(0, len(edges), 3):
        graph.add_edge(edges[n], edges[n + 2], via=edges[n + 1])
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return None
    entry = cycle[0][0]
    return entry, [(graph.edges[a, b]["via"], b) for a, b in cycle]
