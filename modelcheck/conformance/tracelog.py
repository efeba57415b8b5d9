"""Reading QEMU's ``-trace`` log: which request the device handled, failed and retried, in order.

The used ring does not show the order in which parked requests were restarted (the file
backend's thread pool completes in any order), so the harness reads QEMU's own trace events:
``virtio_blk_handle_write`` (a write entering the backend, with its sector) and
``virtio_blk_handle_read`` likewise for a read, and ``virtio_blk_rw_complete`` (a write's
or read's result, ``ret`` negative on error).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE = re.compile(r"^(?:\d+@[\d.]+:)?(?P<event>[a-z0-9_]+) (?P<rest>.*)$")
_PAIR = re.compile(r"(\w+) (\S+)")


@dataclass(frozen=True)
class Record:
    """One trace line: the event's name and its ``key value`` fields as text."""

    event: str
    fields: tuple[tuple[str, str], ...]

    def get(self, key: str) -> str:
        for k, v in self.fields:
            if k == key:
                return v
        raise KeyError(f"{self.event} has no field {key!r}")


def parse_line(line: str) -> Record | None:
    """The record of one trace line, or None for a line that is not a trace event.

    >>> parse_line("virtio_blk_handle_write vdev 0x1 req 0x2 sector 6 nsectors 1").get("sector")
    '6'
    >>> parse_line("1234@1700000000.000001:virtio_blk_rw_complete vdev 0x1 req 0x2 ret -28").get("ret")
    '-28'
    """
    match = _LINE.match(line.strip())
    if match is None:
        return None
    return Record(match["event"], tuple(_PAIR.findall(match["rest"])))


def parse(lines: list[str]) -> list[Record]:
    """The trace records of a log, in order (other lines skipped)."""
    out = []
    for line in lines:
        record = parse_line(line)
        if record is not None:
            out.append(record)
    return out


_KINDS = {"virtio_blk_handle_write": "write", "virtio_blk_handle_read": "read"}


def handled(records: list[Record]) -> list[tuple[str, int]]:
    """``(kind, sector)`` of each write and read the device handed to the backend, in order."""
    return [(_KINDS[r.event], int(r.get("sector"))) for r in records if r.event in _KINDS]


def failed(records: list[Record]) -> list[tuple[str, int]]:
    """``(kind, sector)`` of each write and read that completed with an error, in order.

    A request is named by its ``req`` pointer, read back to the latest handle event that
    gave it (a pointer is reused only after its request is freed).
    """
    of: dict[str, tuple[str, int]] = {}
    out = []
    for r in records:
        if r.event in _KINDS:
            of[r.get("req")] = (_KINDS[r.event], int(r.get("sector")))
        elif r.event == "virtio_blk_rw_complete" and int(r.get("ret")) < 0 and r.get("req") in of:
            out.append(of[r.get("req")])
    return out


def count(records: list[Record], event: str) -> int:
    """How many records of ``event`` the log holds."""
    return sum(1 for r in records if r.event == event)
