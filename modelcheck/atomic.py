"""Writing files so that a reader never sees half of one: temporary file, then rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import UsageError


def check_writable(path: str | Path | None, flag: str) -> None:
    """UsageError now, before any work, when ``path`` could not be written later (None: nothing to check)."""
    if path is None:
        return
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{target}: is a directory; give {flag} a file name")
    problem = unwritable_parent(target, flag)
    if problem:
        raise UsageError(problem)


def unwritable_parent(target: Path, flag: str) -> str | None:
    """Why ``target`` could not be created in its nearest existing ancestor (None: it could)."""
    ancestor = target.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"{target}: {ancestor} is not a directory; choose another {flag}"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"{target}: cannot write in {ancestor} (permission denied); choose another {flag}"
    return None


def umask_mode(mode: int = 0o666) -> int:
    """``mode`` as the user's umask leaves it (what open() would give a new file)."""
    mask = os.umask(0)
    os.umask(mask)
    return mode & ~mask


def write_text(path: str | Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (the old file stays if this fails)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, umask_mode())  # mkstemp makes 0600; the file is the user's, as open() would make it
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
