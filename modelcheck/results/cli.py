"""The ``run`` and ``gate`` commands: parse their options, run the matrix, write results/, print, exit.

``modelcheck/cli.py`` wires them in with :func:`add_run_parser` and
:func:`add_gate_parser`; each sets ``run`` on the parsed arguments to the function
that carries the command out and returns its exit code.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import exitcodes
from ..atomic import check_writable, write_text
from ..errors import ResultsError, UsageError
from ..loader import cap_to_cores, positive_int
from ..verdict import EXIT_INCONCLUSIVE, EXIT_OK, EXIT_VIOLATION, Verdict
from . import gate, realdevice, store, tree
from .blocks import Block

EXIT_INTERRUPTED = exitcodes.INTERRUPTED
DEFAULT_MATRIX = "specs/matrix.toml"
DEFAULT_RESULTS = "results"

def add_run_parser(subparsers: Any) -> argparse.ArgumentParser:
    """``modelcheck run``: check the default matrix and write results/."""
    p = subparsers.add_parser(
        "run", help="check the default matrix and write results/ (verdicts, report, traces, pictures)",
        description="Check every case of the matrix and write results/: verdicts.json, REPORT.md, "
                    "traces/ (.txt, .json, .itf.json, .svg per counterexample) and graphs/ for tiny cases. "
                    "REPORT.md's real-device section shows the output's conformance.json (from `modelcheck "
                    "conform`) and the counterexample the spec's views name, replayed on QEMU when installed. "
                    "The new tree replaces the old one only once it is complete.",
        epilog=exitcodes.epilog("run"), formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(p)
    p.add_argument("--output", "-o", default=DEFAULT_RESULTS, metavar="DIR",
                   help=f"results directory to (re)write (default: {DEFAULT_RESULTS})")
    p.add_argument("--no-replay", action="store_true",
                   help="do not replay the spec's chosen counterexample on QEMU for the report's real-device section")
    p.add_argument("--distributed", action="store_true",
                   help="share whole cases out across MPI ranks (mpirun -n N python3 -m modelcheck run "
                        "--distributed ...; needs mpi4py); rank 0 writes the results")
    p.set_defaults(run=run_command)
    return p


def add_gate_parser(subparsers: Any) -> argparse.ArgumentParser:
    """``modelcheck gate``: recompute and compare with the committed results/."""
    p = subparsers.add_parser(
        "gate", help="recompute the matrix and compare with the committed results/ (exit 1 on any difference)",
        description="Recompute every case and compare, property by property, with results/verdicts.json: "
                    "a lost proof, a vanished counterexample, a changed verdict or count is a difference.",
        epilog=exitcodes.epilog("gate"), formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(p)
    p.add_argument("--results", default=DEFAULT_RESULTS, metavar="DIR",
                   help=f"committed results directory (default: {DEFAULT_RESULTS})")
    p.add_argument("--quick", action="store_true", help="only the cases of grids marked quick")
    p.add_argument("--update", action="store_true", help="rewrite results/ with the new verdicts, on purpose")
    p.add_argument("--junit", metavar="FILE", help="also write the comparison as JUnit XML to FILE")
    p.set_defaults(run=gate_command)
    return p


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--matrix", "-m", default=DEFAULT_MATRIX, metavar="FILE",
                   help=f"matrix file (default: {DEFAULT_MATRIX})")
    p.add_argument("--jobs", "-j", type=positive_int, metavar="N", help="worker processes (default: every core)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


# --------------------------------------------------------------------------- run


def _checked(args: argparse.Namespace) -> None:
    """Arguments checked before any work: --jobs capped at the core count (with a note)."""
    jobs, note = cap_to_cores(args.jobs, "--jobs")
    if note:
        print(f"modelcheck: {note}", file=sys.stderr)
        args.jobs = jobs


def run_command(args: argparse.Namespace) -> int:
    """Check the matrix and replace ``--output`` with the new results tree."""
    _checked(args)
    tree.check_output(args.output)
    conformance = read_conformance(args.output)
    try:
        doc, files = compute(args.matrix, jobs=args.jobs, progress=None if args.distributed else _bar(args),
                             with_files=True, device=Device(conformance, replay=not args.no_replay),
                             distributed=args.distributed)
        if doc is None:  # another rank of a shared-out run: rank 0 writes the results
            return EXIT_OK
        tree.write_tree(args.output, files)
    except KeyboardInterrupt:
        print(f"modelcheck: interrupted; {args.output}/ was left as it was", file=sys.stderr)
        return EXIT_INTERRUPTED
    counts = _counts(doc)
    print(f"wrote {args.output}/: {len(doc['cases'])} cases, {len(doc['records'])} verdicts "
          f"({counts['VIOLATED']} violated), {sum(p.startswith('traces/') and p.endswith('.svg') for p in files)} "
          f"counterexamples; read {args.output}/REPORT.md (or open {args.output}/index.html)")
    return EXIT_INCONCLUSIVE if counts["inconclusive"] else EXIT_OK


@dataclass(frozen=True)
class Device:
    """What the report's real-device section starts from: the conformance report, whether to replay."""

    conformance: dict[str, Any] | None = None
    replay: bool = True


