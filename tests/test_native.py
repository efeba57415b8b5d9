"""Native search: the compact-store search of the compiled mode, state for state, in C.

Every test compares the native search with the compiled Python search on the compact store
(which test_compiled holds against the plain search): the same ids, parents, steps, depths,
counts, evidence, verdicts and traces. Only the fingerprints differ (see modelcheck.explicit.native.driver).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import pytest
from conftest import ANY, NODRAIN, SMALL, VIRTIO, no_c_compiler
from test_compiled import VIRTIO_CONFIGS, Crashes, RaisesFirst, Unfollowable, _name

from modelcheck import Int, Spec, action, always, always_on_step, require
from modelcheck.check import check, configure
from modelcheck.errors import SpecError
from modelcheck.explicit import SearchOptions
from modelcheck.explicit.native import driver
from modelcheck.explicit.native.c_source import NotC, c_function
from modelcheck.explicit.native.driver import compiler

GRAPH_KINDS = ("at_end", "eventually", "leads_to")  # judged on the graph's steps, which the compact Python store drops

pytestmark = pytest.mark.skipif(no_c_compiler(), reason="no C compiler (.ci/run installs gcc)")


def both(spec: Spec, props: list[str] | None = None, **options: object) -> tuple:
    python = check(spec, props, SearchOptions(compiled=True, store="compact", **options))
    native = check(spec, props, SearchOptions(native=True, store="compact", **options))
    if any(r.kind in GRAPH_KINDS for r in native.results):  # the compact Python store leaves them UNKNOWN
        native.exact = check(spec, [r.name for r in native.results if r.kind in GRAPH_KINDS],
                             SearchOptions(**options))
    return python, native


def assert_same(python, native) -> None:
    a, b = python.exploration, native.exploration
    assert b.native and b.native_fallback == "", b.native_fallback
    assert (a.size, a.transitions, a.max_depth) == (b.size, b.transitions, b.max_depth)
    assert list(a.parent) == list(b.parent) and list(a.via) == list(b.via) and list(a.depth) == list(b.depth)
    assert a.initial_ids == b.initial_ids and a.terminal == b.terminal and a.fired == b.fired
    assert (a.hit_state_bound, a.hit_depth_bound) == (b.hit_state_bound, b.hit_depth_bound)
    asked = {r.name for r in python.results}  # not the witnesses the native search adds for liveness (marks)
    assert a.violated_at == {k: v for k, v in b.violated_at.items() if k in asked}
    assert a.violated_step == {k: v for k, v in b.violated_step.items() if k in asked}
    step = max(1, b.size // 7)
    assert [b.state(i) for i in range(0, b.size, step)] == [a.state(i) for i in range(0, a.size, step)]
    exact = {r.name: r for r in getattr(native, "exact", python).results}
    for x, y in zip(python.results, native.results, strict=True):
        if y.kind in GRAPH_KINDS:  # judged on the native store's steps: the exact search's verdict
            x = exact[y.name]
            assert (x.verdict, x.states, x.transitions) == (y.verdict, y.states, y.transitions)
            assert (x.trace is None) == (y.trace is None)
            continue
        assert (x.name, x.verdict, x.reason, x.states, x.transitions) == \
               (y.name, y.verdict, y.reason, y.states, y.transitions)
        assert x.trace == y.trace


@pytest.mark.parametrize("settings", VIRTIO_CONFIGS, ids=_name)
def test_virtio_blk_same_search_every_property(settings):
    assert_same(*both(configure(VIRTIO, settings)))


@pytest.mark.parametrize("settings", [SMALL, NODRAIN, ANY], ids=["small", "nodrain", "any"])
def test_pinned_configurations(settings):
    assert_same(*both(configure(VIRTIO, settings)))


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("settings", [SMALL, ANY], ids=["small", "any"])
def test_the_same_search_on_any_number_of_threads(settings, threads, monkeypatch):
    """Threads expand a level in chunks (small ones here, so that levels span many) and the
    states are admitted in the one-thread order: ids, parents, steps and traces do not change."""
    monkeypatch.setattr(driver, "CHUNK", 97)
    python, native = both(configure(VIRTIO, settings), threads=threads)
    assert_same(python, native)
    assert f"{threads} threads" in native.exploration.plan or threads == 1


def test_liveness_steps_and_marks_do_not_depend_on_the_threads(monkeypatch):
    """With a liveness property the native search keeps every step and each state's marks; on
    several threads (small chunks) they come in the one-thread order, and so does the lasso."""
    from test_liveness import WithProgress

    monkeypatch.setattr(driver, "CHUNK", 11)
    settings = {"workload": "W0 F", "flush_failures": 1, "flush_error": "sticky"}
    one, three = (check(configure(WithProgress, settings), ["progress"],
                        SearchOptions(backend="native", threads=n)) for n in (1, 3))
    a, b = one.exploration, three.exploration
    assert "3 threads" in b.plan and list(a.edges) == list(b.edges) and list(a.marks) == list(b.marks)
    assert [(r.verdict, r.trace) for r in one.results] == [(r.verdict, r.trace) for r in three.results]
    assert one.results[0].trace is not None and one.results[0].trace.loop_start is not None


def test_a_bound_and_a_fault_cut_where_one_thread_cuts(monkeypatch):
    monkeypatch.setattr(driver, "CHUNK", 5)
    assert_same(*both(configure(VIRTIO, SMALL), threads=3, max_states=500))
    with pytest.raises(SpecError) as one:
        check(Crashes(), None, SearchOptions(native=True, store="compact", threads=1))
    with pytest.raises(SpecError) as three:
        check(Crashes(), None, SearchOptions(native=True, store="compact", threads=3))
    assert str(one.value) == str(three.value)


@pytest.mark.parametrize("settings", [*VIRTIO_CONFIGS, SMALL, NODRAIN, ANY], ids=[*map(_name, VIRTIO_CONFIGS),
                                                                                  "small", "nodrain", "any"])
def test_symmetry_in_c_is_the_compiled_symmetry_search(settings):
    """The canonicalizer printed as C stores the compiled mode's representatives, in its order:
    the same ids, parents, steps, evidence, verdicts and traces."""
    python, native = both(configure(VIRTIO, settings), symmetry=True)
    assert "symmetry" in native.exploration.plan
    assert_same(python, native)


def test_symmetry_in_c_checks_the_translated_readiness():
    """After the search, the first state the C code saw with each readiness vector is held
    against the spec's own ready(): a vector that is not its readiness is an engine bug."""
    from array import array

    from modelcheck.errors import EngineBug
    from modelcheck.explicit import plan
    from modelcheck.explicit.native import driver
    from modelcheck.spec import compile_spec

    compiled = compile_spec(configure(VIRTIO, SMALL))
    chosen = plan.plan(compiled, compiled.select(["barrier"]), SearchOptions(native=True, store="compact",
                                                                              symmetry=True))
    chosen.build()
    lib, flat = chosen.library, chosen.successors
    assert lib is not None and lib.vectors > 1
    x = flat.initial[0]  # no id is ready in an initial state: vector 0
    seen, rows = array("B", [0]) * lib.vectors, array("q", [0]) * (lib.vectors * lib.width)
    seen[0] = 1
    rows[:len(x)] = array("q", x)
    driver._check_readiness(flat, seen, rows, lib.width)
    seen[0], seen[1] = 0, 1
    rows[lib.width:lib.width + len(x)] = array("q", x)
    with pytest.raises(EngineBug):
        driver._check_readiness(flat, seen, rows, lib.width)


