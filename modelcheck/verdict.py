"""Verdicts and per-property results, shared by every engine."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .trace import Trace


class Verdict(enum.Enum):
    """What an engine concluded about one property of one configuration."""

    PROVED = "PROVED"  # for every execution of any length (z3)
    HOLDS = "HOLDS"  # in every reachable state: the search was exhaustive
    HOLDS_UP_TO_BOUND = "HOLDS up to bound"  # no violation, but a bound cut the search
    VIOLATED = "VIOLATED"  # a counterexample exists (for `sometimes`: no witness anywhere)
    UNKNOWN = "UNKNOWN"  # the engine could not decide (solver unknown, timeout, bound)

    @property
    def conclusive(self) -> bool:
        return self in (Verdict.PROVED, Verdict.HOLDS, Verdict.VIOLATED)


# Exit codes, the same for every command (documented in --help and the README).
EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_USAGE = 2
EXIT_INCONCLUSIVE = 3


def exit_code(verdicts: list[Verdict]) -> int:
    """1 if anything is violated, else 3 if anything is inconclusive, else 0."""
    if any(v is Verdict.VIOLATED for v in verdicts):
        return EXIT_VIOLATION
    if any(not v.conclusive for v in verdicts):
        return EXIT_INCONCLUSIVE
    return EXIT_OK


@dataclass
class PropertyResult:
    """The verdict on one property, with the run's size and the trace that explains it.

    ``trace`` is the shortest counterexample of a violated property, or the shortest
    witness of a `sometimes` property that holds.
    """

    name: str
    kind: str
    verdict: Verdict
    engine: str
    states: int = 0
    transitions: int = 0
    depth: int = 0
    trace: Trace | None = None
    reason: str = ""
    assumptions: tuple[str, ...] = ()
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)
