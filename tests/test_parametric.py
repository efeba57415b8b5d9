"""prove --parametric: the refinement check, the BMC refutation and Houdini over the unbounded sort.

The full proofs (drain barrier, nodrain flush_contract) take minutes on a loaded machine; they
are run by ``modelcheck prove --parametric`` as the README shows, not here."""

from __future__ import annotations

import pytest

from modelcheck.check import configure
from modelcheck.parametric.bmc import find_violation
from modelcheck.parametric.houdini import Conjunct, houdini
from modelcheck.parametric.model import Update, description_of, transition
from modelcheck.parametric.refine import RefinementError, check_refinement
from modelcheck.symbolic.encode import Limits

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
