"""Refusing what the symbolic engine cannot interpret: ``is``, ``isinstance`` and ``type()`` on symbolic values.

Operators on a symbolic value build z3 terms, but ``x is False``, ``isinstance(x, int)`` and
``type(x)`` never reach the value: they answer about the Python object (a ``SymBool`` is
never ``False``), so a guard ``require(s.flag is False)`` would silently disable its action in
every symbolic run while the concrete run takes it. A prover would then prove a property
the explicit search refutes. :class:`IdentityGuard` watches the spec's own code during a
symbolic run and raises a :class:`~modelcheck.errors.SpecError` naming the line instead.

How: the spec's source files are parsed once; every ``is``/``is not`` comparison (except
against ``None``, which no field value ever is, concretely or symbolically), every call of
``isinstance`` and of ``type`` with one argument is located, and the bytecode instruction that
performs it is found by its source position. While a symbolic run is under way, a trace
function (installed only when the spec has such code) stops at those instructions, evaluates
their operands in the running frame and refuses when one is symbolic. An operand that is not
a plain name, attribute or constant-indexed item is refused as well: evaluating it again
could fork the run, and it cannot be told concrete without doing so.
"""

from __future__ import annotations

import ast
import dis
import inspect
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SpecError, Where

PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)


@dataclass(frozen=True)
class Site:
    """One ``is``/``isinstance``/``type()`` in spec code: what it is and the operands to test."""

    what: str
    operands: tuple[ast.expr, ...]
    lineno: int


def _sites(tree: ast.AST) -> dict[tuple[int, int, int, int], Site]:
    """Flagged expressions by source span, as ``co_positions`` gives it (line, end line, column, end column)."""
    found: dict[tuple[int, int, int, int], Site] = {}
    for node in ast.walk(tree):
        site = None
        if isinstance(node, ast.Compare) and any(isinstance(op, ast.Is | ast.IsNot) for op in node.ops):
            operands = [node.left, *node.comparators]
            if not any(isinstance(o, ast.Constant) and o.value is None for o in operands):
                site = Site("`is`", tuple(operands), node.lineno)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "isinstance" and node.args:
                site = Site("isinstance()", (node.args[0],), node.lineno)
            elif node.func.id == "type" and len(node.args) == 1:
                site = Site("type()", (node.args[0],), node.lineno)
        if site is not None:
            found[(node.lineno, node.end_lineno or node.lineno, node.col_offset, node.end_col_offset or 0)] = site
    return found


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _functions(namespace: dict[str, Any], filename: str, seen: set[int]) -> Iterator[types.CodeType]:
    """Code objects of the functions (and methods of classes) defined in ``filename``."""
    for value in namespace.values():
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, staticmethod | classmethod):
            value = value.__func__
        if isinstance(value, property) and value.fget is not None:
            value = value.fget
        code = getattr(value, "__code__", None)
        if isinstance(code, types.CodeType) and code.co_filename == filename:
            yield from _code_objects(code)
        elif isinstance(value, type) and getattr(sys.modules.get(value.__module__), "__file__", None) == filename:
            yield from _functions(dict(vars(value)), filename, seen)


def _spec_files(spec_class: type) -> list[str]:
    """Source files of the spec's classes (its own and its bases outside modelcheck)."""
    files = []
    for cls in spec_class.__mro__:
        module = sys.modules.get(cls.__module__)
        path = getattr(module, "__file__", None)
        if path and not str(Path(path).resolve()).startswith(PACKAGE_DIR) and path not in files:
            files.append(path)
    return files


class IdentityGuard:
    """Watches the flagged instructions of a spec's code during symbolic runs (see the module text)."""

    def __init__(self, spec_class: type):
        self.watch: dict[types.CodeType, dict[int, Site]] = {}
        for path in _spec_files(spec_class):
            try:
                source = Path(path).read_text(encoding="utf-8")
            except OSError:
                continue
            sites = _sites(ast.parse(source, filename=path))
            if not sites:
                continue
            module = sys.modules[next(c.__module__ for c in spec_class.__mro__
                                      if getattr(sys.modules.get(c.__module__), "__file__", None) == path)]
            for code in _functions(dict(vars(module)), path, set()):
                offsets = {}
                for offset, pos in zip(range(0, len(code.co_code), 2), code.co_positions()):
                    site = sites.get(pos)  # type: ignore[arg-type]
                    if site is not None and _performs(code, offset):
                        offsets[offset] = site
                if offsets:
                    self.watch[code] = offsets

    def __bool__(self) -> bool:
        return bool(self.watch)

    @contextmanager
    def watching(self) -> Iterator[None]:
        """Check every flagged instruction run inside the block (nothing to do when there is none)."""
        if not self.watch:
            yield
            return
        previous = sys.gettrace()
        sys.settrace(self._call)
        try:
            yield
        finally:
            sys.settrace(previous)

    def _call(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        if event != "call" or frame.f_code not in self.watch:
            return None
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        return self._opcode

    def _opcode(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        if event == "opcode":
            site = self.watch[frame.f_code].get(frame.f_lasti)
            if site is not None:
                self._check(frame, site)
        return self._opcode

    @staticmethod
    def _check(frame: types.FrameType, site: Site) -> None:
        where = Where(frame.f_code.co_filename, site.lineno, frame.f_code.co_qualname)
        fix = "compare with == (or use modelcheck.ops), which the symbolic engine follows"
        for operand in site.operands:
            if _checked_call(operand):
                continue  # type(x) / isinstance(x, T): refused at their own instruction when x is symbolic
            if not _simple(operand):
                raise SpecError(f"{site.what} on a computed value ({ast.unparse(operand)}): the symbolic engine "
                                "cannot tell whether it is symbolic", where=where,
                                fix=f"bind it to a name first, or {fix}")
            try:
                value = eval(compile(ast.Expression(operand), "<operand>", "eval"),
                             frame.f_globals, frame.f_locals)
            except Exception:
                continue  # the instruction itself raises the same error
            if _symbolic(value):
                raise SpecError(f"{site.what} on a symbolic value ({ast.unparse(operand)}): it tests the Python "
                                "object, not the value it stands for, so the symbolic run would lose or "
                                "invent steps", where=where, fix=fix)


def _symbolic(value: Any) -> bool:
    """Whether a value is (or a tuple holds) a symbolic value (see :mod:`.values`)."""
    if isinstance(value, tuple):  # states too
        return any(_symbolic(v) for v in value)
    return hasattr(value, "mc_symbolic")


def _simple(e: ast.expr) -> bool:
    """Names, attributes and constant-indexed items: evaluating them again cannot fork a run."""
    if isinstance(e, ast.Name | ast.Constant):
        return True
    if isinstance(e, ast.Attribute):
        return _simple(e.value)
    if isinstance(e, ast.Subscript):
        return isinstance(e.slice, ast.Constant) and _simple(e.value)
    return False


def _checked_call(e: ast.expr) -> bool:
    return isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id in ("type", "isinstance")


PERFORMING = frozenset({"IS_OP", "CALL", "PRECALL", "CALL_FUNCTION", "COMPARE_OP"})


def _performs(code: types.CodeType, offset: int) -> bool:
    """Whether the instruction at ``offset`` is the one that performs a flagged expression."""
    return dis.opname[code.co_code[offset]] in PERFORMING


def spec_guard(spec: object) -> IdentityGuard:
    """The guard for one spec instance (empty when its code has no flagged expression)."""
    return IdentityGuard(inspect.unwrap(type(spec)))  # type: ignore[arg-type]
