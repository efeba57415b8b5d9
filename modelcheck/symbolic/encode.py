"""From a compiled spec to z3 formulas: initial states, one transition formula per action instance,
and one "bad state" formula per property, all by running the spec's own code over symbolic states.

The template formulas range over the leaves at step 0 (``x``, the state before) and step 1
(``y``, the state after); :meth:`Encoding.at` moves them to any step ``k``. Assumptions stay
separate per path so that each engine can enforce them, track them with a literal (for unsat
cores) or leave them out (to test whether a proof needs them).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import z3

from ..errors import SpecError
from ..spec import ActionInstance, Compiled, Property
from ..state import State
from ..types import FieldType
from .identity import spec_guard
from .layout import Leaf, concrete_leaves, decode, domain, flatten, leaves_of, make, width
from .values import Oracle, Path, PathContext, explore_paths, z3_bool

DEFAULT_RLIMIT = 500_000_000
"""z3's resource limit per query by default: deterministic, unlike a wall-clock timeout; about a
minute of z3's work on a 2024 laptop core (200 M units took 23 s on a loaded one)."""


@dataclass(frozen=True)
class Limits:
    """How much one solver query may do: z3's deterministic resource limit (``rlimit``, 0: none),
    an optional wall-clock ``timeout_ms`` (0: none; makes verdicts depend on machine load) and
    the random ``seed``. Recorded with every result."""

    rlimit: int = DEFAULT_RLIMIT
    timeout_ms: int = 0
    seed: int = 0

    def apply(self, target: z3.Solver | z3.Fixedpoint) -> None:
        """Set these limits on a solver or a fixedpoint engine."""
        if isinstance(target, z3.Fixedpoint):
            target.set("spacer.random_seed", self.seed)
        else:
            target.set("random_seed", self.seed)
        if self.rlimit:
            target.set("rlimit", int(self.rlimit))
        if self.timeout_ms:
            target.set("timeout", int(self.timeout_ms))

    def explain(self, reason: str) -> str:
        """z3's reason for ``unknown``, naming the limit that stopped it (z3 says "canceled" for both)."""
        text = reason.lower()
        if "canceled" in text or "cancelled" in text or "timeout" in text or "resource" in text:
            if self.rlimit and not self.timeout_ms:
                return f"resource limit (rlimit {self.rlimit}) reached"
            if self.timeout_ms and not self.rlimit:
                return f"timeout ({self.timeout_ms / 1000:g} s) reached"
            return f"resource limit (rlimit {self.rlimit}) or timeout ({self.timeout_ms / 1000:g} s) reached"
        return reason

    def describe(self) -> dict[str, int]:
        return {"rlimit": self.rlimit, "timeout_ms": self.timeout_ms, "seed": self.seed}


Guards = Mapping[str, z3.BoolRef]
"""Which assumptions to apply: name → the literal that switches it on (``True`` to enforce)."""


def enforce(names: Iterable[str]) -> Guards:
    """Guards that apply exactly the named assumptions."""
    return {n: z3.BoolVal(True) for n in names}


@dataclass
class StepPath:
    """One feasible path through one action instance, over the template leaves ``x``."""

    condition: z3.BoolRef
    next: list[z3.ExprRef]
    fault: z3.BoolRef  # the next state is outside the field types
    assumes: dict[str, z3.BoolRef]  # assumption name → whether it allows this step


@dataclass
class InstanceEncoding:
    """All paths of one action instance (an action with concrete arguments)."""

    index: int
    inst: ActionInstance
    paths: list[StepPath]
    crash: z3.BoolRef  # states from which the action raises an exception


@dataclass
class EncodeStats:
    """How much work the symbolic runs took (paths and solver calls)."""

    paths: int = 0
    feasibility_checks: int = 0
    seconds: float = 0.0


