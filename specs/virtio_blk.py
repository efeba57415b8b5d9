"""virtio-blk under werror/rerror=stop, stop, migrate and resume (docs/model.md).

The system. A guest runs a fixed workload (``W0 W1 F W2 F``: ``Wn`` writes sector n with
a value unique to that request, ``F`` flushes, ``Rn`` reads sector n) through one
virtqueue of a QEMU virtio-blk device, keeping at most ``qdepth`` requests outstanding.
The device fetches requests from the avail ring (``virtio_blk_handle_output``) and
submits them to host storage, where they execute in any order (host AIO) or in the order
they entered flight (``order=fifo``). A write lands in a volatile cache; a flush makes
everything cached at the moment it executes durable; a cached sector may be written
back on its own (``evict=on``). On completion (``virtio_blk_rw_complete``, and
``virtio_blk_flush_complete`` for a flush, which takes the same error path with the
``werror`` policy) the device pushes the request to the used ring, or, under a stop
policy (``virtio_blk_handle_rw_error``), parks it on its request list ``s->rq`` and
stops the VM. A stopped VM may be migrated (``virtio_blk_save`` / ``virtio_blk_load``:
``rq`` is saved head to tail and loaded by pushing each to the front) and is resumed by
QMP ``cont``, after which ``virtio_blk_dma_restart_bh`` puts the parked requests back in
flight (since QEMU 9.0 only after ``virtio_blk_dma_restart_cb`` has split the list per
virtqueue, which reverses it; see ``PROFILES``). The question of 2010: can the guest see
a flush complete while a write it submitted before that flush is parked on ``rq`` and
not durable?

Actions and their QEMU counterparts:

========================  ===============================================================
``submit r``              guest driver: request ``r`` onto the avail ring
``fetch r``               ``virtio_blk_handle_output``: avail ring head into flight
``execute r ok|nospc|eio`` host AIO executes ``r`` (or fails it while a budget lasts)
``complete r``            ``virtio_blk_rw_complete`` / ``virtio_blk_handle_rw_error``
``writeback sector``      the host cache writes a sector back on its own
``observe r``             guest interrupt handler takes the used ring head
``stop``                  ``main_loop_should_exit`` -> ``vm_stop`` (asynchronous stop)
``settle``                ``do_vm_stop``: ``bdrv_drain_all`` + ``bdrv_flush_all``
``resume``                QMP ``cont``
``restart``               ``virtio_blk_dma_restart_bh``
``restart_per_queue m``   9.0 with ``contexts=per-queue``: each queue's bottom half, interleaved (merge m)
``migrate``               ``virtio_blk_save`` on the source, ``virtio_blk_load`` on the destination
========================  ===============================================================

Readings of the model (docs/model.md) chosen here (closest to real QEMU and Linux), also listed in the
issue notes:

- In flight is a set under ``order=any`` (the order cannot matter there) and a queue in
  entry order under ``order=fifo``.
- ``resume`` always leaves a restart pending, even with ``rq`` empty, as QEMU schedules
  the restart bottom half on every transition to running; a restart with nothing parked
  changes nothing else.
- barrier order's trigger "a write submitted after F is durable" means that write's own
  value is in the durable image; with the looser reading an old value of the same
  sector would count as the later write being durable.
- "observed complete" in the ordering relation means observed with any status (a guest
  that saw an error submits nothing more, so the difference never shows).
- A read records the value it returned (``returned``), so that read your writes judges
  what the guest got, not what the cache and disk held.
- Fairness (for liveness claims): every step of the guest, the device, the backend's
  ``execute`` and the operator's ``cont`` (``resume``) is weakly fair; ``writeback`` and
  ``migrate`` are the environment's choices and may never happen. Any ``execute`` step
  counts, a failed one too: a host that fails a request forever is not excluded.
- ``flush_error`` says what a failed flush leaves behind: ``transient`` nothing, ``lossy``
  the cached data dropped, ``sticky`` dropped and every later flush failed by QEMU
  (``handle_aiocb_flush`` in block/file-posix.c and its ``page_cache_inconsistent``): settle
  (``do_vm_stop`` ignores ``bdrv_flush_all``'s error) makes nothing durable, and a
  migration fails (``vm_stop_force_state`` flushes again and returns the error).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations, product
from math import comb

from modelcheck import (
    Bool,
    Enum,
    Int,
    Param,
    Seq,
    Spec,
    Tuple,
    action,
    always,
    always_on_step,
    assumption,
    at_end,
    eventually,
    require,
    sometimes,
)
from modelcheck.errors import UsageError
from modelcheck.ops import (
    all_of,
    any_of,
    append,
    at,
    concat,
    contains,
    count,
    count_true,
    first,
    head,
    implies,
    is_empty,
    ite,
    negate,
    push_front,
    remove,
    reverse,
    tail,
    update,
)
from modelcheck.symmetry import Symmetry

NONE = -1  # no value: a clean cache slot, or a sector never written
POLICIES = ("stop", "enospc", "report", "ignore")
FLUSH_ERRORS = ("transient", "lossy", "sticky")
MAX_REQUESTS = 10
MAX_ANY = 6  # longest symbolic program (workload any:N)
RESTARTS = ("restart", "restart_per_queue")  # the actions that put parked requests back in flight


@dataclass(frozen=True)
class Profile:
    """How one device generation parks, stops, restarts and migrates."""

    park: str  # "front" (push-front on s->rq) or "back" (append)
    stop: str  # "immediate" or "requested" (takes effect at the stop step)
    settle: bool  # drain + flush all before resume or migrate
    restart_reversed: bool  # restart takes the list back to front
    load: str  # "front" (load pushes front: reverses) or "back" (load appends)
    device_flush: bool = False  # a flush of the device's own goes in flight behind a restart
    flush_waits: bool = False  # a flush is fetched only after every earlier request completed
    source: str = ""


PROFILES = {
    "qemu-2010": Profile(
        "front", "immediate", False, False, "front",
        source="hw/virtio-blk.c, 2010 (drive_get_on_error era): virtio_blk_handle_rw_error does "
        "'req->next = s->rq; s->rq = req;' then 'vm_stop(0);' from the completion callback (do_vm_stop "
        "of 2010 neither drains nor flushes); virtio_blk_dma_restart_bh walks s->rq head first "
        "('req = req->next'); virtio_blk_save walks head to tail, virtio_blk_load pushes each to the front",
    ),
    "qemu-7.2": Profile(
        "front", "requested", True, False, "front",
        source="hw/block/virtio-blk.c, QEMU 2.1-8.2 (observed on 7.2.22): virtio_blk_handle_rw_error "
        "pushes front ('req->next = s->rq; s->rq = req;'), blk_error_action requests the stop "
        "('qemu_system_vmstop_request(RUN_STATE_IO_ERROR)'), do_vm_stop runs 'bdrv_drain_all(); "
        "bdrv_flush_all();'; virtio_blk_dma_restart_bh walks s->rq head first; virtio_blk_save_device "
        "head to tail, virtio_blk_load_device pushes front",
    ),
    "qemu-9.0": Profile(
        "front", "requested", True, True, "front",
        source="hw/block/virtio-blk.c, QEMU >= 9.0: commit 71ee0cdd14 'virtio-blk: restart s->rq reqs in "
        "vq AioContexts' (Stefan Hajnoczi, Jan 2024) splits s->rq into per-virtqueue lists in "
        "virtio_blk_dma_restart_cb by pushing front ('rq->next = vq_rq[idx]; vq_rq[idx] = rq;'), "
        "reversing it once more; each list's bottom half then walks it head first",
    ),
    "fifo": Profile(
        "back", "requested", True, False, "back",
        source="what the list was meant to do: qemu-7.2 with s->rq a FIFO (append on error, append on load)",
    ),
    "flush-after-restart": Profile(
        "front", "immediate", False, False, "front", device_flush=True,
        source="the mitigation proposed in the 2010 report, never merged: qemu-2010 plus a flush of the "
        "device's own behind the restarted requests",
    ),
    "ordered-flush": Profile(
        "back", "requested", True, False, "back", flush_waits=True,
        source="not QEMU: a device honouring barriers by draining before it fetches a flush",
    ),
}


def parse_workload(text: str) -> str:
    """Check a workload such as ``W0 W1 F W2 F`` (or ``any:N``) and return it with single spaces."""
    if text.strip().startswith("any:"):
        size = text.strip()[4:]
        if not size.isdigit() or not 1 <= int(size) <= MAX_ANY:
            raise ValueError(f"{text!r}: give any:N with N from 1 to {MAX_ANY}")
        return f"any:{int(size)}"
    tokens = text.split()
    if not tokens:
        raise ValueError("the workload is empty; give requests such as 'W0 F'")
    if len(tokens) > MAX_REQUESTS:
        raise ValueError(f"{len(tokens)} requests; at most {MAX_REQUESTS}")
    for token in tokens:
        if token == "F":
            continue
        if token[:1] in ("W", "R") and token[1:].isdigit() and int(token[1:]) < 64:
            continue
        raise ValueError(f"token {token!r} in {text!r} is not Wn, Rn (sector n < 64) or F")
    return " ".join(tokens)


def _policy(what: str) -> Param:
    return Param("stop", allowed=POLICIES,
                 doc=f"on a failed {what}: park and stop, stop on ENOSPC only, report, ignore")


class VirtioBlk(Spec):
    """virtio-blk with werror/rerror, a parking list s->rq, stop, migrate and resume."""

    VIEWS = "virtio_blk_views.py"  # what reports show: the question, grid axes, causes, lanes
    PARAMETRIC = "virtio_blk_parametric.py"  # per request, for prove --parametric (any program, qdepth, budget)

    workload = Param("W0 W1 F W2 F", parse=parse_workload,
                     doc=f"requests in program order: Wn (write sector n), Rn (read), F (flush); "
                     f"at most {MAX_REQUESTS}")
    qdepth = Param(3, allowed=range(1, 9), doc="most requests outstanding at once")
    guest = Param("drain", allowed=("drain", "nodrain", "flush_waits", "writes_wait"),
                  doc="drain: waits before and after each flush (both assumptions flush_waits and "
                  "writes_wait); flush_waits or writes_wait: only that half; nodrain: neither")
    profile = Param("qemu-7.2", allowed=tuple(PROFILES), doc="device behaviour (see PROFILES)")
    werror = _policy("write or flush")
    rerror = _policy("read")
    order = Param("any", allowed=("any", "fifo"), doc="backend: any order, or in order of entry")
    evict = Param("on", allowed=("on", "off"), doc="cached sectors may be written back on their own")
    failures = Param(1, allowed=range(0, 5), doc="writes that may fail with ENOSPC")
    eio_failures = Param(0, allowed=range(0, 5), doc="writes that may fail with EIO")
    flush_failures = Param(0, allowed=range(0, 5), doc="flushes that may fail with EIO")
    flush_error = Param("transient", allowed=FLUSH_ERRORS,
                        doc="what a failed flush does on the host: transient (nothing; a retry may succeed), "
                        "lossy (the cached data is dropped, a later flush may succeed), sticky (dropped, and "
                        "QEMU fails every later flush: file-posix's page_cache_inconsistent)")
    read_failures = Param(0, allowed=range(0, 5), doc="reads that may fail with EIO")
    migrations = Param(1, allowed=range(0, 4), doc="migrations the environment may do")
    operator = Param("resumes", allowed=("resumes", "absent"),
                     doc="resumes: the operator sends cont to a stopped VM sooner or later (resume is weakly "
                     "fair); absent: nobody ever does (the assumption operator_absent removes every resume)")
    queues = Param(1, allowed=range(1, 3), doc="virtqueues (num-queues); request r goes on queue r % queues, "
                   "each queue with its own avail and used ring")
    contexts = Param("shared", allowed=("shared", "per-queue"),
                     doc="AioContexts of the virtqueues: shared (one for the device) or per-queue "
                     "(iothread-vq-mapping gives each virtqueue its own iothread, so qemu-9.0's per-queue "
                     "restarts interleave); needs queues=2; no effect on profiles that restart from one list")

    # ----------------------------------------------------------------- configuration

    def setup(self) -> None:
        tokens = self.workload.split()
        if self.workload.startswith("any:"):  # any program of up to N requests: kinds live in the state
            tokens = [f"W{r}" for r in range(int(self.workload[4:]))]  # request r writes its own sector r
        self.n = len(tokens)
        self.kind = None if self.workload.startswith("any:") else tuple(t[0] for t in tokens)
        sectors = sorted({int(t[1:]) for t in tokens if t != "F"})
        self.sectors = tuple(sectors)
        self.sector = tuple(sectors.index(int(t[1:])) if t != "F" else None for t in tokens)
        self.p = PROFILES[self.profile]
        self.fifo = self.order == "fifo"
        self.sticky = self.flush_error == "sticky"
        self.device = self.n  # id of the device's own flush (flush-after-restart)
        self.names = self._names(tokens) if self.kind else tuple(f"r{r}" for r in range(self.n))
        self.writes = tuple(r for r in range(self.n) if self.may_be(r, "W"))
        self.flushes = tuple(r for r in range(self.n) if self.may_be(r, "F"))
        self.reads = tuple(r for r in range(self.n) if self.may_be(r, "R"))
        self.read_slot = {r: i for i, r in enumerate(self.reads)}
        # ordered[(a, b)]: the guest observed a complete before it submitted b; kept only
        # for the pairs a property asks about (a write before a flush, or before a
        # request to the same sector).
        self.pairs = tuple(
            (a, b) for b in range(self.n) for a in range(b)
            if self.may_be(a, "W") and (self.may_be(b, "F") or self.sector[a] == self.sector[b])
        )
        self.pair_index = {pair: i for i, pair in enumerate(self.pairs)}
        self.Req = Int(0, self.n - 1, names=dict(enumerate(self.names)))
        self.AnyReq = Int(0, self.n, names={**dict(enumerate(self.names)), self.n: "DF"})
        self.Sector = Int(0, len(sectors) - 1, names={i: f"s{sec}" for i, sec in enumerate(sectors)})
        self.queue = tuple(r % self.queues for r in range(self.n))  # the virtqueue of each request
        if self.contexts == "per-queue" and self.queues == 1:
            raise UsageError("contexts=per-queue needs two virtqueues; fix: add --set queues=2 "
                             "or leave contexts at shared")
        # Only a profile that restarts per queue (qemu-9.0) has restarts to interleave; the
        # others walk the device-wide list in one bottom half whatever the contexts.
        self.per_queue = self.contexts == "per-queue" and self.p.restart_reversed
        half = (self.n + 1) // 2  # requests on queue 0 (the most that can be parked there)
        self.Merge = Int(0, comb(self.n, half) - 1 if self.per_queue else 0)

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
        flight = Seq(self.AnyReq, n + 1) if self.fifo else Tuple(Bool(), n + 1, keys=(*self.names, "DF"))
        return {
            **({} if self.kind else {"kind": Tuple(Enum("W", "F", "none"), n, keys=self.names)}),
            "vm": Enum("running", "stopping", "stopped"),
            "settled": Bool(),
            "restart_pending": Bool(),
            "submitted": Int(0, n),
            "fetched": Int(0, n),
            "flight": flight,
            "outcome": Tuple(Enum("none", "ok", "nospc", "eio"), n + 1, keys=(*self.names, "DF")),
            "rq": Seq(self.Req, n),
            "parked": Seq(self.Req, n),
            "used": Seq(self.Req, n),
            "status": Tuple(Enum("none", "ok", "ioerr"), n, keys=self.names),
            "observed": Tuple(Bool(), n, keys=self.names),
            "ordered": Tuple(Bool(), len(self.pairs), keys=tuple(f"{self.names[a]}<{self.names[b]}"
                                                                for a, b in self.pairs)),
            "cache": Tuple(value, sectors, keys=tuple(f"s{sec}" for sec in self.sectors)),
            "disk": Tuple(value, sectors, keys=tuple(f"s{sec}" for sec in self.sectors)),
            "returned": Tuple(value, len(self.reads), keys=tuple(self.names[r] for r in self.reads)),
            "nospc_left": Int(0, self.failures),
            "eio_left": Int(0, self.eio_failures),
            "flush_eio_left": Int(0, self.flush_failures),
            "read_eio_left": Int(0, self.read_failures),
            "migrations_left": Int(0, self.migrations),
            # sticky flush errors: a flush failed, so QEMU fails every later one (only then a field,
            # so that other configurations keep their states)
            **({"flush_broken": Bool()} if self.sticky else {}),
            # queue 1's avail position and used ring (queue 0's are fetched and used)
            **({"fetched1": Int(0, n), "used1": Seq(self.Req, n)} if self.queues > 1 else {}),
        }

    def initial(self):
        n, sectors = self.n, len(self.sectors)
        for program in self.programs():
            yield self.state(**program,
                vm="running", settled=True, restart_pending=False, submitted=0, fetched=0,
                flight=() if self.fifo else (False,) * (n + 1), outcome=("none",) * (n + 1),
                rq=(), parked=(), used=(), status=("none",) * n, observed=(False,) * n,
                ordered=(False,) * len(self.pairs), cache=(NONE,) * sectors, disk=(NONE,) * sectors,
                returned=(NONE,) * len(self.reads),
                nospc_left=self.failures, eio_left=self.eio_failures, flush_eio_left=self.flush_failures,
                read_eio_left=self.read_failures, migrations_left=self.migrations,
                **({"flush_broken": False} if self.sticky else {}),
                **({"fetched1": 0, "used1": ()} if self.queues > 1 else {}),
            )

    def programs(self):
        """The workload's field values: none for a fixed workload; under any:N the kinds of every
        program of up to N writes and flushes (absent requests, "none", only at the end)."""
        if self.kind:
            yield {}
            return
        for length in range(self.n + 1):
            for kinds in product("WF", repeat=length):
                yield {"kind": (*kinds, *("none",) * (self.n - length))}

    # ----------------------------------------------------------------- workload

    def may_be(self, r, kind):
        """Whether request ``r`` can be of ``kind`` (under any:N a request is a write or a flush)."""
        return self.kind[r] == kind if self.kind else kind in ("W", "F")

    def kind_of(self, s, r):
        """The kind of request ``r``: fixed by the workload, or read from the state under any:N."""
        return self.kind[r] if self.kind else s.kind[r]

    def program_length(self, s):
        return self.n if self.kind else count_true(k != "none" for k in s.kind)

    # ----------------------------------------------------------------- helpers

    def running(self, s):
        """vCPUs and device run: running, or running with a stop requested."""
        return s.vm != "stopped"

    def in_flight(self, s, r):
        return contains(s.flight, r) if self.fifo else s.flight[r]

    def flight_empty(self, s):
        return is_empty(s.flight) if self.fifo else negate(any_of(s.flight))

    def enter(self, flight, r):
        return append(flight, r) if self.fifo else update(flight, r, True)

    def leave(self, flight, r):
        return remove(flight, r) if self.fifo else update(flight, r, False)

    def guest_failed(self, s):
        """The guest has seen an error and submits nothing more."""
        return any_of(all_of([s.observed[r], s.status[r] == "ioerr"]) for r in range(self.n))

    def ordered_before(self, s, a, b):
        """The guest observed ``a`` complete before it submitted ``b``."""
        if a >= b:
            return False
        return s.ordered[self.pair_index[(a, b)]]

    def durable(self, s, w):
        """The durable image holds w's value, or that of a same-sector write not ordered before w."""
        on_disk = s.disk[self.sector[w]]
        others = [all_of([on_disk == v, negate(self.ordered_before(s, v, w))])
                  for v in self.writes if v != w and self.sector[v] == self.sector[w]]
        return any_of([on_disk == w, *others])

    def failed_visibly(self, s, r):
        """The guest observed ``r`` complete with an error."""
        return all_of([s.observed[r], s.status[r] == "ioerr"])

    def flush_cache(self, s):
        """Every cached sector made durable: the (cache, disk) pair after a flush.

        Under sticky flush errors, once a flush failed nothing is made durable: file-posix's
        ``handle_aiocb_flush`` returns the saved errno without calling ``fdatasync``, for the
        guest's flushes, ``do_vm_stop``'s ``bdrv_flush_all`` (settle) and the device's own."""
        disk = tuple(ite(c != NONE, c, d) for c, d in zip(s.cache, s.disk))
        if not self.sticky:
            return (NONE,) * len(self.sectors), disk
        return (tuple(ite(s.flush_broken, c, NONE) for c in s.cache),
                tuple(ite(s.flush_broken, d, f) for d, f in zip(s.disk, disk)))

    def restart_sequence(self, rq):
        """The order in which ``restart`` puts the parked requests back in flight.

        Up to 8.2 one bottom half walks the device-wide ``s->rq`` head first, whatever
        queue each request came from. Since 9.0 ``virtio_blk_dma_restart_cb`` splits the
        list per virtqueue by pushing each request to the front of its queue's list, and a
        bottom half per queue, scheduled in that queue's AioContext, walks that list head
        first. When both queues share one AioContext (``contexts=shared``, no
        iothread-vq-mapping) queue 0's bottom half runs first: queue 0's requests, then
        queue 1's. With ``contexts=per-queue`` see ``interleaved``. With two queues the
        split is computed over concrete values only (explicit and compiled engines).
        """
        if not self.p.restart_reversed:
            return rq
        if self.queues == 1:
            return reverse(rq)
        return self.interleaved(rq, 0)

    def interleaved(self, rq, merge):
        """qemu-9.0, two queues: the per-queue sequences merged in interleaving ``merge``.

        With ``contexts=per-queue`` the two bottom halves run on different iothreads, so
        their submissions interleave in any way that keeps each queue's own order; merge 0
        is queue 0's sequence then queue 1's (the shared context's order), the others are
        the remaining placements of queue 0's requests (``merges`` lists them)."""
        back = reverse(rq)
        first = tuple(r for r in back if self.queue[r] == 0)
        second = tuple(r for r in back if self.queue[r] == 1)
        slots = list(combinations(range(len(back)), len(first)))[merge]
        ones, twos = iter(first), iter(second)
        return tuple(next(ones) if i in slots else next(twos) for i in range(len(back)))

    def merges(self, s):
        """The interleavings of the two queues' restarts in a concrete state (hint of restart_per_queue)."""
        zeros = sum(1 for r in s.rq if self.queue[r] == 0)
        return tuple(range(comb(len(s.rq), zeros)))

    def policy(self, s, r):
        return self.rerror if self.kind_of(s, r) == "R" else self.werror

    # ----------------------------------------------------------------- guest

    # Hints (explicit engine only) name the arguments worth trying in a concrete state;
    # the guards below still decide. Tests run with SearchOptions(check_hints=True).

    def next_to_submit(self, s):
        return (s.submitted,)

    def used_head(self, s):
        return s.used[:1] + (s.used1[:1] if self.queues > 1 else ())

    def next_to_fetch(self, s):
        if self.queues == 1:
            return (s.fetched,)
        return tuple(r for r in (2 * s.fetched, 2 * s.fetched1 + 1) if r < self.n)

    # With two queues, request r is the (r // 2)-th of queue r % 2: the fields below are
    # that queue's avail position and used ring (queue 0: fetched, used; queue 1: fetched1, used1).

    def avail_field(self, r):
        return "fetched1" if self.queue[r] else "fetched"

    def used_field(self, r):
        return "used1" if self.queue[r] else "used"

    def unfetched(self, s, r):
        """Request ``r`` is not yet fetched from its queue's avail ring."""
        return getattr(s, self.avail_field(r)) <= r // self.queues

    def requests_in_flight(self, s):
        return s.flight if self.fifo else [r for r, on in enumerate(s.flight) if on]

    def executable(self, s):
        return [(r, result) for r in self.requests_in_flight(s) for result in ("ok", "nospc", "eio")]

    def cached_sectors(self, s):
        return [i for i, v in enumerate(s.cache) if v != NONE]

    @action(r="Req", hint=next_to_submit, fair="weak")
    def submit(self, s, r):
        require(self.running(s))
        require(r == s.submitted)
        require(self.kind_of(s, r) != "none")
        require(s.submitted - count_true(s.observed) < self.qdepth)
        require(negate(self.guest_failed(s)))
        ordered = s.ordered
        for a in range(r):
            if (a, r) in self.pair_index:
                ordered = update(ordered, self.pair_index[(a, r)], s.observed[a])
        return s.replace(submitted=s.submitted + 1, ordered=ordered)

    @action(r="Req", hint=used_head, fair="weak")
    def observe(self, s, r):
        ring = getattr(s, self.used_field(r))
        require(self.running(s))
        require(negate(is_empty(ring)))
        require(head(ring) == r)
        return s.replace(**{self.used_field(r): tail(ring)}, observed=update(s.observed, r, True))

    @assumption(when=lambda self: self.guest in ("drain", "flush_waits"))
    def flush_waits(self, before, step, after):
        """The guest submits a flush only after every earlier request completed (the drain
        before REQ_PREFLUSH: Linux waits for the queue to empty before it issues the flush)."""
        if step.action != "submit":
            return True
        r = step["r"]
        return implies(self.kind_of(before, r) == "F", all_of([before.observed[a] for a in range(r)]))

    @assumption(when=lambda self: self.guest in ("drain", "writes_wait"))
    def writes_wait(self, before, step, after):
        """The guest submits nothing after a flush before that flush completed (the drain after
        REQ_PREFLUSH: later requests wait for the flush's completion)."""
        if step.action != "submit":
            return True
        r = step["r"]
        return all_of([implies(self.kind_of(before, a) == "F", before.observed[a]) for a in range(r)])

    @assumption(when=lambda self: self.operator == "absent")
    def operator_absent(self, before, step, after):
        """Nobody ever sends cont: a VM stopped on an error stays stopped (a management layer
        that waits for a human who never comes). Only with ``operator=absent``; by default the
        operator's ``resume`` is weakly fair."""
        return step.action != "resume"

    # ----------------------------------------------------------------- device

    @action(r="Req", hint=next_to_fetch, fair="weak")
    def fetch(self, s, r):
        position = getattr(s, self.avail_field(r))
        require(self.running(s))
        require(position == r // self.queues)
        require(r < s.submitted)
        if self.p.flush_waits and self.kind_of(s, r) == "F":
            require(all_of(s.status[a] != "none" for a in range(r)))
        return s.replace(**{self.avail_field(r): position + 1}, flight=self.enter(s.flight, r))

    @action(r="Req", hint=requests_in_flight, fair="weak")
    def complete(self, s, r):
        outcome = s.outcome[r]
        require(self.in_flight(s, r))
        require(outcome != "none")
        if self.fifo:
            require(head(s.flight) == r)
        flight = self.leave(s.flight, r)
        outcomes = update(s.outcome, r, "none")
        if outcome == "ok":
            return s.replace(flight=flight, outcome=outcomes, status=update(s.status, r, "ok"),
                             **{self.used_field(r): append(getattr(s, self.used_field(r)), r)})
        policy = self.policy(s, r)
        if policy == "stop" or (policy == "enospc" and outcome == "nospc"):
            rq = push_front(s.rq, r) if self.p.park == "front" else append(s.rq, r)
            vm = "stopped" if self.p.stop == "immediate" else ite(s.vm == "running", "stopping", s.vm)
            return s.replace(flight=flight, outcome=outcomes, rq=rq, parked=append(s.parked, r), vm=vm)
        shown = "ok" if policy == "ignore" else "ioerr"
        return s.replace(flight=flight, outcome=outcomes, status=update(s.status, r, shown),
                         **{self.used_field(r): append(getattr(s, self.used_field(r)), r)})

    @action(fair="weak")
    def complete_device_flush(self, s):
        """The device's own flush (flush-after-restart) completes; the guest never sees it."""
        require(self.p.device_flush)
        require(self.in_flight(s, self.device))
        require(s.outcome[self.device] != "none")
        if self.fifo:
            require(head(s.flight) == self.device)
        return s.replace(flight=self.leave(s.flight, self.device), outcome=update(s.outcome, self.device, "none"))

    @action(fair="weak")
    def stop(self, s):
        require(s.vm == "stopping")
        return s.replace(vm="stopped", settled=False)

    @action(fair="weak")
    def settle(self, s):
        require(self.p.settle)
        require(s.vm == "stopped")
        require(self.flight_empty(s))
        require(negate(s.settled))
        cache, disk = self.flush_cache(s)
        return s.replace(settled=True, cache=cache, disk=disk)

    @action(fair="weak")  # the operator sends cont; one who never does is a variant, not a default
    def resume(self, s):
        require(s.vm == "stopped")
        require(self.flight_empty(s))
        if self.p.settle:
            require(s.settled)
        return s.replace(vm="running", restart_pending=True)

    @action(fair="weak")
    def restart(self, s):
        require(not self.per_queue)
        return self._restart(s, self.restart_sequence(s.rq))

    @action(m="Merge", hint=merges, fair="weak")
    def restart_per_queue(self, s, m):
        """qemu-9.0 with contexts=per-queue: the per-queue bottom halves run on their own
        iothreads; the parked requests go back in flight in interleaving ``m``."""
        require(self.per_queue)
        require(m < len(self.merges(s)))
        return self._restart(s, self.interleaved(s.rq, m))

    def _restart(self, s, sequence):
        require(self.running(s))
        require(s.restart_pending)
        flight = s.flight
        for r in sequence:
            flight = self.enter(flight, r)
        if self.p.device_flush:
            flight = ite(is_empty(s.rq), flight, self.enter(flight, self.device))
        return s.replace(flight=flight, rq=(), parked=(), restart_pending=False)

    @action
    def migrate(self, s):
        require(s.vm == "stopped")
        require(self.flight_empty(s))
        if self.p.settle:
            require(s.settled)
        require(s.migrations_left > 0)
        if self.sticky:
            require(negate(s.flush_broken))  # vm_stop_force_state's bdrv_flush_all fails: migration fails
        cache, disk = self.flush_cache(s)
        rq = reverse(s.rq) if self.p.load == "front" else s.rq
        return s.replace(cache=cache, disk=disk, rq=rq, migrations_left=s.migrations_left - 1)

    # ----------------------------------------------------------------- backend

    @action(r="AnyReq", result=("ok", "nospc", "eio"), hint=executable, fair="weak")
    def execute(self, s, r, result):
        require(r < self.n or self.p.device_flush)
        require(self.in_flight(s, r))
        require(s.outcome[r] == "none")
        if self.fifo:
            require(self.oldest_unexecuted(s) == r)
        kind = "F" if r == self.device else self.kind_of(s, r)
        changes = {"outcome": update(s.outcome, r, result)}
        if result == "nospc":
            require(kind == "W")
            require(s.nospc_left > 0)
            changes["nospc_left"] = s.nospc_left - 1
        elif result == "eio" and kind == "F" and self.flush_error != "transient":
            require(r != self.device)
            if self.sticky:  # once broken, QEMU fails the flush itself and spends no budget
                require(any_of([s.flush_eio_left > 0, s.flush_broken]))
                changes["flush_eio_left"] = ite(s.flush_broken, s.flush_eio_left, s.flush_eio_left - 1)
                changes["flush_broken"] = True
                # fdatasync ran (and the host dropped the dirty data) only if not yet broken
                changes["cache"] = tuple(ite(s.flush_broken, c, NONE) for c in s.cache)
            else:
                require(s.flush_eio_left > 0)
                changes["flush_eio_left"] = s.flush_eio_left - 1
                changes["cache"] = (NONE,) * len(self.sectors)  # the host dropped the dirty data
        elif result == "eio":
            require(r != self.device)
            budget = "eio_left" if kind == "W" else "flush_eio_left" if kind == "F" else "read_eio_left"
            require(getattr(s, budget) > 0)
            changes[budget] = getattr(s, budget) - 1
        elif kind == "W":
            changes["cache"] = update(s.cache, self.sector[r], r)
        elif kind == "F":
            if self.sticky and r != self.device:
                require(negate(s.flush_broken))
            changes["cache"], changes["disk"] = self.flush_cache(s)
        else:
            sec = self.sector[r]
            changes["returned"] = update(s.returned, self.read_slot[r], ite(s.cache[sec] != NONE, s.cache[sec],
                                                                            s.disk[sec]))
        return s.replace(**changes)

    def oldest_unexecuted(self, s):
        """Under order=fifo: the earliest request in flight that has not executed yet (-1: none).

        ``first`` rather than a loop over the queue, so that a symbolic run does not fork on
        the queue's length (the compiled backend's code generation pays for every path);
        ``at`` makes one z3 term of the outcome at a symbolic request id."""
        return first(s.flight, lambda q: at(s.outcome, q) == "none", -1)

    @action(sector="Sector", hint=cached_sectors)
    def writeback(self, s, sector):
        require(self.evict == "on")
        require(s.cache[sector] != NONE)
        return s.replace(cache=update(s.cache, sector, NONE), disk=update(s.disk, sector, s.cache[sector]))

    # ----------------------------------------------------------------- properties

    @always
    def barrier(self, s):
        """Every flush the guest saw succeed covers every write submitted before it
        (unless the guest saw that write fail): what an ordered-barrier guest relies on."""
        return all_of(
            implies(all_of([self.kind_of(s, f) == "F", s.observed[f], s.status[f] == "ok"]),
                    all_of(implies(all_of([self.kind_of(s, w) == "W", negate(self.failed_visibly(s, w))]),
                                   self.durable(s, w))
                           for w in self.writes if w < f))
            for f in self.flushes
        )

    @always
    def flush_contract(self, s):
        """Every flush the guest saw succeed covers every write the guest saw succeed before
        it submitted the flush (virtio's and REQ_PREFLUSH's promise)."""
        return all_of(
            implies(all_of([self.kind_of(s, f) == "F", s.observed[f], s.status[f] == "ok"]),
                    all_of(implies(all_of([self.kind_of(s, w) == "W", self.ordered_before(s, w, f),
                                           s.status[w] == "ok"]), self.durable(s, w))
                           for w in self.writes if w < f))
            for f in self.flushes
        )

    @always
    def barrier_order(self, s):
        """No write submitted after a flush is durable while a write submitted before it is not
        (a crash must not leave a journal commit on disk without its data)."""
        return all_of(
            implies(
                all_of([self.kind_of(s, f) == "F", f < s.submitted,
                        any_of(s.disk[self.sector[w2]] == w2 for w2 in self.writes if w2 > f)]),
                all_of(implies(all_of([self.kind_of(s, w) == "W", negate(self.failed_visibly(s, w))]),
                               self.durable(s, w))
                       for w in self.writes if w < f),
            )
            for f in self.flushes
        )

    @always
    def conservation(self, s):
        """Every submitted request is in exactly one place (avail ring, in flight, rq, used
        ring, observed) and no other request is anywhere."""
        def places(r):
            in_flight = count(s.flight, r) if self.fifo else ite(s.flight[r], 1, 0)
            avail = ite(all_of([self.unfetched(s, r), r < s.submitted]), 1, 0)
            used = count(s.used, r) + (count(s.used1, r) if self.queues > 1 else 0)
            return avail + in_flight + count(s.rq, r) + used + ite(s.observed[r], 1, 0)

        return all_of(places(r) == ite(r < s.submitted, 1, 0) for r in range(self.n))

    @always_on_step
    def restart_order(self, before, step, after):
        """restart puts the parked requests back in flight in the order they failed.

        Under order=fifo it is judged from what the step did: the in-flight queue after it
        must be the queue before it followed by the parked requests in failure order (and
        the device's own flush, where the profile adds one). Under order=any in-flight is
        a set, so the order the step used is not in the state: the profile's
        ``restart_sequence`` (with the step's interleaving) is judged instead."""
        if step.action not in RESTARTS:
            return True
        if not self.fifo:
            if step.action == "restart_per_queue":
                return self.interleaved(before.rq, step["m"]) == before.parked
            return self.restart_sequence(before.rq) == before.parked
        expected = concat(before.flight, before.parked)
        if self.p.device_flush:
            expected = ite(is_empty(before.rq), expected, append(expected, self.device))
        return after.flight == expected

    @always_on_step
    def restart_after_resume(self, before, step, after):
        """Parked requests go back in flight only from the bottom half that a transition to
        running schedules: a restart runs while the VM runs, with a restart pending (QEMU's
        ``virtio_blk_dma_restart_cb`` is a vm state change handler that schedules
        ``virtio_blk_dma_restart_bh`` only when ``running`` is true; ``cont`` is that
        transition)."""
        if step.action not in RESTARTS:
            return True
        return all_of([before.restart_pending, self.running(before)])

    @always_on_step
    def read_your_writes(self, before, step, after):
        """A read returns the value of every write the guest saw succeed before submitting it,
        or of a write the guest did not order before that one."""
        if step.action != "execute" or step["result"] != "ok":
            return True
        r = step["r"]
        if r == self.device or self.kind_of(before, r) != "R":
            return True
        sec = self.sector[r]
        value = after.returned[self.read_slot[r]]
        same = [w for w in self.writes if self.sector[w] == sec]
        return all_of(
            implies(all_of([self.ordered_before(before, w, r), before.status[w] == "ok"]),
                    any_of([value == w, *(all_of([value == v, negate(self.ordered_before(before, v, w))])
                                          for v in same if v != w)]))
            for w in same if w < r
        )

    @at_end
    def completion(self, s):
        """Every execution ends with every submitted request observed, the guest through its
        workload or stopped after an error: nothing stranded on rq, no deadlock."""
        return all_of([
            all_of(implies(r < s.submitted, s.observed[r]) for r in range(self.n)),
            any_of([s.submitted == self.program_length(s), self.guest_failed(s)]),
        ])

    @eventually
    def progress(self, s):
        """Every fair execution gets every submitted request observed, the guest through its
        workload or stopped after an error: ``completion`` as a liveness claim, under the
        fairness the actions declare (a failed flush that fails on every ``cont`` is not
        excused; an operator who never resumes is the assumption ``operator=absent``)."""
        return self.completion(s)

    @sometimes
    def flush_seen_while_write_parked(self, s):
        """The seed's situation: the guest has seen a flush succeed while an earlier write is on rq."""
        return any_of(
            all_of([self.kind_of(s, f) == "F", self.kind_of(s, w) == "W", s.observed[f], s.status[f] == "ok",
                    contains(s.rq, w)])
            for f in self.flushes for w in self.writes if w < f
        )

    @sometimes
    def request_parked(self, s):
        """Some request is parked on rq (the error path is reachable at all)."""
        return negate(is_empty(s.rq))

    # ----------------------------------------------------------------- symmetry

    def symmetry(self):
        """Writes of one flush interval, each to a sector no other request touches, are
        interchangeable (each with its sector) once both are fetched: from then on no
        step names them by their place in program order, and every property treats them
        alike (modelcheck.symmetry states what this promises; tests check it)."""
        alone = [w for w in self.writes
                 if [r for r in range(self.n) if self.sector[r] == self.sector[w]] == [w]]
        interval: dict[int, list[int]] = {}
        for w in alone:
            interval.setdefault((sum(f < w for f in self.flushes), self.queue[w]), []).append(w)
        writer = {self.sector[w]: w for w in alone}
        sectors = tuple(writer.get(i, f"s{i}") for i in range(len(self.sectors)))
        ids = tuple(range(self.n + 1))
        return Symmetry(
            groups=tuple(tuple(g) for g in interval.values()),
            ready=lambda s, r: negate(self.unfetched(s, r)),
            indexed={**({} if self.fifo else {"flight": ids}), "outcome": ids, "status": ids[:-1],
                     "observed": ids[:-1], "ordered": self.pairs, "cache": sectors, "disk": sectors,
                     "returned": self.reads},
            renamed=(*(("flight",) if self.fifo else ()), "rq", "parked", "used",
                     *(("used1",) if self.queues > 1 else ()), "cache", "disk", "returned"),
        )


SPEC = VirtioBlk
