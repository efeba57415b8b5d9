"""Traces: a path of steps through a spec, printed as a timeline, saved as JSON, replayed."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import EngineBug, ResultsError
from .spec import LIVENESS, Compiled, Disabled, Property, Step
from .state import State
from .types import FieldType, Tuple

TRACE_FORMAT = "modelcheck-trace/1"


@dataclass(frozen=True)
class Trace:
    """An initial state and the steps taken from it.

    ``loop_start`` marks a lasso: the last state equals state ``loop_start`` and the
    execution can go round forever. ``prop`` names the property it explains and
    ``kind`` says how (``counterexample`` or ``witness``).
    """

    initial: State
    steps: tuple[tuple[Step, State], ...]
    prop: str = ""
    kind: str = "counterexample"
    loop_start: int | None = None

    def __len__(self) -> int:
        return len(self.steps)

    def states(self) -> Iterator[State]:
        yield self.initial
        for _, s in self.steps:
            yield s

    @property
    def actions(self) -> list[str]:
        return [step.action for step, _ in self.steps]


# --------------------------------------------------------------------------- text


def field_changes(types: Mapping[str, FieldType], before: State, after: State) -> list[str]:
    """The fields that differ, as ``name: old → new`` (per position for tuples)."""
    out = []
    for name, old, new in zip(before.fields, before, after):
        if old == new:
            continue
        ftype = types[name]
        if isinstance(ftype, Tuple):
            for i, (a, b) in enumerate(zip(old, new)):
                if a != b:
                    out.append(f"{name}[{ftype.key(i)}]: {ftype.elem.show(a)} → {ftype.elem.show(b)}")
        else:
            out.append(f"{name}: {ftype.show(old)} → {ftype.show(new)}")
    return out


def format_state(types: Mapping[str, FieldType], s: State) -> list[str]:
    return [f"{name}={types[name].show(v)}" for name, v in zip(s.fields, s)]


def format_trace(compiled: Compiled, trace: Trace) -> str:
    """A numbered timeline: each step with its arguments and only the fields it changed."""
    types = compiled.state_class.types
    width = len(str(len(trace)))
    label_width = max([len(compiled.show_step(st)) for st, _ in trace.steps] + [7])
    pad = " " * (width + 2 + label_width + 2)
    initial = _wrap(format_state(types, trace.initial), 100 - len(pad))
    lines = [f"{'0'.rjust(width)}  {'initial'.ljust(label_width)}  " + initial[0]]
    lines.extend(pad + line for line in initial[1:])
    prev = trace.initial
    for n, (step, s) in enumerate(trace.steps, 1):
        changes = field_changes(types, prev, s) or ["(no field changes)"]
        head = f"{str(n).rjust(width)}  {compiled.show_step(step).ljust(label_width)}  "
        lines.append(head + changes[0])
        lines.extend(pad + c for c in changes[1:])
        prev = s
    if trace.loop_start is not None:
        back = "the initial state" if trace.loop_start == 0 else f"the state after step {trace.loop_start}"
        lines.append(f"{' ' * width}  from step {trace.loop_start + 1} the execution repeats forever "
                     f"(step {len(trace)} returns to {back})")
    elif trace.prop in compiled.properties and compiled.properties[trace.prop].kind in LIVENESS:
        lines.append(f"{' ' * width}  the execution ends here (no step is allowed), short of what {trace.prop} claims")
    return "\n".join(lines)


def _wrap(items: list[str], width: int) -> list[str]:
    """Join items with spaces into lines of about ``width`` characters."""
    lines = [""]
    for item in items:
        if lines[-1] and len(lines[-1]) + 1 + len(item) > width:
            lines.append("")
        lines[-1] = f"{lines[-1]} {item}" if lines[-1] else item
    return lines


# --------------------------------------------------------------------------- JSON


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _frozen(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


def trace_to_json(compiled: Compiled, trace: Trace) -> dict[str, Any]:
    """A machine-readable trace that :func:`trace_from_json` reads back."""
    spec = compiled.spec
    return {
        "format": TRACE_FORMAT,
        "spec": type(spec).__name__,
        "params": dict(spec.params),
        "property": trace.prop,
        "kind": trace.kind,
        "loop_start": trace.loop_start,
        "initial": {k: _plain(v) for k, v in trace.initial.as_dict().items()},
        "steps": [
            {
                "action": step.action,
                "args": {k: _plain(v) for k, v in step.args},
                "label": compiled.show_step(step),
                "state": {k: _plain(v) for k, v in s.as_dict().items()},
            }
            for step, s in trace.steps
        ],
    }


def trace_from_json(compiled: Compiled, data: Mapping[str, Any]) -> Trace:
    """Read a trace written by :func:`trace_to_json` (ResultsError when it is not one)."""
    if not isinstance(data, Mapping) or data.get("format") != TRACE_FORMAT:
        raise ResultsError(f"not a modelcheck trace (expected format {TRACE_FORMAT!r})")
    cls = compiled.state_class
    try:
        def make(d: Mapping[str, Any]) -> State:
            return tuple.__new__(cls, [_frozen(d[f]) for f in cls.fields])

        steps = tuple(
            (Step(st["action"], tuple((k, _frozen(v)) for k, v in st["args"].items())), make(st["state"]))
            for st in data["steps"]
        )
        return Trace(make(data["initial"]), steps, data.get("property", ""),
                     data.get("kind", "counterexample"), data.get("loop_start"))
    except (KeyError, TypeError, AttributeError) as err:
        raise ResultsError(f"malformed trace: missing or wrong {err}") from None


def dumps(obj: Any) -> str:
    """Deterministic JSON text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- replay


