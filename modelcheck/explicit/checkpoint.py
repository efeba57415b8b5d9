"""Checkpoints of the partitioned search: what each rank keeps, level by level, and the manifest.

After each completed level every rank writes what the search needs to go on: the new
states' fingerprints, parent fingerprints and instances of that level (``links-rR-L.npz``,
append-only: together they are the rank's fingerprint set and parent links) and its frontier
with its counters (``state-rR-L.npz``, only the last one is kept). Then rank 0 writes
``manifest.json``: the configuration, the spec source's sha256, the rank count, the
modelcheck version, what the ranks agreed on (states per level, evidence) and the sha256 of
every file it names. Every file is written under a temporary name and renamed
(:mod:`modelcheck.atomic`); the manifest is renamed last and the frontier it replaces is
deleted only after, so a run killed at any point (SIGKILL, SIGTERM, Ctrl-C) leaves the
previous checkpoint whole. A checkpoint that does not match the run resuming it (another
spec or configuration, another rank count, a damaged or missing file) is refused with
:class:`CheckpointError` (exit 2), never used.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import umask_mode, write_text
from ..errors import UsageError

FORMAT = 1
MANIFEST = "manifest.json"


class CheckpointError(UsageError):
    """A checkpoint that cannot be used for this run (the message says why and what to do)."""


@dataclass
class Manifest:
    """What a checkpoint directory holds (``manifest.json``)."""

    identity: dict[str, Any]  # what must match: spec, configuration, properties, ranks, version, fingerprints
    level: int = 0  # the depth of the frontier kept: every state up to it is stored
    states: list[int] = field(default_factory=list)  # new states per level, over all ranks
    evidence: dict[str, Any] = field(default_factory=dict)
    cut: dict[str, Any] = field(default_factory=dict)  # hit_depth_bound, hit_memory_bound
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256
    format: int = FORMAT


def links_name(rank: int, level: int) -> str:
    return f"links-r{rank}-{level}.npz"


def state_name(rank: int, level: int) -> str:
    return f"state-r{rank}-{level}.npz"


def write_arrays(directory: Path, name: str, arrays: dict[str, np.ndarray]) -> str:
    """Write ``arrays`` as ``directory/name`` atomically; the file's sha256."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    data = buf.getbuffer()
    digest = hashlib.sha256(data).hexdigest()
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, umask_mode())
        os.replace(tmp, directory / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest


def read_arrays(directory: Path, name: str, sha256: str | None) -> dict[str, np.ndarray]:
    """The arrays of ``directory/name``, refused unless its sha256 is the manifest's."""
    path = directory / name
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CheckpointError(f"{path}: cannot read a file the checkpoint names ({err.strerror}); "
                              "the checkpoint is incomplete: start again without --resume") from None
    if sha256 is None or hashlib.sha256(data).hexdigest() != sha256:
        raise CheckpointError(f"{path}: damaged (its sha256 is not the one {MANIFEST} records); "
                              "the checkpoint cannot be used: start again without --resume")
    with np.load(io.BytesIO(data)) as loaded:
        return {k: loaded[k] for k in loaded.files}


def write_manifest(directory: Path, manifest: Manifest) -> None:
    write_text(directory / MANIFEST, json.dumps(asdict(manifest), indent=1, sort_keys=True) + "\n")


def read_manifest(directory: Path) -> Manifest:
    """The manifest of a checkpoint directory (CheckpointError when absent, unreadable or foreign)."""
    path = directory / MANIFEST
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint here (no {MANIFEST}); check the directory given to --resume")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        manifest = Manifest(**data)
    except (OSError, ValueError, TypeError) as err:
        raise CheckpointError(f"{path}: not a readable checkpoint manifest ({err}); "
                              "start again without --resume") from None
    if manifest.format != FORMAT:
        raise CheckpointError(f"{path}: checkpoint format {manifest.format}, this modelcheck reads {FORMAT}")
    return manifest


def refuse_mismatch(directory: Path, manifest: Manifest, identity: dict[str, Any]) -> None:
    """CheckpointError naming the first field in which ``manifest`` is not this run's."""
    for key, want in identity.items():
        have = manifest.identity.get(key)
        if have != want:
            raise CheckpointError(f"{directory / MANIFEST}: the checkpoint was written for {key} {have!r}, "
                                  f"this run has {want!r}; resume it with the same spec, settings, properties "
                                  "and rank count, or start again without --resume")


def prepare(directory: Path, resuming: bool) -> None:
    """Check that ``directory`` can take a new checkpoint: created if absent; one that already holds
    a checkpoint is never overwritten by a run that does not resume it."""
    if directory.exists() and not directory.is_dir():
        raise CheckpointError(f"{directory}: not a directory; give --checkpoint a directory")
    if not resuming and (directory / MANIFEST).exists():
        raise CheckpointError(f"{directory}: already holds a checkpoint; continue it with --resume {directory}, "
                              "or give --checkpoint an empty directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CheckpointError(f"{directory}: cannot create the checkpoint directory ({err.strerror})") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise CheckpointError(f"{directory}: cannot write there (permission denied); choose another directory")


def spec_sha256(spec: Any) -> str:
    """The sha256 of the file that defines the spec's class (its source, as the cache keys it)."""
    import inspect

    try:
        path = inspect.getsourcefile(type(spec))
        return hashlib.sha256(Path(path).read_bytes()).hexdigest() if path else ""
    except (OSError, TypeError):
        return ""
