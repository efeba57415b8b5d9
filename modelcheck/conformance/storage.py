"""Host storage the harness can watch: qemu-nbd serving the image, logging every command.

The file backend hides when data becomes durable (the page cache absorbs writes and
``fdatasync`` leaves no trace). Serving the image through ``qemu-nbd`` with its
``nbd_receive_request`` trace event makes the storage's side visible: each WRITE (with
its offset) and each FLUSH the VM's block layer sends, in the order the server got
them. A FLUSH makes durable the sectors written since the previous one; a FLUSH with
nothing to cover is not an event (QEMU's layers flush every node, so one guest flush may
send several).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType

from .errors import QemuError, QemuUnavailable

NBD_WRITE, NBD_FLUSH = 1, 3
SECTOR = 512
_REQUEST = re.compile(r"\.type = 0x(?P<type>[0-9a-f]+), from = (?P<offset>\d+), len = (?P<length>\d+)")


def durable_sets(lines: list[str]) -> list[tuple[int, ...]]:
    """The sectors each FLUSH made durable, in order, from the server's trace lines.

    >>> log = ["nbd_receive_request Got request: { magic = 0x25609513, .flags = 0x0, .type = 0x1, "
    ...        "from = 1024, len = 512 }",
    ...        "nbd_receive_request Got request: { magic = 0x25609513, .flags = 0x0, .type = 0x3, "
    ...        "from = 0, len = 0 }"] * 2
    >>> durable_sets(log)
    [(2,), (2,)]
    """
    out: list[tuple[int, ...]] = []
    dirty: set[int] = set()
    for line in lines:
        match = _REQUEST.search(line)
        if match is None:
            continue
        kind = int(match["type"], 16)
        if kind == NBD_WRITE:
            first = int(match["offset"]) // SECTOR
            dirty.update(range(first, first + max(1, int(match["length"]) // SECTOR)))
        elif kind == NBD_FLUSH and dirty:
            out.append(tuple(sorted(dirty)))
            dirty = set()
    return out


class Storage:
    """``with Storage(workdir, image) as nbd:`` serves ``image`` on ``nbd.socket``."""

    def __init__(self, workdir: Path, image: Path, timeout: float = 5.0):
        binary = shutil.which("qemu-nbd")
        if binary is None:
            raise QemuUnavailable("qemu-nbd is not installed (apt-get install qemu-utils)")
        self.socket = workdir / "nbd.sock"
        self.log = workdir / "nbd.trace"
        self.timeout = timeout
        self.cmd = [binary, "-f", "raw", "-k", str(self.socket), "-e", "4", "-t",
                    "-T", f"enable=nbd_receive_request,file={self.log}", str(image)]
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Storage:
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + self.timeout
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                self._stop()
                raise QemuError(f"qemu-nbd did not start: {err.strip()[-300:]}")
            time.sleep(0.005)
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop()

    def _stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        if self.proc.stderr:
            self.proc.stderr.close()

    def durable(self) -> list[tuple[int, ...]]:
        """The sectors each flush so far made durable (see :func:`durable_sets`)."""
        try:
            return durable_sets(self.log.read_text(errors="replace").splitlines())
        except FileNotFoundError:
            return []
