"""Lasso BMC (modelcheck.symbolic.lasso) against the explicit engine's fair-cycle check.

On a small matrix (the fixtures of tests/test_liveness.py and virtio-blk configurations,
holding and refuted, lassos and dead ends) both engines must agree: where the explicit
search refutes, BMC within the explicit counterexample's length finds a refutation of at
most that many steps (BMC tries depths in order); where it holds, BMC never refutes and
says PROVED only when every execution ends. Every BMC refutation is replayed through the
spec and judged again there (trigger, goal, fairness) by ``prove`` itself.
"""

from __future__ import annotations

from typing import Any

import pytest
from liveness_specs import StrandsWithProgress, WithProgress
from test_liveness import DeadEnd, FairGrants, FairSpinner, Grants, Spinner

from modelcheck.check import check, configure
from modelcheck.symbolic.prove import ProveOptions, prove
from modelcheck.trace import replay
from modelcheck.verdict import Verdict

W0F = {"workload": "W0 F", "flush_failures": 1}
CASES: list[tuple[str, Any]] = [  # (name, a function making the spec)
    ("Spinner", Spinner), ("FairSpinner", FairSpinner), ("Grants", Grants), ("FairGrants", FairGrants),
    ("DeadEnd", DeadEnd),
    ("virtio sticky stop", lambda: configure(WithProgress, dict(W0F, flush_error="sticky"))),
    ("virtio sticky report", lambda: configure(WithProgress, dict(W0F, flush_error="sticky", werror="report"))),
    ("virtio transient stop", lambda: configure(WithProgress, W0F)),
    ("strands a parked request", lambda: configure(StrandsWithProgress,
                                                   {"workload": "W0 F", "qdepth": 1, "migrations": 0})),
]
DEPTH = 14  # the longest explicit counterexample here has 14 steps


def liveness_names(spec: Any) -> list[str] | None:
    return ["progress"] if isinstance(spec, WithProgress) else None


@pytest.mark.parametrize(("name", "make"), CASES, ids=[c[0] for c in CASES])
def test_lasso_bmc_agrees_with_the_explicit_engine(name: str, make: Any):
    explicit = check(make(), liveness_names(make())).results[0]
    run = prove(make(), liveness_names(make()), ProveOptions(depth=DEPTH))
    symbolic = run.results[0]
    assert explicit.verdict in (Verdict.HOLDS, Verdict.VIOLATED)
    if explicit.verdict is Verdict.VIOLATED:
        assert len(explicit.trace) <= DEPTH
        assert symbolic.verdict is Verdict.VIOLATED, symbolic.reason
        assert len(symbolic.trace) <= len(explicit.trace)  # BMC tries depths in order
        assert (symbolic.trace.loop_start is None) == (explicit.trace.loop_start is None) or \
            len(symbolic.trace) < len(explicit.trace)
        replay(run.compiled, symbolic.trace, run.compiled.properties[symbolic.name])
    else:
        assert symbolic.verdict in (Verdict.PROVED, Verdict.UNKNOWN)  # never a refutation, never HOLDS
        assert symbolic.trace is None


def test_proved_only_when_every_execution_ends():
    """With werror=report no request parks, the budgets end every execution: a sound proof."""
    result = prove(configure(WithProgress, dict(W0F, flush_error="sticky", werror="report")), ["progress"],
                   ProveOptions(depth=DEPTH)).results[0]
    assert result.verdict is Verdict.PROVED and result.extra["every_execution_ends_within"] <= DEPTH


def test_an_infinite_fair_execution_without_a_lasso_within_the_bound_is_unknown():
    result = prove(FairSpinner(), None, ProveOptions(depth=6)).results[0]
    assert result.verdict is Verdict.UNKNOWN and "6 steps" in result.reason


def test_the_sticky_lasso_equals_the_explicit_one_in_length_and_loop():
    spec = configure(WithProgress, dict(W0F, flush_error="sticky"))
    explicit = check(spec, ["progress"]).results[0].trace
    symbolic = prove(configure(WithProgress, dict(W0F, flush_error="sticky")), ["progress"],
                     ProveOptions(depth=DEPTH)).results[0].trace
    assert (len(symbolic), symbolic.loop_start) == (len(explicit), explicit.loop_start) == (14, 8)
    assert symbolic.steps[-1][0].action == "execute"


def test_a_refutation_needs_the_fairness_inside_the_loop():
    """Grants' only loop is `tick` after `ask`: unfair to `grant` once it is declared fair."""
    unfair = prove(Grants(), None, ProveOptions(depth=4)).results[0]
    assert unfair.verdict is Verdict.VIOLATED and unfair.trace.loop_start is not None
    fair = prove(FairGrants(), None, ProveOptions(depth=4)).results[0]
    assert fair.verdict is Verdict.UNKNOWN
