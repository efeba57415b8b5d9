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
``seconds`` budget makes the *number* of walks depend on the machine. One process runs every
walk (this module does not fork).

Coverage counts action instances hit and never hit, distinct values per field and distinct
states. The size of the state space is estimated by capture–recapture over two independent
batches (even and odd walks), with Chapman's estimator ``(n1+1)(n2+1)/(m+1) - 1``. Random
walks do not catch every state with the same probability (states near the initial ones are
caught far more often), which biases the estimate low: it is an indication, not a bound.
Finding no violation is never a proof.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

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
    def chapman(first: set[State], second: set[State]) -> Estimate:
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


@dataclass
class Violation:
    """A property a walk violated: the walk's trace and its shrunk form, both replayed."""

    prop: str
    walk: int
    trace: Trace
    shrunk: Trace


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
    coverage: Coverage
    not_judged: list[str] = field(default_factory=list)  # sometimes properties: walks do not judge them


def simulate(compiled: Compiled, properties: Sequence[Property], depth: int, seed: int,
             walks: int | None = None, seconds: float | None = None,
             clock: Callable[[], float] = time.monotonic) -> Simulation:
    """Run seeded random walks of at most ``depth`` steps until ``walks`` ran or ``seconds`` passed.

    Stops at the first violation (replayed, shrunk, replayed again).
    """
    if depth < 1:
        raise UsageError("--depth must be at least 1")
    if (walks is None) == (seconds is None):
        raise UsageError("give exactly one of --walks N or --time SECONDS")
    judged = [p for p in properties if p.kind in JUDGED]
    start = clock()
    labels = {inst.step: compiled.show_step(inst.step) for inst in compiled.instances}
    hits: dict[Step, int] = dict.fromkeys(labels, 0)
    values: list[set] = [set() for _ in compiled.state_class.fields]
    batches: tuple[set[State], set[State]] = (set(), set())
    steps = done = 0
    violation: Violation | None = None
    while violation is None:
        if walks is not None and done >= walks:
            break
        if seconds is not None and clock() - start >= seconds:
            break
        rng = random.Random(f"{seed}:{done}")
        path, bad = _walk(compiled, judged, rng, depth)
        seen = batches[done % 2]
        for s in path.states():
            seen.add(s)
            for i, v in enumerate(s):
                values[i].add(v)
        for st, _ in path.steps:
            hits[st] += 1
        steps += len(path)
        if bad is not None:
            violation = _confirm(compiled, bad, path, done)
        done += 1
    coverage = Coverage(
        instances_hit={labels[k]: n for k, n in hits.items() if n},
        instances_never_hit=[labels[k] for k, n in hits.items() if not n],
        field_values={name: len(v) for name, v in zip(compiled.state_class.fields, values)},
        distinct_states=len(batches[0] | batches[1]),
        estimate=Estimate.chapman(*batches),
    )
    return Simulation(seed, depth, done, steps, clock() - start, [p.name for p in judged], violation, coverage,
                      [p.name for p in properties if p.kind not in JUDGED])


def _violated(compiled: Compiled, prop: Property, before: State | None, step: Step | None, after: State,
              terminal: bool) -> bool:
    spec = compiled.spec
    if prop.kind == "always":
        return not prop.func(spec, after)
    if prop.kind == "step":
        return step is not None and not prop.func(spec, before, step, after)
    return terminal and not prop.func(spec, after)  # at_end: judged where no step is allowed


def _walk(compiled: Compiled, judged: Sequence[Property], rng: random.Random,
          depth: int) -> tuple[Trace, Property | None]:
    """One walk; stops at the first violated property (returned with the walk up to there)."""
    s = compiled.initial[rng.randrange(len(compiled.initial))]
    initial, taken = s, []
    before: State | None = None
    step: Step | None = None
    while True:
        options = list(allowed_steps(compiled, s))
        for prop in judged:
            if _violated(compiled, prop, before, step, s, not options):
                return Trace(initial, tuple(taken), prop.name), prop
        if not options or len(taken) >= depth:
            return Trace(initial, tuple(taken)), None
        chosen, nxt = options[rng.randrange(len(options))]
        taken.append((chosen, nxt))
        before, step, s = s, chosen, nxt


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
    cov, est = sim.coverage, sim.coverage.estimate
    v = sim.violation
    return {
        "spec": type(compiled.spec).__name__,
        "params": dict(compiled.spec.params),
        "seed": sim.seed, "depth": sim.depth, "walks": sim.walks, "steps": sim.steps,
        "properties": sim.properties, "not_judged": sim.not_judged,
        "violation": None if v is None else {
            "property": v.prop, "walk": v.walk, "length": len(v.trace), "shrunk_length": len(v.shrunk),
            "trace": trace_to_json(compiled, v.trace), "shrunk": trace_to_json(compiled, v.shrunk),
        },
        "coverage": {
            "instances_hit": cov.instances_hit, "instances_never_hit": cov.instances_never_hit,
            "field_values": cov.field_values, "distinct_states": cov.distinct_states,
            "estimate": {"method": "chapman", "first": est.first, "second": est.second, "both": est.both,
                         "states": round(est.states, 1)},
        },
    }


def _any_step(compiled: Compiled, s: State) -> bool:
    """Whether some step is allowed in ``s`` (an ending is a state with none)."""
    return any(True for _ in allowed_steps(compiled, s))
