"""Houdini over an unbounded sort: the largest inductive subset of the candidates, by z3.

Each conjunct is a universally quantified formula over requests (a mined clause, a user's
``@invariant``, the property itself). z3 looks for an initial state, or a state satisfying
every conjunct and a step from it, after which some conjunct is false; such a state is read
back as a finite instance, every conjunct is judged on it (and on the state after the step)
in plain Python, and the false ones are dropped. Quantifiers range over requests only and no
function maps requests to requests, so every query is in the effectively propositional
fragment, which z3 decides; an ``unknown`` (resource limit) stops the search. A dropped
conjunct that must not be dropped (the property, a user's invariant) ends the search with
the step that broke it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import z3

from ..errors import EngineBug
from ..symbolic.encode import Limits, new_solver
from .logic import FiniteLogic, FiniteView, Structure, Vocabulary, Z3Logic, Z3View, finite_after, from_model
from .model import Parametric

Formula = Callable[[Any, Any], Any]  # (L, v) -> formula, read over either logic


@dataclass(frozen=True)
class Conjunct:
    name: str
    text: str
    formula: Formula
    protected: bool = False  # the property or a user's invariant: dropping it ends the search


@dataclass
class HoudiniOutcome:
    """``proved`` (every protected conjunct kept: ``kept`` is inductive), ``broken`` (``failed``
    names the protected conjunct and ``step`` what broke it) or ``unknown`` (``reason``)."""

    status: str
    kept: list[Conjunct] = field(default_factory=list)
    failed: Conjunct | None = None
    step: str = ""
    reason: str = ""
    state: Structure | None = None  # broken: the state before the step (a counterexample to induction)
    queries: int = 0
    dropped: int = 0
    history: dict[str, str] = field(default_factory=dict)  # a dropped conjunct: the step that broke it


def typing(desc: Parametric) -> list[Conjunct]:
    """Each enumerated symbol takes one of its values (z3 reads them all in one sort): conjuncts like any other,
    so that z3 checks that the initial state and every step keep them."""
    out = []
    for sym in desc.symbols():
        if sym.kind != "enum":
            continue

        def formula(L: Any, v: Any, sym: Any = sym) -> Any:
            term = getattr(v, sym.name)
            if sym.arity == 0:
                return L.or_(*[L.eq(term, value) for value in sym.values])
            return L.forall(lambda *xs: L.or_(*[L.eq(term(*xs), value) for value in sym.values]), sym.arity)

        out.append(Conjunct(f"type of {sym.name}", f"{sym.name} is one of {', '.join(sym.values)}", formula,
                            protected=True))
    return out


def witnesses(formula: Formula, voc: Vocabulary) -> int:
    """How many requests a counterexample to a universal ``formula`` needs: its quantified variables."""
    counter = _Counting(voc)
    formula(counter, Z3View(voc.copy("count")))
    return counter.bound


class _Counting(Z3Logic):
    """The z3 reading that counts the variables every ``forall`` binds (and refuses ``exists``)."""

    def __init__(self, voc: Vocabulary):
        super().__init__(voc)
        self.bound = 0

    def forall(self, body: Callable[..., Any], n: int = 1) -> Any:
        self.bound += n
        return super().forall(body, n)

    def exists(self, body: Callable[..., Any], n: int = 1) -> Any:
        raise EngineBug("a conjunct uses exists: only universal formulas are supported")


def houdini(desc: Parametric, conjuncts: list[Conjunct], active: tuple[str, ...], limits: Limits) -> HoudiniOutcome:
    """Drop conjuncts until the rest are kept by every step and hold initially, for any number of requests.

    Every conjunct, guard and assumption is universal (``forall`` over requests in positive
    places) and no function maps requests to requests, so a universal sentence stays true in
    every substructure: when some state with some step breaks a conjunct, the requests the
    step names plus the broken conjunct's variables already form a state that breaks it. Each
    query therefore reads quantifiers over that many request constants (not necessarily
    distinct), which decides it for every number of requests."""
    voc = Vocabulary(desc.symbols())
    symbols = desc.symbol_table()
    conjuncts = [*typing(desc), *conjuncts]
    widest = max((witnesses(c.formula, voc) for c in conjuncts), default=1)
    kept = list(conjuncts)
    out = HoudiniOutcome("proved")
    assumptions = desc.assumptions()

    def drop(model: z3.ModelRef, universe: list, judge: Callable[[Conjunct, Structure], bool],
             where: str) -> HoudiniOutcome | None:
        state = from_model(voc, model, pre, universe)
        if judge is not at_state:
            wrong = [c.text for c in kept if not at_state(c, state)]
            if wrong:
                raise EngineBug(f"z3's state before {where} breaks {wrong[0]} in the finite reading")
        false = [c for c in kept if not judge(c, state)]
        if not false:
            raise EngineBug(f"z3 found a state breaking the candidates at {where}, but none is false on it in the "
                            "finite reading")
        for c in false:
            if c.protected:
                return HoudiniOutcome("broken", kept=[k for k in kept if k not in false], failed=c, step=where,
                                      state=state, queries=out.queries, dropped=out.dropped, history=out.history)
        for c in false:
            kept.remove(c)
            out.history[c.text] = where
        out.dropped += len(false)
        return None

    def at_state(c: Conjunct, s: Structure) -> bool:
        return bool(c.formula(FiniteLogic(len(s["before"])), FiniteView(symbols, s)))

    def query(size: int, extra: Callable[[Z3Logic, Z3View, list], list]) -> tuple[str, Any, list]:
        consts = [z3.Const(f"e{i}", voc.req) for i in range(size)]
        L = Z3Logic(voc, consts)
        v = Z3View(pre)
        solver = new_solver(limits)
        solver.add(L.bool(desc.background(L, v)), L.bool(desc.parameters(L, v)), *extra(L, v, consts))
        out.queries += 1
        answer = solver.check()
        if answer == z3.unknown:
            return "unknown", limits.explain(solver.reason_unknown()), []
        if answer == z3.unsat:
            return "unsat", None, []
        model = solver.model()
        distinct: list = []
        for c in consts:
            if not any(z3.is_true(model.eval(c == d, model_completion=True)) for d in distinct):
                distinct.append(c)
        return "sat", model, distinct

    pre = voc.copy("0")
    terms = _Terms(voc, pre)

    def initiation(L: Z3Logic, v: Z3View, consts: list) -> list:
        initial = desc.initial(L, v)
        init = []
        for name, sym in symbols.items():
            if sym.static:
                continue
            t, value = pre[name], initial[name]
            def same(*xs, t=t, value=value):
                return (t(*xs) == L.term(value(*xs)))
            init.append(t == L.term(value) if sym.arity == 0 else L.forall(same, sym.arity))
        return [*init, z3.Not(terms.conjunction(kept, len(consts)))]

    while True:
        answer, model, universe = query(widest, initiation)
        if answer == "unknown":
            return HoudiniOutcome("unknown", reason=model, queries=out.queries)
        if answer == "unsat":
            break
        broken = drop(model, universe, at_state, "the initial states")
        if broken:
            return broken
    changed = True
    while changed:
        changed = False
        for inst in desc.instances():
            k = len(inst.requests)
            while True:
                def consecution(L: Z3Logic, v: Z3View, consts: list, inst: Any = inst, k: int = k) -> list:
                    reqs = tuple(consts[:k])
                    upd = desc.apply(inst, L, v, reqs)
                    action, args = inst.label(reqs)
                    named = dict(zip(inst.order, args))
                    now = terms.conjunction(kept, len(consts))
                    return [now, L.bool(upd.guard), *[L.bool(assumptions[a](L, v, action, named)) for a in active],
                            z3.Not(terms.after(now, upd.changes, L))]

                answer, model, universe = query(k + widest, consecution)
                if answer == "unknown":
                    return HoudiniOutcome("unknown", reason=model, queries=out.queries)
                if answer == "unsat":
                    break
                consts = [z3.Const(f"e{i}", voc.req) for i in range(k + widest)]
                index = [next(j for j, e in enumerate(universe)
                              if z3.is_true(model.eval(consts[i] == e, model_completion=True))) for i in range(k)]
                label = inst.label(index)
                shown = f"step {label[0]}({', '.join(map(str, label[1]))})"

                def after(c: Conjunct, s: Structure, inst: Any = inst, index: list = index,
                          size: int = len(universe)) -> bool:
                    FL = FiniteLogic(size)
                    nxt = finite_after(symbols, s, desc.apply(inst, FL, FiniteView(symbols, s), tuple(index)).changes)
                    return bool(c.formula(FL, FiniteView(symbols, nxt)))

                broken = drop(model, universe, after, f"{shown} (from a state where every conjunct holds)")
                if broken:
                    return broken
                changed = True
    out.kept = kept
    return out


class _Terms:
    """Each conjunct's z3 formula over the state before a step, built once per number of request
    constants (building z3 terms from Python is the slow part), and the same formula over the
    state after a step by substituting the step's updates for the symbols (in z3)."""

    def __init__(self, voc: Vocabulary, pre: dict[str, Any]):
        self.voc = voc
        self.pre = pre
        self.memo: dict[tuple[str, int], z3.BoolRef] = {}
        self.atoms: dict[tuple, Any] = {}

    def of(self, c: Conjunct, size: int) -> z3.BoolRef:
        key = (c.name, size)
        if key not in self.memo:
            consts = [z3.Const(f"e{i}", self.voc.req) for i in range(size)]
            L = Z3Logic(self.voc, consts)
            self.memo[key] = L.bool(c.formula(L, _CachedView(self.pre, self.atoms)))
        return self.memo[key]

    def conjunction(self, kept: list[Conjunct], size: int) -> z3.BoolRef:
        return z3.And([self.of(c, size) for c in kept])

    def after(self, formula: z3.BoolRef, changes: dict[str, Any], L: Z3Logic) -> z3.BoolRef:
        funs, consts = [], []
        for name, new in changes.items():
            sym = self.voc.symbols[name]
            if sym.arity == 0:
                consts.append((self.pre[name], L.term(new)))
            else:
                xs = [z3.Var(i, self.voc.req) for i in range(sym.arity)]
                funs.append((self.pre[name], L.term(new(*xs))))
        out = z3.substitute_funs(formula, *funs) if funs else formula
        return z3.substitute(out, *consts) if consts else out


