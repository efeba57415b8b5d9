"""Liveness in ``prove``: lasso-shaped bounded model checking of ``eventually`` / ``leads_to`` under fairness.

A liveness property fails on an execution that starts its claim (*eventually q*: the initial
state; *p leads to q*: a state where ``p`` holds and ``q`` does not) and never reaches the
goal ``q`` after it: either the execution ends (a state with no allowed step: a *dead end*)
or it goes round a loop forever, fairly. Unrolling k = 0, 1, 2, ... steps ``x0 .. xk``, each
step tagged with its action's index (``act@i``), z3 is asked at each depth for

- a *dead end*: the claim starts at some ``j <= k``, ``q`` is false at ``j .. k``, and ``xk``
  has no allowed step;
- a *lasso*: ``xk`` equals an earlier ``xl`` (the execution repeats ``xl .. xk`` forever), the
  claim starts at some ``j <= k``, ``q`` is false on every state from ``min(j, l)`` to ``k``
  (all of them recur), and for each fairness condition (an action declared ``fair=``, or a
  group of them) some step of the loop is a member's, or else (weak) some state of the loop
  disables every member, or (strong) every state of the loop does (strong fairness: it is not
  enabled infinitely often without being taken);
- a reachable *fault* (a step or the property raises): a spec error, as in :mod:`.bmc`.

Depths are tried in order, so the first refutation has the fewest steps in all (stem and
loop). It is decoded, replayed through the spec's own code and judged again there
(:func:`~modelcheck.trace.rejudge` checks trigger, goal and fairness on concrete states).

When there is none up to k and no execution has k + 1 steps, every execution ends within k
steps and every ending was judged: the property is PROVED (no infinite execution exists).
Otherwise the answer after ``depth`` steps is ``clear``, which :mod:`.prove` reports as
UNKNOWN, never as a proof: a fair lasso may be longer than the bound (no completeness
threshold for lassos is computed).
"""

from __future__ import annotations

import time

import z3

from ..errors import EngineBug, SpecError
from ..spec import Property, PropertyKind
from ..trace import Trace, replay
from .encode import Encoding, Guards, Limits, new_solver
from .endings import EndingsOutcome


