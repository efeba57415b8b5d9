"""Spilling under a memory budget: the native search moves its streamed arrays to disk and goes on.

A budget that the search's arrays would pass but its fingerprint set fits must give exactly
the unlimited search's answer (counts, verdicts, traces, the per-state arrays themselves),
with one thread or several, with liveness and `at_end` properties; the search's resident
peak stays within the budget plus SLACK, and so does the whole check's, the cycle check of an
`at_end` property and the liveness check included: a check that cannot fit says UNKNOWN with
the budget it needs. A budget the set itself passes stops the search with the bound report. A
spill directory that cannot be written is an error naming it.
"""

from __future__ import annotations

import ctypes
import errno
import json
import resource

import pytest
from conftest import NODRAIN, VIRTIO, no_c_compiler

from modelcheck import cli
from modelcheck.check import check, configure
from modelcheck.explicit import SearchOptions
from modelcheck.explicit.memory import peak_since_reset, resident
from modelcheck.explicit.native.driver import SpillError
from modelcheck.verdict import EXIT_USAGE, Verdict

pytestmark = pytest.mark.skipif(no_c_compiler(), reason="no C compiler")

# 173,358 states, 559,799 transitions: small enough for the Python liveness check
MEDIUM = {"workload": "W0 W1 F W2 W3 F", "qdepth": 4, "guest": "nodrain", "failures": 2, "migrations": 1,
          "evict": "on", "order": "fifo"}
# 3,360,953 states: a fingerprint set of 64 MB (8M slots), per-state arrays of about 60 MB
LARGE = {**MEDIUM, "flush_failures": 1, "order": "any"}
# 37,900 states: `progress` refuted by a lasso, `completion` by a cycle
STICKY = dict(NODRAIN, flush_error="sticky", flush_failures=1)
SAFETY = ["barrier", "flush_contract", "restart_order"]  # (completion, at_end, is in the liveness test)
MB = 1 << 20
SLACK = 16 * MB  # spill windows between two drops, the threads' chunk buffers, the Python between checks


@pytest.fixture
def budget_at_start(monkeypatch):
    """Make a native search's budget, where it has one, its resident size when it starts plus
    ``extra`` bytes (set ``budget_at_start.extra``): small searches then spill for certain,
    whatever Python holds."""
    from modelcheck.explicit.native import driver

    explore = driver.explore_native

    def explore_with(*args, **kw):
        if kw.get("budget") is not None:  # a search with no budget keeps none
            ctypes.CDLL(None).malloc_trim(0)
            kw["budget"] = explore_with.budget = resident() + explore_with.extra
        return explore(*args, **kw)

    explore_with.extra = 0
    monkeypatch.setattr(driver, "explore_native", explore_with)
    return explore_with


def _answers(run):
    return [(r.name, r.verdict, r.trace, r.states, r.transitions, r.depth) for r in run.results]


def _native(**kw) -> SearchOptions:
    return SearchOptions(native=True, store="compact", **kw)


@pytest.fixture(scope="module")
def large():
    spec = configure(VIRTIO, LARGE)
    return spec, check(spec, SAFETY, _native(memory=None, threads=2))


@pytest.mark.parametrize("threads", [1, 2, 3])  # 3: the 64 shards split unevenly among the threads
def test_a_budget_that_forces_spilling_gives_the_unlimited_answer(large, tmp_path, threads, budget_at_start):
    spec, exact = large
    budget_at_start.extra = 85 * MB  # the set (64 MB) fits; the set and the arrays (about 130 MB) do not
    run = check(spec, SAFETY, _native(memory=1, threads=threads, spill_dir=str(tmp_path)))
    budget = budget_at_start.budget
    ex, full = run.exploration, exact.exploration
    assert ex.spilled > 0 and ex.spill_dir == str(tmp_path) and not ex.hit_memory_bound
    assert _answers(run) == _answers(exact)
    assert ex.size == full.size == 3_360_953 and ex.transitions == full.transitions
    assert list(ex.parent) == list(full.parent) and list(ex.via) == list(full.via)
    assert list(ex.fingerprints) == list(full.fingerprints) and ex.terminal == full.terminal
    assert ex.search_peak_resident <= budget + SLACK, (ex.search_peak_resident - budget) / MB
    assert not list(tmp_path.iterdir())  # the spill files are unlinked


