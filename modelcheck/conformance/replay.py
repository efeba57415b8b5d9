"""A spec trace replayed on the real device, step by step, as far as the harness can steer it.

The harness plays every part a trace names that it can play: the guest (submissions, and
completions taken from the used ring while the VM runs), the host storage (its own NBD
server holds each write and read until the trace executes it, and writes a cached sector
back when the trace evicts it), the failures (blkdebug fails the requests the trace fails)
and the environment (migration, ``cont``). The device's own steps (fetch, complete, stop,
settle, restart) are left to QEMU. After each step the device's channels (the same ones
conformance validates) must equal the events the trace's steps so far emit; the first
step where they do not is where the device went another way.

At the end, the evidence is read off the device: the used ring, the parked requests,
and the image file (the durable image) and the storage cache at that moment. For a
trace that violates ``barrier``, the violation is shown on the device itself: a flush
the guest took complete with OK while a write submitted before it is not in the durable
image.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..explicit import SearchOptions, explore
from ..loader import load_spec_class
from ..spec import compile_spec
from ..trace import Trace, trace_from_json
from ..trace import replay as replay_in_spec
from .errors import QemuError
from .machine import make_image
from .mapping import CHANNELS, expectation, step_events
from .qmp import version_text
from .scenarios import Run, Scenario, flush_operations
from .storage import CMD_READ, CMD_WRITE, Storage
from .virtio import writer_of

REPRODUCED, DIVERGED, FOLLOWED = "reproduced", "diverged", "followed"
SETTLE = 1.0  # seconds the device gets to catch up with a step before it counts as diverged


def load(path: str, spec: str) -> tuple[Any, Any, dict[str, Any]]:
    """The compiled configuration, the trace and its JSON (UsageError when it is not a trace)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise UsageError(f"{path}: cannot read a trace: {err}") from None
    if not isinstance(data, dict) or "params" not in data:
        raise UsageError(f"{path}: not a modelcheck trace JSON (no 'params'); give a file from results/traces/")
    spec_cls = load_spec_class(spec)
    compiled = compile_spec(spec_cls(**data["params"]))
    trace = trace_from_json(compiled, data)
    replay_in_spec(compiled, trace)
    return compiled, trace, data


def scenario_of(compiled: Any, trace: Any, name: str) -> Scenario:
    """The harness's part of a trace: its workload and the requests it fails."""
    spec = compiled.spec
    fail = sorted({step["r"] for step, _ in trace.steps if step.action == "execute" and step["result"] != "ok"
                   and step["r"] < spec.n})
    scenario = Scenario(name, spec.workload, tuple(fail), doc="replay of a spec trace")
    try:
        scenario.check()
    except ValueError as err:
        raise UsageError(f"the harness cannot steer this trace: {err}") from None
    return scenario


