"""Bounded-integer formulas as propositional ones: each integer variable one Boolean per value.

Houdini's queries over the compact layout are small-domain integer arithmetic (a position
from -1 to 4, a budget from 0 to 1), which z3's arithmetic solver handles slowly when thousands
of candidate facts ride along. Here every integer variable ``x`` in ``lo..hi`` becomes the
Booleans ``x=lo`` ... ``x=hi``, exactly one true, and every integer term a table from each
value it can take to the condition under which it takes it; comparisons become disjunctions
over the table. The result is equivalent to the original over the variables' ranges (a test
checks both ways), so z3 answers the same question with propositional reasoning only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import z3

Table = dict[int, z3.BoolRef]  # value → when the term takes it


@dataclass
class OneHot:
    """The per-value Booleans of some bounded integer variables, and the translation of formulas over them."""

    ranges: dict[int, tuple[int, int]] = field(default_factory=dict)  # variable id → (lo, hi)
    bits: dict[int, list[z3.BoolRef]] = field(default_factory=dict)  # variable id → one Boolean per value
    _memo: dict[int, object] = field(default_factory=dict)

    def add(self, var: z3.ArithRef, lo: int, hi: int) -> list[z3.BoolRef]:
        """Give ``var`` (ranging over ``lo..hi``) its Booleans, named ``var=value``."""
        key = var.get_id()
        if key not in self.bits:
            self.ranges[key] = (lo, hi)
            self.bits[key] = [z3.Bool(f"{var}={v}") for v in range(lo, hi + 1)]
        return self.bits[key]

    def is_value(self, var: z3.ExprRef, value: int | bool) -> z3.BoolRef:
        """The Boolean saying ``var = value`` (``var`` itself for a Boolean variable)."""
        if z3.is_bool(var):
            return var if value else z3.Not(var)
        lo, hi = self.ranges[var.get_id()]
        if not lo <= value <= hi:
            return z3.BoolVal(False)
        return self.bits[var.get_id()][value - lo]

    def exactly_one(self) -> z3.BoolRef:
        """Each variable takes exactly one of its values."""
        out = []
        for bs in self.bits.values():
            out.append(some(bs))
            out += [z3.Or(z3.Not(a), z3.Not(b)) for i, a in enumerate(bs) for b in bs[i + 1:]]
        return every(out)

    def formula(self, e: z3.ExprRef) -> z3.BoolRef:
        """A Boolean formula over the variables given as an equivalent one over their Booleans."""
        return z3.simplify(self._bool(e))

    # ----------------------------------------------------------------- translation

    def _bool(self, e: z3.ExprRef) -> z3.BoolRef:
        key = e.get_id()
        got = self._memo.get(key)
        if got is not None:
            return got  # type: ignore[return-value]
        out = self._bool_new(e)
        self._memo[key] = out
        return out

    def _bool_new(self, e: z3.ExprRef) -> z3.BoolRef:
        if z3.is_true(e) or z3.is_false(e):
            return e  # type: ignore[return-value]
        kids = e.children()
        kind = e.decl().kind() if z3.is_app(e) else None
        if z3.is_const(e):  # a Boolean variable
            return e  # type: ignore[return-value]
        if kind == z3.Z3_OP_AND:
            return every([self._bool(k) for k in kids])
        if kind == z3.Z3_OP_OR:
            return some([self._bool(k) for k in kids])
        if kind == z3.Z3_OP_NOT:
            return z3.Not(self._bool(kids[0]))
        if kind == z3.Z3_OP_IMPLIES:
            return z3.Implies(self._bool(kids[0]), self._bool(kids[1]))
        if kind == z3.Z3_OP_XOR:
            return z3.Xor(self._bool(kids[0]), self._bool(kids[1]))
        if kind == z3.Z3_OP_ITE:
            return z3.If(self._bool(kids[0]), self._bool(kids[1]), self._bool(kids[2]))
        if kind in (z3.Z3_OP_EQ, z3.Z3_OP_DISTINCT) and z3.is_bool(kids[0]):
            a, b = self._bool(kids[0]), self._bool(kids[1])
            return a == b if kind == z3.Z3_OP_EQ else a != b  # type: ignore[return-value]
        compare = {z3.Z3_OP_EQ: lambda a, b: a == b, z3.Z3_OP_DISTINCT: lambda a, b: a != b,
                   z3.Z3_OP_LE: lambda a, b: a <= b, z3.Z3_OP_LT: lambda a, b: a < b,
                   z3.Z3_OP_GE: lambda a, b: a >= b, z3.Z3_OP_GT: lambda a, b: a > b}
        if kind in compare and len(kids) == 2:
            ta, tb = self._int(kids[0]), self._int(kids[1])
            holds = compare[kind]
            return some([z3.And(ca, cb) for va, ca in ta.items() for vb, cb in tb.items() if holds(va, vb)])
        raise ValueError(f"no propositional form for {e.sexpr()[:200]}")

    def _int(self, e: z3.ExprRef) -> Table:
        key = e.get_id()
        got = self._memo.get(key)
        if got is not None:
            return got  # type: ignore[return-value]
        out = {v: c for v, c in self._int_new(e).items() if not z3.is_false(c)}
        self._memo[key] = out
        return out

    def _int_new(self, e: z3.ExprRef) -> Table:
        if z3.is_int_value(e):
            return {e.as_long(): z3.BoolVal(True)}  # type: ignore[attr-defined]
        if z3.is_const(e):
            lo, _ = self.ranges.get(e.get_id(), (None, None))
            if lo is None:
                raise ValueError(f"integer variable {e} has no range")
            return {lo + i: b for i, b in enumerate(self.bits[e.get_id()])}
        kids = e.children()
        kind = e.decl().kind()
        if kind == z3.Z3_OP_ITE:
            c = self._bool(kids[0])
            ta, tb = self._int(kids[1]), self._int(kids[2])
            return {v: z3.Or(z3.And(c, ta[v]) if v in ta else z3.BoolVal(False),
                             z3.And(z3.Not(c), tb[v]) if v in tb else z3.BoolVal(False))
                    for v in sorted(set(ta) | set(tb))}
        if kind in (z3.Z3_OP_ADD, z3.Z3_OP_SUB, z3.Z3_OP_MUL):
            tables = [self._int(k) for k in kids]
            if kind == z3.Z3_OP_MUL and sum(len(t) > 1 for t in tables) > 1:
                raise ValueError(f"no propositional form for a product of variables: {e.sexpr()[:200]}")
            op = {z3.Z3_OP_ADD: lambda a, b: a + b, z3.Z3_OP_SUB: lambda a, b: a - b,
                  z3.Z3_OP_MUL: lambda a, b: a * b}[kind]
            acc = tables[0]
            for t in tables[1:]:
                joined: dict[int, list[z3.BoolRef]] = {}
                for va, ca in acc.items():
                    for vb, cb in t.items():
                        joined.setdefault(op(va, vb), []).append(z3.And(ca, cb))
                acc = {v: some(cs) for v, cs in joined.items()}
            return acc
        if kind == z3.Z3_OP_UMINUS:
            return {-v: c for v, c in self._int(kids[0]).items()}
        raise ValueError(f"no propositional form for {e.sexpr()[:200]}")


def some(parts: list[z3.BoolRef]) -> z3.BoolRef:
    """A disjunction, false when empty (``z3.Or()`` of nothing is not a formula)."""
    return z3.Or(*parts) if parts else z3.BoolVal(False)


def every(parts: list[z3.BoolRef]) -> z3.BoolRef:
    """A conjunction, true when empty."""
    return z3.And(*parts) if parts else z3.BoolVal(True)
