"""Shared helpers: paths of the fixture specs and the virtio-blk spec."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
VIRTIO = str(ROOT / "specs" / "virtio_blk.py")

# virtio-blk configurations whose state counts tests pin in every engine mode (SMALL is
# also the benchmark's "small"; see tests/test_reduce.py and tests/test_flatsym.py)
SMALL = {"workload": "W0 W1 F W2 F", "qdepth": 3, "guest": "drain", "profile": "qemu-7.2", "failures": 2,
         "migrations": 1}
NODRAIN = {"workload": "W0 W1 F W2", "qdepth": 3, "guest": "nodrain", "profile": "fifo", "failures": 1,
           "migrations": 1, "order": "any"}
ANY = {"workload": "W0 W1 W2 F", "qdepth": 3, "guest": "nodrain", "profile": "qemu-2010", "failures": 1,
       "migrations": 0}


def no_c_compiler() -> bool:
    """Whether the native search would find no C compiler (modelcheck.explicit.native.driver.compiler decides)."""
    from modelcheck.explicit.native.driver import NativeUnavailable, compiler

    try:
        compiler()
    except NativeUnavailable:
        return True
    return False


@pytest.fixture
def virtio_path() -> str:
    return VIRTIO


@pytest.fixture(autouse=True, scope="session")
def _code_cache_in_a_temporary_directory(tmp_path_factory: pytest.TempPathFactory):
    """The compiled mode's disk cache (modelcheck.explicit.compiled.cache) goes to a temporary directory, never
    the user's home; worker and CLI processes inherit it through the environment."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELCHECK_CACHE_DIR", str(tmp_path_factory.mktemp("codecache")))
        yield
