"""Symbolic values: z3 terms that spec code treats as plain Python, forking where Python needs a bool.

As in CrossHair, a symbolic value overloads Python's operators to build z3 terms, and only
where Python itself demands a ``bool`` (``if``, ``not``, ``and``, ``require``) or an ``int``
(``len``, indexing, ``range``) does the run *fork*: the current :class:`PathContext` picks a
branch (replaying a decision prefix, or choosing the first feasible branch and recording the
other), and :func:`explore_paths` re-runs the function once per feasible branch. The
``mc_<name>`` methods back :mod:`modelcheck.ops`, which builds one term instead of forking.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path as FilePath  # `Path` is a symbolic run's path, below
from typing import Any

import z3

from ..errors import SpecError, Where
from ..spec import Disabled
from .identity import IdentityGuard

PACKAGE_DIR = str(FilePath(__file__).resolve().parent.parent)


class Unsupported(SpecError):
    """Spec code did something the symbolic engine cannot follow (named by file and line)."""


class Infeasible(Exception):
    """A replayed decision prefix turned out to be infeasible (the path is dropped)."""


def spec_line() -> Where | None:
    """The innermost frame of the current call stack that is outside modelcheck: the spec line."""
    frame = sys._getframe(1)
    while frame is not None:
        path = frame.f_code.co_filename
        if not str(FilePath(path).resolve()).startswith(PACKAGE_DIR):
            return Where(path, frame.f_lineno, frame.f_code.co_qualname)
        frame = frame.f_back  # type: ignore[assignment]
    return None


def exception_line(err: BaseException) -> Where | None:
    """The spec line an exception was raised from (innermost frame outside modelcheck)."""
    found = None
    for summary in traceback.extract_tb(err.__traceback__):
        if not str(FilePath(summary.filename).resolve()).startswith(PACKAGE_DIR):
            found = Where(summary.filename, summary.lineno or 0, summary.name)
    return found


def unsupported(message: str, fix: str) -> Unsupported:
    return Unsupported(message, where=spec_line(), fix=fix)


# --------------------------------------------------------------------------- forking


class Oracle:
    """Answers "can this path condition hold?" with a solver holding the domain constraints."""

    def __init__(self, solver: z3.Solver, base: Iterable[z3.BoolRef] = (), guard: IdentityGuard | None = None):
        self.solver = solver
        self.base = list(base)
        self.checks = 0
        self.guard = guard  # refuses `is`/isinstance/type() on symbolic values in the spec's code

    def with_base(self, extra: Iterable[z3.BoolRef]) -> Oracle:
        return Oracle(self.solver, [*self.base, *extra], self.guard)

    def feasible(self, conds: list[z3.BoolRef]) -> bool:
        self.checks += 1
        # unknown counts as feasible: keeping a path is always sound, dropping one is not
        return self.solver.check(*self.base, *conds) != z3.unsat


class PathContext:
    """One run of spec code along one path: its decisions and its path condition."""

    def __init__(self, prefix: tuple[bool, ...], oracle: Oracle):
        self.prefix = prefix
        self.oracle = oracle
        self.decisions: list[bool] = []
        self.conditions: list[z3.BoolRef] = []
        self.branch_points: list[int] = []

    def decide(self, cond: z3.BoolRef) -> bool:
        """Which way this path goes where Python asks for the truth of ``cond``."""
        cond = z3.simplify(cond)
        if z3.is_true(cond):
            return True
        if z3.is_false(cond):
            return False
        i = len(self.decisions)
        if i < len(self.prefix):
            choice = self.prefix[i]
        else:
            can_true = self.oracle.feasible([*self.conditions, cond])
            can_false = self.oracle.feasible([*self.conditions, z3.Not(cond)])
            if can_true and can_false:
                self.branch_points.append(i)
            elif not can_true and not can_false:
                raise Infeasible()
            choice = can_true
        self.decisions.append(choice)
        self.conditions.append(cond if choice else z3.Not(cond))
        return choice


@dataclass(frozen=True)
class Path:
    """One feasible path of a function: its condition and how it ended.

    ``outcome`` is ``"return"`` (``value`` holds the result), ``"disabled"`` (a guard was
    false) or ``"fault"`` (the code raised ``value``, an exception the concrete run would
    raise too, for example an IndexError).
    """

    condition: tuple[z3.BoolRef, ...]
    outcome: str
    value: Any = None

    @property
    def formula(self) -> z3.BoolRef:
        return z3.And(*self.condition) if self.condition else z3.BoolVal(True)


def explore_paths(run: Callable[[PathContext], Any], oracle: Oracle, limit: int = 20000) -> list[Path]:
    """Run ``run`` once per feasible path (depth first, True before False) and collect the paths."""
    paths: list[Path] = []
    stack: list[tuple[bool, ...]] = [()]
    watching = oracle.guard.watching if oracle.guard else nullcontext
    while stack:
        prefix = stack.pop()
        ctx = PathContext(prefix, oracle)
        try:
            with watching():
                value = run(ctx)
            path = Path(tuple(ctx.conditions), "return", value)
        except Disabled:
            path = Path(tuple(ctx.conditions), "disabled")
        except Infeasible:
            path = None
        except SpecError:
            raise
        except TypeError as err:
            raise Unsupported(f"symbolic run failed: {err}", where=exception_line(err),
                              fix="use modelcheck.ops helpers or plain tuple/int/bool operations") from err
        except Exception as err:  # a fault the concrete run would raise as well
            path = Path(tuple(ctx.conditions), "fault", err)
        if path is not None:
            paths.append(path)
        if len(paths) > limit:
            raise SpecError(f"more than {limit} paths through one function", where=spec_line(),
                            fix="use modelcheck.ops helpers (all_of, any_of, ite) instead of branches")
        for i in reversed(ctx.branch_points):
            stack.append((*ctx.decisions[:i], False))
    return paths


# --------------------------------------------------------------------------- coercions


def is_sym(v: Any) -> bool:
    return hasattr(v, "mc_symbolic")


def deep_concrete(v: Any) -> bool:
    if type(v) is tuple:
        return all(deep_concrete(x) for x in v)
    return not is_sym(v)


def context_of(*values: Any) -> PathContext | None:
    for v in values:
        if is_sym(v):
            return v.ctx
        if type(v) is tuple:
            found = context_of(*v)
            if found is not None:
                return found
    return None


def z3_bool(v: Any) -> z3.BoolRef:
    """A Python or symbolic truth value as a z3 Bool."""
    if isinstance(v, SymBool):
        return v.expr
    if isinstance(v, SymInt):
        return v.expr != 0
    if v is True or v is False:
        return z3.BoolVal(v)
    if isinstance(v, int) and not is_sym(v):
        return z3.BoolVal(v != 0)
    raise unsupported(f"{type(v).__name__} value used as a truth value", "return or test a bool")


def z3_int(v: Any) -> z3.ArithRef:
    """A Python or symbolic number (bools count as 0/1) as a z3 Int."""
    if isinstance(v, SymInt):
        return v.expr
    if isinstance(v, SymBool):
        return z3.If(v.expr, z3.IntVal(1), z3.IntVal(0))
    if isinstance(v, bool | int):
        return z3.IntVal(int(v))
    raise unsupported(f"{type(v).__name__} value used as a number", "use an int")


def bounds(v: Any) -> tuple[int | None, int | None]:
    if isinstance(v, SymInt):
        return v.lo, v.hi
    if isinstance(v, SymBool):
        return 0, 1
    if isinstance(v, bool | int):
        return int(v), int(v)
    return None, None


def wrap_bool(ctx: PathContext | None, e: z3.BoolRef) -> Any:
    e = z3.simplify(e)
    if z3.is_true(e):
        return True
    if z3.is_false(e):
        return False
    return SymBool(ctx, e)


def eq(a: Any, b: Any) -> z3.BoolRef:
    """Python's ``a == b`` as a z3 Bool, for concrete, symbolic and nested values."""
    if deep_concrete(a) and deep_concrete(b):
        return z3.BoolVal(a == b)
    if isinstance(a, SymSeq) or isinstance(b, SymSeq) or type(a) is tuple or type(b) is tuple:
        if not isinstance(a, SymSeq | tuple) or not isinstance(b, SymSeq | tuple):
            return z3.BoolVal(False)
        sa, sb = SymSeq.lift(a), SymSeq.lift(b)
        cap = min(sa.cap, sb.cap)
        parts = [sa.length == sb.length, sa.length <= cap]
        parts += [z3.Implies(j < sa.length, eq(sa.items[j], sb.items[j])) for j in range(cap)]
        return z3.And(*parts)
    if isinstance(a, SymEnum | str) or isinstance(b, SymEnum | str):
        if not isinstance(a, SymEnum | str) or not isinstance(b, SymEnum | str):
            return z3.BoolVal(False)
        if isinstance(a, str):
            a, b = b, a
        assert isinstance(a, SymEnum)
        if isinstance(b, str):
            return a.expr == a.names.index(b) if b in a.names else z3.BoolVal(False)
        return a.expr == b.index_in(a.names)
    if isinstance(a, SymBool) and isinstance(b, SymBool | bool):
        return a.expr == z3_bool(b)
    if isinstance(b, SymBool) and isinstance(a, bool):
        return b.expr == z3.BoolVal(a)
    return z3_int(a) == z3_int(b)


