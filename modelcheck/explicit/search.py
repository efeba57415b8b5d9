"""The explicit engine: exhaustive breadth-first search over a spec's reachable states.

One generic loop (as networkx's BFS), level by level: expand every state of one depth
(fire every action instance, keep the steps every active assumption allows, judge the
properties; see :mod:`modelcheck.explicit.interpreted`), then merge the successors in state order and
instance order, deduplicating them. BFS order makes every recorded counterexample a
shortest one. The full store keys states by value (exact); the compact store keeps only
64-bit fingerprints, looks a chunk of successors up at once (:mod:`modelcheck.explicit.compact`),
and rebuilds traces by replaying the steps. Only plain tuples, ints
and strings are hashed, and nothing iterates a set, so counts and traces do not depend
on ``PYTHONHASHSEED``, nor on the number of worker processes.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import marshal
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import EngineBug, UsageError
from ..spec import Compiled, Disabled, Property
from ..state import State
from ..trace import Trace
from ..verdict import PropertyResult, Verdict
from .compact import FingerprintSet, PackedLevel, level_factory
from .cycles import find_lasso
from .interpreted import Expander
from .parallel import PackedPool, Pool
from .plan import plan


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
    ``keep_edges`` records every transition, for the reachability graph (default: yes in
    the full store, which is for runs small enough to draw; the compact store keeps none);
    ``validate`` checks each new state's fields against their declared types;
    ``use_hints`` fires only the arguments an action's ``hint`` names (same states, same
    order, fewer calls) and ``check_hints`` verifies that no other argument is enabled;
    ``workers`` expands each level on that many processes (same result);
    ``store`` is ``full`` (every state kept: graphs, conformance) or ``compact`` (64-bit
    fingerprints only, for large runs), ``None`` for the plan's choice; ``backend`` is
    ``interpreted`` (the library's default), ``compiled``, ``native`` or ``auto`` (the
    command line's default: the fastest sound search, see :mod:`modelcheck.explicit.plan`);
    ``symmetry`` and ``por`` turn on the reductions of :mod:`modelcheck.explicit.reductions.hooks`;
    ``compiled`` runs the generated successor function of :mod:`modelcheck.explicit.compiled.expander`
    over flat int tuples (same states, order and verdicts; when
    the spec cannot be compiled the search runs plain and ``Exploration.fallback`` says why);
    ``native`` runs the compiled mode's code and the compact-store search as C
    (:mod:`modelcheck.explicit.native.driver`: same states, ids, verdicts and traces; one process; when it
    cannot run, the compiled Python search runs and ``Exploration.native_fallback`` says why).
    """

    max_states: int | None = None
    max_depth: int | None = None
    keep_edges: bool | None = None
    validate: bool = True
    use_hints: bool = True
    check_hints: bool = False
    workers: int = 1
    store: str | None = None
    backend: str = "interpreted"
    symmetry: bool = False
    por: bool = False
    compiled: bool = False
    native: bool = False
    on_progress: Callable[[Progress], None] | None = None


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
    shortest: bool = True  # traces are shortest ones (false under partial-order reduction)
    key: Callable[[State], int] | None = None  # the compact store's fingerprint (default fingerprint_int)
    fallback: str = ""  # why SearchOptions(compiled=True) searched in plain mode ("" when it did not)
    native: str = ""  # where the native search's library came from ("" when the search was not native)
    native_from_cache: bool = False  # the native library was read from the cache, not compiled
    native_seconds: float = 0.0  # the time to get the native library (compiling it, or finding it)
    native_fallback: str = ""  # why SearchOptions(native=True) searched in Python ("" when it did not)
    ends_checked: bool = False  # cycles were looked for (so `at_end` verdicts are exact)
    plan: str = ""  # the one line saying which backend and store searched, and why
    code_origin: str = ""  # where the generated successor code came from ("" when none ran)
    code_source: str = ""  # that code's Python text

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

    def _replay_step(self, current: State, k: int, target: int) -> tuple[Any, State]:
        """The step from ``current`` into stored state ``target``: instance ``k`` (under symmetry,
        any instance whose successor has the stored representative)."""
        found = self._find_step(current, k, lambda inst, t: self._matches(t, target))
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
        if prop.kind == "sometimes":
            if name in self.violated_at:
                trace = self.trace_to(self.violated_at[name], name, "witness")
                reason = "" if self.shortest else NOT_SHORTEST
                return PropertyResult(verdict=Verdict.HOLDS, trace=trace, reason=reason, **base)
            if self.bounded:
                reason = f"no witness within the bound ({self._bound_text()})"
                return PropertyResult(verdict=Verdict.UNKNOWN, reason=reason, **base)
            return PropertyResult(verdict=Verdict.VIOLATED, reason="no reachable state is a witness", **base)
        trace = None
        if prop.kind == "step" and name in self.violated_step:
            src, k, dst = self.violated_step[name]
            head = self.trace_to(src, name)
            last = head.steps[-1][1] if head.steps else head.initial
            step, t = self._replay_step_to_value(last, k, dst, prop)
            trace = Trace(head.initial, (*head.steps, (step, t)), name)
        elif name in self.violated_at:
            trace = self.trace_to(self.violated_at[name], name)
        elif prop.kind == "at_end" and self.lasso is not None:
            entry, cycle = self.lasso
            head = self.trace_to(entry, name)
            trace = self._lasso_trace(head, cycle, name)
        if trace is not None:
            reason = "" if self.shortest else NOT_SHORTEST
            return PropertyResult(verdict=Verdict.VIOLATED, trace=trace, reason=reason, **base)
        if prop.kind == "at_end" and not self.ends_checked:
            return PropertyResult(verdict=Verdict.UNKNOWN, reason="the compact store keeps no edges, so executions "
                                  "that never end were not looked for; use the full store", **base)
        if self.bounded:
            return PropertyResult(verdict=Verdict.HOLDS_UP_TO_BOUND, reason=self._bound_text(), **base)
        return PropertyResult(verdict=Verdict.HOLDS, **base)

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

    def _lasso_trace(self, head: Trace, cycle: list[tuple[int, int]], name: str) -> Trace:
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
                step, current = self._replay_step(current, k, target)
                steps.append((step, current))
            if current in starts:
                return Trace(head.initial, tuple(steps), name, loop_start=starts[current])
            starts[current] = len(steps)

    def _bound_text(self) -> str:
        cut = []
        if self.hit_state_bound:
            cut.append(f"state bound {self.size} reached")
        if self.hit_depth_bound:
            cut.append("depth bound reached")
        return ", ".join(cut)


