"""Candidate invariants learnt from small instances: universally quantified clauses over per-request atoms.

A candidate reads ``for all requests x != y: CELL(x, y) -> l1 or l2 or l3``: ``CELL`` fixes the
static atoms (kinds, program order: a write before a flush, ...), each ``l`` is an atom of the
state or its negation (``observed(x)``, ``outcome(y) = ok``, ``ordered(x, y)``, ``vm =
stopped``), and one-request candidates read ``for all x: CELL(x) -> ...``. Every such clause of
up to three literals that is true in every state of the small instances the refinement check
searched is a candidate, unless a shorter candidate implies it. The candidates only suggest:
:mod:`.houdini` keeps those z3 shows inductive for every number of requests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations, permutations
from typing import Any

from .logic import Structure, Symbol, size_of

Atom = tuple[str, tuple[str, ...], Any]  # (symbol, variables, value: None for a relation)
Literal = tuple[Atom, bool]


@dataclass(frozen=True)
class Clause:
    """``for all (x != y): cell -> any of lits``; ``arity`` 1 or 2 variables."""

    arity: int
    cell: tuple[Literal, ...]
    lits: tuple[Literal, ...]

    def formula(self, L: Any, v: Any) -> Any:
        def body(*xs: Any) -> Any:
            env = dict(zip("xy", xs))
            guard = [holds(L, v, lit, env) for lit in self.cell]
            if self.arity == 2:
                guard.insert(0, L.not_(xs[0] == xs[1]))
            return L.implies(L.and_(*guard), L.or_(*[holds(L, v, lit, env) for lit in self.lits]))
        return L.forall(body, self.arity)

    def holds_in(self, s: Structure) -> bool:
        """The clause on a finite state (what :meth:`formula` says over ``FiniteLogic``, read directly)."""
        for xs in permutations(range(size_of(s)), self.arity):
            env = dict(zip("xy", xs))
            if all(_value(s, a, env) == positive for a, positive in self.cell) and \
                    not any(_value(s, a, env) == positive for a, positive in self.lits):
                return False
        return True

    def text(self) -> str:
        """Readable: the negative literals join the premise, ``x, y: A and B -> C or D``."""
        head = "for all x != y" if self.arity == 2 else "for all x"
        positive = [show(lit) for lit in self.lits if lit[1]]
        negative = [show((lit[0], True)) for lit in self.lits if not lit[1]]
        cell = [show(lit) for lit in self.cell]
        if positive:
            premise, conclusion = cell + negative, " or ".join(positive)
        elif negative:
            premise = cell
            conclusion = f"not ({' and '.join(negative)})" if len(negative) > 1 else show(self.lits[0])
        else:
            premise, conclusion = cell, "false"
        return f"{head}: {' and '.join(premise) + ' -> ' if premise else ''}{conclusion}"


def holds(L: Any, v: Any, lit: Literal, env: dict[str, Any]) -> Any:
    (name, xs, value), positive = lit
    term = getattr(v, name)
    if xs:
        term = term(*[env[x] for x in xs])
    atom = term if value is None else L.eq(term, value)
    return atom if positive else L.not_(atom)


def show(lit: Literal) -> str:
    (name, xs, value), positive = lit
    text = f"{name}({', '.join(xs)})" if xs else name
    if value is not None:
        return f"{text} {'=' if positive else '!='} {value}"
    return text if positive else f"not {text}"


def atoms(symbols: Iterable[Symbol], arity: int) -> tuple[list[Atom], list[Atom]]:
    """The static atoms (cells) and the state atoms over ``x`` (and ``y``)."""
    static: list[Atom] = []
    state: list[Atom] = []
    names = "xy"[:arity]
    for sym in symbols:
        if sym.kind == "int" or sym.arity > arity:
            continue
        var_sets = [()] if sym.arity == 0 else [tuple(p) for p in permutations(names, sym.arity)]
        if sym.arity == 1:
            var_sets = [(x,) for x in names]
        values = [None] if sym.kind == "bool" else list(sym.values)
        for xs in var_sets:
            for value in values:
                (static if sym.static else state).append((sym.name, xs, value))
    return static, state


def _value(s: Structure, atom: Atom, env: dict[str, int]) -> bool:
    name, xs, value = atom
    t = s[name]
    for x in xs:
        t = t[env[x]]
    return bool(t) if value is None else t == value


def mine(symbols: Sequence[Symbol], seen: Iterable[Structure], max_literals: tuple[int, int] = (3, 3)) -> list[Clause]:
    """Every minimal clause true in every state of ``seen``: of up to ``max_literals[0]`` state literals over
    one request, ``max_literals[1]`` over two (more would make thousands of candidates, each one more
    quantified formula in every z3 query); a two-request clause of three literals must have one over both
    requests (``ordered(x, y)``), the relation that ties the other two together."""
    seen = list(seen)
    out: list[Clause] = []
    for arity in (1, 2):
        static, state = atoms(symbols, arity)
        if arity == 2:  # facts of the whole state are candidates over one request already
            state = [a for a in state if a[1]]
        cells: dict[tuple, set[tuple]] = {}
        for s in seen:
            n = size_of(s)
            for xs in permutations(range(n), arity):
                env = dict(zip("xy", xs))
                key = tuple(_value(s, a, env) for a in static)
                cells.setdefault(key, set()).add(tuple(_value(s, a, env) for a in state))
        for key, vectors in sorted(cells.items()):
            cell = tuple((a, bool(b)) for a, b in zip(static, key))
            found = _clauses(state, sorted(vectors), max_literals[arity - 1], arity == 2)
            out += [Clause(arity, cell, lits) for lits in found]
    return out


def _clauses(state: list[Atom], vectors: list[tuple], max_literals: int, tied: bool) -> list[tuple[Literal, ...]]:
    full = (1 << len(vectors)) - 1
    literals: list[tuple[Literal, int]] = []
    for i, atom in enumerate(state):
        mask = sum(1 << j for j, vec in enumerate(vectors) if vec[i])
        literals.append(((atom, True), mask))
        literals.append(((atom, False), full ^ mask))
    # a literal true nowhere adds nothing to a clause
    literals = [(lit, m) for lit, m in literals if m]
    found: list[frozenset] = []
    result: list[tuple[Literal, ...]] = []
    for k in range(1, max_literals + 1):
        for combo in combinations(range(len(literals)), k):
            mask = 0
            for i in combo:
                mask |= literals[i][1]
            if mask != full:
                continue
            ids = frozenset(combo)
            if any(f <= ids for f in found):
                continue
            if len({literals[i][0][0] for i in combo}) < k:  # an atom and its negation
                continue
            if tied and k == 3 and not any(len(literals[i][0][0][1]) == 2 for i in combo):
                continue
            found.append(ids)
            result.append(tuple(literals[i][0] for i in combo))
    return result
