"""What reports show of the virtio-blk spec (``VirtioBlk.VIEWS``): the question, the grid, causes, lanes.

The renderers in ``modelcheck/results/`` name no virtio-blk field; they ask this file.
It holds the words of the answer (who the guests are, what keeping a barrier means),
the letter of each cause of a violation and how a counterexample's steps decide it,
and the sequence diagram's four lanes (guest, virtqueue, device, backend) with the
arrow each action draws. See docs/model.md for the system these words describe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from modelcheck.spec import Compiled, Step
from modelcheck.state import State
from modelcheck.views import Arrow, Lane, Sentence, SequenceView, Views

RED = "#c62828"
AMBER = "#b26a00"
ERRNO = {"nospc": "ENOSPC", "eio": "EIO"}
VIRTIO_FIELDS = ("vm", "submitted", "fetched", "flight", "outcome", "rq", "used", "status", "observed", "cache", "disk")

QUESTION = (
    "A guest writes, then flushes; the host fails the write with ENOSPC, QEMU's virtio-blk "
    "(`werror=stop`) parks it on its request list `s->rq` and stops the VM, the flush succeeds "
    "meanwhile, and the write is retried only after `cont` or on a migration destination. "
    "Can the guest see the flush complete while a write it submitted before that flush is not "
    "durable (the write \"moved across the barrier\"), and does it matter that 2010's Linux "
    "guests drain before every flush?"
)

CAUSES = {
    "R": "host reordering: the backend executed a flush before a write submitted earlier, with no error at all",
    "P": "parked request: the write failed, the device parked it on `rq` and the flush completed meanwhile",
    "L": "lost write: the write failed and `werror=ignore` completed it to the guest as OK",
    "F": "lost flush: the flush failed and `werror=ignore` completed it to the guest as OK",
    "D": "dropped cache: a flush failed, the host dropped the cached data (`flush_error=lossy` or `sticky`) and a "
         "later flush succeeded, covering nothing",
    "S": "sticky flush error: after one failed flush every flush fails (`flush_error=sticky`), so the parked flush "
         "fails again after every `cont`",
    "O": "restart order: `restart` put the parked requests back in flight in another order than they failed",
    "E": "early write-back: the cache wrote a later write back to disk before an earlier one was durable",
}
CAUSE_NAMES = {"R": "host reordering alone", "P": "the parking list itself", "L": "a lost write", "F": "a lost flush",
               "D": "a cache the host dropped", "S": "a flush that fails for good",
               "O": "the restart order", "E": "an early write-back"}

WORDS = {
    "guest=drain": "the guest submits a flush only after every earlier request completed, and nothing after "
                   "it before it completed (Linux's drain around REQ_PREFLUSH, 2010)",
    "guest=nodrain": "the guest submits in program order, limited only by qdepth, relying on ordered flushes",
    "werror=stop": "a failed write or flush is parked on `rq` and the VM stops",
    "werror=enospc": "as stop for ENOSPC, as report for any other error",
    "werror=report": "a failed write or flush completes to the guest with IOERR",
    "werror=ignore": "a failed write or flush completes to the guest with OK",
    "order=any": "the backend executes and completes requests in flight in any order (host AIO)",
    "order=fifo": "the backend executes and completes requests in the order they entered flight",
    "evict=on": "a cached sector may be written back to disk on its own at any time",
    "flush_error=transient": "a failed flush changes nothing on the host; a retry may succeed",
    "flush_error=lossy": "a failed flush drops the host's cached data and a later flush may succeed (\"fsyncgate\")",
    "flush_error=sticky": "a failed flush drops the cached data and QEMU fails every later flush "
                          "(file-posix's page_cache_inconsistent)",
    "profile=qemu-2010": "hw/virtio-blk.c of 2010 (the seed): push-front on error, immediate stop, no drain",
    "profile=qemu-7.2": "QEMU 2.1-8.2: push-front, requested stop, drain + flush all before resume or migrate",
    "profile=qemu-9.0": "QEMU >= 9.0: as 7.2, but the restart reverses the list once more",
    "profile=fifo": "what the list was meant to do: append on error and on load",
    "profile=flush-after-restart": "the 2010 mitigation: qemu-2010 plus a device flush behind a restart",
    "profile=ordered-flush": "not QEMU: the device fetches a flush only after every earlier request completed",
}

SENTENCES = {
    ("drain", "barrier"): Sentence("A guest that drains before each flush (`guest=drain`, what Linux did in 2010)",
                                   "keeps its barrier", "loses it", "loses its barrier"),
    ("nodrain", "barrier"): Sentence("A guest that does not drain and relies on ordered flushes (`guest=nodrain`)",
                                     "keeps its barrier", "loses it", "loses its barrier"),
    ("drain", "flush_contract"): Sentence("Its flush contract (`flush_contract`: writes seen complete before a "
                                          "flush are durable once the flush is seen complete)", "holds", "fails"),
    ("nodrain", "flush_contract"): Sentence("The non-draining guest's flush contract", "holds", "fails"),
}


def _parse(step: str) -> tuple[str, str, str]:
    """``"execute W0 nospc"`` as ``("execute", "W0", "nospc")``."""
    parts = step.split()
    return parts[0], parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else ""


def cause(prop: str, steps: Sequence[str], params: Mapping[str, Any]) -> str:
    """The letter of :data:`CAUSES` that a counterexample's steps show, the most specific first.

    O when the property is the restart order; S when a flush failed under
    ``flush_error=sticky`` and the property is ``progress``; L when a failed write reached
    the guest as OK; F when a failed flush did; D when a flush failed under
    ``flush_error=lossy`` or ``sticky`` and a later flush succeeded;
    P when a failed write was parked (completed without reaching the used ring) and a
    flush then executed; R when a flush executed while a write submitted before it had
    not executed; E when a sector was written back on its own; '' otherwise.
    """
    if prop == "restart_order":
        return "O"
    parsed = [_parse(s) for s in steps]
    errors = {req for act, req, res in parsed if act == "execute" and res in ("nospc", "eio")}
    failed = {req for req in errors if req.startswith("W")}
    observed = {req for act, req, _ in parsed if act == "observe"}
    ignored = params.get("werror") == "ignore"
    if failed & observed and ignored:
        return "L"
    if {req for req in errors if req.startswith("F")} & observed and ignored:
        return "F"
    dropped = params.get("flush_error") in ("lossy", "sticky")
    flush_failed = [i for i, (act, req, res) in enumerate(parsed) if act == "execute" and req.startswith("F")
                    and res == "eio"]
    if dropped and flush_failed and prop == "progress" and params.get("flush_error") == "sticky":
        return "S"
    if dropped and flush_failed and any(act == "execute" and req.startswith("F") and res == "ok"
                                        for act, req, res in parsed[flush_failed[0]:]):
        return "D"
    submitted: list[str] = []
    done: set[str] = set()
    parked = False
    for act, req, res in parsed:
        if act == "submit":
            submitted.append(req)
        elif act == "complete" and req in failed and params.get("werror") in ("stop", "enospc"):
            parked = True
        elif act == "execute" and req.startswith("W") and res == "ok":
            done.add(req)
        elif act == "execute" and req.startswith("F") and res == "ok":
            earlier = [w for w in submitted[: submitted.index(req)] if w.startswith("W")] if req in submitted else []
            if parked and any(w in failed for w in earlier):
                return "P"
            if any(w not in done and w not in failed for w in earlier):
                return "R"
    if parked:
        return "P"
    if any(act == "writeback" for act, _, _ in parsed):
        return "E"
    return ""


def meaning(params: Mapping[str, Any], violated: Mapping[str, str]) -> str:
    """What a case's violations (property -> cause letter) mean for the operator of a VM whose
    host fails a flush (``flush_error`` lossy or sticky); '' for other cases."""
    flush_error, werror = params.get("flush_error", "transient"), params.get("werror")
    if flush_error == "transient" or not violated:
        return ""
    out = []
    lost = "flush_contract" in violated or any(c in ("D", "F") for c in violated.values())
    if lost and werror == "ignore":
        out.append("The failed flush completes to the guest as OK (`werror=ignore`): data the guest was told is "
                   "durable is lost, and nothing reports it.")
    elif lost and werror in ("stop", "enospc"):
        out.append("The failed flush is parked and the VM pauses; after `cont` the retried flush succeeds, but the "
                   "host had already dropped the cached data: the guest is told its writes are durable and they are "
                   "lost. Resuming such a VM is not safe.")
    elif lost:
        out.append("The guest sees the flush fail, but a flush it had already submitted behind it succeeds later "
                   "and covers the dropped data no more: a guest that does not wait for each flush is told lost "
                   "data is durable.")
    if "progress" in violated:
        if flush_error == "sticky" and werror in ("stop", "enospc"):
            out.append("Nothing acknowledged is lost, but once a flush failed every flush fails: the parked flush "
                       "fails again after every `cont` and the VM pauses again, forever; a migration fails too "
                       "(QEMU flushes before it). Only stopping the VM ends it.")
        else:
            out.append("Some request the guest submitted is never completed.")
    if violated.get("barrier") == "R" and not lost:
        out.append("The non-draining guest's barrier is lost by host reordering alone, as without a flush error.")
    return " ".join(out)


class VirtioViews(Views):
    """The virtio-blk answer, causes, lanes, and what a failed flush means for an operator."""

    def cause(self, prop: str, steps: Sequence[str], params: Mapping[str, Any]) -> str:
        return cause(prop, steps, params)

    def meaning(self, params: Mapping[str, Any], violated: Mapping[str, str]) -> str:
        return meaning(params, violated)

    def sequence(self, compiled: Compiled) -> SequenceView:
        return VirtioSequence(compiled)


VIEWS = VirtioViews(
    question=QUESTION,
    axes=("guest", "profile", "werror"),
    explain=("werror", "order", "evict", "flush_error"),
    meaning_title="for an operator",
    headline=("barrier", "flush_contract"),
    sentences=SENTENCES,
    words=WORDS,
    causes=CAUSES,
    cause_names=CAUSE_NAMES,
    replay=("seed~guest=nodrain", "barrier"),  # the seed's counterexample, replayed on QEMU by `modelcheck run`
)


class VirtioSequence(SequenceView):
    """Lanes guest / virtqueue / device / backend; each step an arrow between the actors it links."""

    legend = ("shaded rows: VM stopped · red: errors · red box: the step after which the property fails · "
              "grey text: unchanged by the step · s0=-: sector 0 holds no written data")

    def __init__(self, compiled: Compiled):
        super().__init__(compiled)
        self.virtio = all(f in self.types for f in VIRTIO_FIELDS)
        self.names: tuple[str, ...] = tuple(getattr(self.types.get("status"), "keys", None) or ())

    def vm(self, s: State | None) -> str | None:
        return getattr(s, "vm", None) if s is not None and "vm" in self.types else None

    def lanes(self) -> list[Lane]:
        if not self.virtio:
            return super().lanes()
        return [
            Lane("guest", "Guest", "driver: submits, sees completions", self._guest),
            Lane("virtqueue", "Virtqueue", "avail ring → · → used ring", self._virtqueue),
            Lane("device", "Device (QEMU virtio-blk)", "rq: failed requests parked", self._device),
            Lane("backend", "Backend (host storage)", "in flight · volatile cache · durable", self._backend),
        ]

    def highlight(self, line: str) -> bool:
        return line.startswith("not durable")

    # ------------------------------------------------------------- lane texts

    def _show(self, name: str, value: Any) -> str:
        return self.types[name].show(value)

    def _guest(self, s: State) -> list[str]:
        sent = " ".join(self.names[: s.submitted]) or "nothing"
        seen = [f"{n} {'OK' if st == 'ok' else 'IOERR'}" for n, obs, st in zip(self.names, s.observed, s.status)
                if obs]
        return [f"sent: {sent}", f"saw: {', '.join(seen) or 'nothing'}"]

    def _virtqueue(self, s: State) -> list[str]:
        avail = " ".join(self.names[s.fetched: s.submitted])
        return [f"avail [{avail}]", f"used {self._show('used', s.used)}"]

    def _device(self, s: State) -> list[str]:
        lines = [f"rq {self._show('rq', s.rq)}"]
        if getattr(s, "restart_pending", False):
            lines.append("restart pending")
        return lines

    def _backend(self, s: State) -> list[str]:
        keys = getattr(self.types["outcome"], "keys", None) or ()
        flying = []
        for i, name in enumerate(keys):
            if self._in_flight(s, i):
                outcome = s.outcome[i]
                flying.append(name if outcome == "none" else f"{name}:{ERRNO.get(outcome, 'done')}")
        cache = self._sectors("cache", s.cache)
        disk = self._sectors("disk", s.disk)
        lines = [f"in flight: {' '.join(flying) or '-'}", f"cache {cache}  durable {disk}"]
        lost = self._not_durable(s)
        if lost:
            lines.append(f"not durable: {' '.join(lost)}")
        return lines

    def _in_flight(self, s: State, i: int) -> bool:
        if isinstance(s.flight, tuple) and s.flight and isinstance(s.flight[0], bool):
            return bool(s.flight[i])
        return i in s.flight

    def _sectors(self, name: str, values: tuple) -> str:
        ftype = self.types[name]
        return " ".join(f"{ftype.key(i)}={ftype.elem.show(v)}" for i, v in enumerate(values))

    def _read_value(self, s: State, req: str) -> str:
        """What a read of ``req``'s sector returns in ``s``: the cached value, else the durable one."""
        cache = self.types["cache"]
        key = "s" + req[1:].split(".")[0]
        keys = list(getattr(cache, "keys", None) or ())
        if key not in keys:
            return "?"
        i = keys.index(key)
        value = s.cache[i] if cache.elem.show(s.cache[i]) != "-" else s.disk[i]
        return f"{key}={cache.elem.show(value)}"

    def _not_durable(self, s: State) -> list[str]:
        """Submitted writes whose own value is not in the durable image (and not seen to fail)."""
        disk = self.types["disk"]
        on_disk = {disk.elem.show(v) for v in s.disk}
        out = []
        for r, name in enumerate(self.names[: s.submitted]):
            failed = s.observed[r] and s.status[r] == "ioerr"
            if name.startswith("W") and name not in on_disk and not failed:
                out.append(name)
        return out

    # ------------------------------------------------------------- arrows

    def arrow(self, step: Step, before: State, after: State) -> Arrow:
        label = self.compiled.show_step(step)
        if not self.virtio:
            return super().arrow(step, before, after)
        req = self.compiled.show_arg(step.action, "r", step.args[0][1]) if step.args and step.args[0][0] == "r" else ""
        act = step.action
        if act == "submit":
            return Arrow("guest", "virtqueue", f"submit {req}")
        if act == "fetch":
            return Arrow("virtqueue", "backend", f"fetch {req} → in flight")
        if act == "execute":
            result = dict(step.args).get("result", "ok")
            if result == "ok":
                kind = "cache → durable" if req.startswith(("F", "DF")) else "into cache"
                if req.startswith("R"):
                    kind = f"returns {self._read_value(before, req)}"
                return Arrow("backend", "backend", f"execute {req}: OK ({kind})")
            words = {"nospc": "fails ENOSPC (no space)", "eio": "fails EIO"}
            return Arrow("backend", "backend", f"execute {req}: {words.get(result, result)}", RED)
        if act == "complete":
            if len(after.rq) > len(before.rq):
                stop = {"stopped": ", VM stops", "stopping": ", stop requested"}.get(after.vm, "")
                if after.vm == before.vm:
                    stop = ""
                return Arrow("backend", "device", f"complete {req}: error → parked on rq{stop}", RED)
            r = self.names.index(req) if req in self.names else None
            status = after.status[r] if r is not None else "ok"
            failed = r is not None and before.outcome[r] not in ("ok", "none")
            if status == "ok" and failed:
                errno = ERRNO.get(before.outcome[r], before.outcome[r])
                return Arrow("backend", "virtqueue", f"complete {req}: {errno} ignored → OK to used ring", AMBER)
            return Arrow("backend", "virtqueue", f"complete {req}: {'OK' if status == 'ok' else 'IOERR'} → used ring",
                         "#222" if status == "ok" else RED)
        if act == "observe":
            r = self.names.index(req) if req in self.names else None
            status = "OK" if r is not None and after.status[r] == "ok" else "IOERR"
            return Arrow("virtqueue", "guest", f"guest sees {req} complete: {status}", "#1565c0" if status == "OK"
                         else RED)
        if act == "complete_device_flush":
            return Arrow("backend", "device", "device's own flush completes (not shown to the guest)")
        if act == "writeback":
            return Arrow("backend", "backend", f"{label}: cache → durable (eviction)")
        if act in ("restart", "restart_per_queue"):
            moved = self._show("rq", before.rq)
            failed = f" (they failed in order {self._show('parked', before.parked)})" if "parked" in self.types else ""
            return Arrow("device", "backend", f"{label}: {moved} back in flight{failed}")
        if act == "settle":
            return Arrow("device", "backend", "settle: drain + flush all (cache → durable)")
        across = {"stop": "VM stops (the requested stop takes effect)", "resume": "resume (QMP cont): VM runs again",
                  "migrate": "migrate: disks flushed, rq saved and loaded, VM still stopped"}
        if act in across:
            return Arrow("guest", "backend", across[act], AMBER, across=True)
        return Arrow("guest", "guest", label)