@pytest.mark.parametrize("shape", ["shapes", "fifo-three"])
def test_the_c_canonicalizer_is_the_compiled_modes_on_random_states(shape):
    """The C canonicalizer (keys compared lazily, against the identity and then against the
    least image so far) gives the compiled mode's representative on any state of the types,
    for groups of three ids (six images: later images beat earlier winners) as well as two."""
    from hypothesis import HealthCheck, given, settings
    from test_flatsym import Shapes, fifo_three, states

    from modelcheck.explicit import plan
    from modelcheck.spec import compile_spec

    compiled = compile_spec(Shapes()) if shape == "shapes" else fifo_three()[0]
    chosen = plan.plan(compiled, [], SearchOptions(native=True, store="compact", symmetry=True))
    chosen.build()
    lib, flat = chosen.library, chosen.successors
    assert lib is not None and lib.vectors > 1, chosen.native_fallback
    flatten, f = flat.layout.flatten, flat.canonical
    moved = []

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(states(compiled))
    def check(s):
        x = flatten(s)
        assert lib.canonical(x) == f(x)
        moved.append(f(x) != x)

    check()
    assert any(moved) and not all(moved)


@pytest.mark.parametrize("bounds", [{"max_states": 500}, {"max_depth": 7}, {"max_states": 1}],
                         ids=["states", "depth", "one-state"])