def compute(matrix_path: str, *, quick: bool = False, jobs: int | None = None,
            progress: Callable[[int], Callable[[dict[str, Any]], None] | None] | None = None,
            with_files: bool = False, device: Device | None = None,
            distributed: bool = False) -> tuple[dict[str, Any], dict[str, str]]:
    """Run the matrix (only quick cases if asked): the verdicts document, and every results file if asked
    (with a real-device section in the report when ``device`` is given). With ``distributed`` the cases
    are shared out across MPI ranks, and every rank but 0 gets ``(None, {})``."""
    from ..matrix import load_matrix, run_cases, run_cases_on_ranks

    matrix = load_matrix(matrix_path)
    cases = [c for c in matrix.cases if c.quick or not quick]
    if not cases:
        raise UsageError(f"{matrix_path}: no case to run" + (" (no grid is marked quick)" if quick else ""))
    on_done = progress(len(cases)) if progress else None
    try:
        if distributed:
            records, rank = run_cases_on_ranks(cases, jobs, on_done=on_done)
            if rank:
                return None, {}  # type: ignore[return-value]
        else:
            records = run_cases(cases, jobs, on_done=on_done)
    finally:
        if on_done is not None and hasattr(on_done, "close"):
            on_done.close()
    bounds = {c.name: c.max_states for c in cases}
    doc = store.build_verdicts(records, matrix_path, bounds=bounds, jobs=jobs)
    if not with_files:
        return doc, {}
    spec_paths = {c.name: c.spec for c in cases}
    files = tree.data_files(doc, records, spec_paths)
    section = real_device(doc, files, spec_paths, device) if device is not None else []
    tree.add_report(files, doc, spec_paths, real_device=section)
    return doc, files


def read_conformance(output: str) -> dict[str, Any] | None:
    """``conformance.json`` of the results directory (None when absent); ResultsError, before any work,
    when it is there but not a conformance report."""
    path = Path(output) / realdevice.CONFORMANCE_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ResultsError(f"{path}: cannot read it as JSON ({err}); rerun `modelcheck conform` or remove it") from None
    if not isinstance(data, dict) or "profiles" not in data:
        raise ResultsError(f"{path}: not a `modelcheck conform` report (no 'profiles'); rerun `modelcheck conform` "
                           "or remove it")
    return data


def real_device(doc: dict[str, Any], files: dict[str, str], spec_paths: dict[str, str],
                device: Device) -> list[Block]:
    """The report's real-device section: the conformance report, and the counterexample the spec's
    views name (``Views.replay``) replayed on QEMU (a line saying why not, when it cannot be)."""
    replayed = None
    views = next((v for v in (tree.spec_views(spec_paths, part)[0] for _, part in tree.split_by_spec(doc))
                  if v.replay), None)
    if views is not None and views.replay:
        case, prop = views.replay
        rec = next((r for r in doc["records"] if r["case"] == case and r["property"] == prop and r["trace"]), None)
        if rec is None:
            replayed = realdevice.Replayed(case, prop)
        elif not device.replay:
            replayed = realdevice.Replayed(case, prop, rec["trace"], note="`--no-replay` was given.")
        else:
            replayed = replay_on_device(case, prop, rec["trace"], json.loads(files[rec["trace"] + ".json"]),
                                        spec_paths[case])
    return realdevice.section(device.conformance, replayed)


