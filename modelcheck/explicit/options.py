"""What a caller asks of one explicit search (bounds, switches) and what it hears while it runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """A snapshot handed to the progress callback while a search runs."""

    states: int
    frontier: int
    depth: int
    transitions: int
    seconds: float


@dataclass
class SearchOptions:
    """Bounds and switches of one search.

    ``max_states`` and ``max_depth`` cut the search (verdicts then say "up to bound");
    ``keep_edges`` records every transition, for the reachability graph (default: yes in
    the full store, which is for runs small enough to draw; the compact store keeps none);
    ``validate`` checks each new state's fields against their declared types;
    ``use_hints`` fires only the arguments an action's ``hint`` names (same states, same
    order, fewer calls) and ``check_hints`` verifies that no other argument is enabled;
    ``workers`` expands each level on that many processes (same result);
    ``memory`` is the search's memory budget in bytes of resident memory (0, the default:
    half of the machine's memory divided among the workers; ``None``: none): reaching it
    ends the search as a state bound does, and says so (:mod:`modelcheck.explicit.memory`),
    except in the native search, which first moves its streamed arrays (frontier levels,
    parents, steps) to files in ``spill_dir`` and goes on, slower, stopping only when its
    fingerprint set would not fit;
    ``time_limit`` (seconds, counted from the search's start) ends the search as a bound at
    the first level boundary past it: the states stored are still judged, no new one is
    admitted, and the verdicts say "up to bound (time limit … reached …)";
    ``store`` is ``full`` (every state kept: graphs, conformance) or ``compact`` (64-bit
    fingerprints only, for large runs), ``None`` for the plan's choice; ``backend`` is
    ``interpreted`` (the library's default), ``compiled``, ``native`` or ``auto`` (the
    command line's default: the fastest sound search, see :mod:`modelcheck.explicit.plan`);
    ``symmetry`` and ``por`` turn on the reductions of :mod:`modelcheck.explicit.reductions.hooks`;
    ``compiled`` runs the generated successor function of :mod:`modelcheck.explicit.compiled.expander`
    over flat int tuples (same states, order and verdicts; when
    the spec cannot be compiled the search runs plain and ``Exploration.fallback`` says why);
    ``native`` runs the compiled mode's code and the compact-store search as C
    (:mod:`modelcheck.explicit.native.driver`: same states, ids, verdicts and traces; one process; when it
    cannot run, the compiled Python search runs and ``Exploration.native_fallback`` says why);
    ``threads`` is how many threads the native search expands a level on (same result):
    ``None`` for ``workers`` when more than one, else every core this process may run on.
    ``distributed`` runs the partitioned search on the MPI ranks this process is one of, and
    ``checkpoint`` / ``resume`` name a directory where it keeps each completed level / whence it
    continues (:mod:`modelcheck.explicit.distributed`; in one process without ``distributed``).
    """

    max_states: int | None = None
    max_depth: int | None = None
    keep_edges: bool | None = None
    validate: bool = True
    use_hints: bool = True
    check_hints: bool = False
    workers: int = 1
    memory: int | None = 0  # bytes of resident memory this search may use; 0: the default share, None: no budget
    time_limit: float | None = None  # seconds from the start after which no new state is admitted (a bound)
    spill_dir: str | None = None  # where the native search spills under its budget (None: the system's temp dir)
    store: str | None = None
    backend: str = "interpreted"
    symmetry: bool = False
    por: bool = False
    compiled: bool = False
    native: bool = False
    threads: int | None = None
    distributed: bool = False
    checkpoint: str | None = None
    resume: str | None = None
    on_progress: Callable[[Progress], None] | None = None
