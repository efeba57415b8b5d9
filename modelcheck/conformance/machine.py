"""One QEMU process with a virtio-blk disk, driven through qtest and QMP on unix sockets.

The machine halts its CPU at the reset vector (a 64 KiB BIOS of ``hlt``), so nothing but the
harness touches the device. Every wait has a deadline; the process is always reaped (quit,
then kill); when anything fails, QEMU's stderr and trace log are copied to a kept directory
that the raised QemuError names.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from .errors import QemuError, QemuUnavailable
from .qmp import Qmp
from .qtest import Qtest

QEMU = "qemu-system-x86_64"
SECTOR = 512
TRACE_EVENTS = ("virtio_blk_*", "blk_co_pwritev")


def qemu_binary() -> str:
    """The path of qemu-system-x86_64 (QemuUnavailable when it is not installed)."""
    path = shutil.which(QEMU)
    if path is None:
        raise QemuUnavailable(f"{QEMU} is not installed (apt-get install qemu-system-x86 qemu-utils)")
    return path


def halting_bios() -> bytes:
    """A 64 KiB BIOS whose reset vector is ``cli; hlt; jmp $-1`` and everything else ``hlt``."""
    image = bytearray(b"\xf4" * 0x10000)
    image[0xFFF0:0xFFF4] = b"\xfa\xf4\xeb\xfd"
    return bytes(image)


@dataclass(frozen=True)
class ErrorRule:
    """One blkdebug rule: fail the first write (or read) touching ``sector``, or the next flush, once;
    with ``persistent`` every one (no ``once``: a flush error that never goes away)."""

    sector: int | None = None
    errno: int = 28
    flush: bool = False
    read: bool = False
    persistent: bool = False

    def render(self) -> str:
        lines = ["[inject-error]"]
        if self.flush:
            lines += ['event = "flush_to_os"', 'iotype = "flush"']
        elif self.read:
            lines += ['event = "read_aio"', 'iotype = "read"']
        else:
            lines += ['event = "pwritev"', 'iotype = "write"']
        lines.append(f'errno = "{self.errno}"')
        if not self.persistent:
            lines.append('once = "on"')
        if self.sector is not None:
            lines.append(f'sector = "{self.sector}"')
        return "\n".join(lines) + "\n"


def rules_text(rules: list[ErrorRule]) -> str:
    """A blkdebug config file holding ``rules``."""
    return "\n".join(rule.render() for rule in rules)


def make_image(path: Path, sectors: int) -> None:
    """A raw image of ``sectors`` zeroed sectors (a plain sparse file is a raw image)."""
    with open(path, "wb") as f:
        f.truncate(sectors * SECTOR)


def command_line(workdir: Path, image: Path, rules: Path | None, name: str, *,
                 werror: str = "stop", rerror: str = "stop", incoming: bool = False,
                 nbd: Path | None = None, queues: int = 1) -> list[str]:
    """The QEMU command line: halted pc machine, qtest + QMP sockets, traced virtio-blk disk.

    With ``nbd`` the disk is the NBD export on that unix socket (a logging qemu-nbd over
    ``image``) instead of the image file itself.
    """
    cmd = [qemu_binary(), "-machine", "pc", "-accel", "tcg", "-bios", str(workdir / "halt.bin"),
           "-m", "64M", "-display", "none", "-nodefaults", "-no-user-config",
           "-qtest", f"unix:{workdir / (name + '.qtest')}", "-qtest-log", "/dev/null",
           "-qmp", f"unix:{workdir / (name + '.qmp')},server=on,wait=off",
           "-D", str(workdir / (name + ".trace"))]
    for event in TRACE_EVENTS:
        cmd += ["-trace", f"enable={event}"]
    if nbd is not None:
        cmd += ["-blockdev", f"driver=nbd,server.type=unix,server.path={nbd},node-name=f0"]
    else:
        cmd += ["-blockdev", f"driver=file,filename={image},node-name=f0"]
    if rules is not None:
        cmd += ["-blockdev", f"driver=blkdebug,config={rules},image=f0,node-name=dbg",
                "-blockdev", "driver=raw,file=dbg,node-name=d0"]
    else:
        cmd += ["-blockdev", "driver=raw,file=f0,node-name=d0"]
    cmd += ["-device", f"virtio-blk-pci,drive=d0,werror={werror},rerror={rerror},request-merging=off,"
            f"num-queues={queues}"]
    if incoming:
        cmd += ["-incoming", "defer"]
    return cmd


class Machine:
    """A running QEMU: ``with Machine(...) as m: m.qtest..., m.qmp...``.

    ``name`` distinguishes the source and destination of a migration inside one work
    directory. ``keep`` is where stderr and the trace log go when the block fails.
    """

    def __init__(self, workdir: Path, image: Path, *, rules: list[ErrorRule] | None = None,
                 name: str = "src", incoming: bool = False, werror: str = "stop",
                 rerror: str = "stop", timeout: float = 5.0, keep: Path | None = None,
                 nbd: Path | None = None, queues: int = 1):
        self.workdir = workdir
        self.name = name
        self.timeout = timeout
        self.keep = keep
        bios = workdir / "halt.bin"
        if not bios.exists():
            bios.write_bytes(halting_bios())
        rules_path = None
        if rules:
            rules_path = workdir / f"{name}.rules"
            rules_path.write_text(rules_text(rules))
        self.cmd = command_line(workdir, image, rules_path, name, werror=werror, rerror=rerror,
                                incoming=incoming, nbd=nbd, queues=queues)
        self.stderr_path = workdir / f"{name}.stderr"
        self.trace_path = workdir / f"{name}.trace"
        self.proc: subprocess.Popen[bytes] | None = None
        self.qtest: Qtest
        self.qmp: Qmp

    def __enter__(self) -> Machine:
        try:
            self._start()
        except BaseException as err:
            self._reap()
            kept = self._kept(err)
            if kept is err:
                raise
            raise kept from err
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None:
        if err is None:
            self._quit()
            return
        self._reap()
        if isinstance(err, QemuError) and err.kept is not None:
            return
        kept = self._keep_files()
        if isinstance(err, QemuError):
            err.kept = kept
            err.args = (f"{err.message} (QEMU's stderr and trace log kept in {kept})",)
        else:
            err.add_note(f"QEMU's stderr and trace log kept in {kept}")

    def _start(self) -> None:
        path = str(self.workdir / (self.name + ".qtest"))
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(1)
        try:
            with open(self.stderr_path, "wb") as err:
                self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL, stderr=err)
            conn = self._accept(listener)
        finally:
            listener.close()
        self.qtest = Qtest(conn, self.timeout)
        self.qmp = Qmp(str(self.workdir / (self.name + ".qmp")), self.timeout)

    def _accept(self, listener: socket.socket) -> socket.socket:
        deadline = time.monotonic() + self.timeout
        listener.settimeout(0.05)
        while True:
            try:
                conn, _ = listener.accept()
                return conn
            except TimeoutError:
                pass
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise QemuError(f"QEMU exited with code {self.proc.returncode} before connecting: "
                                + self.stderr_tail())
            if time.monotonic() > deadline:
                raise QemuError(f"QEMU did not connect to the qtest socket within {self.timeout:.1f} s")

    def stderr_tail(self, limit: int = 600) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-limit:].strip()
        except OSError:
            return ""

    def trace_lines(self) -> list[str]:
        """The trace log so far (QEMU writes it line-buffered)."""
        try:
            return self.trace_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def _quit(self) -> None:
        """Ask QEMU to quit (it flushes its drives), then reap it; kill it when it hangs."""
        with contextlib.suppress(QemuError):
            self.qmp.execute("quit")
        self._reap(grace=self.timeout)

    def _reap(self, grace: float = 0.0) -> None:
        for closer in ("qtest", "qmp"):
            conn = getattr(self, closer, None)
            if conn is not None:
                conn.close()
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=grace if grace else 0.001)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def _keep_files(self) -> str:
        keep = self.keep or Path(tempfile.mkdtemp(prefix="modelcheck-qemu-"))
        keep.mkdir(parents=True, exist_ok=True)
        for path in (self.stderr_path, self.trace_path):
            if path.exists():
                shutil.copy(path, keep / path.name)
        (keep / f"{self.name}.cmdline").write_text(" ".join(self.cmd) + "\n")
        return str(keep)

    def _kept(self, err: BaseException) -> QemuError:
        kept = self._keep_files()
        if isinstance(err, QemuError):
            err.kept = kept
            err.args = (f"{err.message} (QEMU's stderr and trace log kept in {kept})",)
            return err
        return QemuError(f"starting QEMU failed: {type(err).__name__}: {err}", kept=kept)


def read_sectors(image: Path, sectors: list[int]) -> dict[int, bytes]:
    """The bytes of each listed sector of a raw image (after QEMU has quit)."""
    out = {}
    with open(image, "rb") as f:
        for sector in sectors:
            f.seek(sector * SECTOR)
            out[sector] = f.read(SECTOR)
    return out

