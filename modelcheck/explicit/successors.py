"""The ``Successors`` protocol: what the search asks of a backend, and the one ``Successor`` type.

A backend gives the initial states, expands one state (judging the properties on it and
its steps) and fingerprints a state. The interpreted
:class:`~modelcheck.explicit.interpreted.Expander`, the compiled
:class:`~modelcheck.explicit.compiled.expander.FlatExpander` and its symmetric wrapper
implement it; the native search is a sibling search the plan runs instead
(:mod:`modelcheck.explicit.native.driver`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .exploration import Exploration

# One step: (instance index, next state — a State or a flat tuple —, indices of the step
# properties it violates). The one successor type of every backend.
Successor = tuple[int, Any, tuple[int, ...]]
# (invariants violated, witnesses reached, at_end properties violated if terminal, terminal, successors)
Expansion = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], bool, list[Successor]]


class Successors(Protocol):
    """A backend's successor function."""

    initial: Sequence[Any]  # the initial states, already canonical under symmetry

    def expand(self, s: Any, successors: bool = True, full: bool = False) -> Expansion:
        """Judge ``s`` and, unless ``successors`` is false (a depth bound), give its steps (all of
        them when ``full``, else those partial-order reduction keeps)."""
        ...

    def fingerprint(self, s: Any) -> int:
        """The compact store's 64-bit fingerprint of ``s``."""
        ...

    def finish(self, ex: Exploration) -> None:
        """Turn what the search stored back into ordinary states (compiled backends store flat ones)."""
        ...
