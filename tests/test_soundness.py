"""Issue 13: the six ways the z3 engine could print a wrong answer, each reproduced by a tiny spec.

Every test here failed before the fix (a PROVED for a violated property, a "replayed"
counterexample the property does not fail on, a proof of an ill-typed spec, a silent
vacuous proof, a "needs" for an undecided drop, a timeout called an engine bug).
"""

import pytest

from modelcheck import Bool, Int, Param, Spec, Tuple, action, always, assumption, at_end, ops, require
from modelcheck.check import check
from modelcheck.errors import EngineBug, SpecError
from modelcheck.spec import compile_spec
from modelcheck.symbolic.prove import ProveOptions, prove
from modelcheck.trace import Trace, rejudge, replay
from modelcheck.verdict import Verdict

# --------------------------------------------------------------------------- 1: `is`, isinstance, type()


class IsGuard(Spec):
    """``bump`` is guarded by ``s.flag is False``: concretely enabled, symbolically never."""

    def fields(self):
        return {"flag": Bool(), "n": Int(0, 2)}

    def initial(self):
        yield self.state(flag=False, n=0)

    @action
    def bump(self, s):
        require(s.flag is False)
        require(s.n < 2)
        return s.replace(n=s.n + 1)

    @always
    def stays_zero(self, s):
        return s.n == 0


class IsinstanceGuard(IsGuard):
    @action
    def bump(self, s):
        require(isinstance(s.n, int))
        require(s.n < 2)
        return s.replace(n=s.n + 1)


class TypeGuard(IsGuard):
    @action
    def bump(self, s):
        require(type(s.n) is int)
        require(s.n < 2)
        return s.replace(n=s.n + 1)


class ConcreteIs(IsGuard):
    """``is`` on concrete values (an argument, None) is fine and still proves/refutes correctly."""

    @action
    def bump(self, s):
        limit = 2
        require(limit is not None and type(limit) is int)
        require(s.n < limit)
        return s.replace(n=s.n + 1)


@pytest.mark.parametrize("spec_class", [IsGuard, IsinstanceGuard, TypeGuard])
@pytest.mark.parametrize("engine", ["certificate", "spacer", "kind", "bmc"])
def test_is_isinstance_type_on_symbolic_values_are_refused_with_the_line(spec_class, engine):
    assert check(spec_class()).results[0].verdict is Verdict.VIOLATED
    with pytest.raises(SpecError) as err:
        prove(spec_class(), options=ProveOptions(engine=engine))
    assert err.value.where is not None and err.value.where.line > 0
    assert err.value.where.name.endswith("bump")


@pytest.mark.parametrize("engine", ["certificate", "spacer", "kind"])
def test_is_on_concrete_values_still_works_and_the_violation_is_found(engine):
    run = prove(ConcreteIs(), options=ProveOptions(engine=engine))
    assert run.results[0].verdict is Verdict.VIOLATED
    assert run.results[0].trace is not None and len(run.results[0].trace) == 1


# --------------------------------------------------------------------------- 3: ops.update / ops.at out of range


class UpdatePastEnd(Spec):
    """``write`` sets slot ``s.i`` of a two-slot tuple, and ``s.i`` reaches 2 (past the end)."""

    def fields(self):
        return {"slots": Tuple(Bool(), 2), "i": Int(0, 2)}

    def initial(self):
        yield self.state(slots=(False, False), i=0)

    @action
    def write(self, s):
        require(s.i < 2)
        return s.replace(i=s.i + 1)

    @action
    def mark(self, s):
        return s.replace(slots=ops.update(s.slots, s.i, True))

    @always
    def fine(self, s):
        return True


class AtPastEnd(UpdatePastEnd):
    @action
    def mark(self, s):
        require(ops.at(s.slots, s.i) is not None)
        return s


def test_ops_range_errors_are_the_same_concretely_and_symbolically():
    with pytest.raises(IndexError):
        ops.update((1, 2), 2, 0)
    with pytest.raises(IndexError):
        ops.at((1, 2), 2)
    with pytest.raises(IndexError):
        ops.at((1, 2), -1)
    assert ops.update((1, 2), 1, 0) == (1, 0) and ops.at((1, 2), 1) == 2


