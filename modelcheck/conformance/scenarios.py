"""Scenarios run on the real device, and what was observed: the harness's experiments.

A scenario is a spec configuration in miniature: a workload (``W2 W10 W6``, ``W2 F``), the
sectors whose first write fails with ENOSPC, and how many times the stopped VM is migrated
before ``cont``. Running it submits the whole workload in one kick, waits for the VM to stop
on the errors, optionally migrates it through a file into a fresh QEMU, resumes it, and
records what QEMU did in an :class:`Observation` (plain data, JSON-ready).
"""

from __future__ import annotations

import shlex
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import tracelog
from .errors import QemuError
from .machine import ErrorRule, Machine, make_image, read_sectors
from .qmp import version_text
from .virtio import Completion, Driver, writer_of


@dataclass(frozen=True)
class Scenario:
    """One experiment: ``workload`` in the spec's syntax, failing sectors, migrations before cont."""

    name: str
    workload: str
    failing: tuple[int, ...]
    migrations: int = 0
    doc: str = ""

    def requests(self) -> list[tuple[str, int]]:
        """``(kind, sector)`` per request in workload order (sector 0 for a flush)."""
        out = []
        for word in self.workload.split():
            if word == "F":
                out.append(("flush", 0))
            elif word[0] in "WR" and word[1:].isdigit():
                out.append(("write" if word[0] == "W" else "read", int(word[1:])))
            else:
                raise ValueError(f"scenario {self.name}: bad workload word {word!r}")
        return out

    def request_of_sector(self) -> dict[int, int]:
        """The write request of each sector (scenarios write each sector once)."""
        out: dict[int, int] = {}
        for r, (kind, sector) in enumerate(self.requests()):
            if kind == "write":
                if sector in out:
                    raise ValueError(f"scenario {self.name}: sector {sector} is written twice")
                out[sector] = r
        return out


SCENARIOS = (
    Scenario("local-restart", "W2 W10 W6", (2, 10, 6), 0,
             "three writes fail once each with ENOSPC; the VM stops; cont restarts them"),
    Scenario("migrated-restart", "W2 W10 W6", (2, 10, 6), 1,
             "as local-restart, with one migration to a file before cont on the destination"),
    Scenario("flush-while-parked", "W2 F", (2,), 0,
             "a write fails with ENOSPC and a flush follows in the same kick"),
)


@dataclass
class Observation:
    """What the real device did in one scenario. Requests are workload positions (0, 1, ...)."""

    scenario: str
    workload: str
    failing: list[int]
    migrations: int
    failure_order: list[int] = field(default_factory=list)
    io_error_events: int = 0
    stop_events: int = 0
    status_at_stop: str = ""
    used_at_stop: list[list[Any]] = field(default_factory=list)
    restart_order: list[int] = field(default_factory=list)
    used_final: list[list[Any]] = field(default_factory=list)
    disk: dict[str, int | None] = field(default_factory=dict)
    version: str = ""
    timing: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _pairs(done: list[Completion]) -> list[list[Any]]:
    return [[c.request, c.status] for c in done]


def _wait_trace(machine: Machine, start: int, probe: Any, want: int, timeout: float) -> list[tracelog.Record]:
    """Trace records from line ``start`` on, once ``probe(records)`` has ``want`` items."""
    deadline = time.monotonic() + timeout
    while True:
        records = tracelog.parse(machine.trace_lines()[start:])
        if len(probe(records)) >= want:
            return records
        if time.monotonic() > deadline:
            raise QemuError(f"trace log shows {len(probe(records))} of {want} expected events "
                            f"after {timeout:.1f} s")
        time.sleep(0.005)


