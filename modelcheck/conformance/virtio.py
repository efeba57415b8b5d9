"""A guest driver for QEMU's legacy virtio-blk PCI device, written through qtest.

It finds the device in PCI configuration space (ports 0xcf8/0xcfc), gives its legacy I/O
BAR an address, negotiates only VIRTIO_BLK_F_FLUSH (so the write cache stays on), lays out
one split virtqueue in guest RAM, and queues write / flush / read requests. The driver
keeps its own ring indices in guest RAM only, so after a migration the same layout drives
the destination: ``Driver.attach`` rebuilds a driver over a migrated machine.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .errors import QemuError
from .qtest import Qtest

VENDOR, DEVICE = 0x1AF4, 0x1001
PCI_ADDR, PCI_DATA = 0xCF8, 0xCFC
IO_BASE = 0xC000
# legacy register offsets in the I/O BAR
HOST_FEATURES, GUEST_FEATURES, QUEUE_PFN, QUEUE_SIZE, QUEUE_SEL, NOTIFY, STATUS = 0, 4, 8, 12, 14, 16, 18
ACKNOWLEDGE, DRIVER, DRIVER_OK = 1, 2, 4
F_FLUSH = 1 << 9
F_MQ = 1 << 12
# request types and descriptor flags
T_IN, T_OUT, T_FLUSH = 0, 1, 4
D_NEXT, D_WRITE = 1, 2
RING = 0x100000          # the virtqueues (page aligned), one every QUEUE_STRIDE bytes
QUEUE_STRIDE = 0x10000
BUFFERS = 0x200000       # request headers, data and status bytes
SLOT = 0x1000            # bytes of buffer space per request
SECTOR = 512
STATUS_NAMES = {0: "ok", 1: "ioerr", 2: "unsupp"}


def config_address(slot: int, reg: int, bus: int = 0, func: int = 0) -> int:
    """The value written to port 0xcf8 to reach ``reg`` of a PCI function."""
    return 0x80000000 | (bus << 16) | (slot << 11) | (func << 8) | (reg & 0xFC)


@dataclass(frozen=True)
class Layout:
    """Where the legacy split virtqueue of ``size`` entries lies (4096-byte alignment)."""

    base: int
    size: int

    @property
    def desc(self) -> int:
        return self.base

    @property
    def avail(self) -> int:
        return self.base + 16 * self.size

    @property
    def used(self) -> int:
        end = self.avail + 6 + 2 * self.size
        return (end + 4095) & ~4095


def sector_data(request: int, sector: int) -> bytes:
    """The 512 bytes a write carries: a text naming its request, so the disk says who wrote it."""
    text = f"modelcheck request {request} sector {sector}\n".encode()
    return (text * (SECTOR // len(text) + 1))[:SECTOR]


def writer_of(data: bytes) -> int | None:
    """The request whose :func:`sector_data` a sector holds, or None (never written)."""
    if not data.strip(b"\0"):
        return None
    words = data.split(b"\n", 1)[0].split()
    if len(words) >= 3 and words[:2] == [b"modelcheck", b"request"]:
        return int(words[2])
    raise QemuError(f"disk sector holds data no request wrote: {data[:40]!r}")


@dataclass(frozen=True)
class Completion:
    """One used-ring entry: which request, with which status, on which queue."""

    request: int
    status: str
    queue: int = 0


class Driver:
    """The guest side of the virtqueues; requests are numbered by the harness (0, 1, ...) and
    request ``r`` goes on queue ``r % len(layouts)``."""

    def __init__(self, qtest: Qtest, io: int, layouts: list[Layout]):
        self.qtest = qtest
        self.io = io
        self.layouts = layouts

    def queue_of(self, request: int) -> int:
        return request % len(self.layouts)

    # ----------------------------------------------------------------- set-up

    @classmethod
    def probe(cls, qtest: Qtest, queues: int = 1) -> Driver:
        """Find the device, map its BAR, reset and negotiate, and set up ``queues`` queues
        (VIRTIO_BLK_F_MQ is negotiated when there is more than one)."""
        slot = find_device(qtest)
        qtest.outl(PCI_ADDR, config_address(slot, 0x10))
        qtest.outl(PCI_DATA, IO_BASE)
        qtest.outl(PCI_ADDR, config_address(slot, 0x04))
        qtest.outw(PCI_DATA, 0x0005)  # I/O space + bus master
        io = IO_BASE
        qtest.outb(io + STATUS, 0)
        qtest.outb(io + STATUS, ACKNOWLEDGE)
        qtest.outb(io + STATUS, ACKNOWLEDGE | DRIVER)
        host = qtest.inl(io + HOST_FEATURES)
        if not host & F_FLUSH:
            raise QemuError(f"virtio-blk offers no FLUSH feature (host features 0x{host:x})")
        if queues > 1 and not host & F_MQ:
            raise QemuError(f"virtio-blk offers no MQ feature (host features 0x{host:x})")
        qtest.outl(io + GUEST_FEATURES, F_FLUSH | (F_MQ if queues > 1 else 0))
        layouts = []
        for index in range(queues):
            qtest.outw(io + QUEUE_SEL, index)
            size = qtest.inw(io + QUEUE_SIZE)
            if size == 0:
                raise QemuError(f"virtio-blk queue {index} has size 0 (is num-queues {queues}?)")
            base = RING + index * QUEUE_STRIDE
            layout = Layout(base, size)
            qtest.write(base, bytes(layout.used + 6 + 8 * size - base))
            qtest.outl(io + QUEUE_PFN, base >> 12)
            layouts.append(layout)
        qtest.outb(io + STATUS, ACKNOWLEDGE | DRIVER | DRIVER_OK)
        return cls(qtest, io, layouts)

    @classmethod
    def attach(cls, qtest: Qtest, queues: int = 1, size: int = 256) -> Driver:
        """A driver over a migrated machine: the queues are already in guest RAM."""
        return cls(qtest, IO_BASE, [Layout(RING + i * QUEUE_STRIDE, size) for i in range(queues)])

    # ----------------------------------------------------------------- requests

    def queue(self, request: int, kind: str, sector: int = 0) -> None:
        """Put request ``request`` (``write``, ``flush`` or ``read``) on the avail ring, no kick."""
        q, lay = self.qtest, self.layouts[self.queue_of(request)]
        header = BUFFERS + request * SLOT
        data = header + 16
        status = header + 16 + SECTOR
        rtype = {"write": T_OUT, "flush": T_FLUSH, "read": T_IN}[kind]
        q.write(header, struct.pack("<IIQ", rtype, 0, sector if kind != "flush" else 0))
        q.write(status, b"\xff")
        first = (request * 3) % lay.size
        chain = [(header, 16, 0)]
        if kind == "write":
            q.write(data, sector_data(request, sector))
            chain.append((data, SECTOR, 0))
        elif kind == "read":
            chain.append((data, SECTOR, D_WRITE))
        chain.append((status, 1, D_WRITE))
        for i, (addr, length, flags) in enumerate(chain):
            last = i == len(chain) - 1
            nxt = (first + i + 1) % lay.size
            q.write(lay.desc + 16 * ((first + i) % lay.size),
                    struct.pack("<QIHH", addr, length, flags | (0 if last else D_NEXT), 0 if last else nxt))
        idx = q.readw(lay.avail + 2)
        q.write(lay.avail + 4 + 2 * (idx % lay.size), struct.pack("<H", first))
        q.write(lay.avail + 2, struct.pack("<H", (idx + 1) & 0xFFFF))

    def kick(self, queues: list[int] | None = None) -> None:
        """Write the notify register for each queue (all by default). Never call it while
        the VM is stopped (QEMU.md)."""
        for index in range(len(self.layouts)) if queues is None else queues:
            self.qtest.outw(self.io + NOTIFY, index)

    def used(self, queue: int | None = None) -> list[Completion]:
        """Every used-ring entry so far, queue by queue (or of one queue), each in ring order."""
        q = self.qtest
        out = []
        for index, lay in enumerate(self.layouts):
            if queue is not None and index != queue:
                continue
            count = q.readw(lay.used + 2)
            for i in range(count):
                head, _length = struct.unpack("<II", q.read(lay.used + 4 + 8 * (i % lay.size), 8))
                request = head // 3
                status = q.read(BUFFERS + request * SLOT + 16 + SECTOR, 1)[0]
                out.append(Completion(request, STATUS_NAMES.get(status, f"status-{status}"), index))
        return out


def find_device(qtest: Qtest) -> int:
    """The PCI slot on bus 0 of the legacy virtio-blk device."""
    for slot in range(32):
        qtest.outl(PCI_ADDR, config_address(slot, 0))
        ident = qtest.inl(PCI_DATA)
        if ident & 0xFFFF == VENDOR and ident >> 16 == DEVICE:
            return slot
    raise QemuError("no legacy virtio-blk device (1af4:1001) on PCI bus 0")
