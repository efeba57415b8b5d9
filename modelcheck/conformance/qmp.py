"""A minimal QMP client: JSON commands over a unix socket, with events kept in arrival order.

QMP sends one JSON object per line: a greeting (``QMP``), replies (``return`` or ``error``)
and asynchronous events (``event``). Every wait has a deadline. The message handling is in
pure functions so it can be tested without QEMU.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from .errors import QemuError
from .qtest import LineReader


def classify(message: dict[str, Any]) -> str:
    """``greeting``, ``return``, ``error`` or ``event`` for one QMP message."""
    for key in ("QMP", "return", "error", "event"):
        if key in message:
            return "greeting" if key == "QMP" else key
    raise QemuError(f"qmp: unrecognised message {message!r}")


def command_text(name: str, arguments: dict[str, Any] | None = None) -> bytes:
    """The wire form of one command."""
    message: dict[str, Any] = {"execute": name}
    if arguments:
        message["arguments"] = arguments
    return json.dumps(message, sort_keys=True).encode() + b"\n"


def version_text(reply: dict[str, Any]) -> str:
    """``7.2.22 (Debian ...)`` from a ``query-version`` reply."""
    q = reply.get("qemu", {})
    text = f"{q.get('major')}.{q.get('minor')}.{q.get('micro')}"
    package = str(reply.get("package", "")).strip()
    return f"{text} ({package})" if package else text


@dataclass
class Event:
    """One QMP event: its name and data (timestamps dropped, they vary)."""

    name: str
    data: dict[str, Any] = field(default_factory=dict)


def parse_event(message: dict[str, Any]) -> Event:
    return Event(str(message["event"]), dict(message.get("data", {})))


class Qmp:
    """A QMP session on QEMU's server socket."""

    def __init__(self, path: str, timeout: float):
        self.timeout = timeout
        self.events: list[Event] = []
        self.reader = LineReader()
        self.pending: list[dict[str, Any]] = []
        self.sock = _connect(path, timeout)
        greeting = self._message()
        if classify(greeting) != "greeting":
            raise QemuError(f"qmp: expected the greeting, got {greeting!r}")
        self.execute("qmp_capabilities")

    def close(self) -> None:
        self.sock.close()

    def _message(self, deadline: float | None = None) -> dict[str, Any]:
        deadline = deadline if deadline is not None else time.monotonic() + self.timeout
        while not self.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise QemuError(f"qmp: nothing from QEMU within {self.timeout:.1f} s")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                raise QemuError("qmp: QEMU closed the connection")
            for line in self.reader.feed(data):
                if line.strip():
                    self.pending.append(json.loads(line))
        return self.pending.pop(0)

    def execute(self, name: str, arguments: dict[str, Any] | None = None) -> Any:
        """Run one command and return its ``return`` value; events met meanwhile are kept."""
        self.sock.sendall(command_text(name, arguments))
        while True:
            message = self._message()
            kind = classify(message)
            if kind == "event":
                self.events.append(parse_event(message))
            elif kind == "return":
                return message["return"]
            elif kind == "error":
                err = message["error"]
                raise QemuError(f"qmp: {name}: {err.get('class')}: {err.get('desc')}")

    def poll_events(self, wait: float = 0.0) -> None:
        """Collect the events that arrive within ``wait`` seconds (none waited for)."""
        deadline = time.monotonic() + wait
        while True:
            try:
                message = self._message(deadline)
            except QemuError as err:
                if "closed" in err.message:
                    raise
                return
            if classify(message) == "event":
                self.events.append(parse_event(message))

    def wait_event(self, name: str, timeout: float | None = None, since: int = 0) -> Event:
        """The first event called ``name`` at index ``since`` or later, waiting for it."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            for event in self.events[since:]:
                if event.name == name:
                    return event
            left = deadline - time.monotonic()
            if left <= 0:
                raise QemuError(f"qmp: no {name} event within {timeout or self.timeout:.1f} s")
            self.poll_events(min(left, 0.05))

    def wait_status(self, wanted: set[str], timeout: float | None = None) -> str:
        """Poll ``query-status`` until the run state is one of ``wanted``; return it."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            status = str(self.execute("query-status")["status"])
            if status in wanted:
                return status
            if time.monotonic() > deadline:
                raise QemuError(f"qmp: status stayed {status!r}, wanted one of {sorted(wanted)}")
            time.sleep(0.01)


def _connect(path: str, timeout: float) -> socket.socket:
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            return sock
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if time.monotonic() > deadline:
                raise QemuError(f"qmp: could not connect to {path} within {timeout:.1f} s") from None
            time.sleep(0.01)