def replay(compiled: Compiled, trace: Trace, prop: Property | None = None) -> None:
    """Re-run a trace through the spec; EngineBug at the first step that does not match.

    Every step must be an enabled action instance whose next state is the recorded one
    and which every active assumption allows. With ``prop``, the property is judged again
    on the replayed states (:func:`rejudge`): a trace is only "replayed" when it shows what
    it claims.
    """
    spec = compiled.spec
    if trace.initial not in compiled.initial:
        raise EngineBug("trace does not start in an initial state of the spec")
    prev = trace.initial
    for n, (step, recorded) in enumerate(trace.steps, 1):
        inst = compiled.instance_for(step)
        if inst is None:
            raise EngineBug(f"step {n}: {step.action} {dict(step.args)} is not an action of the spec")
        try:
            nxt = inst.func(spec, prev, *inst.args)
        except Disabled:
            raise EngineBug(f"step {n}: {compiled.show_step(step)} is not enabled") from None
        if nxt != recorded:
            raise EngineBug(f"step {n}: {compiled.show_step(step)} leads elsewhere than recorded")
        for a in compiled.active_assumptions:
            if not a.func(spec, prev, step, nxt):
                raise EngineBug(f"step {n}: assumption {a.name} forbids {compiled.show_step(step)}")
        prev = nxt
    if trace.loop_start is not None:
        loop_state = list(trace.states())[trace.loop_start]
        if loop_state != prev:
            raise EngineBug("lasso trace does not return to its loop start")
    if prop is not None:
        rejudge(compiled, trace, prop)


def rejudge(compiled: Compiled, trace: Trace, prop: Property) -> None:
    """EngineBug unless the trace's own states show its claim about ``prop``.

    A counterexample to an ``always`` property ends in a state where it is false; to a step
    property, with a step on which it is false; to an ``at_end`` property, in a lasso (an
    execution that never ends) or in a state with no allowed step where it is false. A
    witness of a ``sometimes`` property ends in a state where it is true. The judging is the
    plain Python run of the property over concrete states, whatever engine found the trace.
    """
    spec = compiled.spec
    states = list(trace.states())
    last = states[-1]
    if prop.kind == "sometimes":
        if not prop.func(spec, last):
            raise EngineBug(f"the witness of {prop.name} ends in a state where it is false")
        return
    if prop.kind == "always":
        if prop.func(spec, last):
            raise EngineBug(f"the counterexample to {prop.name} ends in a state where it holds")
        return
    if prop.kind == "step":
        if not trace.steps or prop.func(spec, states[-2], trace.steps[-1][0], last):
            raise EngineBug(f"the counterexample to {prop.name} ends with a step on which it holds")
        return
    if prop.kind == "at_end":
        if trace.loop_start is not None:
            return  # an execution that never ends fails an at_end property; replay checked the loop
        if prop.func(spec, last):
            raise EngineBug(f"the counterexample to {prop.name} ends in a state where it holds")
        if any(True for _ in allowed_steps(compiled, last)):
            raise EngineBug(f"the counterexample to {prop.name} ends in a state that still has a step")
        return
    if prop.kind in ("eventually", "leads_to"):
        _rejudge_liveness(compiled, trace, prop, states)
        return
    raise EngineBug(f"property {prop.name}: unknown kind {prop.kind}")


def _rejudge_liveness(compiled: Compiled, trace: Trace, prop: Property, states: list[Any]) -> None:
    """A liveness counterexample: from a state where the claim starts (the initial state for
    ``eventually``), no state reaches the goal, and the trace either ends with no allowed step
    or loops fairly: each fairness condition is taken in the loop, or else (weak) disabled in
    one of its states or (strong) disabled in all of them."""
    spec = compiled.spec
    if prop.kind == "eventually":
        starts, goal = [0], [prop.func(spec, s) for s in states]
    else:
        pairs = [prop.func(spec, s) for s in states]
        goal = [q for _, q in pairs]
        starts = [i for i, (p, q) in enumerate(pairs) if p and not q]
    loop_start = len(states) if trace.loop_start is None else trace.loop_start
    if not any(not any(goal[min(j, loop_start):]) for j in starts):  # a loop's states all recur
        raise EngineBug(f"the counterexample to {prop.name} reaches its goal")
    if trace.loop_start is None:
        if any(True for _ in allowed_steps(compiled, states[-1])):
            raise EngineBug(f"the counterexample to {prop.name} ends in a state that still has a step")
        return
    loop = states[trace.loop_start:]
    taken = {step.action for step, _ in trace.steps[trace.loop_start:]}
    allowed = [{step.action for step, _ in allowed_steps(compiled, s)} for s in loop]
    for name, cond in compiled.fairness.items():
        if taken.intersection(cond.actions):
            continue
        enabled = [bool(actions.intersection(cond.actions)) for actions in allowed]
        if all(enabled) or (cond.kind == "strong" and any(enabled)):
            raise EngineBug(f"the loop of the counterexample to {prop.name} is unfair to {name} ({cond.kind})")


def allowed_steps(compiled: Compiled, s: State) -> Iterator[tuple[Step, State]]:
    """The steps enabled in ``s`` that every active assumption allows, with their next states."""
    spec = compiled.spec
    for inst in compiled.instances:
        try:
            nxt = inst.func(spec, s, *inst.args)
        except Disabled:
            continue
        if all(a.func(spec, s, inst.step, nxt) for a in compiled.active_assumptions):
            yield inst.step, nxt

