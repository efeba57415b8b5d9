"""What one explicit search found, and how verdicts and traces are read from it.

States are numbered in discovery order (their *id*); per id the store keeps a parent, the
instance that reached it and its depth, so every trace is a walk of parent links. In the
full store the states themselves are kept; otherwise a trace is rebuilt by replaying the
steps through the spec (under symmetry, choosing at each step an instance whose successor
has the stored representative).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..errors import EngineBug
from ..spec import LIVENESS, Compiled, Disabled, Property, PropertyKind
from ..state import State
from ..trace import Trace
from ..verdict import PropertyResult, Verdict
from .flat import fingerprint_int
from .liveness import refute
from .memory import OverBudget, Scratch, show


class Cut(StrEnum):
    """Why a search did not explore every reachable state (its verdicts then say "up to bound")."""

    STATE_BOUND = "state bound"
    DEPTH_BOUND = "depth bound"
    MEMORY_BUDGET = "memory budget"
    TIME_LIMIT = "time limit"


NOT_SHORTEST = "found under partial-order reduction: a real trace, not necessarily a shortest one"


@dataclass
class Exploration:
    """What a search found: the states, how each was first reached, and the verdicts' evidence.

    States are numbered in discovery order (their *id*). ``states`` holds them in the full
    store; in the compact store it is empty and :meth:`state` rebuilds one by replay.
    """

    compiled: Compiled
    properties: list[Property]
    compact: bool = False
    canonical: Callable[[State], State] | None = None
    size: int = 0
    states: list[State] = field(default_factory=list)
    fingerprints: array = field(default_factory=lambda: array("Q"))
    initial_ids: list[int] = field(default_factory=list)
    parent: array = field(default_factory=lambda: array("i"))
    via: array = field(default_factory=lambda: array("i"))
    depth: array = field(default_factory=lambda: array("I"))
    levels: int | None = None  # the native search: its number of nonempty levels, when it set depth whole
    edges: array | None = None  # flat (source, instance, target) triples
    marks: array | None = None  # per state, the witness bits of liveness.marks (a search keeping no states)
    transitions: int = 0
    terminal: list[int] = field(default_factory=list)
    hit_state_bound: bool = False
    hit_memory_bound: int = 0  # the memory budget (bytes) the search reached; 0: not reached
    hit_depth_bound: bool = False
    hit_time_limit: float = 0.0  # the time limit (seconds) the search reached; 0: not reached
    memory_budget: int | None = None  # the budget the search ran under (bytes; None: none)
    scratch_dir: str = ""  # where the checks after the search put large arrays under the budget ("": nowhere)
    resident_at_start: int = 0  # the native search: this process's resident bytes when it began
    search_peak_resident: int = 0  # and its peak while it searched (before the arrays are handed to Python)
    spilled: int = 0  # bytes the native search moved to disk to stay within its memory budget (0: none)
    spill_dir: str = ""  # where it spilled them
    fired: dict[str, int] = field(default_factory=dict)  # steps per action
    fired_instances: list[int] = field(default_factory=list)  # steps per action instance (every backend)
    violated_at: dict[str, int] = field(default_factory=dict)  # always, at_end, sometimes (witness)
    violated_step: dict[str, tuple[int, int, State]] = field(default_factory=dict)
    lasso: tuple[int, list[tuple[int, int]]] | None = None  # (entry state, cycle edges)
    seconds: float = 0.0
    shortest: bool = True  # traces are shortest ones (false under partial-order reduction)
    key: Callable[[State], int] | None = None  # the compact store's fingerprint (default fingerprint_int)
    fallback: str = ""  # why SearchOptions(compiled=True) searched in plain mode ("" when it did not)
    native: str = ""  # where the native search's library came from ("" when the search was not native)
    native_from_cache: bool = False  # the native library was read from the cache, not compiled
    native_seconds: float = 0.0  # the time to get the native library (compiling it, or finding it)
    native_fallback: str = ""  # why SearchOptions(native=True) searched in Python ("" when it did not)
    ends_checked: bool = False  # cycles were looked for (so `at_end` verdicts are exact)
    ends_unknown: str = ""  # why a cycle that exists was not drawn (the memory budget), "" when none
    plan: str = ""  # the one line saying which backend and store searched, and why
    code_origin: str = ""  # where the generated successor code came from ("" when none ran)
    code_source: str = ""  # that code's Python text

    @property
    def cuts(self) -> tuple[Cut, ...]:
        """Every reason the search is not exhaustive (none: it is)."""
        return tuple(cut for cut, hit in ((Cut.STATE_BOUND, self.hit_state_bound),
                                          (Cut.DEPTH_BOUND, self.hit_depth_bound),
                                          (Cut.MEMORY_BUDGET, self.hit_memory_bound),
                                          (Cut.TIME_LIMIT, self.hit_time_limit)) if hit)

    @property
    def bounded(self) -> bool:
        return bool(self.cuts)

    @property
    def max_depth(self) -> int:
        if self.levels is not None:  # a search that counted its levels: no pass over 10^7 depths
            return self.levels - 1
        return max(self.depth) if self.depth else 0

    @property
    def never_enabled(self) -> list[str]:
        """Actions that no reachable state enables (a sign of a guard that is too strong)."""
        return [a for a in self.compiled.actions if not self.fired.get(a)]

    def path_to(self, sid: int) -> list[tuple[int, int]]:
        """``(instance, state id)`` pairs from an initial state to ``sid`` (the first is ``(-1, initial)``)."""
        path = []
        while self.parent[sid] >= 0:
            path.append((self.via[sid], sid))
            sid = self.parent[sid]
        path.append((-1, sid))
        path.reverse()
        return path

    def trace_to(self, sid: int, prop: str = "", kind: str = "counterexample") -> Trace:
        """The shortest trace to state ``sid``, in concrete states that replay through the spec.

        With the full store and no symmetry, the stored states are the trace. Otherwise
        the steps are replayed from the initial state; under symmetry each step is the
        instance whose successor has the stored representative.
        """
        path = self.path_to(sid)
        inst = self.compiled.instances
        if not self.compact and self.canonical is None:
            steps = tuple((inst[k].step, self.states[s]) for k, s in path[1:])
            return Trace(self.states[path[0][1]], steps, prop, kind)
        current = self._initial_concrete(path[0][1])
        first = current
        steps_out = []
        for k, target in path[1:]:
            step, current = self._replay_step(current, k, target)
            steps_out.append((step, current))
        return Trace(first, tuple(steps_out), prop, kind)

    def state(self, sid: int) -> State:
        """State ``sid`` (a concrete member of its class under symmetry)."""
        if not self.compact and self.canonical is None:
            return self.states[sid]
        trace = self.trace_to(sid)
        return trace.steps[-1][1] if trace.steps else trace.initial

    def _matches(self, t: State, sid: int) -> bool:
        rep = self.canonical(t) if self.canonical else t
        if self.compact:
            return (self.key or fingerprint_int)(rep) == self.fingerprints[sid]
        return rep == self.states[sid]

    def _initial_concrete(self, sid: int) -> State:
        for s in self.compiled.initial:
            if self._matches(s, sid):
                return s
        raise EngineBug(f"no initial state matches stored state {sid}")

    def _replay_step(self, current: State, k: int, target: int, same_action: bool = False) -> tuple[Any, State]:
        """The step from ``current`` into stored state ``target``: instance ``k`` (under symmetry,
        any instance whose successor has the stored representative; with ``same_action``, any
        of ``k``'s action, which a liveness loop's fairness needs)."""
        name = self.compiled.instances[k].name if same_action and k >= 0 else None
        found = self._find_step(current, k, lambda inst, t: (name is None or inst.name == name)
                                and self._matches(t, target))
        if found is None:
            raise EngineBug(f"cannot rebuild the step into stored state {target}")
        return found

    def _find_step(self, current: State, k: int, accept: Callable[[Any, State], bool]) -> tuple[Any, State] | None:
        """The first step from ``current`` that the assumptions allow and ``accept`` takes, trying
        instance ``k`` first (and, under symmetry, every other instance after it)."""
        spec = self.compiled.spec
        instances = self.compiled.instances
        if k < 0:  # a step the store kept without its instance: any instance into the target
            order = list(range(len(instances)))
        else:
            order = [k] + [j for j in range(len(instances)) if j != k] if self.canonical else [k]
        for j in order:
            inst = instances[j]
            try:
                t = inst.func(spec, current, *inst.args)
            except Disabled:
                continue
            if all(a.func(spec, current, inst.step, t) for a in self.compiled.active_assumptions) and accept(inst, t):
                return inst.step, t
        return None

    def result(self, prop: Property) -> PropertyResult:
        """The verdict on one property, with its shortest trace."""
        base = dict(name=prop.name, kind=prop.kind, engine="explicit", states=self.size,
                    transitions=self.transitions, depth=self.max_depth, seconds=self.seconds,
                    assumptions=tuple(a.name for a in self.compiled.active_assumptions))
        name = prop.name
        if prop.kind == PropertyKind.SOMETIMES:
            if name in self.violated_at:
                trace = self.trace_to(self.violated_at[name], name, "witness")
                reason = "" if self.shortest else NOT_SHORTEST
                return PropertyResult(verdict=Verdict.HOLDS, trace=trace, reason=reason, **base)
            if self.bounded:
                reason = f"no witness within the bound ({self._bound_text()})"
                return PropertyResult(verdict=Verdict.UNKNOWN, reason=reason, **base)
            return PropertyResult(verdict=Verdict.VIOLATED, reason="no reachable state is a witness", **base)
        if prop.kind in LIVENESS:
            return self._liveness_result(prop, base)
        trace = None
        if prop.kind == PropertyKind.STEP and name in self.violated_step:
            src, k, dst = self.violated_step[name]
            head = self.trace_to(src, name)
            last = head.steps[-1][1] if head.steps else head.initial
            step, t = self._replay_step_to_value(last, k, dst, prop)
            trace = Trace(head.initial, (*head.steps, (step, t)), name)
        elif name in self.violated_at:
            trace = self.trace_to(self.violated_at[name], name)
        elif prop.kind == PropertyKind.AT_END and self.lasso is not None:
            entry, cycle = self.lasso
            head = self.trace_to(entry, name)
            trace = self._lasso_trace(head, cycle, name)
        if trace is not None:
            reason = "" if self.shortest else NOT_SHORTEST
            return PropertyResult(verdict=Verdict.VIOLATED, trace=trace, reason=reason, **base)
        if prop.kind == PropertyKind.AT_END and self.ends_unknown:  # a cycle exists, too large to draw
            return PropertyResult(verdict=Verdict.UNKNOWN, reason=self.ends_unknown, **base)
        if prop.kind == PropertyKind.AT_END and not self.ends_checked:
            return PropertyResult(verdict=Verdict.UNKNOWN, reason="the compact store keeps no edges, so executions "
                                  "that never end were not looked for; use the full store", **base)
        if self.bounded:
            return PropertyResult(verdict=Verdict.HOLDS_UP_TO_BOUND, reason=self._bound_text(), **base)
        return PropertyResult(verdict=Verdict.HOLDS, **base)

    def _liveness_result(self, prop: Property, base: dict[str, Any]) -> PropertyResult:
        """A liveness verdict from the graph of every step (:mod:`.liveness`): the full store's,
        or the native search's steps and marks.

        Under symmetry the graph is of representatives. The reduction is a bisimulation that
        renames a step's arguments but keeps its action (:mod:`.reductions.symmetry`) and every
        property is invariant, so a class's states enable the same actions and agree on the
        goal: a fair cycle of classes is one of states and back (its loop replayed, with steps
        of the same actions, until a concrete state repeats)."""
        if self.plan.startswith("search: partitioned"):
            return PropertyResult(verdict=Verdict.UNKNOWN, reason="liveness needs every state and step in one "
                                  "process: check it without --distributed/--checkpoint", **base)
        if self.edges is None or (self.compact and self.marks is None) or not self.shortest:
            return PropertyResult(verdict=Verdict.UNKNOWN, reason="liveness needs every state and step: the full "
                                  "store with its edges (or the native search), no partial-order reduction",
                                  **base)
        if self.bounded:  # a cut state looks like a dead end, and its cut steps are not seen as enabled
            return PropertyResult(verdict=Verdict.UNKNOWN, reason=f"a liveness property needs the whole graph "
                                  f"({self._bound_text()})", **base)
        try:
            found = refute(self, prop, Scratch(self.memory_budget, self.scratch_dir))
        except OverBudget as over:
            return PropertyResult(verdict=Verdict.UNKNOWN, reason=over.reason, **base)
        if found is None:
            return PropertyResult(verdict=Verdict.HOLDS, **base)
        head = self.trace_to(found.trigger, prop.name)
        stem = self._extend(head, found.path)
        trace = stem if found.loop is None else self._lasso_trace(stem, found.loop, prop.name, same_action=True)
        return PropertyResult(verdict=Verdict.VIOLATED, trace=trace, **base)

    def _extend(self, head: Trace, path: list[tuple[int, int]]) -> Trace:
        """``head`` followed by the ``(instance, state id)`` steps of ``path`` (replayed when the
        store keeps no states)."""
        inst = self.compiled.instances
        if not self.compact and self.canonical is None:
            return Trace(head.initial, head.steps + tuple((inst[k].step, self.states[t]) for k, t in path), head.prop,
                         head.kind)
        current = head.steps[-1][1] if head.steps else head.initial
        steps = list(head.steps)
        for k, target in path:
            step, current = self._replay_step(current, k, target, same_action=True)
            steps.append((step, current))
        return Trace(head.initial, tuple(steps), head.prop, head.kind)

    def _replay_step_to_value(self, current: State, k: int, recorded: State, prop: Property) -> tuple[Any, State]:
        """The violating step itself: instance ``k`` (or, under symmetry, its image) from ``current``.

        Under symmetry another instance may reach the same class without violating
        ``prop``, so the step must also violate it."""
        spec = self.compiled.spec

        def violates(inst: Any, t: State) -> bool:
            rep = self.canonical(t) if self.canonical else t
            return rep == recorded and not prop.func(spec, current, inst.step, t)

        found = self._find_step(current, k, violates)
        if found is None:
            raise EngineBug("cannot rebuild the violating step")
        return found

    def _lasso_trace(self, head: Trace, cycle: list[tuple[int, int]], name: str, same_action: bool = False) -> Trace:
        """``head`` followed by the cycle; under symmetry the stored cycle returns only to the
        same class, so it is replayed concretely until a concrete state comes back."""
        inst = self.compiled.instances
        if self.canonical is None and not self.compact:
            loop = tuple((inst[k].step, self.states[t]) for k, t in cycle)
            return Trace(head.initial, head.steps + loop, name, loop_start=len(head.steps))
        current = head.steps[-1][1] if head.steps else head.initial
        steps = list(head.steps)
        starts = {current: len(steps)}
        while True:  # each round ends in the entry's class, which is finite
            for k, target in cycle:
                step, current = self._replay_step(current, k, target, same_action)
                steps.append((step, current))
            if current in starts:
                return Trace(head.initial, tuple(steps), name, loop_start=starts[current])
            starts[current] = len(steps)

    def note_state(self, sid: int, bad: tuple[int, ...], hit: tuple[int, ...], ends: tuple[int, ...],
                   terminal: bool) -> None:
        """Record what state ``sid``'s expansion found: violated invariants, witnesses, an end."""
        names = self._names
        for i in bad:
            self.violated_at.setdefault(names[i], sid)
        for i in hit:
            self.violated_at.setdefault(names[i], sid)
        if terminal:
            self.terminal.append(sid)
            for i in ends:
                self.violated_at.setdefault(names[i], sid)

    def note_step(self, sid: int, k: int, t: Any, step_bad: tuple[int, ...]) -> None:
        """Record the first step (from ``sid`` by instance ``k`` to ``t``) that violates each step property."""
        for i in step_bad:
            name = self._names[i]
            if name not in self.violated_step:
                self.violated_step[name] = (sid, k, t)

    def add(self, t: Any, src: int, k: int, d: int, fp: int | None) -> int:
        """Number a new state (its value kept in the full store, its fingerprint in the compact one)."""
        sid = self.size
        self.size += 1
        self.parent.append(src)
        self.via.append(k)
        self.depth.append(d)
        if fp is None:
            self.states.append(t)
        else:
            self.fingerprints.append(fp)
        return sid

    @property
    def _names(self) -> list[str]:
        names = self.__dict__.get("_names_cache")
        if names is None:
            names = self.__dict__["_names_cache"] = [p.name for p in self.properties]
        return names

    def _bound_text(self) -> str:
        said = {Cut.STATE_BOUND: f"state bound {self.size} reached", Cut.DEPTH_BOUND: "depth bound reached",
                Cut.MEMORY_BUDGET: f"memory budget {show(self.hit_memory_bound)} reached at {self.size:,} states; "
                                   "raise it with --memory",
                Cut.TIME_LIMIT: f"time limit {self.hit_time_limit:g} s reached at {self.size:,} states; "
                                "raise it with --time-limit"}
        return ", ".join(said[cut] for cut in self.cuts)