def merge(c: z3.BoolRef, a: Any, b: Any) -> Any:
    """``a if c else b`` as one value, or ``NotImplemented`` when the two cannot be joined."""
    c = z3.simplify(c)
    if z3.is_true(c):
        return a
    if z3.is_false(c):
        return b
    if a is b or (deep_concrete(a) and deep_concrete(b) and type(a) is type(b) and a == b):
        return a
    ctx = context_of(a, b)
    if type(a) is tuple and type(b) is tuple and len(a) == len(b):
        parts = [merge(c, x, y) for x, y in zip(a, b)]
        return NotImplemented if any(p is NotImplemented for p in parts) else tuple(parts)
    if isinstance(a, SymSeq | tuple) and isinstance(b, SymSeq | tuple):
        sa, sb = SymSeq.lift(a), SymSeq.lift(b)
        cap = max(sa.cap, sb.cap)
        ia = list(sa.items) + list(sb.items[sa.cap:])
        ib = list(sb.items) + list(sa.items[sb.cap:])
        items = [merge(c, x, y) for x, y in zip(ia, ib)]
        if any(p is NotImplemented for p in items):
            return NotImplemented
        return SymSeq(ctx or sa.ctx or sb.ctx, z3.If(c, sa.length, sb.length), tuple(items[:cap]))
    if isinstance(a, SymEnum | str) and isinstance(b, SymEnum | str):
        names = list(a.names) if isinstance(a, SymEnum) else [a]
        for n in b.names if isinstance(b, SymEnum) else [b]:
            if n not in names:
                names.append(n)
        ea = a.index_in(tuple(names)) if isinstance(a, SymEnum) else z3.IntVal(names.index(a))
        eb = b.index_in(tuple(names)) if isinstance(b, SymEnum) else z3.IntVal(names.index(b))
        return SymEnum(ctx, z3.If(c, ea, eb), tuple(names))
    if isinstance(a, bool | SymBool) and isinstance(b, bool | SymBool):
        return wrap_bool(ctx, z3.If(c, z3_bool(a), z3_bool(b)))
    if isinstance(a, int | SymInt | SymBool) and isinstance(b, int | SymInt | SymBool):
        (la, ha), (lb, hb) = bounds(a), bounds(b)
        lo = min(la, lb) if la is not None and lb is not None else None
        hi = max(ha, hb) if ha is not None and hb is not None else None
        return SymInt(ctx, z3.If(c, z3_int(a), z3_int(b)), lo, hi)
    return NotImplemented