@pytest.mark.parametrize("threads", [1, 2])
def test_a_budget_the_fingerprint_set_passes_stops_with_the_bound_report(large, tmp_path, threads, budget_at_start):
    spec, exact = large
    budget_at_start.extra = 40 * MB  # the shards' last doublings (to 64 MB in all) cannot all fit
    run = check(spec, SAFETY, _native(memory=1, threads=threads, spill_dir=str(tmp_path)))
    budget = budget_at_start.budget
    ex = run.exploration
    assert ex.hit_memory_bound == budget and ex.spilled > 0
    assert 0 < ex.size < exact.exploration.size
    assert ex.search_peak_resident <= budget + SLACK
    for r in run.results:
        assert r.verdict is not Verdict.HOLDS, r
        if r.verdict is not Verdict.VIOLATED:
            assert "memory budget" in r.reason and f"{ex.size:,} states" in r.reason


@pytest.fixture(scope="module")
def medium():
    spec = configure(VIRTIO, MEDIUM)
    return spec, check(spec, None, _native(memory=None, threads=2))


def test_spilling_keeps_liveness_and_every_property_exact_within_the_budget(medium, tmp_path, budget_at_start):
    spec, exact = medium
    # the search spills; the liveness check (14 MB on the heap) puts its arrays on disk (16 MB,
    # then 20, left it a margin that varied by a few MB from run to run: UNKNOWN at times)
    budget_at_start.extra = 24 * MB
    run = check(spec, None, _native(memory=1, threads=2, spill_dir=str(tmp_path)))
    ex = run.exploration
    assert ex.spilled > 0 and not ex.hit_memory_bound
    assert peak_since_reset() <= budget_at_start.budget + SLACK  # the search and every check after it
    assert _answers(run) == _answers(exact)
    assert list(ex.edges) == list(exact.exploration.edges) and list(ex.marks) == list(exact.exploration.marks)
    assert {r.verdict for r in run.results} >= {Verdict.VIOLATED, Verdict.HOLDS}
    assert not list(tmp_path.iterdir())  # the liveness check's files are unlinked too


def test_a_liveness_check_that_cannot_fit_says_unknown_with_the_budget_it_needs(medium, tmp_path, budget_at_start,
                                                                               monkeypatch):
    from modelcheck.explicit.memory import Scratch

    spec, exact = medium
    monkeypatch.setattr(Scratch, "MARGIN", 1 << 40)  # what the check needs beside its arrays on disk: never there
    budget_at_start.extra = 16 * MB
    run = check(spec, None, _native(memory=1, threads=2, spill_dir=str(tmp_path)))
    assert peak_since_reset() <= budget_at_start.budget + SLACK
    progress = next(r for r in run.results if r.name == "progress")
    assert progress.verdict is Verdict.UNKNOWN and progress.trace is None
    assert "liveness check of progress" in progress.reason and "--memory to at least" in progress.reason
    rest = [a for a in _answers(run) if a[0] != "progress"]
    assert rest == [a for a in _answers(exact) if a[0] != "progress"]


@pytest.mark.parametrize(("cls", "settings", "extra"), [(VIRTIO, MEDIUM, 80), (None, STICKY, 60)],
                         ids=["holds", "lasso"])
def test_a_liveness_check_that_fits_the_budget_gives_the_unlimited_answer_within_it(cls, settings, extra,
                                                                                      budget_at_start, tmp_path):
    from test_liveness import WithProgress

    spec = configure(cls or WithProgress, settings)
    exact = check(spec, ["progress"], _native(memory=None))
    budget_at_start.extra = extra * MB
    run = check(spec, ["progress"], _native(memory=1, spill_dir=str(tmp_path)))
    assert peak_since_reset() <= budget_at_start.budget + SLACK
    assert _answers(run) == _answers(exact) and run.results[0].verdict is not Verdict.UNKNOWN


def test_a_liveness_check_on_disk_draws_the_same_lasso(tmp_path, monkeypatch):
    """Its arrays in files, every mapped page dropped at each look: the same verdict and lasso."""
    from test_liveness import WithProgress

    from modelcheck.explicit import liveness
    from modelcheck.explicit.memory import Scratch

    spec = configure(WithProgress, STICKY)
    exact = check(spec, ["progress"], _native(memory=None))
    dropped = []
    monkeypatch.setattr(liveness, "_on_disk", lambda *a: True)
    monkeypatch.setattr(Scratch, "TICKS", 8)
    monkeypatch.setattr(Scratch, "tick", lambda self, weight=1: (self.drop(), dropped.append(weight)))
    run = check(spec, ["progress"], _native(memory=None, spill_dir=str(tmp_path)))
    assert dropped and run.results[0].trace.loop_start is not None
    assert _answers(run) == _answers(exact)


