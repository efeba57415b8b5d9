"""``modelcheck prove --parametric``: printing and JSON of parametric verdicts (called by symbolic/cli)."""

from __future__ import annotations

import argparse
from typing import Any

from ..atomic import write_text
from ..check import configure
from ..loader import parse_settings
from ..symbolic.encode import Limits
from ..trace import dumps, format_trace, trace_to_json
from ..verdict import PropertyResult, Verdict, exit_code, verdict_word
from .prove import ParametricOptions, ParametricRun, prove_parametric

SHOWN = 40  # invariant clauses printed; --json has them all


def run(args: argparse.Namespace, limits: Limits) -> int:
    """Prove each chosen property for every program, qdepth and budget; the exit code as ``prove --help`` says."""
    settings = parse_settings(args.set)
    spec = configure(args.spec, settings)
    opts = ParametricOptions(depth=args.depth if args.depth != 20 else ParametricOptions.depth, limits=limits)
    result = prove_parametric(spec, args.property, {k: str(v) for k, v in settings.items()},
                              lambda s: configure(args.spec, s), opts)
    fixed = ", ".join(f"{k}={v}" for k, v in spec.params.items()
                      if k not in ("workload", "qdepth") and k not in _budgets(result))
    print(f"{type(spec).__name__} per request ({fixed})")
    print(f"  parametric description {type(result.desc).__name__} checked against the spec on "
          f"{len(result.checked)} configurations ({sum(r.states for r in result.checked)} states, "
          f"{sum(r.steps for r in result.checked)} steps; same initial states, steps and property values); "
          f"{result.candidates} candidate clauses mined from their states")
    for r in result.results:
        print(format_line(r))
    if not args.quiet:
        for r in result.results:
            show(r)
    if args.json:
        write_text(args.json, dumps(to_json(result)))
    return exit_code([r.verdict for r in result.results])


def _budgets(run: ParametricRun) -> list[str]:
    return [s.name for s in run.desc.symbols() if s.static and s.kind == "int"]


def format_line(r: PropertyResult) -> str:
    line = f"{r.name:<22} {verdict_word(r.kind, r.verdict.value):<18} parametric {r.seconds:6.2f}s"
    if r.verdict is Verdict.PROVED:
        # "needs" elsewhere means "refuted without it"; the parametric prover does not minimise its assumptions
        line += f"  under: {', '.join(r.assumptions) or 'no assumption'} (assumptions not minimised)"
        if "invariant" in r.extra:
            how = "minimised" if r.extra.get("invariant_minimal") else "reduced, not minimised"
            line += f"  invariant: {len(r.extra['invariant'])} clauses, {how}"
    if r.trace is not None:
        line += f"  ({len(r.trace)} steps)"
    if r.reason:
        line += f"  ({r.reason})"
    return line


def show(r: PropertyResult) -> None:
    if r.extra.get("invariant"):
        lines = r.extra["invariant"]
        how = ("minimised: no single clause can go and leave the rest inductive" if r.extra.get("invariant_minimal")
               else f"reduced, not minimised: {r.extra.get('invariant_not_minimal_because', '?')}")
        print(f"\ninductive invariant for {r.name} ({len(lines)} clauses, {how}; from the "
              f"{r.extra['invariant_kept']} inductive candidates; checked again by z3, initiation and every step, "
              f"for any number of requests):")
        for line in lines[:SHOWN]:
            print(f"  {line}")
        if len(lines) > SHOWN:
            print(f"  ... and {len(lines) - SHOWN} more (all of them in --json, extra.invariant)")
    if r.trace is not None:
        settings = " ".join(f"{k}={v}" for k, v in r.extra["configuration"].items())
        print(f"\ncounterexample to {r.name} ({len(r.trace)} steps, found by BMC of the parametric description, "
              f"replayed in the explicit engine at {settings}):")
        print(format_trace(r.extra["compiled"], r.trace))


def to_json(run: ParametricRun) -> dict[str, Any]:
    results = []
    for r in run.results:
        extra = {k: v for k, v in r.extra.items() if k not in ("compiled", "conjuncts")}
        results.append({
            "property": r.name, "kind": r.kind, "verdict": r.verdict.value, "engine": "parametric",
            "seconds": round(r.seconds, 3), "reason": r.reason, "assumptions_needed": list(r.assumptions),
            "extra": extra,
            "trace": trace_to_json(r.extra["compiled"], r.trace) if r.trace is not None else None,
        })
    return {"spec": type(run.desc.spec).__name__, "params": dict(run.desc.spec.params), "engine": "parametric",
            "description": type(run.desc).__name__,
            "refinement": [{"settings": c.settings, "states": c.states, "steps": c.steps} for c in run.checked],
            "candidates": run.candidates, "results": results}