def select(items: tuple[Any, ...], index: z3.ArithRef) -> Any:
    """``items[index]`` for a symbolic index (out of range reads the last item)."""
    result = items[-1]
    for j in range(len(items) - 2, -1, -1):
        result = merge(index == j, items[j], result)
        if result is NotImplemented:
            raise unsupported("cannot index a sequence of mixed values symbolically",
                              "keep every element of one type")
    return result


# --------------------------------------------------------------------------- the values


class Sym:
    """Base of every symbolic value: it knows its path context and backs modelcheck.ops."""

    mc_symbolic = True
    ctx: PathContext | None

    def __hash__(self) -> int:
        raise unsupported(f"symbolic {type(self).__name__} used as a dict key or set member",
                          "use tuples and modelcheck.ops.contains instead of sets and dicts")

    # modelcheck.ops, over any mix of concrete and symbolic arguments
    def mc_append(self, seq: Any, x: Any) -> Any:
        if type(seq) is tuple:
            return (*seq, x)
        return seq.append_item(x)

    def mc_push_front(self, seq: Any, x: Any) -> Any:
        if type(seq) is tuple:
            return (x, *seq)
        return SymSeq(seq.ctx, seq.length + 1, (x, *seq.items))

    def mc_remove(self, seq: Any, x: Any) -> Any:
        return SymSeq.lift(seq).remove_item(x)

    def mc_contains(self, seq: Any, x: Any) -> Any:
        s = SymSeq.lift(seq)
        return wrap_bool(s.ctx or context_of(x), s.contains_term(x))

    def mc_is_empty(self, seq: Any) -> Any:
        return wrap_bool(seq.ctx, seq.length == 0)

    def mc_head(self, seq: Any) -> Any:
        return seq.items[0]

    def mc_tail(self, seq: Any) -> Any:
        return SymSeq(seq.ctx, z3.If(seq.length > 0, seq.length - 1, 0), seq.items[1:] or seq.items)

    def mc_reverse(self, seq: Any) -> Any:
        items = tuple(select(seq.items, seq.length - 1 - j) for j in range(seq.cap))
        return SymSeq(seq.ctx, seq.length, items)

    def mc_concat(self, a: Any, b: Any) -> Any:
        return SymSeq.lift(a).concat(SymSeq.lift(b))

    def mc_update(self, tup: Any, i: Any, value: Any) -> Any:
        _require_index(tup, i, "update", context_of(tup, i, value))
        if isinstance(tup, SymSeq):
            items = tuple(_must(merge(z3_int(i) == j, value, x)) for j, x in enumerate(tup.items))
            return SymSeq(tup.ctx, tup.length, items)
        if type(i) is int:
            return (*tup[:i], value, *tup[i + 1:])
        return tuple(_must(merge(z3_int(i) == j, value, x)) for j, x in enumerate(tup))

    def mc_at(self, tup: Any, i: Any) -> Any:
        _require_index(tup, i, "at", context_of(tup, i))
        items = tup.items if isinstance(tup, SymSeq) else tup
        if type(i) is int:
            return items[i]
        return select(tuple(items), z3_int(i))

    def mc_all_of(self, values: list[Any]) -> Any:
        return wrap_bool(context_of(*values), z3.And(*[z3_bool(v) for v in values]))

    def mc_any_of(self, values: list[Any]) -> Any:
        return wrap_bool(context_of(*values), z3.Or(*[z3_bool(v) for v in values]))

    def mc_implies(self, a: Any, b: Any) -> Any:
        return wrap_bool(context_of(a, b), z3.Implies(z3_bool(a), z3_bool(b)))

    def mc_ite(self, cond: Any, then: Any, otherwise: Any) -> Any:
        joined = merge(z3_bool(cond), then, otherwise)
        if joined is NotImplemented:  # values of different shapes: fork instead
            return then if cond else otherwise
        return joined

    def mc_not(self, a: Any) -> Any:
        return wrap_bool(context_of(a), z3.Not(z3_bool(a)))

    def mc_count(self, seq: Any, x: Any) -> Any:
        s = SymSeq.lift(seq)
        terms = [z3.If(z3.And(j < s.length, eq(item, x)), 1, 0) for j, item in enumerate(s.items)]
        return SymInt(s.ctx or context_of(x), z3.Sum(*terms) if terms else z3.IntVal(0), 0, s.cap)

    def mc_count_true(self, values: list[Any]) -> Any:
        terms = [z3.If(z3_bool(v), 1, 0) for v in values]
        return SymInt(context_of(*values), z3.Sum(*terms) if terms else z3.IntVal(0), 0, len(terms))


