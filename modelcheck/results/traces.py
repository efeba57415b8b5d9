"""Counterexample files: a readable timeline (.txt), our JSON trace (.json) and ITF (.itf.json).

ITF is the Informal Trace Format of Apalache and Quint (Apalache ADR-015): a top-level
``#meta``, the list of ``vars``, and ``states``, each with ``"#meta": {"index": i}``;
integers are ``{"#bigint": "n"}``, fixed-size tuples ``{"#tup": [...]}`` and sequences
plain lists. Each state also carries Quint's ``mbt::actionTaken`` and
``mbt::nondetPicks`` so model-based-testing tools see which step led to it. A lasso has
ADR-015's top-level ``loop``: the index of the state the loop starts in (the last state
equals it), and the ``#meta`` description says so in words. Names
derive from the case and property only, so the same run writes the same files.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from ..spec import Compiled
from ..trace import Trace, format_trace, trace_to_json
from ..types import Bool, Enum, FieldType, Int, Seq, Tuple
from .jsonrows import dumps_rows

ITF_FORMAT_DESCRIPTION = "https://apalache-mc.org/docs/adr/015adr-trace.html"
ACTION_TAKEN = "mbt::actionTaken"
NONDET_PICKS = "mbt::nondetPicks"


def trace_stem(case: str, prop: str, engine: str = "explicit") -> str:
    """The file name of a counterexample without suffix: ``<case>~<property>`` (plus ``~<engine>`` for z3)."""
    stem = f"{case}~{prop}"
    if engine != "explicit":
        stem += f"~{engine}"
    return stem.replace("/", "_").replace(" ", "_")


def reproduce_command(spec_path: str, params: Mapping[str, Any], prop: str) -> str:
    """The shell command that re-checks this one property of this one configuration."""
    words = ["modelcheck", "check", spec_path]
    for key, value in params.items():
        words += ["-s", f"{key}={value}"]
    words += ["-p", prop]
    return shlex.join(words)


def trace_text(compiled: Compiled, trace: Trace, *, case: str, prop: str, verdict: str, command: str) -> str:
    """The .txt file: what was violated, where, how to reproduce it, and the timeline."""
    doc = compiled.properties[prop].doc if prop in compiled.properties else ""
    lines = [f"{trace.kind} to {prop} ({verdict}) in case {case}, {len(trace)} steps"]
    if doc:
        lines.append(f"{prop}: {' '.join(doc.split())}")
    lines += [f"reproduce: {command}", "", format_trace(compiled, trace), ""]
    return "\n".join(lines)


def trace_json(compiled: Compiled, trace: Trace, *, case: str) -> str:
    """The .json file: modelcheck's own trace format (``modelcheck-trace/1``), which replays."""
    data = trace_to_json(compiled, trace)
    data["case"] = case
    return dumps_rows(data, ("steps",))


def itf(compiled: Compiled, trace: Trace, *, case: str, source: str) -> dict[str, Any]:
    """The trace as an ITF document (a JSON-ready dict)."""
    types = compiled.state_class.types
    fields = list(compiled.state_class.fields)
    states = [_itf_state(types, trace.initial, 0, "init", {})]
    for i, (step, s) in enumerate(trace.steps, 1):
        picks = {name: _itf_value(value) for name, value in step.args}
        states.append(_itf_state(types, s, i, step.action, picks))
    doc: dict[str, Any] = {
        "#meta": {
            "format": "ITF",
            "format-description": ITF_FORMAT_DESCRIPTION,
            "source": source,
            "description": f"modelcheck {trace.kind} to {trace.prop} in case {case}",
            "varTypes": {name: types[name].describe() for name in fields},
        },
        "params": [],
        "vars": [*fields, ACTION_TAKEN, NONDET_PICKS],
        "states": states,
    }
    if trace.loop_start is not None:
        doc["loop"] = trace.loop_start
        doc["#meta"]["description"] += (f"; a lasso: the last state (index {len(trace)}) equals state "
                                        f"{trace.loop_start}, so from there the execution repeats forever")
    return doc


def itf_text(compiled: Compiled, trace: Trace, *, case: str, source: str) -> str:
    return dumps_rows(itf(compiled, trace, case=case, source=source), ("states",))


def _itf_state(types: Mapping[str, FieldType], s: Any, index: int, action: str,
               picks: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"#meta": {"index": index}}
    for name, value in zip(s.fields, s):
        out[name] = _itf_typed(types[name], value)
    out[ACTION_TAKEN] = action
    out[NONDET_PICKS] = picks
    return out


def _itf_typed(ftype: FieldType, value: Any) -> Any:
    """A field value in ITF, led by its declared type (a Tuple is a #tup, a Seq a list)."""
    if isinstance(ftype, Tuple):
        return {"#tup": [_itf_typed(ftype.elem, v) for v in value]}
    if isinstance(ftype, Seq):
        return [_itf_typed(ftype.elem, v) for v in value]
    if isinstance(ftype, Int):
        return {"#bigint": str(value)}
    if isinstance(ftype, Bool | Enum):
        return value
    return _itf_value(value)


def _itf_value(value: Any) -> Any:
    """A value of unknown type in ITF: bools and strings as they are, ints as #bigint, tuples as #tup."""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return {"#bigint": str(value)}
    if isinstance(value, tuple | list):
        return {"#tup": [_itf_value(v) for v in value]}
    return str(value)
