"""Errors of the conformance harness: QEMU missing, misbehaving or too slow."""

from __future__ import annotations

from ..errors import ModelcheckError


class QemuError(ModelcheckError):
    """QEMU did not do what the harness asked (a timeout, a FAIL reply, an early exit).

    ``kept`` names the directory holding QEMU's stderr and trace log, when they were kept.
    Exit code 3: the run is inconclusive, not a verdict on any profile.
    """

    exit_code = 3

    def __init__(self, message: str, kept: str | None = None):
        self.message = message
        self.kept = kept
        super().__init__(message + (f" (QEMU's stderr and trace log kept in {kept})" if kept else ""))


class QemuUnavailable(QemuError):
    """qemu-system-x86_64 or qemu-img is not installed."""
