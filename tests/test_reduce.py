"""Symmetry and partial-order reduction: the same verdicts as the plain search, pinned state counts.

A change in a pinned count means a reduction now explores something else: find out why
before updating it.
"""

from __future__ import annotations

import pytest
from conftest import ANY, NODRAIN, SMALL, VIRTIO, no_c_compiler
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelcheck.check import check, configure
from modelcheck.explicit import SearchOptions, explore
from modelcheck.explicit.reductions.hooks import canonicalizer
from modelcheck.explicit.reductions.symmetry import check_symmetry
from modelcheck.spec import compile_spec
from modelcheck.verdict import Verdict

MODES = {
    "plain": SearchOptions(),
    "symmetry": SearchOptions(symmetry=True),
    "por": SearchOptions(por=True),
    "both": SearchOptions(symmetry=True, por=True),
    "parallel": SearchOptions(workers=2),
    "compiled": SearchOptions(compiled=True),
    "compiled-symmetry": SearchOptions(compiled=True, symmetry=True),
    "compiled-parallel": SearchOptions(compiled=True, workers=2, store="compact"),
    "compiled-symmetry-parallel": SearchOptions(compiled=True, symmetry=True, workers=2, store="compact"),
    "native": SearchOptions(native=True, store="compact"),
}
SAME_AS = {"parallel": "plain", "compiled": "plain", "compiled-symmetry": "symmetry", "compiled-parallel": "plain",
           "compiled-symmetry-parallel": "symmetry", "native": "plain"}


def run(settings_: dict, mode: str, props: list[str] | None = None):
    """The check of one configuration in one mode (every trace replays: check() verifies it)."""
    opts = MODES[mode]
    return check(configure(VIRTIO, settings_), props or [], SearchOptions(
        symmetry=opts.symmetry, por=opts.por, workers=opts.workers, compiled=opts.compiled, store=opts.store,
        native=opts.native))


def verdicts(run_) -> dict[str, tuple[Verdict, int | None]]:
    return {r.name: (r.verdict, len(r.trace.steps) if r.trace else None) for r in run_.results}


# ----------------------------------------------------------------- symmetry promises

@pytest.mark.parametrize("settings_", [
    {"workload": "W0 W1 W2 F", "guest": "nodrain", "qdepth": 3, "failures": 1, "migrations": 0, "evict": "off"},
    {"workload": "W0 W1 F W2 W3", "guest": "nodrain", "qdepth": 2, "order": "fifo", "profile": "fifo"},
    {"workload": "W0 R1 W2 W3", "guest": "nodrain", "qdepth": 2, "profile": "flush-after-restart",
     "read_failures": 1, "werror": "enospc", "eio_failures": 1, "failures": 0},
])
def test_symmetry_is_an_automorphism_on_every_reachable_state(settings_):
    """At every reachable state, every allowed permutation maps steps to steps and keeps every property."""
    compiled = compile_spec(configure(VIRTIO, settings_))
    canon = canonicalizer(compiled)
    assert canon is not None
    states = explore(compiled, []).states
    check_symmetry(compiled, canon, states, list(compiled.properties.values()))


def test_symmetry_groups_only_lone_writes_of_one_interval():
    spec = configure(VIRTIO, {"workload": "W0 W1 R1 F W2 W3 W3 W4 F W5"})
    assert spec.symmetry().groups == ((0,), (4, 7), (9,))


# ----------------------------------------------------------------- same verdicts

TOKENS = ["W0", "W1", "W2", "F", "R1", "W1"]


