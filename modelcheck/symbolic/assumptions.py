"""Which assumptions a proof needs: a minimal set, found by deleting one assumption at a time.

Assumptions only remove steps, so a proof that holds with a set of assumptions holds with any
larger set. Starting from every active assumption, each one is dropped in turn and the
prover re-run; it stays dropped when the proof still goes through. What remains is minimal:
leaving out any one of its members breaks the proof (the prover then refutes the property,
or cannot decide it, which is recorded as the reason the member stays).

Only a member whose absence the prover *refutes* is "needed": dropping it gives VIOLATED, with
a counterexample. A member whose absence the prover cannot decide (UNKNOWN) stays in the proof
but is reported as undecided, never as needed: the property may well hold without it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass
class Core:
    """The assumptions a proof rests on, and what happened to the proof without each of them."""

    kept: tuple[str, ...]  # the minimal set the proof went through with
    without: dict[str, str] = field(default_factory=dict)  # name → "VIOLATED" / "UNKNOWN" / "PROVED"
    trials: dict[str, tuple[str, ...]] = field(default_factory=dict)  # name → the set tried without it
    proofs: int = 0

    @property
    def needed(self) -> tuple[str, ...]:
        """The kept assumptions without which the property is refuted."""
        return tuple(n for n in self.kept if self.without.get(n) == "VIOLATED")

    @property
    def undecided(self) -> tuple[str, ...]:
        """The kept assumptions without which the prover could not decide."""
        return tuple(n for n in self.kept if self.without.get(n) == "UNKNOWN")


def minimal_core(names: Sequence[str], proves: Callable[[tuple[str, ...]], str]) -> Core:
    """Shrink ``names`` to a minimal subset under which ``proves(subset)`` returns ``"PROVED"``.

    ``proves`` returns the verdict text of one proof attempt with exactly the given
    assumptions applied; ``names`` is assumed to prove already.
    """
    kept = list(names)
    without: dict[str, str] = {}
    trials: dict[str, tuple[str, ...]] = {}
    proofs = 0
    for name in names:
        trial = tuple(n for n in kept if n != name)
        verdict = proves(trial)
        proofs += 1
        without[name] = verdict
        trials[name] = trial
        if verdict == "PROVED":
            kept = list(trial)
    return Core(tuple(kept), without, trials, proofs)
