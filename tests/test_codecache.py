"""The compiled mode's disk cache: a hit gives the same code and the same search as a fresh
generation; the key changes with what the code depends on; a broken entry or an unusable
directory never changes an answer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import VIRTIO

from modelcheck import Int, Spec, action, always, require
from modelcheck.check import check, configure
from modelcheck.explicit import SearchOptions
from modelcheck.explicit.compiled import cache as codecache
from modelcheck.explicit.compiled.expander import PATH_LIMIT, compile_source, flat_expander
from modelcheck.explicit.flat import flat_fields
from modelcheck.spec import compile_spec

SMALL = {"workload": "W0 F", "qdepth": 2}
PROPS = ["barrier", "flush_contract", "completion"]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty cache directory for one test."""
    directory = tmp_path / "cache"
    monkeypatch.setenv("MODELCHECK_CACHE_DIR", str(directory))
    return directory


def expander(settings: dict | None = None, props: list[str] | None = None, use_hints: bool = True):
    """The compiled expander of a freshly compiled configuration (so nothing comes from memory)."""
    compiled = compile_spec(configure(VIRTIO, SMALL if settings is None else settings))
    fx, why = flat_expander(compiled, compiled.select(PROPS if props is None else props), use_hints=use_hints)
    assert fx is not None, why
    return fx


def search(props: list[str] | None = None):
    run = check(configure(VIRTIO, SMALL), PROPS if props is None else props, SearchOptions(compiled=True))
    ex = run.exploration
    assert ex.fallback == ""
    fx, _ = flat_expander(run.compiled, run.compiled.select(PROPS if props is None else props))
    verdicts = [(r.name, r.verdict, r.states, r.trace) for r in run.results]
    return (ex.size, ex.transitions, ex.max_depth, ex.states, list(ex.edges or []), verdicts), fx.from_cache


