"""Which profile is real: run scenarios on QEMU once, then validate them against each profile.

The observations do not depend on the profile, so QEMU runs each scenario once (or
``repeat`` times, keeping every distinct observation); each profile's verdict is
*conforms* when every observation is a path of that profile's spec configuration, and
*refuted* otherwise, naming the first observation (in scenario order) that no path
produces, beside the nearest path the profile allows. With ``generate``, scenarios drawn
from a configuration's reachability graph (:mod:`.generate`) run too, and the report says
how much of that graph the real runs matched.

The report holds only what QEMU and the spec decide; timings and the host's facts (the
binary's path) are returned apart, so that two runs write the same report.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..explicit import SearchOptions, explore
from ..loader import load_spec_class
from ..spec import Spec, compile_spec
from . import scenarios as scenario_runs
from .generate import GENERATING, coverage, generate
from .machine import qemu_binary
from .mapping import expectation
from .scenarios import PERSISTENT, SCENARIOS, Observation, Scenario
from .validate import Graph, Validation, matched, validate

DEFAULT_SPEC = "specs/virtio_blk.py"
DEFAULT_PROFILES = ("qemu-7.2", "qemu-9.0", "fifo", "qemu-2010", "flush-after-restart")
CONFORMS, REFUTED = "conforms", "refuted"
FLUSH_ERRORS = ("transient", "sticky")  # what a persistent flush error's observation is held against
FLUSH_ERROR_PROFILE = "qemu-7.2"  # the QEMU the harness runs


def configuration(spec_cls: type[Spec], scenario: Scenario, profile: str) -> dict[str, Any]:
    """The spec parameters that describe a hand-written ``scenario`` on a device of ``profile``.

    The guest does not drain (``qdepth`` = the workload's length); only the scenario's
    failures may happen, each once; the backend completes in any order and QEMU's page
    cache is not evicted within a scenario.
    """
    wanted = {
        "workload": scenario.workload, "qdepth": len(scenario.workload.split()), "guest": "nodrain",
        "profile": profile, "werror": "stop", "rerror": "stop", "order": "any", "evict": "off",
        "eio_failures": 0, **scenario.budgets(), **({"queues": scenario.queues} if scenario.queues > 1 else {}),
    }
    declared = spec_cls.parameters()
    return {k: v for k, v in wanted.items() if k in declared}


def check_profiles(spec_cls: type[Spec], profiles: list[str]) -> None:
    """UsageError naming the known profiles when one asked for is not the spec's."""
    param = spec_cls.parameters().get("profile")
    if param is None:
        raise UsageError(f"{spec_cls.__name__} has no 'profile' parameter to hold against QEMU")
    for name in profiles:
        param.check(name)


@dataclass
class ProfileVerdict:
    """One profile against every observation."""

    profile: str
    verdict: str
    scenarios: dict[str, dict[str, Any]] = field(default_factory=dict)
    refuted_by: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "scenarios": self.scenarios, "refuted_by": self.refuted_by}


def observe(scenarios: tuple[Scenario, ...] | list[Scenario], *, repeat: int = 1, timeout: float = 5.0,
            keep: Path | None = None) -> list[Observation]:
    """Every distinct observation of each scenario over ``repeat`` runs, in scenario order."""
    out: list[Observation] = []
    for scenario in scenarios:
        seen: set[str] = set()
        for _ in range(repeat):
            obs = scenario_runs.run(scenario, timeout=timeout, keep=keep)
            key = json.dumps(obs.plain(), sort_keys=True)
            if key not in seen:
                seen.add(key)
                out.append(obs)
    return out


class Graphs:
    """Reachability graphs with their edges, one per configuration, built when first asked for."""

    def __init__(self, spec_cls: type[Spec]):
        self.spec_cls = spec_cls
        self.built: dict[str, Graph] = {}

    def get(self, params: dict[str, Any]) -> Graph:
        key = json.dumps(params, sort_keys=True)
        if key not in self.built:
            compiled = compile_spec(self.spec_cls(**params))
            self.built[key] = Graph(explore(compiled, [], SearchOptions(keep_edges=True)))
        return self.built[key]


def judge(graphs: Graphs, profiles: list[str], observations: list[Observation],
          configurations: dict[str, dict[str, Any]], timing: dict[str, Any]) -> dict[str, ProfileVerdict]:
    """Each profile's verdict on the observations; ``configurations`` maps a scenario's name to
    its parameters (the profile is set per verdict); spec-side seconds go in ``timing``."""
    out = {}
    for profile in profiles:
        verdict = ProfileVerdict(profile, CONFORMS)
        for obs in observations:
            started = time.perf_counter()
            params = {**configurations[obs.scenario], "profile": profile}
            graph = graphs.get(params)
            result: Validation = validate(graph, expectation(obs), explain=verdict.refuted_by is None)
            entry = {"matches": result.matches, "path": result.path}
            label = obs.scenario
            n = 2
            while label in verdict.scenarios:
                label, n = f"{obs.scenario}#{n}", n + 1
            verdict.scenarios[label] = entry
            timing.setdefault(profile, {})[label] = time.perf_counter() - started
            if not result.matches and verdict.refuted_by is None:
                verdict.verdict = REFUTED
                verdict.refuted_by = {"scenario": label, "configuration": params, "observation": obs.plain(),
                                      "mismatch": result.mismatch.as_json() if result.mismatch else None}
        out[profile] = verdict
    return out