def _require_index(seq: Any, i: Any, what: str, ctx: PathContext | None) -> None:
    """Fork on ``0 <= i < len(seq)`` and raise ops' IndexError on the branch where it fails."""
    length = seq.length if isinstance(seq, SymSeq) else z3.IntVal(len(seq))
    inside = z3.simplify(z3.And(z3_int(i) >= 0, z3_int(i) < length))
    if z3.is_true(inside):
        return
    if z3.is_false(inside) or ctx is None or not ctx.decide(inside):
        raise IndexError(f"ops.{what}: index out of range")


def _must(v: Any) -> Any:
    if v is NotImplemented:
        raise unsupported("cannot join values of different shapes symbolically", "keep one type per position")
    return v


class SymBool(Sym):
    """A symbolic truth value."""

    __slots__ = ("ctx", "expr")

    def __init__(self, ctx: PathContext | None, expr: z3.BoolRef):
        self.ctx = ctx
        self.expr = expr

    def __repr__(self) -> str:
        return f"SymBool({self.expr})"

    def __bool__(self) -> bool:
        if self.ctx is None:
            raise unsupported("truth of a symbolic value outside a path", "report this as an engine bug")
        return self.ctx.decide(self.expr)

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        return wrap_bool(self.ctx, eq(self, other))

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        return wrap_bool(self.ctx, z3.Not(eq(self, other)))

    def __and__(self, other: Any) -> Any:
        return wrap_bool(self.ctx, z3.And(self.expr, z3_bool(other)))

    __rand__ = __and__

    def __or__(self, other: Any) -> Any:
        return wrap_bool(self.ctx, z3.Or(self.expr, z3_bool(other)))

    __ror__ = __or__

    def __xor__(self, other: Any) -> Any:
        return wrap_bool(self.ctx, z3.Xor(self.expr, z3_bool(other)))

    __rxor__ = __xor__

    def _as_int(self) -> SymInt:
        return SymInt(self.ctx, z3_int(self), 0, 1)

    def __add__(self, other: Any) -> Any:
        return self._as_int() + other

    def __radd__(self, other: Any) -> Any:
        return other + self._as_int()

    def __sub__(self, other: Any) -> Any:
        return self._as_int() - other

    def __rsub__(self, other: Any) -> Any:
        return other - self._as_int()

    def __int__(self) -> int:
        return 1 if self else 0

    __index__ = __int__


