"""Bounded model checking: unroll the transition formula step by step and ask for a bad state.

Depths are tried in order 0, 1, 2, ..., so the first counterexample found is a shortest one,
the same length the explicit engine's breadth-first search reports. A counterexample is
decoded from the z3 model into a :class:`Trace` and replayed through the spec's own Python
code: a trace that does not replay is an :class:`EngineBug`, never a result.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import z3

from ..errors import EngineBug, SpecError
from ..spec import Compiled, Property
from ..trace import Trace, replay
from .encode import Encoding, Guards, Limits, new_solver


@dataclass
class BmcOutcome:
    """What an unrolling found: ``found`` (with a trace), ``clear`` up to ``depth``, or ``unknown``."""

    status: str
    depth: int
    trace: Trace | None = None
    reason: str = ""
    core: tuple[str, ...] = ()  # tracked assumptions the bounded search needed (z3 unsat cores)
    seconds: float = 0.0
    fault: bool = False  # the bad state found is a spec fault, not a property violation
    stats: dict = field(default_factory=dict)


def assumption_literals(names: Iterable[str]) -> dict[str, z3.BoolRef]:
    """One tracked literal per assumption, named ``assume:NAME`` so cores read as names."""
    return {n: z3.Bool(f"assume:{n}") for n in names}


class Unrolling:
    """An incremental solver holding Init(x0) ∧ T(x0, x1) ∧ ... ∧ T(x(k-1), xk)."""

    def __init__(self, enc: Encoding, guards: Guards, limits: Limits, from_init: bool = True):
        self.enc = enc
        self.guards = guards
        self.solver = new_solver(limits)
        self.transition = enc.transition(guards)
        self.depth = 0
        self.solver.add(enc.domain(enc.vars(0)))
        if from_init:
            self.solver.add(enc.init(enc.vars(0)))

    def extend(self) -> None:
        """Add one more step."""
        k = self.depth
        self.solver.add(self.enc.at(self.transition, k))
        self.solver.add(self.enc.domain(self.enc.vars(k + 1)))
        self.depth = k + 1

    def trace(self, model: z3.ModelRef, prop: Property | None, name: str, kind: str) -> Trace:
        """The path of the model from step 0 to the current depth (plus a violating step if any)."""
        enc = self.enc
        states = [enc.decode(model, i) for i in range(self.depth + 1)]
        steps = []
        for i in range(self.depth):
            k = enc.which_step(model, i, self.guards)
            if k is None:
                raise EngineBug(f"BMC: no action instance explains step {i + 1} of the z3 model")
            steps.append((enc.compiled.instances[k].step, states[i + 1]))
        if prop is not None and prop.kind == "step":
            found = enc.violating_step(prop, model, self.depth, self.guards)
            if found is None:
                raise EngineBug(f"BMC: no step from state {self.depth} violates {prop.name} in the z3 model")
            k, after = found
            steps.append((enc.compiled.instances[k].step, after))
        return Trace(states[0], tuple(steps), name, kind)


def bmc(enc: Encoding, prop: Property, depth: int, guards: Guards, limits: Limits,
        tracked: bool = True) -> BmcOutcome:
    """Search for a state within ``depth`` steps that violates ``prop`` (or witnesses it, for
    ``sometimes``) or where the spec faults; replay what is found."""
    started = time.perf_counter()
    lits = assumption_literals(guards) if tracked else {}
    use = dict(lits) if tracked else dict(guards)
    unroll = Unrolling(enc, use, limits)
    bad, crash = enc.property_bad(prop, use)
    fault = z3.Or(enc.fault(use), crash)
    core: set[str] = set()
    kind = "witness" if prop.kind == "sometimes" else "counterexample"
    for k in range(depth + 1):
        if k > 0:
            unroll.extend()
        xs_bad = enc.at(bad, k)
        xs_fault = enc.at(fault, k)
        answer = unroll.solver.check(*lits.values(), z3.Or(xs_bad, xs_fault))
        if answer == z3.unknown:
            why = limits.explain(unroll.solver.reason_unknown())
            return BmcOutcome("unknown", k, reason=f"z3: {why} at depth {k}",
                              seconds=time.perf_counter() - started)
        if answer == z3.sat:
            model = unroll.solver.model()
            is_fault = not z3.is_true(model.eval(xs_bad, model_completion=True))
            trace = unroll.trace(model, None if is_fault else prop, prop.name, kind)
            replay(enc.compiled, trace, None if is_fault else prop)
            if is_fault:
                steps = ", ".join(enc.compiled.show_step(st) for st, _ in trace.steps) or "(initial state)"
                raise SpecError(f"reachable after [{steps}]: an action or property raises, or sets a field "
                                "outside its type", fix="run `modelcheck check` on this configuration to see where")
            return BmcOutcome("found", k, trace=trace, core=tuple(sorted(core)),
                              seconds=time.perf_counter() - started)
        names = {str(lit): n for n, lit in lits.items()}
        core.update(names[str(lit)] for lit in unroll.solver.unsat_core() if str(lit) in names)
    return BmcOutcome("clear", depth, core=tuple(n for n in guards if n in core),
                      seconds=time.perf_counter() - started)


def shortest_trace(enc: Encoding, prop: Property, guards: Guards, limits: Limits, max_depth: int,
                   compiled: Compiled | None = None, known_depth: int = 0) -> BmcOutcome:
    """BMC up to ``max_depth`` steps: the shortest counterexample a prover said exists. Bounded by
    depth and z3's resource limit per query, never by wall-clock time, so the outcome does not
    depend on machine load.

    The trace is replayed in ``compiled`` (default: the encoded one), which must have exactly
    the assumptions of ``guards`` active. ``known_depth`` is the shortest length another engine
    found: BMC then asks once whether any shorter counterexample exists (an EngineBug if so)
    and searches from that length on, instead of asking at every smaller depth."""
    started = time.perf_counter()
    outcome = None
    lits: dict[str, z3.BoolRef] = {}
    unroll = Unrolling(enc, dict(guards), limits)
    bad, crash = enc.property_bad(prop, guards)
    fault = z3.Or(enc.fault(guards), crash)
    kind = "witness" if prop.kind == "sometimes" else "counterexample"
    start = 0
    if known_depth > 0:
        start = known_depth - 1 if prop.kind == "step" else known_depth
        for _ in range(start):
            unroll.extend()
        shorter = z3.Or(*[z3.Or(enc.at(bad, k), enc.at(fault, k)) for k in range(start)]) if start else None
        if shorter is not None and unroll.solver.check(shorter) == z3.sat:
            raise EngineBug(f"BMC finds a counterexample shorter than the {known_depth} steps of the explicit search")
    for k in range(start, max_depth + 1):
        if k > start:
            unroll.extend()
        xs_bad = enc.at(bad, k)
        answer = unroll.solver.check(*lits.values(), z3.Or(xs_bad, enc.at(fault, k)))
        if answer == z3.sat:
            model = unroll.solver.model()
            is_fault = not z3.is_true(model.eval(xs_bad, model_completion=True))
            trace = unroll.trace(model, None if is_fault else prop, prop.name, kind)
            replay(compiled or enc.compiled, trace, None if is_fault else prop)
            return BmcOutcome("found", k, trace=trace, fault=is_fault, seconds=time.perf_counter() - started)
        if answer == z3.unknown:
            why = limits.explain(unroll.solver.reason_unknown())
            outcome = BmcOutcome("unknown", k, reason=f"z3: {why} at depth {k}")
            break
    if outcome is None:
        outcome = BmcOutcome("unknown", unroll.depth, reason=f"no trace found within {max_depth} steps")
    outcome.seconds = time.perf_counter() - started
    return outcome
