"""Verdicts and per-property results, shared by every engine."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import exitcodes

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


# Exit codes, the same for every command: the table is modelcheck/exitcodes.py.
EXIT_OK = exitcodes.OK
EXIT_VIOLATION = exitcodes.VIOLATION
EXIT_USAGE = exitcodes.USAGE
EXIT_INCONCLUSIVE = exitcodes.INCONCLUSIVE

WITNESS_WORDS = {"HOLDS": "REACHED", "PROVED": "REACHED", "VIOLATED": "NOT REACHED"}


def verdict_word(kind: str, verdict: str) -> str:
    """How a verdict reads to a person: a `sometimes` witness is REACHED or NOT REACHED, never VIOLATED."""
    return WITNESS_WORDS.get(verdict, verdict) if kind == "sometimes" else verdict


def gating(results: list[PropertyResult], named: list[str]) -> list[Verdict]:
    """The verdicts that decide an exit code: a `sometimes` witness counts only when named with --property.

    Witnesses are evidence that a configuration is not vacuous, and many are unreachable by
    design under some settings; an unreached one is reported (NOT REACHED), not a failure.
    """
    return [r.verdict for r in results if r.kind != "sometimes" or r.name in named]


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
