"""The command line: parses argv, runs an engine, prints, and returns the exit code.

Only this module prints, reads argv or decides exit codes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from typing import Any

from . import __version__, exitcodes
from .atomic import check_writable, write_text
from .check import CheckRun, check, configure
from .errors import ModelcheckError, UsageError
from .explicit import Progress, SearchOptions
from .explicit.memory import in_memory_filesystem, peak_resident, show
from .explicit.memory import parse as parse_size
from .explicit.plan import BACKENDS
from .explicit.ranks import launched_rank
from .graph import reachability_graph, to_dot, write_graphml
from .loader import cap_to_cores, parse_settings, positive_int
from .profile import Row as ProfileRow
from .profile import profile
from .profile import to_json as profile_json
from .simulate import simulate
from .simulate import to_json as simulation_json
from .spec import compile_spec
from .trace import dumps, format_trace, trace_to_json
from .verdict import EXIT_USAGE, PropertyResult, Verdict, exit_code, gating, verdict_word

EXIT_INTERRUPTED = exitcodes.INTERRUPTED


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None and hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `modelcheck check ... | head` ends quietly, as Unix tools do
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except ModelcheckError as err:
        if not (getattr(args, "distributed", False) and launched_rank()):  # every rank fails alike: rank 0 says it
            print(f"modelcheck: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("modelcheck: interrupted; no output file was written or changed", file=sys.stderr)
        return EXIT_INTERRUPTED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelcheck",
        description="Explore every interleaving of a spec and check its properties.",
        epilog=exitcodes.epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"modelcheck {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _command(sub, "check", "explore a configuration exhaustively and judge its properties", run_check)
    _spec_args(p)
    p.add_argument("--property", "-p", action="append", default=[], metavar="NAME",
                   help="check only this property (repeatable; default: all)")
    _bound_args(p)
    p.add_argument("--json", metavar="FILE", help="also write verdicts and traces as JSON to FILE")
    p.add_argument("--quiet", "-q", action="store_true", help="verdict lines only, no traces")
    p.add_argument("--profile", action="store_true",
                   help="per action: steps generated, distinct new states, the BFS level where it adds most "
                        "(a table after the verdicts; per instance too in --json)")
    p.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="auto (default): the interpreted search, moving to generated code (native where a C "
                        "compiler exists, else compiled Python) once the space is large; or force one")
    p.add_argument("--interpreted", dest="backend", action="store_const", const="interpreted",
                   help="force the interpreted search (same as --backend interpreted)")
    p.add_argument("--compiled", dest="backend", action="store_const", const="compiled",
                   help="force generated Python successor code (same result; falls back to plain with a note)")
    p.add_argument("--dump-compiled", metavar="FILE", help="write the generated Python successor code (if any) to FILE")
    p.add_argument("--native", dest="backend", action="store_const", const="native",
                   help="force the compiled code and a compact-store search as C (needs a C compiler; same "
                        "result; one process, a level expanded on every core, or on --workers threads; falls back to "
                        "the Python search with a note)")
    p.add_argument("--symmetry", action="store_true",
                   help="collapse states that differ only by interchangeable requests (the spec's symmetry())")
    p.add_argument("--por", action="store_true",
                   help="partial-order reduction (same verdicts; traces then not necessarily shortest)")
    _cluster_args(p)

    p = _command(sub, "matrix", "check every configuration of a matrix file and print the verdict table",
                 run_matrix)
    p.add_argument("file", nargs="?", default="specs/matrix.toml", metavar="FILE",
                   help="matrix file (default: specs/matrix.toml)")
    p.add_argument("--where", "-w", action="append", default=[], metavar="NAME=VALUE",
                   help="only cases with this setting (repeatable; NAME may be 'group')")
    p.add_argument("--quick", action="store_true", help="only the grids marked quick")
    p.add_argument("--jobs", "-j", type=positive_int, metavar="N", help="worker processes (default: every core)")
    p.add_argument("--json", metavar="FILE", help="also write every record (verdicts and traces) as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--distributed", action="store_true",
                   help="share whole cases out across MPI ranks (mpirun -n N python3 -m modelcheck matrix "
                        "--distributed ...; needs mpi4py); rank 0 prints")

    p = _command(sub, "list", "show a spec's parameters, assumptions, actions and properties", run_list)
    _spec_args(p)

    p = _command(sub, "graph", "export the reachability graph as DOT or GraphML", run_graph)
    _spec_args(p)
    _bound_args(p)
    p.add_argument("--format", choices=("dot", "graphml"), default="dot")
    p.add_argument("--output", "-o", metavar="FILE", help="write here (default: standard output; graphml needs a file)")

    p = _command(sub, "simulate", "seeded random walks: find violations when a space is too big to enumerate "
                 "(finding none is not a proof)", run_simulate)
    _spec_args(p)
    p.add_argument("--property", "-p", action="append", default=[], metavar="NAME",
                   help="judge only this property (repeatable; default: all; sometimes properties are not judged)")
    p.add_argument("--depth", type=positive_int, default=50, metavar="D", help="steps per walk at most (default 50)")
    budget = p.add_mutually_exclusive_group(required=True)
    budget.add_argument("--walks", type=positive_int, metavar="N", help="run N walks (deterministic for a seed)")
    budget.add_argument("--time", type=positive_int, metavar="S",
                        help="walk for S seconds (how many walks depends on the machine)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--workers", type=positive_int, metavar="N",
                   help="processes sharing the walks (default: every core; the outcome is the same for any N)")
    p.add_argument("--swarm", type=positive_int, default=1, metavar="K",
                   help="K differently seeded and biased searches (action weights, depth bounds); "
                        "coverage per search and as their union")
    p.add_argument("--json", metavar="FILE", help="also write the violation, its traces and the coverage as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="no traces")

    from .conformance import cli as conformance_cli

    conformance_cli.add_parser(sub)

    from .symbolic import cli as symbolic_cli

    symbolic_cli.add_parser(sub)

    from .results import cli as results_cli

    results_cli.add_run_parser(sub)
    results_cli.add_gate_parser(sub)
    return parser


def _command(sub: Any, name: str, help_text: str, run: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_text, description=help_text, epilog=exitcodes.epilog(name),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(run=run)
    return p


def _spec_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC", help="spec file, e.g. specs/virtio_blk.py (or FILE:Class)")
    p.add_argument("--set", "-s", action="append", default=[], metavar="NAME=VALUE",
                   help="set a parameter (repeatable); `modelcheck list SPEC` shows them")


def _bound_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-states", type=positive_int, metavar="N", help="stop after N distinct states")
    p.add_argument("--max-depth", type=positive_int, metavar="N", help="do not go deeper than N steps")
    p.add_argument("--time-limit", type=_seconds, metavar="SECONDS",
                   help="stop admitting states once the search has run this long (looked at between BFS levels); "
                        "the states stored are judged and the verdicts say HOLDS up to bound (exit 3), never HOLDS")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--workers", type=positive_int, default=1, metavar="N",
                   help="expand states on N processes (same result; default 1)")
    p.add_argument("--memory", type=_memory, default=0, metavar="SIZE",
                   help="memory budget of the search, e.g. 4G or 512M, or 'off' (default: half of the machine's "
                        "memory, divided among --workers); the native search then moves its frontier levels, "
                        "parents and steps to --spill-dir and goes on, slower; reaching it with the fingerprint "
                        "set alone (or in another search) ends the search as HOLDS up to bound")
    p.add_argument("--spill-dir", metavar="DIR",
                   help="where the native search spills under --memory (default: the system's temporary directory; "
                        "a tmpfs there saves no memory); its files are unlinked, gone when the search ends")
    p.add_argument("--store", choices=("full", "compact"), default=None,
                   help="full: keep every state; compact: 64-bit fingerprints only, for large runs "
                        "(default: the search plan's choice, printed by check)")


def _cluster_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--distributed", action="store_true",
                   help="partitioned search over MPI ranks: run as mpirun -n N python3 -m modelcheck check "
                        "--distributed ... (needs MPI and mpi4py: pip install -e '.[cluster]'); rank 0 prints")
    p.add_argument("--checkpoint", metavar="DIR",
                   help="keep every completed level in DIR (an empty or new directory; shared storage for "
                        "several hosts), so that --resume DIR continues a stopped run; without mpirun too")
    p.add_argument("--resume", metavar="DIR",
                   help="continue the checkpoint in DIR from its last complete level (same spec, settings, "
                        "properties and rank count; it keeps checkpointing into DIR)")


def _seconds(text: str) -> float:
    """A ``--time-limit`` value: a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds: write e.g. 600")
    return value


