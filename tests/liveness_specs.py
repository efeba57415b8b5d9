"""virtio-blk with a liveness claim, for the liveness tests of the engines (backends, lasso BMC, outputs).

Kept here, apart from tests/test_liveness.py, so that these tests pin their own claim:
``progress`` as written below (every submitted request observed, or the guest stopped after an
error), whatever the spec itself declares, and a device that strands a parked request.
"""

from __future__ import annotations

from typing import Any

from conftest import VIRTIO

from modelcheck import action, eventually, require
from modelcheck.loader import load_spec_class

VirtioBlk: Any = load_spec_class(VIRTIO)


class WithProgress(VirtioBlk):
    """The spec with the liveness claim ``progress`` (no action declared fair beyond the spec's own)."""

    @eventually
    def progress(self, s):
        """Every submitted request observed, the guest through its workload or stopped after an error."""
        return self.completion(s)


class StrandsWithProgress(WithProgress):
    """``virtio_blk_dma_restart_bh`` runs but never walks ``s->rq``: a parked request is stranded."""

    @action(fair="weak")
    def restart(self, s):
        require(self.running(s))
        require(s.restart_pending)
        return s.replace(restart_pending=False)