class Replay:
    """The device under a trace: steer one step, then compare the channels."""

    def __init__(self, compiled: Any, trace: Any, run: Run, storage: Storage):
        self.compiled, self.trace, self.run, self.storage = compiled, trace, run, storage
        self.spec = compiled.spec
        self.expected: dict[str, list[Any]] = {c: [] for c in CHANNELS}
        self.whole: dict[str, list[Any]] = {c: [] for c in CHANNELS}
        before = trace.initial
        for step, after in trace.steps:
            for channel, event in step_events(self.spec, before, step.action, after, dict(step.args)):
                self.whole[channel].append(event)
            before = after
        self.pending_kick = False

    def steer(self, step: Any, before: Any) -> str:
        """Play the harness's part of ``step``; what it did, in words."""
        run, action = self.run, step.action
        if action == "submit":
            r = step["r"]
            kind, sector = run.requests[r]
            run.driver.queue(r, kind, sector)
            run.obs.guest.append(["submit", r])
            run.handled_here += kind != "flush"
            self.pending_kick = True
            return "queued on the avail ring"
        if action == "fetch" and self.pending_kick:
            run.driver.kick()
            self.pending_kick = False
            return "kicked (the device fetches what is queued)"
        if action == "execute" and step["result"] == "ok" and step["r"] < self.spec.n:
            kind, sector = run.requests[step["r"]]
            if kind == "flush":
                return "left to QEMU (its flushes reach storage unheld)"
            self.storage.release(CMD_WRITE if kind == "write" else CMD_READ, sector, run.timeout)
            return "storage executed it"
        if action == "execute" and step["result"] != "ok":
            return "blkdebug fails it"
        if action == "observe":
            return self.observe(step["r"])
        if action == "resume":
            run.resume()
            return "cont"
        if action == "migrate":
            run.migrate()
            return "migrated through a file into a fresh QEMU"
        if action == "writeback":
            self.storage.writeback(self.spec.sectors[step["sector"]])
            return "storage wrote the sector back"
        if action == "complete_device_flush":
            raise QemuError("QEMU 7.2 has no flush of the device's own to complete")
        return "left to QEMU"

    def observe(self, r: int) -> str:
        """Take the next used-ring entry as the guest, which must be ``r``, while the VM runs."""
        run = self.run
        deadline = time.monotonic() + SETTLE
        q = run.driver.queue_of(r)
        while True:
            ring = run.record_pushes()[q]
            if len(ring) > run.taken_q[q] and ring[run.taken_q[q]] == r and not run.stopped() \
                    and run.m.qmp.execute("query-status")["running"]:
                run.take_one(r)
                return "the guest took it from the used ring"
            if time.monotonic() > deadline:
                got = ring[run.taken_q[q]] if len(ring) > run.taken_q[q] else None
                raise Diverged(f"the guest cannot take {self.name(r)}: the used ring's next entry is "
                               f"{self.name(got) if got is not None else 'nothing'} and the VM "
                               f"{'runs' if run.m.qmp.execute('query-status')['running'] else 'is stopped'}")
            time.sleep(0.003)

    def name(self, r: int) -> str:
        return self.spec.names[r]

    def device(self) -> dict[str, tuple[Any, ...]]:
        """The device's channels now (reading the ring, failures and stops first)."""
        run = self.run
        if run.stopped() and not self.storage.held:
            run.note_stop()
        elif not run.stopped():
            run.record_failures()
            run.record_pushes()
        obs = run.obs
        obs.durable = [list(d) for d in self.storage.durable()]
        obs.flushes = run.flushes_before + flush_operations(run.m)
        return dict(expectation(obs).channels)

    def agree(self) -> dict[str, Any] | None:
        """None when, on every channel, the device has done what the trace's steps so far
        did and nothing the rest of the trace contradicts (QEMU runs ahead on its own steps:
        a completion, a stop, a restart, also past the trace's end); waits up to SETTLE for
        it to catch up."""
        deadline = time.monotonic() + SETTLE
        while True:
            seen = self.device()
            want = {c: tuple(e) for c, e in self.expected.items()}
            whole = {c: tuple(e) for c, e in self.whole.items()}
            differ = [c for c in CHANNELS if seen[c][:len(want[c])] != want[c]
                      or seen[c][:len(whole[c])] != whole[c][:len(seen[c])]]
            if not differ:
                return None
            if time.monotonic() > deadline:
                c = differ[0]
                return {"channel": c, "device": [list(e) if isinstance(e, tuple) else e for e in seen[c]],
                        "trace": [list(e) if isinstance(e, tuple) else e for e in want[c]]}
            time.sleep(0.01)

    def follow(self) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """Steer and compare every step; the per-step record and the first divergence."""
        steps = []
        before = self.trace.initial
        for n, (step, after) in enumerate(self.trace.steps, 1):
            label = self.compiled.show_step(step)
            for channel, event in step_events(self.spec, before, step.action, after, dict(step.args)):
                self.expected[channel].append(event)
            try:
                did = self.steer(step, before)
                mismatch = self.agree()
            except Diverged as err:
                mismatch = {"channel": "guest", "why": str(err)}
                did = "could not steer"
            steps.append({"n": n, "step": label, "harness": did, "agrees": mismatch is None})
            if mismatch is not None:
                return steps, {"step": n, "label": label, **mismatch}
            before = after
        return steps, None

    def evidence(self) -> dict[str, Any]:
        """What the device shows at the end of the trace: ring, parked requests, both images."""
        run, spec = self.run, self.spec
        sectors = list(spec.sectors)
        durable = {s: writer_of(d) for s, d in self.storage.sectors(sectors, durable=True).items()}
        visible = {s: writer_of(d) for s, d in self.storage.sectors(sectors).items()}
        used = [[self.name(c.request), c.status] for c in run.driver.used()]
        taken = [self.name(e[1]) for e in run.obs.guest[:] if e[0] == "observe"]
        parked = [self.name(r) for r in run.parked]
        holes = []
        for e in run.obs.guest:
            if e[0] != "observe" or spec.kind[e[1]] != "F":
                continue
            f = e[1]
            status = next((c.status for c in run.driver.used() if c.request == f), None)
            if status != "ok":
                continue
            for w in range(f):
                if spec.kind[w] == "W" and durable[spec.sectors[spec.sector[w]]] != w:
                    holes.append({"flush": self.name(f), "write": self.name(w),
                                  "write_state": "parked" if self.name(w) in parked else
                                  "in storage cache" if visible[spec.sectors[spec.sector[w]]] == w else
                                  "in flight" if w not in [c.request for c in run.driver.used()] else
                                  "completed, not durable"})
        at_cont = []
        pushed: list[list[Any]] = []
        for event in run.obs.used:
            if event[0] == "push":
                pushed.append([self.name(event[1]), event[2]])
            else:
                at_cont.append({"used_ring": list(pushed), "parked": [self.name(r) for r in event[1]],
                                "image_with_cache": {f"s{s}": self.name(r) if r is not None else None
                                                     for s, r in event[2]}})
        return {"used_ring": used, "taken_by_guest": taken, "parked": parked, "before_each_cont": at_cont,
                "vm": run.m.qmp.execute("query-status")["status"],
                "durable_image": {f"s{s}": self.name(r) if r is not None else None for s, r in durable.items()},
                "image_with_cache": {f"s{s}": self.name(r) if r is not None else None for s, r in visible.items()},
                "flush_ok_before_write_durable": holes}


