"""How a state's fields map to z3 variables ("leaves"), and back: build, flatten and decode values.

Every field type becomes a fixed list of scalar leaves: a ``Bool`` one z3 Bool, an ``Enum``
or ``Int`` one z3 Int, a ``Tuple`` its positions (``cache[1]``), a ``Seq`` a length
(``rq.len``) and ``maxlen`` slots (``rq[0]``). Slots past a sequence's length always hold the
element type's default, so that equal states have equal leaves. Leaves at step ``k`` are
named ``name@k`` (``rq[0]@3``), so a dumped formula reads like the spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import z3

from ..types import Bool, Enum, FieldType, Int, Seq, Tuple
from .values import PathContext, SymBool, SymEnum, SymInt, SymSeq, z3_bool, z3_int


@dataclass(frozen=True)
class Leaf:
    """One scalar of a state: its name, sort, range, and for enums the names its values read as."""

    name: str
    is_bool: bool
    lo: int = 0
    hi: int = 0
    names: tuple[str, ...] | None = None

    def var(self, k: int | str) -> z3.ExprRef:
        label = f"{self.name}@{k}"
        return z3.Bool(label) if self.is_bool else z3.Int(label)


def leaves_of(name: str, ftype: FieldType) -> list[Leaf]:
    """The leaves of one field, in a fixed order."""
    if isinstance(ftype, Bool):
        return [Leaf(name, True)]
    if isinstance(ftype, Enum):
        return [Leaf(name, False, 0, len(ftype.names) - 1, ftype.names)]
    if isinstance(ftype, Int):
        return [Leaf(name, False, ftype.lo, ftype.hi)]
    if isinstance(ftype, Tuple):
        return [leaf for i in range(ftype.size) for leaf in leaves_of(f"{name}[{ftype.key(i)}]", ftype.elem)]
    if isinstance(ftype, Seq):
        slots = [leaf for i in range(ftype.maxlen) for leaf in leaves_of(f"{name}[{i}]", ftype.elem)]
        return [Leaf(f"{name}.len", False, 0, ftype.maxlen), *slots]
    raise TypeError(f"field {name}: no symbolic encoding for {type(ftype).__name__}")


def width(ftype: FieldType) -> int:
    if isinstance(ftype, Bool | Enum | Int):
        return 1
    if isinstance(ftype, Tuple):
        return ftype.size * width(ftype.elem)
    if isinstance(ftype, Seq):
        return 1 + ftype.maxlen * width(ftype.elem)
    raise TypeError(type(ftype).__name__)


def defaults(ftype: FieldType) -> list[z3.ExprRef]:
    """The leaves of the type's default value (false, the first name, the lowest int, empty)."""
    if isinstance(ftype, Bool):
        return [z3.BoolVal(False)]
    if isinstance(ftype, Enum):
        return [z3.IntVal(0)]
    if isinstance(ftype, Int):
        return [z3.IntVal(ftype.lo)]
    if isinstance(ftype, Tuple):
        return defaults(ftype.elem) * ftype.size
    if isinstance(ftype, Seq):
        return [z3.IntVal(0), *defaults(ftype.elem) * ftype.maxlen]
    raise TypeError(type(ftype).__name__)


def domain(ftype: FieldType, xs: list[z3.ExprRef]) -> list[z3.BoolRef]:
    """Range constraints on a field's leaves, and the canonical padding of sequences."""
    out: list[z3.BoolRef] = []
    if isinstance(ftype, Enum | Int):
        lo, hi = (0, len(ftype.names) - 1) if isinstance(ftype, Enum) else (ftype.lo, ftype.hi)
        out += [xs[0] >= lo, xs[0] <= hi]
    elif isinstance(ftype, Tuple):
        w = width(ftype.elem)
        for i in range(ftype.size):
            out += domain(ftype.elem, xs[i * w:(i + 1) * w])
    elif isinstance(ftype, Seq):
        w = width(ftype.elem)
        length = xs[0]
        out += [length >= 0, length <= ftype.maxlen]
        pad = defaults(ftype.elem)
        for i in range(ftype.maxlen):
            slot = xs[1 + i * w:1 + (i + 1) * w]
            out += domain(ftype.elem, slot)
            out.append(z3.Implies(length <= i, z3.And(*[a == b for a, b in zip(slot, pad)])))
    return out