NOT_SHORTEST = "found under partial-order reduction: a real trace, not necessarily a shortest one"


def explore(compiled: Compiled, properties: list[Property], options: SearchOptions | None = None) -> Exploration:
    """Search every reachable state of ``compiled`` and judge ``properties`` in each.

    :func:`modelcheck.explicit.plan.plan` picks the backend and store (``options.backend="auto"``:
    the interpreted search first, the fastest backend once the space is large); every
    choice gives the same states, ids, verdicts and shortest traces.
    """
    opts = options or SearchOptions()
    started = time.perf_counter()
    props = list(properties)
    chosen = plan(any(p.kind == "at_end" for p in props), opts, _compiler() if opts.backend == "auto" else None)
    if chosen.tier is not None:
        first = dataclasses.replace(opts, backend="interpreted", compiled=False, native=False, store="full",
                                    max_states=chosen.tier)
        ex = _search(compiled, props, first, started)
        if not ex.hit_state_bound:
            ex.plan = chosen.describe(ex.size)
            return ex
        del ex
    resolved = dataclasses.replace(opts, store=chosen.store, compiled=chosen.backend != "interpreted",
                                   native=chosen.backend == "native")
    ex = _search(compiled, props, resolved, started)
    ex.plan = chosen.describe(switched=chosen.tier is not None)
    return ex


def _compiler() -> str | None:
    """The C compiler's command, or ``None`` when this machine has none."""
    from .native import driver as native

    try:
        return " ".join(native.compiler())
    except native.NativeUnavailable:
        return None


