"""The shared vocabulary of observations and spec steps: per-channel event sequences.

What the harness can see of QEMU is partially ordered. Each kind of thing it sees is a
*channel* holding a totally ordered sequence; channels are not ordered against one another:

- ``guest``: the harness's own submissions and the completions it took from the used ring
  while the VM ran (``("submit", r)``, ``("observe", r)``), in the order it did them;
- ``failures``: the requests that failed, in the order they failed (trace log and QMP
  ``BLOCK_IO_ERROR``);
- ``restarts``: per ``cont``, the order in which the parked writes and reads went back to
  the backend (trace log; QEMU 7.2 has no trace event for handling a flush, so flushes are
  left out of this channel);
- ``used``: the used ring's entries, with a ``cont`` marker where the harness resumed the
  VM, carrying the requests parked then and what the image held at that moment (``used1``:
  the same for queue 1's used ring, when the device has two virtqueues);
- ``stops``, ``migrations``: QMP ``STOP`` events, and the harness's migrations;
- ``flushes``: flushes the device completed OK (its own included), counted by QEMU's
  ``query-blockstats`` as ``flush_operations``;
- ``durable``: the flushes that reached host storage, each as the sectors it made durable
  (the NBD server's log of WRITE and FLUSH commands; a flush with nothing to write is
  not an event).

A spec step is mapped to the events it emits on each channel from the fields it changes,
so trace validation is: find a path whose projection on every channel equals the observed
sequence. The fields read are ``rq`` (parking list), ``used`` (used ring), ``status``
(per request), ``vm``, ``cache`` and ``disk`` (per sector in the spec's sector order),
``kind`` (the spec's request kinds) and ``flight`` only when it is a sequence. Under
``order=any`` the spec keeps in-flight as a set, so the order in which ``restart`` puts
requests in flight is the spec's own ``restart_sequence(rq)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CHANNELS = ("guest", "failures", "restarts", "used", "used1", "stops", "migrations", "flushes", "durable")
NONE = -1

Event = Any  # a hashable, JSON-friendly value: an int, a string or a tuple of them


@dataclass(frozen=True)
class Expectation:
    """What a path of the spec must produce: the events per channel, and the final disk.

    ``disk`` maps a workload sector to the request whose data it holds (None: never written).
    """

    channels: tuple[tuple[str, tuple[Event, ...]], ...]
    disk: tuple[tuple[int, int | None], ...]

    def channel(self, name: str) -> tuple[Event, ...]:
        return dict(self.channels).get(name, ())


def frozen(value: Any) -> Any:
    """JSON lists turned back into tuples, recursively (events must be hashable).

    >>> frozen(["cont", [0], [[2, None]]])
    ('cont', (0,), ((2, None),))
    """
    if isinstance(value, list):
        return tuple(frozen(v) for v in value)
    return value


def disk_items(disk: dict[str, int | None]) -> tuple[tuple[int, int | None], ...]:
    """A ``{"sector": writer}`` map as sorted ``(sector, writer)`` pairs."""
    return tuple(sorted((int(s), r) for s, r in disk.items()))


def expectation(obs: Any) -> Expectation:
    """The per-channel events an observation of the real device amounts to."""
    channels = {
        "guest": tuple(frozen(e) for e in obs.guest),
        "failures": tuple(obs.failure_order),
        "restarts": tuple(tuple(order) for order in obs.restart_order if order),
        "used": tuple(frozen(e) for e in obs.used),
        "used1": tuple(frozen(e) for e in getattr(obs, "used1", ())),
        "stops": ("stop",) * obs.stop_events,
        "migrations": ("migrate",) * obs.migrations,
        "flushes": ("flush",) * obs.flushes,
        "durable": tuple(tuple(sectors) for sectors in obs.durable),
    }
    return Expectation(tuple((c, channels[c]) for c in CHANNELS), disk_items(obs.disk))


def is_flush(spec: Any, s: Any, r: int) -> bool:
    """Whether request ``r`` is a flush (the device's own flush, id ``spec.n``, included)."""
    if r >= spec.n:
        return True
    kinds = spec.kind if spec.kind else s.kind
    return kinds[r] == "F"


def restart_order(spec: Any, before: Any, after: Any, left: list[int]) -> tuple[int, ...]:
    """The order in which a restart step put the requests ``left`` (they left ``rq``) in flight."""
    flight = after.flight
    if flight and not isinstance(flight[0], bool):
        return tuple(r for r in flight if r in left)
    sequence = getattr(spec, "restart_sequence", None)
    if sequence is None:
        raise ValueError("the spec keeps in-flight as a set and has no restart_sequence(rq)")
    return tuple(r for r in sequence(before.rq) if r in left)


def step_events(spec: Any, before: Any, action: str, after: Any,
                args: dict[str, Any] | None = None) -> tuple[tuple[str, Event], ...]:
    """The ``(channel, event)`` pairs one step emits, in order."""
    out: list[tuple[str, Event]] = []
    if action in ("submit", "observe") and args is not None:
        out.append(("guest", (action, args["r"])))
    for r in after.rq:
        if r not in before.rq:
            out.append(("failures", r))
    rings = ("used", "used1") if hasattr(after, "used1") else ("used",)
    if action == "resume":
        for ring in rings:
            out.append((ring, ("cont", tuple(sorted(before.rq)), visible_disk(spec, before))))
    left = [r for r in before.rq if r not in after.rq]
    if left:
        order = tuple(r for r in restart_order(spec, before, after, left) if not is_flush(spec, before, r))
        if order:
            out.append(("restarts", order))
    for ring in rings:
        for r in getattr(after, ring):
            if r not in getattr(before, ring):
                out.append((ring, ("push", r, after.status[r])))
                if after.status[r] == "ok" and is_flush(spec, before, r):
                    out.append(("flushes", "flush"))
    if action == "complete_device_flush":
        out.append(("flushes", "flush"))
    if before.vm != "stopped" and after.vm == "stopped":
        out.append(("stops", "stop"))
    if action == "migrate":
        out.append(("migrations", "migrate"))
    # a sector left the cache for the durable image (not dropped by a failed flush: flush_error lossy/sticky)
    cleaned = tuple(spec.sectors[i] for i, (b, a) in enumerate(zip(before.cache, after.cache))
                    if b != NONE and a == NONE and after.disk[i] == b)
    if cleaned:
        out.append(("durable", tuple(sorted(cleaned))))
    return tuple(out)


def visible_disk(spec: Any, s: Any) -> tuple[tuple[int, int | None], ...]:
    """What each sector of the image file holds: the cached value, else the durable one."""
    out = []
    for i, sector in enumerate(spec.sectors):
        value = s.cache[i] if s.cache[i] != NONE else s.disk[i]
        out.append((sector, None if value == NONE else value))
    return tuple(sorted(out))


def idle(s: Any) -> bool:
    """Whether nothing is in flight at the backend (in-flight as a set of flags or a queue)."""
    return not any(s.flight) if s.flight and isinstance(s.flight[0], bool) else not s.flight


def show_event(channel: str, event: Event, names: tuple[str, ...] | None = None) -> str:
    """An event as the side-by-side view prints it, with request names when known."""
    def name(r: int) -> str:
        return names[r] if names is not None and 0 <= r < len(names) else str(r)

    if channel in ("failures",):
        return name(event)
    if channel == "guest":
        return f"{event[0]}:{name(event[1])}"
    if channel == "restarts":
        return "(" + " ".join(name(r) for r in event) + ")"
    if channel == "durable":
        return "{" + ",".join(f"s{s}" for s in event) + "}"
    if channel == "used":
        if event[0] == "cont":
            disk = ",".join(f"s{s}={'-' if r is None else name(r)}" for s, r in event[2])
            return "cont[rq=" + ",".join(name(r) for r in event[1]) + f"; image {disk}]"
        return f"{name(event[1])}:{event[2]}"
    return str(event)
