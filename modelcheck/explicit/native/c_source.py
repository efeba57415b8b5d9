"""C source from the compiled mode's generated Python: the native search's successor function.

The compiled mode (:mod:`modelcheck.explicit.compiled.expander`) prints one Python function ``expand`` per
configuration, in a small fixed subset of Python (:func:`modelcheck.explicit.compiled.python_source.successor_source`).
This module parses that text with :mod:`ast` and prints the same function in C, statement for
statement, for the native search (:mod:`modelcheck.explicit.native.driver`). Working from the text, not from
the z3 terms, means the C code is exactly as current as the Python code, and a cached entry
needs no symbolic run.

What the C function does (``int mc_expand(const mc_cell *x, int successors, Out *o)``):

* the state comes as a row of cells (``mc_cell``: the narrowest int type that holds every
  leaf); the leaves are ``int64_t`` locals ``v0 .. vN``; bool expressions are C ints 0/1, which is
  what Python's ``and``/``or`` give over the 0/1 leaves and the ``True``/``False`` the
  translator prints, so every comparison reads alike;
* ``bad``, ``hit``, ``ends`` and a step's ``sb`` are bit masks over property indices (at most
  64 properties);
* each ``out.append((k, (e0, ..., eN), sb))`` writes the leaves, as cells, into the next row
  of ``o->succ`` (all read the *old* locals, as the Python tuple display does; unchanged runs are
  copied from ``x``), which is where the search keeps them, and records ``k``
  and ``sb``; there is a slot per action instance, since at most one path of an instance
  fires in a state (a state that filled them all would be handed back, never overrun);
* ``//`` and ``%`` (by a positive constant only, as the translator guarantees) keep Python's
  floor semantics through two inline helpers.

Anything else — a call back into Python (``_plain``: a step that would raise or leave the
field types; ``_fire``: an action left to the spec's own code; ``_holds``: a property judged by
the spec's own code) or a construct outside the subset — is handled as follows: ``_plain``
becomes ``return MC_FAULT`` (the native search stops and the caller reruns the search in
Python, which raises the spec's own error or answers itself); the others raise
:class:`NotC` with the reason, and the search runs as compiled Python.
"""

from __future__ import annotations

import ast

INT64 = (-(1 << 63), (1 << 63) - 1)
MASKS = ("bad", "hit", "ends", "sb")


class NotC(Exception):
    """The generated Python uses something the C printer does not translate (the message says what)."""


def c_function(source: str) -> str:
    """The C text of ``mc_expand`` for the generated module ``source`` (see the module docstring)."""
    tree = ast.parse(source)
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "expand"]
    if len(funcs) != 1:
        raise NotC("the generated module has no single expand function")
    lines = ["int mc_expand(const mc_cell *x, int successors, Out *o)", "{",
             "    uint64_t bad = 0, hit = 0, ends = 0, sb = 0;", "    int n = 0;",
             "    (void)bad; (void)hit; (void)ends; (void)sb; (void)successors;"]
    _block(funcs[0].body, "    ", lines)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _block(body: list[ast.stmt], pad: str, out: list[str]) -> None:
    for stmt in body:
        _stmt(stmt, pad, out)


