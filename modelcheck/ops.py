"""Operations on field values that read the same over concrete values and z3 terms.

Spec code may use plain Python (``x in seq``, ``and``, ``len``) and stays correct under
the symbolic engine, which forks the path wherever Python demands a ``bool`` or an
``int``. These helpers avoid those forks: over concrete values they are plain tuple
and bool operations; over a symbolic value they call its ``mc_<name>`` method, which
builds one z3 term instead of many paths.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

CONCRETE = frozenset({bool, int, str, tuple, type(None)})


def _symbolic(*values: Any) -> Any:
    """The first value that is not a plain Python value (a symbolic one), or None."""
    for v in values:
        if v.__class__ not in CONCRETE:
            return v
    return None


def append(seq: Any, x: Any) -> Any:
    """``seq`` with ``x`` added at the end."""
    if type(seq) is tuple and _symbolic(x) is None:
        return (*seq, x)
    return _symbolic(seq, x).mc_append(seq, x)


def push_front(seq: Any, x: Any) -> Any:
    """``seq`` with ``x`` added at the front."""
    if type(seq) is tuple and _symbolic(x) is None:
        return (x, *seq)
    return _symbolic(seq, x).mc_push_front(seq, x)


def remove(seq: Any, x: Any) -> Any:
    """``seq`` without the first occurrence of ``x`` (unchanged when absent)."""
    if type(seq) is tuple and _symbolic(x) is None:
        if x not in seq:
            return seq
        i = seq.index(x)
        return seq[:i] + seq[i + 1:]
    return _symbolic(seq, x).mc_remove(seq, x)


def contains(seq: Any, x: Any) -> Any:
    """Whether ``x`` occurs in ``seq``."""
    if type(seq) is tuple and _symbolic(x) is None:
        return x in seq
    return _symbolic(seq, x).mc_contains(seq, x)


def is_empty(seq: Any) -> Any:
    """Whether ``seq`` has no element."""
    if type(seq) is tuple:
        return not seq
    return seq.mc_is_empty(seq)


def head(seq: Any) -> Any:
    """The first element of a non-empty ``seq`` (guard with :func:`is_empty` first)."""
    if type(seq) is tuple:
        return seq[0]
    return seq.mc_head(seq)


def tail(seq: Any) -> Any:
    """``seq`` without its first element."""
    if type(seq) is tuple:
        return seq[1:]
    return seq.mc_tail(seq)


def reverse(seq: Any) -> Any:
    """``seq`` back to front."""
    if type(seq) is tuple:
        return seq[::-1]
    return seq.mc_reverse(seq)


def concat(a: Any, b: Any) -> Any:
    """``a`` followed by ``b``."""
    if type(a) is tuple and type(b) is tuple:
        return a + b
    return _symbolic(a, b).mc_concat(a, b)


def update(tup: Any, i: Any, value: Any) -> Any:
    """``tup`` with position ``i`` set to ``value``; IndexError unless ``0 <= i < len(tup)``.

    The symbolic engine raises the same IndexError on the same states (a fault the provers
    report), so a spec that writes past the end is rejected by every engine alike.
    """
    if type(tup) is tuple and type(i) is int and _symbolic(value) is None:
        in_range(i, len(tup), "update")
        return (*tup[:i], value, *tup[i + 1:])
    return _symbolic(tup, i, value).mc_update(tup, i, value)


def at(tup: Any, i: Any) -> Any:
    """``tup[i]``, also for a symbolic index; IndexError unless ``0 <= i < len(tup)`` (no negative
    indexes: the symbolic engine reads the same item on the same states)."""
    if type(tup) is tuple and type(i) is int:
        in_range(i, len(tup), "at")
        return tup[i]
    return _symbolic(tup, i).mc_at(tup, i)


def first(seq: Any, pred: Callable[[Any], Any], default: Any) -> Any:
    """The first item ``x`` of ``seq`` with ``pred(x)`` true, else ``default``, without forking
    on the length of a symbolic ``seq``.

    ``pred`` must be pure and must not raise for any value of the item's type: the symbolic
    engine applies it to every slot of the sequence, also to the slots past its length, whose
    values mean nothing (their answer is masked). A loop ``for x in seq`` over a symbolic
    sequence forks the path once per possible length instead, which multiplies the paths of
    everything after it (the compiled backend's code generation pays for each path).
    """
    if type(seq) is tuple:
        result = default
        for x in reversed(seq):
            result = ite(pred(x), x, result)
        return result
    return seq.mc_first(seq, pred, default)


def in_range(i: int, length: int, what: str) -> None:
    """IndexError unless ``0 <= i < length`` (the one range rule of ``update`` and ``at``)."""
    if not 0 <= i < length:
        raise IndexError(f"ops.{what}: index {i} out of range for a sequence of length {length}")


def all_of(values: Iterable[Any]) -> Any:
    """Conjunction, without forking on symbolic values.

    Over concrete values it stops at the first false one (a generator argument is not
    consumed further); from the first symbolic value on, the rest go into one z3 term
    (the concrete values before it were all true, so they do not change it).
    """
    it = iter(values)
    for v in it:
        if v.__class__ not in CONCRETE:
            return v.mc_all_of([v, *it])
        if not v:
            return False
    return True


def any_of(values: Iterable[Any]) -> Any:
    """Disjunction, without forking on symbolic values (stops at the first true concrete value)."""
    it = iter(values)
    for v in it:
        if v.__class__ not in CONCRETE:
            return v.mc_any_of([v, *it])
        if v:
            return True
    return False


def implies(a: Any, b: Any) -> Any:
    """``a`` implies ``b``."""
    sym = _symbolic(a, b)
    if sym is None:
        return (not a) or bool(b)
    return sym.mc_implies(a, b)


def ite(cond: Any, then: Any, otherwise: Any) -> Any:
    """``then if cond else otherwise``, without forking on a symbolic ``cond``."""
    sym = _symbolic(cond)
    if sym is None:
        return then if cond else otherwise
    return sym.mc_ite(cond, then, otherwise)


def negate(a: Any) -> Any:
    """``not a``, without forking on a symbolic value."""
    sym = _symbolic(a)
    if sym is None:
        return not a
    return sym.mc_not(a)


def count(seq: Any, x: Any) -> Any:
    """How many times ``x`` occurs in ``seq``."""
    if type(seq) is tuple and _symbolic(x) is None:
        return seq.count(x)
    return _symbolic(seq, x).mc_count(seq, x)


def count_true(values: Iterable[Any]) -> Any:
    """How many of ``values`` are true."""
    values = list(values)
    sym = _symbolic(*values)
    if sym is None:
        return sum(1 for v in values if v)
    return sym.mc_count_true(values)
