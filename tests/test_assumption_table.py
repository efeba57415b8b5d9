"""Issue 13: the minimal-assumption table (REPORT.md), with each half of drain per property.

A z3 record carries, per active assumption, what the prover said with it dropped; the report
shows it as needed (with the refuting counterexample's length), not needed, or undecided.
"""

from __future__ import annotations

from typing import Any

from test_results_support import VIRTIO

from modelcheck.check import configure
from modelcheck.matrix import Case, prove_records
from modelcheck.results import gate, report, store
from modelcheck.results.blocks import to_markdown


def test_prove_records_carry_what_each_dropped_half_of_drain_gave() -> None:
    settings = (("workload", "W0 F"), ("qdepth", 2), ("guest", "drain"))
    case = Case("c", "g", str(VIRTIO), settings, prove=("barrier", "flush_contract"))
    records = {r["property"]: r for r in prove_records(case, configure(str(VIRTIO), dict(settings)))}
    barrier = records["barrier"]["without"]
    assert barrier["flush_waits"]["verdict"] == "VIOLATED" and barrier["writes_wait"]["verdict"] == "PROVED"
    steps = barrier["flush_waits"]["counterexample"]
    assert steps and steps[-1].startswith("observe F")  # the barrier broken when the guest sees the flush
    assert barrier["writes_wait"]["counterexample"] is None
    assert records["barrier"]["assumptions"] == ["flush_waits"]
    contract = records["flush_contract"]["without"]
    assert {n: d["verdict"] for n, d in contract.items()} == {"flush_waits": "PROVED", "writes_wait": "PROVED"}
    assert store.result_record("c", records["barrier"])["without"] == barrier


def _record(prop: str, without: dict[str, Any] | None, verdict: str = "PROVED") -> dict[str, Any]:
    return {"case": "c", "property": prop, "kind": "always", "engine": "certificate", "verdict": verdict,
            "states": 1, "counterexample": None, "trace": None, "assumptions": [], "without": without}


def _table(records: list[dict[str, Any]]) -> list[str]:
    text = to_markdown(report._minimal_assumptions(records, {i: f"proof-{i}" for i in range(len(records))}))
    return [line for line in text.splitlines() if line.startswith("| [")]


def test_the_table_shows_needed_not_needed_and_undecided_drops() -> None:
    refuted = {"verdict": "VIOLATED", "counterexample": ["a"] * 9}
    proved = {"verdict": "PROVED", "counterexample": None}
    unknown = {"verdict": "UNKNOWN", "counterexample": None}
    rows = _table([
        _record("barrier", {"flush_waits": refuted, "writes_wait": proved}),
        _record("barrier_order", {"flush_waits": refuted, "writes_wait": refuted}),
        _record("flush_contract", {"flush_waits": proved, "writes_wait": unknown}),
        _record("conservation", {"flush_waits": proved, "writes_wait": proved}),
        _record("solo", {"waits": refuted}),
        _record("nothing", None),  # no assumption in force: no row
        _record("lost", {"flush_waits": refuted}, verdict="VIOLATED"),  # not a proof: no row
    ])
    assert len(rows) == 5
    cells = [[c.strip() for c in row.split("|")[2:-1]] for row in rows]
    assert cells[0] == ["`barrier`", "needed: ✗ in 9 steps without it", "not needed: ★ without it", "·",
                        "`flush_waits` only"]
    assert cells[1][-1] == "both"
    assert cells[2][2] == "undecided: ? UNKNOWN without it" and cells[2][-1] == "neither; undecided: `writes_wait`"
    assert cells[3][-1] == "neither"
    assert cells[4][1:] == ["·", "·", "needed: ✗ in 9 steps without it", "`waits`"]


def test_no_table_without_a_proof_resting_on_assumptions() -> None:
    assert _table([_record("p", None)]) == []


def test_the_gate_names_a_changed_drop_but_not_a_file_written_before_the_field() -> None:
    before = _record("barrier", {"flush_waits": {"verdict": "VIOLATED", "counterexample": ["a"] * 9}})
    after = _record("barrier", {"flush_waits": {"verdict": "UNKNOWN", "counterexample": None}})
    doc = {"format": store.FORMAT, "version": store.VERSION, "cases": {"c": {"quick": True}}}
    diffs = gate.compare({**doc, "records": [before]}, {**doc, "records": [after]})
    assert [d.what for d in diffs] == ["changed drops"]
    assert diffs[0].before == "flush_waits: VIOLATED (9 steps)"
    old = {k: v for k, v in before.items() if k != "without"}
    assert gate.compare({**doc, "records": [old]}, {**doc, "records": [after]}) == []
