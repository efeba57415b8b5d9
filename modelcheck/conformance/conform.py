"""Which profile is real: run the scenarios on QEMU once, then validate them against each profile.

The observations do not depend on the profile, so QEMU runs each scenario once (or
``repeat`` times, keeping every distinct observation); each profile's verdict is
*conforms* when every observation is a path of that profile's spec configuration, and
*refuted* otherwise, naming the first observation (in scenario order) that no path
produces, beside the nearest path the profile allows.
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
from .machine import qemu_binary
from .mapping import expectation
from .scenarios import SCENARIOS, Observation, Scenario
from .validate import Graph, Validation, validate

DEFAULT_SPEC = "specs/virtio_blk.py"
DEFAULT_PROFILES = ("qemu-7.2", "qemu-9.0", "fifo")
CONFORMS, REFUTED = "conforms", "refuted"


def configuration(spec_cls: type[Spec], scenario: Scenario, profile: str) -> dict[str, Any]:
    """The spec parameters that describe ``scenario`` on a device of ``profile``.

    The harness submits the whole workload in one kick (``guest=nodrain``, ``qdepth`` = its
    length); only the scenario's writes may fail, each with ENOSPC once; the file backend
    completes in any order and QEMU's page cache is not evicted within a scenario.
    """
    wanted = {
        "workload": scenario.workload, "qdepth": len(scenario.workload.split()), "guest": "nodrain",
        "profile": profile, "werror": "stop", "rerror": "stop", "order": "any", "evict": "off",
        "failures": len(scenario.failing), "eio_failures": 0, "flush_failures": 0, "read_failures": 0,
        "migrations": scenario.migrations,
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


def observe(scenarios: tuple[Scenario, ...], *, repeat: int = 1, timeout: float = 5.0,
            keep: Path | None = None) -> list[Observation]:
    """Every distinct observation of each scenario over ``repeat`` runs, in scenario order."""
    out: list[Observation] = []
    for scenario in scenarios:
        seen: set[str] = set()
        for _ in range(repeat):
            obs = scenario_runs.run(scenario, timeout=timeout, keep=keep)
            key = json.dumps({k: v for k, v in obs.as_json().items() if k != "timing"}, sort_keys=True)
            if key not in seen:
                seen.add(key)
                out.append(obs)
    return out


def judge(spec_cls: type[Spec], profiles: list[str], observations: list[Observation],
          scenarios: tuple[Scenario, ...], timing: dict[str, Any]) -> dict[str, ProfileVerdict]:
    """Each profile's verdict on the observations; timings of the spec side go in ``timing``."""
    by_name = {s.name: s for s in scenarios}
    out = {}
    for profile in profiles:
        verdict = ProfileVerdict(profile, CONFORMS)
        graphs: dict[str, Graph] = {}
        for obs in observations:
            started = time.perf_counter()
            params = configuration(spec_cls, by_name[obs.scenario], profile)
            key = json.dumps(params, sort_keys=True)
            if key not in graphs:
                compiled = compile_spec(spec_cls(**params))
                graphs[key] = Graph(explore(compiled, [], SearchOptions(keep_edges=True)))
            graph = graphs[key]
            result: Validation = validate(graph, expectation(obs))
            entry = {"configuration": params, "states": len(graph.ex.states), **result.as_json()}
            label = obs.scenario
            n = 2
            while label in verdict.scenarios:
                label, n = f"{obs.scenario}#{n}", n + 1
            verdict.scenarios[label] = entry
            timing.setdefault(profile, {})[label] = time.perf_counter() - started
            if not result.matches and verdict.refuted_by is None:
                verdict.verdict = REFUTED
                verdict.refuted_by = {"scenario": label, "observation": _plain(obs),
                                      "mismatch": result.mismatch.as_json() if result.mismatch else None}
        out[profile] = verdict
    return out


def _plain(obs: Observation) -> dict[str, Any]:
    return {k: v for k, v in obs.as_json().items() if k != "timing"}


def conform(profiles: list[str] | None = None, *, spec: str = DEFAULT_SPEC,
            scenarios: tuple[Scenario, ...] = SCENARIOS, repeat: int = 1, timeout: float = 5.0,
            keep: Path | None = None) -> dict[str, Any]:
    """Run ``scenarios`` on QEMU and judge each profile; the JSON-ready report.

    Raises QemuUnavailable (exit 3) when QEMU is missing and QemuError when it misbehaves;
    UsageError for a profile the spec does not know.
    """
    chosen = list(profiles or DEFAULT_PROFILES)
    spec_cls = load_spec_class(spec)
    check_profiles(spec_cls, chosen)
    binary = qemu_binary()
    started = time.perf_counter()
    observations = observe(scenarios, repeat=repeat, timeout=timeout, keep=keep)
    qemu_seconds = time.perf_counter() - started
    spec_timing: dict[str, Any] = {}
    verdicts = judge(spec_cls, chosen, observations, scenarios, spec_timing)
    versions = sorted({o.version for o in observations})
    return {
        "qemu": {"binary": binary, "version": versions[0] if len(versions) == 1 else versions},
        "spec": spec,
        "scenarios": [{"name": s.name, "workload": s.workload, "failing": list(s.failing),
                       "migrations": s.migrations, "doc": s.doc} for s in scenarios],
        "observations": [_plain(o) for o in observations],
        "profiles": {p: v.as_json() for p, v in verdicts.items()},
        "conforming": [p for p in chosen if verdicts[p].verdict == CONFORMS],
        "timing": {"qemu_total": qemu_seconds,
                   "qemu": {f"{o.scenario}#{i}": o.timing for i, o in enumerate(observations)},
                   "spec": spec_timing, "total": time.perf_counter() - started},
    }