def _stmt(s: ast.stmt, pad: str, out: list[str]) -> None:
    if isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant):
        return  # a docstring
    if isinstance(s, ast.Assign) and len(s.targets) == 1:
        target, value = s.targets[0], s.value
        if isinstance(target, ast.Tuple) and isinstance(value, ast.Name) and value.id == "x":
            for i, elt in enumerate(target.elts):
                if not (isinstance(elt, ast.Name) and elt.id == f"v{i}"):
                    raise NotC(f"line {s.lineno}: unpacking into {ast.unparse(elt)}")
                out.append(f"{pad}const int64_t v{i} = x[{i}];")
            return
        if isinstance(target, ast.Name) and target.id in MASKS and _is_empty_tuple(value):
            out.append(f"{pad}{target.id} = 0;")
            return
        if isinstance(target, ast.Name) and target.id == "out" and isinstance(value, ast.List) and not value.elts:
            out.append(f"{pad}n = 0;")
            return
    if isinstance(s, ast.AugAssign) and isinstance(s.op, ast.Add) and isinstance(s.target, ast.Name):
        if s.target.id in MASKS and isinstance(s.value, ast.Tuple):
            for elt in s.value.elts:
                out.append(f"{pad}{s.target.id} |= (uint64_t)1 << {_prop_index(elt, s)};")
            return
        if s.target.id == "out":
            raise NotC(f"line {s.lineno}: {ast.unparse(s.value)[:60]} (an action left to the spec's own code)")
    if isinstance(s, ast.If):
        out.append(f"{pad}if ({expr(s.test)}) {{")
        _block(s.body, pad + "    ", out)
        orelse = s.orelse
        while len(orelse) == 1 and isinstance(orelse[0], ast.If):
            out.append(f"{pad}}} else if ({expr(orelse[0].test)}) {{")
            _block(orelse[0].body, pad + "    ", out)
            orelse = orelse[0].orelse
        if orelse:
            out.append(f"{pad}}} else {{")
            _block(orelse, pad + "    ", out)
        out.append(f"{pad}}}")
        return
    if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call):
        call = s.value
        if (isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name)
                and call.func.value.id == "out" and call.func.attr == "append" and len(call.args) == 1):
            _append(call.args[0], pad, out)
            return
    if isinstance(s, ast.Return):
        _return(s, pad, out)
        return
    raise NotC(f"line {s.lineno}: statement {ast.unparse(s)[:60]}")


def _return(s: ast.Return, pad: str, out: list[str]) -> None:
    v = s.value
    if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "_plain":
        out.append(f"{pad}return MC_FAULT;")
        return
    if not (isinstance(v, ast.Tuple) and len(v.elts) == 5):
        raise NotC(f"line {s.lineno}: return {ast.unparse(v)[:60] if v else ''}")
    bad, hit, ends, terminal, _ = v.elts
    parts = [_mask(bad, s), _mask(hit, s), _mask(ends, s)]
    if not (isinstance(terminal, ast.Constant) and isinstance(terminal.value, bool)):
        raise NotC(f"line {s.lineno}: a terminal flag that is not a constant")
    out.append(f"{pad}o->bad = {parts[0]}; o->hit = {parts[1]}; o->ends = {parts[2]}; "
               f"o->terminal = {int(terminal.value)}; return n;")


def _mask(e: ast.expr, s: ast.stmt) -> str:
    if isinstance(e, ast.Name) and e.id in MASKS:
        return e.id
    if _is_empty_tuple(e):
        return "0"
    raise NotC(f"line {s.lineno}: returned {ast.unparse(e)[:60]}")


def _append(arg: ast.expr, pad: str, out: list[str]) -> None:
    """``out.append((k, (e0, ..., eN), sb))``: the successor's leaves, instance and step mask."""
    if not (isinstance(arg, ast.Tuple) and len(arg.elts) == 3 and isinstance(arg.elts[1], ast.Tuple)):
        raise NotC(f"line {arg.lineno}: out.append of {ast.unparse(arg)[:60]}")
    k, leaves, sb = arg.elts
    if not (isinstance(k, ast.Constant) and type(k.value) is int):
        raise NotC(f"line {arg.lineno}: an instance that is not a constant")
    out.append(f"{pad}{{")
    out.append(f"{pad}    if (n >= MC_INSTANCES) return MC_FAULT;  /* never: one path per instance fires */")
    out.append(f"{pad}    mc_cell *t = o->succ + (size_t)n * MC_WIDTH;")
    for i, e in enumerate(leaves.elts):
        text = expr(e)
        if text != f"v{i}":  # the next state's leaf differs from the source's (else it is copied below)
            out.append(f"{pad}    t[{i}] = {text};")
    copies = [i for i, e in enumerate(leaves.elts) if isinstance(e, ast.Name) and e.id == f"v{i}"]
    for lo, hi in _runs(copies):
        out.append(f"{pad}    memcpy(t + {lo}, x + {lo}, {hi - lo} * sizeof(mc_cell));" if hi - lo > 1
                   else f"{pad}    t[{lo}] = v{lo};")
    out.append(f"{pad}    o->inst[n] = {k.value}; o->sb[n] = {_mask(sb, arg)}; n++;")  # type: ignore[arg-type]
    out.append(f"{pad}}}")


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    """Maximal runs of consecutive ints, as half-open ranges."""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    return runs


