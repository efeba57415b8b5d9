"""The seed's question on the virtio-blk spec: verdicts and exact counts, pinned.

A change in any count means the explored system changed: look at why before updating.
"""

import pytest
from conftest import VIRTIO

from modelcheck.check import check, configure
from modelcheck.trace import replay
from modelcheck.verdict import Verdict

HOLDS, VIOLATED = Verdict.HOLDS, Verdict.VIOLATED

# profile, workload, qdepth, guest -> barrier verdict, states, transitions, depth, counterexample length
BARRIER = [
    ("qemu-2010", "W0 F", 1, "drain", HOLDS, 49, 63, 15, None),
    ("qemu-2010", "W0 F", 2, "nodrain", VIOLATED, 184, 333, 15, 7),
    ("qemu-2010", "W0 W1 F W2 F", 1, "drain", HOLDS, 167, 265, 30, None),
    ("qemu-2010", "W0 W1 F W2 F", 2, "drain", HOLDS, 349, 712, 30, None),
    ("qemu-2010", "W0 W1 F W2 F", 3, "drain", HOLDS, 349, 712, 30, None),
    ("qemu-2010", "W0 W1 F W2 F", 2, "nodrain", VIOLATED, 3145, 7860, 30, 12),
    ("qemu-2010", "W0 W1 F W2 F", 3, "nodrain", VIOLATED, 25734, 82490, 30, 9),
    ("qemu-7.2", "W0 F", 1, "drain", HOLDS, 51, 65, 17, None),
    ("qemu-7.2", "W0 F", 3, "drain", HOLDS, 51, 65, 17, None),
    ("qemu-7.2", "W0 F", 2, "nodrain", VIOLATED, 194, 348, 17, 7),
    ("qemu-7.2", "W0 W1 F W2 F", 1, "drain", HOLDS, 173, 270, 32, None),
    ("qemu-7.2", "W0 W1 F W2 F", 2, "drain", HOLDS, 371, 745, 32, None),
    ("qemu-7.2", "W0 W1 F W2 F", 3, "drain", HOLDS, 371, 745, 32, None),
    ("qemu-7.2", "W0 W1 F W2 F", 2, "nodrain", VIOLATED, 3288, 8112, 32, 12),
]


@pytest.mark.parametrize(("profile", "workload", "qdepth", "guest", "verdict", "states", "transitions", "depth",
                          "length"), BARRIER)
def test_barrier(profile, workload, qdepth, guest, verdict, states, transitions, depth, length):
    spec = configure(VIRTIO, {"profile": profile, "workload": workload, "qdepth": qdepth, "guest": guest,
                              "failures": 1, "migrations": 1})
    run = check(spec, ["barrier"])
    result = run.results[0]
    assert (result.verdict, result.states, result.transitions, result.depth) == (verdict, states, transitions, depth)
    assert (len(result.trace) if result.trace else None) == length
    if result.trace:
        replay(run.compiled, result.trace)


def test_seed_scenario_in_order_backend_needs_the_error_path():
    """With an in-order backend a flush cannot overtake its write; the only way for the guest
    to see the flush while the write is not durable is ENOSPC, parking on rq, the stop,
    and the resume -- the 2010 report's scenario."""
    spec = configure(VIRTIO, {"guest": "nodrain", "workload": "W0 F", "profile": "qemu-2010", "order": "fifo"})
    run = check(spec, ["barrier"])
    result = run.results[0]
    assert result.verdict is VIOLATED
    labels = [run.compiled.show_step(step) for step, _ in result.trace.steps]
    assert labels == ["submit W0", "submit F1", "fetch W0", "fetch F1", "execute W0 nospc", "complete W0",
                      "execute F1 ok", "complete F1", "resume", "observe F1"]
    parked = result.trace.steps[5][1]
    assert parked.rq == (0,) and parked.vm == "stopped"
    replay(run.compiled, result.trace)


