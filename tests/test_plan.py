"""The search plan: the default search is the fastest sound one, and gives the exact search's verdicts."""

from __future__ import annotations

import pytest
from conftest import ANY, FIXTURES, NODRAIN, SMALL, VIRTIO, no_c_compiler

from modelcheck import cli
from modelcheck.check import check, configure
from modelcheck.explicit import SearchOptions, plan
from modelcheck.explicit.native import driver as native
from modelcheck.spec import compile_spec

CONFIGS = [(VIRTIO, SMALL), (VIRTIO, NODRAIN), (VIRTIO, ANY), (str(FIXTURES / "clock.py"), {}),
           (str(FIXTURES / "edges.py"), {"edges": "0>1 1>2 2>3 3>1 0>4"}), (str(FIXTURES / "edges.py"), {})]
IDS = ["small", "nodrain", "any", "clock", "cycle", "edges"]


def _no_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    def none() -> list[str]:
        raise native.NativeUnavailable("no C compiler found (test)")

    monkeypatch.setattr(native, "compiler", none)


def _argv(path: str, settings: dict) -> list[str]:
    argv = ["check", path, "-q", "--no-progress"]
    for k, v in settings.items():
        argv += ["--set", f"{k}={v}"]
    return argv


@pytest.mark.parametrize("machine", ["native", "no-compiler"])
@pytest.mark.parametrize(("path", "settings"), CONFIGS, ids=IDS)
def test_the_default_gives_the_exact_verdicts_and_exit_code(path, settings, machine, monkeypatch, capsys):
    """Every property (``completion`` included), with the fast path forced by a tier of one state:
    the verdicts, counts and exit code of the exact full-store interpreted search."""
    if machine == "native" and no_c_compiler():
        pytest.skip("no C compiler")
    if machine == "no-compiler":
        _no_compiler(monkeypatch)
    monkeypatch.setattr(plan, "TIER", 1)
    spec = configure(path, settings)
    exact = check(spec, None, SearchOptions())
    fast = check(spec, None, SearchOptions(backend="auto"))
    expected_backend = "native (C)" if machine == "native" else "compiled Python"
    assert fast.exploration.plan.startswith(f"search: {expected_backend}"), fast.exploration.plan
    assert [(r.name, r.verdict, r.states, r.transitions, r.depth) for r in fast.results] == \
           [(r.name, r.verdict, r.states, r.transitions, r.depth) for r in exact.results]
    assert [r.trace is None for r in fast.results] == [r.trace is None for r in exact.results]
    assert cli.main(_argv(path, settings)) == cli.main([*_argv(path, settings), "--interpreted"])
    capsys.readouterr()


def test_a_small_space_stays_interpreted_and_says_so(capsys):
    """Under the tier the default is the interpreted search (no code generated), and check says which."""
    cli.main(_argv(VIRTIO, SMALL))
    out = capsys.readouterr().out
    assert "search: interpreted, full store (1,118 states" in out
    assert "compiled successor code" not in out


def _plan(endings: bool, compiler: str, **options: object) -> plan.Plan:
    spec = configure(str(FIXTURES / "clock.py"))
    compiled = compile_spec(spec)
    props = [p for p in compiled.properties.values() if endings or p.kind != "at_end"]
    return plan.plan(compiled, props, SearchOptions(**{"backend": "auto", **options}), compiler)


@pytest.mark.parametrize(("options", "compiler", "backend", "store", "tier"), [
    ({}, "cc", "native", "compact", plan.TIER),
    ({}, "", "compiled", "compact", plan.TIER),
    ({"symmetry": True}, "cc", "native", "compact", plan.TIER),
    ({"symmetry": True}, "", "compiled", "compact", plan.TIER),
    ({"por": True}, "cc", "interpreted", "full", None),
    ({"keep_edges": True}, "cc", "interpreted", "full", None),
    ({"max_states": 500}, "cc", "interpreted", "full", None),
    ({"max_states": 50_000}, "cc", "native", "compact", plan.TIER),
    ({"store": "full"}, "cc", "compiled", "full", plan.TIER),
    ({"backend": "interpreted"}, "cc", "interpreted", "full", None),
    ({"backend": "native"}, "", "native", "compact", None),
    ({"compiled": True, "backend": "interpreted"}, "cc", "compiled", "full", None),
])
def test_the_plan_picks_the_fastest_sound_backend(options, compiler, backend, store, tier):
    chosen = _plan(False, compiler, **options)
    assert (chosen.backend, chosen.store, chosen.tier) == (backend, store, tier)


def test_without_edges_the_compiled_python_search_keeps_the_full_store_for_at_end():
    """The compact Python store keeps no steps, so `at_end` properties take the full store."""
    assert _plan(True, "").store == "full"
    assert _plan(True, "cc").store == "compact"  # the native store keeps its steps


def test_code_is_prepared_alongside_the_interpreted_tier(monkeypatch):
    """Past AHEAD states a child prepares the fast backend's code; at the switch it is read
    from the cache, and the answers are the exact search's. A tier that answers first leaves
    no child behind."""
    import os

    from modelcheck.explicit import engine

    monkeypatch.setattr(engine, "AHEAD", 50)
    monkeypatch.setattr(engine, "AHEAD_BUSY", 100_000)  # no core to spare: prepared later (here: never)
    monkeypatch.setattr(plan, "TIER", 300)
    spec = configure(VIRTIO, NODRAIN)
    exact = check(spec, None, SearchOptions())
    fast = check(spec, None, SearchOptions(backend="auto", threads=2))
    assert exact.exploration.size > 300
    assert "code prepared while the interpreted search ran" in fast.exploration.plan
    busy = check(spec, None, SearchOptions(backend="auto", threads=1))
    assert "code prepared" not in busy.exploration.plan
    assert "from the cache" in fast.exploration.code_origin
    assert [(r.name, r.verdict, r.states) for r in fast.results] == \
           [(r.name, r.verdict, r.states) for r in exact.results]
    monkeypatch.setattr(plan, "TIER", 100_000)
    forked: list[int] = []
    real = engine._prepare_in_child

    def recorded(chosen):
        forked.append(real(chosen))
        return forked[-1]

    monkeypatch.setattr(engine, "_prepare_in_child", recorded)
    small = check(configure(VIRTIO, NODRAIN), None, SearchOptions(backend="auto"))
    assert small.exploration.plan.startswith("search: interpreted") and forked and forked[0] > 0
    with pytest.raises(ChildProcessError):  # killed and reaped
        os.waitpid(forked[0], os.WNOHANG)
