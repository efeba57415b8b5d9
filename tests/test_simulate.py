"""Random simulation: a known bug found, replayed and shrunk; runs repeat per seed; coverage checked
against the exhaustive search on configurations small enough to enumerate."""

from __future__ import annotations

import json

import pytest
from test_results_support import VIRTIO

from modelcheck.check import check, configure
from modelcheck.cli import main
from modelcheck.errors import UsageError
from modelcheck.explicit import SearchOptions
from modelcheck.simulate import run_steps, shorten_by_search, shrink, simulate, to_json
from modelcheck.spec import compile_spec
from modelcheck.trace import replay
from modelcheck.verdict import Verdict

SPEC = str(VIRTIO)
NODRAIN_2010 = {"guest": "nodrain", "profile": "qemu-2010", "order": "fifo"}  # the 2010 barrier bug


@pytest.mark.parametrize(("workload", "shortest"), [("W0 F", 10), ("W0 W1 F", 15)])
def test_finds_the_2010_barrier_bug_and_shrinks_it_to_the_shortest_length(workload: str, shortest: int) -> None:
    spec = configure(SPEC, {**NODRAIN_2010, "workload": workload})
    compiled = compile_spec(spec)
    barrier = compiled.select(["barrier"])
    exhaustive = check(spec, ["barrier"]).results[0]
    assert exhaustive.verdict is Verdict.VIOLATED and len(exhaustive.trace) == shortest
    for seed in range(4):
        sim = simulate(compiled, barrier, depth=40, seed=seed, walks=500)
        v = sim.violation
        assert v is not None and v.prop == "barrier"
        replay(compiled, v.trace, barrier[0])  # raises EngineBug unless it replays and violates
        replay(compiled, v.shrunk, barrier[0])
        assert shortest <= len(v.shrunk) <= len(v.trace)
        assert len(v.shrunk) == shortest  # measured: ddmin reaches BFS's shortest length on these seeds


def test_shrink_keeps_a_trace_that_is_already_minimal() -> None:
    compiled = compile_spec(configure(SPEC, {**NODRAIN_2010, "workload": "W0 F"}))
    barrier = compiled.properties["barrier"]
    shortest = check(compiled.spec, ["barrier"]).results[0].trace
    assert shrink(compiled, shortest, barrier).steps == shortest.steps
    assert run_steps(compiled, shortest.initial, [st for st, _ in shortest.steps][1:], barrier) is None


def test_search_near_the_trace_reaches_the_shortest_where_delta_debugging_stops() -> None:
    """restart_order after an EIO: ddmin stops at a 1-minimal 16 steps; BFS from its states finds 14."""
    spec = configure(SPEC, {"workload": "W0 F W1", "guest": "nodrain", "eio_failures": 1})
    compiled = compile_spec(spec)
    prop = compiled.properties["restart_order"]
    shortest = check(spec, ["restart_order"]).results[0].trace
    sim = simulate(compiled, [prop], depth=60, seed=1, walks=100)
    v = sim.violation
    assert v is not None and len(v.trace) == 16
    minimal = shrink(compiled, v.trace, prop)
    assert len(minimal) == 16 > len(shortest) == 14
    assert len(v.shrunk) == len(shorten_by_search(compiled, minimal, prop)) == 14
    replay(compiled, v.shrunk, prop)


def test_the_same_seed_gives_the_same_walks(tmp_path) -> None:
    argv = ["simulate", SPEC, "--set", "workload=W0 W1 F", *[f"--set={k}={v}" for k, v in NODRAIN_2010.items()],
            "--depth", "40", "--walks", "300", "-q"]
    outputs = []
    for n, seed in enumerate(["3", "3", "4"]):
        out = tmp_path / f"{n}.json"
        assert main([*argv, "--seed", seed, "--json", str(out)]) == 1
        outputs.append(json.loads(out.read_text()))
    assert outputs[0] == outputs[1]
    assert outputs[0] != outputs[2]


def test_walks_do_not_depend_on_the_hash_seed(tmp_path) -> None:
    import os
    import subprocess
    import sys

    argv = [sys.executable, "-m", "modelcheck", "simulate", SPEC, "--set", "workload=W0 W1 F", "--set", "qdepth=2",
            "--depth", "30", "--walks", "100", "--seed", "7", "-q"]
    texts = []
    for n, hash_seed in enumerate(["1", "2"]):
        out = tmp_path / f"{n}.json"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([*argv, "--json", str(out)], env=env, check=True, capture_output=True)
        texts.append(out.read_text())
    assert texts[0] == texts[1]