def test_bounds_cut_where_the_python_search_cuts(bounds):
    python, native = both(configure(VIRTIO, NODRAIN), **bounds)
    assert native.exploration.bounded
    assert_same(python, native)


class Jumps(Spec):
    """A counter with a step property that one step violates (and an invariant another state does)."""

    def fields(self):
        return {"n": Int(0, 5), "m": Int(-3, 3)}

    def initial(self):
        yield self.state(n=0, m=-3)

    @action
    def up(self, s):
        require(s.n < 5)
        return s.replace(n=s.n + 1)

    @action
    def wiggle(self, s):
        require(s.m < 3)
        return s.replace(m=s.m + 1)

    @always_on_step
    def no_jump_to_four(self, before, step, after):
        return not (before.n == 3 and after.n == 4)


def test_a_violated_step_property_has_the_same_trace():
    python, native = both(Jumps())
    assert native.results[0].trace is not None
    assert_same(python, native)


class Wide(Spec):
    """A counter stepping by 2**33 (a leaf wider than 32 bits: the frontier keeps rows of cells)."""

    def fields(self):
        return {"n": Int(0, 5 << 33), "b": Int(-2, 1)}

    def initial(self):
        yield self.state(n=0, b=-2)

    @action
    def up(self, s):
        require(s.n < 5 << 33)
        return s.replace(n=s.n + (1 << 33))

    @action
    def flip(self, s):
        require(s.b < 1)
        return s.replace(b=s.b + 1)

    @always
    def small(self, s):
        return s.n < 4 << 33 or s.b < 1


def test_the_frontier_is_bit_packed_unless_a_leaf_is_too_wide(monkeypatch):
    """Each frontier row holds a leaf in the bits its range needs (Jumps: 3 + 3 bits, one byte);
    past 32 bits a leaf keeps the cells; either way the Python search's answers, on one thread
    or on three (whose lookup threads pack the new states' rows)."""
    from modelcheck.explicit.native.driver import _frontier_head

    monkeypatch.setattr(driver, "CHUNK", 3)

    assert "#define MC_FRONTIER_BYTES 1\n" in _frontier_head(2, [(0, 5), (-3, 3)])
    assert "MC_BITS 0" in _frontier_head(1, [(0, 5 << 33)])
    assert "MC_BITS 0" in _frontier_head(2, None)
    for spec in (Jumps(), Wide()):
        for threads in (1, 3):
            assert_same(*both(spec, threads=threads))


def test_a_leaf_the_frontier_cannot_hold_is_handed_back_at_any_position():
    """The range check of a row (16 one-byte cells a compare, the last block overlapping) sees a
    leaf just past either end of what its bits hold, wherever it is in the row."""
    from modelcheck.explicit import plan
    from modelcheck.spec import compile_spec
    from modelcheck.symbolic.layout import leaves_of

    compiled = compile_spec(configure(VIRTIO, SMALL))
    chosen = plan.plan(compiled, compiled.select(["barrier"]), SearchOptions(native=True, store="compact"))
    chosen.build()
    lib, x = chosen.library, chosen.successors.initial[0]
    ranges = [(0, 1) if leaf.is_bool else (leaf.lo, leaf.hi)
              for name, ftype in compiled.state_class.types.items() for leaf in leaves_of(name, ftype)]
    assert len(ranges) == lib.width >= 17 and all(-128 <= lo <= hi <= 127 for lo, hi in ranges)
    c = lib.lib
    ctx = c.mc_new(-1, 0)
    try:
        assert c.mc_seed(ctx, (driver.I64 * lib.width)(*x)) == 0
        tried = 0
        for j, (lo, hi) in enumerate(ranges):
            for bad in (lo - 1, lo + (1 << max(hi - lo, 0).bit_length())):
                if -128 <= bad <= 127:
                    row = list(x)
                    row[j] = bad
                    assert c.mc_seed(ctx, (driver.I64 * lib.width)(*row)) == driver.Status.SEED_FAULT, (j, bad)
                    tried += 1
        assert tried >= lib.width
    finally:
        c.mc_free(ctx)


