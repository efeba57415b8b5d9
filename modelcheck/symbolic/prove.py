"""The symbolic engine's entry point: prove or refute each property of one configuration with z3.

Engines: ``spacer`` (default; a proof for executions of any length, with the inductive
invariant), ``kind`` (k-induction, to cross-check) and ``bmc`` (a bounded search). Every
counterexample is replayed through the spec before it is returned; a solver ``unknown`` or
timeout is UNKNOWN with its reason, never a proof.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import z3

from ..spec import Compiled, Property, Spec, compile_spec
from ..verdict import PropertyResult, Verdict
from .assumptions import minimal_core
from .bmc import bmc, shortest_trace
from .chc import spacer
from .encode import Encoding, Guards
from .houdini import HoudiniOutcome, houdini
from .kinduction import k_induction

ENGINES = ("spacer", "kind", "bmc")


@dataclass
class ProveOptions:
    """How to prove: the engine, BMC depth, k-induction's largest k, and the per-query timeout."""

    engine: str = "spacer"
    depth: int = 20
    max_k: int = 30
    timeout_ms: int = 60000
    trace_budget_s: float = 60.0
    minimise: bool = True


@dataclass
class ProveRun:
    """A finished symbolic run: the flattened spec, its encoding, and one result per property."""

    compiled: Compiled
    encoding: Encoding
    results: list[PropertyResult] = field(default_factory=list)
    encode_seconds: float = 0.0


def enforce(names: Iterable[str]) -> Guards:
    """Guards that apply exactly the named assumptions."""
    return {n: z3.BoolVal(True) for n in names}


def prove(spec: Spec, properties: Iterable[str] | None = None, options: ProveOptions | None = None) -> ProveRun:
    """Encode ``spec`` once and judge each chosen property with the chosen engine."""
    opts = options or ProveOptions()
    compiled = compile_spec(spec)
    chosen = compiled.select(list(properties or []))
    started = time.perf_counter()
    enc = Encoding(compiled, timeout_ms=opts.timeout_ms)
    run = ProveRun(compiled, enc, encode_seconds=time.perf_counter() - started)
    for prop in chosen:
        run.results.append(judge(enc, prop, opts))
    return run


def judge(enc: Encoding, prop: Property, opts: ProveOptions) -> PropertyResult:
    """One property with one engine."""
    started = time.perf_counter()
    active = tuple(enc.assumption_names)
    base = dict(name=prop.name, kind=prop.kind, engine=opts.engine, assumptions=active)
    extra: dict = {"assumptions_active": list(active), "paths": enc.stats.paths,
                   "encode_seconds": round(enc.stats.seconds, 3)}
    if prop.kind == "at_end" and opts.engine != "bmc":
        return PropertyResult(verdict=Verdict.UNKNOWN, reason="the symbolic engine does not judge at_end "
                              "properties (no check for executions that run forever); use bmc or check",
                              seconds=0.0, extra=extra, **base)
    if opts.engine == "bmc":
        out = bmc(enc, prop, opts.depth, enforce(active), opts.timeout_ms)
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

    def attempt(names: tuple[str, ...]) -> tuple[str, object]:
        guards = enforce(names)
        bad, crash = enc.property_bad(prop, guards)
        if opts.engine == "kind":
            kout = k_induction(enc, prop, guards, opts.max_k, opts.timeout_ms, check_replay=names == active)
            status = {"proved": "PROVED", "found": "VIOLATED"}.get(kout.status, "UNKNOWN")
            return status, kout
        if names not in facts:
            facts[names] = houdini(enc, guards, opts.timeout_ms)
        cout = spacer(enc, z3.Or(bad, crash, enc.fault(guards)), guards, opts.timeout_ms, facts[names].facts)
        status = {"proved": "PROVED", "reachable": "VIOLATED"}.get(cout.status, "UNKNOWN")
        if prop.kind == "sometimes":
            status = {"PROVED": "VIOLATED", "VIOLATED": "HOLDS"}.get(status, status)
        return status, cout

    status, out = attempt(active)
    if status == "UNKNOWN":
        return PropertyResult(verdict=Verdict.UNKNOWN, reason=out.reason, seconds=time.perf_counter() - started,  # type: ignore[attr-defined]
                              extra=_with_cti(extra, out), **base)
    if status == "PROVED":
        if opts.engine == "kind":
            extra["k"] = out.k  # type: ignore[attr-defined]
        else:
            extra["invariant"] = out.invariant  # type: ignore[attr-defined]
            extra["invariant_conjuncts"] = out.invariant_size  # type: ignore[attr-defined]
            extra["background_facts"] = len(facts[active].facts)
            extra["houdini_seconds"] = round(facts[active].seconds, 3)
        extra["proof_seconds"] = round(time.perf_counter() - started, 3)
        if opts.minimise and active:
            core = minimal_core(active, lambda names: attempt(names)[0])
            base["assumptions"] = core.needed
            extra["without"] = core.without
        return PropertyResult(verdict=Verdict.PROVED, seconds=time.perf_counter() - started, extra=extra, **base)
    if prop.kind == "sometimes" and status == "VIOLATED":
        return PropertyResult(verdict=Verdict.VIOLATED, reason="no reachable state is a witness",
                              seconds=time.perf_counter() - started, extra=extra, **base)
    # a bad state is reachable: find the shortest trace to it (and replay it)
    trace = getattr(out, "trace", None)
    if trace is None or opts.engine != "kind":
        found = shortest_trace(enc, prop, enforce(active), opts.timeout_ms, opts.trace_budget_s)
        if found.status != "found":
            return PropertyResult(verdict=Verdict.UNKNOWN, seconds=time.perf_counter() - started, extra=extra,
                                  reason=f"the prover found a bad state reachable but BMC found no trace: "
                                  f"{found.reason}", **base)
        if found.fault:
            from ..errors import SpecError

            steps = ", ".join(enc.compiled.show_step(st) for st, _ in found.trace.steps) or "(initial state)"  # type: ignore[union-attr]
            raise SpecError(f"reachable after [{steps}]: an action or property raises, or sets a field "
                            "outside its type", fix="run `modelcheck check` on this configuration to see where")
        trace = found.trace
    verdict = Verdict.HOLDS if prop.kind == "sometimes" else Verdict.VIOLATED
    return PropertyResult(verdict=verdict, trace=trace, depth=len(trace), seconds=time.perf_counter() - started,
                          extra=extra, **base)


def _with_cti(extra: dict, out: object) -> dict:
    cti = getattr(out, "cti", None)
    if cti is not None:
        extra["cti"] = cti
    return extra
