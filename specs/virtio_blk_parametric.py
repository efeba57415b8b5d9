"""virtio-blk (specs/virtio_blk.py) per request: any program of writes and flushes, any qdepth,
any failure and migration budget, for `modelcheck prove --parametric`.

Requests are an unbounded sort. The program is static: ``is_write(r)`` and program order
``before(r, s)``; each write writes a sector of its own, so "its value is in the cache / on
disk" is a relation of the request (``cached``, ``durable``). The guest's and device's places
are relations (``submitted``, ``fetched``, ``in_flight``, ``parked`` for ``s->rq``, ``used``),
the used ring's order is ``used_before``, a request's backend result and status are functions
(``outcome``, ``status``), and ``ordered(w, f)`` says the guest observed write ``w`` complete
before it submitted flush ``f``. qdepth and the budgets are constants the proofs leave free;
``outstanding`` counts submitted requests not yet observed.

``s->rq``'s order is not kept: with ``order=any`` in flight is a set, so the order in which a
restart puts requests back never shows (only ``restart_order`` reads it, and that property
has no reading here). `modelcheck` checks, on every configuration of small programs it
tries, that this description and the spec have the same initial states, steps and
property values through ``abstract`` (the refinement check, modelcheck/parametric/refine.py).
"""

from __future__ import annotations

from modelcheck import always
from modelcheck.errors import UsageError
from modelcheck.parametric.logic import SIZE, Symbol
from modelcheck.parametric.model import REQ, Parametric, Update, transition
from modelcheck.spec import Step

OUTCOMES = ("none", "ok", "nospc", "eio")
STATUSES = ("none", "ok", "ioerr")
VM = ("running", "stopping", "stopped")
BUDGETS = (("nospc_left", "failures"), ("eio_left", "eio_failures"), ("flush_eio_left", "flush_failures"),
           ("migrations_left", "migrations"))


def _b(name: str, arity: int = 1, static: bool = False, doc: str = "") -> Symbol:
    return Symbol(name, arity, "bool", static=static, doc=doc)