def test_the_cycle_check_of_an_at_end_property_stays_within_a_budget_that_forces_spilling(tmp_path, budget_at_start):
    spec = configure(VIRTIO, LARGE)
    exact = check(spec, ["completion"], _native(memory=None, threads=2))
    budget_at_start.extra = 110 * MB  # the set with its ids (96 MB) fits; the peeling's arrays (99 MB) too, alone
    run = check(spec, ["completion"], _native(memory=1, threads=2, spill_dir=str(tmp_path)))
    ex = run.exploration
    assert ex.spilled > 0 and not ex.hit_memory_bound and ex.ends_checked
    assert peak_since_reset() <= budget_at_start.budget + SLACK, (peak_since_reset() - budget_at_start.budget) / MB
    assert _answers(run) == _answers(exact)


def test_a_cycle_too_large_to_draw_within_the_budget_is_unknown_with_the_budget_it_needs(tmp_path, budget_at_start):
    from test_liveness import WithProgress

    spec = configure(WithProgress, STICKY)
    exact = check(spec, ["completion"], _native(memory=None))
    assert exact.results[0].verdict is Verdict.VIOLATED and exact.results[0].trace.loop_start is not None
    budget_at_start.extra = 4 * MB  # the search ends (spilling or not); drawing its cycle (about 3 MB) does not fit
    run = check(spec, ["completion"], _native(memory=1, spill_dir=str(tmp_path)))
    ex, result = run.exploration, run.results[0]
    assert not ex.hit_memory_bound and ex.size == exact.exploration.size and ex.ends_checked
    assert peak_since_reset() <= budget_at_start.budget + SLACK
    assert result.verdict is Verdict.UNKNOWN and result.trace is None
    assert "drawing a cycle" in result.reason and "--memory to at least" in result.reason
    budget_at_start.extra = 12 * MB  # drawing it (compressed rows, about 3 MB) fits
    run = check(spec, ["completion"], _native(memory=1, spill_dir=str(tmp_path)))
    assert peak_since_reset() <= budget_at_start.budget + SLACK
    assert _answers(run) == _answers(exact)


def test_a_spill_file_that_cannot_grow_is_an_error_naming_the_directory(tmp_path, budget_at_start):
    spec = configure(VIRTIO, MEDIUM)
    check(spec, ["progress"], _native(memory=None))  # code built and cached before the limit
    budget_at_start.extra = 10 * MB
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 * MB, hard))  # as a full disk: no file past 1 MB
    try:
        with pytest.raises(SpillError) as raised:
            check(spec, ["progress"], _native(memory=1, spill_dir=str(tmp_path)))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert raised.value.where == str(tmp_path) and raised.value.errno == errno.EFBIG
    assert str(tmp_path) in str(raised.value) and "--spill-dir" in str(raised.value)
    assert raised.value.exit_code == EXIT_USAGE


@pytest.mark.parametrize("where", ["missing", "a-file"])
def test_an_unwritable_spill_dir_is_a_usage_error(tmp_path, capsys, where):
    (tmp_path / "a-file").write_text("")
    place = str(tmp_path / where)
    code = cli.main(["check", VIRTIO, "-q", "--no-progress", "-p", "barrier", "--memory", "1G", "--spill-dir", place])
    assert code == EXIT_USAGE
    assert place in capsys.readouterr().err


def test_check_says_that_it_spilled_how_much_and_where(tmp_path, capsys, budget_at_start):
    budget_at_start.extra = 10 * MB
    out = tmp_path / "out.json"
    argv = ["check", VIRTIO, "-q", "--no-progress", "--backend", "native", "--memory", "1G", "--spill-dir",
            str(tmp_path), "--json", str(out)] + [a for n, v in MEDIUM.items() for a in ("--set", f"{n}={v}")]
    assert cli.main(argv) == 1  # barrier and others are violated in this configuration
    memory = json.loads(out.read_text())["memory"]
    assert memory["spilled_bytes"] > 0 and memory["spill_dir"] == str(tmp_path) and not memory["hit_budget"]
    assert memory["search_peak_resident"] <= budget_at_start.budget + SLACK
    assert f"to {tmp_path}" in capsys.readouterr().out


