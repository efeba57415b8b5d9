"""Weak and strong fairness, per action and per group (``@action(fair="strong")``, ``"weak:NAME"``).

Fixtures where the kinds differ: an action enabled only every other state of a cycle is not
forced by weak fairness (it is disabled somewhere on the cycle) but is by strong fairness (it
is enabled infinitely often); a cycle that never enables it stays fair under strong fairness
(the engine must split the component to find it); two actions each enabled on half of a
cycle are forced together as one weak group but not one by one. Every backend (interpreted,
compiled, native when a C compiler is present) and lasso BMC must agree, and every
counterexample replays with its fairness judged again (check and prove replay each trace).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import pytest
from conftest import no_c_compiler
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from liveness_specs import WithProgress
from test_liveness_backends import SYMMETRIC, assert_same
from test_liveness_random import LABELS, Graph

from modelcheck import Bool, Int, Spec, SpecError, action, eventually, require
from modelcheck.check import check, configure
from modelcheck.explicit import SearchOptions
from modelcheck.spec import Fairness, compile_spec
from modelcheck.symbolic.prove import ProveOptions, prove
from modelcheck.trace import replay
from modelcheck.verdict import Verdict

HOLDS, VIOLATED = Verdict.HOLDS, Verdict.VIOLATED
needs_cc = pytest.mark.skipif(no_c_compiler(), reason="no C compiler (.ci/run installs gcc)")


class Blinker(Spec):
    """Toggles ``n`` between 0 and 1 forever; ``finish`` is enabled only where ``n == 1``."""

    def fields(self):
        return {"n": Int(0, 2), "done": Bool()}

    def initial(self):
        yield self.state(n=0, done=False)

    @action
    def spin(self, s):
        require(not s.done and s.n < 2)
        return s.replace(n=1 - s.n)

    @action
    def finish(self, s):
        require(not s.done and s.n == 1)
        return s.replace(done=True)

    @eventually
    def finishes(self, s):
        """Every execution finishes."""
        return s.done


class WeakBlinker(Blinker):
    @action(fair="weak")
    def finish(self, s):
        return super().finish(s)


class StrongBlinker(Blinker):
    @action(fair="strong")
    def finish(self, s):
        return super().finish(s)


class StrongDetour(StrongBlinker):
    """Also goes 0 -> 2 -> 0 (``detour``, ``back``), a cycle where ``finish`` is never enabled:
    strong fairness allows going round it forever."""

    @action
    def detour(self, s):
        require(not s.done and s.n == 0)
        return s.replace(n=2)

    @action
    def back(self, s):
        require(not s.done and s.n == 2)
        return s.replace(n=0)


class Halves(Blinker):
    """``finish`` where ``n == 1`` and ``settle`` where ``n == 0``: each is disabled on half of
    the cycle, so weak fairness one by one forces neither."""

    @action(fair="weak")
    def finish(self, s):
        return super().finish(s)

    @action(fair="weak")
    def settle(self, s):
        require(not s.done and s.n == 0)
        return s.replace(done=True)


class WeakGroup(Halves):
    """The same two actions as one weak group: enabled in every state of the cycle, so taken."""

    @action(fair="weak:ending")
    def finish(self, s):
        return Blinker.finish(self, s)

    @action(fair="weak:ending")
    def settle(self, s):
        return Halves.settle(self, s)


class StrongGroup(StrongDetour):
    """``finish`` and ``detour`` as one strong group: the 0 -> 2 -> 0 cycle takes ``detour``,
    so the group is met there and the execution may still spin forever."""

    @action(fair="strong:moving")
    def finish(self, s):
        return Blinker.finish(self, s)

    @action(fair="strong:moving")
    def detour(self, s):
        return StrongDetour.detour(self, s)


CASES: list[tuple[type, Verdict]] = [
    (Blinker, VIOLATED), (WeakBlinker, VIOLATED), (StrongBlinker, HOLDS), (StrongDetour, VIOLATED),
    (Halves, VIOLATED), (WeakGroup, HOLDS), (StrongGroup, VIOLATED),
]


@pytest.mark.parametrize(("cls", "verdict"), CASES, ids=[c[0].__name__ for c in CASES])
def test_the_explicit_engine_judges_each_kind(cls: type, verdict: Verdict):
    run = check(cls(), None, SearchOptions(backend="interpreted"))
    result = run.results[0]
    assert result.verdict is verdict
    if verdict is VIOLATED:
        assert result.trace.loop_start is not None
        replay(run.compiled, result.trace, run.compiled.properties[result.name])


def test_weak_fairness_does_not_force_an_intermittent_action_and_strong_does():
    assert check(WeakBlinker()).results[0].verdict is VIOLATED
    assert check(StrongBlinker()).results[0].verdict is HOLDS


def test_the_strong_refutation_loops_where_the_action_is_never_enabled():
    run = check(StrongDetour())
    trace = run.results[0].trace
    loop = [s.n for _, s in trace.steps[trace.loop_start:]]
    assert 1 not in loop and set(loop) == {0, 2}


@needs_cc
@pytest.mark.parametrize("cls", [c for c, _ in CASES], ids=[c.__name__ for c, _ in CASES])
@pytest.mark.parametrize("backend", ["native", "compiled"])
def test_backends_agree_with_the_interpreted_full_store(cls: type, backend: str):
    other = check(cls(), None, SearchOptions(backend=backend))
    assert other.exploration.native_fallback == "" and other.exploration.fallback == ""
    assert_same(check(cls(), None, SearchOptions(backend="interpreted")), other)


@pytest.mark.parametrize(("cls", "verdict"), CASES, ids=[c[0].__name__ for c in CASES])
def test_lasso_bmc_agrees_with_the_explicit_engine(cls: type, verdict: Verdict):
    run = prove(cls(), None, ProveOptions(depth=8))
    symbolic = run.results[0]
    if verdict is VIOLATED:
        assert symbolic.verdict is VIOLATED, symbolic.reason
        assert len(symbolic.trace) <= len(check(cls()).results[0].trace)
        replay(run.compiled, symbolic.trace, run.compiled.properties[symbolic.name])
    else:
        assert symbolic.verdict in (Verdict.PROVED, Verdict.UNKNOWN) and symbolic.trace is None


def test_compiled_fairness_names_each_condition_with_its_kind_and_actions():
    assert compile_spec(WeakBlinker()).fairness == {"finish": Fairness("weak", ("finish",))}
    assert compile_spec(WeakGroup()).fairness == {"ending": Fairness("weak", ("finish", "settle"))}
    assert compile_spec(StrongGroup()).fairness == {"moving": Fairness("strong", ("finish", "detour"))}


def test_a_group_mixing_weak_and_strong_is_refused_with_the_place_and_the_fix():
    class Mixed(Halves):
        @action(fair="weak:ending")
        def finish(self, s):
            return Blinker.finish(self, s)

        @action(fair="strong:ending")
        def settle(self, s):
            return Halves.settle(self, s)

    with pytest.raises(SpecError, match=r"Mixed\.(finish|settle)") as caught:
        compile_spec(Mixed())
    assert "mixes" in str(caught.value) and "same kind" in str(caught.value)


@pytest.mark.parametrize("fair", ["eager", "strong:", "weak:two words", "Strong"])
def test_an_unknown_kind_is_refused_with_the_place_and_the_fix(fair: str):
    class Odd(Blinker):
        @action(fair=fair)
        def finish(self, s):
            return super().finish(s)

    with pytest.raises(SpecError, match=r"Odd\.finish") as caught:
        compile_spec(Odd())
    assert 'fair="strong"' in str(caught.value)


def with_kinds(fair: dict[str, str]) -> type[Graph]:
    """Graph (tests/test_liveness_random.py) with each label of ``fair`` declared ``fair=`` its value."""
    body = {}
    for label, kind in fair.items():
        def go(self, s, e):
            return self._go(s, e)

        go.__name__ = label
        body[label] = action(fair=kind, e=f"edges_{label}")(go)
    return type("Graph_" + "_".join(f"{k}{v.replace(':', '')}" for k, v in sorted(fair.items())), (Graph,), body)


@st.composite
def graphs_with_kinds(draw: Any) -> tuple[type[Graph], dict[str, Any]]:
    n = draw(st.integers(2, 5))
    node = st.integers(0, n - 1)
    edges = draw(st.lists(st.tuples(node, node, st.sampled_from(LABELS)), min_size=1, max_size=9, unique=True))
    group = draw(st.sampled_from(["weak:g", "strong:g"]))
    kinds = st.sampled_from([None, "weak", "strong", group])
    fair = {label: kind for label in LABELS if (kind := draw(kinds)) is not None}
    goal = draw(st.frozensets(node, max_size=2))
    trigger = draw(st.frozensets(node, max_size=2))
    params = {"nodes": n, "edges": " ".join(f"{a}>{b}:{lab}" for a, b, lab in edges),
              "goal": ",".join(map(str, sorted(goal))), "trigger": ",".join(map(str, sorted(trigger)))}
    return with_kinds(fair), params


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs_with_kinds())
def test_random_graphs_with_kinds_and_groups_agree_with_lasso_bmc(drawn: tuple[type[Graph], dict[str, Any]]):
    """The native search gives the interpreted one's verdicts and traces; lasso BMC agrees within
    a bound no refutation outgrows (a stem under N steps, a loop of at most N steps per
    condition and N back)."""
    cls, params = drawn
    explicit = check(cls(**params), None, SearchOptions(backend="interpreted"))
    if not no_c_compiler():
        native = check(cls(**params), None, SearchOptions(backend="native"))
        assert [(r.verdict, r.trace) for r in native.results] == [(r.verdict, r.trace) for r in explicit.results]
    depth = (len(compile_spec(cls(**params)).fairness) + 2) * params["nodes"]
    symbolic = prove(cls(**params), None, ProveOptions(depth=depth))
    for x, z in zip(explicit.results, symbolic.results, strict=True):
        assert x.verdict in (HOLDS, VIOLATED)
        if x.verdict is VIOLATED:
            assert z.verdict is VIOLATED and len(z.trace) <= len(x.trace), (params, x.name, z.reason)
        else:
            assert z.verdict in (Verdict.PROVED, Verdict.UNKNOWN), (params, x.name)


def strongly_fair(cls: type) -> type:
    """``cls`` with every weakly fair action declared strongly fair instead (a test variant)."""
    body = {}
    for name in dir(cls):
        func = getattr(cls, name)
        meta = getattr(func, "_mc_action", None)
        if meta is not None and meta.fair == "weak":
            body[name] = _restrung(func, dataclasses.replace(meta, fair="strong"))
    return type("Strong" + cls.__name__, (cls,), body)


def _restrung(func: Any, meta: Any) -> Any:
    """``func`` as an action with ``meta`` instead of its own declaration."""

    @functools.wraps(func)
    def same(self, *args):
        return func(self, *args)

    same._mc_action = meta  # type: ignore[attr-defined]
    return same


@pytest.mark.parametrize("settings", SYMMETRIC, ids=lambda s: s["workload"] + " " + s.get("flush_error", ""))
def test_strong_fairness_on_virtio_blk_under_symmetry_keeps_the_verdict(settings: dict[str, Any]):
    """Strongly fair virtio-blk (a test variant; the spec's own fairness is weak): the verdict
    of ``progress`` on representatives is the plain search's, and its lasso replays."""
    spec = strongly_fair(WithProgress)
    assert {c.kind for c in compile_spec(configure(spec, settings)).fairness.values()} == {"strong"}
    plain = check(configure(spec, settings), ["progress"], SearchOptions(backend="interpreted")).results[0]
    reduced = check(configure(spec, settings), ["progress"], SearchOptions(backend="interpreted", symmetry=True))
    result = reduced.results[0]
    assert result.verdict is plain.verdict, result.reason
    if result.trace is not None:
        replay(reduced.compiled, result.trace, reduced.compiled.properties["progress"])


def test_a_group_named_after_a_fair_action_is_refused():
    class Clash(WeakBlinker):
        @action(fair="weak:finish")
        def spin(self, s):
            return Blinker.spin(self, s)

    with pytest.raises(SpecError, match="has the name of an action"):
        compile_spec(Clash())
