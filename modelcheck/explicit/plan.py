"""The search plan: which backend and store one search uses, and why.

The only place that knows which modes combine and which is fastest on this machine. A
search that names no backend (``SearchOptions(backend="auto")``, what ``check``,
``matrix``, ``run`` and ``gate`` ask for) is *tiered*, as a JIT compiler is: it starts with
the interpreted search over the full store, which answers a small configuration before code
could even be generated, and once the space shows it is large (more than :data:`TIER`
states) it starts again with the fastest backend this machine has: the native search where
a C compiler exists, else the compiled Python search. Every backend admits states in the
same order, so the switch changes no id, count, verdict or shortest trace; the fast
backends judge ``at_end`` properties too (the native search keeps its steps as int32 pairs
and peels the graph for cycles; the compiled Python search then keeps the full store), so
the default never turns a HOLDS into an UNKNOWN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

TIER = 10_000  # states the interpreted search may store before the default switches to generated code

BACKENDS = ("auto", "interpreted", "compiled", "native")


class Options(Protocol):
    """What the plan reads of :class:`modelcheck.explicit.search.SearchOptions`."""

    backend: str
    store: str | None
    symmetry: bool
    por: bool
    workers: int
    keep_edges: bool | None
    max_states: int | None
    compiled: bool
    native: bool
    check_hints: bool
    validate: bool


@dataclass(frozen=True)
class Plan:
    """One search's choice: ``backend`` and ``store``, the interpreted ``tier`` tried first
    (``None``: none), and ``why`` in words."""

    backend: str  # interpreted, compiled or native
    store: str  # full or compact
    tier: int | None
    why: str
    reductions: tuple[str, ...] = ()
    workers: int = 1

    def describe(self, states: int | None = None, switched: bool = False) -> str:
        """The one line ``check`` prints; ``states`` stored when the search ended in the tier."""
        names = {"interpreted": "interpreted", "compiled": "compiled Python", "native": "native (C)"}
        if self.tier is not None and not switched:
            head = f"search: interpreted, full store ({states:,} states, under the {self.tier:,} at which " \
                   f"the default moves to {names[self.backend]})"
        else:
            head = f"search: {names[self.backend]}, {self.store} store"
            if self.tier is not None:
                head += f" (more than {self.tier:,} states; {self.why})"
            elif self.why:
                head += f" ({self.why})"
        extra = [", ".join(self.reductions)] if self.reductions else []
        if self.workers > 1:
            extra.append("one process" if self.backend == "native" and (switched or self.tier is None)
                         else f"{self.workers} processes")
        return head + ("; " + "; ".join(extra) if extra else "")


def plan(properties_have_ends: bool, options: Options, compiler: str | None) -> Plan:
    """The plan for a search judging properties (``properties_have_ends``: some are ``at_end``),
    with ``options``, on a machine whose C compiler is ``compiler`` (``None``: none)."""
    backend = options.backend
    if options.native:
        backend = "native"
    elif options.compiled and backend in ("auto", "interpreted"):
        backend = "compiled"
    reductions = tuple(name for name, on in (("symmetry", options.symmetry),
                                             ("partial-order reduction", options.por)) if on)
    forced = backend != "auto"
    if backend == "auto":
        backend, why = _fastest(options, compiler)
    else:
        why = f"asked for ({'--' + backend if backend != 'interpreted' else 'no generated code'})"
    store = options.store or ("compact" if backend == "native" else "full")
    if backend == "compiled" and not forced and options.store is None and not properties_have_ends:
        store = "compact"  # nothing needs the full store's edges; the compact one is the lighter
    tier = None
    if not forced and backend != "interpreted" and (options.max_states is None or options.max_states > TIER):
        tier = TIER
    return Plan(backend, store, tier, why, reductions, options.workers)


def _fastest(options: Options, compiler: str | None) -> tuple[str, str]:
    """The fastest backend for these options on this machine, and why."""
    if options.keep_edges:
        return "interpreted", "the graph needs every state and step"
    if options.check_hints or not options.validate:
        return "interpreted", "hint checks and unvalidated states need the interpreted search"
    if options.por:
        return "interpreted", "partial-order reduction runs on the interpreted search"
    if compiler is None:
        return "compiled", "no C compiler found (install gcc, or set CC)"
    if options.symmetry:
        return "compiled", "symmetry runs on the compiled Python search, not in C"
    if options.store == "full":
        return "compiled", "the native search keeps the compact store only"
    return "native", f"C compiler {compiler}"