def _search(compiled: Compiled, props: list[Property], opts: SearchOptions, started: float) -> Exploration:
    """One search with ``opts`` as resolved by the plan.

    Level by level: expand the states of one depth (here or on workers), then merge
    their successors in state order and instance order, so the result is the same for
    any number of workers.
    """
    if opts.native and not opts.compiled:
        opts = dataclasses.replace(opts, compiled=True)
    reduction = _reduction(compiled, props, opts)
    canonical = reduction.canonical if reduction else None
    flat, fallback = _flat_expander(compiled, props, opts, canonical)
    native_fallback = ""
    if opts.native:
        ex, native_fallback = _native(compiled, props, opts, flat, fallback, started)
        if ex is not None:
            return ex
        if opts.backend == "auto" and any(p.kind == "at_end" for p in props):
            opts = dataclasses.replace(opts, store="full")  # the compact Python store keeps no edges
    expander = flat or Expander(compiled, props, use_hints=opts.use_hints, check_hints=opts.check_hints,
                                validate=opts.validate, canonical=canonical,
                                ample=reduction.ample if reduction else None)
    endings = any(p.kind == "at_end" for p in props)
    compact = opts.store == "compact"
    if compact and opts.keep_edges:
        raise UsageError("the compact store keeps no edges: use the full store for graphs")
    keep_edges = (not compact) if opts.keep_edges is None else (opts.keep_edges or (endings and not compact))

    ex = Exploration(compiled, props, compact=compact, canonical=canonical, fallback=fallback,
                     native_fallback=native_fallback)
    if flat is not None:
        ex.code_origin, ex.code_source = code_origin(flat), getattr(flat, "flat", flat).source
    fingerprint = flat.fingerprint if flat else fingerprint_int
    por = expander.ample is not None
    ex.shortest = not por
    if keep_edges:
        ex.edges = array("q")
    edges = ex.edges
    index: dict[State, int] = {}  # full store: state -> id
    seen: set[int] = set()  # compact store under POR: fingerprints (answers one step at a time)
    batched = compact and not por  # compact store otherwise: FingerprintSet, a chunk of steps at a time
    store = FingerprintSet(signed=flat is not None)
    if flat is not None:
        ex.fingerprints = array("q")  # hash() of a flat state is signed
    new_level = level_factory(compiled.state_class) if flat and batched else list
    max_states, max_depth = opts.max_states, opts.max_depth
    instances = compiled.instances
    fired_by_instance = [0] * len(instances)
    names = [p.name for p in props]

    level: list[int] = []
    frontier = new_level()
    for s in flat.initial if flat else compiled.initial:
        s = expander.canonical(s) if expander.canonical else s
        fp = fingerprint(s) if compact else None
        if (fp in seen or fp in store) if compact else (s in index):
            continue
        if batched:
            store.add_new([fp])
        elif compact:
            seen.add(fp)
        else:
            index[s] = ex.size
        level.append(_admit(ex, s, -1, -1, 0, fp))
        frontier.append(s)
        ex.initial_ids.append(level[-1])

    # Python's cyclic collector would scan the search's millions of live tuples again and
    # again (about a fifth of a compiled search's time); the search makes no reference
    # cycles of its own, so it runs paused and collects only the young objects once a level.
    collecting = gc.isenabled()
    pool = packed_pool = None
    transitions = 0
    try:
        gc.disable()
        if opts.workers > 1 and isinstance(frontier, PackedLevel):
            packed_pool = PackedPool(expander, opts.workers, frontier.codec, len(instances))
        elif opts.workers > 1:
            pool = Pool(expander, opts.workers)
        d = 0
        while level:
            at_bound = max_depth is not None and d >= max_depth
            if at_bound:
                ex.hit_depth_bound = True
            next_level: list[int] = []
            next_frontier = new_level()
            if packed_pool:
                transitions += _packed_level(ex, packed_pool, level, frontier, not at_bound, d + 1, store, max_states,
                                             next_level, next_frontier, fired_by_instance, names)
                answers: Any = ()
            elif pool:
                answers = zip(frontier, pool.expand(frontier, [not at_bound] * len(level)))
            else:
                answers = ((s, expander.expand(s, not at_bound)) for s in frontier)
            level_end = ex.size  # ids below it have depth <= d
            fresh: set[int] = set()  # compact store under POR: fingerprints admitted at depth d + 1
            pending: list[tuple[int, int, Any]] = []  # batched: (source, instance, successor) not yet looked up
            pending_fps: list[int] = []
            for sid, (s, (bad, hit, ends, terminal, succ)) in zip(level, answers):
                if bad or hit or terminal:
                    _note_state(ex, sid, bad, hit, ends, terminal, names)
                if batched:  # the hot path of large runs: every step goes to the batch, nothing else
                    transitions += len(succ)
                    for k, t, step_bad in succ:
                        fired_by_instance[k] += 1
                        if step_bad:
                            _note_step(ex, sid, k, t, step_bad, names)
                        pending.append((sid, k, t))
                        pending_fps.append(fingerprint(t))
                    if len(pending) >= CHUNK:
                        _admit_batch(ex, store, pending, pending_fps, d + 1, max_states, next_level, next_frontier)
                    continue
                batch: list | None = succ
                while batch:
                    back = False  # a kept step leads to depth <= d: the POR cycle proviso (C3)
                    for k, t, step_bad in batch:
                        transitions += 1
                        fired_by_instance[k] += 1
                        if step_bad:
                            _note_step(ex, sid, k, t, step_bad, names)
                        if compact:
                            fp = fingerprint(t)
                            if fp in seen:
                                back = back or (por and fp not in fresh)
                                continue
                            if max_states is not None and ex.size >= max_states:
                                ex.hit_state_bound = True
                                continue
                            seen.add(fp)
                            if por:
                                fresh.add(fp)
                            next_level.append(_admit(ex, t, sid, k, d + 1, fp))
                            next_frontier.append(t)
                            continue
                        j = index.get(t)
                        if j is None:
                            if max_states is not None and ex.size >= max_states:
                                ex.hit_state_bound = True
                                continue
                            j = index[t] = _admit(ex, t, sid, k, d + 1, None)
                            next_level.append(j)
                            next_frontier.append(t)
                        elif j < level_end:
                            back = por
                        if edges is not None:
                            edges.extend((sid, k, j))
                    batch = None
                    if back and por and succ is not None:  # expand fully, once: every cycle keeps a full state
                        kept = {k for k, _, _ in succ}
                        batch = [x for x in expander.expand(s, True, full=True)[4] if x[0] not in kept]
                        succ = None
            _admit_batch(ex, store, pending, pending_fps, d + 1, max_states, next_level, next_frontier)
            if opts.on_progress is not None:
                opts.on_progress(Progress(ex.size, len(next_level), d, transitions, time.perf_counter() - started))
            level, frontier = next_level, next_frontier
            d += 1
            if collecting:
                gc.collect(0)
    finally:
        if collecting:
            gc.enable()
        for p in (pool, packed_pool):
            if p is not None:
                p.close()

    ex.transitions = transitions
    ex.fired = dict.fromkeys(compiled.actions, 0)
    for k, n in enumerate(fired_by_instance):
        ex.fired[instances[k].name] += n
    if endings and edges is not None:
        ex.lasso = find_lasso(ex.size, edges)
        ex.ends_checked = True
    if flat:
        flat.finish(ex)
    ex.seconds = time.perf_counter() - started
    return ex


