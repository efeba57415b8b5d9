"""``modelcheck prove --parametric``: a property proved for every program, qdepth and budget, or
refuted with a replayed trace, or UNKNOWN with the clause that would not close.

1. The spec's parametric description (:mod:`.model`) is checked against the spec on a grid of
   small configurations (:mod:`.refine`); a difference stops everything (exit 2).
2. Candidate invariants are mined from those configurations' states (:mod:`.mine`), the
   user's ``@invariant``s and the property are added, and Houdini (:mod:`.houdini`) keeps the
   inductive ones for any number of requests. PROVED when the property and every user
   invariant survive; the invariant printed is the part of the survivors the proof uses.
3. Otherwise bounded model checking of the description (:mod:`.bmc`) looks for a small
   counterexample, which is replayed in the spec as a configuration of its own: VIOLATED.
   When it finds none, UNKNOWN, naming the conjunct and the step that broke it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import EngineBug, UsageError
from ..spec import Spec, compile_spec
from ..symbolic.encode import Limits
from ..verdict import PropertyResult, Verdict
from .bmc import find_violation
from .houdini import Conjunct, houdini
from .mine import mine
from .minimise import reduce, verify
from .model import Parametric, description_of
from .refine import Refinement, check_refinement


@dataclass
class ParametricOptions:
    """The refinement grid's largest program, BMC's bounds and z3's limits per query."""

    refine_size: int = 3
    depth: int = 14
    max_size: int = 3
    limits: Limits = field(default_factory=Limits)
    reduce_queries: int = 4000  # z3 queries the invariant's reduction may spend before it stops ("reduced")


@dataclass
class ParametricRun:
    """A finished parametric run: the description, the configurations checked, one result per property."""

    desc: Parametric
    checked: list[Refinement]
    candidates: int
    results: list[PropertyResult] = field(default_factory=list)


def grid(settings: dict[str, str], size: int, budgets: Iterable[str]) -> list[dict[str, str]]:
    """The refinement check's configurations: programs of up to 2 requests at qdepth 1 and 2 with every
    budget 0 or 1, and programs of up to ``size`` requests at qdepth ``size`` with the first budget 1
    and the others 0 (every budget 1 there takes minutes under nodrain)."""
    names = list(budgets)
    out = [{**settings, "workload": "any:2", "qdepth": str(q), **{b: str(n) for b in names}}
           for q in (1, 2) for n in (0, 1)]
    if size > 2:
        out.append({**settings, "workload": f"any:{size}", "qdepth": str(size),
                    **{b: str(int(i == 0)) for i, b in enumerate(names)}})
    return out


def prove_parametric(spec: Spec, properties: list[str], settings: dict[str, str],
                     make_spec: Callable[[dict[str, str]], Spec],
                     options: ParametricOptions | None = None) -> ParametricRun:
    """Judge each property of ``spec``'s configuration for every program, qdepth and budget."""
    opts = options or ParametricOptions()
    desc = description_of(spec)
    compiled = compile_spec(spec)
    chosen = compiled.select(properties)
    for prop in chosen:
        if prop.name not in desc.properties():
            raise UsageError(f"--parametric: property {prop.name} has no reading in the parametric description; "
                             f"fix: choose one of {', '.join(desc.properties())} with -p")
    active = tuple(a.name for a in compiled.active_assumptions)
    budgets = [s.name for s in desc.symbols() if s.static and s.kind == "int" and s.name != "qdepth"]
    fixed = {k: v for k, v in settings.items() if k not in ("workload", "qdepth", *budgets)}
    checked = [check_refinement(description_of(make_spec(g))) for g in grid(fixed, opts.refine_size, budgets)]
    candidates = mine(desc.symbols(), [s for r in checked for s in r.seen])
    run = ParametricRun(desc, checked, len(candidates))
    for r in checked:
        r.seen = []
    for prop in chosen:
        run.results.append(_judge(desc, prop.name, prop.kind, candidates, active, fixed, make_spec, opts))
    return run


def _judge(desc: Parametric, name: str, kind: str, candidates: list, active: tuple[str, ...],
           fixed: dict[str, str], make_spec: Callable[[dict[str, str]], Spec],
           opts: ParametricOptions) -> PropertyResult:
    started = time.perf_counter()
    base = dict(name=name, kind=kind, engine="parametric", assumptions=active)
    user = [Conjunct(n, f"@invariant {n}", f, protected=True) for n, f in desc.invariants().items()]
    goal = Conjunct(name, f"property {name}", desc.properties()[name], protected=True)
    mined = [Conjunct(f"c{i}", c.text(), c.formula, holds=c.holds_in, clause=c,
                      width=c.arity) for i, c in enumerate(candidates)]
    out = houdini(desc, [*mined, *user, goal], active, opts.limits)
    extra: dict[str, Any] = {"covers": desc.covers, "candidates": len(mined), "queries": out.queries,
                             "assumptions_active": list(active), "solver_limits": opts.limits.describe()}
    if out.status == "proved" and out.engine is not None:
        reduced = reduce(out.engine, out.kept, opts.reduce_queries)
        extra["queries"] = out.engine.queries
        status, why = verify(out.engine, reduced.kept)
        if status == "proved":
            extra["invariant"] = [c.text for c in reduced.kept if not c.name.startswith("type of ")]
            extra["invariant_kept"] = len(out.kept)
            extra["invariant_after_cores"] = reduced.needed
            extra["invariant_minimal"] = reduced.minimal
            extra["invariant_reduce_queries"] = reduced.queries
            extra["conjuncts"] = reduced.kept  # the invariant as formulas (not in --json)
            if reduced.reason:
                extra["invariant_not_minimal_because"] = reduced.reason
            return PropertyResult(verdict=Verdict.PROVED, seconds=time.perf_counter() - started, extra=extra,
                                  reason=f"for {desc.covers}", **base)
        if status == "refuted":  # the reduced set was shown inductive step by step: this is a bug of ours
            raise EngineBug(f"the reduced invariant for {name} is not inductive under {why} when checked again")
        return PropertyResult(verdict=Verdict.UNKNOWN, seconds=time.perf_counter() - started, extra=extra,
                              reason=f"z3 gave up checking the final invariant again: {why}", **base)
    found = find_violation(desc, name, active, opts.depth, opts.max_size, opts.limits,
                           lambda s: make_spec({**fixed, **s}))
    if found.status == "found":
        extra["configuration"] = found.settings
        extra["compiled"] = found.compiled
        return PropertyResult(verdict=Verdict.VIOLATED, trace=found.trace, depth=len(found.trace or ()),
                              seconds=time.perf_counter() - started, extra=extra,
                              reason="found by BMC of the parametric description, replayed at "
                              + " ".join(f"{k}={v}" for k, v in (found.settings or {}).items()), **base)
    if out.status == "unknown":
        reason = f"z3 gave up during Houdini: {out.reason}"
    else:
        reason = (f"cannot close: {out.failed.text if out.failed else '?'} is broken by {out.step}"
                  f"; no counterexample of up to {opts.max_size} requests and {opts.depth} steps"
                  + (f" (BMC: {found.reason})" if found.status == "unknown" else ""))
        extra["failing_clause"] = out.failed.name if out.failed else None
        extra["failing_step"] = out.step
    return PropertyResult(verdict=Verdict.UNKNOWN, seconds=time.perf_counter() - started, extra=extra,
                          reason=reason, **base)
