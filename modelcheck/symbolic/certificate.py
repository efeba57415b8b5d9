"""Proof by certificate: the explicit engine's reachable set, checked by z3 to be an inductive invariant.

The explicit search of a configuration yields its reachable states R. R is the strongest
invariant there is, so it is the natural candidate: z3 checks, over the same symbolic
encoding of the spec's code that BMC uses (not over the explicit engine's result),

    Init(x) ⇒ R(x)        R(x) ∧ T(x, y) ⇒ R(y)        R(x) ⇒ ¬Bad(x) ∧ ¬Fault(x)

Together these prove the property for executions of any length, whatever the search did:
a bug in the explicit engine that lost states makes the second check fail. Such a failure
is two engines disagreeing about one step, so it is raised as an :class:`EngineBug` naming
the state and the step, never reported as a verdict.

R as a formula is a table (one full assignment of the leaves per state); z3 checks it
directly while it has at most ``table_limit`` rows. :func:`generalise` turns R into clauses
a person can read, and z3 handles far better than a large table: starting from the property,
each counterexample to induction is blocked by a small cube that no reachable state matches
(the fewest literals of the pre-state that tell it apart from every state of R, chosen
greedily), until the clauses are inductive; z3 then re-checks the three conditions on the
clauses alone. Past ``table_limit`` reachable states R is checked state by state instead
(:mod:`.rowcheck`: every symbolic path's next state is a function of the state, so consecution
is an evaluation and a lookup per state and path, which reaches the explicit engine's sizes);
the clauses are the proof when asked for, or when a term cannot be evaluated that way. A
counterexample to induction inside R is the engines disagreeing (EngineBug).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import z3

from ..errors import EngineBug
from ..explicit import SearchOptions, explore
from ..spec import Compiled, Property
from ..trace import Trace
from ..verdict import Verdict
from .chc import check_invariant
from .encode import Encoding, Limits, enforce, new_solver
from .rowcheck import RowCheck, check_rows

Row = tuple[Any, ...]


@dataclass
class CertificateOutcome:
    """``proved`` (R is an inductive invariant excluding every bad state), ``reachable`` (the
    explicit search reached a bad state: ``depth`` is its shortest distance) or ``unknown``."""

    status: str
    states: int = 0
    depth: int = 0
    rows: list[Row] = field(default_factory=list)
    clauses: Generalised | None = None  # the clause invariant, when it was derived
    explicit_trace: Trace | None = None
    method: str = "z3"  # how R was checked: "z3" (a table or clauses) or "state by state" (rowcheck)
    reason: str = ""
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class Generalised:
    """Clauses (each the negation of a small cube no reachable state matches) that are inductive
    and imply the property, re-checked by z3; ``complete`` is False when the query budget ran out."""

    clauses: list[z3.BoolRef] = field(default_factory=list)
    learned: int = 0
    queries: int = 0
    complete: bool = False
    checked: bool = False
    reason: str = ""
    seconds: float = 0.0


def with_assumptions(compiled: Compiled, names: Sequence[str]) -> Compiled:
    """A copy of ``compiled`` in which exactly the named assumptions are active."""
    assumptions = {n: dataclasses.replace(a, active=n in names) for n, a in compiled.assumptions.items()}
    return dataclasses.replace(compiled, assumptions=assumptions)


def value(v: Any) -> z3.ExprRef:
    return z3.BoolVal(v) if isinstance(v, bool) else z3.IntVal(v)


def table(xs: Sequence[z3.ExprRef], rows: Sequence[Row]) -> z3.BoolRef:
    """The states ``rows`` as a formula over the leaves ``xs``: one conjunction of equalities per row."""
    return z3.Or(*[z3.And(*[x == value(v) for x, v in zip(xs, row)]) for row in rows])


def bad_states(enc: Encoding, prop: Property, names: Sequence[str]) -> z3.BoolRef:
    """States that violate ``prop`` (or witness it, for ``sometimes``) or from which the spec faults."""
    guards = enforce(names)
    bad, crash = enc.property_bad(prop, guards)
    return z3.Or(bad, crash, enc.fault(guards))


def certify(enc: Encoding, prop: Property, names: Sequence[str], limits: Limits,
            max_states: int = 200_000, table_limit: int = 2000, clauses: bool = False) -> CertificateOutcome:
    """Search the configuration with exactly the assumptions ``names``; if no bad state is reached,
    prove with z3 that the reachable set, as a table or (past ``table_limit`` rows, or with
    ``clauses``) as clauses generalised from it, is an inductive invariant excluding every bad state."""
    started = time.perf_counter()
    out = CertificateOutcome("unknown")
    compiled = with_assumptions(enc.compiled, names)
    ex = explore(compiled, [prop], SearchOptions(max_states=max_states, validate=True))
    out.states = ex.size
    out.timings["explicit"] = round(ex.seconds, 3)
    if ex.bounded:
        out.reason = f"more than {max_states} reachable states: too many for a certificate"
        out.seconds = time.perf_counter() - started
        return out
    explicit = ex.result(prop)
    reached = explicit.verdict is (Verdict.HOLDS if prop.kind == "sometimes" else Verdict.VIOLATED)
    if reached:
        out.status, out.explicit_trace = "reachable", explicit.trace
        out.depth = len(explicit.trace) if explicit.trace is not None else 0
        out.seconds = time.perf_counter() - started
        return out
    t = time.perf_counter()
    out.rows = [enc.row(s) for s in ex.states]
    out.timings["rows"] = round(time.perf_counter() - t, 3)
    if prop.kind == "at_end":  # every ending judged, and no execution that never ends
        checked = check_rows(enc, enforce(names), bad_states(enc, prop, names), out.rows, acyclic=True)
        out.timings.update({f"rows_{k}": v for k, v in checked.timings.items()})
        if checked.status == "failed":
            raise row_disagreement(enc, checked)
        out.method = "state by state"
        out.status = "proved" if checked.status == "ok" else "unknown"
        out.reason = checked.reason
        out.seconds = time.perf_counter() - started
        return out
    if len(out.rows) > table_limit and not clauses:
        checked = check_rows(enc, enforce(names), bad_states(enc, prop, names), out.rows)
        out.timings.update({f"rows_{k}": v for k, v in checked.timings.items()})
        if checked.status == "ok":
            out.status, out.method = "proved", "state by state"
            out.seconds = time.perf_counter() - started
            return out
        if checked.status == "failed":
            raise row_disagreement(enc, checked)
        out.method = f"clauses (the state-by-state check is unavailable: {checked.reason})"
    if clauses or len(out.rows) > table_limit:
        gen = generalise(enc, prop, names, out.rows, limits)
        out.clauses = gen
        out.timings["clauses"] = round(gen.seconds, 3)
        out.status = "proved" if gen.complete and gen.checked else "unknown"
        out.reason = gen.reason
        if len(out.rows) > table_limit:
            out.seconds = time.perf_counter() - started
            return out
        if out.status != "proved":
            return out
    guards = enforce(names)
    inv_x = table(enc.x, out.rows)
    inv_y = z3.substitute(inv_x, *zip(enc.x, enc.y))
    checks = [
        ("initiation", z3.And(enc.domain(enc.x), enc.init(enc.x), z3.Not(inv_x))),
        ("consecution", z3.And(enc.domain(enc.x), enc.domain(enc.y), inv_x, enc.transition(guards), z3.Not(inv_y))),
        ("safety", z3.And(enc.domain(enc.x), inv_x, bad_states(enc, prop, names))),
    ]
    for what, query in checks:
        t = time.perf_counter()
        solver = new_solver(limits)
        solver.add(query)
        answer = solver.check()
        out.timings[what] = round(time.perf_counter() - t, 3)
        if answer == z3.unknown:
            out.reason = f"z3 ({what} of the reachable set): {limits.explain(solver.reason_unknown())}"
            out.seconds = time.perf_counter() - started
            return out
        if answer == z3.sat:
            raise disagreement(enc, what, solver.model(), guards)
    out.status = "proved"
    out.seconds = time.perf_counter() - started
    return out


def disagreement(enc: Encoding, what: str, model: z3.ModelRef, guards: dict) -> EngineBug:
    """The engines disagree: describe the state (and step) z3 found against the explicit search."""
    before = enc.decode(model, 0)
    if what == "initiation":
        return EngineBug(f"z3's initial states include {before!r}, which the explicit search did not start from")
    if what == "safety":
        return EngineBug(f"the explicit search reached {before!r} and judged it good, but z3 finds it bad "
                         "(the symbolic and concrete runs of the property or of a step disagree)")
    k = enc.which_step(model, 0, guards)
    step = enc.compiled.show_step(enc.compiled.instances[k].step) if k is not None else "?"
    return EngineBug(f"z3's transition relation leaves the explicit engine's reachable set: from reachable "
                     f"{before!r}, {step} leads to {enc.decode(model, 1)!r}, which the explicit search never reached")


def row_disagreement(enc: Encoding, checked: RowCheck) -> EngineBug:
    """The state-by-state check found a state of R that breaks a condition: the engines disagree."""
    if checked.failed == "initiation":
        return EngineBug(f"initial state (leaves {checked.state}) is missing from the explicit search's reachable set")
    if checked.failed == "acyclicity":
        return EngineBug(f"the symbolic steps between the explicit search's states form a cycle through leaves "
                         f"{checked.state}, which the explicit search did not find")
    if checked.failed == "safety":
        return EngineBug(f"the explicit search reached leaves {checked.state} and judged it good, but the "
                         "symbolic encoding of the property (or of a fault) finds it bad")
    step = enc.compiled.show_step(enc.compiled.instances[checked.step].step) if checked.step is not None else "?"
    return EngineBug(f"a symbolic path of {step} leads from reachable leaves {checked.state} to leaves "
                     f"{checked.next}, which the explicit search never reached")


# --------------------------------------------------------------------------- readable form


class RowIndex:
    """The reachable states as bitsets: for each leaf and value, the set of rows holding it."""

    def __init__(self, rows: Sequence[Row]):
        self.all = (1 << len(rows)) - 1
        self.masks: list[dict[Any, int]] = [{} for _ in range(len(rows[0]) if rows else 0)]
        for j, row in enumerate(rows):
            for i, v in enumerate(row):
                self.masks[i][v] = self.masks[i].get(v, 0) | (1 << j)

    def blocking_cube(self, state: Row) -> list[int]:
        """Leaves of ``state`` whose values together match no row: greedy set cover, ties to the lower leaf."""
        uncovered = self.all
        chosen: list[int] = []
        while uncovered:
            best, best_gain = -1, 0
            for i, v in enumerate(state):
                gain = (uncovered & ~self.masks[i].get(v, 0)).bit_count()
                if gain > best_gain:
                    best, best_gain = i, gain
            if best < 0:
                raise EngineBug(f"state {state!r} is in the reachable set, yet z3 says it breaks induction")
            chosen.append(best)
            uncovered &= self.masks[best].get(state[best], 0)
        return sorted(chosen)


def generalise(enc: Encoding, prop: Property, names: Sequence[str], rows: Sequence[Row], limits: Limits,
               max_queries: int = 20000) -> Generalised:
    """Clauses true in every state of ``rows`` that are inductive and imply the property.

    A worklist of target clauses (first the property): z3 looks for a state satisfying every
    clause so far with a successor that breaks the target; that state is unreachable (all the
    clauses hold on R, and R is closed under steps), so its smallest cube that no row matches
    is blocked by a new clause, which becomes a target itself. Deterministic: z3's seed is
    fixed and the cube choice is a fixed greedy rule.
    """
    started = time.perf_counter()
    out = Generalised()
    guards = enforce(names)
    xs, pairs = enc.x, list(zip(enc.x, enc.y))
    index = RowIndex(rows)
    solver = new_solver(limits)
    solver.add(enc.domain(enc.x), enc.domain(enc.y), enc.transition(guards))
    first = z3.Not(bad_states(enc, prop, names))
    solver.add(first)
    targets = [first]
    k = 0
    while k < len(targets):
        if out.queries >= max_queries:
            out.reason = f"not inductive after {max_queries} z3 queries ({out.learned} clauses learned)"
            out.seconds = time.perf_counter() - started
            return out
        out.queries += 1
        answer = solver.check(z3.Not(z3.substitute(targets[k], *pairs)))
        if answer == z3.unsat:
            k += 1
            continue
        if answer == z3.unknown:
            out.reason = f"z3: {limits.explain(solver.reason_unknown())}"
            out.seconds = time.perf_counter() - started
            return out
        model = solver.model()
        state = tuple(_python(model.eval(x, model_completion=True)) for x in xs)
        cube = index.blocking_cube(state)
        clause = z3.Not(z3.And(*[xs[i] == value(state[i]) for i in cube]))
        solver.add(clause)
        targets.append(clause)
        out.learned += 1
    out.clauses = targets
    out.complete = True
    status, why = check_clauses(enc, z3.And(*targets), prop, names, limits)
    out.checked = status == "ok"
    if status == "unknown":
        out.reason = why
    elif status == "failed":
        raise EngineBug(f"the clauses generalised from the reachable set fail the independent check ({why})")
    out.seconds = time.perf_counter() - started
    return out


def check_clauses(enc: Encoding, inv: z3.BoolRef, prop: Property, names: Sequence[str],
                  limits: Limits) -> tuple[str, str]:
    """Init ⇒ inv, inv ∧ T ⇒ inv', inv ⇒ ¬bad (faults included), each by a fresh solver."""
    return check_invariant(enc, inv, bad_states(enc, prop, names), enforce(names), limits, next_in_domain=True)


def _python(v: z3.ExprRef) -> Any:
    return z3.is_true(v) if z3.is_bool(v) else v.as_long()


def summary(enc: Encoding, rows: Sequence[Row]) -> list[str]:
    """What the reachable set fixes, leaf by leaf: constants, and the values each other leaf takes
    (facts true in every reachable state; by themselves not necessarily inductive)."""
    lines = []
    for i, leaf in enumerate(enc.leaves):
        seen = sorted({r[i] for r in rows}, key=repr)
        shown = [leaf.names[v] if leaf.names else ("yes" if v is True else "no" if v is False else str(v))
                 for v in seen]
        if len(shown) == 1:
            lines.append(f"{leaf.name} = {shown[0]}")
        else:
            lines.append(f"{leaf.name} ∈ {{{', '.join(shown)}}}")
    return lines
