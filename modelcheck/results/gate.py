"""The regression gate: compare freshly computed verdicts with the committed ones, per property.

A difference is named by what it means for a user who gates CI on the results:
a *lost proof* (it held or was proved, now it does not), a *vanished counterexample*
(a known violation no longer shows), a *changed verdict* (any other change), a
*changed count* (same verdict, other states / transitions / depth / bound), a
*changed counterexample* (same verdict, other steps), and *new* / *removed* records.
Only stable fields are compared; the ``run`` key (timings) never is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree as ET

from ..verdict import verdict_word
from .store import record_key

COUNT_FIELDS = ("states", "transitions", "depth", "bound")
HOLDING = ("HOLDS", "PROVED")


@dataclass(frozen=True)
class Difference:
    """One property of one case whose committed and recomputed records differ."""

    case: str
    property: str
    engine: str
    what: str  # lost proof | vanished counterexample | changed verdict | changed count | ...
    before: str
    after: str

    def __str__(self) -> str:
        engine = "" if self.engine == "explicit" else f" [{self.engine}]"
        return f"{self.case}: {self.property}{engine}: {self.what}: {self.before} → {self.after}"


def compare(committed: Mapping[str, Any], fresh: Mapping[str, Any], *, quick: bool = False) -> list[Difference]:
    """Every difference between two verdict documents, in the fresh document's order, removed ones last.

    With ``quick`` only the committed cases marked quick are expected (the others were
    not recomputed).
    """
    old = {record_key(r): r for r in committed["records"] if _wanted(committed, r, quick)}
    new = {record_key(r): r for r in fresh["records"]}
    out: list[Difference] = []
    for key, after in new.items():
        before = old.get(key)
        if before is None:
            out.append(Difference(*key, "new", "absent", _summary(after)))
        else:
            out.extend(_differences(before, after))
    for key, before in old.items():
        if key not in new:
            out.append(Difference(*key, "removed", _summary(before), "absent"))
    return out


def _wanted(doc: Mapping[str, Any], record: Mapping[str, Any], quick: bool) -> bool:
    return not quick or bool(doc["cases"].get(record["case"], {}).get("quick"))


def _differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Difference]:
    key = record_key(after)
    b, a = before["verdict"], after["verdict"]
    if b != a:
        if b in HOLDING:
            what = "witness lost" if after["kind"] == "sometimes" else "lost proof"
        elif b == "VIOLATED" and after["kind"] != "sometimes":
            what = "vanished counterexample"
        else:
            what = "changed verdict"
        return [Difference(*key, what, _summary(before), _summary(after))]
    out = []
    for name in COUNT_FIELDS:
        if before.get(name) != after.get(name):
            out.append(Difference(*key, f"changed {name}", _show(before.get(name)), _show(after.get(name))))
    for name, what in (("counterexample", "changed counterexample"), ("witness", "changed witness")):
        if before.get(name) != after.get(name):
            out.append(Difference(*key, what, _steps(before.get(name)), _steps(after.get(name))))
    if sorted(before.get("assumptions") or []) != sorted(after.get("assumptions") or []):
        out.append(Difference(*key, "changed assumptions", _show(before.get("assumptions")),
                              _show(after.get("assumptions"))))
    if "without" in before and before.get("without") != after.get("without"):  # older files lack the field
        out.append(Difference(*key, "changed drops", _drops(before.get("without")), _drops(after.get("without"))))
    return out


def _drops(without: Mapping[str, Any] | None) -> str:
    """What dropping each assumption gave, as ``name: VERDICT (n steps)``."""
    if not without:
        return "none"
    return ", ".join(f"{n}: {d['verdict']}" + (f" ({len(d['counterexample'])} steps)" if d.get("counterexample") else "")
                     for n, d in sorted(without.items()))


def _summary(rec: Mapping[str, Any]) -> str:
    text = f"{verdict_word(rec['kind'], rec['verdict'])} ({rec['states']} states"
    if rec.get("counterexample"):
        text += f", {len(rec['counterexample'])}-step counterexample"
    return text + ")"


def _steps(actions: Iterable[str] | None) -> str:
    return "none" if actions is None else "[" + ", ".join(actions) + "]"


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def junit_xml(fresh: Mapping[str, Any], differences: list[Difference]) -> str:
    """JUnit XML: one test case per fresh record (a failure when it differs), plus one per removed record."""
    by_key: dict[tuple[str, str, str], list[Difference]] = {}
    for d in differences:
        by_key.setdefault((d.case, d.property, d.engine), []).append(d)
    suite = ET.Element("testsuite", name="modelcheck gate")
    cases = 0
    failures = 0
    keys = [record_key(r) for r in fresh["records"]]
    keys += [k for k in by_key if k not in set(keys)]
    for case, prop, engine in keys:
        cases += 1
        name = prop if engine == "explicit" else f"{prop} [{engine}]"
        test = ET.SubElement(suite, "testcase", classname=case, name=name)
        found = by_key.get((case, prop, engine))
        if found:
            failures += 1
            failure = ET.SubElement(test, "failure", message="; ".join(f"{d.what}: {d.before} → {d.after}"
                                                                       for d in found), type="gate difference")
            failure.text = "\n".join(str(d) for d in found)
    suite.set("tests", str(cases))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
