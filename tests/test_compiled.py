"""Compiled successor mode: exactly the plain search (states in order, edges, verdicts, traces),
and a plain fallback, never a wrong answer, where the spec's code cannot be compiled."""

from __future__ import annotations

from itertools import product

import pytest
from conftest import FIXTURES, VIRTIO
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from modelcheck import Bool, Int, Spec, action, always, require
from modelcheck.check import check, configure
from modelcheck.errors import SpecError
from modelcheck.explicit import SearchOptions
from modelcheck.explicit.compiled.expander import compile_source, flat_expander
from modelcheck.explicit.compiled.python_source import PathCode, PlainCall, Program, build, successor_source
from modelcheck.explicit.flat import flat_fingerprint
from modelcheck.spec import compile_spec

CLOCK = str(FIXTURES / "clock.py")
EDGES = str(FIXTURES / "edges.py")


def both(spec: Spec, props: list[str] | None = None, **options: object) -> tuple:
    plain = check(spec, props, SearchOptions(**options))
    fast = check(spec, props, SearchOptions(compiled=True, **options))
    return plain, fast


def assert_same(plain, fast, compact: bool = False) -> None:
    a, b = plain.exploration, fast.exploration
    assert b.fallback == ""
    assert (a.size, a.transitions, a.max_depth) == (b.size, b.transitions, b.max_depth)
    assert list(a.parent) == list(b.parent) and list(a.via) == list(b.via)
    assert a.initial_ids == b.initial_ids and a.terminal == b.terminal and a.fired == b.fired
    if compact:
        assert [b.state(i) for i in range(0, b.size, max(1, b.size // 7))] == \
               [a.state(i) for i in range(0, a.size, max(1, a.size // 7))]
    else:
        assert a.states == b.states
        assert list(a.edges or []) == list(b.edges or [])
    for x, y in zip(plain.results, fast.results, strict=True):
        assert (x.name, x.verdict, x.reason) == (y.name, y.verdict, y.reason)
        assert x.trace == y.trace


VIRTIO_CONFIGS = [
    {},
    {"profile": "qemu-2010"},
    {"profile": "qemu-9.0", "order": "fifo"},
    {"profile": "fifo", "guest": "nodrain"},
    {"profile": "flush-after-restart"},
    {"profile": "flush-after-restart", "order": "fifo", "guest": "nodrain"},
    {"profile": "ordered-flush", "evict": "off"},
    {"workload": "W0 R0 F W0 R0", "read_failures": 1, "rerror": "report"},
    {"workload": "W0 F W1", "eio_failures": 1, "flush_failures": 1, "werror": "enospc"},
    {"workload": "W0 W0 F", "werror": "ignore", "failures": 2, "migrations": 2},
    {"workload": "W1 F R1", "order": "fifo", "qdepth": 2, "werror": "report", "eio_failures": 1},
]


def _name(settings: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in settings.items()) or "default"


@pytest.mark.parametrize("settings", VIRTIO_CONFIGS, ids=_name)
def test_virtio_blk_same_search_every_property(settings):
    plain, fast = both(configure(VIRTIO, settings))
    assert_same(plain, fast)


def test_virtio_blk_compact_store_same_ids_and_traces():
    spec = configure(VIRTIO, {"workload": "W0 W1 F W2", "guest": "nodrain", "failures": 2})
    plain, fast = both(spec, None, store="compact")
    assert_same(plain, fast, compact=True)
    assert any(r.trace is not None for r in fast.results)


def test_virtio_blk_pinned_small_benchmark_counts():
    spec = configure(VIRTIO, {"workload": "W0 W1 F W2 F", "qdepth": 3, "guest": "drain", "failures": 2,
                              "migrations": 1})
    fast = check(spec, ["barrier"], SearchOptions(compiled=True, store="compact"))
    assert (fast.exploration.size, fast.exploration.transitions) == (1118, 2371)
    assert fast.exploration.fallback == ""


def test_bounds_and_workers_give_the_same_search():
    spec = configure(VIRTIO, {"workload": "W0 F W1", "guest": "nodrain"})
    assert_same(*both(spec, None, max_states=150))
    assert_same(*both(spec, None, max_depth=4))
    assert_same(*both(spec, None, workers=2))


def test_fixture_specs():
    assert_same(*both(configure(CLOCK)))
    for settings in ({"edges": "0>1 1>2 2>3 0>4 4>3 3>5", "bad": "3"}, {"edges": "0>1 0>2", "ends": "2"},
                     {"edges": "1>2", "start": "0"}):
        assert_same(*both(configure(EDGES, settings)))


def test_reductions_and_hint_checks_fall_back_with_a_reason():
    spec = compile_spec(configure(CLOCK))
    props = list(spec.properties.values())
    assert flat_expander(spec, props, reductions=True)[0] is None
    fx, why = flat_expander(spec, props, check_hints=True)
    assert fx is None and "hint" in why
    fx, why = flat_expander(spec, props)
    assert fx is not None and why == ""
    assert flat_expander(spec, props)[0] is fx  # compiled once per configuration


def test_fingerprint_is_hash_free_of_the_seed():
    assert flat_fingerprint((0, 1, -1, 5)) == flat_fingerprint((0, 1, -1, 5))
    assert -2**63 <= flat_fingerprint((-3, 2)) < 2**63
    assert flat_fingerprint((-3, 2)) == hash((-3, 2))


class Unfollowable(Spec):
    """Code the symbolic engine cannot follow (a dict keyed by a field): run as the spec's own code."""

    def fields(self):
        return {"n": Int(0, 4)}

    def initial(self):
        yield self.state(n=0)

    @action
    def step(self, s):
        require(s.n < 4)
        return s.replace(n={0: 2, 1: 3, 2: 1, 3: 4}[s.n])

    @action
    def back(self, s):
        require(s.n > 2)
        return s.replace(n=s.n - 3)

    @always
    def small(self, s):
        return {0: True, 1: True, 2: True, 3: True, 4: False}[s.n]


class MinusOne(Spec):
    """A leaf that is -1 in one state and -2 in another: ``hash(-1) == hash(-2)`` in CPython."""

    def fields(self):
        return {"m": Int(-3, 3), "k": Int(0, 2)}

    def initial(self):
        yield self.state(m=-3, k=0)

    @action
    def up(self, s):
        require(s.m < 3)
        return s.replace(m=s.m + 1)

    @action
    def turn(self, s):
        return s.replace(k=(s.k + 1) % 3)


@pytest.mark.parametrize("workers", [1, 2])
def test_negative_leaves_keep_their_states_in_the_compact_store(workers):
    plain = check(MinusOne()).exploration
    fast = check(MinusOne(), None, SearchOptions(compiled=True, store="compact", workers=workers)).exploration
    assert plain.size == fast.size == 21 and fast.fallback == ""
    assert list(plain.parent) == list(fast.parent)


def test_unfollowable_code_runs_as_the_specs_own_code():
    compiled = compile_spec(Unfollowable())
    _, source, plain = compile_source(compiled, list(compiled.properties.values()))
    assert list(plain) == ["step"]
    assert "_fire(0, x)" in source and "_holds(0, x)" in source
    assert_same(*both(Unfollowable()))


class Crashes(Spec):
    """An action that raises in a reachable state, and one that leaves its field's type."""

    def fields(self):
        return {"n": Int(0, 3)}

    def initial(self):
        yield self.state(n=0)

    @action
    def up(self, s):
        return s.replace(n=s.n + 1)

    @action
    def pick(self, s):
        require(s.n >= 1)
        return s.replace(n=(0, 1, 2)[s.n])


class RaisesFirst(Spec):
    """``pick`` raises IndexError at n=3 (a crash path, not a type fault)."""

    def fields(self):
        return {"n": Int(0, 3)}

    def initial(self):
        yield self.state(n=0)

    @action
    def pick(self, s):
        require(s.n >= 1)
        return s.replace(n=(0, 1, 2)[s.n])

    @action
    def up(self, s):
        require(s.n < 3)
        return s.replace(n=s.n + 1)


@pytest.mark.parametrize("cls", [Crashes, RaisesFirst])
def test_a_crash_or_type_fault_is_the_plain_error(cls):
    with pytest.raises(SpecError) as plain:
        check(cls())
    with pytest.raises(SpecError) as fast:
        check(cls(), None, SearchOptions(compiled=True))
    assert str(fast.value) == str(plain.value)


# --------------------------------------------------------------------------- the tests around paths

ATOMS = ["(0 == v0)", "(1 == v0)", "(v0 == 2)", "(not (v0 == 1))", "(not (2 == v0))", "(v1 == 0)", "(1 == v1)",
         "(not (v1 == 0))", "v2", "(not v2)", "(v0 <= v1)", "(not (v0 <= 1))", "((v0 == 1) or v2)", "(2 == v1)"]


def _program(items: list[tuple[str, list[str], str | None]]) -> Program:
    """Paths (or ``plain`` calls) with the given conjuncts and faults, path ``k`` stored as instance ``k``."""
    paths: list[PathCode | PlainCall] = []
    for k, (kind, guard, fault) in enumerate(items):
        if kind == "plain":
            paths.append(PlainCall(k, 0, "plain", "test"))
        else:
            paths.append(PathCode(k, guard, fault, ["v0", "v1", "v2"]))
    return Program("paths", 3, ["a", "b", "c"], None, [], [], [], paths)


def _naive(items: list[tuple[str, list[str], str | None]], x: tuple[int, ...]) -> object:
    env = dict(zip(("v0", "v1", "v2"), x))
    out = []
    for k, (kind, guard, fault) in enumerate(items):
        if kind == "plain":
            out.append(("fire", x))
        elif all(eval(c, {}, env) for c in guard):
            if fault is not None and eval(fault, {}, env):
                return "plain"
            out.append((k, x, ()))
    return out


item = st.tuples(st.sampled_from(["path"] * 9 + ["plain"]), st.lists(st.sampled_from(ATOMS), max_size=4, unique=True),
                 st.one_of(st.none(), st.sampled_from(ATOMS)))


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.lists(item, max_size=14))
def test_nested_tests_fire_the_same_paths_in_the_same_order(items):
    source = successor_source(_program(items))
    expand = build(source, "<paths>", {"_plain": lambda x, successors: "plain",
                                       "_fire": lambda a, x: [("fire", x)], "_holds": None})
    for x in product(range(3), range(3), range(2)):
        got = expand(x)
        assert (got if got == "plain" else got[4]) == _naive(items, x), source


def test_exclusive_selectors_become_one_branch_per_value():
    items = [("path", [f"({k % 3} == v0)", "(not (v1 == 2))"], None) for k in range(6)]
    source = successor_source(_program(items))
    assert source.count("(not (v1 == 2))") == 1  # tested once for the run
    assert "if v0 == 0:" in source and "elif v0 == 1:" in source and "elif v0 == 2:" in source
    look_alike = [("path", ["(0 == v0)"], None), ("path", ["(v1 == 1)"], None), ("path", ["(1 == v0)"], None)]
    assert "elif" not in successor_source(_program(look_alike))  # v0's paths are not adjacent


def test_virtio_blk_code_splits_on_selector_leaves():
    compiled = compile_spec(configure(VIRTIO, {"guest": "nodrain"}))
    _, source, _ = compile_source(compiled, list(compiled.properties.values()))
    assert "elif v" in source


def test_a_stored_leaf_is_printed_where_its_guard_holds():
    import z3

    from modelcheck.explicit.compiled.expander import _facts, _under

    n, m = z3.Ints("n m")
    full, empty = n >= 3, z3.Not(m == 0)
    facts = _facts([full, empty])
    assert _under(z3.If(full, n - 1, n), facts).eq(z3.simplify(n - 1))
    assert _under(z3.If(m == 0, n, m), facts).eq(m)
    assert _under(z3.If(n >= 4, n, m), facts).eq(z3.If(n >= 4, n, m))  # not a conjunct: left alone


class LookAlike(Spec):
    """Guards that test the same leaves against constants but are not exclusive (or only in part)."""

    def fields(self):
        return {"a": Int(0, 2), "b": Int(0, 2), "on": Bool()}

    def initial(self):
        yield self.state(a=0, b=0, on=False)

    def values(self):
        return range(3)

    @action(i="values")
    def bump_a(self, s, i):
        require(s.a == i or s.b == i)
        return s.replace(a=(s.a + 1) % 3)

    @action(i="values")
    def bump_b(self, s, i):
        require(s.b == i)
        require(s.on or s.a != i)
        return s.replace(b=(s.b + i + 1) % 3, on=not s.on)

    @action(i="values")
    def tick(self, s, i):
        require(s.a == i)
        require(s.b == i or not s.on)
        return s.replace(on=not s.on, b=(s.b + 1) % 3)

    @always
    def fine(self, s):
        return s.a + s.b < 5


def test_look_alike_guards_give_the_plain_search():
    assert_same(*both(LookAlike()))
    assert_same(*both(LookAlike(), None, store="compact"), compact=True)
