"""An NVMe controller's flush, FUA and volatile write cache, with reset and snapshot/restore.

The system. A host runs a fixed workload (``VWC0 W0 W1f F``: ``Wn`` writes sector n,
``Wnf`` writes it with Force Unit Access, ``Rn`` reads it, ``F`` flushes, ``VWC0`` /
``VWC1`` turn the volatile write cache off / on with Set Features) through an NVMe
controller as QEMU's ``hw/nvme/ctrl.c`` emulates it, keeping at most ``qdepth``
commands outstanding. Set Features goes to the admin submission queue; I/O commands are
spread over ``queues`` I/O submission/completion queue pairs, round robin in program
order. Writing a submission queue's tail doorbell (``nvme_process_db``) leaves a *kick*
that makes the controller fetch that queue's entries in order (``nvme_process_sq``). A
fetched command goes to the block layer (``nvme_rw`` -> ``blk_aio_pwritev``,
``nvme_flush`` -> ``blk_aio_flush``), where commands execute in any order (host AIO).
With the cache enabled a write lands in a volatile cache; with it disabled, or with FUA,
it goes straight to the medium; a flush makes everything cached at the moment it
executes durable; a cached sector may be written back on its own (``evict=on``). A
failed write or flush completes with an error status (``nvme_aio_err`` sets
``NVME_INTERNAL_DEV_ERROR`` / ``NVME_WRITE_FAULT``: NVMe has no werror=stop). The
controller posts the completion queue entry (``nvme_enqueue_req_completion``) and the
host reaps it. The host may reset the controller (CC.EN to 0: ``nvme_ctrl_reset``) and
the environment may snapshot and restore the VM while commands wait in a submission
queue.

The promise judged here is the NVMe base specification's on Flush: "the flush applies
to all commands completed by the controller prior to the submission of the Flush
command" -- not to commands merely submitted before it. A host that wants more waits.

Actions and their counterparts:

=========================  ===============================================================
``submit r``               host: command ``r`` into its SQ, tail doorbell written (a kick)
``fetch r``                ``nvme_process_sq``: the SQ head into the controller
``execute r ok|eio``       the block layer executes ``r``: ``nvme_rw`` / ``nvme_flush`` /
                           ``nvme_set_feature`` (VWC), or fails it while a budget lasts
``complete r``             ``nvme_rw_cb`` / ``nvme_misc_cb`` (``nvme_aio_err`` on failure)
                           -> ``nvme_enqueue_req_completion``; the host reaps the CQE
``writeback sector``       the host cache writes a sector back on its own
``reset``                  host sets CC.EN=0: ``nvme_ctrl_reset`` (drain, delete queues)
``restore``                snapshot + restore of the VM with entries still in an SQ
=========================  ===============================================================

Readings chosen here (also in docs/writing-a-spec.md):

- The host reaps a completion in the same step the controller posts it: the flush
  contract speaks of commands completed before the flush's submission, and a host can
  only order its submissions after completions it has reaped.
- Set Features (VWC) executes synchronously in QEMU; here it is fetched and executed
  like any command, which only adds interleavings.
- A reset (``nvme_ctrl_reset``) first drains what is executing (``nvme_ns_drain``), then
  deletes every queue: commands still in an SQ, and completions not reaped, are gone;
  the host ends each with an abort status. The volatile cache is the host's and
  survives. The feature value is not reset (QEMU keeps the block backend's setting).
- A snapshot is taken with nothing executing (the VMM drains in-flight I/O when it
  pauses); commands still in an SQ are in the snapshot. Whether they are fetched after
  the restore depends on the profile: the doorbell's eventfd is not part of a snapshot.
- QEMU's ``hw/nvme`` marks itself unmigratable; the ``qemu`` profile's restore is what
  a correct device does (re-scan every SQ tail on restore), the fix of cloud-hypervisor
  PR 138 ("signal activated queue eventfds on resume").
"""

from __future__ import annotations

from dataclasses import dataclass

