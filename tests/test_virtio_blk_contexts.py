"""contexts=per-queue: qemu-9.0's per-queue restarts interleave when the queues run in
different AioContexts (iothread-vq-mapping); shared contexts and other profiles are unchanged."""

import pytest
from conftest import VIRTIO

from modelcheck.check import check, configure
from modelcheck.errors import UsageError
from modelcheck.explicit import SearchOptions

# W0 on queue 0, W1 on queue 1; both may fail with ENOSPC and park; fifo keeps the entry order
TWO_PARKED = {"workload": "W0 W1", "queues": 2, "qdepth": 2, "guest": "nodrain", "failures": 2,
              "order": "fifo", "migrations": 0}


def restart_orders(settings):
    """Every order in which a restart put W0 and W1 (both parked) back in flight, and the restart labels."""
    run = check(configure(VIRTIO, settings), [], SearchOptions(check_hints=True, keep_edges=True))
    graph = run.graph()
    orders, labels = set(), set()
    for src, dst, data in graph.edges(data=True):
        for label in data["steps"]:
            if not label.startswith("restart"):
                continue
            labels.add(label)
            before, after = graph.nodes[src]["state"], graph.nodes[dst]["state"]
            if sorted(before.rq) == [0, 1]:
                orders.add(tuple(after.flight[len(before.flight):]))
    return orders, labels


def test_per_queue_contexts_reach_both_restart_orders():
    shared, labels = restart_orders({**TWO_PARKED, "profile": "qemu-9.0"})
    assert shared == {(0, 1)}  # one AioContext: queue 0's bottom half first
    assert labels == {"restart"}
    per_queue, labels = restart_orders({**TWO_PARKED, "profile": "qemu-9.0", "contexts": "per-queue"})
    assert per_queue == {(0, 1), (1, 0)}  # own iothreads: either queue's request may go first
    assert {"restart_per_queue 0", "restart_per_queue 1"} <= labels


@pytest.mark.parametrize("profile", ["qemu-7.2", "qemu-2010", "fifo"])
def test_profiles_with_one_restart_list_ignore_contexts(profile):
    shared = check(configure(VIRTIO, {**TWO_PARKED, "profile": profile}), [], SearchOptions(keep_edges=True))
    per_queue = check(configure(VIRTIO, {**TWO_PARKED, "profile": profile, "contexts": "per-queue"}), [],
                      SearchOptions(keep_edges=True))
    assert (per_queue.exploration.states, per_queue.exploration.edges) == (
        shared.exploration.states, shared.exploration.edges)
    assert "restart_per_queue" not in {data["action"] for _, _, data in per_queue.graph().edges(data=True)}


def test_default_contexts_keep_the_counts():
    run = check(configure(VIRTIO, {**TWO_PARKED, "profile": "qemu-9.0"}), ["restart_order"])
    per_queue = check(configure(VIRTIO, {**TWO_PARKED, "profile": "qemu-9.0", "contexts": "per-queue"}),
                      ["restart_order"])
    assert run.results[0].states < per_queue.results[0].states


def test_per_queue_contexts_need_two_queues():
    with pytest.raises(UsageError, match="queues=2"):
        configure(VIRTIO, {"contexts": "per-queue"})