def judge_flush_errors(graphs: Graphs, spec_cls: type[Spec], observations: list[Observation],
                       scenarios: tuple[Scenario, ...]) -> dict[str, dict[str, Any]]:
    """Each persistent-flush-error scenario's observation against the spec's ``flush_error``
    settings (on the QEMU the harness runs): per scenario and setting, whether a path of that
    configuration produces it, and else the channel where it leaves the spec."""
    if "flush_error" not in spec_cls.parameters():
        return {}
    out: dict[str, dict[str, Any]] = {}
    for scenario in scenarios:
        for obs in [o for o in observations if o.scenario == scenario.name]:
            entry = out.setdefault(obs.scenario, {})
            for setting in FLUSH_ERRORS:
                params = {**configuration(spec_cls, scenario, FLUSH_ERROR_PROFILE), "flush_error": setting}
                result = validate(graphs.get(params), expectation(obs))
                entry[setting] = {"matches": result.matches, "configuration": params, "path": result.path,
                                  "mismatch": result.mismatch.as_json() if result.mismatch else None}
    return out


def conform(profiles: list[str] | None = None, *, spec: str = DEFAULT_SPEC,
            scenarios: tuple[Scenario, ...] = SCENARIOS, repeat: int = 1, timeout: float = 5.0,
            keep: Path | None = None, generated: int = 0, seed: int = 0,
            persistent: tuple[Scenario, ...] = PERSISTENT) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run ``scenarios`` (and ``generated`` scenarios drawn with ``seed``) on QEMU and judge
    each profile: the JSON-ready report, and apart from it the timings and host facts.
    The ``persistent`` scenarios (a flush error that never goes away) run too and are judged
    against the spec's ``flush_error`` settings instead (:func:`judge_flush_errors`).

    Raises QemuUnavailable (exit 3) when QEMU is missing and QemuError when it misbehaves;
    UsageError for a profile the spec does not know.
    """
    chosen = list(profiles or DEFAULT_PROFILES)
    spec_cls = load_spec_class(spec)
    check_profiles(spec_cls, chosen)
    binary = qemu_binary()
    started = time.perf_counter()
    graphs = Graphs(spec_cls)
    configurations = {s.name: configuration(spec_cls, s, "qemu-7.2") for s in scenarios}
    drawn: list[Scenario] = []
    planned: set[int] = set()
    if generated:
        drawn, planned = generate(graphs.get(GENERATING), generated, seed)
        configurations.update({s.name: dict(GENERATING) for s in drawn})
    observations = observe((*scenarios, *drawn), repeat=repeat, timeout=timeout, keep=keep)
    lasting = observe(persistent, repeat=repeat, timeout=timeout, keep=keep)
    qemu_seconds = time.perf_counter() - started
    spec_timing: dict[str, Any] = {}
    verdicts = judge(graphs, chosen, observations, configurations, spec_timing)
    versions = sorted({o.version for o in observations})
    report: dict[str, Any] = {
        "qemu": {"version": versions[0] if len(versions) == 1 else versions},
        "spec": spec,
        "scenarios": [s.as_json() for s in scenarios],
        "observations": [o.plain() for o in observations if o.scenario in {s.name for s in scenarios}],
        "profiles": {p: v.as_json() for p, v in verdicts.items()},
        "conforming": [p for p in chosen if verdicts[p].verdict == CONFORMS],
    }
    if persistent:
        report["flush_errors"] = {
            "scenarios": [s.as_json() for s in persistent],
            "observations": [o.plain() for o in lasting],
            "verdicts": judge_flush_errors(graphs, spec_cls, lasting, persistent),
        }
    if generated:
        graph = graphs.get(GENERATING)
        mine = [o for o in observations if o.scenario in {s.name for s in drawn}]
        matches = [matched(graph, expectation(o)) for o in mine]
        planned_names = sorted(graph.label(k) for k in planned)
        report["generated"] = {
            "count": len(drawn), "asked": generated, "seed": seed, "configuration": GENERATING,
            "scenarios": [s.as_json() for s in drawn],
            "observations": [o.plain() for o in mine],
            "valid": {p: sum(verdicts[p].scenarios[o.scenario]["matches"] for o in mine) for p in chosen},
            "planned_instances": len(planned_names),
            "coverage": coverage(graph, matches),
        }
    timing = {"binary": binary, "qemu_total": qemu_seconds,
              "qemu": {f"{o.scenario}#{i}": o.timing for i, o in enumerate(observations)},
              "spec": spec_timing, "total": time.perf_counter() - started}
    return report, timing
