"""The z3 engine: symbolic runs of the spec's own code, BMC, Spacer, k-induction, assumption cores,
and agreement with the explicit engine."""

import pytest
import z3
from conftest import VIRTIO

from modelcheck import Bool, Enum, Int, Param, Seq, Spec, Tuple, action, always, assumption, ops, require
from modelcheck.check import check, configure
from modelcheck.errors import EngineBug
from modelcheck.explicit import SearchOptions
from modelcheck.spec import compile_spec
from modelcheck.symbolic.certificate import with_assumptions
from modelcheck.symbolic.chc import show
from modelcheck.symbolic.encode import Encoding
from modelcheck.symbolic.prove import ProveOptions, prove
from modelcheck.trace import replay
from modelcheck.verdict import Verdict

# --------------------------------------------------------------------------- fixtures


class Queue(Spec):
    """A producer pushes 0, 1, 2 onto a bounded queue; a consumer pops into ``done``.

    ``lifo`` pops from the back instead, which breaks the FIFO property at depth 5.
    """

    lifo = Param(False)

    def fields(self):
        return {"q": Seq(Int(0, 2), 3), "next": Int(0, 3), "done": Seq(Int(0, 2), 3), "mode": Enum("idle", "busy")}

    def initial(self):
        yield self.state(q=(), next=0, done=(), mode="idle")

    @action
    def push(self, s):
        require(s.next < 3 and len(s.q) < 3)
        return s.replace(q=ops.append(s.q, s.next), next=s.next + 1, mode="busy")

    @action
    def pop(self, s):
        require(not ops.is_empty(s.q))
        if self.lifo:
            return s.replace(q=s.q[:-1], done=ops.append(s.done, s.q[-1]))
        return s.replace(q=ops.tail(s.q), done=ops.append(s.done, ops.head(s.q)))

    @always
    def fifo(self, s):
        return all(s.done[i] == i for i in range(len(s.done)))


class Graph(Spec):
    """A spec built from an edge list; ``careful`` is an assumption that forbids edge 2→3."""

    edges = Param("0-1 1-2 2-3 2-0 3-4")
    careful = Param("on", allowed=("on", "off"))

    def setup(self):
        self.pairs = tuple(tuple(int(x) for x in e.split("-")) for e in self.edges.split())

    def fields(self):
        return {"at": Int(0, 4)}

    def initial(self):
        yield self.state(at=0)

    @action(edge=lambda self: range(len(self.pairs)))
    def move(self, s, edge):
        a, b = self.pairs[edge]
        require(s.at == a)
        return s.replace(at=b)

    @assumption(when=lambda self: self.careful == "on")
    def avoid(self, before, step, after):
        """Never take an edge into node 3."""
        return after.at != 3

    @always
    def never_four(self, s):
        return s.at != 4


# --------------------------------------------------------------------------- machinery


def test_queue_fifo_proved_by_every_engine():
    for engine in ("certificate", "spacer", "kind"):
        result = prove(Queue(), ["fifo"], ProveOptions(engine=engine)).results[0]
        assert result.verdict is Verdict.PROVED, (engine, result.reason)
    bmc = prove(Queue(), ["fifo"], ProveOptions(engine="bmc", depth=8)).results[0]
    assert bmc.verdict is Verdict.HOLDS_UP_TO_BOUND


def test_lifo_queue_counterexample_is_shortest_and_replays():
    spec = Queue(lifo=True)
    explicit = check(spec, ["fifo"]).results[0]
    for engine in ("bmc", "certificate", "spacer", "kind"):
        run = prove(spec, ["fifo"], ProveOptions(engine=engine, depth=10))
        result = run.results[0]
        assert result.verdict is Verdict.VIOLATED, engine
        assert len(result.trace) == len(explicit.trace) == 3
        replay(run.compiled, result.trace)


def test_spacer_reports_a_readable_invariant():
    result = prove(Queue(), ["fifo"], ProveOptions(engine="spacer")).results[0]
    assert "done" in result.extra["invariant"]
    assert "@" not in result.extra["invariant"]


