"""The NVMe spec: each bug profile breaks its property, qemu keeps them all, mutants, z3.

Counts and counterexamples are pinned: a change means the explored system changed; look at
why before updating. Every configuration is small (the whole file runs in seconds).
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import ROOT

from modelcheck import action, require
from modelcheck.check import SearchOptions, check, configure
from modelcheck.loader import load_spec_class
from modelcheck.ops import update
from modelcheck.symbolic.prove import ProveOptions, prove
from modelcheck.trace import replay
from modelcheck.verdict import Verdict

NVME = str(ROOT / "specs" / "nvme.py")
Nvme: Any = load_spec_class(NVME)

HOLDS, VIOLATED = Verdict.HOLDS, Verdict.VIOLATED
PROPERTIES = ("flush_contract", "flush_covers_submitted_writes", "fua_write_durable", "cache_off_writes_durable",
              "completed_writes_survive_reset", "every_command_completes")


def labels(run, result) -> list[str]:
    return [run.compiled.show_step(step) for step, _ in result.trace.steps]


def verdicts(run) -> dict[str, Verdict]:
    return {r.name: r.verdict for r in run.results}


# --------------------------------------------------------------------------- bug profiles

# profile, settings -> the property it breaks and the shortest counterexample's actions
BUGS = [
    ("flush-not-sent", {"workload": "W0 F"}, "flush_contract",
     ["submit W0", "fetch W0", "execute W0 ok", "complete W0", "submit F1", "fetch F1", "execute F1 ok",
      "complete F1"]),
    ("vwc-ignored", {"workload": "VWC0 W0"}, "cache_off_writes_durable",
     ["submit VWC0", "fetch VWC0", "execute VWC0 ok", "complete VWC0", "submit W0", "fetch W0", "execute W0 ok",
      "complete W0"]),
    ("restore-drops-kick", {"workload": "W0 F"}, "every_command_completes", ["submit W0", "restore"]),
]


@pytest.mark.parametrize(("profile", "settings", "prop", "steps"), BUGS)
def test_each_bug_profile_breaks_its_property(profile, settings, prop, steps):
    spec = configure(NVME, {**settings, "profile": profile})
    run = check(spec, [prop])
    result = run.results[0]
    assert result.verdict is VIOLATED
    assert labels(run, result) == steps
    replay(run.compiled, result.trace)
    # the same configuration on qemu keeps the property
    assert check(configure(NVME, {**settings, "profile": "qemu"}), [prop]).results[0].verdict is HOLDS


def test_restore_drops_kick_hangs_with_the_flush_pending():
    """cloud-hypervisor PR 138's scenario: the guest's flush sits in the queue at the snapshot."""
    spec = configure(NVME, {"profile": "restore-drops-kick", "workload": "F"})
    run = check(spec, ["every_command_completes"])
    result = run.results[0]
    assert result.verdict is VIOLATED
    assert labels(run, result) == ["submit F1", "restore"]
    assert result.trace.steps[-1][1].kick == (False, False)


# --------------------------------------------------------------------------- qemu keeps them all

# settings -> states, transitions, depth (every property HOLDS on qemu with a waiting host)
QEMU = [
    ({"workload": "W0 F"}, 26, 39, 9),
    ({"workload": "VWC0 W0 F W1f", "qdepth": 2}, 90, 140, 17),
    ({"workload": "W0f F W0 F", "queues": 2, "resets": 1, "eio_failures": 1, "flush_failures": 1}, 1048, 1641, 19),
    ({"workload": "W0 VWC0 W1 F VWC1 W1f", "qdepth": 3, "resets": 1}, 2974, 5647, 26),
]


@pytest.mark.parametrize(("settings", "states", "transitions", "depth"), QEMU)
def test_qemu_keeps_every_property_with_a_waiting_host(settings, states, transitions, depth):
    run = check(configure(NVME, {**settings, "profile": "qemu", "guest": "waits"}), list(PROPERTIES))
    assert set(verdicts(run).values()) == {HOLDS}
    first = run.results[0]
    assert (first.states, first.transitions, first.depth) == (states, transitions, depth)


def test_a_host_that_does_not_wait_loses_only_the_submitted_writes_promise():
    """The NVMe contract covers writes completed before the flush's submission; a host that
    submits a flush behind a write still in flight gets no promise for that write."""
    run = check(configure(NVME, {"workload": "W0 F", "guest": "nowait"}), list(PROPERTIES))
    broken = {name for name, v in verdicts(run).items() if v is VIOLATED}
    assert broken == {"flush_covers_submitted_writes"}
    result = next(r for r in run.results if r.name == "flush_covers_submitted_writes")
    assert labels(run, result) == ["submit W0", "submit F1", "fetch W0", "fetch F1", "execute F1 ok", "complete F1"]


def test_multiple_queues_fetch_each_queue_in_order_but_not_across():
    spec = configure(NVME, {"workload": "W0 W1 W2", "queues": 2, "qdepth": 3, "restores": 0, "evict": "off"})
    run = check(spec, ["every_command_completes"])
    assert run.results[0].verdict is HOLDS
    compiled = run.compiled
    assert compiled.spec.queue == (1, 2, 1)


# --------------------------------------------------------------------------- mutants


class FlushIgnoresCache(Nvme):
    """Flush executes and reports success without writing anything back."""

    @action(r="Cmd", result=("ok", "eio"))
    def execute(self, s, r, result):
        after = super().execute(s, r, result)
        return after.replace(cache=s.cache, disk=s.disk) if self.kind[r] == "F" else after


class IgnoresFua(Nvme):
    """The FUA bit is dropped: a FUA write lands in the volatile cache."""

    @action(r="Cmd", result=("ok", "eio"))
    def execute(self, s, r, result):
        after = super().execute(s, r, result)
        if self.kind[r] != "W" or result != "ok" or not self.fua[r]:
            return after
        sec = self.sector[r]
        return after.replace(cache=update(s.cache, sec, r), disk=s.disk)


class WritesIgnoreCacheSetting(Nvme):
    """Set Features is applied, but writes always go through the cache."""

    @action(r="Cmd", result=("ok", "eio"))
    def execute(self, s, r, result):
        after = super().execute(s, r, result)
        if self.kind[r] != "W" or result != "ok" or self.fua[r]:
            return after
        return after.replace(cache=update(s.cache, self.sector[r], r), disk=s.disk)


class ResetDropsCache(Nvme):
    """The controller reset throws away the volatile cache."""

    @action
    def reset(self, s):
        return super().reset(s).replace(cache=(-1,) * len(self.sectors))


class ResetKeepsQueuesWithoutKick(Nvme):
    """The reset neither aborts queued commands nor fetches them again: they wait forever."""

    @action
    def reset(self, s):
        require(s.resets_left > 0)
        return s.replace(kick=(False,) * (self.queues + 1), resets_left=s.resets_left - 1)


class FlushAlwaysFails(Nvme):
    """Every flush fails."""

    @action(r="Cmd", result=("ok", "eio"))
    def execute(self, s, r, result):
        require(self.kind[r] != "F" or result == "eio")
        return super().execute(s, r, result)


# mutant, settings, property, verdict on the mutant, counterexample length
MUTANTS = [
    (FlushIgnoresCache, {"workload": "W0 F"}, "flush_contract", VIOLATED, 8),
    (FlushIgnoresCache, {"workload": "W0 F"}, "flush_covers_submitted_writes", VIOLATED, 8),
    (IgnoresFua, {"workload": "W0f"}, "fua_write_durable", VIOLATED, 4),
    (WritesIgnoreCacheSetting, {"workload": "VWC0 W0"}, "cache_off_writes_durable", VIOLATED, 8),
    (ResetDropsCache, {"workload": "W0", "resets": 1}, "completed_writes_survive_reset", VIOLATED, 5),
    (ResetKeepsQueuesWithoutKick, {"workload": "W0", "resets": 1, "restores": 0}, "every_command_completes",
     VIOLATED, 2),
    (FlushAlwaysFails, {"workload": "F", "flush_failures": 2}, "flush_seen", VIOLATED, None),  # no witness
]


@pytest.mark.parametrize(("mutant", "settings", "prop", "verdict", "length"), MUTANTS,
                         ids=[f"{m.__name__}-{p}" for m, _, p, _, _ in MUTANTS])
def test_every_property_can_fail(mutant, settings, prop, verdict, length):
    assert check(configure(Nvme, settings), [prop]).results[0].verdict is HOLDS
    run = check(configure(mutant, settings), [prop])
    result = run.results[0]
    assert result.verdict is verdict
    assert (len(result.trace) if result.trace else None) == length
    if result.trace:
        replay(run.compiled, result.trace)


def test_the_mutants_cover_every_property():
    assert {p for _, _, p, _, _ in MUTANTS} == {*PROPERTIES, "flush_seen"}


# --------------------------------------------------------------------------- z3


def test_z3_proves_the_flush_contract_without_a_guest_assumption():
    run = prove(configure(NVME, {"workload": "W0 F"}), ["flush_contract", "flush_covers_submitted_writes"])
    contract, covers = run.results
    assert contract.verdict is Verdict.PROVED and contract.assumptions == ()
    assert covers.verdict is Verdict.PROVED and covers.assumptions == ("waits",)


def test_spacer_proves_the_flush_contract_over_two_queues():
    spec = configure(NVME, {"workload": "W0 W1 F", "queues": 2, "restores": 0})
    result = prove(spec, ["flush_contract"], ProveOptions(engine="spacer")).results[0]
    assert result.verdict is Verdict.PROVED and result.assumptions == ()


@pytest.mark.parametrize(("profile", "settings", "prop", "steps"), BUGS)
def test_bmc_refutes_each_bug_profile_with_the_shortest_trace(profile, settings, prop, steps):
    spec = configure(NVME, {**settings, "profile": profile})
    run = prove(spec, [prop], ProveOptions(engine="bmc", depth=10))
    result = run.results[0]
    assert result.verdict is VIOLATED
    assert len(result.trace) == len(steps)
    replay(run.compiled, result.trace)


# --------------------------------------------------------------------------- views


@pytest.mark.parametrize(("profile", "settings", "prop", "steps"), BUGS)
def test_views_name_each_bug_and_draw_it(profile, settings, prop, steps):
    from modelcheck.results.svg import sequence_svg
    from modelcheck.views import views_of

    views = views_of(Nvme)
    letter = views.cause(prop, steps, {**settings, "profile": profile})
    assert letter == {"flush-not-sent": "N", "vwc-ignored": "V", "restore-drops-kick": "K"}[profile]
    spec = configure(NVME, {**settings, "profile": profile})
    run = check(spec, [prop])
    picture = sequence_svg(run.compiled, run.results[0].trace, case=profile, params=spec.params, verdict="VIOLATED")
    for title in ("Host", "SQ / CQ pairs", "NVMe controller", "Block layer and medium"):
        assert f">{title}<" in picture
    shown = {"flush-not-sent": "not durable: W0", "vwc-ignored": "not durable: W0",
             "restore-drops-kick": "never fetched: W0 (no kick)"}[profile]
    assert shown in picture


def test_a_host_that_does_not_wait_is_named_as_the_cause():
    from modelcheck.views import views_of

    steps = ["submit W0", "submit F1", "fetch W0", "fetch F1", "execute F1 ok", "complete F1"]
    assert views_of(Nvme).cause("flush_covers_submitted_writes", steps, {"profile": "qemu"}) == "H"


@pytest.mark.parametrize("settings", [QEMU[1][0], QEMU[2][0], {"workload": "W0 W1 R0 F", "guest": "nowait",
                                                                 "queues": 2, "qdepth": 3}])
def test_hints_leave_out_no_enabled_step(settings):
    spec = configure(NVME, settings)
    plain = check(spec, list(PROPERTIES))
    hinted = check(spec, list(PROPERTIES), SearchOptions(check_hints=True))
    assert [(r.verdict, r.states, r.transitions) for r in hinted.results] == \
        [(r.verdict, r.states, r.transitions) for r in plain.results]