class VirtioBlkParametric(Parametric):
    """virtio-blk with order=any and one virtqueue, per request."""

    covers = ("every program of writes (each to a sector of its own) and flushes, every qdepth >= 1 and every "
              "budget >= 0 of failures, eio_failures, flush_failures and migrations")

    def __init__(self, spec):
        super().__init__(spec)
        p = spec
        unsupported = [
            (p.order != "any", "order=fifo (in flight is a queue)", "--set order=any"),
            (p.queues != 1, "two virtqueues", "--set queues=1"),
            (p.p.device_flush, f"profile {p.profile} (the device's own flush)", "another profile"),
            (p.flush_error == "sticky", "flush_error=sticky", "--set flush_error=transient or lossy"),
            (bool(p.reads), "reads in the workload", "a workload of writes and flushes"),
            (p.kind is not None and len({p.sector[w] for w in p.writes}) != len(p.writes),
             "two writes to one sector", "a workload whose writes each write a sector of their own"),
        ]
        for bad, what, fix in unsupported:
            if bad:
                raise UsageError(f"--parametric: the parametric description of virtio-blk does not cover {what}; "
                                 f"fix: {fix}")

    # ------------------------------------------------------------------ vocabulary

    def symbols(self):
        return [
            _b("is_write", static=True, doc="a write (else a flush)"),
            _b("before", 2, static=True, doc="program order"),
            Symbol("qdepth", 0, "int", static=True),
            *(Symbol(param, 0, "int", static=True) for _, param in BUDGETS),
            _b("submitted"), _b("fetched"), _b("in_flight"), _b("parked"), _b("used"), _b("observed"),
            _b("cached"), _b("durable"),
            _b("used_before", 2), _b("ordered", 2),
            Symbol("outcome", 1, "enum", OUTCOMES), Symbol("status", 1, "enum", STATUSES),
            Symbol("vm", 0, "enum", VM), _b("settled", 0), _b("restart_pending", 0),
            Symbol("outstanding", 0, "int"),
            *(Symbol(left, 0, "int") for left, _ in BUDGETS),
        ]

    def background(self, L, v):
        return L.and_(L.forall(lambda x: L.not_(v.before(x, x))),
                      L.forall(lambda x, y, z: L.implies(L.and_(v.before(x, y), v.before(y, z)), v.before(x, z)), 3),
                      L.forall(lambda x, y: L.or_(x == y, v.before(x, y), v.before(y, x)), 2))

    def parameters(self, L, v):
        return L.and_(v.qdepth >= 1, *(getattr(v, param) >= 0 for _, param in BUDGETS))

    def initial(self, L, v):
        no = lambda *xs: False  # noqa: E731
        return {"submitted": no, "fetched": no, "in_flight": no, "parked": no, "used": no, "observed": no,
                "cached": no, "durable": no, "used_before": no, "ordered": no,
                "outcome": lambda x: "none", "status": lambda x: "none",
                "vm": "running", "settled": True, "restart_pending": False, "outstanding": 0,
                **{left: getattr(v, param) for left, param in BUDGETS}}

    # ------------------------------------------------------------------ helpers

    def running(self, L, v):
        return L.not_(L.eq(v.vm, "stopped"))

    def flight_empty(self, L, v):
        return L.forall(lambda x: L.not_(v.in_flight(x)))

    def flushed(self, L, v):
        """cached and durable after every cached write is made durable."""
        return {"cached": lambda x: False, "durable": lambda x: L.or_(v.durable(x), v.cached(x))}

    def failed_visibly(self, L, v, r):
        return L.and_(v.observed(r), L.eq(v.status(r), "ioerr"))

    # ------------------------------------------------------------------ steps (as in specs/virtio_blk.py)

    @transition(r=REQ)
    def submit(self, L, v, r):
        guard = L.and_(self.running(L, v), L.not_(v.submitted(r)),
                       L.forall(lambda a: L.implies(v.before(a, r), v.submitted(a))),
                       v.outstanding < v.qdepth,
                       L.forall(lambda a: L.not_(self.failed_visibly(L, v, a))))
        return Update(guard, {
            "submitted": lambda x: L.or_(v.submitted(x), x == r),
            "ordered": lambda a, b: L.ite(L.and_(b == r, v.before(a, b), v.is_write(a), L.not_(v.is_write(b))),
                                          v.observed(a), v.ordered(a, b)),
            "outstanding": v.outstanding + 1,
        })

    @transition(r=REQ)
    def fetch(self, L, v, r):
        guard = [self.running(L, v), v.submitted(r), L.not_(v.fetched(r)),
                 L.forall(lambda a: L.implies(v.before(a, r), v.fetched(a)))]
        if self.spec.p.flush_waits:
            guard.append(L.implies(L.not_(v.is_write(r)),
                                   L.forall(lambda a: L.implies(v.before(a, r), L.not_(L.eq(v.status(a), "none"))))))
        return Update(L.and_(*guard), {"fetched": lambda x: L.or_(v.fetched(x), x == r),
                                       "in_flight": lambda x: L.or_(v.in_flight(x), x == r)})

    @transition(r=REQ, result=OUTCOMES[1:])
    def execute(self, L, v, r, result):
        guard = [v.in_flight(r), L.eq(v.outcome(r), "none")]
        changes = {"outcome": lambda x: L.ite(x == r, result, v.outcome(x))}
        write = v.is_write(r)
        if result == "ok":
            flushed = self.flushed(L, v)
            changes["cached"] = lambda x: L.ite(write, L.or_(v.cached(x), x == r), False)
            changes["durable"] = lambda x: L.ite(write, v.durable(x), flushed["durable"](x))
        elif result == "nospc":
            guard += [write, v.nospc_left > 0]
            changes["nospc_left"] = v.nospc_left - 1
        else:
            guard.append(L.ite(write, v.eio_left > 0, v.flush_eio_left > 0))
            changes["eio_left"] = L.ite(write, v.eio_left - 1, v.eio_left)
            changes["flush_eio_left"] = L.ite(write, v.flush_eio_left, v.flush_eio_left - 1)
            if self.spec.flush_error == "lossy":  # the host dropped the dirty data
                changes["cached"] = lambda x: L.and_(write, v.cached(x))
        return Update(L.and_(*guard), changes)

    @transition(r=REQ)
    def complete(self, L, v, r):
        spec = self.spec
        ok = L.eq(v.outcome(r), "ok")
        if spec.werror == "stop":
            park = L.not_(ok)
        elif spec.werror == "enospc":
            park = L.eq(v.outcome(r), "nospc")
        else:
            park = False
        shown = "ok" if spec.werror == "ignore" else "ioerr"
        if spec.p.stop == "immediate":
            vm = L.ite(park, "stopped", v.vm)
        else:
            vm = L.ite(L.and_(park, L.eq(v.vm, "running")), "stopping", v.vm)
        to_used = L.not_(park)
        return Update(L.and_(v.in_flight(r), L.not_(L.eq(v.outcome(r), "none"))), {
            "in_flight": lambda x: L.and_(v.in_flight(x), L.not_(x == r)),
            "outcome": lambda x: L.ite(x == r, "none", v.outcome(x)),
            "status": lambda x: L.ite(L.and_(x == r, to_used), L.ite(ok, "ok", shown), v.status(x)),
            "used": lambda x: L.or_(v.used(x), L.and_(x == r, to_used)),
            "used_before": lambda a, b: L.or_(v.used_before(a, b), L.and_(to_used, v.used(a), b == r)),
            "parked": lambda x: L.or_(v.parked(x), L.and_(x == r, park)),
            "vm": vm,
        })

    @transition(r=REQ)
    def observe(self, L, v, r):
        head = L.forall(lambda a: L.implies(v.used(a), L.not_(v.used_before(a, r))))
        guard = L.and_(self.running(L, v), v.used(r), head)
        return Update(guard, {
            "used": lambda x: L.and_(v.used(x), L.not_(x == r)),
            "used_before": lambda a, b: L.and_(v.used_before(a, b), L.not_(a == r), L.not_(b == r)),
            "observed": lambda x: L.or_(v.observed(x), x == r),
            "outstanding": v.outstanding - 1,
        })

    @transition()
    def stop(self, L, v):
        return Update(L.eq(v.vm, "stopping"), {"vm": "stopped", "settled": False})

    @transition()
    def settle(self, L, v):
        guard = L.and_(self.spec.p.settle, L.eq(v.vm, "stopped"), self.flight_empty(L, v), L.not_(v.settled))
        return Update(guard, {**self.flushed(L, v), "settled": True})

    @transition()
    def resume(self, L, v):
        guard = L.and_(L.eq(v.vm, "stopped"), self.flight_empty(L, v), v.settled if self.spec.p.settle else True)
        return Update(guard, {"vm": "running", "restart_pending": True})

    @transition()
    def restart(self, L, v):
        return Update(L.and_(self.running(L, v), v.restart_pending), {
            "in_flight": lambda x: L.or_(v.in_flight(x), v.parked(x)), "parked": lambda x: False,
            "restart_pending": False})

    @transition()
    def migrate(self, L, v):
        guard = L.and_(L.eq(v.vm, "stopped"), self.flight_empty(L, v), v.settled if self.spec.p.settle else True,
                       v.migrations_left > 0)
        return Update(guard, {**self.flushed(L, v), "migrations_left": v.migrations_left - 1})

    @transition(w=REQ)
    def writeback(self, L, v, w):
        return Update(L.and_(self.spec.evict == "on", v.cached(w)), {
            "cached": lambda x: L.and_(v.cached(x), L.not_(x == w)),
            "durable": lambda x: L.or_(v.durable(x), x == w)})

    def assumptions(self):
        def flush_waits(L, v, action, args):
            if action != "submit":
                return True
            r = args["r"]
            return L.implies(L.not_(v.is_write(r)), L.forall(lambda a: L.implies(v.before(a, r), v.observed(a))))

        def writes_wait(L, v, action, args):
            if action != "submit":
                return True
            r = args["r"]
            return L.forall(lambda a: L.implies(L.and_(v.before(a, r), L.not_(v.is_write(a))), v.observed(a)))

        def operator_absent(L, v, action, args):
            return action != "resume"

        return {"flush_waits": flush_waits, "writes_wait": writes_wait, "operator_absent": operator_absent}

    # ------------------------------------------------------------------ properties (as in the spec)

    @always
    def barrier(self, L, v):
        return L.forall(lambda f, w: L.implies(
            L.and_(L.not_(v.is_write(f)), v.observed(f), L.eq(v.status(f), "ok"), v.is_write(w), v.before(w, f),
                   L.not_(self.failed_visibly(L, v, w))),
            v.durable(w)), 2)

    @always
    def flush_contract(self, L, v):
        return L.forall(lambda f, w: L.implies(
            L.and_(L.not_(v.is_write(f)), v.observed(f), L.eq(v.status(f), "ok"), v.is_write(w), v.ordered(w, f),
                   L.eq(v.status(w), "ok")),
            v.durable(w)), 2)

    @always
    def barrier_order(self, L, v):
        return L.forall(lambda f, w, later: L.implies(
            L.and_(L.not_(v.is_write(f)), v.submitted(f), v.is_write(later), v.before(f, later), v.durable(later),
                   v.is_write(w), v.before(w, f), L.not_(self.failed_visibly(L, v, w))),
            v.durable(w)), 3)

    # ------------------------------------------------------------------ the abstraction function

    def abstract(self, s):
        spec = self.spec
        n = spec.program_length(s)
        write = tuple(spec.kind_of(s, r) == "W" for r in range(n))
        used = list(s.used)

        def ordered(a, b):
            pair = spec.pair_index.get((a, b))
            return pair is not None and write[a] and not write[b] and s.ordered[pair]

        return {
            SIZE: n, "is_write": write, "before": tuple(tuple(a < b for b in range(n)) for a in range(n)),
            "qdepth": spec.qdepth, **{param: getattr(spec, param) for _, param in BUDGETS},
            "submitted": tuple(r < s.submitted for r in range(n)), "fetched": tuple(r < s.fetched for r in range(n)),
            "in_flight": tuple(bool(s.flight[r]) for r in range(n)), "parked": tuple(r in s.rq for r in range(n)),
            "used": tuple(r in used for r in range(n)), "observed": tuple(bool(s.observed[r]) for r in range(n)),
            "cached": tuple(write[r] and s.cache[spec.sector[r]] == r for r in range(n)),
            "durable": tuple(write[r] and s.disk[spec.sector[r]] == r for r in range(n)),
            "used_before": tuple(tuple(a in used and b in used and used.index(a) < used.index(b) for b in range(n))
                                 for a in range(n)),
            "ordered": tuple(tuple(ordered(a, b) for b in range(n)) for a in range(n)),
            "outcome": tuple(s.outcome[r] for r in range(n)), "status": tuple(s.status[r] for r in range(n)),
            "vm": s.vm, "settled": s.settled, "restart_pending": s.restart_pending,
            "outstanding": s.submitted - sum(1 for o in s.observed if o),
            **{left: getattr(s, left) for left, _ in BUDGETS},
        }

    def label(self, step: Step):
        args = dict(step.args)
        if step.action == "writeback":
            sector = args["sector"]
            return "writeback", (next(w for w in self.spec.writes if self.spec.sector[w] == sector),)
        if step.action == "execute":
            return "execute", (args["r"], args["result"])
        if "r" in args:
            return step.action, (args["r"],)
        return step.action, ()

    def settings(self, structure):
        """A finite instance as spec settings: the program (write i writes sector i), qdepth, budgets."""
        n = structure[SIZE]
        tokens = [f"W{r}" if structure["is_write"][r] else "F" for r in range(n)]
        return {"workload": " ".join(tokens), "qdepth": str(structure["qdepth"]),
                **{param: str(structure[param]) for _, param in BUDGETS}}


PARAMETRIC = VirtioBlkParametric
