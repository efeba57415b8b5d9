"""The shared vocabulary of observations and spec steps: per-channel event sequences.

What the harness can see of QEMU is partially ordered: the order in which writes failed
(trace log), the order of each restart (trace log), the used ring's entries and what was
on it at ``cont`` (guest RAM), the STOP events and the migrations (QMP). Each kind is a
*channel* holding a totally ordered sequence; channels are not ordered against one
another. A spec step is mapped to the events it emits on each channel, from the fields
it changes, so trace validation is: find a path whose projection on every channel equals
the observed sequence.

The fields read are ``rq`` (parking list), ``used`` (used ring), ``status`` (per request),
``vm``, ``cache`` and ``disk`` (per sector in the spec's sector order), and ``flight`` only
when it is a sequence. Under ``order=any`` the spec keeps in-flight as a set, so the order
in which ``restart`` puts requests in flight is the spec's own ``restart_sequence(rq)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .scenarios import Observation

CHANNELS = ("failures", "restarts", "used", "stops", "migrations")
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
        return dict(self.channels)[name]


def expectation(obs: Observation) -> Expectation:
    """The per-channel events an observation of the real device amounts to."""
    parked = tuple(sorted(obs.failure_order))
    at_stop = [("push", r, status) for r, status in obs.used_at_stop]
    later = [("push", r, status) for r, status in obs.used_final if [r, status] not in obs.used_at_stop]
    used = (*at_stop, ("cont", parked), *later) if obs.failure_order else tuple(later)
    channels = {
        "failures": tuple(obs.failure_order),
        "restarts": (tuple(obs.restart_order),) if obs.restart_order else (),
        "used": tuple(used),
        "stops": ("stop",) * obs.stop_events,
        "migrations": ("migrate",) * obs.migrations,
    }
    disk = tuple(sorted((int(s), r) for s, r in obs.disk.items()))
    return Expectation(tuple((c, channels[c]) for c in CHANNELS), disk)


def restart_order(spec: Any, before: Any, after: Any, left: list[int]) -> tuple[int, ...]:
    """The order in which a restart step put the requests ``left`` (they left ``rq``) in flight."""
    flight = after.flight
    if flight and not isinstance(flight[0], bool):
        return tuple(r for r in flight if r in left)
    sequence = getattr(spec, "restart_sequence", None)
    if sequence is None:
        raise ValueError("the spec keeps in-flight as a set and has no restart_sequence(rq)")
    return tuple(r for r in sequence(before.rq) if r in left)


def step_events(spec: Any, before: Any, action: str, after: Any) -> tuple[tuple[str, Event], ...]:
    """The ``(channel, event)`` pairs one step emits, in order."""
    out: list[tuple[str, Event]] = []
    for r in after.rq:
        if r not in before.rq:
            out.append(("failures", r))
    if action == "resume":
        out.append(("used", ("cont", tuple(sorted(before.rq)))))
    left = [r for r in before.rq if r not in after.rq]
    if left:
        out.append(("restarts", restart_order(spec, before, after, left)))
    for r in after.used:
        if r not in before.used:
            out.append(("used", ("push", r, after.status[r])))
    if before.vm != "stopped" and after.vm == "stopped":
        out.append(("stops", "stop"))
    if action == "migrate":
        out.append(("migrations", "migrate"))
    return tuple(out)


def visible_disk(spec: Any, s: Any) -> tuple[tuple[int, int | None], ...]:
    """What each sector holds once QEMU has flushed at quit: the cached value, else the durable one."""
    out = []
    for i, sector in enumerate(spec.sectors):
        value = s.cache[i] if s.cache[i] != NONE else s.disk[i]
        out.append((sector, None if value == NONE else value))
    return tuple(sorted(out))


def show_event(channel: str, event: Event, names: tuple[str, ...] | None = None) -> str:
    """An event as the side-by-side view prints it, with request names when known."""
    def name(r: int) -> str:
        return names[r] if names is not None and 0 <= r < len(names) else str(r)

    if channel == "failures":
        return name(event)
    if channel == "restarts":
        return "(" + " ".join(name(r) for r in event) + ")"
    if channel == "used":
        if event[0] == "cont":
            return "cont[rq=" + ",".join(name(r) for r in event[1]) + "]"
        return f"{name(event[1])}:{event[2]}"
    return str(event)
