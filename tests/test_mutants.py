"""Mutants: deliberately broken virtio-blk devices, each refuted by the property it breaks.

Every property of the spec must be able to fail, or a HOLDS verdict on it says nothing.
Each mutant below is a subclass of the spec with one bug a real device or host could
have; for each we check, in one tiny configuration, that

- the unmutated spec HOLDS the property there (so the configuration is not already bad),
- the mutant VIOLATES it, with a counterexample of the pinned length,
- the counterexample replays through the mutant.

Two blind spots showed up while writing these, and the spec was changed for both:
``restart_order`` now judges (under order=fifo) the order in which the restart step really
put requests in flight, so a restart action that reverses the list on its own is caught
(the last test); and a read now records the value it returned, so ``read_your_writes``
judges what the guest got.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from conftest import VIRTIO

from modelcheck import action, require
from modelcheck.check import check, configure
from modelcheck.loader import load_spec_class
from modelcheck.ops import all_of, any_of, append, is_empty, negate, reverse, update
from modelcheck.trace import replay
from modelcheck.verdict import Verdict

VirtioBlk: Any = load_spec_class(VIRTIO)


# --------------------------------------------------------------------------- mutants


class ForgetsRqOnMigration(VirtioBlk):
    """``virtio_blk_save`` never writes ``s->rq``: a parked request vanishes on migration."""

    @action
    def migrate(self, s):
        return super().migrate(s).replace(rq=())


class CompletesAndParks(VirtioBlk):
    """A failed request is parked on ``s->rq`` and also pushed to the used ring with IOERR
    (the double completion that ``req->mr_next = NULL`` in ``virtio_blk_handle_rw_error``
    guards against)."""

    @action(r="Req")
    def complete(self, s, r):
        after = super().complete(s, r)
        if after.rq == s.rq:
            return after
        return after.replace(used=append(after.used, r), status=update(after.status, r, "ioerr"))


class ReportsOkForFailedWrite(VirtioBlk):
    """A write that failed with ENOSPC is completed to the guest with status OK, whatever
    werror says (``werror=ignore`` by mistake)."""

    @action(r="Req")
    def complete(self, s, r):
        if s.outcome[r] == "nospc":
            s = s.replace(outcome=update(s.outcome, r, "ok"))
        return super().complete(s, r)


class FlushPersistsNothing(VirtioBlk):
    """The backend acknowledges a flush without writing anything back (``cache=unsafe``)."""

    @action(r="AnyReq", result=("ok", "nospc", "eio"))
    def execute(self, s, r, result):
        after = super().execute(s, r, result)
        if r < self.n and self.kind[r] == "F":
            return after.replace(cache=s.cache, disk=s.disk)
        return after


class FlushAckedOnFetch(VirtioBlk):
    """The device completes a flush to the guest as soon as it fetches it, before the
    backend ever executes it."""

    @action(r="Req")
    def fetch(self, s, r):
        after = super().fetch(s, r)
        if self.kind[r] != "F":
            return after
        return after.replace(flight=s.flight, used=append(s.used, r), status=update(s.status, r, "ok"))


class LostWrite(VirtioBlk):
    """The backend reports a write done but the data lands nowhere (a dropped write)."""

    @action(r="AnyReq", result=("ok", "nospc", "eio"))
    def execute(self, s, r, result):
        after = super().execute(s, r, result)
        if r < self.n and self.kind[r] == "W":
            return after.replace(cache=s.cache)
        return after


class ReadIgnoresCache(VirtioBlk):
    """A read path that goes to the disk and never looks at the write cache."""

    @action(r="AnyReq", result=("ok", "nospc", "eio"), hint=VirtioBlk.executable)
    def execute(self, s, r, result):
        after = super().execute(s, r, result)
        if r < self.n and self.kind[r] == "R" and result == "ok":
            slot = self.read_slot[r]
            return after.replace(returned=update(after.returned, slot, s.disk[self.sector[r]]))
        return after


class RestartsInReverse(VirtioBlk):
    """The device's restart order is the reverse of its profile's (a push-front too many)."""

    def restart_sequence(self, rq):
        return reverse(super().restart_sequence(rq))


class StrandsParkedRequests(VirtioBlk):
    """``virtio_blk_dma_restart_bh`` runs but never walks ``s->rq``: the parked requests
    stay there forever although the VM runs."""

    @action
    def restart(self, s):
        require(self.running(s))
        require(s.restart_pending)
        return s.replace(restart_pending=False)


class RestartsWhileStopped(VirtioBlk):
    """The restart bottom half may run while the VM is stopped, before ``cont``: the parked
    requests execute again on a stopped VM (a restart scheduled from somewhere other than
    the transition to running)."""

    @action
    def restart(self, s):
        require(any_of([s.restart_pending, all_of([s.vm == "stopped", negate(is_empty(s.rq))])]))
        flight = s.flight
        for r in self.restart_sequence(s.rq):
            flight = self.enter(flight, r)
        return s.replace(flight=flight, rq=(), parked=(), restart_pending=False)


class NeverResumes(VirtioBlk):
    """Management never sends ``cont`` after an I/O error stop."""

    @action
    def resume(self, s):
        require(False)
        return s


# --------------------------------------------------------------------------- table


@dataclass(frozen=True)
class Case:
    """One mutant, the property that must refute it, where, and the counterexample's length."""

    mutant: type
    prop: str
    settings: dict[str, Any]
    length: int

    @property
    def id(self) -> str:
        return f"{self.mutant.__name__}-{self.prop}"