class Diverged(Exception):
    """The harness could not play a step because the device went elsewhere."""


def replay(path: str, *, spec: str = "specs/virtio_blk.py", timeout: float = 5.0,
           keep: Path | None = None) -> dict[str, Any]:
    """Replay the trace in ``path`` on QEMU: a JSON-ready outcome (see :func:`outcome`)."""
    compiled, trace, data = load(path, spec)
    return outcome(compiled, trace, data, source=path, timeout=timeout, keep=keep)


def outcome(compiled: Any, trace: Any, data: dict[str, Any], *, source: str, timeout: float = 5.0,
            keep: Path | None = None) -> dict[str, Any]:
    """Run the trace on QEMU. ``verdict``: ``reproduced`` (every step followed and, for a
    ``barrier`` counterexample, the device shows the violation), ``followed`` (every step
    followed, no device-side check for that property), or ``diverged`` (``divergence``
    names the step and the channel)."""
    scenario = scenario_of(compiled, trace, "replay")
    with tempfile.TemporaryDirectory(prefix="modelcheck-qemu-") as tmp:
        work = Path(tmp)
        image = work / "disk.img"
        make_image(image, 1 + max(s for _, s in scenario.requests()))
        with Storage(work, image, timeout) as storage:
            run: Run | None = None
            try:
                run = Run(scenario, work, image, storage, timeout=timeout, keep=keep)
                storage.hold = True
                version = version_text(run.m.qmp.execute("query-version"))
                player = Replay(compiled, trace, run, storage)
                steps, divergence = player.follow()
                evidence = player.evidence()
                storage.release_all()
            except BaseException as err:
                storage.release_all()
                if run is not None:
                    run.close(err)
                raise
            run.close(None)
    prop = data.get("property", "")
    if divergence is not None:
        verdict = DIVERGED
    elif prop == "barrier":
        verdict = REPRODUCED if evidence["flush_ok_before_write_durable"] else DIVERGED
    else:
        verdict = FOLLOWED
    return {"trace": source, "property": prop, "profile": data["params"].get("profile"),
            "qemu": version, "verdict": verdict, "steps": steps, "divergence": divergence,
            "evidence": evidence}


