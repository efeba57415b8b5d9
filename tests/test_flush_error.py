"""What a failed flush does on the host: ``flush_error`` transient, lossy, sticky.

On "W0 F" with one flush failure allowed (the default qemu-7.2 device, one migration):

- transient (the default) keeps today's states: the counts are pinned;
- lossy (the host drops the dirty data of a failed flush, a later flush may succeed, as
  Linux did before "fsyncgate" was understood) lets a parked flush succeed after ``cont``
  and the guest see data acknowledged and lost: ``flush_contract`` fails under werror=stop;
- sticky (QEMU's ``page_cache_inconsistent``: every later flush fails) never acknowledges
  lost data, but under werror=stop the parked flush fails on every ``cont``: the execution
  stops the VM forever, and ``completion`` fails with a lasso.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import VIRTIO

from modelcheck.check import check, configure
from modelcheck.loader import load_spec_class
from modelcheck.trace import replay
from modelcheck.verdict import Verdict

VirtioBlk: Any = load_spec_class(VIRTIO)
HOLDS, VIOLATED = Verdict.HOLDS, Verdict.VIOLATED
PROPERTIES = ["barrier", "flush_contract", "completion"]


def settings(flush_error: str, werror: str, guest: str) -> dict[str, Any]:
    return {"workload": "W0 F", "flush_failures": 1, "flush_error": flush_error, "werror": werror, "guest": guest}


# (flush_error, werror, guest) -> verdicts of barrier, flush_contract, completion
VERDICTS = {
    ("lossy", "stop", "drain"): (VIOLATED, VIOLATED, HOLDS),
    ("lossy", "stop", "nodrain"): (VIOLATED, VIOLATED, HOLDS),
    ("lossy", "report", "drain"): (HOLDS, HOLDS, HOLDS),
    ("lossy", "report", "nodrain"): (VIOLATED, HOLDS, HOLDS),
    ("sticky", "stop", "drain"): (HOLDS, HOLDS, VIOLATED),
    ("sticky", "stop", "nodrain"): (VIOLATED, HOLDS, VIOLATED),
    ("sticky", "report", "drain"): (HOLDS, HOLDS, HOLDS),
    ("sticky", "report", "nodrain"): (VIOLATED, HOLDS, HOLDS),
    # werror=ignore completes the failed flush with OK: the data is lost on either host
    ("lossy", "ignore", "drain"): (VIOLATED, VIOLATED, HOLDS),
    ("lossy", "ignore", "nodrain"): (VIOLATED, VIOLATED, HOLDS),
    ("sticky", "ignore", "drain"): (VIOLATED, VIOLATED, HOLDS),
    ("sticky", "ignore", "nodrain"): (VIOLATED, VIOLATED, HOLDS),
}


@pytest.mark.parametrize("cell", list(VERDICTS), ids="-".join)
def test_verdicts_of_lossy_and_sticky_flush_errors(cell: tuple[str, str, str]):
    run = check(configure(VirtioBlk, settings(*cell)), PROPERTIES)
    assert tuple(r.verdict for r in run.results) == VERDICTS[cell]
    for result in run.results:
        if result.trace is not None:
            replay(run.compiled, result.trace)


@pytest.mark.parametrize(("werror", "guest", "states"), [
    ("stop", "drain", 93), ("stop", "nodrain", 556), ("report", "drain", 25), ("report", "nodrain", 112),
])
def test_transient_flush_errors_keep_todays_states(werror: str, guest: str, states: int):
    run = check(configure(VirtioBlk, settings("transient", werror, guest)), ["flush_contract"])
    assert len(run.exploration.states) == states
    assert "flush_broken" not in run.compiled.state_class.fields


def labels(flush_error: str, prop: str) -> tuple[list[str], int | None]:
    run = check(configure(VirtioBlk, settings(flush_error, "stop", "drain")), [prop])
    trace = run.results[0].trace
    assert trace is not None
    return [run.compiled.show_step(step) for step, _ in trace.steps], trace.loop_start


FAILED_FLUSH_PARKED = ["submit W0", "fetch W0", "execute W0 ok", "complete W0", "observe W0", "submit F1",
                       "fetch F1", "execute F1 eio", "complete F1", "stop", "settle", "resume", "restart"]


def test_a_lossy_host_lets_the_retried_flush_acknowledge_lost_data():
    steps, loop = labels("lossy", "flush_contract")
    assert steps == [*FAILED_FLUSH_PARKED, "execute F1 ok", "complete F1", "observe F1"]
    assert loop is None


def test_a_sticky_flush_error_stops_the_vm_forever():
    """The lasso: from the state after the first failure, the parked flush fails on every cont."""
    steps, loop = labels("sticky", "completion")
    assert steps == [*FAILED_FLUSH_PARKED, "execute F1 eio"]
    assert loop == 8 and steps[loop - 1] == steps[-1] == "execute F1 eio"


def test_a_sticky_flush_error_refuses_migration_and_settles_nothing():
    """vm_stop_force_state's bdrv_flush_all fails, so a migration fails: no migrate step leaves
    a broken state; settle still stops (do_vm_stop ignores the error) but makes nothing durable."""
    run = check(configure(VirtioBlk, settings("sticky", "stop", "drain")), ["completion"])
    graph = run.graph()
    from_broken = [(graph.nodes[a]["state"], graph.nodes[b]["state"], data["action"])
                   for a, b, data in graph.edges(data=True) if graph.nodes[a]["state"].flush_broken]
    actions = {action for _, _, action in from_broken}
    assert "settle" in actions and "migrate" not in actions
    assert "migrate" in {data["action"] for _, _, data in graph.edges(data=True)}
    assert all(after.disk == before.disk for before, after, action in from_broken if action == "settle")