def test_without_failures_the_in_order_backend_keeps_the_barrier():
    spec = configure(VIRTIO, {"guest": "nodrain", "workload": "W0 F", "profile": "qemu-2010", "order": "fifo",
                              "failures": 0})
    assert check(spec, ["barrier"]).results[0].verdict is HOLDS


def test_every_property_holds_for_a_draining_guest_on_qemu_7_2():
    spec = configure(VIRTIO, {"guest": "drain", "workload": "W0 W1 F W2 F", "qdepth": 2})
    run = check(spec)
    by_name = {r.name: r.verdict for r in run.results}
    assert by_name == {
        "barrier": HOLDS, "flush_contract": HOLDS, "barrier_order": HOLDS, "conservation": HOLDS,
        "restart_order": HOLDS, "restart_after_resume": HOLDS, "read_your_writes": HOLDS, "completion": HOLDS,
        "progress": HOLDS, "flush_seen_while_write_parked": VIOLATED, "request_parked": HOLDS,
    }


def test_local_restart_on_qemu_7_2_is_lifo():
    spec = configure(VIRTIO, {"guest": "nodrain", "workload": "W0 W1", "failures": 2, "migrations": 0})
    run = check(spec, ["restart_order"])
    result = run.results[0]
    assert result.verdict is VIOLATED
    before = result.trace.steps[-2][1]
    assert before.parked == (0, 1) and before.rq == (1, 0)
    replay(run.compiled, result.trace)


@pytest.mark.parametrize(("profile", "migrations", "verdict"), [
    ("qemu-7.2", 0, VIOLATED), ("fifo", 1, HOLDS), ("qemu-9.0", 0, HOLDS), ("qemu-9.0", 1, VIOLATED),
])
def test_restart_order_per_profile(profile, migrations, verdict):
    """qemu-7.2 restarts LIFO locally; qemu-9.0 FIFO locally but LIFO after one migration."""
    spec = configure(VIRTIO, {"guest": "nodrain", "workload": "W0 W1", "failures": 2, "migrations": migrations,
                              "profile": profile})
    assert check(spec, ["restart_order"]).results[0].verdict is verdict


@pytest.mark.parametrize("settings", [
    {"guest": "nodrain", "workload": "W0 W1 F W2", "order": "fifo", "failures": 2},
    {"guest": "nodrain", "workload": "W0 F R0", "profile": "flush-after-restart", "read_failures": 1,
     "flush_failures": 1, "eio_failures": 1, "werror": "enospc"},
    {"guest": "nodrain", "workload": "W0 W0 F", "profile": "ordered-flush", "order": "fifo", "evict": "off"},
])
def test_hints_change_nothing_but_speed(settings):
    """The spec's hints leave out no enabled step, and the search is identical without them."""
    from modelcheck.explicit import SearchOptions

    spec = configure(VIRTIO, settings)
    hinted = check(spec, [], SearchOptions(check_hints=True, keep_edges=True)).exploration
    plain = check(spec, [], SearchOptions(use_hints=False, keep_edges=True)).exploration
    assert hinted.states == plain.states
    assert hinted.edges == plain.edges


@pytest.mark.parametrize("settings", [
    {"guest": "nodrain", "workload": "W0 F"},
    {"guest": "nodrain", "workload": "W0 F", "profile": "qemu-2010", "order": "fifo"},
    {"guest": "nodrain", "workload": "W0 W1 F W2 F", "qdepth": 2},
])
def test_counterexamples_are_shortest_paths_in_the_networkx_graph(settings):
    import networkx as nx

    run = check(configure(VIRTIO, settings), ["barrier", "barrier_order"])
    graph = run.graph()
    violated = [r for r in run.results if r.verdict is VIOLATED]
    assert violated
    for result in violated:
        target = run.exploration.violated_at[result.name]
        assert len(result.trace) == nx.shortest_path_length(graph, 0, target)
        bad = [n for n, data in graph.nodes(data=True) if not run.compiled.properties[result.name].func(
            run.compiled.spec, data["state"])]
        assert len(result.trace) == min(nx.shortest_path_length(graph, 0, n) for n in bad)
