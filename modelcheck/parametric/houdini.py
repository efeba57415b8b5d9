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
from itertools import permutations, product
from typing import Any

import z3

from ..errors import EngineBug
from ..symbolic.encode import Limits, new_solver
from .logic import FiniteLogic, FiniteView, Structure, Vocabulary, Z3Logic, Z3View, finite_after, from_model, size_of
from .model import Parametric
from .refine import finite_successors

Formula = Callable[[Any, Any], Any]  # (L, v) -> formula, read over either logic


@dataclass(frozen=True)
class Conjunct:
    name: str
    text: str
    formula: Formula
    protected: bool = False  # the property or a user's invariant: dropping it ends the search
    holds: Callable[[Structure], bool] | None = None  # the formula on a finite state, faster (mined clauses)
    clause: Any = None  # a mined clause (mine.Clause): grounded directly, without going through ``formula``
    width: int | None = None  # how many variables it binds, when known (else counted from ``formula``)


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
    engine: Queries | None = None  # the solvers, for reducing the invariant


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


INITIAL = -1  # the "step" of a query about the initial states
ANY = None  # a query about every step at once


def houdini(desc: Parametric, conjuncts: list[Conjunct], active: tuple[str, ...], limits: Limits) -> HoudiniOutcome:
    """Drop conjuncts until the rest are kept by every step and hold initially, for any number of requests.

    Every conjunct, guard and assumption is universal (``forall`` over requests in positive
    places) and no function maps requests to requests, so a universal sentence stays true in
    every substructure: when some state with some step breaks a conjunct, the requests the
    step names plus the broken conjunct's variables already form a state that breaks it. Each
    query therefore reads quantifiers over that many request constants (not necessarily
    distinct), which decides it for every number of requests.

    The queries run on :class:`Queries`' two incremental solvers (the initial states; the
    steps), every conjunct behind an indicator literal, one step at a time and only about the
    conjuncts that mention a symbol the step changes. A state z3 gives is read back as a
    finite instance, and every step of the description from it (not only the one z3 chose)
    is taken in Python: a conjunct false after any of them is dropped, since the state
    satisfies every kept conjunct. The search ends after a pass over every step in which z3
    finds no step from a state satisfying every kept conjunct that breaks one."""
    q = Queries(desc, [*typing(desc), *conjuncts], active, limits)
    conj = q.conjuncts
    kept = set(range(len(conj)))
    out = HoudiniOutcome("proved", engine=q)

    def drop(false: dict[int, str], state: Structure) -> HoudiniOutcome | None:
        for i in sorted(false):
            if conj[i].protected:
                rest = [conj[j] for j in sorted(kept) if j not in false]
                return HoudiniOutcome("broken", kept=rest, failed=conj[i], step=false[i], state=state,
                                      queries=q.queries, dropped=out.dropped, history=out.history, engine=q)
        for i in sorted(false):
            kept.discard(i)
            q.retire(i)
            out.history[conj[i].text] = false[i]
        out.dropped += len(false)
        return None

    def initially_false(answer: Answer) -> dict[int, str]:
        false = {i: "the initial states" for i in sorted(kept) if not q.holds(i, answer.state)}
        if not false:
            raise EngineBug("z3 found an initial state breaking the candidates, but none is false on it in the "
                            "finite reading")
        return false

    def settle(step: int) -> HoudiniOutcome | bool:
        """Ask about ``step`` until z3 finds nothing more it breaks: an outcome when Houdini stops
        there, else whether a conjunct was dropped."""
        dropped = False
        while True:
            answer = q.check(kept, kept, step)
            if answer.status == "unknown":
                return HoudiniOutcome("unknown", reason=answer.reason, queries=q.queries, engine=q)
            if answer.status == "unsat":
                return dropped
            false = initially_false(answer) if step == INITIAL else q.broken_after(answer, kept)
            broken = drop(false, answer.state)
            if broken:
                return broken
            dropped = True

    settled = settle(INITIAL)
    if isinstance(settled, HoudiniOutcome):
        return settled
    changed = True
    while changed:
        changed = False
        for step in range(len(q.instances)):
            settled = settle(step)
            if isinstance(settled, HoudiniOutcome):
                return settled
            changed |= settled
    out.kept = [conj[i] for i in sorted(kept)]
    out.queries = q.queries
    return out


@dataclass
class Answer:
    """One query's answer: ``unsat`` (with ``core``, the indices of the conjuncts assumed before the step that
    the answer rests on), ``sat`` (``state``: the finite state before the step, ``step`` the step z3 chose,
    ``args``: its request arguments as elements of the state) or ``unknown`` (``reason``)."""

    status: str
    step: int | None = None
    core: frozenset[int] = frozenset()
    state: Structure | None = None
    args: tuple[int, ...] = ()
    reason: str = ""


