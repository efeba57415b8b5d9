"""Compiled successor mode: one spec, plain Python, run as generated code over flat int tuples.

``SearchOptions(compiled=True)`` asks the explicit engine for this mode. The symbolic engine
(:mod:`modelcheck.symbolic.encode`) runs the spec's own action, assumption and property code
over z3 terms and yields, per action instance, its feasible paths (condition, next-state
leaves); :mod:`modelcheck.explicit.compiled.python_source` prints them as one Python function per configuration,
compiled once and cached on the :class:`~modelcheck.spec.Compiled` object. The search then
runs on *flat states* (tuples of small ints in the leaf order of
:mod:`modelcheck.symbolic.layout`), and :meth:`FlatExpander.finish` turns what it stored back
into ordinary :class:`~modelcheck.state.State` values, so traces, graphs and verdicts look
exactly as in plain mode.

Why the answers are the plain engine's: the paths of one instance are disjoint, so at most one
fires per state, and instances are tried in declaration order, which is the plain order (hints
only skip disabled instances). Where the symbolic run found that a step or a property may raise
or leave the field types, the generated code tests that condition and hands the state to the
plain :class:`~modelcheck.explicit.interpreted.Expander` (``_plain``), which raises the spec's own error, or
answers itself. Spec code the symbolic engine cannot follow, or a term the translator does not
know, makes :func:`flat_expander` return no expander and a one-line reason: the search then
runs in plain mode.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import z3

from ...spec import LIVENESS, ActionInstance, Compiled, Property, PropertyKind
from ...state import State
from ..flat import FlatLayout, fingerprint_for, flat_fields, leaf_range
from ..interpreted import Expander, instances_to_fire, judge
from ..successors import Expansion
from . import cache as codecache
from .python_source import (
    Memo,
    PathCode,
    PlainCall,
    Program,
    Untranslatable,
    build,
    python_expr,
    stored,
    successor_source,
)

PATH_LIMIT = 256  # symbolic paths through one action instance before its action runs as plain code


# --------------------------------------------------------------------------- the expander


class FlatExpander:
    """The compiled counterpart of :class:`~modelcheck.explicit.interpreted.Expander`, over flat states.

    ``expand(x, successors, full)`` is the generated function itself (no wrapper call);
    ``state_cls`` is ``tuple`` so that :class:`~modelcheck.explicit.parallel.Pool` ships flat states.
    :func:`flat_expander` sets ``from_cache`` (the text was read from the disk cache),
    ``codegen_seconds`` (the time to get the compiled function: symbolic run, printing and
    compiling on a miss; reading and compiling on a hit), ``cache_file`` (the entry's path, or
    ``None`` when nothing is cached) and ``plain_actions`` (actions left to the spec's own
    code → why).
    """

    state_cls = tuple
    canonical = None
    ample = None

    def __init__(self, compiled: Compiled, properties: list[Property], layout: FlatLayout, source: str,
                 plain: Expander):
        self.compiled = compiled
        self.layout = layout
        self.source = source
        self.plain = plain
        self.initial = [layout.flatten(s) for s in compiled.initial]
        self.fingerprint = fingerprint_for(*leaf_range(compiled.state_class))  # usually hash itself
        self.spec = compiled.spec
        self.plan = plain.plan
        self.properties = properties
        self._last: tuple[tuple[int, ...] | None, State | None] = (None, None)
        self.from_cache = False
        self.codegen_seconds = 0.0
        self.cache_file: str | None = None
        self.plain_actions: dict[str, str] = {}
        env = {"_plain": self._plain, "_fire": self._fire, "_holds": self._holds}
        self.expand: Callable[..., Expansion] = build(source, f"<compiled {compiled.spec.describe()}>", env)

    def _plain(self, x: tuple[int, ...], successors: bool) -> Expansion:
        """The plain engine's answer for one state (it raises where the spec's code raises)."""
        bad, hit, ends, terminal, succ = self.plain.expand(self.layout.unflatten(x), successors)
        flatten = self.layout.flatten
        return bad, hit, ends, terminal, [(k, flatten(t), sb) for k, t, sb in succ]

    def _state(self, x: tuple[int, ...]) -> State:
        """State ``x`` decoded (the last one is kept: one state's actions ask for it in turn)."""
        last, s = self._last
        if last is not x or s is None:
            s = self.layout.unflatten(x)
            self._last = (x, s)
        return s

    def _holds(self, i: int, x: tuple[int, ...]) -> bool:
        """Property ``i`` judged by the spec's own code."""
        return judge(self.properties[i], self.spec, self._state(x))

    def _fire(self, a: int, x: tuple[int, ...]) -> list[tuple[int, tuple[int, ...], tuple[int, ...]]]:
        """The successors by action ``a``'s instances, run as the spec's own code (by the plain
        :meth:`modelcheck.explicit.interpreted.Expander.fire`), as flat tuples."""
        s = self._state(x)
        ks = instances_to_fire([self.plan[a]], self.spec, s)
        return [(k, self.layout.flatten(t), step_bad) for k, t, step_bad in self.plain.fire(s, ks)]

    def state_key(self, s: State) -> int:
        """The compact store's fingerprint of a concrete state (for rebuilding traces)."""
        return self.fingerprint(self.layout.flatten(s))

    def finish(self, ex: Any) -> None:
        """Turn what the search stored as flat states back into states (``ex`` is an Exploration)."""
        unflatten = self.layout.unflatten
        if not ex.compact:
            ex.states = [unflatten(x) for x in ex.states]
        else:
            ex.key = self.state_key
        ex.violated_step = {name: (src, k, unflatten(t)) for name, (src, k, t) in ex.violated_step.items()}


def flat_expander(compiled: Compiled, properties: list[Property], *, use_hints: bool = True,
                  validate: bool = True, check_hints: bool = False,
                  reductions: bool = False) -> tuple[FlatExpander | None, str]:
    """The compiled expander for this configuration and properties, or ``None`` and the reason.

    Built once per configuration and property list, then cached on ``compiled``.
    """
    if reductions:
        return None, "partial-order reduction works on states, not on compiled flat states"
    if check_hints:
        return None, "check_hints verifies the spec's hints, which only the plain expander uses"
    if not validate:
        return None, "compiled mode always checks field types (validate=False keeps out-of-type states)"
    cache: dict[Any, tuple[FlatExpander | None, str]] = compiled.__dict__.setdefault("_flat_cache", {})
    key = (tuple(p.name for p in properties), use_hints)
    if key not in cache:
        try:
            plain = Expander(compiled, properties, use_hints=use_hints, validate=True)
            cache[key] = _built(compiled, properties, plain, use_hints), ""
        except Exception as err:
            cache[key] = None, _one_line(err)
    return cache[key]


def _built(compiled: Compiled, properties: list[Property], plain: Expander, use_hints: bool) -> FlatExpander:
    """The expander from the disk cache's text when it holds this configuration, else from a
    fresh generation (then stored). The cache never makes this fail: an entry that does not
    compile is generated again, and any trouble with the cache itself means no cache."""
    started = time.perf_counter()
    try:
        entry = codecache.lookup(compiled, properties, use_hints=use_hints, path_limit=PATH_LIMIT)
    except Exception:
        entry = None
    if entry is not None and entry.source is not None:
        try:
            fx = FlatExpander(compiled, properties, FlatLayout(compiled.state_class, flat_fields(compiled.state_class)),
                              entry.source, plain)
        except Exception:
            pass  # written by us, so it compiled once; whatever broke it, generate afresh below
        else:
            return _noted(fx, True, started, entry, entry.plain or {})
    layout, source, left_plain = compile_source(compiled, properties)
    fx = FlatExpander(compiled, properties, layout, source, plain)
    kept = entry is not None and entry.store(source, left_plain)
    return _noted(fx, False, started, entry if kept else None, left_plain)


def _noted(fx: FlatExpander, from_cache: bool, started: float, entry: codecache.Entry | None,
           left_plain: dict[str, str]) -> FlatExpander:
    fx.from_cache = from_cache
    fx.codegen_seconds = time.perf_counter() - started
    fx.cache_file = str(entry.path) if entry is not None else None
    fx.plain_actions = dict(left_plain)
    return fx


# --------------------------------------------------------------------------- from z3 to the program


class _TooManyPaths(BaseException):
    """Raised out of a symbolic run, past ``explore_paths``' handlers, when an instance forks too often."""


def _encoding(compiled: Compiled, plain: dict[str, str], limit: int) -> Any:
    """The symbolic encoding, except for actions whose code forks more than ``limit`` times or
    that the symbolic engine cannot follow: those are named in ``plain`` (with the reason),
    get no paths, and the generated code calls the spec's own function for them."""
    from ...symbolic.encode import Encoding, InstanceEncoding

    class LimitedEncoding(Encoding):
        def _encode_instance(self, k: int, inst: ActionInstance) -> InstanceEncoding:
            if inst.name not in plain:
                runs = [0]

                def counted(*args: Any) -> Any:
                    runs[0] += 1
                    if runs[0] > limit:
                        raise _TooManyPaths
                    return inst.func(*args)

                try:
                    ie = super()._encode_instance(k, dataclasses.replace(inst, func=counted))
                    ie.inst = inst
                    return ie
                except _TooManyPaths:
                    plain[inst.name] = f"more than {limit} symbolic paths"
                except Exception as err:
                    plain[inst.name] = _one_line(err)
            return InstanceEncoding(k, inst, [], z3.BoolVal(False))

    return LimitedEncoding(compiled)


def compile_source(compiled: Compiled, properties: list[Property],
                   path_limit: int = PATH_LIMIT) -> tuple[FlatLayout, str, dict[str, str]]:
    """The flat layout, the generated module text for one configuration, and the actions left
    to the spec's own code (name → why)."""
    plain: dict[str, str] = {}
    enc = _encoding(compiled, plain, path_limit)
    layout = FlatLayout(compiled.state_class, enc.fields)
    return layout, successor_source(_program(enc, properties, plain)), plain


def _program(enc: Any, properties: list[Property], plain: dict[str, str]) -> Program:
    from ...symbolic.values import explore_paths

    compiled: Compiled = enc.compiled
    spec = compiled.spec
    leaf = {v.decl().name(): f"v{i}" for i, v in enumerate(enc.x)}
    memo: Memo = {}

    def py(e: z3.ExprRef) -> str:
        return python_expr(e, leaf, memo)

    def judge(run: Callable[[Any], Any], base: list[z3.BoolRef]) -> tuple[z3.BoolRef, z3.BoolRef]:
        """(where the predicate is true, where it raises or returns a non-bool) over ``base``."""
        from ...symbolic.values import SymBool

        true_on, crash_on = [], []
        for p in explore_paths(run, enc.oracle.with_base(base)):
            if p.outcome == "return" and (p.value is True or p.value is False or isinstance(p.value, SymBool)):
                truth = p.value.expr if isinstance(p.value, SymBool) else z3.BoolVal(p.value)
                true_on.append(z3.And(p.formula, truth))
            else:
                crash_on.append(p.formula)
        return _disj(true_on), _disj(crash_on)

    crashes: list[z3.BoolRef] = [ie.crash for ie in enc.instances if not z3.is_false(ie.crash)]
    invariants, witnesses, endings = [], [], []
    end_crash: list[z3.BoolRef] = []
    step_holds: dict[tuple[int, int], list[tuple[int, z3.BoolRef]]] = {}
    step_crash: dict[tuple[int, int], list[z3.BoolRef]] = {}
    for i, prop in enumerate(properties):
        if prop.kind in LIVENESS:
            continue  # judged on the whole graph (explicit/liveness.py), from the witnesses liveness.marks adds
        if prop.kind in (PropertyKind.ALWAYS, PropertyKind.SOMETIMES, PropertyKind.AT_END):
            target = {PropertyKind.ALWAYS: invariants, PropertyKind.SOMETIMES: witnesses,
                      PropertyKind.AT_END: endings}[prop.kind]
            try:
                holds, crash = judge(lambda ctx, prop=prop: prop.func(spec, enc.symbolic_state(ctx, enc.x)), [])
                text = py(holds)
            except Exception:
                target.append((i, f"_holds({i}, x)"))
                continue
            (end_crash if prop.kind == PropertyKind.AT_END else crashes).append(crash)
            target.append((i, text))
            continue
        for ie in enc.instances:
            for j, sp in enumerate(ie.paths):
                holds, crash = judge(lambda ctx, ie=ie, sp=sp, prop=prop: prop.func(
                    spec, enc.symbolic_state(ctx, enc.x), ie.inst.step, enc.symbolic_state(ctx, sp.next)),
                    [sp.condition])
                if _valid(enc, sp.condition, holds):
                    holds = z3.BoolVal(True)
                step_holds.setdefault((ie.index, j), []).append((i, holds))
                step_crash.setdefault((ie.index, j), []).append(crash)

    paths: list[PathCode | PlainCall] = []
    names = [a.name for a in compiled.active_assumptions]
    kept: Kept = {}
    for ie in enc.instances:
        name = ie.inst.name
        if name in plain:
            if not paths or not isinstance(paths[-1], PlainCall) or paths[-1].name != name:
                paths.append(PlainCall(ie.index, compiled.actions.index(name), name, plain[name]))
            continue
        for j, sp in enumerate(ie.paths):
            conjuncts = _conjuncts(sp.condition) + [c for a in names for c in _conjuncts(sp.assumes[a])]
            guard = sorted(dict.fromkeys(py(c) for c in conjuncts if not z3.is_true(c)), key=len)
            fault = _disj([sp.fault, *step_crash.get((ie.index, j), [])])
            facts = _facts(conjuncts)
            after = [_leaf_text(enc, sp.condition, k, e, py, kept, facts) for k, e in enumerate(sp.next)]
            sb = [(i, py(h)) for i, h in step_holds.get((ie.index, j), []) if not z3.is_true(h)]
            paths.append(PathCode(ie.index, guard, None if z3.is_false(fault) else py(fault), after, sb))
    crash = _disj(crashes)
    ends_crash = _disj(end_crash)
    return Program(compiled.spec.describe(), len(enc.x), [lf.name for lf in enc.leaves],
                   None if z3.is_false(crash) else py(crash), invariants, witnesses, endings, paths,
                   None if z3.is_false(ends_crash) else py(ends_crash))


Kept = dict[tuple[int, int], tuple[z3.ExprRef, bool | None]]
"""(term id, leaf) → (the term, kept on every path by the field types alone, or ``None`` when the term
does not read the leaf); the term is held so that z3 cannot reuse its id."""

Facts = Sequence[tuple[z3.ExprRef, z3.ExprRef]]
"""(term, value) pairs that hold wherever a path fires (its guard's conjuncts true, a negated one's term false)."""


def _leaf_text(enc: Any, condition: z3.BoolRef, k: int, e: z3.ExprRef, py: Callable[[z3.ExprRef], str],
               kept: Kept, facts: Facts = ()) -> str:
    """Leaf ``k`` of a next state: ``v<k>`` when the step keeps it (checked by z3 under the
    path condition and the field types), else the translated term.

    The same term recurs on many paths (a sequence's padding rule ``If(len <= i, 0, slot)``,
    kept because the field types pad with 0), so whether it reads the leaf, and whether the
    field types alone keep it (then every path condition does), is decided once per term;
    only the other terms are checked under each path's condition. A leaf that changes is printed
    with the path's ``facts`` put in (its guard's conjuncts are true wherever it is stored)."""
    if e.eq(enc.x[k]):
        return f"v{k}"
    key = (e.get_id(), k)
    if key not in kept:
        kept[key] = e, (_valid(enc, z3.BoolVal(True), e == enc.x[k]) if _mentions(e, enc.x[k]) else None)
    always = kept[key][1]
    if always or (always is not None and _valid(enc, condition, e == enc.x[k])):
        return f"v{k}"
    put = _under(e, facts)
    try:
        return stored(put, py(put))
    except Untranslatable:  # simplify chose an operator the translator does not know
        return stored(e, py(e))


def _facts(conjuncts: list[z3.BoolRef]) -> Facts:
    """What a path's guard asserts about its conjuncts."""
    out: list[tuple[z3.ExprRef, z3.ExprRef]] = []
    for c in conjuncts:
        if z3.is_true(c) or z3.is_false(c):
            continue
        out.append((c, z3.BoolVal(True)))
        if z3.is_not(c):
            out.append((c.arg(0), z3.BoolVal(False)))
    return out


def _under(e: z3.ExprRef, facts: Facts) -> z3.ExprRef:
    """``e`` where ``facts`` hold: those subterms replaced by their values, then simplified (the
    same value wherever the facts hold, and usually a shorter text)."""
    if not facts:
        return e
    put = z3.substitute(e, *facts)
    return e if put.eq(e) else z3.simplify(put)


def _mentions(e: z3.ExprRef, var: z3.ExprRef) -> bool:
    """Whether ``var`` occurs in ``e`` (a leaf a step keeps is read by its own next-state term)."""
    seen: set[int] = set()
    stack = [e]
    while stack:
        t = stack.pop()
        if t.eq(var):
            return True
        if t.get_id() not in seen:
            seen.add(t.get_id())
            stack.extend(t.children())
    return False


def _valid(enc: Any, condition: z3.BoolRef, claim: z3.BoolRef) -> bool:
    """``claim`` holds wherever ``condition`` does, within the field types (unknown counts as no)."""
    claim = z3.simplify(claim)
    if z3.is_true(claim):
        return True
    return enc.solver.check(condition, z3.Not(claim)) == z3.unsat


def _conjuncts(e: z3.BoolRef) -> list[z3.BoolRef]:
    return list(e.children()) if z3.is_and(e) else [e]


def _disj(parts: list[z3.BoolRef]) -> z3.BoolRef:
    live = [p for p in parts if not z3.is_false(p)]
    return z3.simplify(z3.Or(*live)) if live else z3.BoolVal(False)


def _one_line(err: BaseException) -> str:
    text = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