@pytest.mark.parametrize("cls", [Crashes, RaisesFirst])
def test_a_crash_or_type_fault_is_the_specs_own_error(cls):
    with pytest.raises(SpecError) as python:
        check(cls(), None, SearchOptions(compiled=True, store="compact"))
    with pytest.raises(SpecError) as native:
        check(cls(), None, SearchOptions(native=True, store="compact"))
    assert str(native.value) == str(python.value)


def test_code_the_c_printer_does_not_know_runs_as_compiled_python():
    python, native = both(Unfollowable())
    assert "not translated to C" in native.exploration.native_fallback
    assert native.exploration.native == ""
    a, b = python.exploration, native.exploration
    assert (a.size, a.transitions, list(a.parent)) == (b.size, b.transitions, list(b.parent))


@pytest.mark.parametrize("options, why", [
    ({"store": "full"}, "compact store only"),
    ({"store": "compact", "por": True}, "partial-order"),
])
def test_what_the_native_search_does_not_do_is_said(options, why):
    ex = check(configure(VIRTIO, SMALL), ["barrier"], SearchOptions(native=True, **options)).exploration
    assert why in ex.native_fallback and ex.native == ""
    assert ex.size == 1118


def test_no_compiler_is_a_note_not_an_error(monkeypatch):
    monkeypatch.setenv("CC", "/nonexistent/cc")
    ex = check(configure(VIRTIO, SMALL), ["barrier"], SearchOptions(native=True, store="compact")).exploration
    assert "/nonexistent/cc" in ex.native_fallback and ex.size == 1118