def _memory(text: str) -> int | None:
    """A ``--memory`` value: a size (``4G``, ``512M``, bytes) or ``off``."""
    if text.strip().lower() in ("off", "none"):
        return None
    try:
        return parse_size(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size: write e.g. 4G, 512M or off") from None


def _check_spill_dir(where: str | None) -> None:
    """UsageError unless ``--spill-dir`` names a directory this process can make a file in."""
    if where is None:
        return
    try:
        with tempfile.TemporaryFile(dir=where):
            pass
    except OSError as err:
        raise UsageError(f"{where}: --spill-dir is not a writable directory ({err.strerror}); "
                         "create it, make it writable, or choose another") from None


def _search_options(args: argparse.Namespace, on_progress: Any, keep_edges: bool = False) -> SearchOptions:
    """The search the arguments ask for; with no engine flag the plan's choice (see modelcheck.explicit.plan)."""
    return SearchOptions(max_states=args.max_states, max_depth=args.max_depth, keep_edges=keep_edges,
                         workers=args.workers, store=args.store, on_progress=on_progress, memory=args.memory,
                         spill_dir=getattr(args, "spill_dir", None), time_limit=getattr(args, "time_limit", None),
                         backend=getattr(args, "backend", "auto"),
                         symmetry=getattr(args, "symmetry", False), por=getattr(args, "por", False),
                         distributed=getattr(args, "distributed", False), checkpoint=getattr(args, "checkpoint", None),
                         resume=getattr(args, "resume", None))


# --------------------------------------------------------------------------- check


def _cap(args: argparse.Namespace, attr: str, flag: str) -> None:
    """Cap a process count at the core count, with a note on stderr (more processes only slow a search)."""
    value, note = cap_to_cores(getattr(args, attr), flag)
    if note:
        print(f"modelcheck: {note}", file=sys.stderr)
        setattr(args, attr, value)


def run_check(args: argparse.Namespace) -> int:
    _cap(args, "workers", "--workers")
    if args.profile and (args.distributed or args.checkpoint or args.resume):
        raise UsageError("--profile reads every state's step and depth, which the partitioned search does not "
                         "gather; drop --profile or --distributed/--checkpoint/--resume")
    check_writable(args.json, "--json")
    check_writable(args.dump_compiled, "--dump-compiled")
    _check_spill_dir(args.spill_dir)
    spec = configure(args.spec, parse_settings(args.set))
    with _progress_bar(args) as on_progress:
        run = check(spec, args.property, _search_options(args, on_progress))
    ex = run.exploration
    if getattr(ex, "rank", 0):  # a partitioned search's other ranks: rank 0 prints and writes
        return exit_code(gating_verdicts(run.results, args.property))
    print(spec.describe())
    print(ex.plan)
    if ex.fallback:
        print(f"compiled mode not used, searched plain: {ex.fallback}")
    elif ex.code_origin:
        print(ex.code_origin)
    if args.dump_compiled and ex.code_source:
        write_text(args.dump_compiled, ex.code_source)
    if ex.native:
        print(ex.native)
    elif args.backend == "native" and not ex.fallback:
        print(f"native search not used, searched in Python: {ex.native_fallback}")
    if ex.spilled:
        ram = "; a tmpfs: that is memory too, choose a disk with --spill-dir" \
            if in_memory_filesystem(ex.spill_dir) else ""
        print(f"spilled: {show(ex.spilled)} of frontier, parents and steps to {ex.spill_dir} "
              f"(memory budget {show(ex.hit_memory_bound or ex.memory_budget or 0)}{ram})")
    for result in run.results:
        print(format_result_line(result))
    never = run.exploration.never_enabled
    if never:
        print(f"never enabled: {', '.join(never)}")
    print(f"terminal states: {len(run.exploration.terminal)}")
    if args.profile:
        print(format_profile(profile(run.exploration)[0]))
    if not args.quiet:
        for result in run.results:
            if result.trace is not None:
                what = "witness of" if result.trace.kind == "witness" else "counterexample to"
                print(f"\n{what} {result.name} ({len(result.trace)} steps):")
                print(format_trace(run.compiled, result.trace))
    if args.json:
        data = run_to_json(run)
        if args.profile:
            data["profile"] = profile_json(*profile(run.exploration))
        write_text(args.json, dumps(data))
    return exit_code(gating_verdicts(run.results, args.property))


def format_profile(rows: list[ProfileRow]) -> str:
    """The per-action profile as a short table (most new states first)."""
    width = max([len(r.name) for r in rows] + [6])
    lines = [f"\n{'action':<{width}}  {'generated':>10}  {'new states':>10}  peak level (new there)"]
    for r in sorted(rows, key=lambda r: (-r.new, -r.generated)):
        peak = f"{r.peak_level} ({r.peak_new})" if r.peak_level >= 0 else "-"
        lines.append(f"{r.name:<{width}}  {r.generated:>10}  {r.new:>10}  {peak}")
    return "\n".join(lines)


def gating_verdicts(results: list[PropertyResult], named: list[str]) -> list:
    """The verdicts that decide the exit code (:func:`modelcheck.verdict.gating`)."""
    return gating(results, named)


def format_result_line(r: PropertyResult) -> str:
    word = verdict_word(r.kind, r.verdict.value)
    line = (f"{r.name:<30} {word:<18} {r.states:>9} states {r.transitions:>10} transitions"
            f"  depth {r.depth:>3}  {r.seconds:.2f}s")
    if r.reason:
        line += f"  ({r.reason})"
    return line


def run_to_json(run: CheckRun) -> dict[str, Any]:
    spec = run.compiled.spec
    return {
        "spec": type(spec).__name__,
        "params": dict(spec.params),
        "results": [
            {
                "property": r.name, "kind": r.kind, "verdict": r.verdict.value, "engine": r.engine,
                "states": r.states, "transitions": r.transitions, "depth": r.depth, "reason": r.reason,
                "assumptions": list(r.assumptions),
                "trace": trace_to_json(run.compiled, r.trace) if r.trace is not None else None,
            }
            for r in run.results
        ],
        "never_enabled": run.exploration.never_enabled,
        "memory": {"budget": run.exploration.memory_budget, "hit_budget": bool(run.exploration.hit_memory_bound),
                   "spilled_bytes": run.exploration.spilled, "spill_dir": run.exploration.spill_dir or None,
                   "resident_at_start": run.exploration.resident_at_start or None,
                   "search_peak_resident": run.exploration.search_peak_resident or None,
                   "peak_resident": peak_resident()},
        "terminal_states": len(run.exploration.terminal),
    }


def run_simulate(args: argparse.Namespace) -> int:
    check_writable(args.json, "--json")
    spec = configure(args.spec, parse_settings(args.set))
    compiled = compile_spec(spec)
    chosen = compiled.select(args.property)
    workers, note = cap_to_cores(args.workers or os.cpu_count() or 1, "--workers")
    if note:
        print(note, file=sys.stderr)
    sim = simulate(compiled, chosen, args.depth, args.seed, walks=args.walks, seconds=args.time,
                   workers=workers or 1, swarm=args.swarm)
    print(spec.describe())
    procs = "one process" if sim.workers == 1 else f"{sim.workers} processes"
    swarm = f", a swarm of {len(sim.searches)} searches" if sim.searches else ""
    print(f"simulation: {sim.walks} walks, {sim.steps} steps, depth <= {sim.depth}, seed {sim.seed}{swarm}, "
          f"{procs}, {sim.seconds:.2f}s")
    if sim.not_judged:
        print(f"not judged by walks: {', '.join(sim.not_judged)}")
    v = sim.violation
    if v is None:
        print(f"no violation found of {', '.join(sim.properties) or 'any property'} (not a proof)")
    else:
        where = f" of search {v.search}" if sim.searches else ""
        after = f" after {sim.found_after:.2f} s" if sim.found_after is not None else ""
        print(f"{v.prop} VIOLATED in walk {v.walk}{where}{after}: {len(v.trace)} steps, shrunk to {len(v.shrunk)} "
              "(both replayed)")
    for i, search in enumerate(sim.searches):
        heavy = sorted((w, a) for a, w in search.bias.weights or () if w != 1.0)
        print(f"  search {i}: depth <= {search.bias.depth}, {search.walks} walks, {search.distinct_states} distinct "
              f"states, estimate {search.estimate.states:.0f}; weights: "
              + (", ".join(f"{a}={w:g}" for w, a in heavy) or "uniform"))
    cov, est = sim.coverage, sim.coverage.estimate
    total = len(cov.instances_hit) + len(cov.instances_never_hit)
    union = " (union of the searches)" if sim.searches else ""
    print(f"coverage{union}: {cov.distinct_states} distinct states; action instances hit {len(cov.instances_hit)}"
          f"/{total}; estimated reachable states {est.states:.0f} (Chapman capture-recapture: "
          f"{est.first} and {est.second} states in two batches, {est.both} in both; tends to underestimate)")
    if cov.instances_never_hit:
        print(f"never hit: {', '.join(cov.instances_never_hit)}")
    print("distinct values: " + ", ".join(f"{k}={n}" for k, n in cov.field_values.items()))
    if v is not None and not args.quiet:
        print(f"\nshrunk counterexample to {v.prop} ({len(v.shrunk)} steps):")
        print(format_trace(compiled, v.shrunk))
    if args.json:
        write_text(args.json, dumps(simulation_json(compiled, sim)))
    return exitcodes.OK if v is None else exitcodes.VIOLATION


class _progress_bar:
    """A tqdm bar on stderr for a search; silent when stderr is not a terminal."""

    def __init__(self, args: argparse.Namespace):
        self.enabled = not getattr(args, "no_progress", False) and sys.stderr.isatty()
        self.bar: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from tqdm import tqdm

        self.bar = tqdm(unit=" states", file=sys.stderr, dynamic_ncols=True, leave=False)

        def update(p: Progress) -> None:
            self.bar.n = p.states
            self.bar.set_postfix(frontier=p.frontier, depth=p.depth, transitions=p.transitions, refresh=False)
            self.bar.refresh()

        return update

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


# --------------------------------------------------------------------------- matrix

MARKS = {"PROVED": "proved", "HOLDS": "holds", "HOLDS up to bound": "bound", "VIOLATED": "VIOLATED",
         "UNKNOWN": "unknown"}


def run_matrix(args: argparse.Namespace) -> int:
    from .matrix import load_matrix, run_cases, run_cases_on_ranks, select

    _cap(args, "jobs", "--jobs")
    check_writable(args.json, "--json")
    matrix = load_matrix(args.file)
    cases = list(select(matrix.cases, args.where, args.quick))
    if not cases:
        print(f"modelcheck: {args.file}: no case matches", file=sys.stderr)
        return EXIT_USAGE
    bar = None if args.distributed else _case_bar(args, len(cases))
    try:
        if args.distributed:
            records, rank = run_cases_on_ranks(cases, args.jobs)
        else:
            records, rank = run_cases(cases, args.jobs, on_done=lambda _: bar.update(1) if bar else None), 0
    finally:
        if bar:
            bar.close()
    verdicts = [Verdict(r["verdict"]) for rec in records for r in rec["results"] if r["kind"] != "sometimes"]
    if rank:  # another rank of a shared-out matrix: rank 0 prints and writes
        return exit_code(verdicts)
    print(format_matrix(records))
    if args.json:
        write_text(args.json, dumps({"matrix": str(args.file), "cases": records}))
    return exit_code(verdicts)


def _case_bar(args: argparse.Namespace, total: int) -> Any:
    if getattr(args, "no_progress", False) or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=" cases", file=sys.stderr, dynamic_ncols=True, leave=False)


