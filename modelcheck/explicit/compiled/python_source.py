"""Python source from z3 terms: the expression translator and the successor function's text.

The compiled successor mode (:mod:`modelcheck.explicit.compiled.expander`) turns each action instance into
z3 terms with the symbolic engine, then into plain Python over a *flat state*: a tuple of
small ints, one per layout leaf (:mod:`modelcheck.symbolic.layout`; bools as 0/1, enums as
indices, a sequence as its length and padded slots). The generated function unpacks the
tuple into locals ``v0 .. vN`` and has no calls, no exceptions and no ``replace`` on its
usual path. Only the operators listed in :data:`OPS` are translated; any other term raises
:class:`Untranslatable`, and the caller falls back to the plain engine with that reason.

A Python bool-valued expression evaluates to one of ``0, 1, False, True`` (a bool leaf is
stored as 0/1, ``and``/``or`` return an operand), and these compare as z3's booleans do, so
``==``, ``!=`` (xor, distinct) and ``if`` need no conversion; a bool leaf *stored* in the next
state is normalised to 0/1 so that equal states are equal tuples.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import z3

NARY = {z3.Z3_OP_AND: " and ", z3.Z3_OP_OR: " or ", z3.Z3_OP_ADD: " + ", z3.Z3_OP_SUB: " - ",
        z3.Z3_OP_MUL: " * "}
BINARY = {z3.Z3_OP_EQ: " == ", z3.Z3_OP_LE: " <= ", z3.Z3_OP_LT: " < ", z3.Z3_OP_GE: " >= ",
          z3.Z3_OP_GT: " > ", z3.Z3_OP_XOR: " != ", z3.Z3_OP_DISTINCT: " != "}
OPS = ("and", "or", "not", "=>", "xor", "if", "=", "distinct (two terms)", "<", "<=", ">", ">=", "+", "-", "*",
       "unary -", "div and mod by a positive constant", "int and bool constants", "state leaves")


class Untranslatable(Exception):
    """A z3 term outside :data:`OPS` (the message names its operator)."""


Memo = dict[int, tuple[z3.ExprRef, str]]


def python_expr(e: z3.ExprRef, leaf: Mapping[str, str], memo: Memo | None = None) -> str:
    """The Python text of term ``e``; ``leaf`` maps a variable's name (``rq.len@0``) to its local name.

    ``memo`` (term id → (term, text)) keeps each term alive: z3 reuses the id of a freed term.
    """
    memo = {} if memo is None else memo
    key = e.get_id()
    if key in memo:
        return memo[key][1]
    text = _translate(e, leaf, memo)
    memo[key] = (e, text)
    return text


def _translate(e: z3.ExprRef, leaf: Mapping[str, str], memo: Memo) -> str:
    if z3.is_true(e):
        return "True"
    if z3.is_false(e):
        return "False"
    if z3.is_int_value(e):
        return str(e.as_long())
    if z3.is_const(e):
        name = e.decl().name()
        if name not in leaf:
            raise Untranslatable(f"free z3 constant {name} (not a state leaf)")
        return leaf[name]
    kind = e.decl().kind()
    args = [python_expr(c, leaf, memo) for c in e.children()]
    if kind in NARY:
        return "(" + NARY[kind].join(args) + ")"
    if kind in BINARY:
        if len(args) != 2:
            raise Untranslatable(f"z3 operator {e.decl().name()} with {len(args)} arguments")
        return f"({args[0]}{BINARY[kind]}{args[1]})"
    if kind == z3.Z3_OP_NOT:
        return f"(not {args[0]})"
    if kind == z3.Z3_OP_IMPLIES:
        return f"((not {args[0]}) or {args[1]})"
    if kind == z3.Z3_OP_ITE:
        return f"({args[1]} if {args[0]} else {args[2]})"
    if kind == z3.Z3_OP_UMINUS:
        return f"(-{args[0]})"
    if kind in (z3.Z3_OP_IDIV, z3.Z3_OP_MOD):
        divisor = e.children()[1]
        if not (z3.is_int_value(divisor) and divisor.as_long() > 0):
            raise Untranslatable(f"z3 {e.decl().name()} by {divisor}: only a positive constant divisor is "
                                 "translated (Python's // and % agree with z3 there)")
        return f"({args[0]} {'//' if kind == z3.Z3_OP_IDIV else '%'} {args[1]})"
    raise Untranslatable(f"z3 operator {e.decl().name()} in {str(e)[:80]}")


def stored(e: z3.ExprRef, text: str) -> str:
    """``text`` as a value to store in a flat state: a bool term becomes 0/1."""
    if not z3.is_bool(e):
        return text
    if z3.is_true(e):
        return "1"
    if z3.is_false(e):
        return "0"
    if z3.is_const(e):
        return text  # a bool leaf already holds 0/1
    return f"(1 if {text} else 0)"


# --------------------------------------------------------------------------- the successor function


@dataclass
class PathCode:
    """One feasible path of one action instance, ready to print.

    ``guard`` holds the conjuncts of the path condition and of every active assumption (pure
    Python tests over the leaves: they never raise, so they may be tested in any order, or
    once for several paths); ``fault`` where the step would raise or leave the field types (the
    state is then handed to the plain engine); ``after`` the next state's leaves; ``step_bad``
    (property index, holds) per step property.
    """

    instance: int
    guard: list[str]
    fault: str | None
    after: list[str]
    step_bad: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class PlainCall:
    """Every instance of one action, left to the spec's own code: ``_fire(action, x)`` answers
    with their successors in instance order."""

    instance: int  # the action's first instance
    action: int
    name: str
    reason: str


@dataclass
class Program:
    """Everything the successor function of one configuration is made of, as Python text."""

    title: str
    width: int
    leaf_names: list[str]
    crash: str | None  # states to hand to the plain engine before anything else (or None)
    invariants: list[tuple[int, str]]  # (property index, holds)
    witnesses: list[tuple[int, str]]
    endings: list[tuple[int, str]]
    paths: list[PathCode | PlainCall]
    end_crash: str | None = None  # terminal states where an at_end property raises


def successor_source(program: Program) -> str:
    """The module text defining ``expand(x, successors=True, full=False)`` for one configuration.

    Its answer has the shape of :meth:`modelcheck.explicit.interpreted.Expander.expand`, over flat states;
    ``_plain(x, successors)`` (supplied by the caller) answers for states where a step or a
    property would raise. The paths' tests are nested (:func:`_tests`), so that a state meets
    few of the 300-odd tests of a large configuration; the successors still come in path order.
    """
    n = program.width
    lines = [f'"""Compiled successor function: {program.title}."""', "", "# leaves:"]
    lines += [f"#   v{i}: {name}" for i, name in enumerate(program.leaf_names)]
    lines += ["", "", "def expand(x, successors=True, full=False):"]
    if n:
        lines.append("    " + ", ".join(f"v{i}" for i in range(n)) + (", = x" if n == 1 else " = x"))
    if program.crash is not None:
        lines += [f"    if {program.crash}:", "        return _plain(x, successors)"]
    lines += _collect("bad", program.invariants, negate=True)
    lines += _collect("hit", program.witnesses, negate=False)
    lines += ["    if not successors:", "        return bad, hit, (), False, []", "    out = []"]
    items = [(p, list(p.guard) if isinstance(p, PathCode) else []) for p in program.paths]
    _tests(items, "    ", n, lines)
    lines += ["    if out:", "        return bad, hit, (), False, out"]
    if program.end_crash is not None:
        lines += [f"    if {program.end_crash}:", "        return _plain(x, successors)"]
    lines += _collect("ends", program.endings, negate=True)
    lines += ["    return bad, hit, ends, True, out", ""]
    return "\n".join(lines)


Item = tuple["PathCode | PlainCall", list[str]]  # a path (or a plain call) and its conjuncts not yet tested
_EQUALS = re.compile(r"\((?:(-?\d+) == (v\d+)|(v\d+) == (-?\d+))\)\Z")
_LEAF = re.compile(r"(?:\(not )?(v\d+)\)?\Z")
MAX_DEPTH = 40  # nested ``if`` levels before the rest is printed flat (Python's parser allows 100)


def _selector(conjunct: str) -> tuple[str, int] | None:
    """(leaf, value) when ``conjunct`` is literally ``(c == vK)`` or ``(vK == c)``: ``("vK", c)``;
    or a bool leaf's test ``vK`` / ``(not vK)``: ``("?vK", 1)`` / ``("?vK", 0)``.

    Two conjuncts with the same key and different values never hold together (an equality with
    two constants; a test and its negation), whatever the leaf holds: this is what lets
    :func:`_split` branch on the value. Bool tests have their own key, so they are never mixed
    with equalities.
    """
    m = _EQUALS.match(conjunct)
    if m:
        return (m[2], int(m[1])) if m[1] is not None else (m[3], int(m[4]))
    m = _LEAF.match(conjunct)
    if m and (conjunct == m[1] or conjunct == f"(not {m[1]})"):
        return f"?{m[1]}", 1 if conjunct == m[1] else 0
    return None


def _implied(conjunct: str, leaf: str, value: int) -> bool:
    """Whether ``conjunct`` holds wherever the selector ``leaf`` has ``value`` (literally)."""
    if conjunct.startswith("(not ") and conjunct.endswith(")"):
        inner = _selector(conjunct[5:-1])
        if inner is not None and not inner[0].startswith("?"):
            return inner[0] == leaf and inner[1] != value
    return _selector(conjunct) == (leaf, value)


def _tests(items: list[Item], pad: str, n: int, lines: list[str]) -> None:
    """Print ``items`` in order as nested tests: a conjunct shared by a run of paths is tested
    once around them, and a run of paths that each test one leaf against a constant is split
    by that leaf's value (paths under different values never fire together, so each path's
    successors still come in the order of ``items``)."""
    i = 0
    while i < len(items):
        p, conds = items[i]
        best: tuple[int, str, str] | None = None  # (run length, kind, conjunct or leaf)
        if conds and len(pad) < 4 * MAX_DEPTH:
            for c in conds:
                j = i + 1
                while j < len(items) and c in items[j][1]:
                    j += 1
                if best is None or j - i > best[0]:
                    best = (j - i, "share", c)
            leaves = dict.fromkeys(sel[0] for sel in map(_selector, conds) if sel is not None)
            for leaf in leaves:
                j = i + 1
                while j < len(items) and any((_selector(c) or ("",))[0] == leaf for c in items[j][1]):
                    j += 1
                if j - i > best[0]:  # a conjunct shared by as long a run is tested first
                    best = (j - i, "split", leaf)
        if best is None or best[0] == 1:
            _path(p, conds, pad, n, lines)
            i += 1
            continue
        run, kind, what = best
        group = items[i:i + run]
        if kind == "share":
            lines.append(f"{pad}if {what}:")
            _tests([(q, [c for c in cs if c != what]) for q, cs in group], pad + "    ", n, lines)
        else:
            _split(what, group, pad, n, lines)
        i += run


def _split(leaf: str, group: list[Item], pad: str, n: int, lines: list[str]) -> None:
    """Print ``group`` (each item tests ``leaf`` against a constant) as one branch per value."""
    by_value: dict[int, list[Item]] = {}
    for q, cs in group:
        value = next(sel[1] for sel in map(_selector, cs) if sel is not None and sel[0] == leaf)
        by_value.setdefault(value, []).append((q, [c for c in cs if not _implied(c, leaf, value)]))
    keyword = "if"
    for value, members in sorted(by_value.items()):
        if leaf.startswith("?"):
            name = leaf[1:]
            test = name if value else f"not {name}"
            if keyword == "elif" and len(by_value) == 2:
                lines.append(f"{pad}else:")
            else:
                lines.append(f"{pad}{keyword} {test}:")
        else:
            lines.append(f"{pad}{keyword} {leaf} == {value}:")
        _tests(members, pad + "    ", n, lines)
        keyword = "elif"


def _path(p: PathCode | PlainCall, conds: list[str], pad: str, n: int, lines: list[str]) -> None:
    """One path's own test (its conjuncts left) and its successor; or a plain call."""
    if isinstance(p, PlainCall):
        lines += [f"{pad}# action {p.name}, from instance {p.instance}: the spec's own code ({p.reason})",
                  f"{pad}out += _fire({p.action}, x)"]
        return
    lines.append(f"{pad}# instance {p.instance}")
    if conds:
        lines.append(f"{pad}if {' and '.join(conds)}:")
        pad += "    "
    if p.fault is not None:
        lines += [f"{pad}if {p.fault}:", f"{pad}    return _plain(x, successors)"]
    body = "(" + ", ".join(p.after) + ("," if n == 1 else "") + ")"
    if p.step_bad:
        lines += [f"{pad}sb = ()"]
        for i, holds in p.step_bad:
            lines += [f"{pad}if not {holds}:", f"{pad}    sb += ({i},)"]
        lines.append(f"{pad}out.append(({p.instance}, {body}, sb))")
    else:
        lines.append(f"{pad}out.append(({p.instance}, {body}, ()))")


def _collect(name: str, items: list[tuple[int, str]], negate: bool) -> list[str]:
    out = [f"    {name} = ()"]
    for i, text in items:
        test = f"not {text}" if negate else text
        out += [f"    if {test}:", f"        {name} += ({i},)"]
    return out


def build(source: str, filename: str, env: Mapping[str, object]) -> Callable:
    """Compile ``source`` once and return its ``expand`` function (names in ``env`` are its globals)."""
    namespace: dict[str, object] = dict(env)
    exec(compile(source, filename, "exec"), namespace)
    return namespace["expand"]  # type: ignore[return-value]