def test_cc_may_name_a_command_with_arguments(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELCHECK_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CC", "env LC_ALL=C " + shlex.join(compiler()))
    ex = check(configure(VIRTIO, SMALL), ["barrier"], SearchOptions(native=True, store="compact")).exploration
    assert ex.native.startswith("native code: compiled by env LC_ALL=C ") and ex.size == 1118


def _with_properties(n: int) -> Spec:
    def invariant(i: int):
        def holds(self, s):
            return s.n <= 2 + i

        return always(holds)

    body = {f"p{i}": invariant(i) for i in range(n)}
    body.update(fields=lambda self: {"n": Int(0, 2)}, initial=lambda self: iter([self.state(n=0)]),
                up=action(_climb))
    return type(f"Props{n}", (Spec,), body)()


def _climb(self, s):
    require(s.n < 2)
    return s.replace(n=s.n + 1)


@pytest.mark.parametrize("n", [64, 65])
def test_at_most_64_properties_run_natively(n):
    ex = check(_with_properties(n), None, SearchOptions(native=True, store="compact")).exploration
    assert ex.size == 3
    if n <= 64:
        assert ex.native and ex.native_fallback == ""
    else:
        assert "65 properties" in ex.native_fallback and not ex.native


def test_the_library_is_cached_and_a_damaged_one_rebuilt(tmp_path):
    """Each search in a process of its own (a process keeps a library it loaded once)."""
    env = {**os.environ, "MODELCHECK_CACHE_DIR": str(tmp_path)}
    cmd = [sys.executable, "-m", "modelcheck", "check", VIRTIO, "--native", "-q", "--no-progress",
           "-s", "workload=W0 F", "-s", "guest=nodrain", "-p", "barrier"]

    def run() -> str:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        assert done.returncode == 1 and "VIOLATED" in done.stdout, done.stderr
        return done.stdout

    assert "native code: compiled by" in run()
    libs = list(tmp_path.glob("native-*.so"))
    assert len(libs) == 1 and not list(tmp_path.glob(".native-*"))
    assert "native code: from the cache" in run()
    damaged = tmp_path / "damaged"
    damaged.write_bytes(b"not a shared library")
    damaged.replace(libs[0])
    assert "native code: compiled by" in run()
    sym = subprocess.run([*cmd, "--symmetry"], capture_output=True, text=True, env=env)
    assert "search: native (C), compact store (asked for); symmetry" in sym.stdout
    two = subprocess.run([*cmd, "--workers", "2"], capture_output=True, text=True, env=env)
    assert "search: native (C), compact store (asked for); 2 threads" in two.stdout


def test_the_search_is_compiled_once_per_layout_and_a_damaged_object_rebuilt(tmp_path, monkeypatch):
    """The search's unit depends on the layout alone: another property, or symmetry, compiles
    only the model's unit and links it with the kept object; an object the linker refuses is
    compiled again."""
    monkeypatch.setenv("MODELCHECK_CACHE_DIR", str(tmp_path))
    spec = configure(VIRTIO, SMALL)

    def native(prop: str, **options: object) -> str:
        ex = check(spec, [prop], SearchOptions(native=True, store="compact", **options)).exploration
        assert ex.size == (789 if options else 1118) and ex.native_fallback == ""
        return ex.native

    first = native("barrier")
    assert "compiled by" in first and "search's part from the cache" not in first
    objects = list(tmp_path.glob("native-*.o"))
    assert len(objects) == 1
    assert "search's part from the cache" in native("barrier", symmetry=True)
    objects[0].write_bytes(b"not an object")
    again = native("flush_contract")
    assert "compiled by" in again and "search's part from the cache" not in again
    assert list(tmp_path.glob("native-*.o")) == objects and objects[0].read_bytes() != b"not an object"
    assert len(list(tmp_path.glob("native-*.so"))) == 3 and not list(tmp_path.glob(".native-*"))


def test_the_search_unit_compiles_while_the_code_is_generated(tmp_path, monkeypatch):
    """plan.build starts the search's unit (it needs the layout only) before the code generation;
    the build waits for it and links its object, which it does not call cached. Without a cache
    nothing starts."""
    from modelcheck.spec import compile_spec

    compiled = compile_spec(configure(VIRTIO, SMALL))
    monkeypatch.setenv("MODELCHECK_CACHE_DIR", "off")
    driver.start_search(compiled.state_class, len(compiled.instances))
    assert not [k for k in driver._EARLY if k.parent == tmp_path]
    monkeypatch.setenv("MODELCHECK_CACHE_DIR", str(tmp_path))
    driver.start_search(compiled.state_class, len(compiled.instances))
    assert len([k for k in driver._EARLY if k.parent == tmp_path]) == 1
    ex = check(configure(VIRTIO, SMALL), ["barrier"], SearchOptions(native=True, store="compact")).exploration
    assert not [k for k in driver._EARLY if k.parent == tmp_path] and ex.size == 1118
    assert "compiled by" in ex.native and "search's part compiled while the code was generated" in ex.native
    assert len(list(tmp_path.glob("native-*.o"))) == 1 and not list(tmp_path.glob(".native-*"))


def test_without_a_cache_nothing_is_left_behind(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELCHECK_CACHE_DIR", "off")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    ex = check(configure(VIRTIO, SMALL), ["barrier"], SearchOptions(native=True, store="compact")).exploration
    assert "not cached" in ex.native and ex.size == 1118
    assert not list(tmp_path.iterdir())


class Arith(Spec):
    """Floor division and remainder of negative values by positive constants (C truncates)."""

    def fields(self):
        return {"n": Int(-7, 7), "q": Int(-3, 3), "r": Int(0, 3)}

    def initial(self):
        yield self.state(n=-7, q=0, r=0)

    @action
    def up(self, s):
        require(s.n < 7)
        return s.replace(n=s.n + 1)

    @action
    def divide(self, s):
        return s.replace(q=s.n // 3, r=s.n % 4)


def test_floor_division_and_remainder_keep_pythons_meaning():
    python, native = both(Arith())
    assert python.exploration.fallback == ""
    assert "//" in _source(Arith()) and "%" in _source(Arith())
    assert_same(python, native)


def _source(spec: Spec) -> str:
    from modelcheck.explicit.compiled.expander import flat_expander
    from modelcheck.spec import compile_spec

    compiled = compile_spec(spec)
    flat, why = flat_expander(compiled, list(compiled.properties.values()))
    assert flat is not None, why
    return flat.source


@pytest.mark.parametrize("text, what", [
    ("x = 1\n", "no single expand function"),
    ("def expand(x, successors=True, full=False):\n    print(x)\n", "statement print(x)"),
    ("def expand(x, successors=True, full=False):\n    v0, = x\n    out = []\n    out += _fire(0, x)\n",
     "the spec's own code"),
    ("def expand(x, successors=True, full=False):\n    v0, = x\n    bad = ()\n    if not _holds(0, x):\n"
     "        bad += (0,)\n", "_holds"),
    ("def expand(x, successors=True, full=False):\n    v0, = x\n    bad = ()\n    if v0 ** 2:\n"
     "        bad += (0,)\n", "expression"),
])
def test_the_c_printer_names_what_it_cannot_translate(text, what):
    with pytest.raises(NotC, match=what.replace("(", r"\(").replace(")", r"\)")):
        c_function(text)
