"""Host storage the harness can watch: an NBD server with a volatile write cache.

The file backend hides when data becomes durable (the page cache absorbs writes and
``fdatasync`` leaves no trace) and completes requests in any order (QEMU's thread pool).
This server, serving the image to QEMU over NBD on a unix socket, does neither: it
executes the commands that arrive together (within ``QUIET`` seconds) one at a time in a
fixed order (by sector, then command), so the device's completions come back in a
reproducible order (QEMU's coroutines send concurrent requests in an order that varies
from run to run; a host may execute them in any order, so this is one of the host's
allowed behaviours, chosen to be the same every time); a WRITE lands in a volatile cache (by sector); a FLUSH writes the
cache to the image file, which is therefore exactly the *durable* image. It records the
sectors each FLUSH made durable (a FLUSH with nothing cached is not an event: QEMU's
layers flush every node, so one guest flush may send several).

The protocol is NBD's fixed newstyle handshake with ``NBD_OPT_GO`` (or the old
``NBD_OPT_EXPORT_NAME``), simple replies only, and the commands READ, WRITE, FLUSH, DISC.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import struct
import threading
import time
from pathlib import Path
from types import TracebackType

from .errors import QemuError

SECTOR = 512
IHAVEOPT = 0x49484156454F5054
OPT_REPLY = 0x3E889045565A9
REQUEST, REPLY = 0x25609513, 0x67446698
OPT_EXPORT_NAME, OPT_ABORT, OPT_INFO, OPT_GO = 1, 2, 6, 7
REP_ACK, REP_INFO, REP_ERR_UNSUP = 1, 3, (1 << 31) + 1
FLAG_FIXED_NEWSTYLE, FLAG_NO_ZEROES = 1, 2
HAS_FLAGS, SEND_FLUSH = 1, 4
CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH = 0, 1, 2, 3
EINVAL = 22
QUIET = 0.01  # seconds without a new command that close a batch


class Storage:
    """``with Storage(workdir, image) as nbd:`` serves ``image`` on ``nbd.socket``."""

    def __init__(self, workdir: Path, image: Path, timeout: float = 5.0):
        self.socket = workdir / "nbd.sock"
        self.image = image
        self.size = image.stat().st_size
        self.timeout = timeout
        self.cache: dict[int, bytes] = {}  # sector -> data written and not yet flushed
        self.flushed: list[tuple[int, ...]] = []
        self.lock = threading.Lock()
        self.errors: list[str] = []
        self.hold = False  # keep WRITEs and READs until released (replay steers the host)
        self.held: list[tuple[socket.socket, tuple[int, int, int, int, bytes]]] = []
        self.listener: socket.socket | None = None
        self.threads: list[threading.Thread] = []
        self.conns: list[socket.socket] = []

    def __enter__(self) -> Storage:
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(self.socket))
        self.listener.listen(4)
        self._spawn(self._accept)
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.listener is not None:
            with contextlib.suppress(OSError):
                self.listener.shutdown(socket.SHUT_RDWR)
            self.listener.close()
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self.threads:
            thread.join(self.timeout)

    def _spawn(self, target, *args) -> None:  # type: ignore[no-untyped-def]
        thread = threading.Thread(target=target, args=args, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        assert self.listener is not None
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.conns.append(conn)
            self._spawn(self._serve, conn)

    # ----------------------------------------------------------------- what the harness reads

    def durable(self) -> list[tuple[int, ...]]:
        """The sectors each flush so far made durable, in order."""
        with self.lock:
            return list(self.flushed)

    def sectors(self, sectors: list[int], *, durable: bool = False) -> dict[int, bytes]:
        """What each sector holds: the cached data over the image file (``durable``: the file alone)."""
        with self.lock:
            out = {}
            with open(self.image, "rb") as f:
                for sector in sectors:
                    f.seek(sector * SECTOR)
                    out[sector] = f.read(SECTOR)
                    if not durable and sector in self.cache:
                        out[sector] = self.cache[sector]
            return out

    def check(self) -> None:
        """QemuError when the server met something it does not speak."""
        if self.errors:
            raise QemuError("NBD server: " + "; ".join(self.errors))

    # ----------------------------------------------------------------- the protocol

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self._handshake(conn):
                self._transmit(conn)
        except (OSError, ConnectionError):
            pass
        except ValueError as err:
            self.errors.append(str(err))
        finally:
            conn.close()

    def _handshake(self, conn: socket.socket) -> bool:
        conn.sendall(b"NBDMAGIC" + struct.pack(">QH", IHAVEOPT, FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES))
        (client_flags,) = struct.unpack(">I", _recv(conn, 4))
        while True:
            magic, option, length = struct.unpack(">QII", _recv(conn, 16))
            if magic != IHAVEOPT:
                raise ValueError(f"bad option magic 0x{magic:x}")
            _recv(conn, length)
            if option == OPT_EXPORT_NAME:
                tail = b"" if client_flags & FLAG_NO_ZEROES else bytes(124)
                conn.sendall(struct.pack(">QH", self.size, HAS_FLAGS | SEND_FLUSH) + tail)
                return True
            if option in (OPT_GO, OPT_INFO):
                info = struct.pack(">HQH", 0, self.size, HAS_FLAGS | SEND_FLUSH)
                conn.sendall(struct.pack(">QIII", OPT_REPLY, option, REP_INFO, len(info)) + info)
                conn.sendall(struct.pack(">QIII", OPT_REPLY, option, REP_ACK, 0))
                if option == OPT_GO:
                    return True
            elif option == OPT_ABORT:
                conn.sendall(struct.pack(">QIII", OPT_REPLY, option, REP_ACK, 0))
                return False
            else:
                conn.sendall(struct.pack(">QIII", OPT_REPLY, option, REP_ERR_UNSUP, 0))

    def _transmit(self, conn: socket.socket) -> None:
        """Read commands on this thread; a second one executes each batch in a fixed order."""
        arrived: queue.Queue[tuple[int, int, int, int, bytes] | None] = queue.Queue()
        worker = threading.Thread(target=self._execute_batches, args=(conn, arrived), daemon=True)
        worker.start()
        try:
            while True:
                magic, _flags, kind, handle, offset, length = struct.unpack(">IHHQQI", _recv(conn, 28))
                if magic != REQUEST:
                    raise ValueError(f"bad request magic 0x{magic:x}")
                if kind == CMD_DISC:
                    return
                data = _recv(conn, length) if kind == CMD_WRITE else b""
                arrived.put((kind, handle, offset, length, data))
        finally:
            arrived.put(None)
            worker.join(self.timeout)

    def _execute_batches(self, conn: socket.socket, arrived: queue.Queue) -> None:  # type: ignore[type-arg]
        """Execute commands a batch at a time: those that arrived until QUIET seconds passed
        without another, in the order of (sector, command) -- not in the order QEMU's
        coroutines happened to send them, which varies from run to run."""
        while True:
            first = arrived.get()
            if first is None:
                return
            batch = [first]
            while True:
                try:
                    item = arrived.get(timeout=QUIET)
                except queue.Empty:
                    break
                if item is None:
                    return
                batch.append(item)
            for item in sorted(batch, key=lambda c: (c[2], c[0], c[3], c[4])):
                with self.lock:
                    if self.hold and item[0] in (CMD_WRITE, CMD_READ):
                        self.held.append((conn, item))
                        continue
                self._answer(conn, item)

    def _answer(self, conn: socket.socket, item: tuple[int, int, int, int, bytes]) -> None:
        kind, handle, offset, length, data = item
        error, payload = self._execute(kind, offset, length, data)
        with contextlib.suppress(OSError):
            conn.sendall(struct.pack(">IIQ", REPLY, error, handle) + payload)

    # ----------------------------------------------------------------- steering (replay)

    def release(self, kind: int, sector: int, timeout: float) -> None:
        """Execute the held WRITE or READ of ``sector`` (waiting for it to arrive) and answer it."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                found = next((h for h in self.held if h[1][0] == kind and h[1][2] == sector * SECTOR), None)
                if found is not None:
                    self.held.remove(found)
            if found is not None:
                self._answer(*found)
                return
            if time.monotonic() > deadline:
                raise QemuError(f"no {'write' if kind == CMD_WRITE else 'read'} of sector {sector} "
                                f"reached storage within {timeout:.1f} s")
            time.sleep(0.002)

    def release_all(self) -> None:
        """Stop holding commands; execute and answer every held one."""
        with self.lock:
            self.hold = False
            held, self.held = self.held, []
        for conn, item in held:
            self._answer(conn, item)

    def writeback(self, sector: int) -> None:
        """Write one cached sector to the image on the host's own account (eviction)."""
        with self.lock:
            data = self.cache.pop(sector, None)
            if data is None:
                return
            with open(self.image, "r+b") as f:
                f.seek(sector * SECTOR)
                f.write(data)

    def _execute(self, kind: int, offset: int, length: int, data: bytes) -> tuple[int, bytes]:
        """One command against the cache and the image: ``(errno, data to send back)``."""
        aligned = offset % SECTOR == 0 and length % SECTOR == 0 and offset + length <= self.size
        with self.lock:
            if kind == CMD_WRITE and aligned:
                for i in range(length // SECTOR):
                    self.cache[offset // SECTOR + i] = data[i * SECTOR:(i + 1) * SECTOR]
                return 0, b""
            if kind == CMD_READ and aligned:
                with open(self.image, "rb") as f:
                    f.seek(offset)
                    out = bytearray(f.read(length))
                for i in range(length // SECTOR):
                    cached = self.cache.get(offset // SECTOR + i)
                    if cached is not None:
                        out[i * SECTOR:(i + 1) * SECTOR] = cached
                return 0, bytes(out)
            if kind == CMD_FLUSH:
                if self.cache:
                    with open(self.image, "r+b") as f:
                        for sector in sorted(self.cache):
                            f.seek(sector * SECTOR)
                            f.write(self.cache[sector])
                    self.flushed.append(tuple(sorted(self.cache)))
                    self.cache = {}
                return 0, b""
        self.errors.append(f"unsupported command {kind} at {offset}+{length}")
        return EINVAL, bytes(length) if kind == CMD_READ else b""


def _recv(conn: socket.socket, length: int) -> bytes:
    data = b""
    while len(data) < length:
        chunk = conn.recv(length - len(data))
        if not chunk:
            raise ConnectionError("NBD client closed the connection")
        data += chunk
    return data