def _arith(op: str, a: Any, b: Any) -> SymInt:
    ea, eb = z3_int(a), z3_int(b)
    (la, ha), (lb, hb) = bounds(a), bounds(b)
    lo = hi = None
    known = None not in (la, ha, lb, hb)
    if op == "+":
        e = ea + eb
        if known:
            lo, hi = la + lb, ha + hb  # type: ignore[operator]
    elif op == "-":
        e = ea - eb
        if known:
            lo, hi = la - hb, ha - lb  # type: ignore[operator]
    elif op == "*":
        e = ea * eb
        if known:
            corners = [la * lb, la * hb, ha * lb, ha * hb]  # type: ignore[operator]
            lo, hi = min(corners), max(corners)
    elif op == "//":
        e = ea / eb
    else:
        e = ea % eb
        if known and lb == hb and lb and lb > 0:
            lo, hi = 0, lb - 1
    return SymInt(context_of(a, b), e, lo, hi)


class SymInt(Sym):
    """A symbolic integer, with the range it is known to lie in (``None`` when unbounded)."""

    __slots__ = ("ctx", "expr", "hi", "lo")

    def __init__(self, ctx: PathContext | None, expr: z3.ArithRef, lo: int | None, hi: int | None):
        self.ctx = ctx
        self.expr = expr
        self.lo = lo
        self.hi = hi

    def __repr__(self) -> str:
        return f"SymInt({self.expr} in {self.lo}..{self.hi})"

    def concrete(self) -> int:
        """Fork over the finite range of this integer (Python asked for an ``int``)."""
        if self.lo is None or self.hi is None or self.hi - self.lo > 64:
            raise unsupported(f"int() of a symbolic integer with no small range ({self.expr})",
                              "compare it instead of converting it, or keep it within a declared Int(lo, hi)")
        if self.ctx is None:
            raise unsupported("int() of a symbolic value outside a path", "report this as an engine bug")
        for v in range(self.lo, self.hi):
            if self.ctx.decide(self.expr == v):
                return v
        self.ctx.decide(self.expr == self.hi)
        return self.hi

    __int__ = concrete
    __index__ = concrete

    def __bool__(self) -> bool:
        return bool(SymBool(self.ctx, self.expr != 0))

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        return wrap_bool(self.ctx, eq(self, other))

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        return wrap_bool(self.ctx, z3.Not(eq(self, other)))

    def _cmp(self, other: Any, op: Callable[[Any, Any], z3.BoolRef]) -> Any:
        if not isinstance(other, int | SymInt | SymBool):
            return NotImplemented
        return wrap_bool(self.ctx, op(self.expr, z3_int(other)))

    def __lt__(self, other: Any) -> Any:
        return self._cmp(other, lambda a, b: a < b)

    def __le__(self, other: Any) -> Any:
        return self._cmp(other, lambda a, b: a <= b)

    def __gt__(self, other: Any) -> Any:
        return self._cmp(other, lambda a, b: a > b)

    def __ge__(self, other: Any) -> Any:
        return self._cmp(other, lambda a, b: a >= b)

    def __add__(self, other: Any) -> Any:
        return _arith("+", self, other)

    def __radd__(self, other: Any) -> Any:
        return _arith("+", other, self)

    def __sub__(self, other: Any) -> Any:
        return _arith("-", self, other)

    def __rsub__(self, other: Any) -> Any:
        return _arith("-", other, self)

    def __mul__(self, other: Any) -> Any:
        return _arith("*", self, other)

    __rmul__ = __mul__

    def __floordiv__(self, other: Any) -> Any:
        return _arith("//", self, other)

    def __mod__(self, other: Any) -> Any:
        return _arith("%", self, other)

    def __neg__(self) -> Any:
        return _arith("-", 0, self)