def make(ctx: PathContext, ftype: FieldType, xs: list[z3.ExprRef]) -> Any:
    """The symbolic value of a field whose leaves are the terms ``xs``."""
    if isinstance(ftype, Bool):
        return SymBool(ctx, xs[0])
    if isinstance(ftype, Enum):
        return SymEnum(ctx, xs[0], ftype.names)
    if isinstance(ftype, Int):
        return SymInt(ctx, xs[0], ftype.lo, ftype.hi)
    w = width(ftype.elem)  # type: ignore[attr-defined]
    if isinstance(ftype, Tuple):
        return tuple(make(ctx, ftype.elem, xs[i * w:(i + 1) * w]) for i in range(ftype.size))
    if isinstance(ftype, Seq):
        items = tuple(make(ctx, ftype.elem, xs[1 + i * w:1 + (i + 1) * w]) for i in range(ftype.maxlen))
        return SymSeq(ctx, xs[0], items)
    raise TypeError(type(ftype).__name__)


def flatten(ftype: FieldType, value: Any, faults: list[z3.BoolRef]) -> list[z3.ExprRef]:
    """The leaves of ``value`` as a value of ``ftype``; conditions under which it is out of the
    type (a too-long sequence, an int out of range, an unknown name) are added to ``faults``."""
    if isinstance(ftype, Bool):
        if isinstance(value, bool | SymBool):
            return [z3_bool(value)]
        faults.append(z3.BoolVal(True))
        return [z3.BoolVal(False)]
    if isinstance(ftype, Enum):
        if isinstance(value, str):
            if value in ftype.names:
                return [z3.IntVal(ftype.names.index(value))]
            faults.append(z3.BoolVal(True))
            return [z3.IntVal(0)]
        if isinstance(value, SymEnum):
            e = value.index_in(ftype.names)
            if value.names != ftype.names and not set(value.names) <= set(ftype.names):
                faults.append(e < 0)
            return [e]
        faults.append(z3.BoolVal(True))
        return [z3.IntVal(0)]
    if isinstance(ftype, Int):
        if isinstance(value, bool | str) or not isinstance(value, int | SymInt | SymBool):
            faults.append(z3.BoolVal(True))
            return [z3.IntVal(ftype.lo)]
        e = z3_int(value)
        lo, hi = (value.lo, value.hi) if isinstance(value, SymInt) else (None, None)
        if isinstance(value, int) or lo is None or hi is None or lo < ftype.lo or hi > ftype.hi:
            faults.append(z3.Or(e < ftype.lo, e > ftype.hi))
        return [e]
    if isinstance(ftype, Tuple):
        if type(value) is tuple:
            if len(value) != ftype.size:
                faults.append(z3.BoolVal(True))
                return defaults(ftype)
            return [leaf for v in value for leaf in flatten(ftype.elem, v, faults)]
        if isinstance(value, SymSeq) and value.cap >= ftype.size:
            faults.append(value.length != ftype.size)
            return [leaf for v in value.items[:ftype.size] for leaf in flatten(ftype.elem, v, faults)]
        faults.append(z3.BoolVal(True))
        return defaults(ftype)
    if isinstance(ftype, Seq):
        pad = defaults(ftype.elem)
        if type(value) is tuple:
            if len(value) > ftype.maxlen:
                faults.append(z3.BoolVal(True))
                return defaults(ftype)
            slots = [leaf for v in value for leaf in flatten(ftype.elem, v, faults)]
            return [z3.IntVal(len(value)), *slots, *pad * (ftype.maxlen - len(value))]
        if isinstance(value, SymSeq):
            if value.cap > ftype.maxlen:
                faults.append(value.length > ftype.maxlen)
            out: list[z3.ExprRef] = [value.length]
            for i in range(ftype.maxlen):
                if i >= value.cap:
                    out += pad
                    continue
                item_faults: list[z3.BoolRef] = []
                inner = flatten(ftype.elem, value.items[i], item_faults)
                faults += [z3.And(value.length > i, f) for f in item_faults]
                out += [z3.If(value.length > i, a, b) for a, b in zip(inner, pad)]
            return out
        faults.append(z3.BoolVal(True))
        return defaults(ftype)
    raise TypeError(type(ftype).__name__)


