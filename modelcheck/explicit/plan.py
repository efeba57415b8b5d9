"""The search plan: which backend, store, reductions and workers one search uses, and why.

The only place that knows which modes combine, which backend is fastest on this machine
and why anything falls back. A search that names no backend (``backend="auto"``, what
``check``, ``matrix``, ``run`` and ``gate`` ask for) is *tiered*, as a JIT compiler is: it
starts with the interpreted search over the full store, which answers a small configuration
before code could even be generated, and once the space shows it is large (more than
:data:`TIER` states) it starts again with the fastest backend the machine has: the native
search where a C compiler exists, else the compiled Python search. Every backend admits
states in the same order, so the switch changes no id, count, verdict or shortest trace.
The fast backends judge ``at_end`` properties too (the native search keeps its steps as
int32 pairs and peels the graph for cycles in C; the compiled Python search then keeps the
full store), and liveness properties (the native search keeps every step as an int32 triple
and judges each claim's goal and trigger per state, as the witnesses
:func:`~.liveness.marks` adds; the compiled Python search keeps the full store), so the
default never turns a HOLDS into an UNKNOWN.

Combinations and fallbacks, all decided here:

- ``compiled`` needs the spec's code to run symbolically (else: the interpreted search,
  and ``Exploration.fallback`` says why); no partial-order reduction, no hint checks;
- ``native`` is the compiled backend printed as C (under symmetry with its canonicalizer
  printed as C too): the compact store, no partial-order reduction, no edges, one process
  (else: the compiled Python search, and ``Exploration.native_fallback`` says why); a state
  its C code hands back reruns the search in Python;
- partial-order reduction takes the :class:`~.stores.ProvisoStore` around a store that can
  tell a step into an older level (full, or the per-step :class:`~.stores.SeenStore`);
- several workers expand levels on forked processes; a compiled compact search sends them
  packed levels;
- ``distributed``, ``checkpoint`` or ``resume`` ask for the partitioned search
  (:mod:`.distributed`): the native backend (else compiled Python) over the compact store, no
  reductions, workers, state bound, graph or liveness property.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from array import array
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..spec import LIVENESS, Compiled, Property, PropertyKind
from .compact import PackedLevel, level_factory
from .compiled.expander import flat_expander
from .compiled.flat_symmetry import SymmetricFlat, Unsupported, flat_canonicalizer
from .exploration import Exploration
from .interpreted import Expander
from .levels import PackedPooled, Pooled, Serial
from .liveness import marks
from .memory import default_budget
from .native import driver
from .options import SearchOptions
from .parallel import PackedPool, Pool
from .reductions.hooks import build_reduction
from .stores import CompactStore, FullStore, ProvisoStore, SeenStore, Store
from .successors import Successors

TIER = 10_000  # states the interpreted search may store before the default moves to generated code



class Backend(StrEnum):
    """Where successors come from (a ``str`` too, as the command line spells it)."""

    AUTO = "auto"  # the plan's choice: interpreted first, the fastest backend once the space is large
    INTERPRETED = "interpreted"
    COMPILED = "compiled"
    NATIVE = "native"


class StoreKind(StrEnum):
    FULL = "full"  # every state by value, and its steps
    COMPACT = "compact"  # 64-bit fingerprints


BACKENDS = tuple(b.value for b in Backend)
NAMES = {Backend.INTERPRETED: "interpreted", Backend.COMPILED: "compiled Python", Backend.NATIVE: "native (C)"}


@dataclass
class Plan:
    """One search's choice (``backend``, ``store``, the interpreted ``tier`` tried first, ``why``)
    and, once :meth:`build` ran, its parts."""

    compiled: Compiled
    properties: list[Property]
    options: SearchOptions
    backend: Backend  # interpreted, compiled or native
    store: StoreKind
    why: str
    tier: int | None = None
    forced: bool = True  # the backend was asked for (no tier, no fallback to the full store)
    prepared_ahead: bool = False  # a child prepared the code while the interpreted tier ran
    successors: Any = None  # a Successors, once built
    library: Any = None  # the native library, once built (None: the Python search runs)
    canonical: Any = None
    ample: Any = None
    fallback: str = ""  # why the compiled backend was not used
    native_fallback: str = ""  # why the native search was not used
    code_origin: str = ""
    code_source: str = ""
    marks: list[Property] = field(default_factory=list)  # witnesses the native search judges for liveness
    partitioned: bool = False  # the partitioned search (explicit.distributed) runs it
    built: bool = field(default=False, repr=False)

    @property
    def budget(self) -> int | None:
        """The memory budget in bytes (``options.memory``; 0: the default share of the machine)."""
        memory = self.options.memory
        return default_budget(self.options.workers) if memory == 0 else memory

    @property
    def spill_dir(self) -> str:
        """Where the native search spills under its budget (``options.spill_dir``, else the system's temp dir)."""
        return self.options.spill_dir or tempfile.gettempdir()

    @property
    def endings(self) -> bool:
        return any(p.kind == PropertyKind.AT_END for p in self.properties)

    @property
    def liveness(self) -> bool:
        return any(p.kind in LIVENESS for p in self.properties)

    @property
    def judged(self) -> list[Property]:
        """The properties the backend judges per state: the asked ones and :attr:`marks`."""
        return self.properties + self.marks

    @property
    def reductions(self) -> tuple[str, ...]:
        return tuple(name for name, on in (("symmetry", self.options.symmetry),
                                           ("partial-order reduction", self.options.por)) if on)

    def first_tier(self) -> Plan:
        """The interpreted search over the full store, cut at :attr:`tier` states."""
        opts = dataclasses.replace(self.options, backend=Backend.INTERPRETED, store=StoreKind.FULL,
                                   max_states=self.tier, compiled=False, native=False)
        return Plan(self.compiled, self.properties, opts, Backend.INTERPRETED, StoreKind.FULL, "")

    @property
    def threads(self) -> int:
        """The native search's threads: ``SearchOptions.threads``, else the workers asked for when
        more than one, else every core this process may run on (the answer is the same)."""
        if self.options.threads is not None:
            return max(self.options.threads, 1)
        return self.options.workers if self.options.workers > 1 else usable_cores()

    def describe(self, ended_in_tier: int | None = None) -> str:
        """The one line ``check`` prints: which backend and store searched, and why (for a tiered
        plan whose first tier answered, ``ended_in_tier`` is its number of states)."""
        if ended_in_tier is not None:
            head = (f"search: interpreted, full store ({ended_in_tier:,} states, under the {self.tier:,} at which "
                    f"the default moves to {NAMES[self.backend]})")
        else:
            backend = self.backend
            if backend == Backend.NATIVE and self.library is None and self.built:
                backend = Backend.COMPILED if self.fallback == "" else Backend.INTERPRETED
            elif backend == Backend.COMPILED and self.fallback:
                backend = Backend.INTERPRETED
            head = f"search: {NAMES[backend]}, {self.store} store"
            if self.tier is not None:
                ahead = "; code prepared while the interpreted search ran" if self.prepared_ahead else ""
                head += f" (more than {self.tier:,} states; {self.why}{ahead})"
            elif self.why:
                head += f" ({self.why})"
        extra = [", ".join(self.reductions)] if self.reductions else []
        native = self.library is not None and ended_in_tier is None
        if native and self.threads > 1:
            extra.append(f"{self.threads} threads")
        elif self.options.workers > 1:
            extra.append("one process" if native else f"{self.options.workers} processes")
        return head + ("; " + "; ".join(extra) if extra else "")

    # ------------------------------------------------------------------ building the parts

    def build(self) -> None:
        """Get the backend's parts: generated code, the native library; fall back and say why."""
        if self.built:
            return
        self.built = True
        opts, compiled, props = self.options, self.compiled, self.properties
        if self.backend == Backend.NATIVE and self.store == StoreKind.COMPACT and not opts.por and not opts.keep_edges:
            # the search's C unit depends on the layout alone: compiled while the code is generated
            driver.start_search(compiled.state_class, len(compiled.instances))
        if opts.symmetry or opts.por:
            reduction = build_reduction(compiled, props, symmetry=opts.symmetry, por=opts.por)
            if reduction is not None:
                self.canonical, self.ample = reduction.canonical, reduction.ample
        flat = self._flat() if self.backend != Backend.INTERPRETED else None
        if self.backend == Backend.NATIVE:
            self.library, self.native_fallback = self._library(flat)
            if self.library is None and not self.forced and (self.endings or self.liveness):
                self.store = StoreKind.FULL  # the compact Python store keeps no steps, so cycles need the full one
        self.successors = flat or Expander(compiled, props, use_hints=opts.use_hints, check_hints=opts.check_hints,
                                           validate=opts.validate, canonical=self.canonical, ample=self.ample)
        if self.store == StoreKind.COMPACT and opts.keep_edges:
            raise UsageError("the compact store keeps no edges: use the full store for graphs")

    def _flat(self) -> Any:
        """The compiled expander (under symmetry, mapping successors to representatives), or
        ``None`` with :attr:`fallback` saying why."""
        opts = self.options
        flat, why = flat_expander(self.compiled, self.judged, use_hints=opts.use_hints, validate=opts.validate,
                                  check_hints=opts.check_hints, reductions=opts.por)
        if flat is not None:
            self.code_origin, self.code_source = code_origin(flat), flat.source
        if flat is not None and self.canonical is not None:
            try:
                flat = SymmetricFlat(flat, flat_canonicalizer(self.compiled, flat.layout, self.canonical))
            except Unsupported as err:
                flat, why = None, f"symmetry over flat states: {err}"
        self.fallback = why if flat is None else ""
        return flat

    def _library(self, flat: Any) -> tuple[Any, str]:
        """The native library, or ``None`` and why the Python search runs instead."""
        opts = self.options
        if flat is None:
            return None, f"the compiled mode is not available ({self.fallback})"
        if self.store != StoreKind.COMPACT:
            return None, "the native search keeps the compact store only (--store compact)"
        if opts.por:
            return None, "partial-order reduction runs in the Python search"
        if opts.keep_edges:
            return None, "the native search keeps no edges"
        canonical = flat.canonical if isinstance(flat, SymmetricFlat) else None
        try:
            return driver.library(flat.source, flat.layout.width, len(self.compiled.instances),
                                  self.compiled.state_class, len(self.judged), canonical), ""
        except driver.NativeUnavailable as err:
            return None, str(err)

    def without_native(self, why: str) -> None:
        """The native search handed a state back: the Python search decides (and reports the spec's error)."""
        self.library, self.native_fallback = None, why
        if not self.forced and (self.endings or self.liveness):
            self.store = StoreKind.FULL  # as in build: the compact Python store keeps no steps

    def exploration(self) -> Exploration:
        """An empty exploration for this plan's store."""
        compact = self.library is not None or self.store == StoreKind.COMPACT
        ex = Exploration(self.compiled, self.judged, compact=compact, canonical=self.canonical,
                         fallback=self.fallback, native_fallback=self.native_fallback,
                         code_origin=self.code_origin, code_source=self.code_source,
                         memory_budget=self.budget, scratch_dir=self.spill_dir)
        if self.library is not None:
            built = self.library.built
            ex.native, ex.native_from_cache, ex.native_seconds = built.describe(), built.from_cache, built.seconds
        ex.shortest = self.ample is None
        return ex

    def parts(self, ex: Exploration) -> tuple[Successors, Store, Any]:
        """The successor function, the store and the level expander of the Python search."""
        opts, successors = self.options, self.successors
        flat = not isinstance(successors, Expander)
        instances = len(self.compiled.instances)
        store: Any
        if self.store == StoreKind.FULL:
            edges = opts.keep_edges is not False or self.endings or self.liveness
            store = FullStore(ex, instances, opts.max_states, edges, self.endings, self.budget)
        elif self.ample is not None:
            store = SeenStore(ex, instances, opts.max_states, successors.fingerprint, self.budget)
        else:
            new_level = level_factory(self.compiled.state_class) if flat else list
            store = CompactStore(ex, instances, opts.max_states, new_level, successors.fingerprint, signed=flat,
                                 budget=self.budget)
        if flat and self.store == StoreKind.COMPACT:
            ex.fingerprints = array("q")  # hash() of a flat state is signed
        if self.ample is not None:
            store = ProvisoStore(store, successors)
        levels: Any = Serial(successors)
        if opts.workers > 1 and isinstance(getattr(store, "frontier", None), PackedLevel):
            levels = PackedPooled(PackedPool(successors, opts.workers, store.frontier.codec, instances))
        elif opts.workers > 1:
            levels = Pooled(Pool(successors, opts.workers))
        return successors, store, levels


def code_origin(flat: Any) -> str:
    """Where the compiled backend's successor code came from, for the user deciding whether to wait."""
    if flat.from_cache:
        return f"compiled successor code: from the cache ({flat.codegen_seconds:.2f} s, {flat.cache_file})"
    kept = f", kept in {flat.cache_file}" if flat.cache_file else \
        " (not cached: MODELCHECK_CACHE_DIR is off, or its directory is not writable)"
    return f"compiled successor code: generated in {flat.codegen_seconds:.2f} s{kept}"


def plan(compiled: Compiled, properties: list[Property], options: SearchOptions,
         compiler: str | None = None) -> Plan:
    """The plan for searching ``compiled`` for ``properties`` with ``options``. With
    ``backend="auto"`` it asks :func:`c_compiler` unless ``compiler`` names one ("" for none)."""
    props = list(properties)
    if options.distributed or options.checkpoint or options.resume:
        return _partitioned(compiled, props, options, c_compiler() if compiler is None else compiler or None)
    backend = Backend(options.backend) if options.backend in BACKENDS else options.backend
    if backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}; one of {', '.join(BACKENDS)}")
    if options.native:
        backend = Backend.NATIVE
    elif options.compiled and backend in (Backend.AUTO, Backend.INTERPRETED):
        backend = Backend.COMPILED
    forced = backend != Backend.AUTO
    if forced:
        why = "asked for" if backend != Backend.INTERPRETED else ""
    elif options.max_states is not None and options.max_states <= TIER:
        backend, why = Backend.INTERPRETED, f"a state bound of {options.max_states:,}: too few states for code to pay"
    else:
        backend, why = _fastest(options, c_compiler() if compiler is None else compiler or None)
    liveness = any(p.kind in LIVENESS for p in props)
    store = StoreKind(options.store) if options.store else \
        StoreKind.COMPACT if backend == Backend.NATIVE else StoreKind.FULL
    endings = any(p.kind == PropertyKind.AT_END for p in props)
    if backend == Backend.COMPILED and not forced and options.store is None and not endings and not liveness:
        store = StoreKind.COMPACT  # nothing needs the full store's steps; the compact one is the lighter
    tier = TIER if not forced and backend != Backend.INTERPRETED else None
    chosen = Plan(compiled, props, options, backend, store, why, tier, forced)
    if backend == Backend.NATIVE and liveness:
        chosen.marks = marks(props)
    return chosen


