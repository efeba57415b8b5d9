"""Random simulation: seeded random walks that look for violations and measure their coverage.

When a configuration is too large to enumerate, walks still find bugs (TLC's simulation mode):
each walk starts in an initial state and takes a uniformly chosen allowed step (enabled, and
allowed by every active assumption) up to a depth bound. A walk is judged as it goes, by the
plain Python run of each property over concrete states. A violation is replayed through the
spec (:func:`modelcheck.trace.replay`, which judges the property again), then shrunk by delta
debugging of its steps (a shorter step sequence that is still enabled and still violates),
then shortened by breadth-first searches of bounded size from each state on it (a shorter
way to a violation from a state near it), and the shrunk trace is replayed again.

Walks are deterministic for a seed: walk ``i`` draws from its own generator seeded with
``(seed, i)``, so the same seed and ``walks`` give the same walks, violation and coverage. A
``seconds`` budget makes the *number* of walks depend on the machine. Walks run in chunks of
:data:`CHUNK` on forked worker processes (``workers``); the chunks are taken in a fixed order
and the first violation in that order wins, so the outcome is the same for any number of
workers.

A swarm (``swarm`` K, SPIN's swarm verification) runs K searches side by side: the plain one
and K - 1 others, each with its own seeds, its own depth bound and a weight per action
(:func:`swarm_biases`), so that rarely taken actions are sometimes taken often. Coverage is
reported per search and as the union of all of them.

Coverage counts action instances hit and never hit, distinct values per field and distinct
states. The size of the state space is estimated by capture–recapture over two independent
batches (even and odd walks), with Chapman's estimator ``(n1+1)(n2+1)/(m+1) - 1``. Random
walks do not catch every state with the same probability (states near the initial ones are
caught far more often), which biases the estimate low: it is an indication, not a bound.
Finding no violation is never a proof.
"""

from __future__ import annotations

import multiprocessing
import random
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .errors import UsageError
from .spec import Compiled, Disabled, Property, Step
from .state import State
from .trace import Trace, allowed_steps, replay, trace_to_json

JUDGED = ("always", "step", "at_end")  # sometimes properties (witnesses) are not judged by walks
BFS_BUDGET = 20_000  # states per breadth-first search when shortening a violation


@dataclass(frozen=True)
class Estimate:
    """Chapman's capture–recapture estimate from two batches of walks."""

    first: int  # distinct states in the first batch (even walks)
    second: int  # distinct states in the second batch (odd walks)
    both: int  # distinct states seen in both
    states: float  # the estimated number of reachable states

    @staticmethod
    def chapman(first: set, second: set) -> Estimate:
        n1, n2, m = len(first), len(second), len(first & second)
        return Estimate(n1, n2, m, (n1 + 1) * (n2 + 1) / (m + 1) - 1)


@dataclass
class Coverage:
    """What the walks saw."""

    instances_hit: dict[str, int]  # action instance label → steps taken by it
    instances_never_hit: list[str]
    field_values: dict[str, int]  # field → distinct values seen
    distinct_states: int
    estimate: Estimate


@dataclass(frozen=True)
class Bias:
    """How one search walks: its depth bound and a weight per action (``None``: every allowed step alike).

    A plain simulation is one unbiased search; ``--swarm K`` runs K of them, differently
    biased (:func:`swarm_biases`), as SPIN's swarm verification runs many small diverse searches.
    """

    depth: int
    weights: tuple[tuple[str, float], ...] | None = None  # (action, weight); an action not named weighs 1

    def per_instance(self, compiled: Compiled) -> list[float] | None:
        if self.weights is None:
            return None
        by_action = dict(self.weights)
        return [by_action.get(inst.name, 1.0) for inst in compiled.instances]


WEIGHTS = (0.05, 0.3, 1.0, 1.0, 3.0)  # what a swarm search may weigh an action by


