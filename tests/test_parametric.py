"""prove --parametric: the refinement check, the BMC refutation and Houdini over the unbounded sort,
and the three results docs/parametric.md shows, end to end (about 20 s each on a quiet machine;
the two nodrain ones share one run)."""

from __future__ import annotations

import pytest

from modelcheck.check import configure
from modelcheck.parametric.bmc import find_violation
from modelcheck.parametric.houdini import Conjunct, Queries, houdini
from modelcheck.parametric.minimise import verify
from modelcheck.parametric.model import Update, description_of, transition
from modelcheck.parametric.prove import prove_parametric
from modelcheck.parametric.refine import RefinementError, check_refinement
from modelcheck.spec import compile_spec
from modelcheck.symbolic.encode import Limits
from modelcheck.trace import replay
from modelcheck.verdict import Verdict

SPEC = "specs/virtio_blk.py"


def desc_for(**settings):
    return description_of(configure(SPEC, {k: str(v) for k, v in settings.items()}))


def test_the_description_refines_the_spec_on_small_programs():
    out = check_refinement(desc_for(workload="any:2", qdepth=2, guest="nodrain", flush_failures=1))
    assert out.states > 100 and out.steps > out.states


def test_a_broken_description_is_caught():
    desc = desc_for(workload="any:2")

    class Broken(type(desc)):
        @transition(w="Req")
        def writeback(self, L, v, w):  # forgets to make the sector durable
            return Update(L.and_(self.spec.evict == "on", v.cached(w)),
                          {"cached": lambda x: L.and_(v.cached(x), L.not_(x == w))})

    with pytest.raises(RefinementError, match="writeback"):
        check_refinement(Broken(desc.spec))


def test_nodrain_barrier_is_refuted_and_replayed():
    desc = desc_for(guest="nodrain")
    found = find_violation(desc, "barrier", (), 10, 2, Limits(),
                           lambda s: configure(SPEC, {"guest": "nodrain", **s}))
    assert found.status == "found" and found.trace is not None
    assert found.settings["workload"] == "W0 F"
    assert found.trace.actions[-1] == "observe"


def test_drain_barrier_has_no_counterexample_within_the_bounds():
    desc = desc_for(guest="drain")
    found = find_violation(desc, "barrier", ("flush_waits", "writes_wait"), 8, 2, Limits(),
                           lambda s: configure(SPEC, s))
    assert found.status == "none"


def test_a_user_invariant_that_is_not_inductive_is_named_with_its_step():
    desc = desc_for(guest="nodrain")

    def never_durable(L, v):  # false once a flush executes: not inductive, and wrong
        return L.forall(lambda x: L.not_(v.durable(x)))

    out = houdini(desc, [Conjunct("never_durable", "never durable", never_durable, protected=True)], (), Limits())
    assert out.status == "broken" and out.failed.name == "never_durable"
    assert "execute" in out.step or "writeback" in out.step or "settle" in out.step or "migrate" in out.step


def test_an_invariant_marked_in_a_description_is_taken_and_a_wrong_one_never_proves():
    from modelcheck.spec import invariant

    desc = desc_for(guest="nodrain")

    class WithInvariant(type(desc)):
        @invariant
        def nothing_parked(self, L, v):  # wrong: a failed write is parked
            return L.forall(lambda x: L.not_(v.parked(x)))

    mine = WithInvariant(desc.spec)
    assert list(mine.invariants()) == ["nothing_parked"]
    conj = [Conjunct(n, n, f, protected=True) for n, f in mine.invariants().items()]
    out = houdini(mine, conj, (), Limits())
    assert out.status == "broken" and out.failed.name == "nothing_parked" and "complete" in out.step


def run_parametric(properties, **settings):
    settings = {k: str(v) for k, v in settings.items()}
    spec = configure(SPEC, settings)
    return prove_parametric(spec, properties, settings, lambda s: configure(SPEC, s))


def assert_proved_with_a_minimal_invariant(run, result, active):
    """PROVED, and the printed invariant inductive when checked again from scratch, with the property among
    it; it says minimal, so without any one of its clauses it is not inductive any more."""
    assert result.verdict is Verdict.PROVED
    conjuncts = result.extra["conjuncts"]
    assert result.name in [c.name for c in conjuncts if c.protected]
    assert len(result.extra["invariant"]) < 60 and result.extra["invariant_minimal"]
    fresh = Queries(run.desc, conjuncts, active, Limits())
    assert verify(fresh, conjuncts) == ("proved", "")
    mined = [c for c in conjuncts if not c.protected]
    for c in mined[:3] + mined[-3:]:
        rest = [d for d in conjuncts if d is not c]
        assert verify(Queries(run.desc, rest, active, Limits()), rest)[0] == "refuted", c.text


def test_drain_barrier_is_proved_for_every_program_with_a_minimal_invariant():
    run = run_parametric(["barrier"], guest="drain")
    [result] = run.results
    assert_proved_with_a_minimal_invariant(run, result, ("flush_waits", "writes_wait"))


def test_nodrain_proves_flush_contract_and_refutes_barrier_with_a_replayed_trace():
    run = run_parametric(["flush_contract", "barrier"], guest="nodrain")
    contract, barrier = run.results
    assert_proved_with_a_minimal_invariant(run, contract, ())
    assert barrier.verdict is Verdict.VIOLATED and barrier.trace is not None
    compiled = compile_spec(configure(SPEC, {"guest": "nodrain", **barrier.extra["configuration"]}))
    replay(compiled, barrier.trace, compiled.properties["barrier"])
    last = barrier.trace.steps[-1][1]
    assert not compiled.properties["barrier"].func(compiled.spec, last)
    assert barrier.extra["configuration"]["workload"] == "W0 F"
