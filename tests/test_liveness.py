"""Liveness under weak fairness (``@eventually``, ``@leads_to``, ``@action(fair="weak")``);
strong fairness and groups are in tests/test_fairness_kinds.py.

Tiny fixture specs test the machinery: a cycle the search may go round forever unless an
action is declared fair, a request that must be granted, and a dead end. Then the virtio-blk
spec's ``progress``: it holds where budgets end every execution and fails, with a lasso,
under sticky flush errors and ``werror=stop``, for mutants that strand a parked request
(a dead end) or park it again forever (a lasso), and when nobody ever sends ``cont``.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import VIRTIO

from modelcheck import Bool, Int, Spec, SpecError, action, eventually, leads_to, require
from modelcheck.check import check, configure
from modelcheck.explicit import SearchOptions
from modelcheck.loader import load_spec_class
from modelcheck.ops import is_empty, ite
from modelcheck.spec import compile_spec
from modelcheck.trace import format_trace, replay
from modelcheck.verdict import Verdict

HOLDS, VIOLATED, UNKNOWN = Verdict.HOLDS, Verdict.VIOLATED, Verdict.UNKNOWN


class Spinner(Spec):
    """Spins between two states and may finish; ``finish`` is fair only in the subclass."""

    def fields(self):
        return {"n": Int(0, 1), "done": Bool()}

    def initial(self):
        yield self.state(n=0, done=False)

    @action
    def spin(self, s):
        require(not s.done)
        return s.replace(n=1 - s.n)

    @action
    def finish(self, s):
        require(not s.done)
        return s.replace(done=True)

    @eventually
    def finishes(self, s):
        """Every execution finishes."""
        return s.done


class FairSpinner(Spinner):
    @action(fair="weak")
    def finish(self, s):
        return super().finish(s)


def labels(run: Any) -> list[str]:
    trace = run.results[0].trace
    return [run.compiled.show_step(step) for step, _ in trace.steps]


def test_an_unfair_action_may_be_postponed_forever():
    run = check(Spinner())
    result = run.results[0]
    assert result.verdict is VIOLATED
    assert labels(run) == ["spin", "spin"] and result.trace.loop_start == 0
    replay(run.compiled, result.trace)
    assert "forever" in format_trace(run.compiled, result.trace)


def test_weak_fairness_excludes_the_cycle_that_never_takes_an_enabled_action():
    assert check(FairSpinner()).results[0].verdict is HOLDS


class Grants(Spec):
    """A request is granted by ``grant`` while ``tick`` may run at any time."""

    fair_grant = False

    def fields(self):
        return {"asked": Bool(), "granted": Bool()}

    def initial(self):
        yield self.state(asked=False, granted=False)

    @action
    def ask(self, s):
        require(not s.asked)
        return s.replace(asked=True, granted=False)

    @action(fair="weak")
    def tick(self, s):
        return s

    @action
    def grant(self, s):
        require(s.asked)
        return s.replace(asked=False, granted=True)

    @leads_to
    def asked_is_granted(self, s):
        """Every request is granted."""
        return s.asked, s.granted


class FairGrants(Grants):
    @action(fair="weak")
    def grant(self, s):
        return super().grant(s)


def test_leads_to_needs_the_granting_action_to_be_fair():
    run = check(Grants())
    assert run.results[0].verdict is VIOLATED
    assert labels(run) == ["ask", "tick"] and run.results[0].trace.loop_start == 1
    assert check(FairGrants()).results[0].verdict is HOLDS


class DeadEnd(Spec):
    def fields(self):
        return {"n": Int(0, 2)}

    def initial(self):
        yield self.state(n=0)

    @action(fair="weak")
    def step(self, s):
        require(s.n < 1)
        return s.replace(n=s.n + 1)

    @eventually
    def reaches_two(self, s):
        return s.n == 2


def test_an_execution_that_ends_short_of_the_goal_is_a_counterexample_without_a_loop():
    run = check(DeadEnd())
    assert run.results[0].verdict is VIOLATED
    assert labels(run) == ["step"] and run.results[0].trace.loop_start is None


def test_the_planner_picks_the_full_store_and_a_compact_one_cannot_decide():
    run = check(Spinner())
    assert run.exploration.edges is not None and not run.exploration.compact
    compact = check(Spinner(), None, SearchOptions(store="compact")).results[0]
    assert compact.verdict is UNKNOWN


def test_an_unknown_fairness_is_refused_with_the_place_and_the_fix():
    class Eager(Spinner):
        @action(fair="eager")
        def finish(self, s):
            return super().finish(s)

    with pytest.raises(SpecError, match=r"Eager\.finish"):
        compile_spec(Eager())


# --------------------------------------------------------------------------- virtio-blk

VirtioBlk: Any = load_spec_class(VIRTIO)
WithProgress = VirtioBlk  # ``progress`` is the spec's own; the name tests/test_liveness_backends.py imports


@pytest.mark.parametrize(("settings", "verdict", "loop"), [
    ({"workload": "W0 F", "flush_failures": 1}, HOLDS, None),
    ({"workload": "W0 F", "flush_failures": 1, "flush_error": "sticky"}, VIOLATED, 8),
    ({"workload": "W0 F", "flush_failures": 1, "flush_error": "sticky", "werror": "report"}, HOLDS, None),
])
def test_progress_on_virtio_blk(settings: dict[str, Any], verdict: Verdict, loop: int | None):
    run = check(configure(VirtioBlk, settings), ["progress"])
    result = run.results[0]
    assert result.verdict is verdict
    if loop is not None:
        assert result.trace.loop_start == loop
        assert labels(run)[-1] == "execute F1 eio"
        replay(run.compiled, result.trace)


def test_z3_never_says_holds_on_a_liveness_property_with_infinite_executions():
    """Lasso BMC (tests/test_liveness_lasso.py) refutes Spinner; FairSpinner holds, but its
    executions may spin forever, so z3 says UNKNOWN, whatever the engine."""
    from modelcheck.symbolic.prove import ProveOptions, prove

    for engine in ("certificate", "bmc"):
        assert prove(Spinner(), None, ProveOptions(engine=engine)).results[0].verdict is VIOLATED
        assert prove(FairSpinner(), None, ProveOptions(engine=engine, depth=5)).results[0].verdict is UNKNOWN


class StrandsWithProgress(VirtioBlk):
    """``virtio_blk_dma_restart_bh`` runs but never walks ``s->rq`` (as in tests/test_mutants.py)."""

    @action(fair="weak")
    def restart(self, s):
        require(self.running(s))
        require(s.restart_pending)
        return s.replace(restart_pending=False)


def test_progress_refutes_a_device_that_strands_a_parked_request():
    run = check(configure(StrandsWithProgress, {"workload": "W0 F", "qdepth": 1, "migrations": 0}), ["progress"])
    result = run.results[0]
    assert result.verdict is VIOLATED and result.trace.loop_start is None  # a dead end
    assert labels(run)[-3:] == ["settle", "resume", "restart"]
    replay(run.compiled, result.trace)


class Restops(VirtioBlk):
    """``virtio_blk_dma_restart_bh`` fails the parked requests again without submitting them:
    they stay on ``s->rq`` and the VM is stopped once more (a mutant, not QEMU)."""

    @action(fair="weak")
    def restart(self, s):
        require(self.running(s))
        require(s.restart_pending)
        return s.replace(restart_pending=False, vm=ite(is_empty(s.rq), s.vm, "stopping"))


def test_progress_refutes_a_device_that_parks_again_forever_with_a_lasso():
    run = check(configure(Restops, {"workload": "W0 F", "qdepth": 1, "migrations": 0}), ["progress", "completion"])
    progress, completion = run.results
    assert progress.verdict is VIOLATED and progress.trace.loop_start is not None
    loop = labels(run)[progress.trace.loop_start:]
    assert sorted(loop) == ["restart", "resume", "settle", "stop"]
    assert completion.verdict is VIOLATED  # the cycle is an execution that never ends
    replay(run.compiled, progress.trace)


@pytest.mark.parametrize(("operator", "verdict"), [("resumes", HOLDS), ("absent", VIOLATED)])
def test_an_operator_who_never_resumes_is_a_named_assumption(operator: str, verdict: Verdict):
    run = check(configure(VirtioBlk, {"workload": "W0 F", "operator": operator}), ["progress"])
    result = run.results[0]
    assert result.verdict is verdict
    assert ("operator_absent" in result.assumptions) is (operator == "absent")
    if verdict is VIOLATED:
        assert result.trace.loop_start is None  # a dead end: stopped, nobody sends cont
        assert run.compiled.show_step(result.trace.steps[-1][0]) in ("settle", "migrate")
        assert result.trace.steps[-1][1].vm == "stopped" and result.trace.steps[-1][1].rq


def test_the_spec_declares_the_environments_choices_unfair():
    fair = compile_spec(configure(VirtioBlk, {})).fairness
    assert "migrate" not in fair and "writeback" not in fair and fair["resume"].kind == "weak"
