"""The compact store's pieces: the batched fingerprint set against a Python set, packed
frontier levels, and the search's ids under batching and bounds against the full store."""

from __future__ import annotations

import pytest
from conftest import VIRTIO
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcheck.check import check, configure
from modelcheck.explicit import SearchOptions, interpreted, stores
from modelcheck.explicit.compact import FingerprintSet, PackedLevel, level_factory
from modelcheck.explicit.flat import leaf_range
from modelcheck.explicit.parallel import PackedPool

FP = st.integers(min_value=0, max_value=2**64 - 1)


@given(st.lists(st.lists(st.one_of(FP, st.integers(0, 40)), max_size=60), max_size=30))
@settings(max_examples=200, deadline=None)
def test_fingerprint_set_answers_as_a_python_set(batches):
    """Per batch: the positions of first occurrences of values not seen before, in order."""
    store, seen = FingerprintSet(), set()
    for batch in batches:
        want = []
        for n, fp in enumerate(batch):
            if fp not in seen:
                seen.add(fp)
                want.append(n)
        assert store.add_new(batch) == want
        assert len(store) == len(seen)
    for fp in list(seen)[:20]:
        assert fp in store
    assert (2**64 - 3 in store) == (2**64 - 3 in seen)


def test_fingerprint_set_keeps_few_runs():
    store = FingerprintSet()
    for start in range(0, 100_000, 1000):
        store.add_new(range(start, start + 1000))
    assert len(store) == 100_000
    assert len(store.runs) <= 17  # log-structured: O(log n) sorted runs
    assert all((run[:-1] < run[1:]).all() for run in store.runs)


def test_packed_level_round_trips_signed_leaves():
    level = PackedLevel("b", 3)
    rows = [(-1, 0, 5), (6, -1, -1), (0, 0, 0)]
    for row in rows:
        level.append(row)
    assert len(level) == 3
    assert [tuple(x) for x in level] == rows
    a, b, c = next(iter(level))  # generated code unpacks a packed state like a tuple
    assert (a, b, c) == (-1, 0, 5)


def test_level_factory_picks_the_narrowest_type():
    spec = configure(VIRTIO, {"workload": "W0 W1 F W2 W3 F", "qdepth": 4})
    cls = spec.state_class()
    lo, hi = leaf_range(cls)
    assert lo == -1 and 0 < hi < 128  # "no write" is -1 in the cache and on disk
    assert level_factory(cls)().codec.format == "<71b"


@pytest.mark.parametrize(("compiled", "workers"), [(False, 1), (True, 1), (True, 2)])
@pytest.mark.parametrize("max_states", [None, 700])
def test_small_chunks_and_bounds_give_the_full_stores_ids(monkeypatch, compiled, workers, max_states):
    """Successors looked up a few at a time, across level and chunk boundaries (or expanded
    by two workers a few packed states at a time), and a state bound that cuts a level
    short: the same ids, parents, steps, verdicts and traces as the full store."""
    monkeypatch.setattr(stores, "CHUNK", 7)
    monkeypatch.setattr(PackedPool.__init__, "__defaults__", (5,))  # chunks of 5 states
    spec = configure(VIRTIO, {"workload": "W0 W1 F W2", "guest": "nodrain", "failures": 2})
    runs = [check(spec, ["barrier", "restart_order"],
                  SearchOptions(store=store, compiled=compiled, max_states=max_states, workers=w))
            for store, w in (("full", 1), ("compact", workers))]
    full, compact = (run.exploration for run in runs)
    assert compact.fallback == ""
    assert (compact.size, compact.transitions, compact.hit_state_bound) == \
           (full.size, full.transitions, full.hit_state_bound)
    assert compact.hit_state_bound == (max_states is not None)
    assert list(compact.parent) == list(full.parent) and list(compact.via) == list(full.via)
    assert [(r.verdict, r.trace) for r in runs[0].results] == [(r.verdict, r.trace) for r in runs[1].results]
    assert any(r.trace is not None for r in runs[1].results)


def test_search_pauses_the_collector_and_always_restores_it(monkeypatch):
    """The cyclic collector is off during a search (it would rescan every live state) and on
    again afterwards, also when the search stops with an error."""
    import gc

    spec = configure(VIRTIO, {"workload": "W0 F"})
    seen = []
    real = interpreted.Expander.expand

    def spying(self, s, successors=True, full=False):
        seen.append(gc.isenabled())
        if len(seen) == 20:
            raise RuntimeError("stop here")
        return real(self, s, successors, full)

    assert gc.isenabled()
    check(spec, ["barrier"])
    assert gc.isenabled()
    monkeypatch.setattr(interpreted.Expander, "expand", spying)
    with pytest.raises(RuntimeError, match="stop here"):
        check(spec, ["barrier"])
    assert seen and not any(seen)
    assert gc.isenabled()


def test_signed_fingerprints():
    store = FingerprintSet(signed=True)
    assert store.add_new([-2**63, 2**63 - 1, -1, -1, 0]) == [0, 1, 2, 4]
    assert -1 in store and 1 not in store