def test_a_liveness_file_that_cannot_grow_is_an_error_naming_the_directory(tmp_path, monkeypatch):
    from modelcheck.explicit import liveness

    spec = configure(VIRTIO, MEDIUM)
    check(spec, ["progress"], _native(memory=None))  # code built and cached before the limit
    monkeypatch.setattr(liveness, "_on_disk", lambda *a: True)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))  # as a full disk: no file past 64 KB
    try:
        with pytest.raises(SpillError) as raised:
            check(spec, ["progress"], _native(memory=None, spill_dir=str(tmp_path)))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert raised.value.where == str(tmp_path) and raised.value.errno == errno.EFBIG
    assert raised.value.exit_code == EXIT_USAGE


def _lasso_with_networkx(parent, via, pairs, left):
    """What cycles.lasso_among returned before it kept compressed rows: the reference."""
    import networkx as nx

    graph = nx.DiGraph()
    for v, flag in enumerate(left):
        if flag:
            graph.add_node(v)
            p = parent[v]
            if p >= 0 and left[p]:
                graph.add_edge(p, v, via=via[v])
    for n in range(0, len(pairs), 2):
        a, b = pairs[n], pairs[n + 1]
        if left[a] and left[b] and not graph.has_edge(a, b):
            graph.add_edge(a, b, via=-1)
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return None
    return cycle[0][0], [(graph.edges[a, b]["via"], b) for a, b in cycle]


@pytest.mark.parametrize("seed", range(100))
def test_a_part_walks_the_paths_networkx_walks(seed):
    """Random graphs, edges in a random order: the same successors, instances and shortest
    paths (networkx's bidirectional search) between every two states."""
    import random

    import networkx as nx
    import numpy as np

    from modelcheck.explicit.cycles import Part

    rng = random.Random(seed)
    ids = sorted(rng.sample(range(1000), rng.randint(1, 25)))
    edges = {(rng.choice(ids), rng.choice(ids)): rng.randrange(9) for _ in range(rng.randint(0, 4 * len(ids)))}
    graph = nx.DiGraph()
    graph.add_nodes_from(ids)
    graph.add_edges_from((a, b, {"via": [v]}) for (a, b), v in edges.items())
    src, dst, via = (np.array([e[i] for e in ((a, b, v) for (a, b), v in edges.items())], dtype=np.int64)
                     for i in range(3))
    part = Part(np.array(ids, dtype=np.int64), src, dst, via)
    for a in ids:
        assert part.successors(a) == list(graph.successors(a))
        for b in graph.successors(a):
            assert part.via(a, b) == graph.edges[a, b]["via"][0]
        for b in ids:
            if nx.has_path(graph, a, b):
                assert part.shortest_path(a, b) == nx.shortest_path(graph, a, b), (a, b)


@pytest.mark.parametrize("seed", range(300))
def test_the_compact_cycle_is_the_one_networkx_finds(seed):
    """A breadth-first tree (parents non-decreasing) with random extra steps, random states
    left: lasso_among gives networkx's very cycle, or none when networkx finds none."""
    import random
    from array import array

    from modelcheck.explicit.cycles import lasso_among

    rng = random.Random(seed)
    n = rng.randint(1, 40)
    roots = rng.randint(1, min(3, n))
    parent = array("i", [-1] * roots + sorted(rng.randrange(0, v) for v in range(roots, n)))
    via = array("h", [rng.randrange(5) for _ in range(n)])
    pairs = array("i", [rng.randrange(n) for _ in range(2 * rng.randint(0, 3 * n))])
    left = array("B", [rng.random() < 0.8 for _ in range(n)])
    assert lasso_among(parent, via, pairs, left) == _lasso_with_networkx(parent, via, pairs, left)


def test_budgets_around_the_cycle_checks_own_spill_give_the_unlimited_answer(tmp_path, budget_at_start):
    """Budgets from where the search must spill to where nothing spills: somewhere between, the
    search fits but the cycle check's arrays do not, so the check itself spills the parents and
    pairs, which moves them (the check once read them through pointers taken before: a crash or
    a wrong answer)."""
    spec = configure(VIRTIO, MEDIUM)
    exact = _answers(check(spec, ["completion"], _native(memory=None)))
    for extra in range(6, 30):
        budget_at_start.extra = extra * MB
        run = check(spec, ["completion"], _native(memory=1, spill_dir=str(tmp_path)))
        if not run.exploration.hit_memory_bound:
            assert _answers(run) == exact, extra
