"""The symbolic engine's entry point: prove or refute each property of one configuration with z3.

Engines: ``certificate`` (default: the explicit engine's reachable set, checked by z3 to be an
inductive invariant that excludes every bad state; fast and complete for any configuration
the explicit search can enumerate), ``spacer`` (an invariant over :mod:`.compact`'s layout
with no explicit search at all: first facts mined from random walks and kept by Houdini
(:mod:`.mining`), which are the proof when they exclude every bad state, else z3's PDR with
them as background; the invariant is checked again over the plain leaves; UNKNOWN at z3's
resource limit), ``kind`` (k-induction, to cross-check) and ``bmc`` (a bounded search). Every
proof is a z3 check of initiation, consecution and safety; every counterexample is replayed
through the spec, and the property judged again on it, before it is returned; a solver
``unknown`` or limit is UNKNOWN with its reason, never a proof. A proof that rests on
assumptions which block an action or add a deadlock is marked vacuous (:mod:`.vacuity`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import z3

from ..errors import EngineBug, SpecError
from ..spec import Compiled, Property, Spec, compile_spec
from ..trace import Trace, replay
from ..verdict import PropertyResult, Verdict
from .assumptions import minimal_core
from .bmc import bmc, shortest_trace
from .certificate import CertificateOutcome, certify, summary, with_assumptions
from .chc import race, readable, spacer
from .encode import Encoding, Limits, enforce
from .endings import EndingsOutcome, judge_endings
from .houdini import HoudiniOutcome, houdini
from .kinduction import k_induction
from .lasso import judge_liveness
from .vacuity import Vacuity, check_vacuity

ENGINES = ("certificate", "spacer", "kind", "bmc")


@dataclass
class ProveOptions:
    """How to prove: the engine, BMC depth, k-induction's largest k, the per-query solver limits
    (deterministic by default), and whether the certificate engine also derives readable
    clauses (``generalise``)."""

    engine: str = "certificate"
    depth: int = 20
    max_k: int = 30
    limits: Limits = field(default_factory=Limits)
    trace_depth: int = 200  # BMC's deepest try for the trace of a violation another engine found
    minimise: bool = True
    generalise: bool = False
    max_states: int = 200_000
    table_limit: int = 2000  # certificate: past this many states, checked state by state (not by z3)
    layout: str = "compact"  # spacer: "compact" (no explicit search at all) or "plain" (with Houdini facts)
    seeds: int = 1  # spacer (compact): seeds raced in processes of their own, from limits.seed on
    free: tuple[str, ...] = ()  # spacer (compact): fields left free at every step (e.g. failure budgets)
    walks: int = 150  # spacer (compact): random walks that suggest facts for Houdini (0: Spacer alone)


@dataclass
class ProveRun:
    """A finished symbolic run: the flattened spec, its encoding, and one result per property."""

    compiled: Compiled
    encoding: Encoding
    results: list[PropertyResult] = field(default_factory=list)
    encode_seconds: float = 0.0
    vacuity: Vacuity | None = None  # searched when a proof rests on assumptions


def prove(spec: Spec, properties: Iterable[str] | None = None, options: ProveOptions | None = None) -> ProveRun:
    """Encode ``spec`` once and judge each chosen property with the chosen engine."""
    opts = options or ProveOptions()
    compiled = compile_spec(spec)
    chosen = compiled.select(list(properties or []))
    started = time.perf_counter()
    enc = Encoding(compiled, limits=opts.limits)
    run = ProveRun(compiled, enc, encode_seconds=time.perf_counter() - started)
    for prop in chosen:
        run.results.append(judge(enc, prop, opts))
    _mark_vacuous(run, opts)
    return run


def _mark_vacuous(run: ProveRun, opts: ProveOptions) -> None:
    """Flag each proof that rests on assumptions which block an action or add a deadlock."""
    resting = [r for r in run.results if r.verdict in (Verdict.PROVED, Verdict.HOLDS_UP_TO_BOUND)
               and r.extra.get("proof_assumptions", r.assumptions)]
    if not resting:
        return
    run.vacuity = check_vacuity(run.compiled, opts.max_states)
    for r in resting:
        used = set(r.extra.get("proof_assumptions", r.assumptions))
        hits = [f for f in run.vacuity.findings if used & set(f.blocked_by)]
        r.extra["vacuity_states"] = run.vacuity.states
        if hits:
            r.extra["vacuous"] = [f.text for f in hits]
            r.reason = "; ".join(["VACUOUS: " + "; ".join(r.extra["vacuous"]), *([r.reason] if r.reason else [])])
            r.extra["vacuity_traces"] = {f.kind: f.trace for f in hits if f.trace is not None}
        if run.vacuity.undetermined:
            r.extra["vacuity_undetermined"] = list(run.vacuity.undetermined)


def judge(enc: Encoding, prop: Property, opts: ProveOptions) -> PropertyResult:
    """One property with one engine."""
    started = time.perf_counter()
    active = tuple(enc.assumption_names)
    base = dict(name=prop.name, kind=prop.kind, engine=opts.engine, assumptions=active)
    extra: dict = {"assumptions_active": list(active), "paths": enc.stats.paths,
                   "encode_seconds": round(enc.stats.seconds, 3), "solver_limits": opts.limits.describe()}
    if prop.kind in ("eventually", "leads_to"):
        return _judge_liveness(enc, prop, opts, base, extra, started)
    if prop.kind == "at_end" and opts.engine != "certificate":
        return _judge_endings(enc, prop, opts, base, extra, started)
    if opts.engine == "bmc":
        out = bmc(enc, prop, opts.depth, enforce(active), opts.limits)
        extra["bounded_core"] = list(out.core)
        seconds = time.perf_counter() - started
        if out.status == "found":
            verdict = Verdict.HOLDS if prop.kind == "sometimes" else Verdict.VIOLATED
            return PropertyResult(verdict=verdict, trace=out.trace, depth=out.depth, seconds=seconds,
                                  extra=extra, **base)
        if out.status == "unknown":
            return PropertyResult(verdict=Verdict.UNKNOWN, reason=out.reason, depth=out.depth, seconds=seconds,
                                  extra=extra, **base)
        if prop.kind == "sometimes":
            return PropertyResult(verdict=Verdict.UNKNOWN, reason=f"no witness within {opts.depth} steps",
                                  depth=opts.depth, seconds=seconds, extra=extra, **base)
        base["assumptions"] = out.core
        return PropertyResult(verdict=Verdict.HOLDS_UP_TO_BOUND, depth=opts.depth, seconds=seconds, extra=extra,
                              reason=f"no violation within {opts.depth} steps; assumptions used: "
                              f"{', '.join(out.core) or 'none'}", **base)

    facts: dict[tuple[str, ...], HoudiniOutcome] = {}
    refuted: dict[tuple[str, ...], int] = {}  # assumption sets the certificate engine refuted: shortest length

    def attempt(names: tuple[str, ...]) -> tuple[str, object]:
        guards = enforce(names)
        if opts.engine == "certificate":
            out: object = certify(enc, prop, names, opts.limits, opts.max_states, table_limit=opts.table_limit,
                                  clauses=opts.generalise and names == active)
            status = {"proved": "PROVED", "reachable": "VIOLATED"}.get(out.status, "UNKNOWN")  # type: ignore[attr-defined]
            if status == "VIOLATED":
                refuted[names] = out.depth  # type: ignore[attr-defined]
        elif opts.engine == "kind":
            out = k_induction(enc, prop, guards, opts.max_k, opts.limits, check_replay=names == active)
            return {"proved": "PROVED", "found": "VIOLATED"}.get(out.status, "UNKNOWN"), out  # type: ignore[attr-defined]
        else:
            if opts.layout == "plain" and names not in facts:
                facts[names] = houdini(enc, guards, opts.limits)
            bad, crash = enc.property_bad(prop, guards)
            if opts.layout == "compact" and opts.seeds > 1:
                out = race(enc, z3.Or(bad, crash, enc.fault(guards)), guards, opts.limits, opts.seeds,
                           frozenset(opts.free), opts.walks)
            else:
                out = spacer(enc, z3.Or(bad, crash, enc.fault(guards)), guards, opts.limits,
                             facts[names].facts if names in facts else None, layout=opts.layout,
                             free=frozenset(opts.free), walks=opts.walks)
            status = {"proved": "PROVED", "reachable": "VIOLATED"}.get(out.status, "UNKNOWN")  # type: ignore[attr-defined]
        if prop.kind == "sometimes":
            status = {"PROVED": "VIOLATED", "VIOLATED": "HOLDS"}.get(status, status)
        return status, out

    status, out = attempt(active)
    if status == "UNKNOWN":
        return PropertyResult(verdict=Verdict.UNKNOWN, reason=out.reason, seconds=time.perf_counter() - started,  # type: ignore[attr-defined]
                              extra=_with_cti(extra, out), **base)
    if status == "PROVED":
        _describe_proof(enc, prop, opts, out, extra, facts.get(active))
        extra["proof_seconds"] = round(time.perf_counter() - started, 3)
        if opts.minimise and active:
            core = minimal_core(active, lambda names: attempt(names)[0])
            base["assumptions"] = core.needed
            extra["without"] = core.without
            extra["proof_assumptions"] = list(core.kept)
            extra["undecided"] = list(core.undecided)
            if core.undecided:
                base["reason"] = f"undecided without: {', '.join(core.undecided)}"
            if prop.kind not in ("sometimes", "at_end"):
                extra["without_traces"] = {
                    name: _refutation(enc, prop, core.trials[name], opts, refuted.get(core.trials[name], 0))
                    for name, verdict in core.without.items() if verdict == "VIOLATED"}
        return PropertyResult(verdict=Verdict.PROVED, seconds=time.perf_counter() - started, extra=extra, **base)
    if prop.kind == "sometimes" and status == "VIOLATED":
        return PropertyResult(verdict=Verdict.VIOLATED, reason="no reachable state is a witness",
                              seconds=time.perf_counter() - started, extra=extra, **base)
    if prop.kind == "at_end":  # the certificate engine: the explicit search's ending or lasso
        trace = out.explicit_trace  # type: ignore[attr-defined]
        if trace is None:
            return PropertyResult(verdict=Verdict.UNKNOWN, seconds=time.perf_counter() - started, extra=extra,
                                  reason="the explicit search found a violation but kept no trace", **base)
        replay(enc.compiled, trace, prop)
        return PropertyResult(verdict=Verdict.VIOLATED, trace=trace, depth=len(trace),
                              seconds=time.perf_counter() - started, extra=extra, **base)
    # a bad state is reachable: find the shortest trace to it (and replay it)
    trace = getattr(out, "trace", None)
    if trace is None or opts.engine != "kind":
        known = out.depth if opts.engine == "certificate" else 0  # type: ignore[attr-defined]
        found = shortest_trace(enc, prop, enforce(active), opts.limits, opts.trace_depth, known_depth=known)
        if found.status != "found":
            return PropertyResult(verdict=Verdict.UNKNOWN, seconds=time.perf_counter() - started, extra=extra,
                                  reason=f"the prover found a bad state reachable"
                                  f"{' (' + out.reason + ')' if getattr(out, 'reason', '') else ''} but BMC found "
                                  f"no trace: {found.reason}", **base)
        if found.fault:
            steps = ", ".join(enc.compiled.show_step(st) for st, _ in found.trace.steps) or "(initial state)"  # type: ignore[union-attr]
            raise SpecError(f"reachable after [{steps}]: an action or property raises, or sets a field "
                            "outside its type", fix="run `modelcheck check` on this configuration to see where")
        trace = found.trace
        if opts.engine == "certificate":
            _same_length(out, len(trace))  # type: ignore[arg-type]
            extra["explicit_states"] = out.states  # type: ignore[attr-defined]
    verdict = Verdict.HOLDS if prop.kind == "sometimes" else Verdict.VIOLATED
    return PropertyResult(verdict=verdict, trace=trace, depth=len(trace), seconds=time.perf_counter() - started,
                          extra=extra, **base)


def _judge_endings(enc: Encoding, prop: Property, opts: ProveOptions, base: dict, extra: dict,
                   started: float) -> PropertyResult:
    """An ``at_end`` property, whatever the engine: BMC of endings and lassos (:mod:`.endings`)."""
    out = judge_endings(enc, prop, opts.depth, enforce(base["assumptions"]), opts.limits)
    return _bounded_result(out, opts, base, extra, started, proved="; every ending satisfies it",
                           clear=Verdict.HOLDS_UP_TO_BOUND,
                           clear_reason=f"no violating ending and no cycle within {opts.depth} steps (--depth)")


def _judge_liveness(enc: Encoding, prop: Property, opts: ProveOptions, base: dict, extra: dict,
                    started: float) -> PropertyResult:
    """A liveness property, whatever the engine: BMC of dead ends and fair lassos (:mod:`.lasso`)."""
    out = judge_liveness(enc, prop, opts.depth, enforce(base["assumptions"]), opts.limits)
    return _bounded_result(out, opts, base, extra, started, proved=", and none ends short of the goal",
                           clear=Verdict.UNKNOWN,
                           clear_reason=f"no dead end and no fair lasso within {opts.depth} steps (--depth); a "
                                        "longer fair lasso may exist (the explicit search decides: modelcheck check)")


def _bounded_result(out: EndingsOutcome, opts: ProveOptions, base: dict, extra: dict, started: float, *,
                    proved: str, clear: Verdict, clear_reason: str) -> PropertyResult:
    """The verdict of a bounded search of endings or lassos: VIOLATED with its trace, PROVED when
    every execution ends within the bound (``proved`` ends the sentence), UNKNOWN with the
    solver's reason, or ``clear`` when nothing was found within ``--depth``."""
    base["engine"] = "bmc"
    seconds = time.perf_counter() - started
    if out.status == "found":
        return PropertyResult(verdict=Verdict.VIOLATED, trace=out.trace, depth=len(out.trace or ()),
                              seconds=seconds, extra=extra, **base)
    if out.status == "proved":
        extra["every_execution_ends_within"] = out.depth
        return PropertyResult(verdict=Verdict.PROVED, depth=out.depth, seconds=seconds, extra=extra,
                              reason=f"every execution ends within {out.depth} steps{proved}", **base)
    if out.status == "unknown":
        return PropertyResult(verdict=Verdict.UNKNOWN, reason=out.reason, depth=out.depth, seconds=seconds,
                              extra=extra, **base)
    depth = out.depth if clear is Verdict.UNKNOWN else opts.depth
    return PropertyResult(verdict=clear, reason=clear_reason, depth=depth, seconds=seconds, extra=extra, **base)


