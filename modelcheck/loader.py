"""Finding a spec: import a spec file by path and pick its Spec class; parsing command-line values."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
from pathlib import Path
from typing import Any

from .errors import SpecError, UsageError
from .spec import Spec


def load_spec_class(ref: str) -> type[Spec]:
    """The Spec class named by ``path/to/spec.py`` or ``path/to/spec.py:ClassName``.

    A file with one Spec class needs no class name. Import errors in the spec file come
    back as SpecError with the file and line.
    """
    path_text, _, class_name = ref.partition(":")
    path = Path(path_text)
    if not path.is_file():
        raise UsageError(f"{path_text}: no such spec file (give the path of a .py file, e.g. specs/virtio_blk.py)")
    module = import_file(path)
    candidates = {
        name: obj for name, obj in vars(module).items()
        if isinstance(obj, type) and issubclass(obj, Spec) and obj is not Spec
        and obj.__module__ == module.__name__
    }
    if class_name:
        if class_name not in candidates:
            raise UsageError(f"{path_text}: no Spec class {class_name!r}; found: {', '.join(candidates) or 'none'}")
        return candidates[class_name]
    primary = getattr(module, "SPEC", None)
    if isinstance(primary, type) and issubclass(primary, Spec):
        return primary
    if len(candidates) != 1:
        raise UsageError(
            f"{path_text}: {len(candidates)} Spec classes ({', '.join(candidates) or 'none'}); "
            "name one as FILE:Class, or set SPEC = Class in the file"
        )
    return next(iter(candidates.values()))


def import_file(path: Path, what: str = "spec") -> Any:
    """The module of a Python file named by path (imported once); SpecError naming the file and line."""
    resolved = path.resolve()
    digest = hashlib.blake2b(str(resolved).encode(), digest_size=4).hexdigest()
    name = f"modelcheck_{what}_{path.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    module_spec = importlib.util.spec_from_file_location(name, resolved)
    if module_spec is None or module_spec.loader is None:
        raise UsageError(f"{path}: cannot be imported as a Python module (is it a .py file?)")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except SyntaxError as err:
        del sys.modules[name]
        raise SpecError(f"{path}:{err.lineno}: syntax error: {err.msg}") from None
    except Exception as err:
        del sys.modules[name]
        frames = [f for f in traceback.extract_tb(err.__traceback__) if Path(f.filename).resolve() == resolved]
        line = frames[-1].lineno if frames else 0
        raise SpecError(f"{path}:{line}: importing the {what} failed: {type(err).__name__}: {err}") from None
    return module


def parse_settings(items: list[str]) -> dict[str, str]:
    """``["qdepth=2", "guest=drain"]`` as a dict; UsageError on an item without ``=``."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--set {item!r}: expected NAME=VALUE, e.g. --set qdepth=2")
        out[name.strip()] = value.strip()
    return out


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    return _whole_number(text, 1, "is not positive")


def non_negative_int(text: str) -> int:
    """An argparse type: a whole number of at least 0 (0 where the option says it means none)."""
    return _whole_number(text, 0, "is negative")


def _whole_number(text: str, least: int, below: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"{value} {below}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a number of seconds greater than 0."""
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value


def cap_to_cores(value: int | None, flag: str) -> tuple[int | None, str]:
    """``value`` capped at this machine's core count, and a note saying so when it was capped ('' otherwise).

    More processes than cores only adds forks and copies: the search takes longer, never less.
    """
    import os

    cores = os.cpu_count() or 1
    if value is None or value <= cores:
        return value, ""
    return cores, f"note: {flag} {value} is more than this machine's {cores} cores; using {cores}"