def test_no_violation_is_exit_0_with_coverage_in_json(tmp_path) -> None:
    out = tmp_path / "sim.json"
    assert main(["simulate", SPEC, "--set", "workload=W0 F", "--set", "qdepth=2", "--depth", "30",
                 "--walks", "200", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    cov = data["coverage"]
    assert data["violation"] is None and data["walks"] == 200
    assert cov["distinct_states"] == 51  # the exhaustive count of this configuration (pinned in test_exitcodes' SEED)
    assert set(cov["instances_hit"]) & set(cov["instances_never_hit"]) == set()
    assert "complete_device_flush" in cov["instances_never_hit"]  # qemu-7.2 has no device flush
    assert cov["field_values"]["vm"] >= 2


@pytest.mark.parametrize(("settings", "walks"), [
    ({"workload": "W0 F", "qdepth": 2, "guest": "nodrain"}, 1000),
    ({"workload": "W0 W1 F", "qdepth": 2}, 1000),
    ({"workload": "W0 F W1", "qdepth": 3, "guest": "nodrain"}, 3000),
])
def test_capture_recapture_estimate_within_20_percent(settings: dict, walks: int) -> None:
    spec = configure(SPEC, settings)
    exhaustive = check(spec, ["conservation"]).results[0]
    assert exhaustive.verdict is Verdict.HOLDS  # the search was not cut short: its count is the space
    sim = simulate(compile_spec(spec), [], depth=60, seed=1, walks=walks)
    est = sim.coverage.estimate
    assert sim.coverage.distinct_states <= exhaustive.states
    assert abs(est.states - exhaustive.states) <= 0.2 * exhaustive.states, (est, exhaustive.states)
    assert est.states >= sim.coverage.distinct_states - 1


def test_bad_budgets_are_usage_errors() -> None:
    compiled = compile_spec(configure(SPEC, {"workload": "W0 F"}))
    with pytest.raises(UsageError):
        simulate(compiled, [], depth=5, seed=0)
    with pytest.raises(UsageError):
        simulate(compiled, [], depth=5, seed=0, walks=3, seconds=1.0)
    assert to_json(compiled, simulate(compiled, [], depth=5, seed=0, walks=3))["walks"] == 3


@pytest.mark.parametrize("swarm", [1, 3])
def test_the_outcome_does_not_depend_on_the_workers(swarm: int) -> None:
    """Walks run in fixed chunks in a fixed order; two forked workers give what one process gives."""
    compiled = compile_spec(configure(SPEC, {**NODRAIN_2010, "workload": "W0 W1 F"}))
    barrier = compiled.select(["barrier"])
    one, two = (to_json(compiled, simulate(compiled, barrier, depth=40, seed=5, walks=200, workers=w, swarm=swarm))
                for w in (1, 2))
    assert one.pop("workers") == 1 and two.pop("workers") == 2
    assert one["violation"] is not None
    assert one == two


def test_a_swarm_reports_each_search_and_the_union() -> None:
    spec = configure(SPEC, {"workload": "W0 W1 F", "qdepth": 2})
    compiled = compile_spec(spec)
    exhaustive = check(spec, ["conservation"]).results[0].states
    sim = simulate(compiled, [], depth=60, seed=1, walks=300, swarm=4, workers=2)
    assert len(sim.searches) == 4 and sim.walks == 1200
    assert sim.searches[0].bias.weights is None and sim.searches[0].bias.depth == 60  # the plain search
    assert all(s.bias.weights is not None and 30 <= s.bias.depth <= 60 for s in sim.searches[1:])
    assert len({s.bias for s in sim.searches}) == 4  # differently biased
    union = sim.coverage.distinct_states
    assert max(s.distinct_states for s in sim.searches) <= union <= exhaustive
    assert sum(s.walks for s in sim.searches) == sim.walks
    data = to_json(compiled, sim)
    assert [s["walks"] for s in data["swarm"]] == [300] * 4
    assert data["coverage"]["distinct_states"] == union
    plain = simulate(compiled, [], depth=60, seed=1, walks=300)
    assert plain.coverage.distinct_states == sim.searches[0].distinct_states  # search 0 is the plain simulation


def test_a_time_budget_runs_on_every_worker() -> None:
    compiled = compile_spec(configure(SPEC, {"workload": "W0 W1 F", "qdepth": 2}))
    sim = simulate(compiled, compiled.select(["conservation"]), depth=30, seed=2, seconds=1.0, workers=2)
    assert sim.violation is None and sim.walks > 0 and sim.workers == 2
    assert sim.seconds < 10


DEEP = {"workload": "W0 W1 F W2 W3 F W4 W5 W6", "qdepth": 4, "guest": "nodrain", "failures": 2,
        "flush_failures": 1, "eio_failures": 1, "migrations": 1}  # far too many states to enumerate


def test_a_deep_violation_in_a_space_too_large_to_enumerate() -> None:
    """restart_order (two writes fail around a stop; the restart after resume takes another order):
    a few walks find it; shrunk to 12 steps, the shortest (a breadth-first search bounded at depth
    12 finds it at depth 12 and none shorter)."""
    spec = configure(SPEC, DEEP)
    compiled = compile_spec(spec)
    prop = compiled.properties["restart_order"]
    sim = simulate(compiled, [prop], depth=60, seed=1, walks=10)
    v = sim.violation
    assert v is not None and v.prop == "restart_order" and sim.walks <= 10
    replay(compiled, v.shrunk, prop)
    bounded = check(spec, ["restart_order"], SearchOptions(max_depth=12, compiled=True, store="compact")).results[0]
    assert bounded.verdict is Verdict.VIOLATED
    assert len(v.trace) >= len(v.shrunk) == len(bounded.trace) == 12