@pytest.mark.parametrize("careful", ["on", "off"])
def test_assumption_core_names_what_the_proof_needs(careful):
    result = prove(Graph(careful=careful), ["never_four"]).results[0]
    if careful == "on":
        assert result.verdict is Verdict.PROVED
        assert result.assumptions == ("avoid",)
        assert result.extra["without"] == {"avoid": "VIOLATED"}
    else:
        assert result.verdict is Verdict.VIOLATED
        assert [st.action for st, _ in result.trace.steps] == ["move"] * 4


def test_unneeded_assumption_is_left_out_of_the_core():
    spec = Graph(edges="0-1 1-2 2-3 2-0 3-4", careful="on")
    compiled_result = prove(spec, ["never_four"], ProveOptions(engine="kind")).results[0]
    assert compiled_result.assumptions == ("avoid",)
    harmless = Graph(edges="0-1 1-0 3-4", careful="on")
    result = prove(harmless, ["never_four"]).results[0]
    assert result.verdict is Verdict.PROVED
    assert result.assumptions == ()


@pytest.mark.parametrize("edges", ["0-1 1-2 2-4", "0-1 1-0", "0-2 2-3 3-4 0-1 1-4", "0-3 3-1 1-2 2-4 1-4"])
def test_bmc_agrees_with_explicit_on_edge_lists(edges):
    spec = Graph(edges=edges, careful="off")
    explicit = check(spec, ["never_four"]).results[0]
    result = prove(spec, ["never_four"], ProveOptions(engine="bmc", depth=6)).results[0]
    if explicit.verdict is Verdict.VIOLATED:
        assert result.verdict is Verdict.VIOLATED
        assert len(result.trace) == len(explicit.trace)
    else:
        assert result.verdict is Verdict.HOLDS_UP_TO_BOUND
        assert prove(spec, ["never_four"]).results[0].verdict is Verdict.PROVED


# --------------------------------------------------------------------------- virtio-blk

SMALL = [
    (profile, workload, qdepth, guest)
    for profile in ("qemu-2010", "qemu-7.2")
    for workload, qdepth in (("W0 F", 1), ("W0 F", 2))
    for guest in ("drain", "nodrain")
]


@pytest.mark.parametrize(("profile", "workload", "qdepth", "guest"), SMALL)
def test_virtio_bmc_agrees_with_explicit(profile, workload, qdepth, guest):
    """BMC finds a violation within k steps exactly when the explicit search does, same length;
    with k = the explicit search's depth, no violation found means none exists."""
    spec = configure(VIRTIO, {"profile": profile, "workload": workload, "qdepth": qdepth, "guest": guest})
    explicit = check(spec, ["barrier"]).results[0]
    result = prove(spec, ["barrier"], ProveOptions(engine="bmc", depth=explicit.depth)).results[0]
    if explicit.verdict is Verdict.VIOLATED:
        assert result.verdict is Verdict.VIOLATED
        assert len(result.trace) == len(explicit.trace)
    else:
        assert explicit.verdict is Verdict.HOLDS
        assert result.verdict is Verdict.HOLDS_UP_TO_BOUND


@pytest.mark.parametrize("profile", ["qemu-2010", "qemu-7.2"])
def test_virtio_spacer_agrees_with_explicit_on_the_smallest_case(profile):
    spec = configure(VIRTIO, {"profile": profile, "workload": "W0 F", "qdepth": 1, "guest": "drain"})
    explicit = check(spec, ["barrier"]).results[0]
    result = prove(spec, ["barrier"], ProveOptions(minimise=False)).results[0]
    assert explicit.verdict is Verdict.HOLDS
    assert result.verdict is Verdict.PROVED


# --------------------------------------------------------------------------- the certificate prover

TARGET = {"workload": "W0 W1 F W2 F", "qdepth": 3, "failures": 1, "migrations": 1}


