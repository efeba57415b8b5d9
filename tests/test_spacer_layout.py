"""Issue 13: Spacer's compact layout (cone of influence, sequences as per-item positions).

The layout must describe exactly the spec's steps (every explicit edge is a compact step and
every compact step from a reachable state reaches a reachable state), must never turn a
sequence that repeats an item or a step out of the field types into a proof, and the
invariant it yields is checked again over the plain leaves.
"""

from __future__ import annotations

import pytest
import z3
from test_results_support import VIRTIO

from modelcheck import Int, Seq, Spec, action, always, ops, require
from modelcheck.check import configure
from modelcheck.errors import SpecError
from modelcheck.explicit import SearchOptions, explore
from modelcheck.spec import compile_spec
from modelcheck.symbolic.compact import compact
from modelcheck.symbolic.encode import Encoding, enforce
from modelcheck.symbolic.prove import ProveOptions, prove
from modelcheck.verdict import Verdict


def _image(cs, enc, row) -> list[z3.ExprRef]:
    """A concrete state's values in the compact layout."""
    plain = [z3.BoolVal(v) if isinstance(v, bool) else z3.IntVal(v) for v in row]
    out = [plain[i] for i, _ in cs.plain]
    for seq in cs.coded:
        out += [z3.simplify(e) for e in seq.positions(plain[seq.start:seq.start + 1 + seq.maxlen])]
    order = [v for _, v in cs.plain] + [v for seq in cs.coded for v in seq.vars(0)]
    by_var = dict(zip((v.get_id() for v in order), out))
    return [by_var[v.get_id()] for v in cs.x]


def test_the_compact_steps_are_exactly_the_spec_steps() -> None:
    spec = configure(str(VIRTIO), {"workload": "W0 F", "qdepth": 2, "guest": "flush_waits"})
    compiled = compile_spec(spec)
    enc = Encoding(compiled)
    prop = compiled.select(["barrier"])[0]
    guards = enforce(enc.assumption_names)
    bad, crash = enc.property_bad(prop, guards)
    cs = compact(enc, z3.Or(bad, crash, enc.fault(guards)), guards)
    assert "ordered" in cs.dropped and "used" in cs.kept  # barrier never reads ordered
    assert any(seq.name == "used" for seq in cs.coded)
    ex = explore(compiled, [], SearchOptions(keep_edges=True, validate=False))
    images = [_image(cs, enc, enc.row(s)) for s in ex.states]
    solver = z3.Solver()
    for sid, image in enumerate(images):
        assert z3.is_true(z3.simplify(z3.substitute(cs.domain, *zip(cs.x, image))))
        if ex.parent[sid] < 0:
            assert solver.check(z3.substitute(z3.And(cs.init, cs.domain), *zip(cs.x, image))) == z3.sat
    for n in range(0, len(ex.edges), 3):
        src, dst = ex.edges[n], ex.edges[n + 2]
        step = z3.substitute(cs.transition, *zip(cs.x, images[src]), *zip(cs.y, images[dst]))
        assert solver.check(step) == z3.sat, (ex.states[src], ex.states[dst])
    known = {tuple(str(v) for v in image) for image in images}
    for image in images[:40]:  # no compact step leaves the reachable states (a sample of sources)
        solver.push()
        solver.add(z3.substitute(cs.transition, *zip(cs.x, image)))
        while solver.check() == z3.sat:
            after = tuple(str(solver.model().eval(v, model_completion=True)) for v in cs.y)
            assert after in known
            solver.add(z3.Or(*[v != solver.model().eval(v, model_completion=True) for v in cs.y]))
        solver.pop()


class Repeats(Spec):
    """``q`` collects the same item again and again: positions cannot hold it."""

    def fields(self):
        return {"q": Seq(Int(0, 1), 3), "n": Int(0, 3)}

    def initial(self):
        yield self.state(q=(), n=0)

    @action
    def push(self, s):
        require(s.n < 3)
        return s.replace(q=ops.append(s.q, 0), n=s.n + 1)

    @always
    def short(self, s):
        return s.n <= 3

    @always
    def no_pair(self, s):
        return s.n < 2


def test_a_sequence_that_repeats_an_item_is_never_a_proof() -> None:
    run = prove(Repeats(), ["short", "no_pair"], ProveOptions(engine="spacer", trace_depth=6))
    short, no_pair = run.results
    assert short.verdict is Verdict.UNKNOWN and "twice" in short.reason
    assert no_pair.verdict is Verdict.VIOLATED and no_pair.trace.actions == ["push", "push"]


class Overflow(Spec):
    """``junk`` is never read by the property, but climbs out of its type: a spec error."""

    def fields(self):
        return {"n": Int(0, 5), "junk": Int(0, 2), "idle": Int(0, 1)}

    def initial(self):
        yield self.state(n=0, junk=0, idle=0)

    @action
    def tick(self, s):
        require(s.n < 5)
        return s.replace(n=s.n + 1, junk=s.junk + 1, idle=1 - s.idle)

    @always
    def bounded(self, s):
        return s.n <= 5