def parked_counterexample(compiled: Any) -> Any:
    """The shortest ``barrier`` counterexample of a configuration in which the write was
    parked and the VM stopped before the guest saw the flush (a Trace, or None).

    The shortest counterexample usually has the guest see the flush while the write is
    merely in flight, or between the error and the stop, which no guest can be made to
    do on QEMU; this one has the guest see it after ``cont``, while the parked write is
    back in flight and not durable: a run the harness can steer to the end.
    """
    ex = explore(compiled, [], SearchOptions(keep_edges=True))
    spec = compiled.spec
    succ: dict[int, list[tuple[int, int]]] = {}
    for n in range(0, len(ex.edges), 3):
        succ.setdefault(ex.edges[n], []).append((ex.edges[n + 1], ex.edges[n + 2]))
    start = [(sid, False) for sid in range(len(ex.states)) if ex.parent[sid] < 0]
    parent: dict[tuple[int, bool], tuple[tuple[int, bool], int] | None] = dict.fromkeys(start)
    queue = deque(start)
    while queue:
        node = queue.popleft()
        sid, stopped = node
        if stopped and not spec.barrier(ex.states[sid]):
            steps = []
            while parent[node] is not None:
                prev, k = parent[node]  # type: ignore[misc]
                steps.append((compiled.instances[k].step, ex.states[node[0]]))
                node = prev
            return Trace(ex.states[node[0]], tuple(reversed(steps)), "barrier")
        for k, dst in succ.get(sid, []):
            s = ex.states[dst]
            nxt = (dst, stopped or (bool(s.rq) and s.vm == "stopped" and not any(s.observed)))
            if nxt not in parent:
                parent[nxt] = (node, k)
                queue.append(nxt)
    return None


def replay_lines(outcome: dict[str, Any]) -> list[str]:
    """The outcome as text: one line per step, the divergence, the device's evidence."""
    ev = outcome["evidence"]
    lines = [f"replay of {outcome['trace']} ({outcome['property']}, profile {outcome['profile']}) "
             f"on QEMU {outcome['qemu']}: {outcome['verdict']}"]
    width = max((len(s["step"]) for s in outcome["steps"]), default=0)
    for s in outcome["steps"]:
        mark = "ok " if s["agrees"] else "-- "
        lines.append(f"  {mark}{s['n']:>2} {s['step']:<{width}}  {s['harness']}")
    d = outcome["divergence"]
    if d:
        why = d.get("why") or f"{d['channel']}: device {d.get('device')} vs trace {d.get('trace')}"
        lines.append(f"  the device went another way at step {d['step']} ({d['label']}): {why}")
    ring = " ".join(f"{r}:{st}" for r, st in ev["used_ring"]) or "-"
    lines.append(f"  device then: VM {ev['vm']}; used ring {ring}; taken by the guest "
                 f"{' '.join(ev['taken_by_guest']) or '-'}; parked {' '.join(ev['parked']) or '-'}")
    durable = " ".join(f"{s}={v or '-'}" for s, v in ev["durable_image"].items())
    cached = " ".join(f"{s}={v or '-'}" for s, v in ev["image_with_cache"].items())
    lines.append(f"  image file (durable): {durable}; with the storage cache: {cached}")
    for n, seen in enumerate(ev["before_each_cont"], 1):
        ring = " ".join(f"{r}:{st}" for r, st in seen["used_ring"]) or "-"
        image = " ".join(f"{s}={v or '-'}" for s, v in seen["image_with_cache"].items())
        lines.append(f"  stopped, before cont {n}: used ring {ring}; parked {' '.join(seen['parked']) or '-'}; "
                     f"image {image}")
    for hole in ev["flush_ok_before_write_durable"]:
        lines.append(f"  violation on the device: the guest took {hole['flush']} complete with OK while "
                     f"{hole['write']} ({hole['write_state']}) is not in the durable image")
    return lines
