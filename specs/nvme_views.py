"""What reports show of the NVMe spec (``Nvme.VIEWS``): the question, the grid, causes, lanes.

The renderers in ``modelcheck/results/`` name no NVMe field; they ask this file. It holds
the question and the answer's words (which hosts wait, what each profile is), the letter
of each cause of a violation read from a counterexample's steps, and the sequence
diagram's four lanes (host, submission/completion queues, controller, block layer and
medium) with the arrow each action draws.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from modelcheck.spec import Compiled, Step
from modelcheck.state import State
from modelcheck.views import Arrow, Lane, Sentence, SequenceView, Views

RED = "#c62828"
AMBER = "#b26a00"
BLUE = "#1565c0"
NVME_FIELDS = ("submitted", "kick", "fetched", "outcome", "status", "vwc", "cache_on", "cache", "disk")
STATUS = {"ok": "Success", "error": "Internal Error", "aborted": "Aborted"}

QUESTION = (
    "An NVMe host writes, flushes, may turn the volatile write cache off with Set Features, and may "
    "reset the controller or be snapshotted and restored with commands still in a submission queue. "
    "The NVMe base specification promises that a Flush \"applies to all commands completed prior to the "
    "submission of the Flush command\", that a FUA write is on the medium when it completes, and that with "
    "the cache off a completed write is durable. Does QEMU's `hw/nvme` keep these promises, which do the "
    "emulators with known bugs (propolis 493, SPDK 3598, cloud-hypervisor PR 138) break, and which "
    "promise needs a host that waits for completion before it flushes?"
)

CAUSES = {
    "N": "flush not sent: the flush completed with success but the cache was not written to the medium",
    "V": "cache setting ignored: Set Features reported the cache off, and writes still landed in the cache",
    "K": "lost kick: after a restore the controller never fetched the entries already in a submission queue",
    "H": "host did not wait: the flush was submitted while an earlier write had not completed",
    "R": "reset: a controller reset lost what it should have kept",
    "O": "other: read the counterexample",
}
CAUSE_NAMES = {"N": "a flush that never reaches the medium", "V": "an ignored Set Features (VWC)",
               "K": "a lost doorbell kick after restore", "H": "a host that does not wait", "R": "the reset",
               "O": "another cause"}

WORDS = {
    "guest=waits": "the host submits a flush only after every earlier command completed, and nothing after it "
                   "before it completed (a Linux file system around REQ_PREFLUSH)",
    "guest=nowait": "the host submits in program order, limited only by qdepth",
    "profile=qemu": "QEMU hw/nvme/ctrl.c: the flush reaches the block layer; Set Features (VWC) flushes and "
                    "disables the cache; the restore re-scans the submission queues",
    "profile=vwc-ignored": "propolis issue 493: Set Features (VWC) answers success and leaves the cache on",
    "profile=flush-not-sent": "SPDK issue 3598: the NVMe bdev completes a flush without sending it",
    "profile=restore-drops-kick": "cloud-hypervisor PR 138: after a restore, entries already in a queue wait "
                                  "for a doorbell that never comes",
    "evict=on": "a cached sector may be written back to the medium on its own at any time",
}

SENTENCES = {
    ("waits", "flush_contract"): Sentence("A host that waits for completion before it flushes (`guest=waits`)",
                                          "keeps the flush contract", "loses it", "loses the flush contract"),
    ("nowait", "flush_contract"): Sentence("A host that does not wait (`guest=nowait`)",
                                           "keeps the flush contract", "loses it", "loses the flush contract"),
    ("waits", "flush_covers_submitted_writes"): Sentence(
        "A waiting host", "has every write it submitted before a flush covered by it "
        "(`flush_covers_submitted_writes`)", "does not", "does not have its earlier writes covered"),
    ("nowait", "flush_covers_submitted_writes"): Sentence(
        "A host that does not wait", "has every write it submitted before a flush covered by it",
        "does not", "does not have the writes still in flight at its flush covered"),
}


def _parse(step: str) -> tuple[str, str, str]:
    """``"execute W0 eio"`` as ``("execute", "W0", "eio")``."""
    parts = step.split()
    return parts[0], parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else ""


def cause(prop: str, steps: Sequence[str], params: Mapping[str, Any]) -> str:
    """The letter of :data:`CAUSES` that a counterexample's steps show, the profile's bug first.

    K for a hang after a restore; V when the cache was reported off under ``vwc-ignored``
    and a write was then not durable; N when a flush property failed under
    ``flush-not-sent``; H when
    a flush executed before a write submitted earlier had; R when a reset is in the trace.
    """
    parsed = [_parse(s) for s in steps]
    acts = [a for a, _, _ in parsed]
    profile = params.get("profile")
    if prop == "every_command_completes" and "restore" in acts and profile == "restore-drops-kick":
        return "K"
    executed = {c for a, c, _ in parsed if a == "execute"}
    if prop == "cache_off_writes_durable" and profile == "vwc-ignored" and "VWC0" in executed:
        return "V"
    if prop.startswith("flush") and profile == "flush-not-sent" and any(c.startswith("F") for c in executed):
        return "N"
    submitted: list[str] = []
    written: set[str] = set()
    for act, cmd, _ in parsed:
        if act == "submit":
            submitted.append(cmd)
        elif act == "execute" and cmd.startswith("W"):
            written.add(cmd)
        elif act == "execute" and cmd.startswith("F") and cmd in submitted:
            earlier = [w for w in submitted[: submitted.index(cmd)] if w.startswith("W")]
            if any(w not in written for w in earlier):
                return "H"
    if "reset" in acts:
        return "R"
    return "O"


class NvmeViews(Views):
    """The NVMe answer, causes and lanes."""

    def cause(self, prop: str, steps: Sequence[str], params: Mapping[str, Any]) -> str:
        return cause(prop, steps, params)

    def sequence(self, compiled: Compiled) -> SequenceView:
        return NvmeSequence(compiled)


VIEWS = NvmeViews(
    question=QUESTION,
    axes=("guest", "profile", "workload"),
    explain=("queues", "resets", "restores"),
    headline=("flush_contract", "flush_covers_submitted_writes"),
    sentences=SENTENCES,
    words=WORDS,
    causes=CAUSES,
    cause_names=CAUSE_NAMES,
)


class NvmeSequence(SequenceView):
    """Lanes host / queues / controller / block layer; each step an arrow between the actors it links."""

    legend = ("red: errors and lost promises · red box: the step after which the property fails · grey text: "
              "unchanged by the step · s0=-: sector 0 holds no written data")

    def __init__(self, compiled: Compiled):
        super().__init__(compiled)
        self.nvme = all(f in self.types for f in NVME_FIELDS)
        self.names: tuple[str, ...] = tuple(getattr(self.types.get("status"), "keys", None) or ())
        self.queue_names: tuple[str, ...] = tuple(getattr(self.types.get("kick"), "keys", None) or ())

    def lanes(self) -> list[Lane]:
        if not self.nvme:
            return super().lanes()
        return [
            Lane("host", "Host", "driver: submits, reaps completions", self._host),
            Lane("queues", "SQ / CQ pairs", "entries waiting · doorbell kicks", self._queues),
            Lane("controller", "NVMe controller", "fetched commands · VWC feature", self._controller),
            Lane("backend", "Block layer and medium", "volatile cache · durable", self._backend),
        ]

    def highlight(self, line: str) -> bool:
        return line.startswith(("not durable", "never fetched"))

    # ------------------------------------------------------------- lane texts

    def _sectors(self, name: str, values: tuple) -> str:
        ftype = self.types[name]
        return " ".join(f"{ftype.key(i)}={ftype.elem.show(v)}" for i, v in enumerate(values)) or "-"

    def _host(self, s: State) -> list[str]:
        sent = " ".join(self.names[: s.submitted]) or "nothing"
        seen = [f"{n} {STATUS[st]}" for n, st in zip(self.names, s.status) if st != "none"]
        return [f"sent: {sent}", f"saw: {', '.join(seen) or 'nothing'}"]

    def _queues(self, s: State) -> list[str]:
        waiting = [n for r, n in enumerate(self.names[: s.submitted]) if not s.fetched[r]]
        kicks = [q for q, on in zip(self.queue_names, s.kick) if on]
        lines = [f"in SQ: {' '.join(waiting) or '-'}", f"kick: {' '.join(kicks) or '-'}"]
        if waiting and not kicks:
            lines.append(f"never fetched: {' '.join(waiting)} (no kick)")
        return lines

    def _controller(self, s: State) -> list[str]:
        flying = []
        for r, name in enumerate(self.names):
            if s.fetched[r] and s.status[r] == "none":
                out = s.outcome[r]
                flying.append(name if out == "none" else f"{name}:{'done' if out == 'ok' else 'EIO'}")
        vwc = "on" if s.vwc else "off"
        actual = "" if s.vwc == s.cache_on else f" (cache really {'on' if s.cache_on else 'off'})"
        return [f"fetched: {' '.join(flying) or '-'}", f"VWC reported {vwc}{actual}"]

    def _backend(self, s: State) -> list[str]:
        lines = [f"cache {self._sectors('cache', s.cache)}", f"durable {self._sectors('disk', s.disk)}"]
        lost = self._not_durable(s)
        if lost:
            lines.append(f"not durable: {' '.join(lost)}")
        return lines

    def _not_durable(self, s: State) -> list[str]:
        """Writes the host saw succeed whose own value is not on the medium."""
        disk = self.types["disk"]
        on_disk = {disk.elem.show(v) for v in s.disk}
        return [name for r, name in enumerate(self.names)
                if name.startswith("W") and s.status[r] == "ok" and name not in on_disk]

    # ------------------------------------------------------------- arrows

    def arrow(self, step: Step, before: State, after: State) -> Arrow:
        if not self.nvme:
            return super().arrow(step, before, after)
        label = self.compiled.show_step(step)
        args = dict(step.args)
        cmd = self.compiled.show_arg(step.action, "r", args["r"]) if "r" in args else ""
        act = step.action
        if act == "submit":
            return Arrow("host", "queues", f"submit {cmd}, ring doorbell")
        if act == "fetch":
            return Arrow("queues", "controller", f"fetch {cmd}")
        if act == "execute":
            if args.get("result") == "eio":
                return Arrow("controller", "backend", f"execute {cmd}: fails (EIO)", RED)
            effect = self._effect(cmd, before, after)
            wrong = effect.endswith(("nothing written to the medium", "cache still on"))
            return Arrow("controller", "backend", f"execute {cmd}: {effect}", RED if wrong else "#222")
        if act == "complete":
            r = self.names.index(cmd) if cmd in self.names else None
            status = STATUS.get(after.status[r], "?") if r is not None else "?"
            return Arrow("controller", "host", f"complete {cmd}: {status} → CQ, host reaps",
                         BLUE if status == "Success" else RED)
        if act == "writeback":
            return Arrow("backend", "backend", f"{label}: cache → durable (eviction)")
        if act == "reset":
            return Arrow("host", "backend", "controller reset: queues deleted, pending commands aborted", AMBER,
                         across=True)
        if act == "restore":
            lost = "" if any(after.kick) or not any(before.kick) else ": doorbell kicks lost"
            return Arrow("host", "backend", f"snapshot + restore of the VM{lost}", AMBER if not lost else RED,
                         across=True)
        return Arrow("host", "host", label)

    def _effect(self, cmd: str, before: State, after: State) -> str:
        """What an executed command did to the cache, the medium or the feature."""
        if cmd.startswith("VWC"):
            if after.cache_on == before.cache_on and after.vwc != before.vwc:
                return f"Set Features VWC={'on' if after.vwc else 'off'}: reported, cache still on"
            return f"Set Features VWC={'on' if after.vwc else 'off'}" + (": cache flushed" if not after.vwc else "")
        if cmd.startswith("F"):
            if after.disk != before.disk or after.cache != before.cache or not any(
                    self.types["cache"].elem.show(v) != "-" for v in before.cache):
                return "cache → durable"
            return "OK, nothing written to the medium"
        if cmd.startswith("W"):
            return "into cache" if after.cache != before.cache and after.disk == before.disk else "onto the medium"
        return "read"