@dataclass
class Encoding:
    """A spec configuration as z3 formulas over named per-step leaves."""

    compiled: Compiled
    limits: Limits = field(default_factory=lambda: Limits())
    fields: list[tuple[str, FieldType, int, int]] = field(default_factory=list)
    leaves: list[Leaf] = field(default_factory=list)
    instances: list[InstanceEncoding] = field(default_factory=list)
    stats: EncodeStats = field(default_factory=EncodeStats)

    def __post_init__(self) -> None:
        started = time.perf_counter()
        start = 0
        for name, ftype in self.compiled.state_class.types.items():
            self.leaves += leaves_of(name, ftype)
            self.fields.append((name, ftype, start, start + width(ftype)))
            start += width(ftype)
        self.x = self.vars(0)
        self.y = self.vars(1)
        self._vars_cache: dict[int, list[z3.ExprRef]] = {0: self.x, 1: self.y}
        self.solver = new_solver(self.limits)
        self.solver.add(self.domain(self.x))
        self.oracle = Oracle(self.solver, guard=spec_guard(self.compiled.spec))
        self.assumption_names = [a.name for a in self.compiled.active_assumptions]
        self._props: dict[str, Any] = {}
        for k, inst in enumerate(self.compiled.instances):
            self.instances.append(self._encode_instance(k, inst))
        self.stats.seconds = time.perf_counter() - started

    # ----------------------------------------------------------------- variables

    def vars(self, k: int) -> list[z3.ExprRef]:
        """The leaves at step ``k``, named ``field@k``."""
        cache = getattr(self, "_vars_cache", None)
        if cache is not None and k in cache:
            return cache[k]
        xs = [leaf.var(k) for leaf in self.leaves]
        if cache is not None:
            cache[k] = xs
        return xs

    def at(self, formula: z3.ExprRef, k: int) -> z3.ExprRef:
        """A template formula over (x, y) moved to steps (k, k+1)."""
        if k == 0:
            return formula
        pairs = list(zip(self.x, self.vars(k))) + list(zip(self.y, self.vars(k + 1)))
        return z3.substitute(formula, *pairs)  # simultaneous, so x→x_k and y→x_{k+1} do not mix

    def domain(self, xs: list[z3.ExprRef]) -> z3.BoolRef:
        """The field types' constraints on the leaves ``xs``."""
        out = []
        for _, ftype, lo, hi in self.fields:
            out += domain(ftype, xs[lo:hi])
        return z3.And(*out)

    def symbolic_state(self, ctx: PathContext, xs: list[z3.ExprRef]) -> State:
        values = [make(ctx, ftype, xs[lo:hi]) for _, ftype, lo, hi in self.fields]
        return tuple.__new__(self.compiled.state_class, values)

    def leaves_of_state(self, s: State) -> list[z3.ExprRef]:
        """The leaves of a state (concrete or symbolic); SpecError when it is outside the types."""
        out: list[z3.ExprRef] = []
        faults: list[z3.BoolRef] = []
        for (_, ftype, _, _), value in zip(self.fields, s):
            out += flatten(ftype, value, faults)
        if faults and any(not z3.is_false(z3.simplify(f)) for f in faults):
            raise SpecError(f"state {s!r} is outside its field types")
        return out

    def row(self, s: State) -> tuple[Any, ...]:
        """The leaf values of a concrete state as Python bools and ints (no z3 terms built).

        Each field's leaves are remembered per value (states share most field values), which
        makes rows for hundreds of thousands of states cheap."""
        memo = self.__dict__.setdefault("_row_memo", [{} for _ in self.fields])
        out: list[Any] = []
        for (_, ftype, _, _), value, seen in zip(self.fields, s, memo):
            leaves = seen.get(value)
            if leaves is None:
                leaves = seen[value] = tuple(concrete_leaves(ftype, value))
            out += leaves
        return tuple(out)

    def decode(self, model: z3.ModelRef, k: int) -> State:
        """The concrete state at step ``k`` of a z3 model."""
        vals = []
        for v in self.vars(k):
            got = model.eval(v, model_completion=True)
            vals.append(z3.is_true(got) if z3.is_bool(got) else got.as_long())
        values = [decode(ftype, vals[lo:hi]) for _, ftype, lo, hi in self.fields]
        return tuple.__new__(self.compiled.state_class, values)

    def init(self, xs: list[z3.ExprRef]) -> z3.BoolRef:
        """The initial states: per leaf, the one value they all share, else a disjunction."""
        rows = [self.leaves_of_state(s) for s in self.compiled.initial]
        shared = [i for i in range(len(xs)) if all(z3.eq(r[i], rows[0][i]) for r in rows)]
        fixed = [xs[i] == rows[0][i] for i in shared]
        others = [i for i in range(len(xs)) if i not in set(shared)]
        if not others:
            return z3.And(*fixed)
        choices = z3.Or(*[z3.And(*[xs[i] == r[i] for i in others]) for r in rows])
        return z3.And(*fixed, choices)

    # ----------------------------------------------------------------- actions

    def _encode_instance(self, k: int, inst: ActionInstance) -> InstanceEncoding:
        spec = self.compiled.spec
        state_cls = self.compiled.state_class

        def run(ctx: PathContext) -> Any:
            return inst.func(spec, self.symbolic_state(ctx, self.x), *inst.args)

        paths = explore_paths(run, self.oracle)
        self._count(paths)
        steps: list[StepPath] = []
        crashes = []
        for p in paths:
            if p.outcome == "disabled":
                continue
            if p.outcome == "fault":
                crashes.append(p.formula)
                continue
            if type(p.value) is not state_cls:
                raise SpecError(f"action {inst.name} returned {type(p.value).__name__}, not a state",
                                where=inst.where, fix="return s.replace(...) or use require()")
            faults: list[z3.BoolRef] = []
            nxt = []
            for (_, ftype, _, _), value in zip(self.fields, p.value):
                nxt += flatten(ftype, value, faults)
            nxt = [z3.simplify(e) for e in nxt]
            fault = z3.simplify(z3.Or(*faults)) if faults else z3.BoolVal(False)
            if not z3.is_false(fault) and not self.oracle.feasible([p.formula, fault]):
                fault = z3.BoolVal(False)  # the guard already keeps every field in its type
            step = StepPath(p.formula, nxt, fault, {})
            for a in self.compiled.active_assumptions:
                allowed, crash = self._judge(
                    lambda ctx, a=a, nxt=nxt: a.func(spec, self.symbolic_state(ctx, self.x), inst.step,
                                            self.symbolic_state(ctx, nxt)), [p.formula])
                step.assumes[a.name] = allowed
                if not z3.is_false(crash):
                    crashes.append(z3.And(p.formula, crash))
            steps.append(step)
        crash = z3.simplify(z3.Or(*crashes)) if crashes else z3.BoolVal(False)
        return InstanceEncoding(k, inst, steps, crash)

    def _judge(self, run: Any, base: list[z3.BoolRef]) -> tuple[z3.BoolRef, z3.BoolRef]:
        """Run a predicate on every path: (where it is true, where it raises or is disabled)."""
        paths = explore_paths(run, self.oracle.with_base(base))
        self._count(paths)
        true_on = []
        crash_on = []
        for p in paths:
            if p.outcome == "return":
                truth = z3_bool(p.value)
                if not z3.is_false(truth):
                    true_on.append(z3.And(p.formula, truth))
            else:
                crash_on.append(p.formula)
        return (z3.simplify(z3.Or(*true_on)) if true_on else z3.BoolVal(False),
                z3.simplify(z3.Or(*crash_on)) if crash_on else z3.BoolVal(False))

    def _count(self, paths: list[Path]) -> None:
        self.stats.paths += len(paths)
        self.stats.feasibility_checks = self.oracle.checks

    @staticmethod
    def _guard(step: StepPath, guards: Guards) -> z3.BoolRef:
        parts = []
        for name, lit in guards.items():
            allowed = step.assumes.get(name)
            if allowed is not None:
                parts.append(allowed if z3.is_true(lit) else z3.Implies(lit, allowed))
        return z3.And(*parts) if parts else z3.BoolVal(True)

    def step_formula(self, ie: InstanceEncoding, guards: Guards) -> z3.BoolRef:
        """Instance ``ie`` takes x to y (template), under the given assumptions."""
        parts = []
        for sp in ie.paths:
            eqs = [a == b for a, b in zip(self.y, sp.next)]
            parts.append(z3.And(sp.condition, z3.Not(sp.fault), self._guard(sp, guards), *eqs))
        return z3.Or(*parts) if parts else z3.BoolVal(False)

    def transition(self, guards: Guards) -> z3.BoolRef:
        """Some action instance takes x to y (template)."""
        return z3.Or(*[self.step_formula(ie, guards) for ie in self.instances])

    def fault(self, guards: Guards) -> z3.BoolRef:
        """States from which some step raises or leaves the field types: a spec error if reachable."""
        parts = []
        for ie in self.instances:
            if not z3.is_false(ie.crash):
                parts.append(ie.crash)
            for sp in ie.paths:
                if not z3.is_false(sp.fault):
                    parts.append(z3.And(sp.condition, sp.fault, self._guard(sp, guards)))
        return z3.Or(*parts) if parts else z3.BoolVal(False)

    def enabled(self, guards: Guards) -> z3.BoolRef:
        """States with at least one allowed step (template over x)."""
        parts = [z3.And(sp.condition, self._guard(sp, guards)) for ie in self.instances for sp in ie.paths]
        return z3.Or(*parts) if parts else z3.BoolVal(False)

    # ----------------------------------------------------------------- properties

    def property_bad(self, prop: Property, guards: Guards) -> tuple[z3.BoolRef, z3.BoolRef]:
        """(states that violate ``prop`` or witness it for ``sometimes``, states where it crashes)."""
        spec = self.compiled.spec
        if prop.kind in ("always", "sometimes", "at_end"):
            if prop.name not in self._props:
                self._props[prop.name] = self._judge(
                    lambda ctx: prop.func(spec, self.symbolic_state(ctx, self.x)), [])
            holds, crash = self._props[prop.name]
            if prop.kind == "sometimes":
                return holds, crash
            bad = z3.Not(holds)
            if prop.kind == "at_end":
                bad = z3.And(bad, z3.Not(self.enabled(guards)))
            return bad, crash
        if prop.kind == "step":
            if prop.name not in self._props:
                per_path = []
                for ie in self.instances:
                    for sp in ie.paths:
                        holds, crash = self._judge(
                            lambda ctx, ie=ie, sp=sp: prop.func(spec, self.symbolic_state(ctx, self.x), ie.inst.step,
                                                                self.symbolic_state(ctx, sp.next)),
                            [sp.condition])
                        per_path.append((ie, sp, holds, crash))
                self._props[prop.name] = per_path
            bad_parts = []
            crash_parts = []
            for _ie, sp, holds, crash in self._props[prop.name]:
                live = z3.And(sp.condition, z3.Not(sp.fault), self._guard(sp, guards))
                bad_parts.append(z3.And(live, z3.Not(holds)))
                if not z3.is_false(crash):
                    crash_parts.append(z3.And(live, crash))
            return (z3.Or(*bad_parts) if bad_parts else z3.BoolVal(False),
                    z3.Or(*crash_parts) if crash_parts else z3.BoolVal(False))
        raise SpecError(f"property {prop.name}: unknown kind {prop.kind}")

    def state_predicate(self, key: str, func: Any) -> tuple[z3.BoolRef, z3.BoolRef]:
        """(where ``func(state)`` is true, where it raises) over x, cached under ``key``: a claim's
        goal or trigger (:mod:`.lasso`)."""
        if key not in self._props:
            self._props[key] = self._judge(lambda ctx: func(self.symbolic_state(ctx, self.x)), [])
        return self._props[key]

    def violating_step(self, prop: Property, model: z3.ModelRef, k: int, guards: Guards) -> tuple[int, State] | None:
        """For a step property violated from the state at step ``k``: the instance and next state."""
        before = self.vars(k)
        pairs = list(zip(self.x, before))
        for ie, sp, holds, _ in self._props[prop.name]:
            live = z3.And(sp.condition, z3.Not(sp.fault), self._guard(sp, guards), z3.Not(holds))
            if z3.is_true(model.eval(z3.substitute(live, *pairs), model_completion=True)):
                vals = []
                for e in sp.next:
                    got = model.eval(z3.substitute(e, *pairs), model_completion=True)
                    vals.append(z3.is_true(got) if z3.is_bool(got) else got.as_long())
                values = [decode(ftype, vals[lo:hi]) for _, ftype, lo, hi in self.fields]
                return ie.index, tuple.__new__(self.compiled.state_class, values)
        return None

    def which_step(self, model: z3.ModelRef, k: int, guards: Guards) -> int | None:
        """The first action instance whose transition the model takes from step ``k`` to ``k + 1``."""
        for ie in self.instances:
            if z3.is_true(model.eval(self.at(self.step_formula(ie, guards), k), model_completion=True)):
                return ie.index
        return None


def new_solver(limits: Limits | int, logic: str | None = None) -> z3.Solver:
    """A solver with a fixed seed and the per-query limits (results must not vary between runs).

    An int is the older form, a wall-clock timeout in milliseconds (callers outside this package)."""
    solver = z3.SolverFor(logic) if logic else z3.Solver()
    (Limits(rlimit=0, timeout_ms=limits) if isinstance(limits, int) else limits).apply(solver)
    return solver