def entries(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.py")) if directory.exists() else []


def test_a_miss_then_a_hit_gives_the_same_code_and_search(cache):
    first = expander()
    assert not first.from_cache and first.cache_file is not None and first.codegen_seconds > 0
    [entry] = entries(cache)
    assert first.cache_file == str(entry)
    second = expander()
    assert second.from_cache and second.cache_file == first.cache_file
    assert second.source == first.source
    assert second.layout.fields == first.layout.fields and second.initial == first.initial
    assert second.plain_actions == first.plain_actions == {}

    cold, cold_hit = search()
    warm, warm_hit = search()
    assert cold_hit and warm_hit  # the entry written above serves every later run
    assert warm == cold
    plain_run = check(configure(VIRTIO, SMALL), PROPS)
    assert [(r.name, r.verdict, r.states) for r in plain_run.results] == [v[:3] for v in cold[5]]


GENERATE = """
import hashlib, sys
from modelcheck.check import configure
from modelcheck.explicit.compiled.expander import compile_source, flat_expander
from modelcheck.spec import compile_spec
compiled = compile_spec(configure(sys.argv[1], {"workload": "W0 F", "qdepth": 2}))
props = compiled.select(sys.argv[2].split(","))
if sys.argv[3] == "fresh":
    source = compile_source(compiled, props)[1]
else:
    fx, _ = flat_expander(compiled, props)
    assert fx is not None and fx.from_cache == (sys.argv[3] == "hit"), fx.from_cache
    source = fx.source
print(hashlib.sha256(source.encode()).hexdigest())
"""


def test_a_hit_is_byte_for_byte_a_fresh_generation(cache):
    """Each in a new process: one generation is stored, one read back, one generated afresh.

    (In one process the text can differ in the order of ``and``/``or`` operands from one
    generation to the next: z3 orders them by term ids, which depend on the terms made before.)
    """
    def run(mode: str) -> str:
        env = {**os.environ, "MODELCHECK_CACHE_DIR": str(cache) if mode != "fresh" else "off"}
        done = subprocess.run([sys.executable, "-c", GENERATE, VIRTIO, ",".join(PROPS), mode], env=env,
                              capture_output=True, text=True, check=True)
        return done.stdout.strip()

    stored = run("miss")
    assert run("hit") == stored == run("fresh")
    [entry] = entries(cache)
    assert codecache.read(entry, entry.stem) is not None


def test_the_flat_layout_without_the_symbolic_encoding_is_the_encodings():
    for settings in (SMALL, {"workload": "W0 W1 F", "qdepth": 3, "failures": 2}):
        compiled = compile_spec(configure(VIRTIO, settings))
        layout, _, _ = compile_source(compiled, compiled.select(["barrier"]))
        assert flat_fields(compiled.state_class) == layout.fields


def test_the_key_names_the_configuration_properties_and_options():
    def key(settings=SMALL, props=PROPS, use_hints=True, path_limit=PATH_LIMIT):
        compiled = compile_spec(configure(VIRTIO, settings))
        return codecache.cache_key(compiled, props, use_hints=use_hints, path_limit=path_limit)

    base = key()
    assert base is not None and len(base) == 64
    assert key() == base  # the same configuration, compiled again
    others = [key({**SMALL, "qdepth": 3}), key({**SMALL, "guest": "nodrain"}), key(props=["barrier"]),
              key(props=list(reversed(PROPS))), key(use_hints=False), key(path_limit=PATH_LIMIT + 1)]
    assert len({base, *others}) == len(others) + 1


def test_different_properties_get_different_entries(cache):
    a = expander(props=["barrier"])
    b = expander(props=["barrier", "completion"])
    assert not a.from_cache and not b.from_cache and a.cache_file != b.cache_file
    assert len(entries(cache)) == 2


def _valid_header_around(source: str, entry: Path) -> bytes:
    """A file that passes every check but compiling: header for ``source`` under the entry's key."""
    target = codecache.Entry(entry.parent / "scratch.py", entry.stem, "title", ())
    assert target.store(source, {})
    text = target.path.read_bytes()
    target.path.unlink()
    return text


@pytest.mark.parametrize("damage", ["garbage", "truncated", "not python", "other key", "empty"])
def test_a_broken_entry_is_generated_again(cache, damage):
    reference, _ = search()
    [entry] = entries(cache)
    good = entry.read_bytes()
    if damage == "garbage":
        entry.write_bytes(b"\xff\xfe\x00garbage\x80" * 100)
    elif damage == "truncated":
        entry.write_bytes(good[: len(good) * 2 // 3])
    elif damage == "not python":
        entry.write_bytes(_valid_header_around("def expand(x:\n    return (\n", entry))
    elif damage == "other key":
        entry.write_bytes(good.replace(entry.stem.encode(), b"0" * 64, 1))
    else:
        entry.write_bytes(b"")
    again, hit = search()
    assert not hit and again == reference
    assert codecache.read(entry, entry.stem) is not None  # rewritten
    assert search() == (reference, True)


def test_an_unwritable_directory_means_no_cache(tmp_path, monkeypatch):
    directory = tmp_path / "locked"
    directory.mkdir()
    directory.chmod(0o500)
    try:
        if os.access(directory, os.W_OK):
            pytest.skip("permissions do not apply (running as root)")
        monkeypatch.setenv("MODELCHECK_CACHE_DIR", str(directory))
        fx = expander()
        assert not fx.from_cache and fx.cache_file is None
        assert list(directory.iterdir()) == []
        assert search()[1] is False
    finally:
        directory.chmod(0o700)


def test_a_directory_that_cannot_be_created_means_no_cache(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("MODELCHECK_CACHE_DIR", str(blocker / "cache"))
    reference, hit = search()
    assert not hit
    fx = expander()
    assert not fx.from_cache and fx.cache_file is None
    monkeypatch.setenv("MODELCHECK_CACHE_DIR", "off")
    assert search() == (reference, False)


@pytest.mark.parametrize("value", ["off", "0", "", "OFF"])
def test_turned_off_writes_nothing(tmp_path, monkeypatch, value):
    monkeypatch.setenv("MODELCHECK_CACHE_DIR", value)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert codecache.cache_dir() is None
    first, second = expander(), expander()
    assert not first.from_cache and not second.from_cache and first.cache_file is None
    assert list(tmp_path.iterdir()) == []


def test_where_the_cache_lives(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELCHECK_CACHE_DIR", str(tmp_path / "chosen"))
    assert codecache.cache_dir() == tmp_path / "chosen"
    monkeypatch.delenv("MODELCHECK_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert codecache.cache_dir() == tmp_path / "xdg" / "modelcheck"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # ignored, as the XDG spec says
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert codecache.cache_dir() == tmp_path / "home" / ".cache" / "modelcheck"


def test_a_spec_built_inside_a_function_is_not_cached(cache):
    def make(limit: int) -> Spec:
        class Counter(Spec):
            def fields(self):
                return {"n": Int(0, 3)}

            def initial(self):
                yield self.state(n=0)

            @action
            def up(self, s):
                require(s.n < limit)  # a closure: neither the source nor the parameters show it
                return s.replace(n=s.n + 1)

            @always
            def small(self, s):
                return s.n <= 3

        return Counter()

    sizes = [check(make(limit), None, SearchOptions(compiled=True)).exploration.size for limit in (1, 3)]
    assert sizes == [2, 4]
    assert entries(cache) == []


def test_deciding_kept_leaves_once_per_term_decides_as_each_path_does():
    """A cold generation decides per term whether the field types alone keep a leaf; each leaf of
    each path must come out as the path-by-path check under its condition makes it."""
    from modelcheck.explicit.compiled.expander import _encoding, _leaf_text, _mentions, _valid
    from modelcheck.explicit.compiled.python_source import python_expr, stored

    compiled = compile_spec(configure(VIRTIO, {"workload": "W0 W1 F", "qdepth": 3, "failures": 2}))
    enc = _encoding(compiled, {}, PATH_LIMIT)
    leaf = {v.decl().name(): f"v{i}" for i, v in enumerate(enc.x)}
    memo: dict = {}

    def py(e):
        return python_expr(e, leaf, memo)

    shared: dict = {}
    kept = 0
    for ie in enc.instances:
        for sp in ie.paths:
            for k, e in enumerate(sp.next):
                once = _leaf_text(enc, sp.condition, k, e, py, shared)
                x = enc.x[k]
                by_path = e.eq(x) or (_mentions(e, x) and _valid(enc, sp.condition, e == x))
                assert once == (f"v{k}" if by_path else stored(e, py(e)))
                kept += once == f"v{k}" and not e.eq(enc.x[k])
    assert kept > 0  # leaves the step keeps without naming them (the padding rule)


def test_the_least_recently_used_entries_go_first_and_nothing_else(tmp_path, monkeypatch):
    names = [f"{i:064x}.py" for i in range(4)] + [f"native-{9:064x}.so", "notes.txt", f"{1:064x}.py.tmp"]
    for n, name in enumerate(names):
        path = tmp_path / name
        path.write_bytes(b"x" * 1000)
        os.utime(path, (1000 + n, 1000 + n))
    codecache.touch(tmp_path / names[0])  # a hit: now the most recent
    kept = tmp_path / names[3]
    deleted = codecache.prune(tmp_path, keep=kept, limit=2500)
    assert [p.name for p in deleted] == [names[1], names[2], names[4]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([names[0], names[3], "notes.txt", names[6]])
    monkeypatch.setenv("MODELCHECK_CACHE_MB", "not a number")
    assert codecache.limit_bytes() == codecache.DEFAULT_MB * 2**20
    monkeypatch.setenv("MODELCHECK_CACHE_MB", "0.001")
    assert codecache.limit_bytes() == int(0.001 * 2**20)


def test_a_store_keeps_the_cache_within_its_bound(cache, monkeypatch):
    monkeypatch.setenv("MODELCHECK_CACHE_MB", "0.000001")  # one byte: only the entry just written stays
    expander({"workload": "W0 F", "qdepth": 2})
    second = expander({"workload": "W0 F", "qdepth": 1})
    [entry] = entries(cache)
    assert str(entry) == second.cache_file
    assert codecache.read(entry, entry.stem) is not None