def _describe_proof(enc: Encoding, prop: Property, opts: ProveOptions, out: object, extra: dict,
                    houdini_facts: HoudiniOutcome | None) -> None:
    """The proof's evidence in ``extra``: the invariant (readable), its size, how it was found."""
    if opts.engine == "kind":
        extra["k"] = out.k  # type: ignore[attr-defined]
        return
    if opts.engine == "spacer":
        extra["invariant"] = out.invariant  # type: ignore[attr-defined]
        extra["invariant_conjuncts"] = out.invariant_size  # type: ignore[attr-defined]
        extra["layout"] = opts.layout
        extra["invariant_found_by"] = out.method  # type: ignore[attr-defined]
        if out.mined is not None:  # type: ignore[attr-defined]
            extra["mined"] = out.mined  # type: ignore[attr-defined]
        if opts.free:
            extra["free_fields"] = list(opts.free)
        if getattr(out, "seed", None) is not None:
            extra["deciding_seed"] = out.seed  # type: ignore[attr-defined]
        if out.dropped is not None:  # type: ignore[attr-defined]
            extra["outside_cone"] = list(out.dropped)  # type: ignore[attr-defined]
        extra["background_facts"] = len(houdini_facts.facts) if houdini_facts else 0
        extra["houdini_seconds"] = round(houdini_facts.seconds, 3) if houdini_facts else 0.0
        return
    rows = out.rows  # type: ignore[attr-defined]
    gen = out.clauses  # type: ignore[attr-defined]
    extra["invariant_kind"] = "reachable set"
    extra["certificate_check"] = out.method  # type: ignore[attr-defined]
    extra["invariant_states"] = len(rows)
    extra["explicit_states"] = out.states  # type: ignore[attr-defined]
    extra["check_seconds"] = out.timings  # type: ignore[attr-defined]
    extra["reachable_summary"] = summary(enc, rows)
    if gen is not None:
        extra["clause_queries"] = gen.queries
        named = z3.substitute(z3.And(*gen.clauses[1:]),
                              *[(x, z3.Const(leaf.name, x.sort())) for x, leaf in zip(enc.x, enc.leaves)])
        text, size = readable(named, enc.leaves) if len(gen.clauses) > 1 else ("", 0)
        extra["invariant"] = f"{prop.name}\n{text}" if text else prop.name
        extra["invariant_conjuncts"] = size + 1
        extra["invariant_kind"] = "clauses"


def _refutation(enc: Encoding, prop: Property, names: tuple[str, ...], opts: ProveOptions,
                known_depth: int = 0) -> Trace | None:
    """The shortest counterexample with only ``names`` in force, found by BMC and replayed in the
    spec with exactly those assumptions (None when BMC ran out of time). ``known_depth``: the
    explicit search's shortest length, which BMC confirms instead of climbing to it."""
    found = shortest_trace(enc, prop, enforce(names), opts.limits, opts.trace_depth,
                           compiled=with_assumptions(enc.compiled, names), known_depth=known_depth)
    return found.trace if found.status == "found" and not found.fault else None


def _same_length(cert: CertificateOutcome, depth: int) -> None:
    """BMC's shortest counterexample must be as long as the explicit search's (both are shortest)."""
    if cert.depth != depth:
        raise EngineBug(f"BMC's shortest counterexample has {depth} steps, the explicit search's {cert.depth}")


def _with_cti(extra: dict, out: object) -> dict:
    cti = getattr(out, "cti", None)
    if cti is not None:
        extra["cti"] = cti
    return extra