CHUNK = 1 << 15  # successors looked up in the compact store at once


def _note_state(ex: Exploration, sid: int, bad: tuple[int, ...], hit: tuple[int, ...], ends: tuple[int, ...],
                terminal: bool, names: list[str]) -> None:
    """Record what state ``sid``'s expansion found: violated invariants, witnesses, an end."""
    for i in bad:
        ex.violated_at.setdefault(names[i], sid)
    for i in hit:
        ex.violated_at.setdefault(names[i], sid)
    if terminal:
        ex.terminal.append(sid)
        for i in ends:
            ex.violated_at.setdefault(names[i], sid)


def _note_step(ex: Exploration, sid: int, k: int, t: Any, step_bad: tuple[int, ...], names: list[str]) -> None:
    """Record the first step (from ``sid`` by instance ``k`` to ``t``) that violates each step property."""
    for i in step_bad:
        if names[i] not in ex.violated_step:
            ex.violated_step[names[i]] = (sid, k, t)


def _packed_level(ex: Exploration, pool: PackedPool, level: list[int], frontier: PackedLevel, successors: bool,
                  d: int, store: FingerprintSet, max_states: int | None, next_level: list[int],
                  next_frontier: PackedLevel, fired: list[int], names: list[str]) -> int:
    """Expand one packed level on ``pool``'s workers; admit the new successors at depth ``d``
    in the order they were generated (the ids of a one-process search); return the steps."""
    width = frontier.codec.size
    steps = 0
    for base, (events, step_events, counts, sources, via, fps, packed) in pool.expand(frontier.buf, successors):
        for i, bad, hit, ends, terminal in events:
            _note_state(ex, level[base + i], bad, hit, ends, terminal, names)
        for i, k, t, step_bad in step_events:
            _note_step(ex, level[base + i], k, t, step_bad, names)
        for k, n in enumerate(counts):
            fired[k] += n
        prints = np.frombuffer(fps, dtype=np.int64)
        steps += len(prints)
        src, inst = array("I"), array("I")
        src.frombytes(sources)
        inst.frombytes(via)
        for n in store.add_new(prints):
            if max_states is not None and ex.size >= max_states:
                ex.hit_state_bound = True
                break
            next_level.append(_admit(ex, None, level[base + src[n]], inst[n], d, int(prints[n])))
            next_frontier.append_packed(packed[n * width:(n + 1) * width])
    return steps


