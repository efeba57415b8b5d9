"""Proofs for every value of a parameter: from some value on, the parameter stops mattering.

A spec's integer parameter (``qdepth``) often matters only up to a point: with five
requests, a queue depth of five or more never holds a request back, so every deeper queue
gives the same steps. :func:`saturation` finds that point and *checks* it: for each larger
allowed value, the configuration has the same fields, the same initial states and action
instances, and z3 finds every action instance's step formula, the faults and each chosen
property's bad states equivalent to those at the point (over every state of the field
types, not only the reachable ones), under every subset of the assumptions in force (so
that the minimal assumption set found at one value holds for every larger one too). A
proof at each value up to the point then covers every allowed value (:func:`prove_every`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import z3

from ..errors import UsageError
from ..spec import Spec, compile_spec
from ..verdict import PropertyResult, Verdict
from .encode import Encoding, Limits, enforce, new_solver


@dataclass
class Saturation:
    """From ``at`` on, every allowed value of ``param`` gives the configuration at ``at`` (checked);
    ``differs`` says why ``at - 1`` does not (empty when ``at`` is the least allowed value)."""

    param: str
    values: list[int]
    at: int
    differs: str = ""
    unknown: str = ""  # a z3 limit stopped a comparison: then ``at`` is the largest value (nothing shared)


@dataclass
class EveryOutcome:
    """One property for every allowed value: the verdict, the per-value results, the saturation."""

    name: str
    verdict: Verdict
    saturation: Saturation
    per_value: dict[int, PropertyResult] = field(default_factory=dict)

    @property
    def deciding(self) -> PropertyResult | None:
        """The result the verdict comes from: the first violation or unknown, else None."""
        for result in self.per_value.values():
            if result.verdict is not Verdict.PROVED:
                return result
        return None


def allowed_values(spec_cls: type[Spec], param: str) -> list[int]:
    """The allowed integer values of ``param``; UsageError when it has no finite integer range."""
    p = getattr(spec_cls, param, None)
    allowed = getattr(p, "allowed", None)
    if allowed is None or not all(isinstance(v, int) and not isinstance(v, bool) for v in allowed):
        raise UsageError(f"--every {param}: {spec_cls.__name__} has no integer parameter {param!r} with a finite "
                         "set of allowed values; fix: name one such as qdepth")
    return sorted(allowed)


def saturation(spec_cls: type[Spec], settings: dict[str, Any], param: str, properties: Sequence[str],
               limits: Limits) -> Saturation:
    """The least value of ``param`` from which every larger allowed value gives the same steps."""
    values = allowed_values(spec_cls, param)
    encodings = {v: Encoding(compile_spec(spec_cls(**{**settings, param: v})), limits=limits) for v in values}
    top = encodings[values[-1]]
    out = Saturation(param, values, values[-1])
    for v in reversed(values[:-1]):
        why, unknown = differences(encodings[v], top, properties, limits)
        if unknown:
            out.unknown = unknown
            break
        if why:
            out.differs = f"{param}={v}: {why}"
            break
        out.at = v
    return out


def differences(a: Encoding, b: Encoding, properties: Sequence[str], limits: Limits) -> tuple[str, str]:
    """What makes two configurations' steps differ ("" when none), and a z3 limit that stopped the check."""
    if [(x.name, x.is_bool, x.lo, x.hi) for x in a.leaves] != [(x.name, x.is_bool, x.lo, x.hi) for x in b.leaves]:
        return "the state's fields differ", ""
    if sorted(map(tuple, a.compiled.initial)) != sorted(map(tuple, b.compiled.initial)):
        return "the initial states differ", ""
    if [(i.name, i.args) for i in a.compiled.instances] != [(i.name, i.args) for i in b.compiled.instances]:
        return "the action instances differ", ""
    if a.assumption_names != b.assumption_names:
        return "the assumptions in force differ", ""
    pairs: list[tuple[str, Callable[[Encoding], z3.BoolRef]]] = []
    names = a.assumption_names
    for subset in (tuple(n for i, n in enumerate(names) if mask >> i & 1) for mask in range(2 ** len(names))):
        guards = enforce(subset)  # every subset: the proof's minimal core drops assumptions
        under = f" (assumptions: {', '.join(subset) or 'none'})"
        pairs += [(f"the steps of {ia.inst.name}{list(ia.inst.args) if ia.inst.args else ''}{under}",
                   lambda e, k=k, guards=guards: e.step_formula(e.instances[k], guards))
                  for k, ia in enumerate(a.instances)]
        pairs.append((f"the faults{under}", lambda e, guards=guards: e.fault(guards)))
        for name in properties:
            pairs.append((f"the property {name}{under}", lambda e, name=name, guards=guards: z3.Or(*e.property_bad(
                e.compiled.select([name])[0], guards))))
    for what, formula in pairs:
        solver = new_solver(limits)
        solver.add(a.domain(a.x), z3.Xor(formula(a), formula(b)))
        answer = solver.check()
        if answer == z3.unknown:
            return "", f"z3 (comparing {what}): {limits.explain(solver.reason_unknown())}"
        if answer == z3.sat:
            return what, ""
    return "", ""


def prove_every(spec_cls: type[Spec], settings: dict[str, Any], param: str, properties: Sequence[str],
                prove_one: Callable[[Spec], list[PropertyResult]], limits: Limits) -> list[EveryOutcome]:
    """Each property for every allowed value of ``param``: proved at each value up to the
    saturation point, which covers the rest. ``prove_one`` proves the properties on one spec."""
    sat = saturation(spec_cls, settings, param, properties, limits)
    outcomes: dict[str, EveryOutcome] = {}
    for v in [x for x in sat.values if x <= sat.at]:
        for r in prove_one(spec_cls(**{**settings, param: v})):
            got = outcomes.setdefault(r.name, EveryOutcome(r.name, Verdict.PROVED, sat))
            got.per_value[v] = r
    for got in outcomes.values():
        verdicts = [r.verdict for r in got.per_value.values()]
        if Verdict.VIOLATED in verdicts:
            got.verdict = Verdict.VIOLATED
        elif any(v is not Verdict.PROVED for v in verdicts):
            got.verdict = Verdict.UNKNOWN
    return list(outcomes.values())
