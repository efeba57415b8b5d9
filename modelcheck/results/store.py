"""verdicts.json: one record per case × property × engine, stable fields only, with a format and version key.

Everything in the file is a function of the specs and the matrix: the same on every
machine and every run, so a fresh clone regenerates it byte for byte, the gate can
compare it and two runs leave ``git status`` clean. Timings and machine facts live
under the document's ``run`` key in memory and are written to ``timings.json``
beside it (:data:`TIMINGS_FILE`, which ``.gitignore`` names), never into this file. Engines other than the
explicit search (z3's ``bmc``, ``spacer``) add records of the same shape, told
apart by ``engine``; ``bound`` says what limited a search (``{"max_states": N}``,
``{"steps": k}``) and is ``null`` for an exhaustive search or a proof.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import ResultsError
from .jsonrows import dumps_rows
from .traces import trace_stem

FORMAT = "modelcheck-verdicts"
VERSION = 1
VOLATILE_KEY = "run"  # timings and machine facts: ignored by the gate and the determinism check
VERDICTS_FILE = "verdicts.json"
TIMINGS_FILE = "timings.json"  # the volatile part, beside verdicts.json and ignored by git

RECORD_FIELDS = ("case", "property", "kind", "engine", "verdict", "bound", "states", "transitions", "depth",
                 "assumptions", "counterexample", "witness", "reason", "trace")
OPTIONAL_FIELDS = ("without",)
"""Written in every record, but not required of a file written before they existed. ``without``:
for a z3 proof with assumptions, per active assumption what the prover said with it dropped
(``{"verdict": ..., "counterexample": [steps] | null}``), else null."""


def record_key(record: Mapping[str, Any]) -> tuple[str, str, str]:
    """What identifies a record across runs: case, property, engine."""
    return record["case"], record["property"], record["engine"]


def build_verdicts(case_records: Iterable[Mapping[str, Any]], matrix: str, *, bounds: Mapping[str, Any] | None = None,
                   jobs: int | None = None) -> dict[str, Any]:
    """The verdicts document from :func:`modelcheck.matrix.run_cases` records (in matrix order).

    ``bounds`` maps a case name to the ``max_states`` its grid set (or None); ``matrix``
    is the matrix file as the user named it (kept relative, so no absolute path lands
    in results/).
    """
    bounds = bounds or {}
    cases: dict[str, Any] = {}
    records: list[dict[str, Any]] = []
    seconds: dict[str, float] = {}
    for rec in case_records:
        name = rec["case"]
        cases[name] = {"group": rec["group"], "spec": rec["spec"], "params": dict(rec["params"]),
                       "quick": bool(rec["quick"]), "never_enabled": list(rec["never_enabled"]),
                       "terminal_states": rec["terminal_states"]}
        seconds[name] = round(float(rec.get("seconds", 0.0)), 3)
        for r in rec["results"]:
            records.append(result_record(name, r, bounds.get(name)))
    return {
        "format": FORMAT,
        "version": VERSION,
        "matrix": portable_path(matrix),
        "cases": cases,
        "records": records,
        VOLATILE_KEY: {
            "note": "timings and machine facts; the only file of results/ that changes from run to run (git ignores it)",
            "seconds": seconds,
            "total_seconds": round(sum(seconds.values()), 3),
            "jobs": jobs or os.cpu_count() or 1,
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "machine": f"{platform.system()} {platform.machine()}",
        },
    }


def result_record(case: str, r: Mapping[str, Any], max_states: int | None = None) -> dict[str, Any]:
    """One stable record from one property result of a case."""
    actions = r.get("trace_actions")
    is_counterexample = r["verdict"] == "VIOLATED" and actions is not None
    bounded = r["verdict"] == "HOLDS up to bound" and max_states is not None
    return {
        "case": case,
        "property": r["property"],
        "kind": r["kind"],
        "engine": r["engine"],
        "verdict": r["verdict"],
        "bound": {"max_states": max_states} if bounded else r.get("bound"),
        "states": r["states"],
        "transitions": r["transitions"],
        "depth": r["depth"],
        "assumptions": sorted(r.get("assumptions") or []),
        "counterexample": list(actions) if is_counterexample else None,
        "witness": list(actions) if actions is not None and not is_counterexample else None,
        "reason": r.get("reason") or "",
        "trace": f"traces/{trace_stem(case, r['property'], r['engine'])}" if is_counterexample else None,
        "without": r.get("without") or None,
    }


def stable(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document without its volatile key: what must be identical run to run."""
    return {k: v for k, v in doc.items() if k != VOLATILE_KEY}


def render(doc: Mapping[str, Any]) -> str:
    """The file's text: sorted keys, one line per case and per record (records stay in matrix order).

    The volatile ``run`` key is left out (see :func:`render_timings`)."""
    return dumps_rows(stable(doc), ("cases", "records"))


def render_timings(doc: Mapping[str, Any]) -> str:
    """timings.json's text: the run's timings and machine facts (changes from run to run)."""
    return json.dumps(doc.get(VOLATILE_KEY, {}), indent=1, sort_keys=True) + "\n"


def load(path: str | Path) -> dict[str, Any]:
    """Read and validate a verdicts file; ResultsError naming the path and the fix otherwise."""
    path = Path(path)
    fix = "regenerate it with `modelcheck run` (or `modelcheck gate --update`)"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file; {fix}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ResultsError(f"{path}: cannot read: {err}; {fix}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise ResultsError(f"{path}:{err.lineno}: not valid JSON ({err.msg}); the file is corrupt; {fix}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ResultsError(f"{path}: not a modelcheck verdicts file (no \"format\": \"{FORMAT}\"); "
                           f"point --results at a results/ directory written by modelcheck, or {fix}")
    if doc.get("version") != VERSION:
        raise ResultsError(f"{path}: verdicts format version {doc.get('version')!r}, this modelcheck reads "
                           f"version {VERSION}; {fix}")
    problem = _shape_problem(doc)
    if problem:
        raise ResultsError(f"{path}: malformed verdicts file: {problem}; {fix}")
    return doc


def _shape_problem(doc: Mapping[str, Any]) -> str:
    """What is wrong with a document's shape, or '' when nothing is."""
    if not isinstance(doc.get("cases"), dict):
        return "\"cases\" is not an object"
    if not isinstance(doc.get("records"), list):
        return "\"records\" is not a list"
    for n, rec in enumerate(doc["records"]):
        if not isinstance(rec, dict):
            return f"record {n} is not an object"
        missing = [f for f in RECORD_FIELDS if f not in rec]
        if missing:
            return f"record {n} lacks {', '.join(missing)}"
        if rec["case"] not in doc["cases"]:
            return f"record {n} names case {rec['case']!r}, which \"cases\" does not list"
    return ""


def portable_path(path: str) -> str:
    """A path as committed: relative to the working directory when it lies below it, with '/'."""
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.relative_to(Path.cwd())
        except ValueError:
            return p.name
    return p.as_posix()