class Queries:
    """The z3 side of Houdini and of the invariant's reduction, over ``k + w`` request constants
    (``k``: the most requests a step names, ``w``: the most variables a conjunct binds).

    Two incremental solvers, built once: one for the initial states, one for a step (every
    step of the description behind its selector literal ``step!j``: guard, assumptions, and
    the state after it, ``sym@1``, equal to the step's updates on every tuple of constants).
    For every conjunct ``i`` each holds ``keep!i -> conjunct before the step`` and ``break!i
    -> conjunct false after it`` (in the initial state, for the first), with ``break!0 or
    break!1 or ...``. :meth:`check` asks whether some state satisfying a set of conjuncts has
    a step (one given, or any) after which a conjunct of another set is false, by assumptions
    only: nothing is rebuilt between queries, and a conjunct out for good (:meth:`retire`)
    has its ``break!i`` asserted false. z3's resource limit counts per check."""

    def __init__(self, desc: Parametric, conjuncts: list[Conjunct], active: tuple[str, ...], limits: Limits,
                 widest: int | None = None):
        self.desc = desc
        self.conjuncts = conjuncts
        self.active = active
        self.limits = limits
        self.voc = Vocabulary(desc.symbols())
        self.symbols = desc.symbol_table()
        self.pre = self.voc.copy("0")
        self.post = self.voc.copy("1")
        self.instances = desc.instances()
        self.widest = widest or max((c.width or witnesses(c.formula, self.voc) for c in conjuncts), default=1)
        self.width = max((len(inst.requests) for inst in self.instances), default=0)
        self.consts = [z3.Const(f"e{i}", self.voc.req) for i in range(self.width + self.widest)]
        self.terms = _Terms(self.voc, self.consts)
        self.keep = [z3.Bool(f"keep!{i}") for i in range(len(conjuncts))]
        self.breaks = [z3.Bool(f"break!{i}") for i in range(len(conjuncts))]
        self.unbroken = [z3.Not(b) for b in self.breaks]
        self.selectors = [z3.Bool(f"step!{j}") for j in range(len(self.instances))]
        self.index = {k.get_id(): i for i, k in enumerate(self.keep)}
        self.mentions = [self._mentions(c) for c in conjuncts]
        L, v = Z3Logic(self.voc, self.consts), Z3View(self.pre)
        self.changes = [frozenset(desc.apply(inst, L, v, tuple(self.consts[:len(inst.requests)])).changes)
                        for inst in self.instances]
        self.retired: list[int] = []
        self.out: set[int] = set()  # the retired, as a set
        self.solvers: dict[bool, list] = {}  # initial? -> [solver, retired conjuncts asserted so far]
        self.queries = 0
        self.cores: dict[int, frozenset[int]] = {}  # per step, the core of its last unsat answer

    def _mentions(self, c: Conjunct) -> frozenset[str]:
        """The symbols a conjunct reads (a step that changes none of them keeps it)."""
        if c.clause is not None:
            return frozenset(atom[0] for atom, _ in (*c.clause.cell, *c.clause.lits))
        read: set[str] = set()
        c.formula(Z3Logic(self.voc, self.consts), _Recording(self.pre, read))
        return frozenset(read)

    def affected(self, step: int, conjuncts: set[int] | frozenset[int]) -> frozenset[int]:
        """Those of ``conjuncts`` that mention a symbol the ``step``-th step changes: the others it keeps."""
        changed = self.changes[step]
        return frozenset(i for i in conjuncts if self.mentions[i] & changed)

    def retire(self, i: int) -> None:
        """Conjunct ``i`` is never again asked to hold after a step."""
        if i not in self.out:
            self.retired.append(i)
            self.out.add(i)

    def label(self, step: int | None) -> str:
        return {INITIAL: "the initial states", ANY: "some step"}.get(step) or self.instances[step].action

    def holds(self, i: int, state: Structure) -> bool:
        """Conjunct ``i`` on a finite state, in plain Python."""
        c = self.conjuncts[i]
        if c.holds is not None:
            return c.holds(state)
        return bool(c.formula(FiniteLogic(size_of(state)), FiniteView(self.symbols, state)))

    def _solver(self, initial: bool) -> z3.Solver:
        if initial not in self.solvers:
            self.solvers[initial] = [self._build(initial), 0]
        solver, seen = self.solvers[initial]
        for i in self.retired[seen:]:
            solver.add(self.unbroken[i])
        self.solvers[initial][1] = len(self.retired)
        return solver

    def _build(self, initial: bool) -> z3.Solver:
        L = Z3Logic(self.voc, self.consts)
        v = Z3View(self.pre)
        solver = new_solver(self.limits)
        solver.set("core.minimize", False)  # z3 minimising each core costs seconds a query; minimise.py does it
        solver.add(L.bool(self.desc.background(L, v)), L.bool(self.desc.parameters(L, v)))
        if initial:
            solver.add(*self.initial_constraints(L, v))
            for i, c in enumerate(self.conjuncts):
                solver.add(z3.Implies(self.breaks[i], z3.Not(self.terms.of(c, self.pre))))
        else:
            assumptions = self.desc.assumptions()
            for j, inst in enumerate(self.instances):
                reqs = tuple(self.consts[:len(inst.requests)])
                upd = self.desc.apply(inst, L, v, reqs)
                action, args = inst.label(reqs)
                named = dict(zip(inst.order, args))
                solver.add(z3.Implies(self.selectors[j], z3.And(
                    L.bool(upd.guard), *[L.bool(assumptions[a](L, v, action, named)) for a in self.active],
                    *self._frame(L, upd.changes))))
            solver.add(z3.Or(self.selectors), z3.AtMost(*self.selectors, 1))
            for i, c in enumerate(self.conjuncts):
                solver.add(z3.Implies(self.keep[i], self.terms.of(c, self.pre)),
                           z3.Implies(self.breaks[i], z3.Not(self.terms.of(c, self.post))))
        solver.add(z3.Or(self.breaks))
        return solver

    def _frame(self, L: Z3Logic, changes: dict[str, Any]) -> list:
        """The state after a step (``sym@1``) on every tuple of constants: the update, or as before."""
        out = []
        for name, sym in self.symbols.items():
            if sym.static:
                continue
            before, after, new = self.pre[name], self.post[name], changes.get(name)
            if sym.arity == 0:
                out.append(after == (before if new is None else L.term(new)))
                continue
            for xs in product(self.consts, repeat=sym.arity):
                out.append(after(*xs) == (before(*xs) if new is None else L.term(new(*xs))))
        return out

    def initial_constraints(self, L: Z3Logic, v: Z3View) -> list:
        """The state ``pre`` is an initial state (over the request constants of ``L``)."""
        initial = self.desc.initial(L, v)
        out = []
        for name, sym in self.symbols.items():
            if sym.static:
                continue
            t, value = self.pre[name], initial[name]

            def same(*xs: Any, t: Any = t, value: Any = value) -> Any:
                return t(*xs) == L.term(value(*xs))
            out.append(t == L.term(value) if sym.arity == 0 else L.forall(same, sym.arity))
        return out

    def check(self, before: set[int] | frozenset[int], after: set[int] | frozenset[int],
              step: int | None = ANY) -> Answer:
        """Is there a state where the conjuncts ``before`` hold (``step == INITIAL``: an initial state), and
        a step (``ANY``, or the ``step``-th instance) from it, after which one of ``after`` is false? Every
        conjunct not in ``after`` must be retired or is switched off for this query only. About one
        step, only the conjuncts of ``after`` it may change are asked (none: unsat without a query)."""
        if step is not ANY and step != INITIAL:
            after = self.affected(step, after)
            if not after:
                self.cores[step] = frozenset()
                return Answer("unsat", step)
        solver = self._solver(step == INITIAL)
        out = self.out
        assume = [self.keep[i] for i in sorted(before)] if step != INITIAL else []
        assume += [self.unbroken[i] for i in range(len(self.conjuncts)) if i not in after and i not in out]
        if step is not ANY and step != INITIAL:
            assume.append(self.selectors[step])
        self.queries += 1
        answer = solver.check(*assume)
        if answer == z3.unknown:
            return Answer("unknown", step, reason=self.limits.explain(solver.reason_unknown()))
        if answer == z3.unsat:
            core = frozenset(self.index[c.get_id()] for c in solver.unsat_core() if c.get_id() in self.index)
            if step is not ANY:
                self.cores[step] = core
            return Answer("unsat", step, core=core)
        model = solver.model()
        distinct: list = []
        for c in self.consts:
            if not any(z3.is_true(model.eval(c == d, model_completion=True)) for d in distinct):
                distinct.append(c)
        state = from_model(self.voc, model, self.pre, distinct)
        if step == INITIAL:
            return Answer("sat", step, state=state)
        chosen = next(j for j, sel in enumerate(self.selectors) if z3.is_true(model.eval(sel, model_completion=True)))
        args = tuple(next(j for j, e in enumerate(distinct)
                          if z3.is_true(model.eval(self.consts[i] == e, model_completion=True)))
                     for i in range(len(self.instances[chosen].requests)))
        return Answer("sat", chosen, state=state, args=args)

    def successors(self, answer: Answer) -> list[tuple[str, Structure]]:
        """The state after the step z3 chose, then after every other step of the description from the
        same state (each with its guard and assumptions), labelled for the reader."""
        state = answer.state
        assert state is not None and answer.step is not None
        inst = self.instances[answer.step]
        FL = FiniteLogic(size_of(state))
        first = finite_after(self.symbols, state,
                             self.desc.apply(inst, FL, FiniteView(self.symbols, state), answer.args).changes)
        out = [(_shown(inst.label(answer.args)), first)]
        for label, nxt in finite_successors(self.desc, state, self.active).items():
            if label != inst.label(answer.args):
                out.append((_shown(label), nxt))
        return out

    def broken_after(self, answer: Answer, kept: set[int] | frozenset[int]) -> dict[int, str]:
        """The conjuncts of ``kept`` false after some step from the state of a ``sat`` answer (which
        satisfies them all: checked), each with the step that breaks it."""
        state = answer.state
        assert state is not None
        wrong = [self.conjuncts[i].text for i in sorted(kept) if not self.holds(i, state)]
        if wrong:
            raise EngineBug(f"z3's state before {self.label(answer.step)} breaks {wrong[0]} in the finite reading")
        false: dict[int, str] = {}
        for n, (shown, nxt) in enumerate(self.successors(answer)):
            for i in sorted(kept):
                if i not in false and not self.holds(i, nxt):
                    false[i] = f"{shown} (from a state where every conjunct holds)"
            if n == 0 and not false:
                raise EngineBug(f"z3 found a state breaking the candidates at {shown}, but none is false after it "
                                "in the finite reading")
        return false


