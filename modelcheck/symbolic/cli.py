"""The ``prove`` subcommand: prove or refute properties with z3 (certificate, Spacer, k-induction, BMC).

Only this module of the symbolic package prints. The lead wires it into modelcheck/cli.py
with ``add_parser(sub)``; ``run(args)`` returns the exit code of :mod:`modelcheck.exitcodes`
(0 proved, 1 violated, 2 usage or spec error, 3 unknown or engine bug, 4 vacuous).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .. import exitcodes
from ..atomic import check_writable, write_text
from ..check import configure
from ..errors import EngineBug, UsageError
from ..loader import load_spec_class, non_negative_int, parse_settings, positive_float, positive_int
from ..spec import compile_spec
from ..trace import dumps, format_trace, trace_to_json
from ..verdict import EXIT_INCONCLUSIVE, EXIT_OK, PropertyResult, Verdict, exit_code, gating, verdict_word
from .encode import DEFAULT_RLIMIT, Limits
from .prove import ENGINES, ProveOptions, ProveRun, prove
from .saturation import prove_every

SHOWN_CLAUSES = 40
EXIT_VACUOUS = exitcodes.VACUOUS

EPILOG = exitcodes.epilog("prove")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``prove`` to the main parser's subcommands."""
    p = subparsers.add_parser(
        "prove", help="prove or refute properties with z3 (Spacer, k-induction, BMC)",
        description="Prove `always` properties for executions of any length (Spacer, k-induction) "
        "or search for a violation within K steps (BMC); report the assumptions a proof needs.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("spec", metavar="SPEC", help="spec file, e.g. specs/virtio_blk.py (or FILE:Class)")
    p.add_argument("--set", "-s", action="append", default=[], metavar="NAME=VALUE", help="set a parameter")
    p.add_argument("--property", "-p", action="append", default=[], metavar="NAME",
                   help="judge only this property (repeatable; default: all)")
    p.add_argument("--engine", choices=ENGINES, default="certificate",
                   help="certificate (default): z3 checks that the explicit search's reachable set is an inductive "
                   "invariant; spacer: z3's PDR finds one itself (slow on large configurations); kind: "
                   "k-induction; bmc: bounded search")
    p.add_argument("--layout", choices=("compact", "plain"), default="compact",
                   help="spacer: compact (default: a cone of influence and sequences as per-item positions, no "
                   "explicit search) or plain (every leaf, with Houdini facts mined from a bounded explicit search)")
    p.add_argument("--race", type=positive_int, default=1, metavar="N",
                   help="spacer: race N seeds (from --seed on) in processes of their own; the verdict does not "
                   "depend on which finishes first (default 1)")
    p.add_argument("--free", action="append", default=[], metavar="FIELD",
                   help="spacer: leave FIELD free at every step (any value of its type; repeatable), so that a "
                   "proof covers every value it could hold, e.g. every failure or migration budget")
    p.add_argument("--walks", type=non_negative_int, default=150, metavar="N",
                   help="spacer (compact): N seeded random walks suggest facts that Houdini filters with z3; when "
                   "they exclude every bad state they are the proof and Spacer does not run (default 150; 0: none)")
    p.add_argument("--generalise", action="store_true",
                   help="certificate: also derive readable clauses from the reachable set (z3-checked)")
    p.add_argument("--depth", type=positive_int, default=20, metavar="K", help="BMC: search K steps (default 20)")
    p.add_argument("--max-states", type=positive_int, default=200_000, metavar="N",
                   help="certificate: most reachable states searched (default 200000); past 2000 the "
                   "certificate is checked state by state over the symbolic paths")
    p.add_argument("--max-k", type=positive_int, default=30, metavar="K", help="k-induction: largest k (default 30)")
    p.add_argument("--rlimit", type=non_negative_int, default=DEFAULT_RLIMIT, metavar="N",
                   help=f"z3 resource limit per solver query, deterministic (default {DEFAULT_RLIMIT}; 0: none)")
    p.add_argument("--timeout", type=positive_float, default=None, metavar="SECONDS",
                   help="also a wall-clock limit per solver query (default none: verdicts then depend on load)")
    p.add_argument("--seed", type=non_negative_int, default=0, metavar="N",
                   help="z3's random seed (default 0; recorded)")
    p.add_argument("--no-core", action="store_true", help="do not minimise the assumptions a proof needs")
    p.add_argument("--every", metavar="PARAM",
                   help="prove for every allowed value of an integer parameter (e.g. qdepth): at each value up to "
                   "the one from which z3 finds the steps the same, which then covers the larger ones")
    p.add_argument("--parametric", action="store_true",
                   help="prove for every program, qdepth and budget at once: requests as an unbounded sort, through "
                   "the parametric description the spec names (PARAMETRIC), checked against the spec on small "
                   "configurations; a counterexample is replayed in the spec (docs/parametric.md)")
    p.add_argument("--json", metavar="FILE", help="also write verdicts, invariants, cores and traces as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="verdict lines only")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``prove`` and print the results; the exit code as documented in ``--help``."""
    check_writable(args.json, "--json")
    spec = configure(args.spec, parse_settings(args.set))
    limits = Limits(rlimit=args.rlimit, timeout_ms=int((args.timeout or 0) * 1000), seed=args.seed)
    options = ProveOptions(engine=args.engine, depth=args.depth, max_k=args.max_k, limits=limits,
                           minimise=not args.no_core, max_states=args.max_states,
                           generalise=args.generalise, layout=args.layout, seeds=args.race,
                           free=tuple(args.free), walks=args.walks)
    if args.parametric:
        from ..parametric.cli import run as run_parametric

        if args.every or args.free or args.engine != "certificate":
            raise UsageError("--parametric is an engine of its own and covers every qdepth and budget; fix: drop "
                             "--every, --free and --engine")
        return run_parametric(args, limits)
    if args.free and (args.engine != "spacer" or args.layout != "compact"):
        raise UsageError("--free leaves fields free in Spacer's compact layout only; fix: add --engine spacer "
                         "(and no --layout plain)")
    if args.every:
        return _run_every(args, options, limits)
    try:
        result = prove(spec, args.property, options)
    except EngineBug as err:
        print(f"modelcheck: ENGINE BUG: {err}", file=sys.stderr)
        print("modelcheck: a z3 counterexample did not replay in the explicit engine; "
              "the symbolic encoding is wrong -- please report it", file=sys.stderr)
        return EXIT_INCONCLUSIVE
    print(spec.describe())
    for r in result.results:
        print(format_line(r))
    if not args.quiet:
        for r in result.results:
            show_details(result, r)
    if args.json:
        write_text(args.json, dumps(to_json(result)))
    code = exit_code([_bmc_bound_is_the_answer(args.engine, v) for v in gating(result.results, args.property)])
    if code == EXIT_OK and any(r.extra.get("vacuous") for r in result.results):
        return EXIT_VACUOUS
    return code


def _run_every(args: argparse.Namespace, options: ProveOptions, limits: Limits) -> int:
    """``--every PARAM``: each property proved for every allowed value of PARAM (:mod:`.saturation`)."""
    spec_cls = load_spec_class(args.spec)
    settings = parse_settings(args.set)
    names = args.property or [p.name for p in compile_spec(configure(args.spec, settings)).select([])]
    try:
        outcomes = prove_every(spec_cls, settings, args.every, names,
                               lambda spec: prove(spec, args.property, options).results, limits)
    except EngineBug as err:
        print(f"modelcheck: ENGINE BUG: {err}", file=sys.stderr)
        return EXIT_INCONCLUSIVE
    if not outcomes:
        return EXIT_OK
    sat = outcomes[0].saturation
    values = sat.values
    print(f"{spec_cls.__name__}: every {args.every} in {values[0]}..{values[-1]}"
          + (f" ({', '.join(args.set)})" if args.set else ""))
    if sat.unknown:
        print(f"  {args.every} could not be shown to stop mattering ({sat.unknown}): proved at every value")
    elif sat.at < values[-1]:
        print(f"  from {args.every}={sat.at} on the steps are the same (z3: same fields, initial states, step "
              f"formulas, faults and properties under every subset of the assumptions); "
              f"{sat.differs or 'no smaller value'} differs")
    for o in outcomes:
        proved_at = [v for v, r in o.per_value.items() if r.verdict is Verdict.PROVED]
        by_core: dict[str, list[int]] = {}
        for v, r in o.per_value.items():
            by_core.setdefault(", ".join(r.assumptions) or "no assumption", []).append(v)
        cores = [core if len(by_core) == 1 else f"{core} ({args.every} {_span(vs)})" for core, vs in by_core.items()]
        line = f"{o.name:<22} {verdict_word(o.per_value[values[0]].kind, o.verdict.value):<18}"
        if o.verdict is Verdict.PROVED:
            line += (f" every {args.every}: proved at {args.every}={proved_at[0]}..{proved_at[-1]}"
                     f"{', which covers the rest' if sat.at < values[-1] else ''}; needs: {' / '.join(cores)}")
        elif o.deciding is not None:
            v = next(k for k, r in o.per_value.items() if r is o.deciding)
            line += f" at {args.every}={v}: {format_line(o.deciding).split(None, 1)[1]}"
        print(line)
        if o.deciding is not None and o.deciding.trace is not None and not args.quiet:
            print(f"\ncounterexample to {o.name} at {args.every}={v} ({len(o.deciding.trace)} steps, replayed):")
            print(format_trace(compile_spec(configure(args.spec, {**settings, args.every: str(v)})),
                               o.deciding.trace))
    if args.json:
        write_text(args.json, dumps({
            "spec": spec_cls.__name__, "every": args.every, "values": values, "same_from": sat.at,
            "differs": sat.differs, "unknown": sat.unknown,
            "results": [{"property": o.name, "verdict": o.verdict.value,
                         "per_value": {str(v): {"verdict": r.verdict.value, "assumptions_needed": list(r.assumptions),
                                                "reason": r.reason} for v, r in o.per_value.items()}}
                        for o in outcomes]}))
    code = exit_code([o.verdict for o in outcomes])
    vacuous = [f"{o.name} at {args.every}={v}" for o in outcomes for v, r in o.per_value.items()
               if r.extra.get("vacuous")]
    if vacuous:
        print(f"VACUOUS: {'; '.join(vacuous)} (its assumptions block an action or add a deadlock)")
        if code == EXIT_OK:
            return EXIT_VACUOUS
    return code


def _span(values: list[int]) -> str:
    return str(values[0]) if len(values) == 1 else f"{values[0]}..{values[-1]}"


def _bmc_bound_is_the_answer(engine: str, verdict: Verdict) -> Verdict:
    """BMC was asked to search --depth steps: no violation within them is its answer (exit 0), not a cut search."""
    return Verdict.HOLDS if engine == "bmc" and verdict is Verdict.HOLDS_UP_TO_BOUND else verdict


def format_line(r: PropertyResult) -> str:
    line = f"{r.name:<22} {verdict_word(r.kind, r.verdict.value):<18} {r.engine:<6} {r.seconds:6.2f}s"
    if r.verdict.value == "PROVED":
        line += f"  needs: {', '.join(r.assumptions) or 'no assumption'}"

        if "k" in r.extra:
            line += f"  (k={r.extra['k']})"
    if r.trace is not None:
        line += f"  ({len(r.trace)} steps)"
    if r.reason:
        line += f"  ({r.reason})"
    return line


def show_details(run: ProveRun, r: PropertyResult) -> None:
    if r.extra.get("invariant_kind") == "reachable set":
        how = "state by state" if r.extra.get("certificate_check") == "state by state" else "by z3"
        print(f"\ninductive invariant for {r.name}: the {r.extra['invariant_states']} reachable states of the "
              f"explicit search, checked {how} (initiation, consecution, safety) over the spec's symbolic steps")
        if r.extra.get("generalise_failed"):
            print(f"  (no readable clauses: {r.extra['generalise_failed']})")
        print("  in every reachable state:")
        for line in r.extra.get("reachable_summary", []):
            print(f"    {line}")
    elif r.extra.get("invariant"):
        plus = f", plus {r.extra['background_facts']} Houdini facts" if r.extra.get("background_facts") else ""
        how = " (generalised from the explicit search's reachable set, checked by z3)" \
            if r.extra.get("invariant_kind") == "clauses" else ""
        print(f"\ninductive invariant for {r.name} ({r.extra.get('invariant_conjuncts')} clauses{plus}){how}:")
        if r.extra.get("free_fields"):
            print(f"  (with {', '.join(r.extra['free_fields'])} free at every step: any value of their types)")
        mined = r.extra.get("mined")
        if r.extra.get("invariant_found_by") == "houdini" and mined:
            print(f"  (facts guessed from {mined['samples']} states of seeded random walks, {mined['candidates']} "
                  f"candidates, {mined['facts']} kept by Houdini (z3); they exclude every bad state: Spacer did "
                  "not run, and no explicit search)")
        if r.extra.get("outside_cone"):
            print(f"  (over the compact layout; fields outside the cone of influence: "
                  f"{', '.join(r.extra['outside_cone'])}; checked again over every field)")
        lines = r.extra["invariant"].splitlines()
        for line in lines[:SHOWN_CLAUSES]:
            print(f"  {line}")
        if len(lines) > SHOWN_CLAUSES:
            print(f"  ... {len(lines) - SHOWN_CLAUSES} more (all of them in --json)")
    if r.extra.get("without"):
        for name, verdict in r.extra["without"].items():
            print(f"  without {name}: {verdict}")
        for name, trace in r.extra.get("without_traces", {}).items():
            if trace is not None:
                print(f"\ncounterexample to {r.name} without {name} ({len(trace)} steps, found by BMC, "
                      "replayed in the explicit engine):")
                print(format_trace(run.compiled, trace))
    if r.trace is not None:
        what = "witness of" if r.trace.kind == "witness" else "counterexample to"
        print(f"\n{what} {r.name} ({len(r.trace)} steps, replayed in the explicit engine):")
        print(format_trace(run.compiled, r.trace))
    for kind, trace in r.extra.get("vacuity_traces", {}).items():
        print(f"\nvacuity of {r.name} ({kind.replace('_', ' ')}): the place, reached in {len(trace)} steps:")
        print(format_trace(run.compiled, trace))
    if r.extra.get("vacuity_undetermined"):
        print(f"  vacuity undetermined for {', '.join(r.extra['vacuity_undetermined'])}: "
              f"not seen allowed within {r.extra.get('vacuity_states')} states")
    cti = r.extra.get("cti")
    if cti is not None:
        print(f"\ncounterexample to induction for {r.name} (need not start in an initial state):")
        print(format_trace(run.compiled, cti))


def to_json(run: ProveRun) -> dict[str, Any]:
    spec = run.compiled.spec
    results = []
    for r in run.results:
        extra = {k: v for k, v in r.extra.items() if k not in ("cti", "without_traces", "vacuity_traces")}
        if r.extra.get("vacuity_traces"):
            extra["vacuity_traces"] = {kind: trace_to_json(run.compiled, t)
                                       for kind, t in r.extra["vacuity_traces"].items()}
        if r.extra.get("without_traces"):
            extra["without_traces"] = {name: trace_to_json(run.compiled, t) if t is not None else None
                                       for name, t in r.extra["without_traces"].items()}
        results.append({
            "property": r.name, "kind": r.kind, "verdict": r.verdict.value, "engine": r.engine,
            "seconds": round(r.seconds, 3), "reason": r.reason, "assumptions_needed": list(r.assumptions),
            "extra": extra,
            "trace": trace_to_json(run.compiled, r.trace) if r.trace is not None else None,
        })
    return {"spec": type(spec).__name__, "params": dict(spec.params), "engine": "symbolic",
            "encode_seconds": round(run.encode_seconds, 3), "results": results}
