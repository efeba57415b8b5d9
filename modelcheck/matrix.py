"""Check matrices: a committed TOML grid of configurations, expanded into cases and run.

A matrix file names a spec and one or more grids. Each grid maps parameter names to a
value or a list of values; its cases are the cartesian product, in file order. A grid may
name another spec (``spec = "nvme.py"``, relative to the matrix file); its defaults are
then the table ``[defaults."nvme.py"]`` instead of the main spec's ``[defaults]``. Cases
run in worker processes (one per core by default) and come back as plain records
(JSON-ready dicts), in the same order whatever the number of workers.
"""

from __future__ import annotations

import functools
import itertools
import multiprocessing
import os
import signal
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .check import check, configure
from .errors import UsageError
from .explicit import SearchOptions
from .explicit.memory import default_budget
from .explicit.ranks import world
from .loader import load_spec_class
from .trace import format_trace, trace_to_json

RESERVED_KEYS = {"name", "spec", "properties", "quick", "max_states", "prove", "prove_engine"}


@dataclass(frozen=True)
class Case:
    """One configuration of a matrix: a spec, its settings, the properties to judge."""

    name: str
    group: str
    spec: str
    settings: tuple[tuple[str, Any], ...]
    properties: tuple[str, ...] = ()
    quick: bool = False
    max_states: int | None = None
    prove: tuple[str, ...] = ()  # properties the z3 engine also judges
    prove_engine: str = "certificate"

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.settings)


@dataclass
class Matrix:
    path: Path
    spec: str
    cases: list[Case] = field(default_factory=list)


def load_matrix(path: str | Path) -> Matrix:
    """Read and expand a matrix file; UsageError naming the file and the key on a mistake."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such matrix file (the default is specs/matrix.toml)") from None
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f"{path}: not valid TOML: {err}") from None
    spec_ref = data.get("spec")
    if not isinstance(spec_ref, str):
        raise UsageError(f"{path}: missing 'spec = \"file.py\"' (relative to the matrix file)")
    spec_path = _spec_path(path, spec_ref)
    all_defaults = data.get("defaults", {})
    main_defaults = {k: v for k, v in all_defaults.items() if not isinstance(v, dict)}
    grids = data.get("grid", [])
    if not isinstance(grids, list) or not grids:
        raise UsageError(f"{path}: no [[grid]] tables")
    matrix = Matrix(path, spec_path)
    seen: set[str] = set()
    for g, grid in enumerate(grids, 1):
        group = grid.get("name", f"grid{g}")
        grid_spec = grid.get("spec", spec_ref)
        if not isinstance(grid_spec, str):
            raise UsageError(f"{path}: grid {group!r}: 'spec' must be a file name such as \"nvme.py\"")
        if grid_spec == spec_ref:
            case_spec, defaults = spec_path, main_defaults
        else:
            case_spec, defaults = _spec_path(path, grid_spec), all_defaults.get(grid_spec, {})
            if not isinstance(defaults, dict):
                raise UsageError(f"{path}: [defaults] {grid_spec!r} must be a table: [defaults.\"{grid_spec}\"]")
        spec_cls = load_spec_class(case_spec)
        declared = spec_cls.parameters()
        merged = {**defaults, **{k: v for k, v in grid.items() if k not in RESERVED_KEYS}}
        for key in merged:
            if key not in declared:
                raise UsageError(f"{path}: grid {group!r}: unknown parameter {key!r}; known: {', '.join(declared)}")
        keys = [k for k in declared if k in merged]
        axes = [merged[k] if isinstance(merged[k], list) else [merged[k]] for k in keys]
        for combo in itertools.product(*axes):
            settings = tuple(zip(keys, combo))
            name = case_name(group, settings, defaults)
            if name in seen:
                continue
            seen.add(name)
            spec_cls(**dict(settings))  # a bad value fails here, before anything runs
            matrix.cases.append(Case(name, group, case_spec, settings, tuple(grid.get("properties", ())),
                                     bool(grid.get("quick", False)), grid.get("max_states"),
                                     tuple(grid.get("prove", ())), grid.get("prove_engine", "certificate")))
    return matrix


def _spec_path(matrix: Path, ref: str) -> str:
    """A spec file named in a matrix, relative to the matrix file unless absolute."""
    return str((matrix.parent / ref).as_posix()) if not Path(ref).is_absolute() else ref


def case_name(group: str, settings: tuple[tuple[str, Any], ...], defaults: dict[str, Any]) -> str:
    """A stable, file-name-safe name: the group and every setting that differs from the defaults."""
    parts = [group]
    for key, value in settings:
        if key in defaults and defaults[key] == value:
            continue
        text = str(value).replace(" ", "_")
        parts.append(f"{key}={text}")
    return "~".join(parts).replace("/", "_")


def run_case(case: Case, memory: int | None = 0, threads: int | None = None) -> dict[str, Any]:
    """Check one case with the explicit engine (the default search, within the ``memory``
    budget: 0 for the default share of the machine, and on ``threads``: ``None`` for every
    core); a JSON-ready record (picklable, for workers)."""
    started = time.perf_counter()
    spec = configure(case.spec, case.params)
    # z3 first, in a process that has made no terms yet: the default search may generate code
    # with z3 (or read it from the cache), which must not change which counterexample z3 picks
    proved = prove_records(case, spec) if case.prove else []
    run = check(spec, case.properties, SearchOptions(max_states=case.max_states, backend="auto", memory=memory,
                                                              threads=threads))
    records = []
    for r in run.results:
        records.append({
            "property": r.name, "kind": r.kind, "engine": r.engine, "verdict": r.verdict.value,
            "states": r.states, "transitions": r.transitions, "depth": r.depth, "reason": r.reason,
            "assumptions": list(r.assumptions),
            "trace_actions": [run.compiled.show_step(st) for st, _ in r.trace.steps] if r.trace else None,
            "trace": trace_to_json(run.compiled, r.trace) if r.trace else None,
            "trace_text": format_trace(run.compiled, r.trace) if r.trace else None,
        })
    records.extend(proved)
    return {
        "case": case.name, "group": case.group, "spec": type(spec).__name__, "params": dict(spec.params),
        "quick": case.quick, "results": records, "never_enabled": run.exploration.never_enabled,
        "terminal_states": len(run.exploration.terminal),
        "seconds": time.perf_counter() - started,
    }


def prove_records(case: Case, spec: Any) -> list[dict[str, Any]]:
    """The z3 engine's verdicts on ``case.prove``, as records of the same shape as the explicit ones.

    A proof's ``assumptions`` are the minimal set it needs; ``states`` is the size of the
    proof's invariant where it is a set of states (the certificate engine), else 0.
    """
    from .symbolic.prove import ProveOptions, prove

    run = prove(spec, case.prove, ProveOptions(engine=case.prove_engine))
    out = []
    for r in run.results:
        out.append({
            "property": r.name, "kind": r.kind, "engine": r.engine, "verdict": r.verdict.value,
            "states": int(r.extra.get("invariant_states", 0)), "transitions": 0, "depth": r.depth,
            "reason": r.reason, "assumptions": list(r.assumptions),
            "without": _drops(run.compiled, r),
            "trace_actions": [run.compiled.show_step(st) for st, _ in r.trace.steps] if r.trace else None,
            "trace": trace_to_json(run.compiled, r.trace) if r.trace else None,
            "trace_text": format_trace(run.compiled, r.trace) if r.trace else None,
        })
    return out


def _drops(compiled: Any, r: Any) -> dict[str, dict[str, Any]] | None:
    """What the prover said with each active assumption dropped from a proof (None when nothing was
    dropped): the verdict, and for a refutation the replayed counterexample's steps."""
    without = r.extra.get("without")
    if not without:
        return None
    traces = r.extra.get("without_traces", {})
    out: dict[str, dict[str, Any]] = {}
    for name, verdict in without.items():
        trace = traces.get(name)
        out[name] = {"verdict": verdict,
                     "counterexample": [compiled.show_step(st) for st, _ in trace.steps] if trace else None}
    return out


