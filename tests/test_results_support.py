"""Support for the results/ and gate tests (no tests here): tiny matrices and a behaviour-changing spec variant."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VIRTIO = ROOT / "specs" / "virtio_blk.py"

# One quick case where qemu-7.2 restarts two parked writes last-failed first (restart_order
# is violated, barrier too) and one small non-quick case with the seed's counterexample.
MATRIX = """\
spec = "{spec}"

[defaults]
workload = "W0 W1 F"
qdepth = 3
guest = "nodrain"
profile = "qemu-7.2"
evict = "off"
failures = 2
migrations = 0

[[grid]]
name = "restart"
quick = true

[[grid]]
name = "seed"
workload = "W0 F"
qdepth = 2
failures = 1
profile = "qemu-2010"
order = "fifo"
"""

# The same device, except that a failed request is appended to rq: the reachable states
# correspond one to one (only rq's order differs), so only restart_order changes.
VARIANT = """\
import dataclasses

from modelcheck.loader import load_spec_class

Base = load_spec_class({base!r})


class AppendingDevice(Base):
    \"\"\"qemu-7.2, but a failed request is appended to rq instead of pushed to its front.\"\"\"

    def setup(self):
        super().setup()
        self.p = dataclasses.replace(self.p, park="back")


SPEC = AppendingDevice
"""


def write_matrix(directory: Path, *, variant: bool = False) -> Path:
    """A matrix file in ``directory`` over the virtio-blk spec, or over the appending variant."""
    directory.mkdir(parents=True, exist_ok=True)
    spec = VIRTIO
    if variant:
        spec = directory / "appending.py"
        spec.write_text(VARIANT.format(base=str(VIRTIO)), encoding="utf-8")
    path = directory / "matrix.toml"
    path.write_text(MATRIX.format(spec=spec.as_posix()), encoding="utf-8")
    return path


SEED_CASE = "seed~workload=W0_F~qdepth=2~profile=qemu-2010~order=fifo~failures=1"
