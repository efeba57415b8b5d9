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
from ..loader import positive_int
from .conform import CONFORMS, DEFAULT_PROFILES, DEFAULT_SPEC, conform
from .errors import QemuError

EXIT_OK, EXIT_NONE_CONFORMS, EXIT_USAGE, EXIT_INCONCLUSIVE = 0, 1, 2, 3

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
    p.add_argument("--output", "-o", default="results/conformance.json", metavar="FILE",
                   help="write the report as JSON here (default: results/conformance.json)")
    p.add_argument("--repeat", type=positive_int, default=1, metavar="N",
                   help="run each scenario N times and judge every distinct observation (default: 1)")
    p.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                   help="deadline of every wait on QEMU (default: 5)")
    p.add_argument("--keep", metavar="DIR",
                   help="where QEMU's stderr and trace log go when it fails (default: a new temp dir)")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the conformance check; print one line per profile; write the JSON report."""
    try:
        report = conform(args.profile or None, spec=args.spec, repeat=args.repeat, timeout=args.timeout,
                         keep=Path(args.keep) if args.keep else None)
    except QemuError as err:
        print(f"modelcheck conform: inconclusive: {err}", file=sys.stderr)
        return EXIT_INCONCLUSIVE
    write_text(args.output, json.dumps(report, sort_keys=True, indent=2) + "\n")
    for line in render(report):
        print(line)
    print(f"wrote {args.output}")
    return EXIT_OK if report["conforming"] else EXIT_NONE_CONFORMS


def render(report: dict[str, Any]) -> list[str]:
    """The printed summary: QEMU's version, the observations, one verdict per profile."""
    lines = [f"QEMU {report['qemu']['version']} ({report['qemu']['binary']})"]
    for obs in report["observations"]:
        names = obs["workload"].split()
        lines.append(f"  {obs['scenario']} ({obs['workload']}): failed {_ids(obs['failure_order'], names)}; "
                     f"restarted {_ids(obs['restart_order'], names)}; "
                     f"used ring at stop {_pairs(obs['used_at_stop'], names)}, "
                     f"at end {_pairs(obs['used_final'], names)}")
    width = max(len(p) for p in report["profiles"])
    for profile, verdict in report["profiles"].items():
        if verdict["verdict"] == CONFORMS:
            lines.append(f"{profile:<{width}}  conforms")
            continue
        refuted = verdict["refuted_by"]
        mismatch = refuted.get("mismatch") or {}
        lines.append(f"{profile:<{width}}  refuted by {refuted['scenario']}")
        channel, pad = mismatch.get("channel"), " " * width
        lines.append(f"{pad}    observed {channel}: {' '.join(mismatch.get('observed', []))}")
        lines.append(f"{pad}    allowed  {channel}: {' '.join(mismatch.get('allowed', []))}")
    return lines


def _ids(items: list[int], names: list[str]) -> str:
    return " ".join(names[i] for i in items) or "-"


def _pairs(items: list[list[Any]], names: list[str]) -> str:
    return " ".join(f"{names[r]}:{s}" for r, s in items) or "-"