def run_cases(cases: list[Case], jobs: int | None = None,
              on_done: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Run cases on ``jobs`` worker processes (default: every core); records in case order.

    Every case runs in a process of its own, forked from this one: z3's answers (which
    counterexample a BMC model picks) depend on the terms the process made before, so a
    case must not inherit another case's history, or its trace would depend on how cases
    were scheduled onto workers (and on ``jobs``)."""
    jobs = jobs or os.cpu_count() or 1
    if len(cases) <= 1:
        out = [run_case(case) for case in cases]
        if on_done:
            for record in out:
                on_done(record)
        return out
    context = multiprocessing.get_context("fork")
    # Workers are forked with Ctrl-C blocked (also those the pool's own thread forks later, as
    # that thread inherits the mask), so none can take it before its initializer ignores it.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        pool = context.Pool(processes=min(jobs, len(cases)), maxtasksperchild=1, initializer=_ignore_interrupt)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    with pool:
        out = []
        side = min(jobs, len(cases))  # cases side by side share the machine: memory and cores
        threads = max((os.cpu_count() or 1) // side, 1)
        for record in pool.imap(functools.partial(run_case, memory=default_budget(side), threads=threads), cases,
                                chunksize=1):
            out.append(record)
            if on_done:
                on_done(record)
        return out


def run_cases_on_ranks(cases: list[Case], jobs: int | None = None,
                       on_done: Callable[[dict[str, Any]], None] | None = None) -> tuple[list[dict[str, Any]], int]:
    """Whole cases shared out across the MPI ranks this process is one of (``matrix``/``run``
    ``--distributed``): rank r runs cases r, r + N, r + 2N ... as :func:`run_cases` does; every
    rank gets every record, in case order, and its rank (rank 0 prints and writes)."""
    ranks = world(True)
    mine = list(range(ranks.rank, len(cases), ranks.size))
    records = run_cases([cases[i] for i in mine], jobs, on_done=on_done)
    out: list[dict[str, Any]] = [{} for _ in cases]
    for part in ranks.allgather(list(zip(mine, records))):
        for i, record in part:
            out[i] = record
    return out, ranks.rank


def _ignore_interrupt() -> None:
    """In a worker: leave Ctrl-C to the runner, which stops the pool and says so in one line."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def select(cases: list[Case], filters: list[str], quick: bool = False) -> Iterator[Case]:
    """The cases whose settings match every ``NAME=VALUE`` filter (and ``quick`` ones only, if asked)."""
    wanted = []
    for item in filters:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--where {item!r}: expected NAME=VALUE, e.g. --where profile=qemu-7.2")
        wanted.append((key, value))
    known = sorted({k for case in cases for k in case.params})
    for key, value in wanted:
        if key != "group" and key not in known:
            raise UsageError(f"--where {key}={value}: {key!r} is not a parameter of this matrix; "
                             f"use one of: group, {', '.join(known)}")
        values = sorted({case.group if key == "group" else str(case.params.get(key)) for case in cases})
        if value not in values:
            raise UsageError(f"--where {key}={value}: no case has {key}={value}; its values here: {', '.join(values)}")
    for case in cases:
        if quick and not case.quick:
            continue
        params = case.params
        if all(str(params.get(k, "")) == v or (k == "group" and case.group == v) for k, v in wanted):
            yield case