def format_matrix(records: list[dict[str, Any]]) -> str:
    """The verdict table: one row per case, one column per property (one mark per engine, explicit
    first, e.g. ``holds/proved``), then the explicit search's states and the case's seconds."""
    props: list[str] = []
    for rec in records:
        for r in rec["results"]:
            if r["kind"] != "sometimes" and r["property"] not in props:
                props.append(r["property"])
    cells = []
    for rec in records:
        marks: dict[str, list[str]] = {}
        for r in rec["results"]:
            marks.setdefault(r["property"], []).append(MARKS[r["verdict"]])
        cells.append(["/".join(marks[p]) if p in marks else "-" for p in props])
    width = max(len(rec["case"]) for rec in records)
    cols = [max([len(p), 8, *(len(row[i]) for row in cells)]) for i, p in enumerate(props)]
    head = f"{'case':<{width}}  " + "  ".join(p.ljust(c) for p, c in zip(props, cols)) + f"  {'states':>8}  {'s':>6}"
    lines = [head, "-" * len(head)]
    for rec, row in zip(records, cells):
        states = max((r["states"] for r in rec["results"] if r["engine"] == "explicit"), default=0)
        lines.append(f"{rec['case']:<{width}}  " + "  ".join(m.ljust(c) for m, c in zip(row, cols))
                     + f"  {states:>8}  {rec['seconds']:>6.2f}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- list, graph


LIST_WIDTH = 80


def run_list(args: argparse.Namespace) -> int:
    spec = configure(args.spec, parse_settings(args.set))
    compiled = compile_spec(spec)
    cls = type(spec)
    width = min(shutil.get_terminal_size((LIST_WIDTH, 24)).columns, LIST_WIDTH)
    print("\n".join(_wrapped(f"{cls.__name__}: {_first_line(cls.__doc__ or '')}", width, "  ")))
    print("\nparameters (--set NAME=VALUE):")
    rows = []
    for name, param in cls.parameters().items():
        allowed = param.describe_allowed().replace("|", ", ")
        rows.append([name, str(spec.params[name]), f"{param.doc}; allowed: {allowed}" if param.doc
                     else f"allowed: {allowed}"])
    print("\n".join(format_columns(rows, width)))
    print("\nassumptions:")
    rows = [[a.name, "active" if a.active else "inactive", _first_line(a.doc)] for a in compiled.assumptions.values()]
    print("\n".join(format_columns(rows, width)) if rows else "  (none)")
    print("\nactions:")
    rows = [[name, str(sum(1 for i in compiled.instances if i.name == name)) + " instance(s)", ""]
            for name in compiled.actions]
    print("\n".join(format_columns(rows, width)))
    print("\nproperties (--property NAME):")
    rows = [[p.name, p.kind, _first_line(p.doc)] for p in compiled.properties.values()]
    print("\n".join(format_columns(rows, width)))
    return 0


def format_columns(rows: list[list[str]], width: int = LIST_WIDTH, cap: int = 22) -> list[str]:
    """Rows as aligned columns within ``width``: the last column wraps; a cell too wide for its column
    (wider than ``cap``) ends its line and the row goes on, aligned, on the next one."""
    if not rows:
        return []
    n = len(rows[0])
    widths = [min(max(len(r[i]) for r in rows), cap) for i in range(n - 1)]
    indent = 2 + sum(w + 2 for w in widths)
    out = []
    for row in rows:
        line = "  "
        for cell, w in zip(row, widths):
            if len(line) + len(cell) > len(line) + w:  # too wide: own line, then go on aligned
                out.append((line + cell).rstrip())
                line = " " * (len(line) + w + 2)
            else:
                line += cell.ljust(w + 2)
        wrapped = textwrap.wrap(row[-1], max(width - indent, 20), break_on_hyphens=False) or [""]
        out.append((line + wrapped[0]).rstrip())
        out += [" " * indent + rest for rest in wrapped[1:]]
    return out


def _wrapped(text: str, width: int, indent: str) -> list[str]:
    return textwrap.wrap(text, width, subsequent_indent=indent) or [""]


def _first_line(text: str) -> str:
    """The first sentence of a docstring, on one line."""
    joined = " ".join(text.split())
    end = joined.find(". ")
    return joined[: end + 1] if end >= 0 else joined


def run_graph(args: argparse.Namespace) -> int:
    _cap(args, "workers", "--workers")
    if args.format == "graphml" and not args.output:
        print("modelcheck: graph --format graphml needs --output FILE", file=sys.stderr)
        return EXIT_USAGE
    check_writable(args.output, "--output")
    spec = configure(args.spec, parse_settings(args.set))
    with _progress_bar(args) as on_progress:
        run = check(spec, [], _search_options(args, on_progress, keep_edges=True))
    graph = reachability_graph(run.exploration)
    if args.format == "graphml":
        write_graphml(graph, run.exploration, args.output)
    else:
        text = to_dot(graph, run.exploration)
        if args.output:
            write_text(args.output, text)
        else:
            sys.stdout.write(text)
    print(f"{graph.number_of_nodes()} states, {graph.number_of_edges()} edges", file=sys.stderr)
    return 0
