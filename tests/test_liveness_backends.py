"""Liveness in every backend the planner can choose: the same verdicts, steps and lassos.

The interpreted search over the full store is the reference (tests/test_liveness.py checks
it on fixtures and on virtio-blk). The compiled Python search keeps the full store for a
liveness property; the native search keeps every step as an int32 triple and judges each
claim's goal and trigger per state in C (``liveness.marks``). Both must give the reference's
ids, steps in the same order, verdicts and traces, lassos included, so the shortest stem
stays the shortest.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import NODRAIN, SMALL, no_c_compiler
from liveness_specs import StrandsWithProgress, WithProgress
from test_liveness import DeadEnd, FairGrants, FairSpinner, Grants, Spinner

from modelcheck.check import check, configure
from modelcheck.explicit import SearchOptions
from modelcheck.explicit import plan as planner
from modelcheck.spec import compile_spec
from modelcheck.trace import replay
from modelcheck.verdict import Verdict

needs_cc = pytest.mark.skipif(no_c_compiler(), reason="no C compiler (.ci/run installs gcc)")

FIXTURES = [Spinner, FairSpinner, Grants, FairGrants, DeadEnd]
VIRTIO = [  # (settings, verdict): holding and refuted, a lasso and a dead end, one past the tier
    ({"workload": "W0 F", "flush_failures": 1}, Verdict.HOLDS),
    ({"workload": "W0 F", "flush_failures": 1, "flush_error": "sticky"}, Verdict.VIOLATED),
    (dict(SMALL, flush_error="sticky", flush_failures=1), Verdict.VIOLATED),
    (dict(SMALL, flush_error="lossy", flush_failures=1), Verdict.HOLDS),
]


def run(spec: Any, backend: str, **options: Any) -> Any:
    return check(spec, None if not isinstance(spec, WithProgress) else ["progress"],
                 SearchOptions(backend=backend, **options))


def assert_same(reference: Any, other: Any) -> None:
    a, b = reference.exploration, other.exploration
    assert (a.size, a.transitions) == (b.size, b.transitions)
    assert list(a.parent) == list(b.parent) and list(a.via) == list(b.via)
    assert list(a.edges) == list(b.edges)  # every step, in the order generated
    for x, y in zip(reference.results, other.results, strict=True):
        assert (x.name, x.verdict, x.reason) == (y.name, y.verdict, y.reason)
        assert x.trace == y.trace  # the same stem and loop (loop_start included)
        if y.trace is not None:
            replay(other.compiled, y.trace)


@needs_cc
@pytest.mark.parametrize("cls", FIXTURES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("backend", ["native", "compiled"])
def test_fixtures_agree_with_the_interpreted_full_store(cls: type, backend: str):
    other = run(cls(), backend)
    assert other.exploration.native_fallback == "" and other.exploration.fallback == ""
    assert_same(run(cls(), "interpreted"), other)


@needs_cc
@pytest.mark.parametrize(("settings", "verdict"), VIRTIO, ids=lambda v: str(v))
def test_virtio_blk_progress_agrees_in_every_backend(settings: dict[str, Any], verdict: Verdict):
    reference = run(configure(WithProgress, settings), "interpreted")
    assert reference.results[0].verdict is verdict
    for backend in ("native", "compiled"):
        assert_same(reference, run(configure(WithProgress, settings), backend))


@needs_cc
def test_a_dead_end_found_natively_is_the_interpreted_one():
    settings = {"workload": "W0 F", "qdepth": 1, "migrations": 0}
    reference = run(configure(StrandsWithProgress, settings), "interpreted")
    native = run(configure(StrandsWithProgress, settings), "native")
    assert native.results[0].verdict is Verdict.VIOLATED and native.results[0].trace.loop_start is None
    assert_same(reference, native)


@needs_cc
def test_the_default_moves_to_the_native_search_past_the_tier_with_the_same_lasso():
    settings = dict(NODRAIN, flush_error="sticky", flush_failures=1)  # 37,900 states
    default = run(configure(WithProgress, settings), "auto")
    assert default.exploration.size > planner.TIER and default.exploration.native
    assert default.exploration.plan.startswith("search: native (C)")
    result = default.results[0]
    assert result.verdict is Verdict.VIOLATED and result.trace.loop_start is not None
    assert_same(run(configure(WithProgress, settings), "interpreted"), default)


def test_the_plan_no_longer_forces_the_interpreted_search_for_liveness():
    compiled = compile_spec(Grants())
    props = list(compiled.properties.values())
    native = planner.plan(compiled, props, SearchOptions(backend="auto"), "cc")
    assert (native.backend, native.store, native.tier) == ("native", "compact", planner.TIER)
    assert [p.name for p in native.marks] == ["asked_is_granted~goal", "asked_is_granted~trigger"]
    python = planner.plan(compiled, props, SearchOptions(backend="auto"), "")
    assert (python.backend, python.store) == ("compiled", "full") and not python.marks
    assert native.first_tier().properties == props  # the interpreted tier judges no marks


@needs_cc
@pytest.mark.parametrize("backend", ["interpreted", "native"])
def test_a_cut_search_says_unknown_never_a_dead_end_at_the_cut(backend: str):
    result = run(FairSpinner(), backend, max_states=2).results[0]
    assert result.verdict is Verdict.UNKNOWN
    result = run(configure(WithProgress, {"workload": "W0 F", "flush_failures": 1}), backend, max_depth=3).results[0]
    assert result.verdict is Verdict.UNKNOWN


@pytest.mark.parametrize("backend", ["auto", "interpreted", "compiled"])
def test_a_search_asked_for_no_graph_still_keeps_the_steps_liveness_needs(backend: str):
    """`modelcheck check` asks for no graph (keep_edges=False); liveness still needs every step."""
    result = run(Spinner(), backend, keep_edges=False).results[0]
    assert result.verdict is Verdict.VIOLATED and result.trace.loop_start == 0


@needs_cc
@pytest.mark.parametrize("bounds", [{}, {"max_states": 500}, {"max_depth": 7}], ids=["whole", "states", "depth"])
def test_test_natives_comparison_holds_with_a_liveness_property(bounds: dict[str, int]):
    """tests/test_native.py's comparison (ids, parents, evidence, verdicts) with `progress` judged:
    the liveness marks the native search adds are no witnesses of their own."""
    from test_native import assert_same as same_search
    from test_native import both

    same_search(*both(configure(WithProgress, dict(NODRAIN, flush_error="sticky", flush_failures=1)), **bounds))


SYMMETRIC = [  # virtio-blk configurations with interchangeable requests, holding and refuted
    {"workload": "W0 W1", "qdepth": 1, "profile": "qemu-2010", "failures": 0, "migrations": 0},
    {"workload": "W0 W1 F", "flush_failures": 1, "flush_error": "sticky", "guest": "nodrain"},
    {"workload": "W0 W1 F", "flush_failures": 1, "flush_error": "lossy", "guest": "nodrain", "failures": 1},
]


@pytest.mark.parametrize("settings", SYMMETRIC, ids=lambda s: s["workload"] + " " + s.get("flush_error", ""))
@pytest.mark.parametrize("backend", ["interpreted", "compiled"])
def test_symmetry_keeps_liveness_verdicts_and_lifts_the_lasso(settings: dict[str, Any], backend: str):
    """The fair-cycle check runs on the graph of representatives; its lasso is replayed on
    concrete states (and judged again, fairness included, by check)."""
    plain = run(configure(WithProgress, settings), "interpreted").results[0]
    reduced = run(configure(WithProgress, settings), backend, symmetry=True)
    result = reduced.results[0]
    assert reduced.exploration.canonical is not None
    assert result.verdict is plain.verdict, result.reason
    assert (result.trace is None) == (plain.trace is None)
    if result.trace is not None:
        assert (result.trace.loop_start is None) == (plain.trace.loop_start is None)
        replay(reduced.compiled, result.trace, reduced.compiled.properties["progress"])


def test_partial_order_reduction_leaves_liveness_unknown_and_the_rest_decided():
    """Stubborn sets may postpone a fair action around a cycle forever: no liveness verdict under POR."""
    reduced = check(configure(WithProgress, {"workload": "W0 F", "flush_failures": 1, "flush_error": "sticky"}),
                    None, SearchOptions(por=True))
    by_name = {r.name: r for r in reduced.results}
    assert by_name["progress"].verdict is Verdict.UNKNOWN and "partial-order" in by_name["progress"].reason
    assert by_name["barrier"].verdict is Verdict.HOLDS
