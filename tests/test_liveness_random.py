"""Random graphs: the fair-cycle check, the native search and lasso BMC agree on every one.

A spec built from a labelled edge list (actions ``a``, ``b``, ``c``, any of them weakly
fair), a goal and a trigger set: hypothesis draws small graphs. On each, the explicit
verdict of ``eventually goal`` and ``trigger leads to goal`` must equal lasso BMC's with a
bound no refutation can outgrow (a stem of fewer than N steps, then per fair action at most
N steps to a state that disables it or to its step, and N back: (F + 2) N), the native
search must give the interpreted search's very trace, and every trace replays (``check``
and ``prove`` replay and judge again what they return).
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import no_c_compiler
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelcheck import Int, Param, Spec, action, eventually, leads_to, require
from modelcheck.check import check
from modelcheck.explicit import SearchOptions
from modelcheck.spec import compile_spec
from modelcheck.symbolic.prove import ProveOptions, prove
from modelcheck.verdict import Verdict

LABELS = "abc"


def _ints(text: str) -> str:
    return text


class Graph(Spec):
    """Nodes 0..N-1 from node 0; ``edges`` as ``src>dst:label``; goal and trigger node sets."""

    edges = Param("0>1:a", parse=_ints)
    goal = Param("", parse=_ints)
    trigger = Param("", parse=_ints)
    nodes = Param(2, allowed=range(1, 10))

    def setup(self):
        self.edge_list = []
        for item in self.edges.split():
            pair, _, label = item.partition(":")
            a, _, b = pair.partition(">")
            self.edge_list.append((int(a), int(b), label))
        self.goal_set = {int(x) for x in self.goal.split(",") if x}
        self.trigger_set = {int(x) for x in self.trigger.split(",") if x}

    def fields(self):
        return {"node": Int(0, self.nodes - 1)}

    def initial(self):
        yield self.state(node=0)

    def labelled(self, label: str) -> list[int]:
        return [i for i, (_, _, lab) in enumerate(self.edge_list) if lab == label] or [-1]

    def edges_a(self):
        return self.labelled("a")

    def edges_b(self):
        return self.labelled("b")

    def edges_c(self):
        return self.labelled("c")

    def _go(self, s: Any, e: int) -> Any:
        require(e >= 0)
        a, b, _ = self.edge_list[e]
        require(s.node == a)
        return s.replace(node=b)

    @action(e="edges_a")
    def a(self, s, e):
        return self._go(s, e)

    @action(e="edges_b")
    def b(self, s, e):
        return self._go(s, e)

    @action(e="edges_c")
    def c(self, s, e):
        return self._go(s, e)

    @eventually
    def reaches(self, s):
        """Every fair execution reaches the goal."""
        return self.at(s, self.goal_set)

    @leads_to
    def answered(self, s):
        """Every trigger node is followed by a goal node."""
        return self.at(s, self.trigger_set), self.at(s, self.goal_set)

    def at(self, s: Any, nodes: set[int]) -> Any:
        """Whether ``s`` is at one of ``nodes`` (as comparisons, which also run over z3 terms)."""
        return any(s.node == n for n in sorted(nodes))


def with_fairness(fair: frozenset[str]) -> type[Graph]:
    """Graph with the actions of ``fair`` declared weakly fair."""
    body = {}
    for label in fair:
        def go(self, s, e):
            return self._go(s, e)

        go.__name__ = label
        body[label] = action(fair="weak", e=f"edges_{label}")(go)
    return type(f"Graph_{''.join(sorted(fair)) or 'unfair'}", (Graph,), body)


@st.composite
def graphs(draw: Any) -> tuple[type[Graph], dict[str, Any]]:
    n = draw(st.integers(2, 5))
    node = st.integers(0, n - 1)
    edges = draw(st.lists(st.tuples(node, node, st.sampled_from(LABELS)), min_size=1, max_size=9, unique=True))
    fair = draw(st.frozensets(st.sampled_from(LABELS), max_size=2))
    goal = draw(st.frozensets(node, max_size=2))
    trigger = draw(st.frozensets(node, max_size=2))
    params = {"nodes": n, "edges": " ".join(f"{a}>{b}:{lab}" for a, b, lab in edges),
              "goal": ",".join(map(str, sorted(goal))), "trigger": ",".join(map(str, sorted(trigger)))}
    return with_fairness(fair), params


@pytest.mark.skipif(no_c_compiler(), reason="no C compiler (.ci/run installs gcc)")
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_explicit_native_and_lasso_bmc_agree(drawn: tuple[type[Graph], dict[str, Any]]):
    cls, params = drawn
    interpreted = check(cls(**params), None, SearchOptions(backend="interpreted"))
    native = check(cls(**params), None, SearchOptions(backend="native"))
    depth = (len(compile_spec(cls(**params)).fairness) + 2) * params["nodes"]
    symbolic = prove(cls(**params), None, ProveOptions(depth=depth))
    for x, y, z in zip(interpreted.results, native.results, symbolic.results, strict=True):
        assert x.verdict in (Verdict.HOLDS, Verdict.VIOLATED)
        assert (x.verdict, x.trace) == (y.verdict, y.trace)
        if x.verdict is Verdict.VIOLATED:
            assert z.verdict is Verdict.VIOLATED and len(z.trace) <= len(x.trace), (params, x.name, z.reason)
        else:
            assert z.verdict in (Verdict.PROVED, Verdict.UNKNOWN), (params, x.name)
