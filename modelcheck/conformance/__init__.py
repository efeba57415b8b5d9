"""Conformance: hold the spec against the real QEMU virtio-blk device.

Start reading at :mod:`.conform` (which profile the real device matches). Below it:
:mod:`.scenarios` runs experiments on QEMU (through :mod:`.machine`, :mod:`.virtio`,
:mod:`.qtest`, :mod:`.qmp`, :mod:`.tracelog`) and :mod:`.validate` checks that an
observation is a path of the spec's reachability graph. Only :mod:`.cli` prints.
"""