def decode(ftype: FieldType, vals: list[Any]) -> Any:
    """The concrete value of a field from its leaves' concrete values (Python bools and ints)."""
    if isinstance(ftype, Bool):
        return bool(vals[0])
    if isinstance(ftype, Enum):
        return ftype.names[vals[0]]
    if isinstance(ftype, Int):
        return int(vals[0])
    w = width(ftype.elem)  # type: ignore[attr-defined]
    if isinstance(ftype, Tuple):
        return tuple(decode(ftype.elem, vals[i * w:(i + 1) * w]) for i in range(ftype.size))
    if isinstance(ftype, Seq):
        return tuple(decode(ftype.elem, vals[1 + i * w:1 + (i + 1) * w]) for i in range(vals[0]))
    raise TypeError(type(ftype).__name__)



def default_leaves(ftype: FieldType) -> list[int]:
    """The leaves of the type's default value as ints (what :func:`defaults` gives as z3 terms)."""
    if isinstance(ftype, Bool | Enum):
        return [0]
    if isinstance(ftype, Int):
        return [ftype.lo]
    if isinstance(ftype, Tuple):
        return default_leaves(ftype.elem) * ftype.size
    if isinstance(ftype, Seq):
        return [0, *default_leaves(ftype.elem) * ftype.maxlen]
    raise TypeError(f"no flat encoding for {type(ftype).__name__}")


def leaves_into(ftype: FieldType, value: Any, out: list[int]) -> None:
    """Append the leaf values of a concrete field value to ``out`` as ints, as :func:`flatten`
    lays them out: the one flattener of the project (the explicit engine's flat states use it
    as is; :func:`concrete_leaves` makes its booleans Python bools for z3)."""
    if isinstance(ftype, Bool):
        out.append(1 if value else 0)
    elif isinstance(ftype, Enum):
        out.append(ftype.names.index(value))
    elif isinstance(ftype, Int):
        out.append(value)
    elif isinstance(ftype, Tuple):
        for v in value:
            leaves_into(ftype.elem, v, out)
    elif isinstance(ftype, Seq):
        out.append(len(value))
        for v in value:
            leaves_into(ftype.elem, v, out)
        out += default_leaves(ftype.elem) * (ftype.maxlen - len(value))
    else:
        raise TypeError(f"no flat encoding for {type(ftype).__name__}")


def _bool_leaves(ftype: FieldType) -> list[bool]:
    """Per leaf of the type, whether it is a boolean."""
    if isinstance(ftype, Bool):
        return [True]
    if isinstance(ftype, Enum | Int):
        return [False]
    if isinstance(ftype, Tuple):
        return _bool_leaves(ftype.elem) * ftype.size
    if isinstance(ftype, Seq):
        return [False, *_bool_leaves(ftype.elem) * ftype.maxlen]
    raise TypeError(type(ftype).__name__)


def concrete_leaves(ftype: FieldType, value: Any) -> list[Any]:
    """The leaf values (Python bools and ints) of a concrete field value, as :func:`flatten` lays
    them out, without building z3 terms: fast enough for every state of an explicit search."""
    out: list[int] = []
    leaves_into(ftype, value, out)
    return [bool(v) if b else v for v, b in zip(out, _bool_leaves(ftype), strict=True)]
