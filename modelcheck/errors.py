"""Errors a user can cause, each naming the place and the fix."""

from __future__ import annotations

import inspect
from dataclasses import dataclass


class ModelcheckError(Exception):
    """Base of every error modelcheck raises on purpose (exit code 2 unless said otherwise)."""

    exit_code = 2


class UsageError(ModelcheckError):
    """A command-line mistake: unknown parameter, bad value, misspelt property."""


class SpecError(ModelcheckError):
    """A mistake in a spec, reported as ``path:line: Class.method: what is wrong; fix``."""

    def __init__(self, message: str, *, where: Where | None = None, fix: str | None = None):
        self.message = message
        self.where = where
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        text = self.message
        if self.fix:
            text += f"; fix: {self.fix}"
        if self.where is not None:
            return f"{self.where}: {text}"
        return text


class ResultsError(ModelcheckError):
    """An unreadable, corrupt or foreign results file."""


class EngineBug(ModelcheckError):
    """An engine disagrees with itself (for example a trace that does not replay): exit 3."""

    exit_code = 3


@dataclass(frozen=True)
class Where:
    """A place in a spec: file, line and qualified name (``Class.method``)."""

    path: str
    line: int
    name: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.name}"

    @classmethod
    def of(cls, func: object, owner: str | None = None) -> Where | None:
        """The definition site of a function, or None when Python cannot tell."""
        func = inspect.unwrap(func)  # type: ignore[arg-type]
        try:
            path = inspect.getsourcefile(func) or "<unknown>"  # type: ignore[arg-type]
            lines, line = inspect.getsourcelines(func)  # type: ignore[arg-type]
        except (OSError, TypeError):
            return None
        # point at the `def` line, not at the decorators above it
        for offset, text in enumerate(lines):
            if text.lstrip().startswith(("def ", "async def ")):
                line += offset
                break
        qualname = getattr(func, "__qualname__", repr(func))
        if owner is not None:
            qualname = f"{owner}.{qualname.rsplit('.', 1)[-1]}"
        return cls(path, line, qualname)