def _prop_index(e: ast.expr, s: ast.stmt) -> int:
    if isinstance(e, ast.Constant) and type(e.value) is int and 0 <= e.value < 64:
        return e.value
    raise NotC(f"line {s.lineno}: property index {ast.unparse(e)} (the native search keeps at most 64 properties)")


def _is_empty_tuple(e: ast.expr) -> bool:
    return isinstance(e, ast.Tuple) and not e.elts


NAMES = {"successors": "successors", "out": "n"}  # the function's flag; ``if out:`` tests the count
COMPARE = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*"}


def expr(e: ast.expr, tables: dict[tuple[int, ...], str] | None = None) -> str:
    """The C text of one expression of the subset (ints are int64_t, bools 0/1).

    With ``tables`` (the symmetry canonicalizer's expressions), the locals ``wJ``/``uJ`` and
    subscripts of constant tuples (``(0, 2, 1,)[v3]``, Python's negative indices included)
    are allowed too; each tuple becomes a ``static const`` array named in ``tables``, which
    holds the tuple twice so that ``T[i]`` reads ``(name + len(T))[i]`` for ``-len(T) <= i < len(T)``
    (no test of the sign).
    """
    def sub(x: ast.expr) -> str:
        return expr(x, tables)

    if isinstance(e, ast.Name):
        if e.id.startswith("v") and e.id[1:].isdigit():
            return e.id
        if tables is not None and e.id[:1] in "wu" and e.id[1:].isdigit():
            return e.id
        if e.id in NAMES:
            return NAMES[e.id]
        raise NotC(f"name {e.id} in an expression")
    if isinstance(e, ast.Constant):
        if isinstance(e.value, bool):
            return "1" if e.value else "0"
        if type(e.value) is int and INT64[0] < e.value <= INT64[1]:
            return f"INT64_C({e.value})" if abs(e.value) > 1 << 31 else str(e.value)
        raise NotC(f"constant {e.value!r}")
    if isinstance(e, ast.BoolOp):
        op = " && " if isinstance(e.op, ast.And) else " || "
        return "(" + op.join(sub(v) for v in e.values) + ")"
    if isinstance(e, ast.UnaryOp):
        if isinstance(e.op, ast.Not):
            return f"(!{sub(e.operand)})"
        if isinstance(e.op, ast.USub):
            return f"(-{sub(e.operand)})"
    if isinstance(e, ast.Compare) and len(e.ops) == 1 and type(e.ops[0]) in COMPARE:
        return f"({sub(e.left)} {COMPARE[type(e.ops[0])]} {sub(e.comparators[0])})"
    if isinstance(e, ast.BinOp):
        if type(e.op) in ARITH:
            return f"({sub(e.left)} {ARITH[type(e.op)]} {sub(e.right)})"
        if isinstance(e.op, ast.FloorDiv | ast.Mod):
            helper = "mc_floordiv" if isinstance(e.op, ast.FloorDiv) else "mc_floormod"
            return f"{helper}({sub(e.left)}, {sub(e.right)})"
    if isinstance(e, ast.IfExp):
        return f"({sub(e.test)} ? {sub(e.body)} : {sub(e.orelse)})"
    if tables is not None and isinstance(e, ast.Subscript) and isinstance(e.value, ast.Tuple):
        values = tuple(_table_value(v) for v in e.value.elts)
        name = tables.setdefault(values, f"mc_t{len(tables)}")
        index = sub(e.slice)
        return f"({name} + {len(values)})[{index}]"  # printed twice: a negative index reads the first copy
    if isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id == "_holds":
        raise NotC("a property judged by the spec's own code (_holds)")
    raise NotC(f"expression {ast.unparse(e)[:60]}")


def _table_value(e: ast.expr) -> int:
    if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub):
        return -_table_value(e.operand)
    if isinstance(e, ast.Constant) and type(e.value) is int:
        return e.value
    raise NotC(f"table entry {ast.unparse(e)}")
