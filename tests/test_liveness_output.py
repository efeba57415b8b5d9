"""A lasso counterexample in every output: text timeline, JSON, ITF and the sequence-diagram SVG.

The SVG test reads only the picture's text (as a screen reader would) and finds there what
the lasso says: where the loop starts, that it repeats forever, which step returns where.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from liveness_specs import StrandsWithProgress, WithProgress

from modelcheck.check import check, configure
from modelcheck.results.svg import sequence_svg
from modelcheck.results.traces import itf, trace_json
from modelcheck.trace import format_trace, replay, trace_from_json

STICKY = {"workload": "W0 F", "flush_failures": 1, "flush_error": "sticky"}  # a 14-step lasso back to step 8


@pytest.fixture(scope="module")
def lasso() -> Any:
    run = check(configure(WithProgress, STICKY), ["progress"])
    assert run.results[0].trace.loop_start == 8
    return run


def words(svg: str) -> list[str]:
    """The picture's text, element by element, in document order."""
    root = ET.fromstring(svg)
    return [el.text for el in root.iter("{http://www.w3.org/2000/svg}text") if el.text]


def test_the_svg_alone_says_where_the_execution_repeats_forever(lasso: Any):
    trace = lasso.results[0].trace
    svg = sequence_svg(lasso.compiled, trace, case="sticky", params=dict(STICKY), verdict="VIOLATED")
    said = words(svg)
    assert "↻ from here the execution" in said and "repeats forever" in said
    assert "(steps 9 to 14, again and again)" in said
    assert "step 14 is back in" in said and "the state after step 8" in said
    assert ("✗ progress fails: from step 9 the execution repeats forever (step 14 returns to the state after "
            "step 8), and never reaches what it claims") in said
    assert [str(n) for n in range(15)] == [w for w in said if w.isdigit()]  # one numbered row per state
    # the bracket's first label sits on the row of the state after step 8, its last on row 14
    root = ET.fromstring(svg)
    y = {el.text: float(el.get("y")) for el in root.iter("{http://www.w3.org/2000/svg}text") if el.text}
    assert y["8"] < y["↻ from here the execution"] < y["9"] and y["14"] < y["step 14 is back in"]


def test_a_dead_end_reads_as_an_execution_that_ends_short_of_the_goal():
    run = check(configure(StrandsWithProgress, {"workload": "W0 F", "qdepth": 1, "migrations": 0}), ["progress"])
    trace = run.results[0].trace
    said = words(sequence_svg(run.compiled, trace, case="strands", params={}, verdict="VIOLATED"))
    assert any(line.startswith(f"✗ progress fails: the execution ends after step {len(trace)}") for line in said)
    assert "repeats forever" not in said


def test_itf_carries_the_loop_index_and_says_it(lasso: Any):
    trace = lasso.results[0].trace
    doc = itf(lasso.compiled, trace, case="sticky", source="specs/virtio_blk.py")
    assert doc["loop"] == 8 and len(doc["states"]) == 15
    same = [{k: v for k, v in doc["states"][i].items() if not k.startswith(("#", "mbt::"))} for i in (8, 14)]
    assert same[0] == same[1]  # the last state equals the loop's first (ADR-015: the loop ends in the last state)
    assert "equals state 8" in doc["#meta"]["description"]


def test_json_keeps_the_loop_start_and_replays(lasso: Any):
    trace = lasso.results[0].trace
    data = json.loads(trace_json(lasso.compiled, trace, case="sticky"))
    assert data["loop_start"] == 8
    back = trace_from_json(lasso.compiled, data)
    assert back == trace
    replay(lasso.compiled, back, lasso.compiled.properties["progress"])
    assert "from step 9 the execution repeats forever (step 14 returns to the state after step 8)" in \
        format_trace(lasso.compiled, back)


def test_the_timeline_says_where_a_liveness_dead_end_ends():
    run = check(configure(StrandsWithProgress, {"workload": "W0 F", "qdepth": 1, "migrations": 0}), ["progress"])
    text = format_trace(run.compiled, run.results[0].trace)
    last = text.splitlines()[-1].strip()
    assert last == "the execution ends here (no step is allowed), short of what progress claims"
