"""The ``modelcheck conform`` subcommand: run the scenarios on QEMU, print each profile's verdict.

Only this module of the package prints. The lead's CLI wires it in with
``conformance.cli.add_parser(sub)``; the parser's ``run`` default is :func:`run`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .. import exitcodes
from ..atomic import write_text
from ..errors import UsageError
from ..loader import positive_int
from .conform import CONFORMS, DEFAULT_PROFILES, DEFAULT_SPEC, conform
from .errors import QemuError
from .replay import DIVERGED, replay, replay_lines
from .validate import Mismatch

EXIT_OK, EXIT_NONE_CONFORMS, EXIT_USAGE, EXIT_INCONCLUSIVE = 0, 1, 2, 3
GENERATE, SEED = 24, 1  # the committed results/conformance.json is written with these

EXIT_CODES = exitcodes.epilog("conform")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``conform`` to an argparse subparsers object; sets ``run`` as its default."""
    p = subparsers.add_parser(
        "conform", help="hold the spec's profiles against the real QEMU virtio-blk device",
        description="Run scenarios on QEMU (qemu-system-x86_64 with qtest; ENOSPC injected with "
        "blkdebug; stop, migrate, cont), then check that each observation is a path of each "
        "profile's spec configuration.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", "-P", action="append", default=[], metavar="NAME",
                   help=f"a profile to judge (repeatable; default: {' '.join(DEFAULT_PROFILES)})")
    p.add_argument("--spec", default=DEFAULT_SPEC, metavar="FILE",
                   help=f"spec file with a 'profile' parameter (default: {DEFAULT_SPEC})")
    p.add_argument("--output", "-o", default=None, metavar="FILE",
                   help="write the report as JSON here (default: results/conformance.json; "
                   "with --replay: nowhere)")
    p.add_argument("--replay", metavar="TRACE.json",
                   help="replay a spec trace (results/traces/*.json) on QEMU step by step instead")
    p.add_argument("--repeat", type=positive_int, default=1, metavar="N",
                   help="run each scenario N times and judge every distinct observation (default: 1)")
    p.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                   help="deadline of every wait on QEMU (default: 5)")
    p.add_argument("--generate", type=int, default=GENERATE, metavar="N",
                   help="also run N scenarios drawn from the generating configuration's reachability "
                   f"graph, and report the coverage real runs reach (default: {GENERATE}; 0: none)")
    p.add_argument("--seed", type=int, default=SEED, metavar="S",
                   help=f"seed of --generate (same seed, same scenarios; default: {SEED})")
    p.add_argument("--keep", metavar="DIR",
                   help="where QEMU's stderr and trace log go when it fails (default: a new temp dir)")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the conformance check; print one line per profile; write the JSON report."""
    if args.replay:
        return run_replay(args)
    args.output = args.output or "results/conformance.json"
    if args.generate < 0:
        raise UsageError(f"--generate {args.generate}: give a number of scenarios, 0 or more")
    try:
        report, timing = conform(args.profile or None, spec=args.spec, repeat=args.repeat, timeout=args.timeout,
                                 keep=Path(args.keep) if args.keep else None, generated=args.generate,
                                 seed=args.seed)
    except QemuError as err:
        print(f"modelcheck conform: inconclusive: {err}", file=sys.stderr)
        return EXIT_INCONCLUSIVE
    write_text(args.output, json.dumps(report, sort_keys=True, indent=2) + "\n")
    sidecar = timing_path(args.output)
    write_text(sidecar, json.dumps(timing, sort_keys=True, indent=2) + "\n")
    for line in render(report):
        print(line)
    print(f"QEMU {timing['binary']}: scenarios ran in {timing['qemu_total']:.1f} s, "
          f"{timing['total']:.1f} s in all")
    print(f"wrote {args.output} (timings in {sidecar})")
    return EXIT_OK if report["conforming"] else EXIT_NONE_CONFORMS


def run_replay(args: argparse.Namespace) -> int:
    """Replay one trace on QEMU; print the steps and the evidence; exit 1 when it diverged."""
    try:
        outcome = replay(args.replay, spec=args.spec, timeout=args.timeout,
                         keep=Path(args.keep) if args.keep else None)
    except QemuError as err:
        print(f"modelcheck conform: inconclusive: {err}", file=sys.stderr)
        return EXIT_INCONCLUSIVE
    for line in replay_lines(outcome):
        print(line)
    if args.output:
        write_text(args.output, json.dumps(outcome, sort_keys=True, indent=2) + "\n")
        print(f"wrote {args.output}")
    return EXIT_NONE_CONFORMS if outcome["verdict"] == DIVERGED else EXIT_OK


def timing_path(output: str) -> str:
    """Where the timings go beside the report: ``x.json`` -> ``x.timing.json`` (git-ignored)."""
    path = Path(output)
    return str(path.with_name(path.stem + ".timing.json"))


def render(report: dict[str, Any]) -> list[str]:
    """The printed summary: QEMU's version, the observations, coverage, one verdict per profile."""
    lines = [f"QEMU {report['qemu']['version']}"]
    for obs in report["observations"]:
        names = obs["workload"].split()
        lines.append(f"  {obs['scenario']} ({obs['workload']}): failed {_ids(obs['failure_order'], names)}; "
                     f"restarted {' / '.join(_ids(o, names) for o in obs['restart_order']) or '-'}; "
                     f"used ring {_used(obs['used'], names)}"
                     + (f"; queue 1's {_used(obs['used1'], names)}" if obs.get("used1") else "")
                     + f"; durable {_sets(obs['durable'])}; "
                     f"device flushes {obs['flushes']}")
    gen = report.get("generated")
    if gen:
        cov = gen["coverage"]
        lines.append(f"generated: {gen['count']} scenarios (seed {gen['seed']}) from "
                     f"{gen['configuration']['workload']!r}; valid for "
                     + ", ".join(f"{p} {n}/{gen['count']}" for p, n in gen["valid"].items()))
        for what in ("action_instances", "transitions", "states"):
            c = cov[what]
            lines.append(f"  {what.replace('_', ' ')} matched by real runs: {c['matched']}/{c['total']} "
                         f"({100 * (c['fraction'] or 0):.1f}%)")
        lines.append("  transitions matched per action: " + ", ".join(
            f"{a} {c['matched']}/{c['total']}" for a, c in cov["transitions_by_action"].items()))
        missed = cov["unmatched_instances"]
        lines.append(f"  instances no real run produced: {', '.join(missed) if missed else 'none'}")
    lines += _flush_errors(report.get("flush_errors"))
    width = max(len(p) for p in report["profiles"])
    for profile, verdict in report["profiles"].items():
        if verdict["verdict"] == CONFORMS:
            lines.append(f"{profile:<{width}}  conforms")
            continue
        refuted = verdict["refuted_by"]
        lines.append(f"{profile:<{width}}  refuted by {refuted['scenario']}")
        if refuted.get("mismatch"):
            lines += [" " * (width + 4) + line for line in Mismatch(**refuted["mismatch"]).side_by_side()]
    return lines