def _shown(label: tuple[str, tuple]) -> str:
    return f"step {label[0]}({', '.join(map(str, label[1]))})"


class _Terms:
    """Each conjunct's z3 formula over the request constants, per state copy, built once (building z3
    terms from Python is the slow part). A mined clause (``Conjunct.clause``) is grounded directly:
    one ``Or`` per tuple of distinct constants, its literals made once each."""

    def __init__(self, voc: Vocabulary, consts: list):
        self.voc = voc
        self.consts = consts
        self.memo: dict[tuple[str, int], z3.BoolRef] = {}
        self.atoms: dict[tuple, Any] = {}
        self.literals: dict[tuple, Any] = {}

    def of(self, c: Conjunct, copy: dict[str, Any]) -> z3.BoolRef:
        key = (c.name, id(copy))
        if key not in self.memo:
            view = _CachedView(copy, self.atoms)
            if c.clause is not None:
                self.memo[key] = self._ground(c.clause, view, id(copy))
            else:
                L = Z3Logic(self.voc, self.consts)
                self.memo[key] = L.bool(c.formula(L, view))
        return self.memo[key]

    def _ground(self, clause: Any, view: _CachedView, tag: int) -> z3.BoolRef:
        out = []
        for xs in permutations(range(len(self.consts)), clause.arity):
            lits = [self._literal(view, tag, atom, not positive, xs) for atom, positive in clause.cell]
            lits += [self._literal(view, tag, atom, positive, xs) for atom, positive in clause.lits]
            out.append(z3.Or(lits))
        return z3.And(out)

    def _literal(self, view: _CachedView, tag: int, atom: tuple, positive: bool, xs: tuple) -> Any:
        name, names, value = atom
        at = tuple(xs["xy".index(n)] for n in names)
        key = (tag, name, at, value, positive)
        if key not in self.literals:
            term = getattr(view, name)
            if names:
                term = term(*[self.consts[i] for i in at])
            if value is not None:
                term = term == self.voc.value(value)
            self.literals[key] = term if positive else z3.Not(term)
        return self.literals[key]

    def after(self, formula: z3.BoolRef, changes: dict[str, Any], L: Z3Logic, pre: dict[str, Any]) -> z3.BoolRef:
        """``formula`` over the state ``pre`` read after a step with ``changes`` (substituted in z3)."""
        funs, consts = [], []
        for name, new in changes.items():
            sym = self.voc.symbols[name]
            if sym.arity == 0:
                consts.append((pre[name], L.term(new)))
            else:
                xs = [z3.Var(i, self.voc.req) for i in range(sym.arity)]
                funs.append((pre[name], L.term(new(*xs))))
        out = z3.substitute_funs(formula, *funs) if funs else formula
        return z3.substitute(out, *consts) if consts else out


class _Recording:
    """A z3 state view that notes which symbols are read."""

    def __init__(self, terms: dict[str, Any], read: set[str]):
        self._t = terms
        self._read = read

    def __getattr__(self, name: str) -> Any:
        self._read.add(name)
        return self._t[name]


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
            key = (t.get_id(), *(x.get_id() for x in xs))
            if key not in memo:
                memo[key] = t(*xs)
            return memo[key]
        return apply


__all__ = ["ANY", "INITIAL", "Answer", "Conjunct", "HoudiniOutcome", "Queries", "Z3View", "houdini"]