def test_a_field_outside_the_cone_still_has_its_type_checked() -> None:
    with pytest.raises(SpecError):
        prove(Overflow(), ["bounded"], ProveOptions(engine="spacer"))


class Unread(Overflow):
    """As Overflow, but ``junk`` stays in its type: it and ``idle`` lie outside the cone."""

    @action
    def tick(self, s):
        require(s.n < 5)
        return s.replace(n=s.n + 1, junk=ops.ite(s.junk < 2, s.junk + 1, 2), idle=1 - s.idle)


def test_fields_outside_the_cone_are_named_and_the_proof_checked_over_all() -> None:
    result = prove(Unread(), ["bounded"], ProveOptions(engine="spacer")).results[0]
    assert result.verdict is Verdict.PROVED
    assert result.extra["outside_cone"] == ["junk", "idle"]


def test_spacer_proves_the_barrier_without_any_explicit_search(monkeypatch) -> None:
    """The enumeration-free prover: drain's barrier needs only flush_waits, and no explicit
    search runs for the proof (neither for samples nor for facts); the invariant is printed
    per request. (The vacuity check, a search of its own beside the proof, is stubbed.)"""
    import modelcheck.explicit
    import modelcheck.symbolic.houdini
    import modelcheck.symbolic.prove
    from modelcheck.symbolic.vacuity import Vacuity

    def refuse(*args, **kwargs):
        raise AssertionError("an explicit search ran")

    monkeypatch.setattr(modelcheck.symbolic.houdini, "explore", refuse)
    monkeypatch.setattr(modelcheck.explicit, "explore", refuse)
    monkeypatch.setattr(modelcheck.symbolic.prove, "check_vacuity", lambda *a, **k: Vacuity())
    spec = configure(str(VIRTIO), {"workload": "W0 F", "qdepth": 2, "guest": "drain"})
    run = prove(spec, ["barrier"], ProveOptions(engine="spacer"))
    result = run.results[0]
    assert result.verdict is Verdict.PROVED and result.assumptions == ("flush_waits",)
    assert result.extra["without"] == {"flush_waits": "VIOLATED", "writes_wait": "PROVED"}
    assert "used.index(F1)" in result.extra["invariant"]


def test_raced_seeds_give_the_verdict_of_one_seed_and_name_the_winner() -> None:
    spec = configure(str(VIRTIO), {"workload": "W0 F", "qdepth": 2, "guest": "drain"})
    one = prove(spec, ["barrier"], ProveOptions(engine="spacer", minimise=False)).results[0]
    raced = prove(spec, ["barrier"], ProveOptions(engine="spacer", minimise=False, seeds=2)).results[0]
    assert one.verdict is raced.verdict is Verdict.PROVED
    assert raced.extra["deciding_seed"] in (0, 1) and "deciding_seed" not in one.extra
    nodrain = configure(str(VIRTIO), {"workload": "W0 F", "qdepth": 2, "guest": "nodrain"})
    refuted = prove(nodrain, ["barrier"], ProveOptions(engine="spacer", seeds=2)).results[0]
    assert refuted.verdict is Verdict.VIOLATED and refuted.trace is not None


class Budget(Spec):
    """``fail`` may happen while ``left`` lasts; ``hits`` counts failures, never past 2."""

    def fields(self):
        return {"left": Int(0, 1), "hits": Int(0, 2), "done": Int(0, 1)}

    def initial(self):
        yield self.state(left=1, hits=0, done=0)

    @action
    def fail(self, s):
        require(s.left > 0)
        require(s.hits < 2)
        return s.replace(left=s.left - 1, hits=s.hits + 1)

    @action
    def finish(self, s):
        require(s.done == 0)
        return s.replace(done=1)

    @always
    def done_is_a_flag(self, s):
        return s.done <= 1

    @always
    def one_failure(self, s):
        return s.hits <= 1


def test_a_free_budget_proves_for_every_value_and_never_refutes_falsely() -> None:
    every = prove(Budget(), ["done_is_a_flag", "one_failure"], ProveOptions(engine="spacer", free=("left",),
                                                                           trace_depth=6))
    flag, one = every.results
    assert flag.verdict is Verdict.PROVED and flag.extra["free_fields"] == ["left"]
    # true with the budget of one, false once the budget is free: a free field never makes a
    # refutation (BMC over the real configuration finds no trace), only an UNKNOWN
    assert one.verdict is Verdict.UNKNOWN
    assert prove(Budget(), ["one_failure"], ProveOptions(engine="spacer")).results[0].verdict is Verdict.PROVED
    with pytest.raises(Exception, match="no such field"):
        prove(Budget(), ["one_failure"], ProveOptions(engine="spacer", free=("nope",)))


