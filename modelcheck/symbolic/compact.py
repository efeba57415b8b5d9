"""The compact layout Spacer works on: a cone of influence, and sequences as per-item positions.

The plain layout (:mod:`.layout`) stores a sequence of requests slot by slot (``rq.len``,
``rq[0]`` ... ``rq[4]``), so that "W0 is parked" is a disjunction over slots and a pop
shifts every slot: lemmas over it are long and Spacer rarely generalises them. Here a
sequence whose items are one small integer each (a request, a sector) becomes one position
per possible item instead (``rq.index(W0)``: -1 when absent, else its place), which holds the
same information when no item occurs twice; "W0 is parked" is then ``rq.index(W0) ≥ 0``.

Fields that cannot influence the property are left out (a *cone of influence*, per field): a
field is kept when the property, an assumption, a guard, a crash or a step's type fault reads
it, or when the next value of a kept field does. Constant leaves are folded. The whole
transition is one formula, for one Horn rule.

Soundness does not rest on this module. A step that would put an item twice into a
position-coded sequence is *bad* here (so the layout never silently loses a state), and
every invariant Spacer finds over this layout is translated back to the plain leaves
(:meth:`Compact.to_plain`) and checked there, over the spec's full transition, by
:func:`.chc.check_invariant`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import z3

from ..errors import UsageError
from ..types import Bool, Enum, FieldType, Int, Seq
from .encode import Encoding, Guards
from .layout import Leaf, defaults, width
from .layout import domain as layout_domain


@dataclass
class _Positions:
    """A sequence field coded as one position per possible item."""

    name: str
    start: int  # its first leaf (the length) in the plain layout
    maxlen: int
    items: tuple[int, ...]  # the values an item can take
    pad: int  # the value of a slot past the end (the element type's default)
    labels: tuple[str, ...]

    def vars(self, k: int) -> list[z3.ArithRef]:
        return [z3.Int(f"{self.name}.index({label})@{k}") for label in self.labels]

    def slots(self, pos: list[z3.ArithRef]) -> list[z3.ExprRef]:
        """The plain leaves (length, then slots) that positions ``pos`` stand for."""
        length = z3.Sum(*[z3.If(p >= 0, 1, 0) for p in pos])
        out: list[z3.ExprRef] = [length]
        for i in range(self.maxlen):
            slot: z3.ExprRef = z3.IntVal(self.pad)
            for v, p in reversed(list(zip(self.items, pos))):
                slot = z3.If(p == i, z3.IntVal(v), slot)
            out.append(slot)
        return out

    def positions(self, plain: list[z3.ExprRef]) -> list[z3.ArithRef]:
        """Each item's first position in the plain leaves ``plain`` (length, slots), -1 when absent."""
        length, slots = plain[0], plain[1:]
        out = []
        for v in self.items:
            e: z3.ArithRef = z3.IntVal(-1)
            for i in reversed(range(self.maxlen)):
                e = z3.If(z3.And(length > i, slots[i] == v), i, e)
            out.append(e)
        return out

    def repeated(self, plain: list[z3.ExprRef]) -> z3.BoolRef:
        """Some item occurs twice: a sequence this layout cannot hold."""
        length, slots = plain[0], plain[1:]
        return z3.Or(*[z3.And(length > j, slots[i] == slots[j])
                       for j in range(self.maxlen) for i in range(j)])

    def domain(self, pos: list[z3.ArithRef]) -> list[z3.BoolRef]:
        """Positions of a sequence: in range, distinct, and the present ones fill 0..length-1."""
        length = z3.Sum(*[z3.If(p >= 0, 1, 0) for p in pos])
        out = [z3.And(p >= -1, p < self.maxlen, p < length) for p in pos]
        out += [z3.Implies(a >= 0, a != b) for i, a in enumerate(pos) for b in pos[i + 1:]]
        return out


