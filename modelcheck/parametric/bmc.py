"""Bounded model checking of a parametric description, and the replay of what it finds in the spec.

z3 searches programs of 1, 2, ... requests (named constants; quantifiers read as conjunctions
over them) with qdepth and the budgets free within the spec's allowed values, for a run of at
most ``depth`` steps that ends where the property is false. A run it finds is a finite instance:
its program and parameters become a configuration of the spec (``Parametric.settings``) and
its steps are matched one by one to steps of the spec with the same label and the same
abstract state after them, then replayed through the spec and the property judged again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import z3

from ..errors import EngineBug
from ..spec import Compiled, Spec, compile_spec
from ..symbolic.encode import Limits, new_solver
from ..trace import Trace, allowed_steps, replay
from .logic import SIZE, Structure, Vocabulary, Z3Logic, Z3View, finite_after, freeze, from_model
from .model import Parametric


@dataclass
class Refutation:
    """What BMC found: ``status`` is ``found`` (with the configuration and the replayed trace),
    ``none`` (no run within the bounds) or ``unknown`` (z3 gave up: ``reason``)."""

    status: str
    settings: dict[str, str] | None = None
    trace: Trace | None = None
    compiled: Compiled | None = None
    reason: str = ""
    size: int = 0


def _param_ranges(desc: Parametric, L: Z3Logic, v: Z3View) -> list[Any]:
    """Parameters the description leaves free, kept to the values the spec allows."""
    out = []
    params = type(desc.spec).parameters()
    for sym in desc.symbols():
        p = params.get(sym.name)
        if sym.static and sym.kind == "int" and p is not None and isinstance(p.allowed, range):
            t = getattr(v, sym.name)
            out += [t >= p.allowed.start, t <= p.allowed.stop - 1]
    return out


def find_violation(desc: Parametric, prop: str, active: tuple[str, ...], depth: int, max_size: int,
                   limits: Limits, make_spec: Callable[[dict[str, str]], Spec]) -> Refutation:
    """The smallest program (then the shortest run) violating ``prop``, replayed in the spec."""
    voc = Vocabulary(desc.symbols())
    judge = desc.properties()[prop]
    for size in range(1, max_size + 1):
        universe = [z3.Const(f"r{i}", voc.req) for i in range(size)]
        L = Z3Logic(voc, universe)
        solver = new_solver(limits)
        copies = [voc.copy("0")]
        v0 = Z3View(copies[0])
        solver.add(z3.Distinct(universe) if size > 1 else z3.BoolVal(True))
        solver.add(L.bool(desc.background(L, v0)), L.bool(desc.parameters(L, v0)), *_param_ranges(desc, L, v0))
        solver.add(_equal(desc, L, copies[0], desc.initial(L, v0), universe))
        chosen: list[tuple[z3.ExprRef, dict[str, z3.ExprRef]]] = []
        for k in range(depth + 1):
            vk = Z3View(copies[k])
            solver.push()
            solver.add(L.not_(judge(L, vk)))
            answer = solver.check()
            if answer == z3.sat:
                return _replay(desc, prop, voc, solver.model(), copies, chosen, universe, make_spec, size)
            solver.pop()
            if answer == z3.unknown:
                return Refutation("unknown", reason=limits.explain(solver.reason_unknown()), size=size)
            if k == depth:
                break
            copies.append(voc.copy(str(k + 1)))
            solver.add(_step(desc, L, voc, copies[k], copies[k + 1], universe, active, k, chosen))
    return Refutation("none")


def _equal(desc: Parametric, L: Z3Logic, terms: dict, new: dict, universe: list) -> z3.BoolRef:
    """``terms``'s changing symbols equal to ``new`` (values or functions) on every request."""
    out = []
    for sym in desc.symbols():
        if sym.static:
            continue
        t, value = terms[sym.name], new.get(sym.name)
        if sym.arity == 0:
            out.append(t == L.term(value))
        elif sym.arity == 1:
            out += [t(x) == L.term(value(x)) for x in universe]
        else:
            out += [t(x, y) == L.term(value(x, y)) for x in universe for y in universe]
    return z3.And(out)


