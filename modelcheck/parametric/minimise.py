"""The invariant a parametric proof prints: reduced from Houdini's survivors, then checked again on its own.

Houdini keeps every candidate that is inductive, thousands on virtio-blk; the proof rests on far
fewer. :func:`reduce` first keeps the part the goals (the property, the user's invariants) rest
on, following z3's unsat cores backwards through the steps, then drops clauses one at a time,
in a fixed order, while the rest stays inductive (the goals are never dropped, so it still
implies the property). It says *minimal* only when a full pass found no single clause whose
removal keeps the rest inductive; a query cap or a solver limit leaves it *reduced*.
:func:`verify` then checks the final conjunction again, with fresh solvers that share nothing
with Houdini's: initiation, and consecution under every step for any number of requests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import z3

from ..symbolic.encode import new_solver
from .houdini import INITIAL, Answer, Conjunct, Queries
from .logic import Z3Logic, Z3View


@dataclass
class Reduction:
    """The reduced invariant: its conjuncts in Houdini's order, whether it is minimal w.r.t. removing one
    clause, the z3 queries spent, and why it stopped early (``reason``) when it is not."""

    kept: list[Conjunct]
    minimal: bool
    queries: int
    needed: int  # conjuncts after following the unsat cores, before single-clause removal
    reason: str = ""


@dataclass
class _Witness:
    """Why a conjunct could not go: a state satisfying the others, a step from it, and the others it breaks."""

    breaks: frozenset[int]


@dataclass
class _Cores:
    """Per step, the conjuncts before it that the last unsat answer rested on."""

    by_step: dict[int, frozenset[int]] = field(default_factory=dict)


def reduce(q: Queries, kept: list[Conjunct], max_queries: int = 4000) -> Reduction:
    """The part of the inductive ``kept`` the protected conjuncts rest on, then minus every clause whose
    removal leaves the rest inductive (greedy, longest clause texts first, then in Houdini's order).

    The first part follows unsat cores: from the goals, add what z3 used before each step to keep
    them after it, until nothing is added; the result is inductive (each step keeps it assuming
    only its own conjuncts). Done again within that result, on a solver holding only it, while
    it shrinks: cores drawn from fewer conjuncts are smaller, and z3 answers faster."""
    index = {id(c): i for i, c in enumerate(q.conjuncts)}
    alive = {index[id(c)] for c in kept}
    # the cores of Houdini's last pass (every step, every survivor as goal) and the goals: inductive
    used = {i for i in alive if q.conjuncts[i].protected}
    for step in range(len(q.instances)):
        used |= q.cores.get(step, alive)
    q = _narrow(q, [q.conjuncts[i] for i in sorted(used & alive)])
    spent = 0
    while True:  # backwards from the goals, what each step needs before it; again within that, while it shrinks
        needed = _closure(q, set(range(len(q.conjuncts))), max_queries - spent)
        spent += q.queries
        if isinstance(needed, str):
            return Reduction(list(q.conjuncts), False, spent, len(q.conjuncts), needed)
        if len(needed) >= len(q.conjuncts):
            break
        q = _narrow(q, [q.conjuncts[i] for i in sorted(needed)])
    after_cores = len(needed)
    q = _narrow(q, [q.conjuncts[i] for i in sorted(needed)])
    needed = set(range(len(q.conjuncts)))
    cores = _Cores()
    order = sorted((i for i in needed if not q.conjuncts[i].protected),
                   key=lambda i: (-len(q.conjuncts[i].text), i))
    witnesses: dict[int, _Witness] = {}

    def stop(why: str) -> Reduction:
        return Reduction([q.conjuncts[j] for j in sorted(needed)], False, spent + q.queries, after_cores, why)

    while True:
        removed = False
        for i in order:
            if i not in needed:
                continue
            rest = needed - {i}
            w = witnesses.get(i)
            if w is not None and w.breaks & rest:
                continue  # its old counterexample to induction still breaks one of the rest
            trial: dict[int, frozenset[int]] = {}
            blocked = False
            for step in range(len(q.instances)):
                if i not in cores.by_step.get(step, frozenset({i})):
                    continue  # the step's last proof did not use it
                if spent + q.queries >= max_queries:
                    return stop(f"stopped after {max_queries} queries")
                answer = q.check(rest, rest, step)
                if answer.status == "unknown":
                    return stop(_why(answer))
                if answer.status == "sat":
                    witnesses[i] = _Witness(frozenset(q.broken_after(answer, rest)))
                    blocked = True
                    break
                trial[step] = answer.core
            if not blocked:
                needed = rest
                q.retire(i)
                cores.by_step.update(trial)
                removed = True
        if not removed:
            return Reduction([q.conjuncts[j] for j in sorted(needed)], True, spent + q.queries, after_cores)


def _narrow(q: Queries, conjuncts: list[Conjunct]) -> Queries:
    """Fresh solvers holding only ``conjuncts`` (z3's checks cost with the number of conjuncts held)."""
    return Queries(q.desc, conjuncts, q.active, q.limits, widest=q.widest)


def _closure(q: Queries, alive: set[int], budget: int) -> set[int] | str:
    """From the goals (the protected conjuncts but the types) backwards: what each step needs before it
    to keep them after it, until nothing is added. ``alive`` must be inductive; a string says why it
    stopped (``budget``: the solver's query count at which it must)."""
    goals = {i for i in alive if q.conjuncts[i].protected and not q.conjuncts[i].name.startswith("type of ")}
    needed = set(goals)
    asked: dict[int, frozenset[int]] = {}  # per step, the goals it was last asked to keep
    changed = True
    while changed:
        changed = False
        for step in range(len(q.instances)):
            if asked.get(step) == q.affected(step, needed):
                continue  # nothing new to keep after this step
            if q.queries >= budget:
                return f"stopped after {budget} queries"
            asked[step] = q.affected(step, needed)
            core = _core(q, needed, needed, step)  # what is needed already may be enough
            if isinstance(core, Answer) and core.status == "sat":
                core = _core(q, alive, needed, step)
            if isinstance(core, Answer):
                return _why(core)
            if not core <= needed:
                needed |= core
                changed = True
    return needed


def _core(q: Queries, before: set[int], after: set[int], step: int, rounds: int = 3) -> frozenset[int] | Answer:
    """The conjuncts before ``step`` that keep ``after`` after it: z3's unsat core, then the core of the
    query that assumes only that core, while it shrinks (z3's own core minimisation costs seconds a query)."""
    answer = q.check(before, after, step)
    if answer.status != "unsat":
        return answer
    core = answer.core
    for _ in range(rounds):
        again = q.check(core, after, step)
        if again.status != "unsat" or not again.core < core:
            break
        core = again.core
    return core


def _why(answer: Answer) -> str:
    return answer.reason or f"z3 found the survivors not inductive under {answer.step}"


def verify(q: Queries, kept: list[Conjunct]) -> tuple[str, str]:
    """Check ``kept`` inductive again with fresh solvers (one per step, no indicators, no assumptions
    carried over, the formulas built anew and the state after a step substituted into them rather than
    framed): ``("proved", "")``, ``("unknown", reason)`` or ``("refuted", where)``. Initiation,
    consecution under every step; a protected conjunct (the property) is among ``kept``."""
    for step in [INITIAL, *range(len(q.instances))]:
        consts = [z3.Const(f"v{i}", q.voc.req) for i in range(len(q.consts))]
        L = Z3Logic(q.voc, consts)
        v = Z3View(q.pre)
        solver = new_solver(q.limits)
        solver.add(L.bool(q.desc.background(L, v)), L.bool(q.desc.parameters(L, v)))
        now = z3.And([L.bool(c.formula(L, v)) for c in kept])
        if step == INITIAL:
            solver.add(*q.initial_constraints(L, v), z3.Not(now))
        else:
            inst = q.instances[step]
            reqs = tuple(consts[:len(inst.requests)])
            upd = q.desc.apply(inst, L, v, reqs)
            action, args = inst.label(reqs)
            named = dict(zip(inst.order, args))
            assumptions = q.desc.assumptions()
            solver.add(now, L.bool(upd.guard), *[L.bool(assumptions[a](L, v, action, named)) for a in q.active],
                       z3.Not(q.terms.after(now, upd.changes, L, q.pre)))
        answer = solver.check()
        if answer == z3.unknown:
            return "unknown", q.limits.explain(solver.reason_unknown())
        if answer == z3.sat:
            return "refuted", q.label(step)
    return "proved", ""


__all__ = ["Reduction", "reduce", "verify"]