@pytest.mark.parametrize("spec_class", [UpdatePastEnd, AtPastEnd])
@pytest.mark.parametrize("engine", ["certificate", "spacer", "kind", "bmc"])
def test_out_of_range_update_and_at_are_spec_errors_in_every_engine(spec_class, engine):
    with pytest.raises(SpecError):
        check(spec_class())
    with pytest.raises(SpecError):
        prove(spec_class(), options=ProveOptions(engine=engine))


# --------------------------------------------------------------------------- 2: counterexamples re-judged


class IsProperty(IsGuard):
    """``off`` is written with ``is``: true on every concrete state, false on every symbolic one."""

    @action
    def bump(self, s):
        require(s.n < 2)
        return s.replace(n=s.n + 1)

    @always
    def off(self, s):
        return s.flag is False


@pytest.mark.parametrize("engine", ["certificate", "spacer", "kind", "bmc"])
def test_a_counterexample_on_which_the_property_holds_is_never_printed(engine, monkeypatch):
    """With the refusal of `is` switched off, the symbolic engine misjudges ``off``; the replay
    re-judges the property on the trace's states and calls it an engine bug, not VIOLATED."""
    import modelcheck.symbolic.encode as encode
    from modelcheck.symbolic.identity import IdentityGuard

    monkeypatch.setattr(encode, "spec_guard", lambda spec: IdentityGuard(object))
    assert check(IsProperty(), ["off"]).results[0].verdict is Verdict.HOLDS
    with pytest.raises(EngineBug):
        prove(IsProperty(), ["off"], ProveOptions(engine=engine))


def test_rejudge_checks_each_kind_of_claim():
    compiled = compile_spec(IsGuard())
    s0 = compiled.initial[0]
    s1 = s0.replace(n=1)
    step = compiled.instances[0].step
    holds = Trace(s0, (), "stays_zero")
    fails = Trace(s0, ((step, s1),), "stays_zero")
    prop = compiled.properties["stays_zero"]
    with pytest.raises(EngineBug):
        rejudge(compiled, holds, prop)
    rejudge(compiled, fails, prop)
    with pytest.raises(EngineBug):
        replay(compiled, holds, prop)


# --------------------------------------------------------------------------- 6: limits are UNKNOWN, deterministic


class Counter(Spec):
    """A counter that wraps at 3; ``small`` holds."""

    def fields(self):
        return {"n": Int(0, 3)}

    def initial(self):
        yield self.state(n=0)

    @action
    def tick(self, s):
        return s.replace(n=ops.ite(s.n < 3, s.n + 1, 0))

    @always
    def small(self, s):
        return s.n <= 3


@pytest.mark.parametrize("engine,generalise", [("spacer", False), ("certificate", True)])
def test_a_solver_limit_in_the_independent_check_is_unknown_not_an_engine_bug(engine, generalise, monkeypatch):
    import modelcheck.symbolic.chc as chc
    from modelcheck.symbolic.encode import Limits

    starved = Limits(rlimit=1)
    monkeypatch.setattr(chc, "new_solver", lambda limits, logic=None: encode_new_solver(starved))
    result = prove(Counter(), ["small"], ProveOptions(engine=engine, generalise=generalise)).results[0]
    assert result.verdict is Verdict.UNKNOWN
    assert "engine bug" not in result.reason and "resource limit" in result.reason


def encode_new_solver(limits):
    from modelcheck.symbolic.encode import new_solver

    return new_solver(limits)


def test_limits_are_deterministic_by_default_and_recorded():
    from modelcheck.symbolic.encode import Limits

    opts = ProveOptions()
    assert opts.limits.timeout_ms == 0 and opts.limits.rlimit > 0
    first = prove(Counter(), ["small"], opts).results[0]
    assert first.verdict is Verdict.PROVED
    assert first.extra["solver_limits"] == {"rlimit": opts.limits.rlimit, "timeout_ms": 0, "seed": 0}
    starved = ProveOptions(engine="kind", limits=Limits(rlimit=1))
    answers = {prove(Counter(), ["small"], starved).results[0].verdict for _ in range(3)}
    assert answers == {Verdict.UNKNOWN}