def swarm_biases(compiled: Compiled, depth: int, k: int, seed: int) -> list[Bias]:
    """K biases for a swarm: the first is the plain search (uniform steps, ``depth``); each other one
    draws, from its own generator seeded by ``(seed, i)``, a depth bound between ``depth // 2`` and
    ``depth`` and a weight per action from :data:`WEIGHTS` (rare, less, as is, more often)."""
    out = [Bias(depth)]
    for i in range(1, k):
        rng = random.Random(f"swarm:{seed}:{i}")
        d = rng.randint(max(1, depth // 2), depth)
        out.append(Bias(d, tuple((name, rng.choice(WEIGHTS)) for name in compiled.actions)))
    return out


@dataclass
class Violation:
    """A property a walk violated: the walk's trace and its shrunk form, both replayed."""

    prop: str
    walk: int
    trace: Trace
    shrunk: Trace
    search: int = 0  # which search of a swarm (0 without one)


@dataclass
class Search:
    """One search of a swarm: its bias and what its walks saw."""

    bias: Bias
    walks: int
    steps: int
    distinct_states: int
    estimate: Estimate


@dataclass
class Simulation:
    """The outcome of :func:`simulate`."""

    seed: int
    depth: int
    walks: int
    steps: int
    seconds: float
    properties: list[str]
    violation: Violation | None
    coverage: Coverage  # of every walk (under a swarm: the union of its searches)
    not_judged: list[str] = field(default_factory=list)  # sometimes properties: walks do not judge them
    workers: int = 1
    searches: list[Search] = field(default_factory=list)  # per search of a swarm (empty without one)
    found_after: float | None = None  # seconds from the start to the violating walk's answer (before shrinking)


CHUNK = 8  # walks per task; fixed, so the walks run (and so every output) do not depend on the workers


@dataclass
class _Chunk:
    """What one task's walks saw: the walks of one search, in order, up to the first violation."""

    search: int
    start: int
    walks: int = 0
    steps: int = 0
    hits: list[int] = field(default_factory=list)  # per action instance
    batches: tuple[set, set] = field(default_factory=lambda: (set(), set()))  # plain tuples, even and odd walks
    bad: tuple[int, str] | None = None  # (walk, property) of a violation


# Set before the workers fork (inherited, never pickled): the configuration, the judged properties, the biases.
_job: dict[str, Any] = {}


def _walk_rng(seed: int, search: int, walk: int) -> random.Random:
    """Walk ``walk`` of search ``search``'s generator (the plain search's keeps the one-search seeds)."""
    return random.Random(f"{seed}:{walk}" if search == 0 else f"{seed}:{search}:{walk}")


def _run_chunk(task: tuple[int, int, int, float | None]) -> _Chunk:
    """Walks ``start`` .. ``stop - 1`` of one search (stopping at a violation, or at ``deadline``)."""
    search, start, stop, deadline = task
    compiled, judged, seed = _job["compiled"], _job["judged"], _job["seed"]
    bias = _job["biases"][search]
    weights = bias.per_instance(compiled)
    out = _Chunk(search, start, hits=[0] * len(compiled.instances))
    for w in range(start, stop):
        if deadline is not None and time.monotonic() >= deadline:
            break
        path, bad, ks = _walk(compiled, judged, _walk_rng(seed, search, w), bias.depth, weights)
        seen = out.batches[w % 2]
        for s in path.states():
            seen.add(tuple(s))
        for k in ks:
            out.hits[k] += 1
        out.steps += len(path)
        out.walks += 1
        if bad is not None:
            out.bad = (w, bad.name)
            break
    return out


def _init_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to report


def _tasks(searches: int, walks: int | None, deadline: float | None) -> Iterator[tuple[int, int, int, float | None]]:
    """Chunks of walks, round robin over the searches, in a fixed order (endless with a time budget)."""
    start = 0
    while walks is None or start < walks:
        stop = start + CHUNK if walks is None else min(start + CHUNK, walks)
        for search in range(searches):
            yield search, start, stop, deadline
        start = stop


def _chunks(tasks: Iterator[tuple[int, int, int, float | None]], workers: int,
            more: Callable[[], bool]) -> Iterator[_Chunk]:
    """The tasks' answers in task order, computed here or on ``workers`` forked processes; stops
    submitting when ``more()`` says so. Closing the iterator cancels what is still queued."""
    if workers <= 1:
        for task in tasks:
            if not more():
                return
            yield _run_chunk(task)
        return
    executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                                   initializer=_init_worker)
    pending: deque = deque()
    try:
        for task in tasks:
            if not more():
                break
            pending.append(executor.submit(_run_chunk, task))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for f in pending:
            f.cancel()
        executor.shutdown(wait=True, cancel_futures=True)


def simulate(compiled: Compiled, properties: Sequence[Property], depth: int, seed: int,
             walks: int | None = None, seconds: float | None = None,
             clock: Callable[[], float] = time.monotonic, workers: int = 1, swarm: int = 0) -> Simulation:
    """Run seeded random walks of at most ``depth`` steps until ``walks`` ran or ``seconds`` passed.

    ``workers`` processes share the walks (forked; the walks run and every output are the same
    for any number of workers, as long as ``walks`` is the budget). ``swarm`` K > 1 runs K
    differently biased searches (:func:`swarm_biases`), each ``walks`` walks (or all of them
    for ``seconds``), and reports their coverage one by one and as a union. Stops at the first
    violation in the walks' fixed order (replayed, shrunk, replayed again).
    """
    if depth < 1:
        raise UsageError("--depth must be at least 1")
    if (walks is None) == (seconds is None):
        raise UsageError("give exactly one of --walks N or --time SECONDS")
    if swarm < 0:
        raise UsageError("--swarm must be at least 1")
    judged = [p for p in properties if p.kind in JUDGED]
    biases = swarm_biases(compiled, depth, swarm, seed) if swarm > 1 else [Bias(depth)]
    start = clock()
    deadline = None if seconds is None else time.monotonic() + seconds
    n = len(compiled.instances)
    hits = [0] * n
    per = [_Chunk(i, 0, hits=[0] * n) for i in range(len(biases))]
    bad: _Chunk | None = None
    found_after = None
    _job.update(compiled=compiled, judged=judged, seed=seed, biases=biases)
    try:
        answers = _chunks(_tasks(len(biases), walks, deadline), workers,
                          lambda: seconds is None or clock() - start < seconds)
        try:
            for chunk in answers:
                mine = per[chunk.search]
                mine.walks += chunk.walks
                mine.steps += chunk.steps
                for b in (0, 1):
                    mine.batches[b].update(chunk.batches[b])
                for k, h in enumerate(chunk.hits):
                    hits[k] += h
                if chunk.bad is not None:
                    bad = chunk
                    found_after = clock() - start
                    break
        finally:
            answers.close()
    finally:
        _job.clear()
    violation = None
    if bad is not None and bad.bad is not None:
        w, name = bad.bad
        bias = biases[bad.search]
        prop = next(p for p in judged if p.name == name)
        path, _, _ = _walk(compiled, judged, _walk_rng(seed, bad.search, w), bias.depth,
                           bias.per_instance(compiled))
        violation = _confirm(compiled, prop, path, w)
        violation.search = bad.search
    cls = compiled.state_class
    union = (set().union(*(c.batches[0] for c in per)), set().union(*(c.batches[1] for c in per)))
    every = union[0] | union[1]
    labels = [compiled.show_step(inst.step) for inst in compiled.instances]
    coverage = Coverage(
        instances_hit={labels[k]: h for k, h in enumerate(hits) if h},
        instances_never_hit=[labels[k] for k, h in enumerate(hits) if not h],
        field_values={name: len({s[i] for s in every}) for i, name in enumerate(cls.fields)},
        distinct_states=len(every),
        estimate=Estimate.chapman(*union),
    )
    searches = [Search(bias, c.walks, c.steps, len(c.batches[0] | c.batches[1]), Estimate.chapman(*c.batches))
                for bias, c in zip(biases, per)] if swarm > 1 else []
    return Simulation(seed, depth, sum(c.walks for c in per), sum(c.steps for c in per), clock() - start,
                      [p.name for p in judged], violation, coverage,
                      [p.name for p in properties if p.kind not in JUDGED], max(1, workers), searches, found_after)


def _violated(compiled: Compiled, prop: Property, before: State | None, step: Step | None, after: State,
              terminal: bool) -> bool:
    spec = compiled.spec
    if prop.kind == "always":
        return not prop.func(spec, after)
    if prop.kind == "step":
        return step is not None and not prop.func(spec, before, step, after)
    return terminal and not prop.func(spec, after)  # at_end: judged where no step is allowed


def _walk(compiled: Compiled, judged: Sequence[Property], rng: random.Random, depth: int,
          weights: list[float] | None = None) -> tuple[Trace, Property | None, list[int]]:
    """One walk (and the action instances it took); stops at the first violated property
    (returned with the walk up to there). ``weights``: per action instance (None: uniform)."""
    s = compiled.initial[rng.randrange(len(compiled.initial))]
    initial, taken, ks = s, [], []
    before: State | None = None
    step: Step | None = None
    while True:
        options = list(_allowed(compiled, s))
        for prop in judged:
            if _violated(compiled, prop, before, step, s, not options):
                return Trace(initial, tuple(taken), prop.name), prop, ks
        if not options or len(taken) >= depth:
            return Trace(initial, tuple(taken)), None, ks
        if weights is None:
            k, chosen, nxt = options[rng.randrange(len(options))]
        else:
            k, chosen, nxt = rng.choices(options, [weights[o[0]] for o in options])[0]
        taken.append((chosen, nxt))
        ks.append(k)
        before, step, s = s, chosen, nxt


def _allowed(compiled: Compiled, s: State) -> Iterator[tuple[int, Step, State]]:
    """:func:`modelcheck.trace.allowed_steps` with each step's action instance index."""
    spec = compiled.spec
    for k, inst in enumerate(compiled.instances):
        try:
            nxt = inst.func(spec, s, *inst.args)
        except Disabled:
            continue
        if all(a.func(spec, s, inst.step, nxt) for a in compiled.active_assumptions):
            yield k, inst.step, nxt


def run_steps(compiled: Compiled, initial: State, steps: Iterable[Step], prop: Property) -> Trace | None:
    """The trace of ``steps`` from ``initial`` cut at its first violation of ``prop`` (None if none).

    None too when a step is not enabled or an assumption forbids it.
    """
    by_step = {inst.step: inst for inst in compiled.instances}
    spec = compiled.spec
    s, taken = initial, []
    before: State | None = None
    last: Step | None = None
    steps = list(steps)
    for n in range(len(steps) + 1):
        terminal = prop.kind == "at_end" and not _any_step(compiled, s)
        if _violated(compiled, prop, before, last, s, terminal):
            return Trace(initial, tuple(taken), prop.name)
        if n == len(steps):
            return None
        inst = by_step[steps[n]]
        try:
            nxt = inst.func(spec, s, *inst.args)
        except Disabled:
            return None
        if not all(a.func(spec, s, inst.step, nxt) for a in compiled.active_assumptions):
            return None
        taken.append((inst.step, nxt))
        before, last, s = s, inst.step, nxt
    return None


def shrink(compiled: Compiled, trace: Trace, prop: Property) -> Trace:
    """A shorter trace of ``prop``'s violation by delta debugging the steps (ddmin, complements only).

    Removes chunks of steps while the rest stays enabled and still violates, halving the chunk
    size down to single steps; the result is 1-minimal (no single step can be dropped).
    """
    best = trace
    chunk = max(1, len(best) // 2)
    while len(best) > 0:
        steps = [st for st, _ in best.steps]
        shrunk = False
        i = 0
        while i < len(steps):
            candidate = run_steps(compiled, best.initial, steps[:i] + steps[i + chunk:], prop)
            if candidate is not None and len(candidate) < len(best):
                best, steps, shrunk = candidate, [st for st, _ in candidate.steps], True
            else:
                i += chunk
        if chunk == 1 and not shrunk:
            break
        chunk = max(1, chunk // 2) if not shrunk else chunk
    return best


def shorten_by_search(compiled: Compiled, trace: Trace, prop: Property, budget: int = BFS_BUDGET) -> Trace:
    """A shorter trace found by breadth-first search from the states on ``trace``, if one is cheap to find.

    From each state ``i`` of the trace in turn, a BFS of at most ``budget`` states looks for a
    violation in fewer than ``len(trace) - i`` steps; the best one replaces the trace's tail.
    The result is the shortest violation within those searches, not a proven shortest one.
    """
    best = trace
    states = list(trace.states())
    i = 0
    while i < len(best):
        found = _bfs(compiled, states[i], prop, len(best) - i - 1, budget)
        if found is not None:
            best = Trace(best.initial, best.steps[:i] + found, prop.name)
            states = list(best.states())
        i += 1
    return best


def _bfs(compiled: Compiled, start: State, prop: Property, max_steps: int,
         budget: int) -> tuple[tuple[Step, State], ...] | None:
    """Steps from ``start`` to a violation of ``prop`` in at most ``max_steps`` steps (None if not seen)."""
    parent: dict[State, tuple[State, Step] | None] = {start: None}
    level = [start]
    for _ in range(max_steps):
        nxt_level = []
        for s in level:
            for taken_step, nxt in allowed_steps(compiled, s):
                if nxt in parent:
                    continue
                parent[nxt] = (s, taken_step)
                terminal = prop.kind == "at_end" and not _any_step(compiled, nxt)
                if _violated(compiled, prop, s, taken_step, nxt, terminal):
                    path = []
                    at = nxt
                    while parent[at] is not None:
                        before, step = parent[at]
                        path.append((step, at))
                        at = before
                    return tuple(reversed(path))
                nxt_level.append(nxt)
                if len(parent) > budget:
                    return None
        level = nxt_level
    return None


def _confirm(compiled: Compiled, prop: Property, trace: Trace, walk: int) -> Violation:
    replay(compiled, trace, prop)
    shrunk = shorten_by_search(compiled, shrink(compiled, trace, prop), prop)
    replay(compiled, shrunk, prop)
    return Violation(prop.name, walk, trace, shrunk)


def to_json(compiled: Compiled, sim: Simulation) -> dict:
    """The simulation as plain JSON data (what ``simulate --json`` writes)."""
    cov = sim.coverage
    v = sim.violation
    out = {
        "spec": type(compiled.spec).__name__,
        "params": dict(compiled.spec.params),
        "seed": sim.seed, "depth": sim.depth, "walks": sim.walks, "steps": sim.steps, "workers": sim.workers,
        "properties": sim.properties, "not_judged": sim.not_judged,
        "violation": None if v is None else {
            "property": v.prop, "search": v.search, "walk": v.walk, "length": len(v.trace),
            "shrunk_length": len(v.shrunk),
            "trace": trace_to_json(compiled, v.trace), "shrunk": trace_to_json(compiled, v.shrunk),
        },
        "coverage": {
            "instances_hit": cov.instances_hit, "instances_never_hit": cov.instances_never_hit,
            "field_values": cov.field_values, "distinct_states": cov.distinct_states,
            "estimate": _estimate_json(cov.estimate),
        },
    }
    if sim.searches:
        out["swarm"] = [{"search": i, "depth": s.bias.depth, "weights": dict(s.bias.weights or ()),
                         "walks": s.walks, "steps": s.steps, "distinct_states": s.distinct_states,
                         "estimate": _estimate_json(s.estimate)} for i, s in enumerate(sim.searches)]
    return out


def _estimate_json(est: Estimate) -> dict:
    return {"method": "chapman", "first": est.first, "second": est.second, "both": est.both,
            "states": round(est.states, 1)}


def _any_step(compiled: Compiled, s: State) -> bool:
    """Whether some step is allowed in ``s`` (an ending is a state with none)."""
    return any(True for _ in allowed_steps(compiled, s))
