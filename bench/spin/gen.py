"""Generate a Promela model of specs/virtio_blk.py (docs/model.md) for one configuration.

The model mirrors ``VirtioBlk`` state for state: one process runs a ``do`` loop with one
``d_step { guard -> effect }`` branch per action instance of the spec (``submit W0``,
``execute W1 nospc``, ``writeback s0``, ...), so every SPIN transition is one step of
ours and the loop head is the only control location between steps. The global variables
are the spec's fields in the same canonical form:

- in flight is a ``bit`` per request under ``order=any`` and a queue (array + length)
  under ``order=fifo``; ``rq``, ``parked`` and the used ring are queues; every unused
  queue slot is kept at 0, so a valuation of the variables is one state of the spec;
- ``outcome``, ``status``, ``observed``, the ``ordered`` pairs, ``cache`` / ``disk`` (per
  sector the id of the request whose value is there, or -1) and the budgets as in the spec.

The ``drain`` assumption of the spec filters ``submit`` steps by a condition on the state
before the step; here it is an extra conjunct of the ``submit`` guard, which removes the
same steps. The checked property (an invariant) is asserted at the end of every step; the
initial state satisfies every property trivially (nothing is observed), so it is not
asserted there (an assert before the loop would add a state). The loop head carries an
``end`` label: a state with no enabled step is a valid end state, as in our engine.

Usage::

    python bench/spin/gen.py --config medium -o /tmp/medium.pml
    python bench/spin/gen.py --workload "W0 F" --qdepth 2 --property barrier -o m.pml
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, replace
from pathlib import Path

NONE = -1


@dataclass(frozen=True)
class Profile:
    """The device-generation switches of specs/virtio_blk.py's PROFILES."""

    park: str  # "front" or "back"
    stop: str  # "immediate" or "requested"
    settle: bool
    restart_reversed: bool
    load: str  # "front" or "back"
    device_flush: bool = False
    flush_waits: bool = False


PROFILES = {
    "qemu-2010": Profile("front", "immediate", False, False, "front"),
    "qemu-7.2": Profile("front", "requested", True, False, "front"),
    "qemu-9.0": Profile("front", "requested", True, True, "front"),
    "fifo": Profile("back", "requested", True, False, "back"),
    "flush-after-restart": Profile("front", "immediate", False, False, "front", device_flush=True),
    "ordered-flush": Profile("back", "requested", True, False, "back", flush_waits=True),
}


@dataclass(frozen=True)
class Config:
    """One configuration of the spec (its parameters, same names and defaults) and a property."""

    workload: str = "W0 W1 F W2 F"
    qdepth: int = 3
    guest: str = "drain"
    profile: str = "qemu-7.2"
    werror: str = "stop"
    rerror: str = "stop"
    order: str = "any"
    evict: str = "on"
    failures: int = 1
    eio_failures: int = 0
    flush_failures: int = 0
    read_failures: int = 0
    migrations: int = 1
    property: str = "barrier"

    def settings(self) -> dict[str, object]:
        """The spec parameters (everything but the property), for ``configure``."""
        values = asdict(self)
        del values["property"]
        return values


CONFIGS: dict[str, Config] = {
    "small": Config(workload="W0 W1 F W2 F", qdepth=3, guest="drain", failures=2, migrations=1,
                    property="barrier"),
    "medium": Config(workload="W0 W1 F W2 W3 F", qdepth=4, guest="nodrain", failures=2, migrations=1,
                     evict="on", order="fifo", property="flush_contract"),
    "large": Config(workload="W0 W1 F W2 W3 F", qdepth=4, guest="nodrain", failures=2, flush_failures=1,
                    migrations=1, evict="on", order="any", property="flush_contract"),
    # issue 19: the large configuration with one more write (the workload), and with two more
    # (the workload whose count, 65,778,713 states, the issue quotes for "xlarge")
    "xlarge": Config(workload="W0 W1 F W2 W3 F W4", qdepth=4, guest="nodrain", failures=2, flush_failures=1,
                     migrations=1, evict="on", order="any", property="flush_contract"),
    "xlarge-w5": Config(workload="W0 W1 F W2 W3 F W4 W5", qdepth=4, guest="nodrain", failures=2, flush_failures=1,
                        migrations=1, evict="on", order="any", property="flush_contract"),
}

PROPERTIES = ("barrier", "flush_contract", "barrier_order", "none")


