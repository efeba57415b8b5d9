"""Shared helpers: paths of the fixture specs and the virtio-blk spec."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
VIRTIO = str(ROOT / "specs" / "virtio_blk.py")


@pytest.fixture
def virtio_path() -> str:
    return VIRTIO


@pytest.fixture(autouse=True, scope="session")
def _code_cache_in_a_temporary_directory(tmp_path_factory: pytest.TempPathFactory):
    """The compiled mode's disk cache (modelcheck.codecache) goes to a temporary directory, never
    the user's home; worker and CLI processes inherit it through the environment."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELCHECK_CACHE_DIR", str(tmp_path_factory.mktemp("codecache")))
        yield