def _step(desc: Parametric, L: Z3Logic, voc: Vocabulary, before: dict, after: dict, universe: list,
          active: tuple[str, ...], k: int, chosen: list) -> z3.BoolRef:
    """One step from copy ``k`` to copy ``k + 1``: one instance of one step, with its arguments."""
    pick = z3.Int(f"step@{k}")
    v = Z3View(before)
    assumptions = desc.assumptions()
    options = []
    args: dict[str, z3.ExprRef] = {}
    for i, inst in enumerate(desc.instances()):
        reqs = [args.setdefault(n, z3.Const(f"{n}@{k}", voc.req)) for n in inst.requests]
        upd = desc.apply(inst, L, v, tuple(reqs))
        changes = {name: upd.changes.get(name, before[name])
                   for name in desc.symbol_table() if not desc.symbol_table()[name].static}
        action, labelled = inst.label(reqs)
        named = dict(zip(inst.order, labelled))
        options.append(z3.And(pick == i, L.bool(upd.guard),
                              *[L.bool(assumptions[a](L, v, action, named)) for a in active],
                              _equal(desc, L, after, changes, universe)))
    domain = [z3.Or([a == x for x in universe]) for a in args.values()]
    chosen.append((pick, args))
    return z3.And(*domain, z3.Or(options))


def _replay(desc: Parametric, prop: str, voc: Vocabulary, model: z3.ModelRef, copies: list, chosen: list,
            universe: list, make_spec: Callable[[dict[str, str]], Spec], size: int) -> Refutation:
    """The run z3 found as a configuration of the spec and a trace replayed through it."""
    states = [from_model(voc, model, c, universe) for c in copies]
    # the program in program order: renumber the requests so that request i is the i-th
    order = sorted(range(size), key=lambda i: sum(states[0]["before"][j][i] for j in range(size)))
    states = [_renumber(desc, s, order) for s in states]
    position = {universe[old]: new for new, old in enumerate(order)}
    instances = desc.instances()
    labels = []
    for pick, args in chosen:
        inst = instances[model.eval(pick, model_completion=True).as_long()]
        reqs = [position[_element(model, args[n], universe)] for n in inst.requests]
        labels.append(inst.label(reqs))
    settings = desc.settings(states[0])
    spec = make_spec(settings)
    compiled = compile_spec(spec)
    desc2 = type(desc)(spec)
    s0 = next((s for s in compiled.initial if freeze(desc2.abstract(s)) == freeze(states[0])), None)
    if s0 is None:
        raise EngineBug(f"the parametric counterexample's initial state is no initial state of {spec.describe()}")
    steps = []
    s = s0
    for n, (lab, want) in enumerate(zip(labels, states[1:]), 1):
        match = next(((st, nxt) for st, nxt in allowed_steps(compiled, s)
                      if desc2.label(st) == lab and freeze(desc2.abstract(nxt)) == freeze(want)), None)
        if match is None:
            raise EngineBug(f"step {n} of the parametric counterexample ({lab}) is no step of {spec.describe()}")
        steps.append(match)
        s = match[1]
    trace = Trace(s0, tuple(steps), prop=prop)
    replay(compiled, trace, compiled.properties[prop])
    return Refutation("found", settings=settings, trace=trace, compiled=compiled, size=size)


def _element(model: z3.ModelRef, term: z3.ExprRef, universe: list) -> z3.ExprRef:
    value = model.eval(term, model_completion=True)
    return next(x for x in universe if z3.is_true(model.eval(x == value, model_completion=True)))


def _renumber(desc: Parametric, s: Structure, order: list[int]) -> Structure:
    out: Structure = {SIZE: s[SIZE]}
    for sym in desc.symbols():
        value = s[sym.name]
        if sym.arity == 1:
            value = tuple(value[i] for i in order)
        elif sym.arity == 2:
            value = tuple(tuple(value[i][j] for j in order) for i in order)
        out[sym.name] = value
    return out


__all__ = ["Refutation", "find_violation", "finite_after"]
