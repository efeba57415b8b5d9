"""Scenarios run on the real device, and what was observed: the harness's experiments.

A scenario is a spec run in miniature that the harness can steer: a workload (``W2 F W6``),
the requests whose first execution fails (a write with ENOSPC, a flush or a read with EIO,
injected by blkdebug), the guest's submissions in groups (each group is submitted in one
kick, then the guest waits until it has taken a given number of completions from the used
ring), and how many times the VM is migrated at each stop before ``cont``. Running it
drives QEMU through these steps and reacts to what the device does: whenever the VM stops
on an error, the harness records the failures, the used ring and the image, migrates as
planned and resumes. What QEMU did is an :class:`Observation` (plain data, JSON-ready).

The disk is served by the harness's own NBD server (:mod:`.storage`): requests complete in
the order QEMU sent them, and the flushes that reach host storage are seen.
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
from .machine import ErrorRule, Machine, make_image
from .qmp import version_text
from .storage import Storage
from .virtio import Driver, writer_of

KINDS = {"W": "write", "F": "flush", "R": "read"}


def parse_requests(workload: str) -> list[tuple[str, int]]:
    """``(kind, sector)`` per request in workload order (sector 0 for a flush).

    >>> parse_requests("W2 F R2")
    [('write', 2), ('flush', 0), ('read', 2)]
    """
    out = []
    for word in workload.split():
        if word == "F":
            out.append(("flush", 0))
        elif word[:1] in ("W", "R") and word[1:].isdigit():
            out.append((KINDS[word[0]], int(word[1:])))
        else:
            raise ValueError(f"bad workload word {word!r} in {workload!r}")
    return out


@dataclass(frozen=True)
class Scenario:
    """One experiment the harness can steer.

    ``fail``: the requests whose first execution fails. ``groups``: ``(requests, take)``
    pairs: submit the requests in one kick, then take ``take`` completions from the used
    ring while the VM runs; empty means one group of the whole workload, all taken at the
    end. ``migrations``: per stop (in order), the migrations before ``cont``.
    """

    name: str
    workload: str
    fail: tuple[int, ...] = ()
    groups: tuple[tuple[tuple[int, ...], int], ...] = ()
    migrations: tuple[int, ...] = ()
    doc: str = ""
    queues: int = 1  # virtqueues (num-queues); request r goes on queue r % queues
    persistent: tuple[int, ...] = ()  # failing requests that fail on every execution (no blkdebug ``once``)
    conts: int | None = None  # the most ``cont``s; at the stop after the last one the harness gives up

    def requests(self) -> list[tuple[str, int]]:
        return parse_requests(self.workload)

    def plan(self) -> tuple[tuple[tuple[int, ...], int], ...]:
        """The submission groups, defaulting to one group of everything."""
        n = len(self.requests())
        return self.groups or ((tuple(range(n)), n),)

    def check(self) -> None:
        """ValueError unless the workload, failures and groups fit together."""
        requests = self.requests()
        seen: set[tuple[str, int]] = set()
        for kind, sector in requests:
            if kind != "flush" and (kind, sector) in seen:
                raise ValueError(f"scenario {self.name}: {kind} of sector {sector} twice (the harness "
                                 "names requests by kind and sector)")
            seen.add((kind, sector))
        order = [r for group, _ in self.plan() for r in group]
        if order != list(range(len(requests))):
            raise ValueError(f"scenario {self.name}: groups must submit 0..{len(requests) - 1} in order")
        if sum(take for _, take in self.plan()) != len(requests):
            raise ValueError(f"scenario {self.name}: the groups must take every completion")
        if any(not 0 <= r < len(requests) for r in self.fail):
            raise ValueError(f"scenario {self.name}: a failing request is not in the workload")
        if not set(self.persistent) <= set(self.fail) or any(requests[r][0] != "flush" for r in self.persistent):
            raise ValueError(f"scenario {self.name}: only a failing flush may fail persistently")
        if self.persistent and self.conts is None:
            raise ValueError(f"scenario {self.name}: a persistent failure needs a number of conts to give up after")

    def budgets(self) -> dict[str, int]:
        """The spec's failure and migration budgets this scenario uses (a persistent flush
        failure fails once at first and again after each ``cont``: ``conts + 1`` times)."""
        kinds = [self.requests()[r][0] for r in self.fail]
        again = len(self.persistent) * (self.conts or 0)
        return {"failures": kinds.count("write"), "flush_failures": kinds.count("flush") + again,
                "read_failures": kinds.count("read"), "migrations": sum(self.migrations)}

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "workload": self.workload, "fail": list(self.fail),
                "groups": [[list(g), take] for g, take in self.plan()],
                "migrations": list(self.migrations), "doc": self.doc,
                **({"queues": self.queues} if self.queues > 1 else {}),
                **({"persistent": list(self.persistent), "conts": self.conts} if self.persistent else {})}


SCENARIOS = (
    Scenario("local-restart", "W2 W10 W6", (0, 1, 2), (), (0,),
             "three writes fail once each with ENOSPC; the VM stops; cont restarts them"),
    Scenario("migrated-restart", "W2 W10 W6", (0, 1, 2), (), (1,),
             "as local-restart, with one migration to a file before cont on the destination"),
    Scenario("flush-while-parked", "W2 F", (0,), (), (0,),
             "a write fails with ENOSPC and a flush follows in the same kick"),
    Scenario("flush-at-stop", "W2 W6 F", (1,), (((0,), 1), ((1,), 1), ((2,), 1)), (0,),
             "W2 completes; W6 fails and the VM stops; F after cont: which flush makes W2 durable"),
    Scenario("two-queue-restart", "W2 W3 W4", (0, 1, 2), (), (0,),
             "num-queues=2 (W2 and W4 on queue 0, W3 on queue 1): three writes fail; in which order "
             "does cont restart them across the queues", queues=2),
    Scenario("two-queue-migrated", "W2 W3 W4", (0, 1, 2), (), (1,),
             "as two-queue-restart, with one migration to a file before cont on the destination", queues=2),
)

# A flush error that never goes away (blkdebug's rule on every flush, no ``once``) under
# werror=stop: W2 completes, F fails, is parked, and fails again after each of three conts;
# the harness then gives up with F parked. Which of flush_error transient / sticky it matches
# is judged apart from the profiles (``conform.FLUSH_ERRORS``).
PERSISTENT = (
    Scenario("flush-fails-for-good", "W2 F", (1,), (((0,), 1), ((1,), 1)), (),
             "W2 completes; every flush fails (blkdebug without once); F is parked and fails again after "
             "each of three conts", persistent=(1,), conts=3),
)


@dataclass
class Observation:
    """What the real device did in one scenario. Requests are workload positions (0, 1, ...).

    ``guest``: ``["submit", r]`` / ``["observe", r]`` in the harness's order. ``used``:
    ``["push", r, status]`` per used-ring entry and ``["cont", parked, image]`` where the
    VM was resumed (``image``: ``[sector, writer]`` pairs read from the image file then);
    ``used1`` likewise for queue 1 when the device has two queues.
    ``restart_order``: per ``cont``, the writes and reads restarted, in order. ``durable``:
    the sectors each flush that reached storage made durable. ``flushes``: flushes the
    device completed OK (``query-blockstats``). ``disk``: the image after QEMU quit.
    """

    scenario: str
    workload: str
    fail: list[int]
    migrations: int = 0
    guest: list[list[Any]] = field(default_factory=list)
    failure_order: list[int] = field(default_factory=list)
    io_error_events: int = 0
    stop_events: int = 0
    used: list[list[Any]] = field(default_factory=list)
    used1: list[list[Any]] = field(default_factory=list)
    restart_order: list[list[int]] = field(default_factory=list)
    flushes: int = 0
    durable: list[list[int]] = field(default_factory=list)
    disk: dict[str, int | None] = field(default_factory=dict)
    version: str = ""
    timing: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def plain(self) -> dict[str, Any]:
        """As JSON without the timings (what a report that must not change between runs holds)."""
        return {k: v for k, v in self.as_json().items() if k != "timing"}


class GaveUp(Exception):
    """The VM stopped once more after the scenario's last ``cont``: the harness stops steering
    (the guest never takes what it waits for) and records what the device did."""


class KickedWhileStopped(QemuError):
    """A notify of one queue reached QEMU after the VM had stopped on another queue's error
    (QEMU 7.2 then restarts the parked requests early; a guest's stopped vCPUs could not
    have sent it). The run says nothing about the model; :func:`run` tries again."""


class Run:
    """One scenario in progress on QEMU: the machine in use and what was seen so far."""

    def __init__(self, scenario: Scenario, work: Path, image: Path, storage: Storage, *,
                 timeout: float, keep: Path | None, queues: int = 1):
        self.scenario = scenario
        self.requests = scenario.requests()
        self.id_of = {(k, s): r for r, (k, s) in enumerate(self.requests) if k != "flush"}
        self.work, self.image, self.storage = work, image, storage
        self.timeout, self.keep, self.queues = timeout, keep, queues
        self.obs = Observation(scenario.name, scenario.workload, list(scenario.fail))
        self.failed: list[int] = []  # every request that failed so far
        self.parked: list[int] = []  # failed since the last cont
        self.ring = [0] * queues  # per queue: used-ring entries recorded as pushes
        self.taken = 0  # used-ring entries the guest observed (all queues)
        self.taken_q = [0] * queues  # per queue
        self.stops_seen = 0  # STOP events of the current machine handled
        self.traced = 0  # failures of the current machine's trace log already named
        self.flushes_before = 0  # flush_operations of machines already left
        self.errors_before = 0  # BLOCK_IO_ERROR events of machines already left
        self.machines: list[Machine] = []
        self.m = self.start("m0")
        self.driver = Driver.probe(self.m.qtest, queues)

    def start(self, name: str, incoming: bool = False) -> Machine:
        """A new QEMU with blkdebug rules for the planned failures that have not happened yet."""
        rules = []
        for r in self.scenario.fail:
            persistent = r in self.scenario.persistent
            if r in self.failed and not persistent:
                continue
            kind, sector = self.requests[r]
            rules.append(ErrorRule(flush=True, errno=5, persistent=persistent) if kind == "flush" else
                         ErrorRule(sector, errno=5, read=True) if kind == "read" else ErrorRule(sector))
        m = Machine(self.work, self.image, rules=rules, name=name, incoming=incoming, timeout=self.timeout,
                    keep=self.keep, nbd=self.storage.socket, queues=self.queues)
        self.machines.append(m)
        hold, self.storage.hold = self.storage.hold, False  # QEMU reads sector 0 as it starts
        try:
            m.__enter__()
        finally:
            self.storage.hold = hold
        self.stops_seen = self.traced = self.handled_here = 0
        return m

    def close(self, failure: BaseException | None) -> None:
        """Quit (or, after a failure, kill) every machine still running."""
        for m in self.machines:
            if m.proc is not None and m.proc.poll() is None:
                if failure is None:
                    m.__exit__(None, None, None)
                else:
                    m.__exit__(type(failure), failure, failure.__traceback__)

    # ----------------------------------------------------------------- steering

    def submit(self, group: tuple[int, ...]) -> None:
        """Put a group of requests on the avail ring and kick once (the VM runs)."""
        if not self.m.qmp.execute("query-status")["running"]:
            raise QemuError("the VM is not running; the harness never kicks a stopped VM")
        for r in group:
            kind, sector = self.requests[r]
            self.driver.queue(r, kind, sector)
            self.obs.guest.append(["submit", r])
            self.handled_here += kind != "flush"
        self.driver.kick()

    def take(self, want: int) -> None:
        """Observe used-ring entries until ``want`` are taken; handle stops on the way.

        An entry counts as observed only when the VM still runs after it was read (a
        guest's vCPUs do not run while the VM is stopped). With several queues the guest
        takes what each queue offers, queue 0 first.
        """
        deadline = time.monotonic() + self.timeout
        while self.taken < want:
            if self.stopped():
                self.handle_stop()
                deadline = time.monotonic() + self.timeout
                continue
            rings = self.record_pushes()
            fresh = [r for q, ring in enumerate(rings) for r in ring[self.taken_q[q]:]]
            if fresh and self.m.qmp.execute("query-status")["running"] and not self.stopped():
                for r in fresh[:want - self.taken]:
                    self.take_one(r)
                continue
            if time.monotonic() > deadline:
                raise QemuError(f"the used rings hold {sum(map(len, rings))} entries after {self.timeout:.1f} s; "
                                f"the guest waits for {want}")
            time.sleep(0.003)

    def take_one(self, r: int) -> None:
        """The guest takes request ``r`` (the next entry of its queue's used ring)."""
        self.obs.guest.append(["observe", r])
        self.taken += 1
        self.taken_q[self.driver.queue_of(r)] += 1

    def record_pushes(self) -> list[list[int]]:
        """Record the used-ring entries not yet recorded (queue 1's in ``used1``); every
        queue's entries, in ring order."""
        rings: list[list[int]] = [[] for _ in self.ring]
        for c in self.driver.used():
            rings[c.queue].append(c.request)
            if len(rings[c.queue]) > self.ring[c.queue]:
                (self.obs.used1 if c.queue else self.obs.used).append(["push", c.request, c.status])
        self.ring = [len(ring) for ring in rings]
        return rings

    def stopped(self) -> bool:
        """Whether a STOP event arrived that the harness has not handled yet."""
        self.m.qmp.poll_events(0.002)
        return self.stop_count() > self.stops_seen

    def stop_count(self) -> int:
        return sum(1 for e in self.m.qmp.events if e.name == "STOP")

    def handle_stop(self) -> None:
        """The VM stopped on errors: record them, migrate as planned, then ``cont`` (or, past the
        scenario's last ``cont``, give up: :class:`GaveUp`)."""
        self.note_stop()
        index = self.obs.stop_events - 1
        if self.scenario.conts is not None and index >= self.scenario.conts:
            raise GaveUp(f"stopped again after {self.scenario.conts} conts")
        self.check_not_kicked()
        for _ in range(self.scenario.migrations[index] if index < len(self.scenario.migrations) else 0):
            self.migrate()
        self.resume()

    def check_not_kicked(self) -> None:
        """Raise :class:`KickedWhileStopped` when this machine handled more requests than were
        submitted or restarted: a notify reached the stopped VM, whose device then restarted
        its parked requests while stopped. Checked before a migration too, whose destination
        would otherwise restart only what the source parked again."""
        handled = len(tracelog.handled(tracelog.parse(self.m.trace_lines())))
        if handled > self.handled_here:
            raise KickedWhileStopped(f"the device handled {handled - self.handled_here} request(s) more than "
                                     "were submitted or restarted: a notify reached the stopped VM")

    def note_stop(self) -> None:
        """Record a stop: wait for the error state, then name the failures and read the ring."""
        self.m.qmp.wait_status({"io-error"})
        self.m.qmp.poll_events(0.02)
        self.stops_seen = self.stop_count()
        self.obs.stop_events += 1
        self.record_failures()
        self.record_pushes()

    def image_now(self) -> list[list[Any]]:
        """``[sector, writer]`` per written sector: what the image holds now (cache over durable)."""
        sectors = sorted({s for k, s in self.requests if k == "write"})
        return [[s, writer_of(data)] for s, data in self.storage.sectors(sectors).items()]

    def resume(self) -> None:
        """``cont``: mark it on the used ring with what is parked and the image; read the restart order."""
        m = self.m
        self.check_not_kicked()
        self.record_pushes()
        marker = ["cont", sorted(self.parked), self.image_now()]
        self.obs.used.append(marker)
        if self.queues > 1:
            self.obs.used1.append(marker)
        start = len(m.trace_lines())
        since = len(m.qmp.events)
        m.qmp.execute("cont")
        m.qmp.wait_event("RESUME", since=since)
        traced = [r for r in self.parked if self.requests[r][0] != "flush"]
        if traced:
            records = wait_trace(m, start, tracelog.handled, len(traced), self.timeout)
            self.obs.restart_order.append([self.id_of[h] for h in tracelog.handled(records)[:len(traced)]])
        self.handled_here += len(traced)
        self.parked = []

    def record_failures(self) -> None:
        """Name the requests that failed since the last stop, in failure order.

        QMP's ``BLOCK_IO_ERROR`` events say the kind of each failure in order (a read; a
        write with ``nospace``; a flush, the only other failure the harness injects); the
        trace log names the failed writes and reads by sector.
        """
        errors = [e for e in self.m.qmp.events if e.name == "BLOCK_IO_ERROR"][self.obs.io_error_events
                                                                              - self.errors_before:]
        self.obs.io_error_events += len(errors)
        is_traced = [e.data.get("operation") == "read" or bool(e.data.get("nospace")) for e in errors]
        records = wait_trace(self.m, 0, tracelog.failed, self.traced + sum(is_traced), self.timeout)
        named = [self.id_of[f] for f in tracelog.failed(records)[self.traced:self.traced + sum(is_traced)]]
        self.traced += len(named)
        flushes = [r for r in self.scenario.fail if self.requests[r][0] == "flush"
                   and (r not in self.failed or r in self.scenario.persistent)]
        for traced in is_traced:
            if traced:
                r = named.pop(0)
            elif flushes:
                r = flushes.pop(0)
            else:
                raise QemuError("QEMU reported a flush error the scenario did not inject")
            self.failed.append(r)
            self.parked.append(r)
            self.obs.failure_order.append(r)

    def migrate(self) -> None:
        """Migrate the stopped VM through a file into a fresh QEMU, which carries on."""
        m = self.m
        path = self.work / f"state-{self.obs.migrations}.bin"
        m.qmp.execute("migrate", {"uri": f"exec:cat > {shlex.quote(str(path))}"})
        deadline = time.monotonic() + self.timeout
        while True:
            status = m.qmp.execute("query-migrate").get("status")
            if status == "completed":
                break
            if status in ("failed", "cancelled") or time.monotonic() > deadline:
                raise QemuError(f"migration to {path.name} ended {status!r}")
            time.sleep(0.01)
        self.flushes_before += flush_operations(m)
        self.errors_before += sum(1 for e in m.qmp.events if e.name == "BLOCK_IO_ERROR")
        m.__exit__(None, None, None)
        self.obs.migrations += 1
        self.m = self.start(f"m{self.obs.migrations}", incoming=True)
        self.m.qmp.execute("migrate-incoming", {"uri": f"exec:cat {shlex.quote(str(path))}"})
        self.m.qmp.wait_status({"io-error"})
        self.driver = Driver.attach(self.m.qtest, self.queues)

    def finish(self) -> None:
        """Record what the device completed and what reached storage, before QEMU quits."""
        self.record_pushes()
        self.obs.flushes = self.flushes_before + flush_operations(self.m)
        self.obs.durable = [list(d) for d in self.storage.durable()]
        self.storage.check()


ATTEMPTS = 10  # runs of a multiqueue scenario before a notify racing the stop is an error
# (on a loaded machine most runs can lose that race; CI's once lost it undetected, before a migration)


def run(scenario: Scenario, *, timeout: float = 5.0, keep: Path | None = None) -> Observation:
    """Run ``scenario`` on QEMU and return the observation (QemuError when QEMU misbehaves).

    With several queues the harness notifies them one after another, and the VM may stop
    on an error between two notifies; such a run is discarded and tried again.
    """
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _run_once(scenario, timeout=timeout, keep=keep)
        except KickedWhileStopped:
            if attempt == ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _run_once(scenario: Scenario, *, timeout: float, keep: Path | None) -> Observation:
    scenario.check()
    requests = scenario.requests()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="modelcheck-qemu-") as tmp:
        work = Path(tmp)
        image = work / "disk.img"
        make_image(image, 1 + max(s for _, s in requests))
        with Storage(work, image, timeout) as storage:
            current: Run | None = None
            try:
                current = Run(scenario, work, image, storage, timeout=timeout, keep=keep, queues=scenario.queues)
                current.obs.version = version_text(current.m.qmp.execute("query-version"))
                try:
                    for group, take in scenario.plan():
                        current.submit(group)
                        current.take(current.taken + take)
                except GaveUp:
                    pass  # the VM stays stopped with its parked requests
                current.finish()
            except BaseException as err:
                if current is not None:
                    current.close(err)
                raise
            current.close(None)
            obs = current.obs
            sectors = sorted({s for k, s in requests if k == "write"})
            obs.disk = {str(s): writer_of(data) for s, data in storage.sectors(sectors).items()}
    obs.timing["total"] = time.monotonic() - started
    return obs


def flush_operations(m: Machine) -> int:
    """Flushes the virtio-blk device completed OK so far (its BlockBackend's statistics)."""
    for entry in m.qmp.execute("query-blockstats"):
        if entry.get("qdev"):
            return int(entry["stats"]["flush_operations"])
    raise QemuError("query-blockstats lists no device-attached drive")


def wait_trace(machine: Machine, start: int, probe: Any, want: int, timeout: float) -> list[tracelog.Record]:
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
