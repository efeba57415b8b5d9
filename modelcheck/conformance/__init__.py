"""Conformance: hold the spec against the real QEMU virtio-blk device.

Start reading at :mod:`.conform` (which profile the real device matches). Below it:
:mod:`.scenarios` runs steerable experiments on QEMU (through :mod:`.machine`,
:mod:`.storage`, :mod:`.virtio`, :mod:`.qtest`, :mod:`.qmp`, :mod:`.tracelog`),
:mod:`.validate` checks that an observation is a path of the spec's reachability graph,
:mod:`.generate` draws scenarios from a graph and measures the coverage real runs reach,
and :mod:`.replay` plays a spec trace on the device step by step. Only :mod:`.cli` prints.
"""