def _flush_errors(part: dict[str, Any] | None) -> list[str]:
    """The persistent flush error scenarios: what the device did, and which flush_error setting matches."""
    if not part:
        return []
    lines = []
    for obs in part["observations"]:
        names = obs["workload"].split()
        conts = sum(1 for e in obs["used"] if e[0] == "cont")
        lines.append(f"  {obs['scenario']} ({obs['workload']}, every flush fails): failed "
                     f"{_ids(obs['failure_order'], names)}; stops {obs['stop_events']}, conts {conts}; used ring "
                     f"{_used(obs['used'], names)}; durable {_sets(obs['durable'])}; device flushes {obs['flushes']}")
        for setting, verdict in part["verdicts"].get(obs["scenario"], {}).items():
            word = "matches" if verdict["matches"] else "refuted"
            lines.append(f"    flush_error={setting:<9}  {word}")
            mismatch = verdict.get("mismatch")
            if mismatch and mismatch["channel"] != "all":
                lines += [" " * 6 + line for line in Mismatch(**mismatch).side_by_side()]
            elif mismatch:
                lines.append(" " * 6 + "no path of it matches, even with any one channel left free")
    return lines


def _ids(items: list[int], names: list[str]) -> str:
    return " ".join(names[i] for i in items) or "-"


def _used(events: list[list[Any]], names: list[str]) -> str:
    return " ".join(f"{names[e[1]]}:{e[2]}" if e[0] == "push" else "|cont|" for e in events) or "-"


def _sets(sets: list[list[int]]) -> str:
    return " ".join("{" + ",".join(f"s{s}" for s in d) + "}" for d in sets) or "-"