from modelcheck import (
    Bool,
    Enum,
    Int,
    Param,
    Spec,
    Tuple,
    action,
    always,
    assumption,
    at_end,
    eventually,
    require,
    sometimes,
)
from modelcheck.ops import all_of, any_of, count_true, implies, ite, negate, update

NONE = -1  # no value: a clean cache slot, or a sector never written
MAX_COMMANDS = 8


@dataclass(frozen=True)
class Profile:
    """How one NVMe implementation honours Flush, Set Features (VWC) and restore."""

    flush_reaches_medium: bool = True  # Flush makes the cache durable
    vwc_applied: bool = True  # Set Features (VWC) changes the cache (and flushes it when turned off)
    restore_rescans: bool = True  # after restore the controller fetches entries already in an SQ
    source: str = ""


PROFILES = {
    "qemu": Profile(
        source="QEMU hw/nvme/ctrl.c: nvme_flush schedules blk_aio_flush for the namespace (nvme_flush_bh); "
        "nvme_set_feature for NVME_VOLATILE_WRITE_CACHE does 'if (!(dw11 & 0x1) && blk_enable_write_cache(blk)) "
        "blk_flush(blk); blk_set_enable_write_cache(blk, dw11 & 1);' (commit 'hw/block/nvme: flush write "
        "cache when disabled', 2020); nvme_aio_err completes a failed request with an error status",
    ),
    "vwc-ignored": Profile(
        vwc_applied=False,
        source="oxidecomputer/propolis issue 493 (2023): 'We always return success if the guest tries to "
        "update the Volatile Write Cache feature' (lib/propolis/src/hw/nvme/admin.rs); the cache stays on",
    ),
    "flush-not-sent": Profile(
        flush_reaches_medium=False,
        source="spdk/spdk issue 3598 (2025): _bdev_nvme_submit_request answers SPDK_BDEV_IO_TYPE_FLUSH with "
        "'bdev_nvme_io_complete(nbdev_io, 0);' -- the flush completes without reaching the SSD",
    ),
    "restore-drops-kick": Profile(
        restore_rescans=False,
        source="cyberus-technology/cloud-hypervisor PR 138 (2026), 'drain restored blk queue': the guest had "
        "placed a request (a flush) in the queue before the snapshot; after restore the worker waited for a "
        "new kick that never came (queue eventfds are not snapshot state)",
    ),
}


def parse_workload(text: str) -> str:
    """Check a workload such as ``VWC0 W0 W1f F`` and return it with single spaces."""
    tokens = text.split()
    if not tokens:
        raise ValueError("the workload is empty; give commands such as 'W0 F'")
    if len(tokens) > MAX_COMMANDS:
        raise ValueError(f"{len(tokens)} commands; at most {MAX_COMMANDS}")
    for token in tokens:
        if token in ("F", "VWC0", "VWC1"):
            continue
        body = token[1:-1] if token.startswith("W") and token.endswith("f") else token[1:]
        if token[:1] in ("W", "R") and body.isdigit() and int(body) < 64:
            continue
        raise ValueError(f"token {token!r} in {text!r} is not Wn, Wnf (FUA), Rn (sector n < 64), F, VWC0 or VWC1")
    return " ".join(tokens)