class _CachedView:
    """A z3 state view whose applications are made once (``sub(e0)`` is one term however often read)."""

    def __init__(self, terms: dict[str, Any], memo: dict[tuple, Any]):
        self._t = terms
        self._memo = memo

    def __getattr__(self, name: str) -> Any:
        t = self._t[name]
        if not isinstance(t, z3.FuncDeclRef):
            return t
        memo = self._memo

        def apply(*xs: Any) -> Any:
            key = (name, *(x.get_id() for x in xs))
            if key not in memo:
                memo[key] = t(*xs)
            return memo[key]
        return apply


__all__ = ["Conjunct", "HoudiniOutcome", "Z3View", "houdini"]


def shrink(desc: Parametric, kept: list[Conjunct], goals: list[Conjunct], active: tuple[str, ...],
           limits: Limits) -> list[Conjunct]:
    """The part of an inductive ``kept`` that the ``goals`` rest on: starting from the goals, add
    the conjuncts of each step's unsat core (z3: the conjuncts before the step that imply the
    ones needed after it) until nothing is added. The result is inductive on its own (each step
    keeps it, with only its own conjuncts assumed before the step) and is what is printed."""
    voc = Vocabulary(desc.symbols())
    pre = voc.copy("0")
    terms = _Terms(voc, pre)
    widest = max((witnesses(c.formula, voc) for c in kept), default=1)
    assumptions = desc.assumptions()
    needed = [c for c in kept if c in goals]
    changed = True
    while changed:
        changed = False
        for inst in desc.instances():
            k = len(inst.requests)
            consts = [z3.Const(f"e{i}", voc.req) for i in range(k + widest)]
            L = Z3Logic(voc, consts)
            v = Z3View(pre)
            reqs = tuple(consts[:k])
            upd = desc.apply(inst, L, v, reqs)
            action, args = inst.label(reqs)
            named = dict(zip(inst.order, args))
            solver = new_solver(limits)
            solver.add(L.bool(desc.background(L, v)), L.bool(desc.parameters(L, v)), L.bool(upd.guard),
                       *[L.bool(assumptions[a](L, v, action, named)) for a in active],
                       z3.Not(terms.after(terms.conjunction(needed, len(consts)), upd.changes, L)))
            marks = {z3.Bool(f"keep!{i}"): c for i, c in enumerate(kept)}
            for mark, c in marks.items():
                solver.add(z3.Implies(mark, terms.of(c, len(consts))))
            answer = solver.check(*marks)
            if answer != z3.unsat:  # kept is inductive: only a limit can stop z3 here
                return kept
            for mark in solver.unsat_core():
                c = marks[mark]  # type: ignore[index]
                if c not in needed:
                    needed.append(c)
                    changed = True
    return [c for c in kept if c in needed]