@pytest.mark.parametrize("profile", ["qemu-2010", "qemu-7.2"])
def test_barrier_proved_under_drain_and_refuted_without_it(profile):
    """The must-show: PROVED by the default engine under drain, the core names only its half
    flush_waits, and without it BMC's counterexample replays in the spec with only writes_wait,
    as short as the explicit search's under guest=writes_wait."""
    spec = configure(VIRTIO, {**TARGET, "profile": profile, "guest": "drain"})
    run = prove(spec, ["barrier"])
    result = run.results[0]
    assert result.verdict is Verdict.PROVED, result.reason
    assert result.engine == "certificate"
    assert result.assumptions == ("flush_waits",)
    assert result.extra["without"] == {"flush_waits": "VIOLATED", "writes_wait": "PROVED"}
    assert result.extra["invariant_states"] == {"qemu-2010": 349, "qemu-7.2": 371}[profile]
    trace = result.extra["without_traces"]["flush_waits"]
    replay(with_assumptions(run.compiled, ("writes_wait",)), trace)
    half = check(configure(VIRTIO, {**TARGET, "profile": profile, "guest": "writes_wait"}), ["barrier"]).results[0]
    assert len(trace) == len(half.trace)


SMALL_ALL = [*SMALL, *[("qemu-2010", "W0 W1 F", 2, guest) for guest in ("drain", "nodrain")]]


@pytest.mark.parametrize(("profile", "workload", "qdepth", "guest"), SMALL_ALL)
def test_certificate_agrees_with_explicit(profile, workload, qdepth, guest):
    """Every proof agrees with the exhaustive explicit verdict; every refutation has its length."""
    spec = configure(VIRTIO, {"profile": profile, "workload": workload, "qdepth": qdepth, "guest": guest})
    explicit = check(spec, ["barrier"]).results[0]
    result = prove(spec, ["barrier"], ProveOptions(minimise=False)).results[0]
    if explicit.verdict is Verdict.VIOLATED:
        assert result.verdict is Verdict.VIOLATED
        assert len(result.trace) == len(explicit.trace)
    else:
        assert explicit.verdict is Verdict.HOLDS
        assert result.verdict is Verdict.PROVED


def test_a_state_the_explicit_search_lost_is_an_engine_bug(monkeypatch):
    """If the explicit engine missed a reachable state, z3's consecution check finds the step out."""
    import modelcheck.symbolic.certificate as certificate

    real = certificate.explore

    def lossy(*args, **kwargs):
        ex = real(*args, **kwargs)
        ex.states = ex.states[:-1]
        return ex

    monkeypatch.setattr(certificate, "explore", lossy)
    spec = configure(VIRTIO, {"profile": "qemu-2010", "workload": "W0 F", "qdepth": 1, "guest": "drain"})
    with pytest.raises(EngineBug, match="leaves the explicit engine's reachable set"):
        prove(spec, ["barrier"], ProveOptions(minimise=False))


def test_generalised_clauses_are_a_checked_invariant():
    spec = configure(VIRTIO, {"profile": "qemu-7.2", "workload": "W0 F", "qdepth": 2, "guest": "drain"})
    result = prove(spec, ["barrier"], ProveOptions(generalise=True, minimise=False)).results[0]
    assert result.verdict is Verdict.PROVED
    assert result.extra["invariant_kind"] == "clauses"
    lines = result.extra["invariant"].splitlines()
    assert lines[0] == "barrier" and len(lines) == result.extra["invariant_conjuncts"]
    assert "@" not in result.extra["invariant"]


def test_truth_value_equalities_print_as_iff_and_xor():
    a, b = z3.Ints("migrations_left nospc_left")
    assert show(z3.Not((a == 1) == (b == 1)), {}) == "(migrations_left = 1 ⊕ nospc_left = 1)"
    assert show((a == 1) == (b == 1), {}) == "(migrations_left = 1 ↔ nospc_left = 1)"


# --------------------------------------------------------------------------- symbolic workloads


def test_any_program_covers_every_concrete_workload():
    """workload=any:2 starts from every program of up to two writes and flushes, and its states
    include those of each concrete program (renamed: request r writes sector r)."""
    spec = configure(VIRTIO, {"profile": "qemu-2010", "workload": "any:2", "qdepth": 3, "guest": "drain"})
    compiled = compile_spec(spec)
    assert sorted(s.kind for s in compiled.initial) == sorted(
        [("none", "none"), ("W", "none"), ("F", "none"), *[(a, b) for a in "WF" for b in "WF"]])
    assert check(spec, ["barrier"]).results[0].states == 450