@dataclass
class Compact:
    """A configuration in the compact layout: its variables at steps 0 and 1, their leaves (for
    printing), the field types' constraints, the initial states, one transition formula, and
    the bad states (the property's, the faults', and the sequences it cannot hold)."""

    enc: Encoding
    x: list[z3.ExprRef] = field(default_factory=list)
    y: list[z3.ExprRef] = field(default_factory=list)
    leaves: list[Leaf] = field(default_factory=list)
    domain: z3.BoolRef = field(default_factory=lambda: z3.BoolVal(True))
    init: z3.BoolRef = field(default_factory=lambda: z3.BoolVal(True))
    transition: z3.BoolRef = field(default_factory=lambda: z3.BoolVal(False))
    bad: z3.BoolRef = field(default_factory=lambda: z3.BoolVal(False))
    kept: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    free: list[str] = field(default_factory=list)
    plain: list[tuple[int, z3.ExprRef]] = field(default_factory=list)  # plain leaf index → its var here
    coded: list[_Positions] = field(default_factory=list)
    repeats: bool = False  # some step may put an item twice into a position-coded sequence (then bad)
    sources: list[tuple[int, int | None]] = field(default_factory=list)  # per var: (plain leaf, None) or
    # (a sequence's first leaf, the item whose position it is)

    def row(self, plain: tuple[object, ...]) -> tuple[object, ...]:
        """A concrete state's values in this layout, from its plain leaf values (:meth:`Encoding.row`)."""
        out: list[object] = []
        for start, item in self.sources:
            if item is None:
                out.append(plain[start])
                continue
            length, place = plain[start], -1
            for i in range(length):  # type: ignore[arg-type]
                if plain[start + 1 + i] == item:
                    place = i
                    break
            out.append(place)
        return tuple(out)

    def to_plain(self, formula: z3.ExprRef) -> z3.BoolRef:
        """A formula over this layout's step-0 variables, as one over the plain leaves ``enc.x``
        (true only where no position-coded sequence repeats an item)."""
        pairs = [(var, self.enc.x[i]) for i, var in self.plain]
        held = []
        for seq in self.coded:
            leaves = self.enc.x[seq.start:seq.start + 1 + seq.maxlen]
            pairs += list(zip(seq.vars(0), seq.positions(leaves)))
            held.append(z3.Not(seq.repeated(leaves)))
        return z3.And(*held, z3.substitute(formula, *pairs))


def compact(enc: Encoding, bad: z3.BoolRef, guards: Guards, free: frozenset[str] = frozenset()) -> Compact:
    """``enc`` in the compact layout, for the bad states ``bad`` (over ``enc.x``) under ``guards``.

    The fields named in ``free`` are left out of the state even where read: every step may see
    any value of their types (an over-approximation: a proof then covers every value they could
    hold, such as every failure budget)."""
    out = Compact(enc)
    field_of = _field_of_leaf(enc)
    paths = [(z3.And(sp.condition, z3.Not(sp.fault), enc._guard(sp, guards)), sp.next)
             for ie in enc.instances for sp in ie.paths]
    paths = [(c, n) for c, n in paths if not z3.is_false(z3.simplify(c))]
    unknown = sorted(free - {name for name, *_ in enc.fields})
    if unknown:
        raise UsageError(f"--free {', '.join(unknown)}: no such field; fix: name one of "
                         f"{', '.join(name for name, *_ in enc.fields)}")
    kept = _cone(enc, field_of, bad, paths) - free
    out.kept = [name for name, *_ in enc.fields if name in kept]
    out.dropped = [name for name, *_ in enc.fields if name not in kept and name not in free]
    out.free = [name for name, *_ in enc.fields if name in free]
    decode_x: dict[int, z3.ExprRef] = {}
    domain: list[z3.BoolRef] = []
    for name, ftype, lo, hi in enc.fields:
        if name in free:  # its leaves stay free variables of every step, within their types
            domain += layout_domain(ftype, enc.x[lo:hi])
        if name not in kept:
            continue
        seq = _positions(name, ftype, lo)
        if seq is not None:
            out.coded.append(seq)
            px, py = seq.vars(0), seq.vars(1)
            out.x += px
            out.y += py
            out.leaves += [Leaf(f"{name}.index({label})", False, -1, seq.maxlen - 1) for label in seq.labels]
            out.sources += [(lo, item) for item in seq.items]
            for i, a in enumerate(seq.slots(px)):
                decode_x[lo + i] = a
            domain += seq.domain(px)
            continue
        for i in range(lo, hi):
            leaf = enc.leaves[i]
            if not leaf.is_bool and leaf.lo == leaf.hi:
                decode_x[i] = z3.IntVal(leaf.lo)
                continue
            out.x.append(enc.x[i])
            out.y.append(enc.y[i])
            out.leaves.append(leaf)
            out.plain.append((i, enc.x[i]))
            out.sources.append((i, None))
            decode_x[i] = enc.x[i]
            if not leaf.is_bool:
                domain += [enc.x[i] >= leaf.lo, enc.x[i] <= leaf.hi]
    substitute = substitution([(enc.x[i], t) for i, t in decode_x.items()])

    def moved(f: z3.ExprRef) -> z3.ExprRef:
        return z3.simplify(substitute(f))

    out.domain = z3.And(*domain)
    out.init = moved(enc.init(enc.x))
    steps = []
    unheld = []
    for condition, nxt in paths:
        cond = moved(condition)
        if z3.is_false(cond):
            continue
        after = [moved(e) for e in nxt]
        eqs = [enc.y[i] == after[i] for i, _ in out.plain]
        for seq in out.coded:
            leaves = after[seq.start:seq.start + 1 + seq.maxlen]
            eqs += [p == e for p, e in zip(seq.vars(1), seq.positions(leaves))]
            repeated = z3.simplify(z3.And(cond, seq.repeated(leaves)))
            if not z3.is_false(repeated):
                unheld.append(repeated)
        steps.append(z3.And(cond, *eqs))
    out.transition = z3.Or(*steps) if steps else z3.BoolVal(False)
    out.bad = z3.Or(moved(bad), *unheld)
    out.repeats = bool(unheld)
    return out