# --------------------------------------------------------------------------- 5: "needs" only when refuted


class Climb(Spec):
    """``n`` climbs to 40; the assumption ``low`` stops it at 2 (a deadlock it adds: vacuity).
    ``bounded`` holds either way, but without ``low`` the certificate engine (capped at 10
    states below) cannot decide it."""

    def fields(self):
        return {"n": Int(0, 40)}

    def initial(self):
        yield self.state(n=0)

    @action
    def up(self, s):
        require(s.n < 40)
        return s.replace(n=s.n + 1)

    @assumption
    def low(self, before, step, after):
        return after.n <= 2

    @always
    def bounded(self, s):
        return s.n <= 40

    @always
    def below_three(self, s):
        return s.n < 3


def test_an_undecided_drop_is_not_listed_as_needed():
    result = prove(Climb(), ["bounded"], ProveOptions(max_states=10)).results[0]
    assert result.verdict is Verdict.PROVED
    assert result.assumptions == ()
    assert result.extra["undecided"] == ["low"] and result.extra["without"] == {"low": "UNKNOWN"}


def test_a_refuted_drop_is_needed_with_its_trace():
    result = prove(Climb(), ["below_three"], ProveOptions(max_states=100)).results[0]
    assert result.verdict is Verdict.PROVED
    assert result.assumptions == ("low",) and result.extra["undecided"] == []
    trace = result.extra["without_traces"]["low"]
    assert trace.actions == ["up"] * 3
    assert result.extra["vacuous"]  # low stops n at 2: a deadlock it adds


# --------------------------------------------------------------------------- 4: vacuity reported


class Vacuous(Climb):
    """``never`` forbids every step; ``odd`` and ``even`` together forbid every step of ``up``."""

    def fields(self):
        return {"n": Int(0, 40), "m": Int(0, 1)}

    def initial(self):
        yield self.state(n=0, m=0)

    @action
    def flip(self, s):
        require(s.m == 0)
        return s.replace(m=1)

    low = None

    @assumption(when=lambda self: self.mode == "never")
    def never(self, before, step, after):
        return False

    @assumption(when=lambda self: self.mode == "contradict")
    def odd(self, before, step, after):
        return step.action != "up" or after.n % 2 == 1

    @assumption(when=lambda self: self.mode == "contradict")
    def even(self, before, step, after):
        return step.action != "up" or after.n % 2 == 0

    @assumption(when=lambda self: self.mode == "stall")
    def stall(self, before, step, after):
        return not (step.action == "up" and before.n == 1)

    @assumption(when=lambda self: self.mode == "calm")
    def calm(self, before, step, after):
        return step.action != "flip" or before.n >= 1

    mode = Param("never", allowed=("never", "contradict", "stall", "calm", "honest"))

    @always
    def below_three(self, s):
        return s.n < 3

    @always
    def flips_late(self, s):
        return s.m == 0 or s.n >= 1


@pytest.mark.parametrize("mode,kind", [("never", "no_initial_step"), ("contradict", "blocked_action"),
                                       ("stall", "added_deadlock")])
@pytest.mark.parametrize("engine", ["certificate", "kind"])
def test_a_proof_resting_on_blocking_assumptions_is_reported_vacuous(mode, kind, engine, tmp_path):
    assert check(Vacuous(mode="honest"), ["below_three"]).results[0].verdict is Verdict.VIOLATED
    result = prove(Vacuous(mode=mode), ["below_three"], ProveOptions(engine=engine)).results[0]
    assert result.verdict is Verdict.PROVED
    assert result.extra.get("vacuous")
    assert kind in result.extra["vacuity_traces"]
    replay(compile_spec(Vacuous(mode=mode)), result.extra["vacuity_traces"][kind])


def test_prove_exits_with_the_vacuity_code(tmp_path, capsys):
    from modelcheck.cli import main

    path = tmp_path / "vac.py"
    path.write_text(VACUOUS_FILE)
    assert main(["prove", f"{path}:Spec1", "-p", "below_three"]) == 4
    assert main(["prove", f"{path}:Spec1", "-p", "below_three", "--set", "on=0"]) == 1
    assert "VACUOUS" in capsys.readouterr().out