def replay_on_device(case: str, prop: str, stem: str, data: dict[str, Any], spec_path: str) -> realdevice.Replayed:
    """Replay a trace (its JSON) on QEMU; a missing or failing QEMU gives a note, never an error."""
    from ..conformance import replay as device_replay
    from ..conformance.errors import QemuUnavailable
    from ..loader import load_spec_class
    from ..spec import compile_spec
    from ..trace import trace_from_json

    try:
        compiled = compile_spec(load_spec_class(spec_path)(**data["params"]))
        trace = trace_from_json(compiled, data)
        result = device_replay.outcome(compiled, trace, data, source=stem + ".json")
    except QemuUnavailable as err:
        return realdevice.Replayed(case, prop, stem, note=f"{err}.")
    except Exception as err:  # a device that misbehaves must not cost the user the whole run
        return realdevice.Replayed(case, prop, stem, note=f"the replay failed ({type(err).__name__}: {err}).")
    return realdevice.Replayed(case, prop, stem, result["verdict"], tuple(device_replay.replay_lines(result)))


def _counts(doc: dict[str, Any]) -> dict[str, int]:
    verdicts = [Verdict(r["verdict"]) for r in doc["records"] if r["kind"] != "sometimes"]
    return {"VIOLATED": sum(v is Verdict.VIOLATED for v in verdicts),
            "inconclusive": sum(not v.conclusive for v in verdicts)}


# --------------------------------------------------------------------------- gate


def gate_command(args: argparse.Namespace) -> int:
    """Recompute, compare with the committed verdicts, print each difference; rewrite on --update."""
    if args.update and args.quick:
        raise UsageError("--update rewrites the whole results/; run it without --quick")
    _checked(args)
    check_writable(args.junit, "--junit")
    device = None
    if args.update:
        tree.check_output(args.results)
        device = Device(read_conformance(args.results))
    verdicts_path = Path(args.results) / store.VERDICTS_FILE
    committed = None
    try:
        committed = store.load(verdicts_path)
    except ResultsError as err:
        if not args.update:
            raise
        print(f"modelcheck: note: {err}; nothing to compare, rewriting", file=sys.stderr)
    try:
        fresh, files = compute(args.matrix, quick=args.quick, jobs=args.jobs, progress=_bar(args),
                               with_files=args.update, device=device)
    except KeyboardInterrupt:
        print(f"modelcheck: interrupted; {args.results}/ was left as it was", file=sys.stderr)
        return EXIT_INTERRUPTED
    differences = gate.compare(committed, fresh, quick=args.quick) if committed is not None else []
    for d in differences:
        print(d)
    if args.junit:
        write_text(args.junit, gate.junit_xml(fresh, differences))
    compared = len(fresh["records"])
    scope = "quick cases" if args.quick else "cases"
    if args.update:
        try:
            tree.write_tree(args.results, files)
        except KeyboardInterrupt:
            print(f"modelcheck: interrupted; {args.results}/ was left as it was", file=sys.stderr)
            return EXIT_INTERRUPTED
        print(f"gate: {len(differences)} difference(s); {args.results}/ rewritten with {compared} verdicts")
        return EXIT_OK
    if differences:
        props = len({(d.case, d.property, d.engine) for d in differences})
        print(f"gate: {len(differences)} difference(s) in {props} propert{'y' if props == 1 else 'ies'} "
              f"of {compared} compared ({len(fresh['cases'])} {scope}); if intended, run `modelcheck gate --update` "
              "and commit results/")
        return EXIT_VIOLATION
    print(f"gate: no difference in {compared} verdicts ({len(fresh['cases'])} {scope}) from {verdicts_path}")
    return EXIT_OK


def _bar(args: argparse.Namespace) -> Callable[[int], Any] | None:
    """A factory for a tqdm bar over cases, or None when quiet (asked, or stderr not a terminal)."""
    if args.no_progress or not sys.stderr.isatty():
        return None

    def make(total: int) -> Any:
        from tqdm import tqdm

        bar = tqdm(total=total, unit=" cases", file=sys.stderr, dynamic_ncols=True, leave=False)

        class Tick:
            def __call__(self, record: dict[str, Any]) -> None:
                bar.set_postfix_str(record["case"][-40:], refresh=False)
                bar.update(1)

            def close(self) -> None:
                bar.close()

        return Tick()

    return make
