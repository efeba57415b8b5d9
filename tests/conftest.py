"""Shared helpers: paths of the fixture specs and the virtio-blk spec."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
VIRTIO = str(ROOT / "specs" / "virtio_blk.py")


@pytest.fixture
def virtio_path() -> str:
    return VIRTIO
