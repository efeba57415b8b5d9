"""The refinement check: a parametric description says the same as its spec on small instances.

For one configuration of the spec, a breadth-first search of its reachable states, and in each
state ``s``: the description's initial state, steps and property values, read over the finite
instance ``abstract(s)``, must be exactly the spec's, mapped through ``abstract`` and ``label``
(both directions: every step of the spec is a step of the description and every step of the
description is one of the spec). This makes ``abstract`` a bisimulation on the reachable
states, so a proof about the description is a proof about the spec on these instances; the
configurations checked are listed with every parametric verdict.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from itertools import product
from typing import Any

from ..errors import SpecError
from ..spec import Compiled, compile_spec
from ..state import State
from ..trace import allowed_steps
from .logic import FiniteLogic, FiniteView, Structure, finite_after, freeze, size_of
from .model import Parametric


class RefinementError(SpecError):
    """The description and the spec disagree: the place, the state and the difference."""


@dataclass
class Refinement:
    """What one configuration's check covered, and the abstract states it saw (for mining)."""

    settings: dict[str, Any]
    states: int = 0
    steps: int = 0
    seen: list[Structure] = field(default_factory=list)


def finite_successors(desc: Parametric, structure: Structure, active: tuple[str, ...]) -> dict[tuple, Structure]:
    """Every step of the description from a finite state, as ``{label: state after}``."""
    symbols = desc.symbol_table()
    L = FiniteLogic(size_of(structure))
    v = FiniteView(symbols, structure)
    assumptions = desc.assumptions()
    out: dict[tuple, Structure] = {}
    for inst in desc.instances():
        for reqs in product(L.universe, repeat=len(inst.requests)):
            upd = desc.apply(inst, L, v, reqs)
            if not upd.guard:
                continue
            action, args = inst.label(reqs)
            named = dict(zip(inst.order, args))
            if not all(assumptions[a](L, v, action, named) for a in active):
                continue
            out[(action, args)] = finite_after(symbols, structure, upd.changes)
    return out


def initial_structure(desc: Parametric, structure: Structure) -> Structure:
    """The description's initial state over the program and parameters of ``structure``."""
    symbols = desc.symbol_table()
    L = FiniteLogic(size_of(structure))
    v = FiniteView(symbols, structure)
    statics = {k: val for k, val in structure.items() if k not in symbols or symbols[k].static}
    init = finite_after(symbols, {**statics, **{k: None for k in symbols if k not in statics}},
                        {k: val for k, val in desc.initial(L, v).items()})
    return init


def check_refinement(desc: Parametric, compiled: Compiled | None = None, keep: bool = True,
                     max_states: int = 200_000) -> Refinement:
    """Check ``desc`` against its spec's configuration; :class:`RefinementError` at the first difference."""
    compiled = compiled or compile_spec(desc.spec)
    spec = compiled.spec
    active = tuple(a.name for a in compiled.active_assumptions)
    missing = [a for a in active if a not in desc.assumptions()]
    if missing:
        raise RefinementError(f"the parametric description has no assumption {', '.join(missing)}",
                              fix="add it to the description's assumptions()")
    props = {name: compiled.properties[name] for name in desc.properties() if name in compiled.properties}
    dprops = desc.properties()
    symbols = desc.symbol_table()
    out = Refinement(dict(spec.params))
    where = spec.describe()

    def fail(what: str, s: State) -> RefinementError:
        return RefinementError(f"{where}: the parametric description differs from the spec: {what}, in state {s!r}",
                               fix="correct the description (or its abstract/label) so that it matches the spec")

    seen: dict[State, None] = {}
    queue: deque[State] = deque()
    for s0 in compiled.initial:
        a0 = desc.abstract(s0)
        L = FiniteLogic(size_of(a0))
        v = FiniteView(symbols, a0)
        if not (desc.background(L, v) and desc.parameters(L, v)):
            raise fail("an initial state's program or parameters break background() or parameters()", s0)
        if freeze(initial_structure(desc, a0)) != freeze(a0):
            raise fail("an initial state is not the description's initial state", s0)
        if s0 not in seen:
            seen[s0] = None
            queue.append(s0)
    while queue:
        s = queue.popleft()
        out.states += 1
        if out.states > max_states:
            raise RefinementError(f"{where}: more than {max_states} states; the refinement check wants small instances")
        a = desc.abstract(s)
        if keep:
            out.seen.append(a)
        L = FiniteLogic(size_of(a))
        v = FiniteView(symbols, a)
        for name, prop in props.items():
            if bool(prop.func(spec, s)) != bool(dprops[name](L, v)):
                raise fail(f"property {name} is {bool(prop.func(spec, s))} in the spec", s)
        concrete: dict[tuple, Structure] = {}
        for step, nxt in allowed_steps(compiled, s):
            lab = desc.label(step)
            after = desc.abstract(nxt)
            if lab in concrete and freeze(concrete[lab]) != freeze(after):
                raise fail(f"two steps of the spec map to {lab} with different outcomes", s)
            concrete[lab] = after
            out.steps += 1
            if nxt not in seen:
                seen[nxt] = None
                queue.append(nxt)
        abstract = finite_successors(desc, a, active)
        for lab in sorted(set(concrete) | set(abstract), key=repr):
            if lab not in abstract:
                raise fail(f"the spec's step {lab} is not a step of the description", s)
            if lab not in concrete:
                raise fail(f"the description's step {lab} is not a step of the spec", s)
            if freeze(abstract[lab]) != freeze(concrete[lab]):
                diff = sorted(k for k in concrete[lab] if concrete[lab][k] != abstract[lab].get(k))
                raise fail(f"step {lab} leads elsewhere (differs in {', '.join(diff)})", s)
    return out