def run(scenario: Scenario, *, timeout: float = 5.0, keep: Path | None = None) -> Observation:
    """Run ``scenario`` on QEMU and return the observation (QemuError when QEMU misbehaves)."""
    requests = scenario.requests()
    by_sector = scenario.request_of_sector()
    obs = Observation(scenario.name, scenario.workload, list(scenario.failing), scenario.migrations)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="modelcheck-qemu-") as tmp:
        work = Path(tmp)
        image = work / "disk.img"
        make_image(image, 1 + max(s for _, s in requests))
        rules = [ErrorRule(sector) for sector in scenario.failing]
        with Machine(work, image, rules=rules, name="m0", timeout=timeout, keep=keep) as m:
            obs.version = version_text(m.qmp.execute("query-version"))
            driver = Driver.probe(m.qtest)
            for r, (kind, sector) in enumerate(requests):
                driver.queue(r, kind, sector)
            if not m.qmp.execute("query-status")["running"]:
                raise QemuError("the VM is not running; the harness never kicks a stopped VM")
            driver.kick()
            if not scenario.failing:
                obs.used_final = _pairs(driver.wait_used(len(requests), timeout))
                obs.timing["total"] = time.monotonic() - started
                return obs
            m.qmp.wait_event("STOP")
            obs.status_at_stop = m.qmp.wait_status({"io-error"})
            m.qmp.poll_events(0.02)
            records = _wait_trace(m, 0, tracelog.failed_writes, len(scenario.failing), timeout)
            obs.failure_order = [by_sector[s] for s in tracelog.failed_writes(records)]
            obs.io_error_events = sum(1 for e in m.qmp.events if e.name == "BLOCK_IO_ERROR")
            obs.stop_events = sum(1 for e in m.qmp.events if e.name == "STOP")
            obs.used_at_stop = _pairs(driver.used())
            obs.timing["to_stop"] = time.monotonic() - started
            final = m if scenario.migrations == 0 else None
            if final is not None:
                _resume(m, driver, obs, by_sector, len(requests), timeout)
            else:
                _migrate_out(m, work / "state-0.bin", timeout)
        for hop in range(scenario.migrations):
            with Machine(work, image, name=f"m{hop + 1}", incoming=True, timeout=timeout, keep=keep) as dst:
                source = shlex.quote(str(work / f"state-{hop}.bin"))
                dst.qmp.execute("migrate-incoming", {"uri": f"exec:cat {source}"})
                dst.qmp.wait_status({"io-error"})
                obs.timing[f"migration_{hop + 1}"] = time.monotonic() - started
                driver = Driver.attach(dst.qtest)
                if hop + 1 < scenario.migrations:
                    _migrate_out(dst, work / f"state-{hop + 1}.bin", timeout)
                else:
                    _resume(dst, driver, obs, by_sector, len(requests), timeout)
        sectors = sorted({s for k, s in requests if k == "write"})
        obs.disk = {str(s): writer_of(data) for s, data in read_sectors(image, sectors).items()}
    obs.timing["total"] = time.monotonic() - started
    return obs


def _resume(m: Machine, driver: Driver, obs: Observation, by_sector: dict[int, int], total: int,
            timeout: float) -> None:
    """``cont``, then read the restart order from the trace log and wait for every completion."""
    start = len(m.trace_lines())
    seen = len(m.qmp.events)
    m.qmp.execute("cont")
    m.qmp.wait_event("RESUME")
    parked = len(obs.failure_order)
    records = _wait_trace(m, start, tracelog.handled_writes, parked, timeout)
    obs.restart_order = [by_sector[s] for s in tracelog.handled_writes(records)[:parked]]
    obs.used_final = _pairs(driver.wait_used(total, timeout))
    obs.stop_events += sum(1 for e in m.qmp.events[seen:] if e.name == "STOP")


def _migrate_out(m: Machine, path: Path, timeout: float) -> None:
    """Migrate the stopped VM into ``path`` and wait until QEMU says it is complete."""
    m.qmp.execute("migrate", {"uri": f"exec:cat > {shlex.quote(str(path))}"})
    deadline = time.monotonic() + timeout
    while True:
        status = m.qmp.execute("query-migrate").get("status")
        if status == "completed":
            return
        if status in ("failed", "cancelled") or time.monotonic() > deadline:
            raise QemuError(f"migration to {path.name} ended {status!r}")
        time.sleep(0.01)


def run_all(scenarios: tuple[Scenario, ...] = SCENARIOS, *, timeout: float = 5.0,
            keep: Path | None = None) -> list[Observation]:
    """Every scenario, in order."""
    return [run(s, timeout=timeout, keep=keep) for s in scenarios]
