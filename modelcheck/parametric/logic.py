"""The vocabulary of a parametric description and its two readings: z3 terms over an unbounded
sort of requests, and plain Python values over one finite instance.

A parametric description is written once, as Python over a *logic* ``L`` and a *state view*
``v`` (``v.sub(r)``, ``v.vm``, ``L.forall(lambda x: ...)``), in the way a spec's actions run
over concrete and symbolic states alike. :class:`FiniteLogic` reads it over a universe
``range(size)`` (the refinement check, candidate mining, a counterexample's replay);
:class:`Z3Logic` reads it over z3's uninterpreted sort ``Req`` (the proofs: any number of
requests), or over a few named requests (bounded model checking). Enumerated values live in
one z3 enumeration sort, so a description names them as strings in both readings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any, ClassVar

import z3


@dataclass(frozen=True)
class Symbol:
    """One symbol of the state: a relation or function of ``arity`` requests (0: a constant).

    ``kind`` is ``"bool"``, ``"int"`` or ``"enum"`` (then ``values`` lists its values).
    ``static`` symbols (the program: kinds, program order; the parameters) never change."""

    name: str
    arity: int
    kind: str
    values: tuple[str, ...] = ()
    static: bool = False
    doc: str = ""


Structure = dict[str, Any]
"""A finite state: per symbol its value (arity 0), a tuple over the universe (1) or a tuple of
tuples (2). The universe is ``range(structure["#size"])``."""

SIZE = "#size"


def size_of(structure: Structure) -> int:
    return int(structure[SIZE])


# --------------------------------------------------------------------------- the finite reading


class FiniteLogic:
    """Connectives over Python values, quantifiers over ``range(size)``."""

    def __init__(self, size: int):
        self.size = size
        self.universe = range(size)

    def forall(self, body: Callable[..., Any], n: int = 1) -> bool:
        return all(body(*xs) for xs in product(self.universe, repeat=n))

    def exists(self, body: Callable[..., Any], n: int = 1) -> bool:
        return any(body(*xs) for xs in product(self.universe, repeat=n))

    def and_(self, *items: Any) -> bool:
        return all(items)

    def or_(self, *items: Any) -> bool:
        return any(items)

    def not_(self, a: Any) -> bool:
        return not a

    def implies(self, a: Any, b: Any) -> bool:
        return (not a) or bool(b)

    def ite(self, c: Any, a: Any, b: Any) -> Any:
        return a if c else b

    def eq(self, a: Any, b: Any) -> bool:
        return a == b


class FiniteView:
    """A finite state read through symbol names: ``v.sub(2)``, ``v.vm``."""

    def __init__(self, symbols: Mapping[str, Symbol], structure: Structure):
        self._symbols = symbols
        self._s = structure

    def __getattr__(self, name: str) -> Any:
        sym = self._symbols.get(name)
        if sym is None:
            raise AttributeError(name)
        value = self._s[name]
        if sym.arity == 0:
            return value
        if sym.arity == 1:
            return value.__getitem__
        return lambda a, b: value[a][b]


# --------------------------------------------------------------------------- the z3 reading


class Z3Logic:
    """Connectives over z3 terms; quantifiers over the sort ``Req`` (``universe=None``) or over a
    fixed list of request constants (a finite instance, for bounded model checking)."""

    def __init__(self, vocabulary: Vocabulary, universe: Sequence[z3.ExprRef] | None = None):
        self.vocabulary = vocabulary
        self.universe = universe
        self._fresh = 0

    def _bound(self, n: int) -> list[z3.ExprRef]:
        self._fresh += 1
        return [z3.Const(f"{'xyzuvw'[i]}!{self._fresh}", self.vocabulary.req) for i in range(n)]

    def forall(self, body: Callable[..., Any], n: int = 1) -> z3.BoolRef:
        if self.universe is not None:
            return z3.And([self.bool(body(*xs)) for xs in product(self.universe, repeat=n)])
        xs = self._bound(n)
        return z3.ForAll(xs, self.bool(body(*xs)))

    def exists(self, body: Callable[..., Any], n: int = 1) -> z3.BoolRef:
        if self.universe is not None:
            return z3.Or([self.bool(body(*xs)) for xs in product(self.universe, repeat=n)])
        xs = self._bound(n)
        return z3.Exists(xs, self.bool(body(*xs)))

    def bool(self, a: Any) -> z3.BoolRef:
        return z3.BoolVal(a) if isinstance(a, bool) else a

    def and_(self, *items: Any) -> z3.BoolRef:
        return z3.And([self.bool(a) for a in items]) if items else z3.BoolVal(True)

    def or_(self, *items: Any) -> z3.BoolRef:
        return z3.Or([self.bool(a) for a in items]) if items else z3.BoolVal(False)

    def not_(self, a: Any) -> z3.BoolRef:
        return z3.Not(self.bool(a))

    def implies(self, a: Any, b: Any) -> z3.BoolRef:
        return z3.Implies(self.bool(a), self.bool(b))

    def term(self, a: Any) -> Any:
        """A Python value as a z3 term: enumerated values by name, booleans, ints."""
        if isinstance(a, str):
            return self.vocabulary.value(a)
        if isinstance(a, bool):
            return z3.BoolVal(a)
        if isinstance(a, int):
            return z3.IntVal(a)
        return a

    def ite(self, c: Any, a: Any, b: Any) -> Any:
        return z3.If(self.bool(c), self.term(a), self.term(b))

    def eq(self, a: Any, b: Any) -> z3.BoolRef:
        return self.term(a) == self.term(b)


class Vocabulary:
    """The z3 side of a description's symbols: the sort ``Req``, one enumeration sort for every
    enumerated value, and the function symbols of each state copy (``sub@3``).

    z3 keeps every enumeration sort of a process under its name, so each vocabulary's is
    named after its values: two vocabularies with the same values share it."""

    _sorts: ClassVar[dict[tuple[str, ...], tuple[z3.SortRef, list]]] = {}  # z3's own table, mirrored: values -> sort

    def __init__(self, symbols: Iterable[Symbol]):
        self.symbols = {s.name: s for s in symbols}
        self.req = z3.DeclareSort("Req")
        names = sorted({v for s in self.symbols.values() for v in s.values}) or ["_"]
        key = tuple(names)
        if key not in Vocabulary._sorts:
            Vocabulary._sorts[key] = z3.EnumSort(f"Val{len(Vocabulary._sorts)}", names)
        self.val_sort, consts = Vocabulary._sorts[key]
        self._values = dict(zip(names, consts))
        self._names = {str(c): n for n, c in self._values.items()}

    def value(self, name: str) -> z3.ExprRef:
        try:
            return self._values[name]
        except KeyError:
            raise KeyError(f"{name!r} is no value of an enumerated symbol") from None

    def name_of(self, value: z3.ExprRef) -> str:
        return self._names[str(value)]

    def range_sort(self, sym: Symbol) -> z3.SortRef:
        return {"bool": z3.BoolSort(), "int": z3.IntSort()}.get(sym.kind, self.val_sort)

    def copy(self, tag: str) -> dict[str, Any]:
        """Fresh z3 symbols for the changing part of one state (``tag``: ``0``, ``1``, ...), plus the statics."""
        out: dict[str, Any] = {}
        for sym in self.symbols.values():
            name = sym.name if sym.static else f"{sym.name}@{tag}"
            if sym.arity == 0:
                out[sym.name] = z3.Const(name, self.range_sort(sym))
            else:
                out[sym.name] = z3.Function(name, *[self.req] * sym.arity, self.range_sort(sym))
        return out


class Z3View:
    """A state of z3 symbols read through symbol names (functions are called, constants read)."""

    def __init__(self, terms: Mapping[str, Any]):
        self._t = terms

    def __getattr__(self, name: str) -> Any:
        try:
            return self._t[name]
        except KeyError:
            raise AttributeError(name) from None


class PostView:
    """The state after a step, read from the state before and the step's updates: a symbol the
    step updates reads as its new value (a function of the arguments), any other as before."""

    def __init__(self, before: Any, updates: Mapping[str, Any]):
        self._before = before
        self._updates = updates

    def __getattr__(self, name: str) -> Any:
        if name in self._updates:
            return self._updates[name]
        return getattr(self._before, name)


def finite_after(symbols: Mapping[str, Symbol], before: Structure, updates: Mapping[str, Any]) -> Structure:
    """The finite state after a step with ``updates`` (values, or functions of the arguments)."""
    after = dict(before)
    universe = range(size_of(before))
    for name, new in updates.items():
        sym = symbols[name]
        if sym.static:
            raise ValueError(f"a step updates {name}, a static symbol")
        if sym.arity == 0:
            after[name] = new
        elif sym.arity == 1:
            after[name] = tuple(new(x) for x in universe)
        else:
            after[name] = tuple(tuple(new(x, y) for y in universe) for x in universe)
    return after


def freeze(structure: Structure) -> tuple:
    """A hashable form of a finite state (symbols in name order)."""
    return tuple(sorted(structure.items()))


def from_model(vocabulary: Vocabulary, model: z3.ModelRef, terms: Mapping[str, Any],
               universe: Sequence[z3.ExprRef]) -> Structure:
    """The finite state a z3 model gives the symbols ``terms`` over the elements ``universe``."""
    out: Structure = {SIZE: len(universe)}
    for name, sym in vocabulary.symbols.items():
        t = terms[name]

        def read(e: z3.ExprRef, sym: Symbol = sym) -> Any:
            v = model.eval(e, model_completion=True)
            if sym.kind == "bool":
                return z3.is_true(v)
            if sym.kind == "int":
                return v.as_long()
            return vocabulary.name_of(v)

        if sym.arity == 0:
            out[name] = read(t)
        elif sym.arity == 1:
            out[name] = tuple(read(t(a)) for a in universe)
        else:
            out[name] = tuple(tuple(read(t(a, b)) for b in universe) for a in universe)
    return out