class _Lassos:
    """The unrolling with per-step action tags, and the formulas the queries are built from."""

    def __init__(self, enc: Encoding, prop: Property, guards: Guards, limits: Limits):
        self.enc, self.prop, self.guards = enc, prop, guards
        compiled = enc.compiled
        self.actions = list(compiled.actions)
        self.fair = [(cond.kind == "strong", [self.actions.index(a) for a in cond.actions])
                     for _, cond in sorted(compiled.fairness.items())]
        by_action: dict[int, list] = {}
        for ie in enc.instances:
            by_action.setdefault(self.actions.index(ie.inst.name), []).append(ie)
        self.by_action = by_action
        self.step_of = {a: z3.Or(*[enc.step_formula(ie, guards) for ie in ies]) for a, ies in by_action.items()}
        self.enabled_of = {a: z3.Or(*[z3.And(sp.condition, enc._guard(sp, guards)) for ie in ies for sp in ie.paths])
                           for a, ies in by_action.items()}
        self.enabled = enc.enabled(guards)
        spec = compiled.spec
        if prop.kind == PropertyKind.EVENTUALLY:
            self.goal, goal_crash = enc.state_predicate(prop.name, lambda s: prop.func(spec, s))
            self.trigger, trigger_crash = None, z3.BoolVal(False)
        else:
            self.goal, goal_crash = enc.state_predicate(prop.name + "~goal", lambda s: prop.func(spec, s)[1])
            self.trigger, trigger_crash = enc.state_predicate(prop.name + "~trigger", lambda s: prop.func(spec, s)[0])
        self.fault = z3.Or(enc.fault(guards), goal_crash, trigger_crash)
        self.solver = new_solver(limits)
        self.solver.add(enc.domain(enc.vars(0)), enc.init(enc.vars(0)))
        self.acts: list[z3.ArithRef] = []
        self.avoid: list[z3.BoolRef] = []  # per state: the goal is false there
        self.starts: list[z3.BoolRef] = []  # per state: the claim starts there
        self._taken: dict[tuple[int, int], z3.BoolRef] = {}
        self._enabled: dict[tuple[int, int], z3.BoolRef] = {}
        self._state(0)

    def _state(self, i: int) -> None:
        enc = self.enc
        self.avoid.append(z3.Not(enc.at(self.goal, i)))
        if self.trigger is None:
            self.starts.append(z3.BoolVal(i == 0))
        else:
            self.starts.append(enc.at(self.trigger, i))

    def extend(self) -> None:
        """One more step, tagged with its action."""
        enc, k = self.enc, len(self.acts)
        act = z3.Int(f"act@{k}")
        self.acts.append(act)
        self.solver.add(z3.Or(*[z3.And(act == a, enc.at(step, k)) for a, step in self.step_of.items()]))
        self.solver.add(enc.domain(enc.vars(k + 1)))
        self._state(k + 1)

    def same(self, start: int, k: int) -> z3.BoolRef:
        return z3.And(*[a == b for a, b in zip(self.enc.vars(start), self.enc.vars(k))])

    def taken(self, c: int, i: int) -> z3.BoolRef:
        """Step ``i`` is a member's of fairness condition ``c`` (cached)."""
        key = (c, i)
        if key not in self._taken:
            self._taken[key] = z3.Or(*[self.acts[i] == a for a in self.fair[c][1]])
        return self._taken[key]

    def on(self, c: int, i: int) -> z3.BoolRef:
        """Some member of fairness condition ``c`` is enabled in state ``i`` (cached)."""
        key = (c, i)
        if key not in self._enabled:
            members = [self.enc.at(self.enabled_of[a], i) for a in self.fair[c][1] if a in self.enabled_of]
            self._enabled[key] = z3.Or(*members) if members else z3.BoolVal(False)
        return self._enabled[key]

    def fair_from(self, c: int, k: int) -> list[z3.BoolRef]:
        """Per loop start ``l < k``: the loop ``l .. k-1`` meets fairness condition ``c``."""
        false = z3.BoolVal(False)
        if not self.fair[c][0]:  # weak: taken, or disabled, at some step of the loop
            chain = [false] * (k + 1)
            for i in range(k - 1, -1, -1):
                chain[i] = z3.Or(self.taken(c, i), z3.Not(self.on(c, i)), chain[i + 1])
            return chain
        took, seen = [false] * (k + 1), [false] * (k + 1)  # strong: taken, or never enabled
        for i in range(k - 1, -1, -1):
            took[i] = z3.Or(self.taken(c, i), took[i + 1])
            seen[i] = z3.Or(self.on(c, i), seen[i + 1])
        return [z3.Or(t, z3.Not(s)) for t, s in zip(took, seen)]

    def queries(self, k: int) -> tuple[z3.BoolRef, list[z3.BoolRef]]:
        """(a dead end at ``k``, per loop start ``l < k`` a fair lasso back to ``l``).

        Prefix and suffix chains keep each query linear in k per loop start: ``suffix[m]`` (no
        goal from m to k), ``begun[l]`` (the claim starts at some j <= l with no goal from j on),
        ``later[l]`` (it starts at some j > l), ``fair[c][l]`` (fairness condition c is met by
        the loop l .. k-1)."""
        false = z3.BoolVal(False)
        suffix: list[z3.BoolRef] = [z3.BoolVal(True)] * (k + 2)
        for m in range(k, -1, -1):
            suffix[m] = z3.And(self.avoid[m], suffix[m + 1])
        starts_at = [z3.And(self.starts[j], suffix[j]) for j in range(k + 1)]
        dead = z3.And(z3.Or(*starts_at), z3.Not(self.enc.at(self.enabled, k)))
        begun, later = [false] * (k + 1), [false] * (k + 2)
        for j in range(k + 1):
            begun[j] = z3.Or(begun[j - 1], starts_at[j]) if j else starts_at[0]
        for j in range(k, -1, -1):
            later[j] = z3.Or(self.starts[j], later[j + 1])
        fair = [self.fair_from(c, k) for c in range(len(self.fair))]
        loops = []
        for start in range(k):
            claimed = z3.Or(begun[start], z3.And(suffix[start], later[start + 1]))
            loops.append(z3.And(self.same(start, k), *[chain[start] for chain in fair], claimed))
        return dead, loops

    def trace(self, model: z3.ModelRef, k: int, loop: int | None) -> Trace:
        enc = self.enc
        states = [enc.decode(model, i) for i in range(k + 1)]
        steps = []
        for i in range(k):
            a = model.eval(self.acts[i], model_completion=True).as_long()
            chosen = next((ie for ie in self.by_action.get(a, ()) if z3.is_true(
                model.eval(enc.at(enc.step_formula(ie, self.guards), i), model_completion=True))), None)
            if chosen is None:
                raise EngineBug(f"lasso BMC: no instance of action {a} explains step {i + 1} of the z3 model")
            steps.append((chosen.inst.step, states[i + 1]))
        return Trace(states[0], tuple(steps), self.prop.name, "counterexample", loop_start=loop)


def judge_liveness(enc: Encoding, prop: Property, depth: int, guards: Guards, limits: Limits) -> EndingsOutcome:
    """Search dead ends and fair lassos of the first ``depth`` steps (see the module text)."""
    started = time.perf_counter()
    search = _Lassos(enc, prop, guards, limits)

    def done(status: str, k: int, trace: Trace | None = None, reason: str = "") -> EndingsOutcome:
        return EndingsOutcome(status, k, trace, reason, time.perf_counter() - started)

    for k in range(depth + 1):
        if k > 0:
            search.extend()
        dead, loops = search.queries(k)
        fault = enc.at(search.fault, k)
        answer = search.solver.check(z3.Or(dead, fault, *loops))
        if answer == z3.unknown:
            return done("unknown", k, reason=f"z3: {limits.explain(search.solver.reason_unknown())} at depth {k}")
        if answer == z3.sat:
            model = search.solver.model()

            def true(e: z3.BoolRef, model: z3.ModelRef = model) -> bool:
                return z3.is_true(model.eval(e, model_completion=True))

            loop = next((start for start, f in enumerate(loops) if true(f)), None)
            trace = search.trace(model, k, loop)
            if loop is None and not true(dead):
                replay(enc.compiled, trace)
                steps = ", ".join(enc.compiled.show_step(st) for st, _ in trace.steps) or "(initial state)"
                raise SpecError(f"reachable after [{steps}]: an action or property raises, or sets a field "
                                "outside its type", fix="run `modelcheck check` on this configuration to see where")
            replay(enc.compiled, trace, prop)
            return done("found", k, trace)
        longer = search.solver.check(enc.at(search.enabled, k))
        if longer == z3.unsat:
            return done("proved", k)
        if longer == z3.unknown:
            return done("unknown", k, reason=f"z3: {limits.explain(search.solver.reason_unknown())} at depth {k}")
    return done("clear", depth)