class SymEnum(Sym):
    """A symbolic name out of ``names`` (the term is the name's position)."""

    __slots__ = ("ctx", "expr", "names")

    def __init__(self, ctx: PathContext | None, expr: z3.ArithRef, names: tuple[str, ...]):
        self.ctx = ctx
        self.expr = expr
        self.names = names

    def __repr__(self) -> str:
        return f"SymEnum({self.expr} of {self.names})"

    def index_in(self, names: tuple[str, ...]) -> z3.ArithRef:
        """This value's position in another list of names (-1 for a name not there)."""
        if names == self.names:
            return self.expr
        result: z3.ArithRef = z3.IntVal(-1)
        for i, n in enumerate(self.names):
            result = z3.If(self.expr == i, z3.IntVal(names.index(n) if n in names else -1), result)
        return result

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        return wrap_bool(self.ctx, eq(self, other))

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        return wrap_bool(self.ctx, z3.Not(eq(self, other)))

    def __str__(self) -> str:
        if self.ctx is None:
            raise unsupported("str() of a symbolic name outside a path", "report this as an engine bug")
        for i, n in enumerate(self.names):
            if self.ctx.decide(self.expr == i):
                return n
        raise Infeasible()


class SymSeq(Sym):
    """A symbolic sequence: a length term and ``cap`` item slots (slots past the length mean nothing)."""

    __slots__ = ("ctx", "items", "length")

    def __init__(self, ctx: PathContext | None, length: z3.ArithRef, items: tuple[Any, ...]):
        self.ctx = ctx
        self.length = length
        self.items = items

    def __repr__(self) -> str:
        return f"SymSeq(len {self.length}, {self.items})"

    @property
    def cap(self) -> int:
        return len(self.items)

    @staticmethod
    def lift(v: Any) -> SymSeq:
        if isinstance(v, SymSeq):
            return v
        if type(v) is tuple:
            return SymSeq(context_of(*v), z3.IntVal(len(v)), v)
        raise unsupported(f"{type(v).__name__} used as a sequence", "use a tuple")

    def _decide(self, cond: z3.BoolRef) -> bool:
        if self.ctx is None:
            raise unsupported("truth of a symbolic value outside a path", "report this as an engine bug")
        return self.ctx.decide(cond)

    def _len(self) -> int:
        return SymInt(self.ctx, self.length, 0, self.cap).concrete()

    __len__ = _len

    def __bool__(self) -> bool:
        return self._decide(self.length > 0)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.items[: self._len()])

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return self.items[: self._len()][i]
        if is_sym(i):
            if not self._decide(z3.And(z3_int(i) >= 0, z3_int(i) < self.length)):
                raise IndexError("sequence index out of range")
            return select(self.items, z3_int(i))
        if i < 0:
            return self.items[: self._len()][i]
        if i >= self.cap or not self._decide(self.length > i):
            raise IndexError("sequence index out of range")
        return self.items[i]

    def contains_term(self, x: Any) -> z3.BoolRef:
        return z3.Or(*[z3.And(j < self.length, eq(item, x)) for j, item in enumerate(self.items)])

    def __contains__(self, x: Any) -> bool:
        return self._decide(self.contains_term(x))

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        return wrap_bool(self.ctx, eq(self, other))

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        return wrap_bool(self.ctx, z3.Not(eq(self, other)))

    def __add__(self, other: Any) -> Any:
        return self.concat(SymSeq.lift(other))

    def __radd__(self, other: Any) -> Any:
        return SymSeq.lift(other).concat(self)

    def index(self, x: Any) -> Any:
        for j, item in enumerate(self):
            if item == x:
                return j
        raise ValueError("value not in sequence")

    def count(self, x: Any) -> Any:
        total: Any = 0
        for j, item in enumerate(self.items):
            total = total + SymBool(self.ctx, z3.And(j < self.length, eq(item, x)))
        return total

    def append_item(self, x: Any) -> SymSeq:
        items = tuple(_must(merge(self.length == j, x, item)) for j, item in enumerate(self.items))
        return SymSeq(self.ctx, self.length + 1, (*items, x))

    def remove_item(self, x: Any) -> SymSeq:
        found = z3.BoolVal(False)
        items = []
        for j, item in enumerate(self.items):
            found = z3.Or(found, z3.And(j < self.length, eq(item, x)))
            nxt = self.items[j + 1] if j + 1 < self.cap else item
            items.append(_must(merge(found, nxt, item)))
        return SymSeq(self.ctx, z3.If(self.contains_term(x), self.length - 1, self.length), tuple(items))

    def concat(self, other: SymSeq) -> SymSeq:
        if not other.items:
            return self
        if not self.items:
            return other
        items = []
        for j in range(self.cap + other.cap):
            mine = self.items[min(j, self.cap - 1)]
            theirs = select(other.items, j - self.length)
            items.append(_must(merge(self.length > j, mine, theirs)))
        return SymSeq(self.ctx or other.ctx, self.length + other.length, tuple(items))