@st.composite
def configurations(draw, longest: int = 3) -> dict:
    workload = draw(st.lists(st.sampled_from(TOKENS), min_size=2, max_size=longest))
    if all(t[0] != "W" for t in workload):
        workload[0] = "W0"
    return {
        "workload": " ".join(workload),
        "qdepth": draw(st.integers(1, 3)),
        "guest": draw(st.sampled_from(["drain", "nodrain"])),
        "profile": draw(st.sampled_from(["qemu-2010", "qemu-7.2", "qemu-9.0", "fifo", "flush-after-restart",
                                         "ordered-flush"])),
        "order": draw(st.sampled_from(["any", "fifo"])),
        "evict": draw(st.sampled_from(["on", "off"])),
        "failures": draw(st.integers(0, 1)),
        "flush_failures": draw(st.integers(0, 1)),
        "read_failures": draw(st.integers(0, 1)),
        "werror": draw(st.sampled_from(["stop", "enospc", "report"])),
        "migrations": draw(st.integers(0, 1)),
    }


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configurations(longest=4))
def test_symmetry_keeps_verdicts_and_shortest_lengths(settings_):
    """Every property: the same verdict, and a counterexample (or witness) of the same length."""
    plain, sym = run(settings_, "plain"), run(settings_, "symmetry")
    assert verdicts(sym) == verdicts(plain)
    assert sym.exploration.size <= plain.exploration.size


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configurations(longest=4))
def test_compiled_symmetry_is_the_symmetry_search(settings_):
    """Generated successors and canonicalizer: the very states, steps and traces of the symmetry search."""
    sym, fast = run(settings_, "symmetry"), run(settings_, "compiled-symmetry")
    assert fast.exploration.fallback == ""
    assert verdicts(fast) == verdicts(sym)
    a, b = sym.exploration, fast.exploration
    assert (a.size, a.transitions, list(a.parent), list(a.via)) == (b.size, b.transitions, list(b.parent), list(b.via))
    assert [r.trace for r in fast.results] == [r.trace for r in sym.results]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configurations())
def test_por_keeps_verdicts(settings_):
    """Every property: the same verdict; a trace is never shorter than the shortest, and it replays."""
    plain = verdicts(run(settings_, "plain"))
    for mode in ("por", "both"):
        reduced_run = run(settings_, mode)
        live = {r.name for r in reduced_run.results if r.kind in ("eventually", "leads_to")}
        assert all(r.verdict is Verdict.UNKNOWN for r in reduced_run.results if r.name in live)  # not preserved
        reduced = {k: v for k, v in verdicts(reduced_run).items() if k not in live}
        assert {k: v for k, (v, _) in reduced.items()} == {k: v for k, (v, _) in plain.items() if k not in live}
        for name, (_, length) in reduced.items():
            assert (length is None) == (plain[name][1] is None)
            assert length is None or length >= plain[name][1]


def test_por_trace_says_it_is_not_necessarily_shortest():
    settings_ = {"workload": "W0 F", "guest": "nodrain", "profile": "qemu-2010"}
    result = {r.name: r for r in run(settings_, "por", ["barrier"]).results}["barrier"]
    assert result.verdict is Verdict.VIOLATED
    assert result.reason
    plain = {r.name: r for r in run(settings_, "plain", ["barrier"]).results}["barrier"]
    assert not plain.reason


# ----------------------------------------------------------------- pinned counts

# (configuration, properties) -> mode -> (states, transitions)
PINNED = {
    ("small", "barrier"): (SMALL, ["barrier"], {
        "plain": (1118, 2371), "symmetry": (789, 1620), "por": (1118, 2263), "both": (789, 1540)}),
    ("nodrain", "flush_contract"): (NODRAIN, ["flush_contract"], {
        "plain": (10391, 32519), "symmetry": (5656, 17633), "por": (10374, 29784), "both": (5641, 16132)}),
    ("any", "all"): (ANY, [], {
        "plain": (5636, 17959), "symmetry": (1304, 4090), "por": (5636, 17769), "both": (1304, 4053)}),
}


@pytest.mark.parametrize("key", list(PINNED))
@pytest.mark.parametrize("mode", list(MODES))
def test_pinned_counts(key, mode):
    settings_, props, pinned = PINNED[key]
    ex = run(settings_, mode, props).exploration
    assert ex.fallback == ""
    if mode == "native" and no_c_compiler():
        pytest.skip("no C compiler (.ci/run installs gcc)")
    assert ex.native_fallback == "" and bool(ex.native) == (mode == "native")
    assert (ex.size, ex.transitions) == pinned[SAME_AS.get(mode, mode)]
