"""The report's "The real device" section: conformance coverage, profile verdicts, a counterexample replayed.

Built from what other commands produced, never by running anything here: the
``conformance.json`` that ``modelcheck conform`` wrote into the results directory (read
as a plain document) and a :class:`Replayed` that the ``run`` command filled by replaying
one counterexample on the device. Only stable facts are shown (no timings), so two runs
write the same section.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .blocks import Block, Code, Heading, Inline, Link, Para, Table

CONFORMANCE_FILE = "conformance.json"
COVERAGE_ROWS = (("action_instances", "action instances"), ("transitions", "transitions"), ("states", "states"))


@dataclass(frozen=True)
class Replayed:
    """One counterexample replayed on the device: which, its outcome as lines, or why it was not run."""

    case: str
    property: str
    trace: str = ""  # the trace's stem in results/ ("traces/<case>~<property>"); '' when the run has none
    verdict: str = ""  # reproduced / followed / diverged; '' when not run
    lines: Sequence[str] = field(default_factory=tuple)
    note: str = ""  # why it was not run


def section(conformance: Mapping[str, Any] | None, replayed: Replayed | None) -> list[Block]:
    """The section's blocks (none when there is neither a conformance report nor a trace to replay)."""
    if conformance is None and replayed is None:
        return []
    out: list[Block] = [Heading(2, "The real device", "real-device")]
    out += _conformance(conformance)
    if replayed is not None:
        out += _replay(replayed)
    return out


def _conformance(doc: Mapping[str, Any] | None) -> list[Block]:
    if doc is None:
        return [Para([f"No `{CONFORMANCE_FILE}` here: run `modelcheck conform` (it needs QEMU) to write it, "
                      "then `modelcheck run` to show its coverage and profile verdicts in this section."])]
    version = doc.get("qemu", {}).get("version", "?")
    generated = doc.get("generated") or {}
    hand = len(doc.get("scenarios", ()))
    out: list[Block] = [Para([f"`modelcheck conform` drove QEMU {version} through {hand} hand-written scenarios"
                              + (f" and {generated.get('count', 0)} scenarios generated from the spec's "
                                 "reachability graph" if generated else "")
                              + f" (`{CONFORMANCE_FILE}` holds every observation)."])]
    coverage = generated.get("coverage") or {}
    rows = []
    for key, words in COVERAGE_ROWS:
        if key in coverage:
            c = coverage[key]
            rows.append([[words], [str(c["matched"])], [str(c["total"])], [f"{100 * c['fraction']:.1f}%"]])
    if rows:
        out += [Para(["Coverage: the part of the spec's graph (its generated configuration) that real runs matched."]),
                Table(["measure", "matched", "of", "fraction"], rows, numeric=frozenset({1, 2, 3}))]
        missing = coverage.get("unmatched_instances") or []
        out.append(Para([f"Action instances no real run produced: {', '.join(f'`{m}`' for m in missing)}."
                         if missing else "Every action instance of that configuration was produced by a real run."]))
    profiles = doc.get("profiles") or {}
    if profiles:
        out.append(Table(["profile", "on the device", "refuted by"],
                         [[[f"`{name}`"], [verdict["verdict"]], _refutation(verdict.get("refuted_by"))]
                          for name, verdict in profiles.items()]))
    out += _flush_errors(doc.get("flush_errors") or {})
    return out


def _flush_errors(part: Mapping[str, Any]) -> list[Block]:
    """The scenarios with a flush error that never goes away, against the spec's ``flush_error`` settings."""
    verdicts = part.get("verdicts") or {}
    rows = []
    for scenario in part.get("scenarios", ()):
        for setting, verdict in (verdicts.get(scenario["name"]) or {}).items():
            mismatch = verdict.get("mismatch") or {}
            where = mismatch.get("channel", "")
            rows.append([[f"`{scenario['name']}`"], [f"`flush_error={setting}`"],
                         ["matches" if verdict.get("matches") else "refuted"],
                         ["—" if verdict.get("matches") else
                          "no path, even with any one channel left free" if where in ("", "all") else where]])
    if not rows:
        return []
    docs = "; ".join(f"`{s['name']}`: {s.get('doc', '')}" for s in part.get("scenarios", ()))
    return [Para([f"A flush error that never goes away ({docs}), held against the spec's `flush_error` settings "
                  "instead of the profiles:"]),
            Table(["scenario", "setting", "on the device", "where it leaves the spec"], rows)]


def _refutation(refuted: Mapping[str, Any] | None) -> list[Inline]:
    if not refuted:
        return ["—"]
    scenario = f"scenario `{refuted.get('scenario', '?')}`"
    mismatch = refuted.get("mismatch")
    if not mismatch:
        return [scenario]
    seen = " ".join(mismatch.get("observed") or ()) or "(none)"
    allowed = " ".join(mismatch.get("allowed") or ()) or "(none)"
    return [f"{scenario}: {mismatch.get('channel', '?')} observed `{seen}`, the nearest the profile allows `{allowed}`"]


def _replay(r: Replayed) -> list[Block]:
    what = f"The counterexample to `{r.property}` of `{r.case}`"
    if not r.trace:
        return [Para([f"{what}: this run has none, so nothing was replayed on the device."])]
    model: list[Inline] = [Link("the spec's trace", r.trace + ".svg", f"{r.case}: {r.property}"),
                           " (", Link("text", r.trace + ".txt"), ", ", Link("JSON", r.trace + ".json"), ")"]
    if not r.verdict:
        return [Para([f"{what} (", *model, f") was not replayed on the device: {r.note}"])]
    return [Para([f"{what} (", *model, ") replayed on QEMU step by step (`modelcheck conform --replay "
                  f"{r.trace}.json`): **{r.verdict}**."]),
            Code(list(r.lines))]
