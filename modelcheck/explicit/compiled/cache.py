"""The compiled mode's disk cache: generated successor code kept per configuration, keyed by everything it depends on.

Generating the code (:func:`modelcheck.explicit.compiled.expander.compile_source`) runs the spec symbolically
and costs seconds; reading it back costs milliseconds. An entry is one file ``<key>.py``
whose key is a sha256 over the cache format, the Python and z3 versions, the text of every
module of the installed ``modelcheck`` package, the source files of the spec's classes, the
configuration (class and every parameter), the property names in order, ``use_hints`` and
the path limit. Changing any of them changes the key, so an entry is never stale; old
entries are simply never read again.

The directory is ``$MODELCHECK_CACHE_DIR`` (``off``, ``0`` or empty turns the cache off),
else ``$XDG_CACHE_HOME/modelcheck``, else ``~/.cache/modelcheck``. It holds at most
``$MODELCHECK_CACHE_MB`` megabytes (default 512) of entries, these and the native search's
libraries and their search's objects (``native-<sha256>.so``, ``native-<sha256>.o``,
:mod:`modelcheck.explicit.native.driver`): after each write the least
recently used are deleted (a hit touches its file), never the one just written, and no
other file. The cache never makes a
search fail and never prints: a directory that cannot be created or written means no cache,
and an entry that cannot be read, decoded or verified (its header carries the source's own
sha256) counts as absent and is written again. Entries are written atomically
(:func:`modelcheck.atomic.write_text`), so concurrent runs at worst write the same text twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import z3

from ...atomic import write_text
from ...spec import Compiled, Property

FORMAT = 1  # bump when the entry layout or the meaning of the key changes
MAGIC = f"# modelcheck compiled successor code, cache format {FORMAT}"
HEADER_LINES = 6  # MAGIC, key, spec, properties, plain, sha256; then the source itself
ENV = "MODELCHECK_CACHE_DIR"
SIZE_ENV = "MODELCHECK_CACHE_MB"
DEFAULT_MB = 512
ENTRY_NAME = re.compile(r"(?:[0-9a-f]{64}\.py|native-[0-9a-f]{64}\.(?:so|o))\Z")  # what prune may delete
OFF = ("off", "0", "")


def cache_dir() -> Path | None:
    """Where entries live, or ``None`` when the cache is off (or no home directory is known)."""
    chosen = os.environ.get(ENV)
    if chosen is not None:
        return None if chosen.strip().lower() in OFF else Path(chosen).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):  # the XDG spec says to ignore a relative path
        return Path(xdg) / "modelcheck"
    try:
        return Path.home() / ".cache" / "modelcheck"
    except RuntimeError:
        return None


@dataclass
class Entry:
    """One configuration's place in the cache: what it holds (``source`` is ``None`` on a miss)
    and how to fill it."""

    path: Path
    key: str
    title: str
    properties: tuple[str, ...]
    source: str | None = None
    plain: dict[str, str] | None = None

    def store(self, source: str, plain: dict[str, str]) -> bool:
        """Write ``source`` (and the actions left to plain code) as this entry; ``False`` when it
        could not be written, which is not an error."""
        header = [MAGIC, f"# key {self.key}", f"# spec {json.dumps(self.title)}",
                  f"# properties {json.dumps(list(self.properties))}",
                  f"# plain {json.dumps(plain, sort_keys=True)}", f"# sha256 {_digest(source)}"]
        try:
            write_text(self.path, "\n".join(header) + "\n" + source)
        except Exception:
            return False
        self.source, self.plain = source, dict(plain)
        prune(self.path.parent, keep=self.path)
        return True


def lookup(compiled: Compiled, properties: Iterable[Property], *, use_hints: bool,
           path_limit: int) -> Entry | None:
    """This configuration's entry, read if present and intact; ``None`` when the cache is off
    or the configuration cannot be keyed (its spec's source cannot be read)."""
    directory = cache_dir()
    if directory is None:
        return None
    names = tuple(p.name for p in properties)
    key = cache_key(compiled, names, use_hints=use_hints, path_limit=path_limit)
    if key is None:
        return None
    entry = Entry(directory / f"{key}.py", key, compiled.spec.describe(), names)
    found = read(entry.path, key)
    if found is not None:
        entry.source, entry.plain = found
        touch(entry.path)
    return entry


def limit_bytes() -> int:
    """The cache's size bound: ``$MODELCHECK_CACHE_MB`` megabytes (default 512; a value that is
    not a positive number means the default)."""
    try:
        mb = float(os.environ.get(SIZE_ENV, DEFAULT_MB))
    except ValueError:
        mb = DEFAULT_MB
    return int((mb if mb > 0 else DEFAULT_MB) * 2**20)


def touch(path: Path) -> None:
    """Mark an entry as just used (its mtime orders eviction); never fails."""
    with contextlib.suppress(OSError):
        os.utime(path)


def prune(directory: Path, keep: Path | None = None, limit: int | None = None) -> list[Path]:
    """Delete the least recently used entries of ``directory`` (by mtime, oldest first) until
    what is left holds at most ``limit`` bytes (default :func:`limit_bytes`); ``keep`` and
    files that are not entries are never deleted. Returns what was deleted; never fails."""
    limit = limit_bytes() if limit is None else limit
    try:
        found = []
        for f in directory.iterdir():
            if ENTRY_NAME.match(f.name) and f != keep:
                st = f.stat()
                found.append((st.st_mtime, f.name, st.st_size, f))
        total = sum(size for _, _, size, _ in found) + (keep.stat().st_size if keep and keep.exists() else 0)
    except OSError:
        return []
    deleted = []
    for _, _, size, f in sorted(found):
        if total <= limit:
            break
        try:
            f.unlink()
        except OSError:
            continue
        total -= size
        deleted.append(f)
    return deleted


def read(path: Path, key: str) -> tuple[str, dict[str, str]] | None:
    """The source and plain-action reasons stored at ``path`` under ``key``, or ``None`` when the
    file is missing, unreadable, not UTF-8, for another key, or not what was written."""
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    parts = text.split("\n", HEADER_LINES)
    if len(parts) != HEADER_LINES + 1 or parts[0] != MAGIC or parts[1] != f"# key {key}":
        return None
    *_, plain_line, digest_line, source = parts
    if not plain_line.startswith("# plain ") or digest_line != f"# sha256 {_digest(source)}":
        return None
    try:
        plain = json.loads(plain_line.removeprefix("# plain "))
    except ValueError:
        return None
    if not isinstance(plain, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in plain.items()):
        return None
    return source, plain


def cache_key(compiled: Compiled, property_names: Iterable[str], *, use_hints: bool,
              path_limit: int) -> str | None:
    """The sha256 (hex) naming one configuration's entry, or ``None`` when the spec's source
    cannot be read (or its class is built inside a function, where closures may hold what
    neither the source nor the parameters show)."""
    spec_files = _spec_sources(type(compiled.spec))
    package = _package_sources()
    if spec_files is None or package is None:
        return None
    h = hashlib.sha256()
    _feed(h, "format", str(FORMAT).encode())
    _feed(h, "python", sys.version.encode())
    _feed(h, "z3", z3.get_full_version().encode())
    for rel, data in package:
        _feed(h, "package file", rel.encode())
        _feed(h, "package text", data)
    for data in spec_files:
        _feed(h, "spec text", data)
    _feed(h, "configuration", compiled.spec.describe().encode())
    _feed(h, "parameters", repr(sorted((k, repr(v)) for k, v in compiled.spec.params.items())).encode())
    _feed(h, "properties", json.dumps(list(property_names)).encode())
    _feed(h, "use_hints", repr(bool(use_hints)).encode())
    _feed(h, "path_limit", repr(path_limit).encode())
    return h.hexdigest()


def _package_sources() -> list[tuple[str, bytes]] | None:
    """(relative path, text) of every ``.py`` file of the installed package, sorted by path."""
    root = Path(__file__).resolve().parent
    try:
        files = sorted((p.relative_to(root).as_posix(), p) for p in root.rglob("*.py"))
        return [(rel, p.read_bytes()) for rel, p in files]
    except OSError:
        return None


def _spec_sources(cls: type) -> list[bytes] | None:
    """The text of the source file of the spec's class and of each base class outside this
    package (a variant's base may live in another file), in method resolution order."""
    root = Path(__file__).resolve().parent
    seen: list[str] = []
    out: list[bytes] = []
    for klass in cls.__mro__:
        if klass.__module__ == "builtins":
            continue
        if "<locals>" in klass.__qualname__:
            return None
        try:
            name = inspect.getsourcefile(klass)
            if name is None:
                return None
            path = Path(name).resolve()
            if path.is_relative_to(root) or str(path) in seen:
                continue
            seen.append(str(path))
            out.append(path.read_bytes())
        except (OSError, TypeError):
            return None
    return out if out else None


def _feed(h: Any, label: str, data: bytes) -> None:
    """Add one labelled, length-prefixed item, so that no two different inputs hash alike."""
    h.update(f"{label}:{len(data)}:".encode())
    h.update(data)


def _digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()