def _admit_batch(ex: Exploration, store: FingerprintSet, pending: list[tuple[int, int, Any]], fps: list[int],
                 d: int, max_states: int | None, level: list[int], frontier: Any) -> None:
    """Admit the new ones among ``pending`` successors (``fps`` their fingerprints) at depth
    ``d``, in the order they were generated, then empty both lists."""
    for n in store.add_new(fps):
        if max_states is not None and ex.size >= max_states:
            ex.hit_state_bound = True
            break
        src, k, t = pending[n]
        level.append(_admit(ex, t, src, k, d, fps[n]))
        frontier.append(t)
    pending.clear()
    fps.clear()


def _admit(ex: Exploration, t: State, src: int, k: int, d: int, fp: int | None) -> int:
    """Record a new state (its value in the full store, its fingerprint in the compact one)."""
    sid = ex.size
    ex.size += 1
    ex.parent.append(src)
    ex.via.append(k)
    ex.depth.append(d)
    if fp is None:
        ex.states.append(t)
    else:
        ex.fingerprints.append(fp)
    return sid


def fingerprint_int(s: tuple) -> int:
    """The compact store's 64-bit fingerprint of a state: blake2b of its marshal encoding.

    Marshal format 2 has no back-references, so equal states always encode alike; it is
    several times cheaper than the ``repr`` behind :func:`modelcheck.state.fingerprint`
    (the one shown to people), and never uses Python's salted ``hash()``.
    """
    return int.from_bytes(hashlib.blake2b(marshal.dumps(tuple(s), 2), digest_size=8).digest(), "little")


def _flat_expander(compiled: Compiled, props: list[Property], opts: SearchOptions,
                   canonical: Any) -> tuple[Any, str]:
    """The compiled expander when ``opts.compiled`` asks for one (under symmetry, with its
    successors mapped to representatives by generated code), else ``None``; and why not."""
    if not opts.compiled:
        return None, ""
    from .compiled.expander import flat_expander

    flat, why = flat_expander(compiled, props, use_hints=opts.use_hints, validate=opts.validate,
                              check_hints=opts.check_hints, reductions=opts.por)
    if flat is None or canonical is None:
        return flat, why
    from .compiled.flat_symmetry import SymmetricFlat, Unsupported, flat_canonicalizer

    try:
        return SymmetricFlat(flat, flat_canonicalizer(compiled, flat.layout, canonical)), ""
    except Unsupported as err:
        return None, f"symmetry over flat states: {err}"


def _native(compiled: Compiled, props: list[Property], opts: SearchOptions, flat: Any, fallback: str,
            started: float) -> tuple[Exploration | None, str]:
    """The native search's Exploration, or ``None`` and why the search runs in Python instead."""
    if flat is None:
        return None, f"the compiled mode is not available ({fallback})"
    if opts.store != "compact":
        return None, "the native search keeps the compact store only (--store compact)"
    if opts.symmetry or opts.por:
        return None, "reductions run in the Python search"
    if opts.keep_edges:
        return None, "the native search keeps no edges"
    from .native import driver as native

    try:
        lib = native.library(flat.source, flat.layout.width, len(compiled.instances), compiled.state_class,
                             len(props))
    except native.NativeUnavailable as err:
        return None, str(err)
    ex = Exploration(compiled, props, compact=True, native=lib.built.describe(),
                     native_from_cache=lib.built.from_cache, native_seconds=lib.built.seconds,
                     code_origin=code_origin(flat), code_source=flat.source)
    try:
        native.explore_native(ex, flat, lib, opts.max_states, opts.max_depth, opts.on_progress, started,
                              edges=any(p.kind == "at_end" for p in props))
    except native.Fault as err:
        return None, f"{err}; the Python search decides it"
    ex.seconds = time.perf_counter() - started
    return ex, ""


def code_origin(flat: Any) -> str:
    """Where the compiled mode's successor code came from, for the user deciding whether to wait."""
    flat = getattr(flat, "flat", flat)  # under symmetry, the expander it wraps
    if flat.from_cache:
        return f"compiled successor code: from the cache ({flat.codegen_seconds:.2f} s, {flat.cache_file})"
    kept = f", kept in {flat.cache_file}" if flat.cache_file else \
        " (not cached: MODELCHECK_CACHE_DIR is off, or its directory is not writable)"
    return f"compiled successor code: generated in {flat.codegen_seconds:.2f} s{kept}"


def _reduction(compiled: Compiled, props: list[Property], opts: SearchOptions) -> Any:
    if not (opts.symmetry or opts.por):
        return None
    from .reductions.hooks import build_reduction

    return build_reduction(compiled, props, symmetry=opts.symmetry, por=opts.por)