class Model:
    """The Promela text of one configuration, built action instance by action instance."""

    def __init__(self, cfg: Config, dump: bool = False):
        if cfg.profile not in PROFILES:
            raise ValueError(f"profile {cfg.profile!r}; known: {', '.join(PROFILES)}")
        if cfg.property not in PROPERTIES:
            raise ValueError(f"property {cfg.property!r}; known: {', '.join(PROPERTIES)}")
        self.cfg = cfg
        self.dump = dump
        tokens = cfg.workload.split()
        self.n = len(tokens)
        self.kind = tuple(t[0] for t in tokens)
        sectors = sorted({int(t[1:]) for t in tokens if t != "F"})
        self.nsec = len(sectors)
        self.sector = tuple(sectors.index(int(t[1:])) if t != "F" else None for t in tokens)
        self.p = PROFILES[cfg.profile]
        self.fifo = cfg.order == "fifo"
        self.device = self.n
        self.names = tokens
        self.writes = tuple(r for r in range(self.n) if self.kind[r] == "W")
        self.flushes = tuple(r for r in range(self.n) if self.kind[r] == "F")
        self.reads = tuple(r for r in range(self.n) if self.kind[r] == "R")
        self.pairs = tuple(
            (a, b) for b in range(self.n) for a in range(b)
            if self.kind[a] == "W" and (self.kind[b] == "F" or self.sector[a] == self.sector[b])
        )
        self.pair_index = {pair: i for i, pair in enumerate(self.pairs)}

    # ------------------------------------------------------------ expression helpers

    def in_flight(self, r: int) -> str:
        if not self.fifo:
            return f"infl[{r}]"
        return "(" + " || ".join(f"(fl_len > {j} && fl[{j}] == {r})" for j in range(self.n + 1)) + ")"

    def flight_empty(self) -> str:
        if self.fifo:
            return "fl_len == 0"
        return "(" + " && ".join(f"!infl[{r}]" for r in range(self.n + 1)) + ")"

    def enter(self, r: str) -> str:
        return f"fl[fl_len] = {r}; fl_len++" if self.fifo else f"infl[{r}] = 1"

    def oldest_unexecuted_is(self, r: int) -> str:
        """order=fifo: the earliest request in flight not executed yet is ``r``."""
        terms = []
        for j in range(self.n + 1):
            before = [f"outcome[fl[{i}]] != 0" for i in range(j)]
            terms.append("(" + " && ".join([f"fl_len > {j}", f"fl[{j}] == {r}", *before]) + ")")
        return "(" + " || ".join(terms) + ")"

    def guest_failed(self) -> str:
        return "(" + " || ".join(f"(observed[{r}] && status[{r}] == 2)" for r in range(self.n)) + ")"

    def ordered_before(self, a: int, b: int) -> str:
        if a >= b:
            return "0"
        return f"ordered[{self.pair_index[(a, b)]}]"

    def durable(self, w: int) -> str:
        sec = self.sector[w]
        terms = [f"disk[{sec}] == {w}"]
        for v in self.writes:
            if v != w and self.sector[v] == sec:
                terms.append(f"(disk[{sec}] == {v} && !({self.ordered_before(v, w)}))")
        return "(" + " || ".join(terms) + ")"

    def observed_ok(self, f: int) -> str:
        return f"(observed[{f}] && status[{f}] == 1)"

    def invariant(self) -> str:
        """The checked property as one boolean expression over the globals ("1" for none)."""
        prop = self.cfg.property
        conj = []
        if prop in ("barrier", "flush_contract"):
            for f in self.flushes:
                for w in self.writes:
                    if w >= f:
                        continue
                    if prop == "barrier":
                        premise = f"!(observed[{w}] && status[{w}] == 2)"
                    else:
                        premise = f"({self.ordered_before(w, f)} && status[{w}] == 1)"
                    conj.append(f"(!{self.observed_ok(f)} || !({premise}) || {self.durable(w)})")
        elif prop == "barrier_order":
            for f in self.flushes:
                later = [f"disk[{self.sector[w2]}] == {w2}" for w2 in self.writes if w2 > f]
                if not later:
                    continue
                trigger = f"({f} < submitted && ({' || '.join(later)}))"
                for w in self.writes:
                    if w < f:
                        conj.append(f"(!{trigger} || (observed[{w}] && status[{w}] == 2) || {self.durable(w)})")
        return " && ".join(conj) if conj else "1"

    # ------------------------------------------------------------ actions

    def branches(self) -> list[tuple[str, str, list[str]]]:
        """``(step name, guard, effect statements)`` per action instance, in the spec's order."""
        out: list[tuple[str, str, list[str]]] = []
        n, p, cfg = self.n, self.p, self.cfg
        running = "vm != 2"
        for r in range(n):  # submit
            guard = [running, f"submitted == {r}",
                     f"submitted - ({' + '.join(f'observed[{a}]' for a in range(n))}) < {cfg.qdepth}",
                     f"!{self.guest_failed()}"]
            if cfg.guest == "drain":
                guard += [f"observed[{a}]" for a in range(r) if self.kind[r] == "F" or self.kind[a] == "F"]
            effect = [f"submitted = {r + 1}"]
            effect += [f"ordered[{self.pair_index[(a, r)]}] = observed[{a}]"
                       for a in range(r) if (a, r) in self.pair_index]
            out.append((f"submit {self.names[r]}", " && ".join(guard), effect))
        for r in range(n):  # observe
            out.append((f"observe {self.names[r]}", f"{running} && used_len > 0 && used[0] == {r}",
                        [*self.pop_front("used", n), f"observed[{r}] = 1"]))
        for r in range(n):  # fetch
            guard = [running, f"fetched == {r}", "fetched < submitted"]
            if p.flush_waits and self.kind[r] == "F":
                guard += [f"status[{a}] != 0" for a in range(r)]
            out.append((f"fetch {self.names[r]}", " && ".join(guard), [f"fetched = {r + 1}", self.enter(str(r))]))
        for r in range(n):  # complete
            out.append((f"complete {self.names[r]}", *self.complete(r)))
        if p.device_flush:
            d = self.device
            guard = [self.in_flight(d), f"outcome[{d}] != 0"] + (["fl[0] == " + str(d)] if self.fifo else [])
            out.append(("complete_device_flush", " && ".join(guard), [self.leave(d), f"outcome[{d}] = 0"]))
        out.append(("stop", "vm == 1", ["vm = 2", "settled = 0"]))
        if p.settle:
            out.append(("settle", f"vm == 2 && {self.flight_empty()} && !settled",
                        ["settled = 1", *self.flush_cache()]))
        settled = " && settled" if p.settle else ""
        out.append(("resume", f"vm == 2 && {self.flight_empty()}{settled}", ["vm = 0", "restart_pending = 1"]))
        out.append(("restart", f"{running} && restart_pending", self.restart()))
        if cfg.migrations > 0:
            effect = [*self.flush_cache(), *(self.reverse_rq() if p.load == "front" else []),
                      "migrations_left--"]
            out.append(("migrate", f"vm == 2 && {self.flight_empty()}{settled} && migrations_left > 0", effect))
        for r in range(n + (1 if p.device_flush else 0)):  # execute
            for result in ("ok", "nospc", "eio"):
                branch = self.execute(r, result)
                if branch is not None:
                    out.append((f"execute {self.names[r] if r < n else 'DF'} {result}", *branch))
        if cfg.evict == "on":
            for sec in range(self.nsec):
                out.append((f"writeback s{sec}", f"cache[{sec}] != {NONE}",
                            [f"disk[{sec}] = cache[{sec}]", f"cache[{sec}] = {NONE}"]))
        return out

    def pop_front(self, q: str, cap: int) -> list[str]:
        shift = [f"{q}[{i}] = {q}[{i + 1}]" for i in range(cap - 1)]
        return [*shift, f"{q}[{cap - 1}] = 0", f"{q}_len--"]

    def push_front(self, q: str, cap: int, x: str) -> list[str]:
        shift = [f"{q}[{i}] = {q}[{i - 1}]" for i in range(cap - 1, 0, -1)]
        return [*shift, f"{q}[0] = {x}", f"{q}_len++"]

    def leave(self, r: int) -> str:
        """Remove ``r`` from flight; under fifo ``r`` is the head (complete's guard)."""
        if self.fifo:
            return "; ".join(self.pop_front("fl", self.n + 1))
        return f"infl[{r}] = 0"

    def flush_cache(self) -> list[str]:
        return [f"if :: cache[{s}] != {NONE} -> disk[{s}] = cache[{s}]; cache[{s}] = {NONE} :: else -> skip fi"
                for s in range(self.nsec)]

    def reverse_rq(self) -> list[str]:
        return ["mc_i = 0",
                "do :: mc_i < rq_len / 2 -> mc_t = rq[mc_i]; rq[mc_i] = rq[rq_len - 1 - mc_i]; "
                "rq[rq_len - 1 - mc_i] = mc_t; mc_i++ :: else -> break od",
                "mc_i = 0", "mc_t = 0"]

    def restart(self) -> list[str]:
        n = self.n
        if self.p.restart_reversed:
            loop = [f"mc_i = rq_len; do :: mc_i > 0 -> mc_i--; {self.enter('rq[mc_i]')} :: else -> break od"]
        else:
            loop = [f"mc_i = 0; do :: mc_i < rq_len -> {self.enter('rq[mc_i]')}; mc_i++ :: else -> break od"]
        effect = list(loop)
        if self.p.device_flush:
            effect.append(f"if :: rq_len > 0 -> {self.enter(str(self.device))} :: else -> skip fi")
        effect += [f"rq[{i}] = 0" for i in range(n)] + ["rq_len = 0"]
        effect += [f"parked[{i}] = 0" for i in range(n)] + ["parked_len = 0"]
        effect += ["restart_pending = 0", "mc_i = 0"]
        return effect

    def complete(self, r: int) -> tuple[str, list[str]]:
        n, p = self.n, self.p
        guard = [self.in_flight(r), f"outcome[{r}] != 0"] + ([f"fl[0] == {r}"] if self.fifo else [])
        policy = self.cfg.rerror if self.kind[r] == "R" else self.cfg.werror
        ok = [self.leave(r), f"outcome[{r}] = 0", f"used[used_len] = {r}", "used_len++", f"status[{r}] = 1"]
        park_rq = self.push_front("rq", n, str(r)) if p.park == "front" else [f"rq[rq_len] = {r}", "rq_len++"]
        stop = "vm = 2" if p.stop == "immediate" else "if :: vm == 0 -> vm = 1 :: else -> skip fi"
        park = [self.leave(r), f"outcome[{r}] = 0", *park_rq, f"parked[parked_len] = {r}", "parked_len++", stop]
        shown = 1 if policy == "ignore" else 2
        show = [self.leave(r), f"outcome[{r}] = 0", f"used[used_len] = {r}", "used_len++", f"status[{r}] = {shown}"]
        if policy == "stop":
            error = [f"else -> {'; '.join(park)}"]
        elif policy == "enospc":
            error = [f"outcome[{r}] == 2 -> {'; '.join(park)}", f"else -> {'; '.join(show)}"]
        else:
            error = [f"else -> {'; '.join(show)}"]
        body = f"if :: outcome[{r}] == 1 -> {'; '.join(ok)} " + " ".join(f":: {e}" for e in error) + " fi"
        return " && ".join(guard), [body]

    def execute(self, r: int, result: str) -> tuple[str, list[str]] | None:
        kind = "F" if r == self.device else self.kind[r]
        guard = [self.in_flight(r), f"outcome[{r}] == 0"]
        if self.fifo:
            guard.append(self.oldest_unexecuted_is(r))
        code = {"ok": 1, "nospc": 2, "eio": 3}[result]
        effect = [f"outcome[{r}] = {code}"]
        if result == "nospc":
            if kind != "W" or self.cfg.failures == 0:
                return None
            guard.append("nospc_left > 0")
            effect.append("nospc_left--")
        elif result == "eio":
            budget = {"W": "eio_left", "F": "flush_eio_left", "R": "read_eio_left"}[kind]
            limit = {"W": self.cfg.eio_failures, "F": self.cfg.flush_failures, "R": self.cfg.read_failures}[kind]
            if r == self.device or limit == 0:
                return None
            guard.append(f"{budget} > 0")
            effect.append(f"{budget}--")
        elif kind == "W":
            effect.append(f"cache[{self.sector[r]}] = {r}")
        elif kind == "F":
            effect += self.flush_cache()
        else:  # a read records the value it returned: cached, else durable
            sec, slot = self.sector[r], self.reads.index(r)
            effect.append(f"if :: cache[{sec}] != {NONE} -> returned[{slot}] = cache[{sec}] "
                          f":: else -> returned[{slot}] = disk[{sec}] fi")
        return " && ".join(guard), effect

    # ------------------------------------------------------------ the text

    def variables(self) -> list[str]:
        """Every state variable (array elements one by one), in :func:`encode`'s order."""
        n = self.n
        names = ["vm", "settled", "restart_pending", "submitted", "fetched"]
        if self.fifo:
            names += [f"fl[{i}]" for i in range(n + 1)] + ["fl_len"]
        else:
            names += [f"infl[{i}]" for i in range(n + 1)]
        names += [f"outcome[{i}]" for i in range(n + 1)]
        for q in ("rq", "parked", "used"):
            names += [f"{q}[{i}]" for i in range(n)] + [f"{q}_len"]
        names += [f"status[{i}]" for i in range(n)] + [f"observed[{i}]" for i in range(n)]
        names += [f"ordered[{i}]" for i in range(len(self.pairs))]
        names += [f"cache[{i}]" for i in range(self.nsec)] + [f"disk[{i}]" for i in range(self.nsec)]
        names += [f"returned[{i}]" for i in range(len(self.reads))]
        names += ["nospc_left", "eio_left", "flush_eio_left", "read_eio_left", "migrations_left"]
        return names

    def dump_state(self) -> list[str]:
        """With ``dump``: a printf of the state after the step (pan needs -DPRINTF)."""
        if not self.dump:
            return []
        names = self.variables()
        chunks = [names[i:i + 6] for i in range(0, len(names), 6)]  # pan's printf takes few arguments
        out = ['printf("STATE")']
        out += [f'printf("{" %d" * len(c)}", {", ".join(c)})' for c in chunks]
        return [*out, 'printf("\\n")']

    def encode(self, state: tuple) -> tuple[int, ...]:
        """One of our states (a ``VirtioBlkState``) as the values of :meth:`variables`."""
        n = self.n
        f = dict(zip(state.fields, state))  # type: ignore[attr-defined]
        out = [("running", "stopping", "stopped").index(f["vm"]), int(f["settled"]), int(f["restart_pending"]),
               f["submitted"], f["fetched"]]
        if self.fifo:
            out += [*f["flight"], *[0] * (n + 1 - len(f["flight"])), len(f["flight"])]
        else:
            out += [int(b) for b in f["flight"]]
        out += [("none", "ok", "nospc", "eio").index(o) for o in f["outcome"]]
        for q in ("rq", "parked", "used"):
            out += [*f[q], *[0] * (n - len(f[q])), len(f[q])]
        out += [("none", "ok", "ioerr").index(x) for x in f["status"]] + [int(b) for b in f["observed"]]
        out += [int(b) for b in f["ordered"]] + list(f["cache"]) + list(f["disk"]) + list(f["returned"])
        out += [f["nospc_left"], f["eio_left"], f["flush_eio_left"], f["read_eio_left"], f["migrations_left"]]
        return tuple(out)

    def promela(self) -> str:
        cfg, n = self.cfg, self.n
        head = [
            "/* virtio-blk (docs/model.md), generated by bench/spin/gen.py from specs/virtio_blk.py's semantics.",
            f" * {' '.join(f'{k}={v}' for k, v in asdict(cfg).items())}",
            " * vm: 0 running, 1 stopping (stop requested), 2 stopped; outcome: 0 none, 1 ok, 2 nospc, 3 eio;",
            " * status: 0 none, 1 ok, 2 ioerr; cache/disk/returned: id of the request whose value is there, -1 none;",
            " * queues: array + length, unused slots 0. */",
            "",
            "byte vm = 0;",
            "bit settled = 1;",
            "bit restart_pending = 0;",
            "byte submitted = 0;",
            "byte fetched = 0;",
        ]
        if self.fifo:
            head += [f"byte fl[{n + 1}];", "byte fl_len = 0;"]
        else:
            head += [f"bit infl[{n + 1}];"]
        head += [
            f"byte outcome[{n + 1}];",
            f"byte rq[{n}];", "byte rq_len = 0;",
            f"byte parked[{n}];", "byte parked_len = 0;",
            f"byte used[{n}];", "byte used_len = 0;",
            f"byte status[{n}];",
            f"bit observed[{n}];",
            f"bit ordered[{max(len(self.pairs), 1)}];",
            f"short cache[{self.nsec}] = {NONE};",
            f"short disk[{self.nsec}] = {NONE};",
            f"short returned[{max(len(self.reads), 1)}] = {NONE};  /* per read: the value it returned */",
            f"byte nospc_left = {cfg.failures};",
            f"byte eio_left = {cfg.eio_failures};",
            f"byte flush_eio_left = {cfg.flush_failures};",
            f"byte read_eio_left = {cfg.read_failures};",
            f"byte migrations_left = {cfg.migrations};",
            "hidden byte mc_i;  /* loop temporaries, not part of the state */",
            "hidden byte mc_t;",
            "",
            f"#define PROPERTY ({self.invariant()})",
            "",
            "active proctype virtio() {",
            "end:",
            "  do",
        ]
        body = []
        for name, guard, effect in self.branches():
            stmts = "; ".join([*effect, *self.dump_state(), f'assert(PROPERTY) /* {cfg.property} */'])
            body.append(f"  :: d_step {{ /* {name} */ ({guard}) -> {stmts} }}")
        return "\n".join([*head, *body, "  od", "}", ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=tuple(CONFIGS), help="one of the benchmark configurations")
    for name, value in asdict(Config()).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=None)
    parser.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    args = parser.parse_args()
    cfg = CONFIGS[args.config] if args.config else Config()
    overrides = {k: v for k, v in vars(args).items() if k in asdict(cfg) and v is not None}
    cfg = replace(cfg, **overrides)
    text = Model(cfg).promela()
    if args.output:
        args.output.write_text(text)
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