@pytest.mark.parametrize("profile", ["qemu-2010", "qemu-7.2"])
def test_any_program_proved_under_drain_and_refuted_with_a_program_under_nodrain(profile):
    base = {"profile": profile, "workload": "any:2", "qdepth": 2}
    result = prove(configure(VIRTIO, {**base, "guest": "drain"}), ["barrier"]).results[0]
    assert result.verdict is Verdict.PROVED
    assert result.assumptions == ("flush_waits",)
    refuted = prove(configure(VIRTIO, {**base, "guest": "nodrain"}), ["barrier"]).results[0]
    assert refuted.verdict is Verdict.VIOLATED
    assert refuted.trace.initial.kind == ("W", "F")


def test_any_three_is_proved_past_the_table_limit_and_bmc_matches_explicit_without_drain():
    """any:3 has 5431 reachable states under drain: past the table limit, so the certificate is
    checked state by state (or, asked for, as generalised clauses); under nodrain BMC's
    refutation is as short as the explicit one."""
    base = {"profile": "qemu-2010", "workload": "any:3", "qdepth": 3}
    drain = configure(VIRTIO, {**base, "guest": "drain"})
    result = prove(drain, ["barrier"], ProveOptions(minimise=False)).results[0]
    assert result.verdict is Verdict.PROVED
    assert result.extra["certificate_check"] == "state by state"
    assert result.extra["invariant_states"] == 5431
    clauses = prove(drain, ["barrier"], ProveOptions(minimise=False, generalise=True)).results[0]
    assert clauses.verdict is Verdict.PROVED and clauses.extra["invariant_kind"] == "clauses"
    spec = configure(VIRTIO, {**base, "guest": "nodrain"})
    explicit = check(spec, ["barrier"]).results[0]
    refuted = prove(spec, ["barrier"], ProveOptions(engine="bmc", depth=len(explicit.trace))).results[0]
    assert refuted.verdict is Verdict.VIOLATED
    assert len(refuted.trace) == len(explicit.trace)


# --------------------------------------------------------------------------- ops.first


class Servers(Spec):
    """Requests 0..3 wait on a queue in arrival order; ``serve`` takes the first one not yet
    served (``ops.first``), ``loop`` the same by a Python loop over the queue."""

    how = Param("first", allowed=("first", "loop"))

    def fields(self):
        return {"q": Seq(Int(0, 3), 3), "served": Tuple(Bool(), 4), "next": Int(0, 4)}

    def initial(self):
        yield self.state(q=(), served=(False,) * 4, next=0)

    @action
    def arrive(self, s):
        require(s.next < 4 and len(s.q) < 3)
        return s.replace(q=ops.append(s.q, s.next), next=s.next + 1)

    @action(r=lambda self: range(4))
    def serve(self, s, r):
        if self.how == "first":
            oldest = ops.first(s.q, lambda x: ops.negate(ops.at(s.served, x)), -1)
        else:
            oldest = -1
            for x in reversed(list(s.q)):
                oldest = ops.ite(ops.negate(ops.at(s.served, x)), x, oldest)
        require(oldest == r)
        return s.replace(served=ops.update(s.served, r, True))

    @action
    def leave(self, s):
        require(not ops.is_empty(s.q) and ops.at(s.served, ops.head(s.q)))
        return s.replace(q=ops.tail(s.q))

    @always
    def in_order(self, s):
        return all(not s.served[b] or s.served[a] for a in range(4) for b in range(a + 1, 4))


def test_first_is_the_loop_and_does_not_fork_on_the_length():
    """``ops.first`` gives the loop's states in every backend, with fewer symbolic paths."""
    answers = {}
    for how in ("first", "loop"):
        for backend in ("interpreted", "compiled"):
            run = check(configure(Servers, {"how": how}), options=SearchOptions(backend=backend))
            answers[how, backend] = tuple((r.name, r.verdict, r.states, r.transitions,
                                           len(r.trace.steps) if r.trace else None) for r in run.results)
    assert len(set(answers.values())) == 1, answers
    paths = {how: sum(len(ie.paths) for ie in Encoding(compile_spec(configure(Servers, {"how": how}))).instances
                      if ie.inst.name.startswith("serve"))
             for how in ("first", "loop")}
    assert paths["first"] < paths["loop"], paths