def substitution(pairs: list[tuple[z3.ExprRef, z3.ExprRef]]) -> Callable[[z3.ExprRef], z3.ExprRef]:
    """``z3.substitute(f, *pairs)`` for many formulas ``f``: the pairs are checked and converted
    once (z3's Python wrapper does both on every call, which dominates a few thousand calls)."""
    for a, b in pairs:
        if not a.sort().eq(b.sort()):
            raise TypeError(f"substitution of {a} by {b}: different sorts")
    size = len(pairs)
    src, dst = (z3.Ast * size)(), (z3.Ast * size)()
    for i, (a, b) in enumerate(pairs):
        src[i], dst[i] = a.as_ast(), b.as_ast()

    def apply(f: z3.ExprRef) -> z3.ExprRef:
        _ = pairs  # the terms stay alive as long as the arrays that point at them
        return z3.z3._to_expr_ref(z3.Z3_substitute(f.ctx_ref(), f.as_ast(), size, src, dst), f.ctx)

    return apply


def _positions(name: str, ftype: FieldType, start: int) -> _Positions | None:
    """The position coding of a sequence of small integers (or enum values), else None."""
    if not isinstance(ftype, Seq) or width(ftype.elem) != 1 or isinstance(ftype.elem, Bool):
        return None
    elem = ftype.elem
    if isinstance(elem, Enum):
        items = tuple(range(len(elem.names)))
        labels = elem.names
    elif isinstance(elem, Int):
        items = tuple(range(elem.lo, elem.hi + 1))
        labels = tuple(elem.names.get(v, str(v)) for v in items)
    else:
        return None
    if len(items) > 16:
        return None
    pad = defaults(elem)[0].as_long()  # type: ignore[attr-defined]
    return _Positions(name, start, ftype.maxlen, items, pad, tuple(labels))


def _field_of_leaf(enc: Encoding) -> dict[str, str]:
    """The field each step-0 variable belongs to, by the variable's name."""
    out = {}
    for name, _, lo, hi in enc.fields:
        for i in range(lo, hi):
            out[str(enc.x[i])] = name
    return out


def _reads(formula: z3.ExprRef, field_of: dict[str, str]) -> set[str]:
    """The fields whose step-0 variables occur in ``formula``."""
    found: set[str] = set()
    todo = [formula]
    seen: set[int] = set()
    while todo:
        e = todo.pop()
        key = e.get_id()
        if key in seen:
            continue
        seen.add(key)
        if z3.is_const(e) and e.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            name = field_of.get(str(e))
            if name is not None:
                found.add(name)
            continue
        todo.extend(e.children())
    return found


def _cone(enc: Encoding, field_of: dict[str, str], bad: z3.BoolRef,
          paths: list[tuple[z3.BoolRef, list[z3.ExprRef]]]) -> set[str]:
    """The fields the bad states, the guards and (transitively) the kept fields' next values read."""
    kept = _reads(bad, field_of)
    for condition, _ in paths:
        kept |= _reads(condition, field_of)
    spans = {name: (lo, hi) for name, _, lo, hi in enc.fields}
    reads_of: dict[str, set[str]] = {name: set() for name in spans}
    for _, nxt in paths:
        for name, (lo, hi) in spans.items():
            for e in nxt[lo:hi]:
                reads_of[name] |= _reads(e, field_of)
    todo = list(kept)
    while todo:
        name = todo.pop()
        for other in reads_of[name] - kept:
            kept.add(other)
            todo.append(other)
    return kept
