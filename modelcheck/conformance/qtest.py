"""The qtest text protocol: commands to read and write guest memory and I/O ports.

QEMU's ``-qtest CHARDEV`` accepts one command per line (``outl ADDR VAL``, ``readw ADDR``,
``write ADDR LEN 0xHEX``) and answers each with a line starting ``OK`` or ``FAIL``; lines
starting ``IRQ`` are asynchronous interrupt notices and are skipped. The parsing is kept in
pure functions so it can be tested without QEMU.
"""

from __future__ import annotations

import socket
import time

from .errors import QemuError


def parse_reply(line: str) -> tuple[bool, str]:
    """``(ok, rest)`` of one reply line: ``"OK 0x10"`` -> ``(True, "0x10")``.

    Raises QemuError on a line that is neither ``OK`` nor ``FAIL``.
    """
    head, _, rest = line.strip().partition(" ")
    if head == "OK":
        return True, rest.strip()
    if head == "FAIL":
        return False, rest.strip()
    raise QemuError(f"qtest: unexpected reply {line!r}")


def is_async(line: str) -> bool:
    """Whether a line is an asynchronous notice (``IRQ raise 11``), not a reply."""
    return line.startswith("IRQ")


def parse_value(rest: str) -> int:
    """The integer of an ``OK 0x...`` reply to ``inl``/``readl`` and friends."""
    try:
        return int(rest.split()[0], 0)
    except (IndexError, ValueError):
        raise QemuError(f"qtest: expected a number, got {rest!r}") from None


def parse_bytes(rest: str, length: int) -> bytes:
    """The bytes of an ``OK 0xHEX`` reply to ``read ADDR LEN``."""
    text = rest.split()[0] if rest else ""
    if not text.startswith("0x"):
        raise QemuError(f"qtest: expected 0x-prefixed bytes, got {rest!r}")
    data = bytes.fromhex(text[2:])
    if len(data) != length:
        raise QemuError(f"qtest: asked for {length} bytes, got {len(data)}")
    return data


def write_command(addr: int, data: bytes) -> str:
    """The ``write`` command that stores ``data`` at guest-physical ``addr``."""
    return f"write 0x{addr:x} {len(data)} 0x{data.hex()}"


class LineReader:
    """Splits bytes received from a socket into lines, keeping a partial last line."""

    def __init__(self) -> None:
        self.buffer = b""

    def feed(self, data: bytes) -> list[str]:
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        return [line.decode("utf-8", "replace") for line in lines]


class Qtest:
    """A qtest connection: QEMU connected to our listening socket, one command at a time."""

    def __init__(self, conn: socket.socket, timeout: float):
        self.conn = conn
        self.timeout = timeout
        self.reader = LineReader()
        self.pending: list[str] = []

    def close(self) -> None:
        self.conn.close()

    def _line(self) -> str:
        deadline = time.monotonic() + self.timeout
        while not self.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise QemuError(f"qtest: no reply within {self.timeout:.1f} s")
            self.conn.settimeout(left)
            try:
                data = self.conn.recv(65536)
            except TimeoutError:
                continue
            if not data:
                raise QemuError("qtest: QEMU closed the connection")
            self.pending.extend(self.reader.feed(data))
        return self.pending.pop(0)

    def command(self, text: str) -> str:
        """Send one command and return the text after ``OK`` (QemuError on ``FAIL``)."""
        self.conn.sendall(text.encode() + b"\n")
        while True:
            line = self._line()
            if is_async(line) or not line.strip():
                continue
            ok, rest = parse_reply(line)
            if not ok:
                raise QemuError(f"qtest: {text.split()[0]} failed: {rest}")
            return rest

    # ports
    def outl(self, port: int, value: int) -> None:
        self.command(f"outl 0x{port:x} 0x{value:x}")

    def outw(self, port: int, value: int) -> None:
        self.command(f"outw 0x{port:x} 0x{value:x}")

    def outb(self, port: int, value: int) -> None:
        self.command(f"outb 0x{port:x} 0x{value:x}")

    def inl(self, port: int) -> int:
        return parse_value(self.command(f"inl 0x{port:x}"))

    def inw(self, port: int) -> int:
        return parse_value(self.command(f"inw 0x{port:x}"))

    def inb(self, port: int) -> int:
        return parse_value(self.command(f"inb 0x{port:x}"))

    # memory
    def write(self, addr: int, data: bytes) -> None:
        self.command(write_command(addr, data))

    def read(self, addr: int, length: int) -> bytes:
        return parse_bytes(self.command(f"read 0x{addr:x} {length}"), length)

    def readw(self, addr: int) -> int:
        return parse_value(self.command(f"readw 0x{addr:x}"))

    def readl(self, addr: int) -> int:
        return parse_value(self.command(f"readl 0x{addr:x}"))