class Nvme(Spec):
    """An NVMe controller: SQ/CQ pairs, Write (FUA), Flush, Read, Set Features (VWC), reset, restore."""

    VIEWS = "nvme_views.py"  # what reports show: the question, grid axes, causes, lanes

    workload = Param("W0 F", parse=parse_workload,
                     doc=f"commands in program order: Wn, Wnf (FUA write), Rn, F (flush), VWC0/VWC1 "
                     f"(Set Features: write cache off/on); at most {MAX_COMMANDS}")
    qdepth = Param(2, allowed=range(1, 9), doc="most commands outstanding at once")
    queues = Param(1, allowed=range(1, 4), doc="I/O submission/completion queue pairs")
    guest = Param("waits", allowed=("waits", "nowait"),
                  doc="waits: submits a flush only after every earlier command completed")
    profile = Param("qemu", allowed=tuple(PROFILES), doc="controller behaviour (see PROFILES)")
    evict = Param("on", allowed=("on", "off"), doc="cached sectors may be written back on their own")
    eio_failures = Param(0, allowed=range(0, 3), doc="writes that may fail")
    flush_failures = Param(0, allowed=range(0, 3), doc="flushes that may fail")
    resets = Param(0, allowed=range(0, 3), doc="controller resets the host may do")
    restores = Param(1, allowed=range(0, 3), doc="snapshot/restores the environment may do")

    # ----------------------------------------------------------------- configuration

    def setup(self) -> None:
        tokens = self.workload.split()
        self.n = len(tokens)
        self.kind = tuple("V" if t.startswith("VWC") else t[0] for t in tokens)
        self.fua = tuple(t.startswith("W") and t.endswith("f") for t in tokens)
        self.vwc_value = tuple(t == "VWC1" for t in tokens)
        number = [int(t[1:-1] if f else t[1:]) if k in ("W", "R") else None
                  for t, k, f in zip(tokens, self.kind, self.fua)]
        sectors = sorted({x for x in number if x is not None})
        self.sectors = tuple(sectors)
        self.sector = tuple(sectors.index(x) if x is not None else None for x in number)
        self.p = PROFILES[self.profile]
        self.names = self._names(tokens)
        io = [r for r in range(self.n) if self.kind[r] != "V"]
        # queue 0 is the admin queue; I/O command i (in program order) goes to queue 1 + i % queues
        self.queue = tuple(0 if self.kind[r] == "V" else 1 + io.index(r) % self.queues for r in range(self.n))
        self.writes = tuple(r for r in range(self.n) if self.kind[r] == "W")
        self.flushes = tuple(r for r in range(self.n) if self.kind[r] == "F")
        # ordered[(a, b)]: the host reaped a's completion before it submitted b; kept only for
        # the pairs a property asks about (a write before a flush or a same-sector write, a
        # VWC0 before a write).
        self.pairs = tuple(
            (a, b) for b in range(self.n) for a in range(b)
            if (self.kind[a] == "W" and (self.kind[b] == "F" or (self.kind[b] == "W"
                                                                  and self.sector[a] == self.sector[b])))
            or (self.kind[a] == "V" and not self.vwc_value[a] and self.kind[b] == "W")
        )
        self.pair_index = {pair: i for i, pair in enumerate(self.pairs)}
        self.Cmd = Int(0, self.n - 1, names=dict(enumerate(self.names)))
        self.Sector = Int(0, max(len(sectors) - 1, 0), names={i: f"s{sec}" for i, sec in enumerate(sectors)})

    @staticmethod
    def _names(tokens: list[str]) -> tuple[str, ...]:
        seen: dict[str, int] = {}
        names = []
        flushes = 0
        for t in tokens:
            if t == "F":
                flushes += 1
                names.append(f"F{flushes}")
                continue
            seen[t] = seen.get(t, 0) + 1
            names.append(t if seen[t] == 1 else f"{t}.{seen[t]}")
        return tuple(names)

    def fields(self):
        n, sectors = self.n, len(self.sectors)
        value = Int(NONE, n - 1, names={NONE: "-", **dict(enumerate(self.names))})
        sector_keys = tuple(f"s{sec}" for sec in self.sectors)
        return {
            "submitted": Int(0, n),
            "kick": Tuple(Bool(), self.queues + 1, keys=("admin", *(f"io{q}" for q in range(1, self.queues + 1)))),
            "fetched": Tuple(Bool(), n, keys=self.names),
            "outcome": Tuple(Enum("none", "ok", "eio"), n, keys=self.names),
            "status": Tuple(Enum("none", "ok", "error", "aborted"), n, keys=self.names),
            "ordered": Tuple(Bool(), len(self.pairs), keys=tuple(f"{self.names[a]}<{self.names[b]}"
                                                                for a, b in self.pairs)),
            "vwc": Bool(),
            "cache_on": Bool(),
            "cache": Tuple(value, sectors, keys=sector_keys),
            "disk": Tuple(value, sectors, keys=sector_keys),
            "eio_left": Int(0, self.eio_failures),
            "flush_eio_left": Int(0, self.flush_failures),
            "resets_left": Int(0, self.resets),
            "restores_left": Int(0, self.restores),
        }

    def initial(self):
        n, sectors = self.n, len(self.sectors)
        yield self.state(
            submitted=0, kick=(False,) * (self.queues + 1), fetched=(False,) * n, outcome=("none",) * n,
            status=("none",) * n, ordered=(False,) * len(self.pairs), vwc=True, cache_on=True,
            cache=(NONE,) * sectors, disk=(NONE,) * sectors, eio_left=self.eio_failures,
            flush_eio_left=self.flush_failures, resets_left=self.resets, restores_left=self.restores,
        )

    # ----------------------------------------------------------------- helpers

    def same_queue(self, r):
        return [a for a in range(self.n) if self.queue[a] == self.queue[r]]

    def in_flight(self, s, r):
        """Fetched by the controller and not yet completed to the host."""
        return all_of([s.fetched[r], s.status[r] == "none"])

    def outstanding(self, s):
        return s.submitted - count_true(st != "none" for st in s.status)

    def ordered_before(self, s, a, b):
        """The host reaped ``a``'s completion before it submitted ``b``."""
        if (a, b) not in self.pair_index:
            return False
        return s.ordered[self.pair_index[(a, b)]]

    def durable(self, s, w):
        """The medium holds w's value, or that of a same-sector write not ordered before w."""
        on_disk = s.disk[self.sector[w]]
        others = [all_of([on_disk == v, negate(self.ordered_before(s, v, w))])
                  for v in self.writes if v != w and self.sector[v] == self.sector[w]]
        return any_of([on_disk == w, *others])

    def readable(self, s, w):
        """A read of w's sector returns w's value (the cache's, else the medium's), or that of a
        same-sector write not ordered before w."""
        sec = self.sector[w]
        seen = ite(s.cache[sec] != NONE, s.cache[sec], s.disk[sec])
        others = [all_of([seen == v, negate(self.ordered_before(s, v, w))])
                  for v in self.writes if v != w and self.sector[v] == self.sector[w]]
        return any_of([seen == w, *others])

    def flush_cache(self, s):
        """Every cached sector made durable: the (cache, disk) pair after a flush."""
        disk = tuple(ite(c != NONE, c, d) for c, d in zip(s.cache, s.disk))
        return (NONE,) * len(self.sectors), disk

    def cache_off_before(self, s, w):
        """The host saw a Set Features VWC0 succeed before submitting ``w`` and has submitted no
        VWC1 since (a host that turns the cache back on while ``w`` runs asks for nothing)."""
        return any_of(
            all_of([self.ordered_before(s, v, w), s.status[v] == "ok",
                    *(negate(u < s.submitted) for u in range(v + 1, self.n)
                      if self.kind[u] == "V" and self.vwc_value[u])])
            for v in range(w) if self.kind[v] == "V" and not self.vwc_value[v]
        )

    # ----------------------------------------------------------------- hints (explicit engine only)

    def next_to_submit(self, s):
        return (s.submitted,)

    def fetchable(self, s):
        return [r for r in range(s.submitted) if not s.fetched[r]]

    def executable(self, s):
        return [(r, result) for r in range(self.n) if s.fetched[r] and s.status[r] == "none"
                and s.outcome[r] == "none" for result in ("ok", "eio")]

    def completable(self, s):
        return [r for r in range(self.n) if s.fetched[r] and s.status[r] == "none" and s.outcome[r] != "none"]

    def cached_sectors(self, s):
        return [i for i, v in enumerate(s.cache) if v != NONE]

    # ----------------------------------------------------------------- host

    @action(r="Cmd", hint=next_to_submit, fair="weak")
    def submit(self, s, r):
        """The host writes command ``r`` into its SQ and rings the tail doorbell."""
        require(r == s.submitted)
        require(self.outstanding(s) < self.qdepth)
        ordered = s.ordered
        for a in range(r):
            if (a, r) in self.pair_index:
                ordered = update(ordered, self.pair_index[(a, r)], s.status[a] != "none")
        q = self.queue[r]
        return s.replace(submitted=s.submitted + 1, ordered=ordered, kick=update(s.kick, q, True))

    @assumption(when=lambda self: self.guest == "waits")
    def waits(self, before, step, after):
        """The host submits a flush only after every earlier command completed, and nothing after
        a flush before that flush completed (a Linux file system waits for the writes a journal
        commit covers before it issues REQ_PREFLUSH)."""
        if step.action != "submit":
            return True
        r = step["r"]
        earlier = [before.status[a] != "none" for a in range(r) if self.kind[r] == "F" or self.kind[a] == "F"]
        return all_of(earlier)

    @action
    def reset(self, s):
        """Controller Level Reset (``nvme_ctrl_reset``): after the drain (nothing executing),
        every queue is deleted; what was submitted and not completed ends aborted."""
        require(s.resets_left > 0)
        require(all_of(implies(self.in_flight(s, r), s.outcome[r] != "none") for r in range(self.n)))
        status = tuple(ite(all_of([r < s.submitted, s.status[r] == "none"]), "aborted", s.status[r])
                       for r in range(self.n))
        fetched = tuple(ite(r < s.submitted, True, s.fetched[r]) for r in range(self.n))
        return s.replace(status=status, fetched=fetched, kick=(False,) * (self.queues + 1),
                         resets_left=s.resets_left - 1)

    # ----------------------------------------------------------------- controller

    @action(r="Cmd", hint=fetchable, fair="weak")
    def fetch(self, s, r):
        """``nvme_process_sq``: the head of r's SQ into the controller, after a kick."""
        q = self.queue[r]
        require(r < s.submitted)
        require(negate(s.fetched[r]))
        require(s.kick[q])
        require(all_of(s.fetched[a] for a in self.same_queue(r) if a < r))
        later = [a < s.submitted for a in self.same_queue(r) if a > r]
        return s.replace(fetched=update(s.fetched, r, True), kick=update(s.kick, q, any_of(later)))

    @action(r="Cmd", result=("ok", "eio"), hint=executable, fair="weak")
    def execute(self, s, r, result):
        """The block layer executes ``r``: ``nvme_rw`` (a write lands in the cache, or on the medium
        with FUA or the cache off), ``nvme_flush``, ``nvme_set_feature`` (VWC); or fails it."""
        require(self.in_flight(s, r))
        require(s.outcome[r] == "none")
        kind = self.kind[r]
        changes = {"outcome": update(s.outcome, r, result)}
        if result == "eio":
            require(kind in ("W", "F"))
            budget = "eio_left" if kind == "W" else "flush_eio_left"
            require(getattr(s, budget) > 0)
            changes[budget] = getattr(s, budget) - 1
        elif kind == "W":
            sec = self.sector[r]
            through = True if self.fua[r] else negate(s.cache_on)
            changes["cache"] = update(s.cache, sec, ite(through, NONE, r))
            changes["disk"] = update(s.disk, sec, ite(through, r, s.disk[sec]))
        elif kind == "F" and self.p.flush_reaches_medium:
            changes["cache"], changes["disk"] = self.flush_cache(s)
        elif kind == "V":
            on = self.vwc_value[r]
            changes["vwc"] = on
            if self.p.vwc_applied:
                changes["cache_on"] = on
                if not on:
                    cache, disk = self.flush_cache(s)
                    changes["cache"] = tuple(ite(s.cache_on, c, old) for c, old in zip(cache, s.cache))
                    changes["disk"] = tuple(ite(s.cache_on, d, old) for d, old in zip(disk, s.disk))
        return s.replace(**changes)

    @action(r="Cmd", hint=completable, fair="weak")
    def complete(self, s, r):
        """``nvme_enqueue_req_completion``: the CQE posted (an error status after ``nvme_aio_err``)
        and reaped by the host."""
        require(self.in_flight(s, r))
        require(s.outcome[r] != "none")
        return s.replace(status=update(s.status, r, ite(s.outcome[r] == "ok", "ok", "error")))

    @action(sector="Sector", hint=cached_sectors)
    def writeback(self, s, sector):
        """The host cache writes a sector back on its own."""
        require(self.evict == "on")
        require(len(self.sectors) > 0)
        require(s.cache[sector] != NONE)
        return s.replace(cache=update(s.cache, sector, NONE), disk=update(s.disk, sector, s.cache[sector]))

    @action
    def restore(self, s):
        """Snapshot and restore of the VM with nothing executing; entries still in an SQ are
        fetched afterwards only if the controller re-scans its queues."""
        require(s.restores_left > 0)
        require(all_of(implies(s.fetched[r], s.status[r] != "none") for r in range(self.n)))
        kick = s.kick if self.p.restore_rescans else (False,) * (self.queues + 1)
        return s.replace(kick=kick, restores_left=s.restores_left - 1)

    # ----------------------------------------------------------------- properties

    @always
    def flush_contract(self, s):
        """Every flush the host saw succeed covers every write the host saw succeed before it
        submitted the flush (NVMe: "all commands completed prior to the submission of the Flush")."""
        return all_of(
            implies(s.status[f] == "ok",
                    all_of(implies(all_of([self.ordered_before(s, w, f), s.status[w] == "ok"]), self.durable(s, w))
                           for w in self.writes if w < f))
            for f in self.flushes
        )

    @always
    def flush_covers_submitted_writes(self, s):
        """Every flush the host saw succeed covers every write submitted before it, unless the host
        saw that write fail: what a host that does not wait before a flush would need."""
        return all_of(
            implies(s.status[f] == "ok",
                    all_of(implies(all_of([s.status[w] != "error", s.status[w] != "aborted"]), self.durable(s, w))
                           for w in self.writes if w < f))
            for f in self.flushes
        )

    @always
    def fua_write_durable(self, s):
        """A write completed with FUA is on the medium (NVMe: FUA "completes only after the data
        is written to non-volatile media")."""
        return all_of(implies(s.status[w] == "ok", self.durable(s, w)) for w in self.writes if self.fua[w])

    @always
    def cache_off_writes_durable(self, s):
        """With the write cache off -- the host saw Set Features VWC0 succeed before submitting a
        write -- that write is durable once completed."""
        return all_of(implies(all_of([s.status[w] == "ok", self.cache_off_before(s, w)]), self.durable(s, w))
                      for w in self.writes)

    @always
    def completed_writes_survive_reset(self, s):
        """Nothing completed to the host is lost: every write the host saw succeed can be read back
        (from the cache or the medium) after any reset."""
        return all_of(implies(s.status[w] == "ok", self.readable(s, w)) for w in self.writes)

    @at_end
    def every_command_completes(self, s):
        """Every execution ends with the whole workload submitted and every command completed
        (with any status): nothing left waiting for a kick, no hang."""
        return all_of([s.submitted == self.n, all_of(st != "none" for st in s.status)])

    @eventually
    def progress(self, s):
        """Every fair execution submits the whole workload and completes every command (with any
        status): ``every_command_completes`` as a liveness claim. The host, the controller and the
        block layer are weakly fair; resets, restores and write-backs are the environment's and
        may never happen."""
        return self.every_command_completes(s)

    @sometimes
    def flush_seen(self, s):
        """Some flush completes successfully (the flush properties are not vacuous)."""
        return any_of(s.status[f] == "ok" for f in self.flushes)


SPEC = Nvme