def _partitioned(compiled: Compiled, props: list[Property], options: SearchOptions, compiler: str | None) -> Plan:
    """The partitioned search's plan (UsageError for what it does not do): the native backend where a
    C compiler exists, else the compiled Python one, over the compact store."""
    flags = [name for name, on in (("--symmetry", options.symmetry), ("--por", options.por),
                                   ("--store full", options.store == StoreKind.FULL),
                                   ("--max-states", options.max_states), ("--time-limit", options.time_limit),
                                   ("--spill-dir", options.spill_dir), ("--workers", options.workers > 1),
                                   ("graphs", options.keep_edges)) if on]
    if flags:
        raise UsageError(f"--distributed/--checkpoint run the partitioned compact search, which takes no "
                         f"{', '.join(flags)}; drop {'them' if len(flags) > 1 else 'it'}")
    if options.checkpoint and options.resume and Path(options.checkpoint) != Path(options.resume):
        raise UsageError(f"--resume {options.resume} keeps checkpointing into {options.resume}; "
                         f"drop --checkpoint {options.checkpoint}")
    native = compiler is not None
    backend = Backend.NATIVE if native else Backend.COMPILED
    opts = dataclasses.replace(options, backend=backend, store=StoreKind.COMPACT, native=native, compiled=not native)
    why = f"C compiler {compiler}" if native else "no C compiler found (install gcc, or set CC)"
    return Plan(compiled, props, opts, backend, StoreKind.COMPACT, why, None, True, partitioned=True)


def _fastest(options: SearchOptions, compiler: str | None) -> tuple[Backend, str]:
    """The fastest backend for these options on this machine, and why."""
    if options.keep_edges:
        return Backend.INTERPRETED, "the graph needs every state and step"
    if options.check_hints or not options.validate:
        return Backend.INTERPRETED, "hint checks and unvalidated states need the interpreted search"
    if options.por:
        return Backend.INTERPRETED, "partial-order reduction runs on the interpreted search"
    if compiler is None:
        return Backend.COMPILED, "no C compiler found (install gcc, or set CC)"
    if options.store == StoreKind.FULL:
        return Backend.COMPILED, "the native search keeps the compact store only"
    return Backend.NATIVE, f"C compiler {compiler}"


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system says)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def c_compiler() -> str | None:
    """The C compiler's command, or ``None`` when this machine has none."""
    try:
        return " ".join(driver.compiler())
    except driver.NativeUnavailable:
        return None
