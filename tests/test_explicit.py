"""The explicit engine on tiny fixture specs: exact counts, bounds, deadlocks, lassos, coverage."""

import networkx as nx
from conftest import FIXTURES
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcheck.check import check, configure
from modelcheck.explicit import SearchOptions
from modelcheck.graph import reachability_graph
from modelcheck.spec import LIVENESS
from modelcheck.trace import replay
from modelcheck.verdict import Verdict

CLOCK = str(FIXTURES / "clock.py")
EDGES = str(FIXTURES / "edges.py")


def verdicts(run):
    return {r.name: r.verdict for r in run.results}


def test_clock_counts_and_verdicts():
    run = check(configure(CLOCK))
    assert (len(run.exploration.states), run.exploration.transitions, run.exploration.max_depth) == (2, 2, 1)
    assert verdicts(run) == {"is_bool": Verdict.HOLDS, "goes_high": Verdict.HOLDS, "stops": Verdict.VIOLATED}


def test_clock_never_ends_is_a_lasso_that_replays():
    run = check(configure(CLOCK), ["stops"])
    trace = run.results[0].trace
    assert trace.loop_start == 0 and trace.actions == ["tick", "tick"]
    replay(run.compiled, trace)


def test_edge_list_counts_and_shortest_counterexample():
    spec = configure(EDGES, {"edges": "0>1 1>2 2>3 0>4 4>3 3>5", "bad": "3"})
    run = check(spec, ["safe"])
    ex = run.exploration
    assert (len(ex.states), ex.transitions, ex.max_depth) == (6, 6, 3)
    result = run.results[0]
    assert result.verdict is Verdict.VIOLATED
    assert [s.node for s in result.trace.states()] in ([0, 1, 2, 3], [0, 4, 3])
    assert len(result.trace) == 2  # via 4: the shortest
    replay(run.compiled, result.trace)


def test_deadlock_is_judged_by_at_end_properties():
    spec = configure(EDGES, {"edges": "0>1 0>2", "ends": "2"})
    run = check(spec, ["ends_well"])
    assert sorted(run.exploration.states[i].node for i in run.exploration.terminal) == [1, 2]
    assert run.results[0].verdict is Verdict.VIOLATED
    assert [s.node for s in run.results[0].trace.states()] == [0, 1]


def test_state_bound_gives_holds_up_to_bound():
    spec = configure(EDGES, {"edges": "0>1 1>2 2>3 3>4", "bad": "4"})
    run = check(spec, ["safe"], SearchOptions(max_states=3))
    assert run.results[0].verdict is Verdict.HOLDS_UP_TO_BOUND
    assert len(run.exploration.states) == 3


def test_depth_bound_gives_holds_up_to_bound_and_unreached_witness_is_unknown():
    run = check(configure(CLOCK), ["is_bool", "goes_high"], SearchOptions(max_depth=0))
    assert verdicts(run) == {"is_bool": Verdict.HOLDS_UP_TO_BOUND, "goes_high": Verdict.UNKNOWN}


def test_coverage_reports_actions_never_enabled():
    run = check(configure(EDGES, {"edges": "1>2", "start": "0"}))
    assert run.exploration.never_enabled == ["go"]


edge_lists = st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), min_size=1, max_size=14)


@settings(max_examples=60, deadline=None)
@given(edges=edge_lists, bad=st.integers(-1, 7))
def test_reachable_set_and_shortest_paths_match_networkx(edges, bad):
    text = " ".join(f"{a}>{b}" for a, b in edges)
    run = check(configure(EDGES, {"edges": text, "bad": str(bad)}), ["safe"], SearchOptions(keep_edges=True))
    reference = nx.DiGraph(edges)
    reference.add_node(0)
    distances = nx.single_source_shortest_path_length(reference, 0)
    ex = run.exploration
    assert sorted(s.node for s in ex.states) == sorted(distances)
    assert {s.node: ex.depth[i] for i, s in enumerate(ex.states)} == distances
    graph = reachability_graph(ex)
    assert graph.number_of_edges() == reference.subgraph(distances).number_of_edges()
    result = run.results[0]
    if bad in distances:
        assert result.verdict is Verdict.VIOLATED and len(result.trace) == distances[bad]
        replay(run.compiled, result.trace)
    else:
        assert result.verdict is Verdict.HOLDS


def test_workers_and_compact_store_give_the_same_search():
    """Two worker processes, and the fingerprint-only store, explore exactly the same states."""
    spec = configure(str(FIXTURES.parent.parent / "specs" / "virtio_blk.py"),
                     {"guest": "nodrain", "workload": "W0 W1 F", "qdepth": 2, "failures": 2})
    runs = [check(spec, None, SearchOptions(workers=w, store=store)) for w, store in
            [(1, "full"), (2, "full"), (1, "compact"), (2, "compact")]]
    summaries = [[(r.name, r.verdict, r.states, r.transitions, r.depth,
                   [run.compiled.show_step(st) for st, _ in r.trace.steps] if r.trace else None)
                  for r in run.results if r.kind not in ("at_end", *LIVENESS)] for run in runs]  # judged on steps
    assert summaries[1:] == [summaries[0]] * 3
    assert [run.exploration.depth.tolist() for run in runs[1:]] == [runs[0].exploration.depth.tolist()] * 3
