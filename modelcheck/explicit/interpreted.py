"""Expanding one state: its successors, and every property judged on it and its steps.

This is the per-state work of the explicit search, kept apart from the loop so that
worker processes can do it in parallel: an :class:`Expander` needs only the compiled
spec, and its answer is plain data (indices and tuples) that pickles cheaply.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import SpecError
from ..spec import Compiled, Disabled, Property, PropertyKind, Spec, check_state
from ..state import State
from .flat import fingerprint_int
from .successors import Expansion, Successor

FiringPlan = list[tuple[list[int], Callable | None, dict[Any, int]]]


class Expander:
    """Fires every action instance of a state and judges the chosen properties: the
    interpreted backend's :class:`~.successors.Successors`.

    ``canonical`` (symmetry) maps each next state to its representative; ``ample``
    (partial-order reduction) picks the successors to keep. Both default to none.
    """

    fingerprint = staticmethod(fingerprint_int)

    def __init__(self, compiled: Compiled, properties: list[Property], *, use_hints: bool = True,
                 check_hints: bool = False, validate: bool = True,
                 canonical: Callable[[State], State] | None = None,
                 ample: Callable[[State, list[Successor]], list[Successor]] | None = None):
        self.compiled = compiled
        self.spec: Spec = compiled.spec
        self.state_cls = compiled.state_class
        self.instances = compiled.instances
        self.assumptions = [a.func for a in compiled.active_assumptions]
        self.invariants = [(i, p) for i, p in enumerate(properties) if p.kind == PropertyKind.ALWAYS]
        self.step_props = [(i, p) for i, p in enumerate(properties) if p.kind == PropertyKind.STEP]
        self.witnesses = [(i, p) for i, p in enumerate(properties) if p.kind == PropertyKind.SOMETIMES]
        self.endings = [(i, p) for i, p in enumerate(properties) if p.kind == PropertyKind.AT_END]
        self.plan = firing_plan(compiled, use_hints)
        self.check_hints = check_hints and use_hints
        self.validate = validate
        self.canonical = canonical
        self.ample = ample
        self.initial = [canonical(s) for s in compiled.initial] if canonical else list(compiled.initial)

    def finish(self, ex: Any) -> None:
        """Nothing to turn back: the interpreted search stores ordinary states."""

    def expand(self, s: State, successors: bool = True, full: bool = False) -> Expansion:
        """Judge ``s`` and, unless ``successors`` is false (a depth bound), compute its successors
        (all of them when ``full``, else those the ``ample`` hook keeps)."""
        spec = self.spec
        bad = tuple(i for i, p in self.invariants if not judge(p, spec, s))
        hit = tuple(i for i, p in self.witnesses if judge(p, spec, s))
        if not successors:
            return bad, hit, (), False, []
        ks = instances_to_fire(self.plan, spec, s)
        if self.check_hints:
            verify_hints(self.compiled, s, ks)
        out = self.fire(s, ks)
        if self.canonical is not None:
            out = [(k, self.canonical(t), step_bad) for k, t, step_bad in out]
        if self.ample is not None and out and not full:
            out = self.ample(s, out)
        terminal = not out
        ends = tuple(i for i, p in self.endings if not judge(p, spec, s)) if terminal else ()
        return bad, hit, ends, terminal, out

    def fire(self, s: State, ks: list[int]) -> list[Successor]:
        """Fire instances ``ks`` in ``s``: the steps enabled and allowed by every active assumption,
        each checked against its field types and judged by the step properties."""
        spec, instances, state_cls, assumptions = self.spec, self.instances, self.state_cls, self.assumptions
        out: list[Successor] = []
        for k in ks:
            inst = instances[k]
            try:
                t = inst.func(spec, s, *inst.args)
            except Disabled:
                continue
            except Exception as err:
                raise crashed(self.compiled, inst.where, f"action {self.compiled.show_step(inst.step)}", s,
                              err) from err
            if t.__class__ is not state_cls:
                check_state(state_cls, t, inst.where, f"action {inst.name}")
            if assumptions and not all(a(spec, s, inst.step, t) for a in assumptions):
                continue
            if self.validate:
                check_changed(state_cls, s, t, inst.where, f"action {inst.name}")
            out.append((k, t, tuple(i for i, p in self.step_props if not judge(p, spec, s, inst.step, t))))
        return out


def firing_plan(compiled: Compiled, use_hints: bool) -> FiringPlan:
    """Per action: its instance indices, its hint (or None), and a map from hinted arguments to instance."""
    plan: FiringPlan = []
    for name in compiled.actions:
        ks = [k for k, inst in enumerate(compiled.instances) if inst.name == name]
        hint = compiled.hints.get(name) if use_hints else None
        lookup: dict[Any, int] = {}
        for k in ks:
            args = compiled.instances[k].args
            lookup[args[0] if len(args) == 1 else args] = k
        plan.append((ks, hint, lookup))
    return plan


def instances_to_fire(plan: FiringPlan, spec: object, s: State) -> list[int]:
    """The instance indices worth firing in ``s``, in declaration order (as without hints)."""
    out: list[int] = []
    for ks, hint, lookup in plan:
        if hint is None:
            out.extend(ks)
            continue
        out.extend(sorted({lookup[a] for a in hint(spec, s) if a in lookup}))
    return out


def verify_hints(compiled: Compiled, s: State, fired: list[int]) -> None:
    """SpecError if an instance a hint left out is enabled in ``s``."""
    chosen = set(fired)
    for k, inst in enumerate(compiled.instances):
        if k in chosen:
            continue
        try:
            inst.func(compiled.spec, s, *inst.args)
        except Disabled:
            continue
        raise SpecError(f"the hint of {inst.name} leaves out {compiled.show_step(inst.step)}, which is enabled",
                        where=inst.where, fix="make the hint return every argument the guards may allow")


def check_changed(state_cls: type[State], s: State, t: State, where: object, what: str) -> None:
    """Type-check only the fields a step changed (the others are the parent's, already checked)."""
    types = state_cls.types
    for name, old, new in zip(state_cls.fields, s, t):
        if new is not old and not types[name].contains(new):
            check_state(state_cls, t, where, what)  # raises, naming the field


def crashed(compiled: Compiled, where: object, what: str, s: State, err: Exception) -> SpecError:
    """A SpecError for spec code that raised: where, what it was running, and in which state."""
    shown = " ".join(f"{k}={compiled.state_class.types[k].show(v)}" for k, v in zip(s.fields, s))
    return SpecError(f"{what} raised {type(err).__name__}: {err} (in state {shown})", where=where,
                     fix="fix the spec code, or guard it with require() so it does not run in such a state")


def judge(p: Property, spec: object, *args: Any) -> bool:
    """``p`` on a state (``s``) or a step (``before, step, after``); SpecError if it raises or is not a bool."""
    try:
        verdict = p.func(spec, *args)
    except Exception as err:
        raise SpecError(f"property {p.name} raised {type(err).__name__}: {err}", where=p.where,
                        fix="fix the property's code") from err
    if verdict is True or verdict is False:
        return verdict
    raise SpecError(f"property returned {verdict!r}, not a bool", where=p.where, fix="return True or False")