VACUOUS_FILE = '''
from modelcheck import Int, Param, Spec, action, always, assumption, require


class Spec1(Spec):
    on = Param(1)

    def fields(self):
        return {"n": Int(0, 5)}

    def initial(self):
        yield self.state(n=0)

    @action
    def up(self, s):
        require(s.n < 5)
        return s.replace(n=s.n + 1)

    @assumption(when=lambda self: self.on == 1)
    def never(self, before, step, after):
        return False

    @always
    def below_three(self, s):
        return s.n < 3
'''


def test_an_assumption_that_only_prunes_is_not_vacuous():
    result = prove(Vacuous(mode="calm"), ["flips_late"]).results[0]
    assert result.verdict is Verdict.PROVED and result.assumptions == ("calm",)
    assert not result.extra.get("vacuous")
    assert check(Vacuous(mode="honest"), ["flips_late"]).results[0].verdict is Verdict.VIOLATED


# --------------------------------------------------------------------------- at_end in prove (BMC)


class Countdown(Spec):
    """Counts ``n`` up to ``top``; ``early`` may stop it at 1; ``wrap`` lets it go round forever."""

    top = Param(3)
    early = Param(False)
    wrap = Param(False)

    def fields(self):
        return {"n": Int(0, 30), "stopped": Bool()}

    def initial(self):
        yield self.state(n=0, stopped=False)

    @action
    def up(self, s):
        require(not s.stopped and s.n < self.top)
        return s.replace(n=s.n + 1)

    @action
    def stop(self, s):
        require(self.early and s.n == 1 and not s.stopped)
        return s.replace(stopped=True)

    @action
    def again(self, s):
        require(self.wrap and s.n == self.top)
        return s.replace(n=0)

    @at_end
    def reaches_top(self, s):
        return s.n == self.top


@pytest.mark.parametrize("engine", ["certificate", "spacer", "kind", "bmc"])
@pytest.mark.parametrize("params,verdict,steps,loop", [
    ({}, Verdict.PROVED, None, None),
    ({"early": True}, Verdict.VIOLATED, ["up", "stop"], None),
    ({"wrap": True}, Verdict.VIOLATED, ["up", "up", "up", "again"], 0),
    ({"top": 30}, Verdict.HOLDS_UP_TO_BOUND, None, None),
])
def test_at_end_properties_are_judged_by_prove(engine, params, verdict, steps, loop):
    explicit = check(Countdown(**params)).results[0].verdict
    result = prove(Countdown(**params), options=ProveOptions(engine=engine, depth=8)).results[0]
    if engine == "certificate" and verdict is Verdict.HOLDS_UP_TO_BOUND:
        verdict = Verdict.PROVED  # the reachable set, checked state by state and acyclic, has no bound
    assert result.verdict is verdict
    assert explicit is (Verdict.HOLDS if verdict is not Verdict.VIOLATED else Verdict.VIOLATED)
    if steps is not None:
        assert result.trace.actions == steps and result.trace.loop_start == loop


def test_a_cycle_the_explicit_search_missed_is_an_engine_bug_for_at_end(monkeypatch):
    from modelcheck.symbolic import rowcheck

    monkeypatch.setattr(rowcheck, "_on_cycle", lambda edges: 0)
    with pytest.raises(EngineBug, match="cycle"):
        prove(Countdown(), options=ProveOptions(engine="certificate"))


class Overflow(Counter):
    """``tick`` leaves Int(0, 3) from 3: a spec error in every engine."""

    @action
    def tick(self, s):
        return s.replace(n=s.n + 1)


@pytest.mark.parametrize("engine", ["certificate", "spacer", "kind", "bmc"])
def test_a_step_outside_the_field_types_is_a_spec_error_in_every_engine(engine):
    with pytest.raises(SpecError):
        check(Overflow())
    with pytest.raises(SpecError):
        prove(Overflow(), options=ProveOptions(engine=engine))