def tiny(**settings: Any) -> dict[str, Any]:
    """A small configuration: one write and a flush, a draining guest, qemu-7.2, no migration."""
    base = {"workload": "W0 F", "qdepth": 1, "guest": "drain", "profile": "qemu-7.2", "failures": 1,
            "migrations": 0, "evict": "on", "order": "any"}
    return {**base, **settings}


CASES = [
    Case(ForgetsRqOnMigration, "conservation", tiny(migrations=1), 7),
    Case(ForgetsRqOnMigration, "completion", tiny(migrations=1), 9),
    Case(CompletesAndParks, "conservation", tiny(), 4),
    Case(ReportsOkForFailedWrite, "barrier", tiny(), 10),
    Case(FlushPersistsNothing, "flush_contract", tiny(failures=0, evict="off"), 10),
    Case(FlushAckedOnFetch, "barrier_order", tiny(workload="W0 F W1", failures=0), 12),
    Case(LostWrite, "read_your_writes", tiny(workload="W0 R0", failures=0), 8),
    Case(ReadIgnoresCache, "read_your_writes", tiny(workload="W0 R0", failures=0, evict="off"), 8),
    Case(RestartsInReverse, "restart_order",
         tiny(workload="W0 W1", qdepth=2, guest="nodrain", profile="fifo", failures=2), 12),
    Case(StrandsParkedRequests, "completion", tiny(), 8),
    Case(NeverResumes, "completion", tiny(), 6),
    Case(RestartsWhileStopped, "restart_after_resume", tiny(), 6),
]

PROPERTIES = ("barrier", "flush_contract", "barrier_order", "conservation", "restart_order",
              "restart_after_resume", "read_your_writes", "completion")


def test_every_property_has_a_mutant():
    assert {case.prop for case in CASES} == set(PROPERTIES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_the_spec_holds_where_the_mutant_is_checked(case: Case):
    result = check(configure(VirtioBlk, case.settings), [case.prop]).results[0]
    assert result.verdict is Verdict.HOLDS


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_the_property_refutes_the_mutant(case: Case):
    run = check(configure(case.mutant, case.settings), [case.prop])
    result = run.results[0]
    assert result.verdict is Verdict.VIOLATED
    assert result.trace is not None and len(result.trace) == case.length
    replay(run.compiled, result.trace)


def labels(mutant: type, prop: str) -> list[str]:
    """The shortest counterexample of ``prop`` against ``mutant`` in its table row, as action labels."""
    (case,) = [c for c in CASES if c.mutant is mutant and c.prop == prop]
    run = check(configure(mutant, case.settings), [prop])
    trace = run.results[0].trace
    assert trace is not None
    return [run.compiled.show_step(step) for step, _ in trace.steps]


def test_a_forgotten_rq_loses_the_parked_write_on_migration():
    assert labels(ForgetsRqOnMigration, "conservation") == [
        "submit W0", "fetch W0", "execute W0 nospc", "complete W0", "stop", "settle", "migrate"]


def test_a_flush_acked_on_fetch_lets_the_later_write_reach_disk_before_the_earlier_one():
    assert labels(FlushAckedOnFetch, "barrier_order") == [
        "submit W0", "fetch W0", "execute W0 ok", "complete W0", "observe W0", "submit F1", "fetch F1",
        "observe F1", "submit W1", "fetch W1", "execute W1 ok", "writeback s1"]


def test_a_stranded_request_is_caught_only_by_completion():
    """The request is still on rq (conservation holds); only the end state shows it stuck."""
    settings = tiny()
    run = check(configure(StrandsParkedRequests, settings), ["conservation", "completion"])
    assert [r.verdict for r in run.results] == [Verdict.HOLDS, Verdict.VIOLATED]
    assert labels(StrandsParkedRequests, "completion")[-3:] == ["settle", "resume", "restart"]


# --------------------------------------------------------------------------- former blind spots


class RestartActionReversed(VirtioBlk):
    """The restart step itself puts ``rq`` in flight back to front, while
    ``restart_sequence`` still declares the profile's order."""

    @action
    def restart(self, s):
        require(self.running(s))
        require(s.restart_pending)
        flight = s.flight
        for r in reverse(self.restart_sequence(s.rq)):
            flight = self.enter(flight, r)
        return s.replace(flight=flight, rq=(), parked=(), restart_pending=False)


def test_restart_order_sees_the_order_the_restart_step_produced():
    settings = tiny(workload="W0 W1", qdepth=2, guest="nodrain", profile="fifo", failures=2, order="fifo")
    assert check(configure(VirtioBlk, settings), ["restart_order"]).results[0].verdict is Verdict.HOLDS
    result = check(configure(RestartActionReversed, settings), ["restart_order"]).results[0]
    assert result.verdict is Verdict.VIOLATED


def test_a_restart_while_stopped_is_caught_only_by_restart_after_resume():
    """Before restart_after_resume, this mutant passed every property; only state counts differed."""
    settings = tiny(migrations=1)
    others = [p for p in PROPERTIES if p != "restart_after_resume"]
    run = check(configure(RestartsWhileStopped, settings), [*others, "restart_after_resume"])
    assert [r.verdict for r in run.results] == [Verdict.HOLDS] * len(others) + [Verdict.VIOLATED]
    assert labels(RestartsWhileStopped, "restart_after_resume") == [
        "submit W0", "fetch W0", "execute W0 nospc", "complete W0", "stop", "restart"]