def test_virtio_barrier_with_free_failure_and_migration_budgets() -> None:
    spec = configure(str(VIRTIO), {"workload": "W0 F", "qdepth": 2, "guest": "flush_waits"})
    result = prove(spec, ["barrier"], ProveOptions(engine="spacer", free=("nospc_left", "migrations_left"))).results[0]
    assert result.verdict is Verdict.PROVED


# ----------------------------------------------------------------- mined facts (issue 13)


def _compact_of(settings: dict, names: tuple[str, ...] | None = None):
    compiled = compile_spec(configure(str(VIRTIO), settings))
    enc = Encoding(compiled)
    guards = enforce(enc.assumption_names if names is None else names)
    bad, crash = enc.property_bad(compiled.select(["barrier"])[0], guards)
    return enc, compact(enc, z3.Or(bad, crash, enc.fault(guards)), guards)


def test_the_one_hot_form_is_equivalent_over_the_ranges() -> None:
    """Every formula the miner hands z3 in propositional form means the same over the ranges."""
    from modelcheck.symbolic.onehot import OneHot

    _, cs = _compact_of({"workload": "W0 F", "qdepth": 2, "guest": "flush_waits"})
    oh = OneHot()
    link = []
    for var, leaf in [*zip(cs.x, cs.leaves), *zip(cs.y, cs.leaves)]:
        if not leaf.is_bool:
            bits = oh.add(var, leaf.lo, leaf.hi)
            link.append(var == z3.Sum(*[z3.If(b, v, 0) for v, b in zip(range(leaf.lo, leaf.hi + 1), bits)]))
    for f in (cs.domain, cs.transition, cs.bad):
        solver = z3.Solver()
        solver.add(oh.exactly_one(), *link, cs.domain, z3.substitute(cs.domain, *zip(cs.x, cs.y)))
        solver.add(oh.formula(f) != f)
        assert solver.check() == z3.unsat


def test_mined_facts_prove_the_barrier_with_neither_spacer_nor_an_explicit_search(monkeypatch) -> None:
    """A small configuration proved by Houdini's facts alone: Spacer never starts, no explicit
    search runs, and the invariant (checked over the plain leaves) is printed fact by fact."""
    import modelcheck.explicit
    import modelcheck.symbolic.chc
    import modelcheck.symbolic.prove
    from modelcheck.symbolic.vacuity import Vacuity

    def refuse(*args, **kwargs):
        raise AssertionError("an explicit search or Spacer ran")

    class NoSpacer(z3.Fixedpoint):
        def __init__(self, *args, **kwargs) -> None:
            refuse()

    monkeypatch.setattr(modelcheck.explicit, "explore", refuse)
    monkeypatch.setattr(modelcheck.symbolic.chc.z3, "Fixedpoint", NoSpacer)
    monkeypatch.setattr(modelcheck.symbolic.prove, "check_vacuity", lambda *a, **k: Vacuity())
    spec = configure(str(VIRTIO), {"workload": "W0 W1 F", "qdepth": 3, "guest": "flush_waits"})
    result = prove(spec, ["barrier"], ProveOptions(engine="spacer", minimise=False)).results[0]
    assert result.verdict is Verdict.PROVED and result.extra["invariant_found_by"] == "houdini"
    mined = result.extra["mined"]
    assert mined["excludes_bad"] and 0 < mined["facts"] <= mined["candidates"]
    assert result.extra["invariant_conjuncts"] == mined["facts"]


def test_mined_facts_never_prove_a_violated_barrier() -> None:
    """Without the drain, the barrier is violated: the facts never exclude the bad states, and
    the verdict is VIOLATED with a replayed trace (or UNKNOWN), never PROVED."""
    from modelcheck.symbolic.encode import Limits
    from modelcheck.symbolic.mining import mine

    enc, cs = _compact_of({"workload": "W0 W1 F", "qdepth": 3, "guest": "nodrain"}, ())
    for seed in (0, 1):
        assert not mine(enc, cs, Limits(), 150, seed).excludes_bad
    spec = configure(str(VIRTIO), {"workload": "W0 F", "qdepth": 2, "guest": "nodrain"})
    result = prove(spec, ["barrier"], ProveOptions(engine="spacer")).results[0]
    assert result.verdict in (Verdict.VIOLATED, Verdict.UNKNOWN)
    if result.verdict is Verdict.VIOLATED:
        assert result.trace is not None and len(result.trace) > 0


def test_a_resource_limit_in_the_miner_is_unknown_never_a_proof() -> None:
    from modelcheck.symbolic.encode import Limits

    spec = configure(str(VIRTIO), {"workload": "W0 W1 F", "qdepth": 3, "guest": "flush_waits"})
    result = prove(spec, ["barrier"], ProveOptions(engine="spacer", minimise=False,
                                                   limits=Limits(rlimit=20_000))).results[0]
    assert result.verdict is Verdict.UNKNOWN and "resource limit" in result.reason
    assert result.extra["solver_limits"]["rlimit"] == 20_000
