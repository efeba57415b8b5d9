"""Issue 19's must-show: where enumeration runs out of time, simulation finds a deep violation.

One virtio-blk configuration too large to enumerate in ten minutes (the large benchmark
configuration with four more writes and one EIO: ``W0 W1 F W2 W3 F W4 W5 W6 W7``), one property
whose shortest counterexample is 12 steps (``restart_order``: two writes fail with ENOSPC around
a stop, and the restart after a migration's resume puts them back in another order). Three
phases, each in a child process of its own:

1. **exhaustive**: the native search (what ``check`` picks at this size) with a wall-clock
   limit (``--exhaustive-seconds``, default 600; ``check --time-limit``) and a memory budget
   (``--memory``, default 8G; the search spills to ``--spill-dir`` before it stops). It records
   how far it got (states, BFS level, transitions, which bound stopped it, bytes spilled) and,
   per level, when it got there, so the table says when the violation was known, if it was.
2. **simulate**: ``modelcheck simulate`` for ``--simulate-seconds`` (default 60): the time to
   the first violating walk, its length and the length it shrinks to (both traces replayed).
3. **shortest**: the native search cut at depth K, the shrunk length: exhaustive up to K, so
   its first violation is a shortest one and the table gives the shortest length for certain
   (or says it is not known, when no walk found a violation).

Writes ``results/too_large.md`` and ``results/too_large.json`` (under ``--out``). The figures
are wall-clock seconds: run it on a quiet machine (the load average is recorded per phase).

    python bench/too_large.py                                   # the real run: ~12 minutes
    python bench/too_large.py --exhaustive-seconds 30 --out /tmp/too-large   # a quick try
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPEC = str(ROOT / "specs" / "virtio_blk.py")
SETTINGS = {"workload": "W0 W1 F W2 W3 F W4 W5 W6 W7", "qdepth": 4, "guest": "nodrain", "failures": 2,
            "flush_failures": 1, "eio_failures": 1, "migrations": 1}
PROPERTY = "restart_order"
FINISH = 300  # seconds a phase may run past its own limit (code generation, the level begun, judging)


def _sets() -> list[str]:
    return [arg for name, value in SETTINGS.items() for arg in ("--set", f"{name}={value}")]


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _machine() -> dict[str, Any]:
    mem = None
    try:
        with open("/proc/meminfo") as f:
            mem = int(next(line for line in f if line.startswith("MemTotal")).split()[1]) * 1024
    except (OSError, StopIteration, ValueError):
        pass
    return {"cpus": os.cpu_count(), "memory_bytes": mem, "python": sys.version.split()[0]}


# --------------------------------------------------------------------------- the phases (children)


def exhaustive(seconds: float, memory: str, spill_dir: str | None, prop: str) -> dict[str, Any]:
    """The native search under a time limit and a memory budget, with its per-level timeline."""
    from modelcheck.check import check, configure
    from modelcheck.explicit import SearchOptions
    from modelcheck.explicit.memory import parse

    levels: list[dict[str, Any]] = []

    def progress(p: Any) -> None:
        levels.append({"level": p.depth, "states": p.states, "frontier": p.frontier, "seconds": round(p.seconds, 2)})

    spec = configure(SPEC, SETTINGS)
    started = time.perf_counter()
    run = check(spec, [prop], SearchOptions(native=True, store="compact", memory=parse(memory), time_limit=seconds,
                                            spill_dir=spill_dir, on_progress=progress))
    wall = time.perf_counter() - started
    ex, result = run.exploration, run.results[0]
    length = len(result.trace) if result.trace is not None else None
    known = next((lv["seconds"] for lv in levels if length is not None and lv["level"] >= length), None)
    return {
        "verdict": result.verdict.value, "reason": result.reason, "states": ex.size, "transitions": ex.transitions,
        "levels": len(levels), "max_depth": ex.max_depth, "wall_seconds": round(wall, 2),
        "search_seconds": round(ex.seconds, 2), "time_limit": seconds, "memory_budget": memory,
        "hit_time_limit": bool(ex.hit_time_limit), "hit_memory_budget": bool(ex.hit_memory_bound),
        "spilled_bytes": ex.spilled, "spill_dir": ex.spill_dir or None, "counterexample_length": length,
        "violation_known_after_seconds": known, "peak_resident_bytes": ex.search_peak_resident or None,
        "plan": ex.plan, "timeline": levels,
    }


# --------------------------------------------------------------------------- the parent


def _child(phase: str, args: argparse.Namespace, timeout: float) -> dict[str, Any]:
    """Run ``phase`` in a child process of this script; its JSON answer, or why there is none."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "phase.json"
        cmd = [sys.executable, __file__, "--phase", phase, "--phase-out", str(out),
               "--exhaustive-seconds", str(args.exhaustive_seconds), "--memory", args.memory,
               "--property", args.property, *(["--spill-dir", args.spill_dir] if args.spill_dir else [])]
        return _run(cmd, timeout, out)


def _run(cmd: list[str], timeout: float, out: Path) -> dict[str, Any]:
    load = _load()
    started = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"killed after {timeout:.0f} s", "load_before": load}
    wall = time.perf_counter() - started
    answer: dict[str, Any] = json.loads(out.read_text()) if out.is_file() else {}
    if not answer:
        answer["error"] = (done.stderr.strip().splitlines() or [f"exit {done.returncode}, no output"])[-1]
    answer.update(exit_code=done.returncode, process_seconds=round(wall, 2), load_before=load, load_after=_load(),
                  stdout=done.stdout[-4000:])
    return answer


def simulate(args: argparse.Namespace) -> dict[str, Any]:
    """``modelcheck simulate`` as a user runs it: its JSON, plus the process's wall time."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "simulate.json"
        cmd = [sys.executable, "-m", "modelcheck", "simulate", SPEC, *_sets(), "-p", args.property,
               "--depth", str(args.depth), "--time", str(args.simulate_seconds), "--seed", str(args.seed),
               "--workers", str(args.workers), "-q", "--json", str(out)]
        got = _run(cmd, args.simulate_seconds + FINISH, out)
    v = got.get("violation") or {}
    found = re.search(r"VIOLATED in walk \d+(?: of search \d+)? after ([0-9.]+) s", got.get("stdout", ""))
    return {"command": _shown(cmd), "exit_code": got.get("exit_code"), "error": got.get("error"),
            "walks": got.get("walks"), "process_seconds": got.get("process_seconds"),
            "found_after_seconds": float(found.group(1)) if found else None, "length": v.get("length"),
            "shrunk_length": v.get("shrunk_length"), "load_before": got.get("load_before"),
            "load_after": got.get("load_after")}


def shortest(args: argparse.Namespace, depth: int) -> dict[str, Any]:
    """The native search cut at ``depth``: exhaustive up to it, so a violation it finds is a shortest one."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "check.json"
        cmd = [sys.executable, "-m", "modelcheck", "check", SPEC, *_sets(), "-p", args.property, "--backend", "native",
               "--max-depth", str(depth), "--no-progress", "-q", "--json", str(out)]
        got = _run(cmd, 600 + FINISH, out)
    results = got.get("results") or [{}]
    r = results[0]
    length = len(r["trace"]["steps"]) if r.get("trace") else None
    return {"command": _shown(cmd), "depth": depth, "verdict": r.get("verdict"), "states": r.get("states"),
            "shortest": length if r.get("verdict") == "VIOLATED" else None, "exit_code": got.get("exit_code"),
            "error": got.get("error"), "process_seconds": got.get("process_seconds")}


def _shown(cmd: list[str]) -> str:
    """The command as a user types it from the repository's root (no temporary --json file)."""
    import shlex

    cut = cmd.index("--json") if "--json" in cmd else len(cmd)
    return shlex.join(["python3" if c == sys.executable else "specs/virtio_blk.py" if c == SPEC else c
                       for c in cmd[:cut]])


def markdown(data: dict[str, Any]) -> str:
    e, s, k = data["exhaustive"], data["simulate"], data["shortest"]
    m = data["machine"]
    mem = f"{m['memory_bytes'] / (1 << 30):.0f} GB" if m.get("memory_bytes") else "?"
    settings = ", ".join(f"{n}={v}" for n, v in SETTINGS.items())
    lines = [
        "# Too large to enumerate: simulation against the exhaustive search (issue 19)",
        "",
        f"Configuration: `{settings}`; property `{data['property']}`. Machine: {m['cpus']} CPUs, {mem}; "
        f"written by `bench/too_large.py` on {data['date']}.",
        "",
        "| phase | limit | outcome | states | BFS level | seconds | load (1/5/15 min) before |",
        "|---|---|---|---|---|---|---|",
    ]
    if "error" in e and "states" not in e:
        lines.append(f"| exhaustive (native) | {data['exhaustive_seconds']:g} s, {data['memory']} | "
                     f"{e['error']} | | | | {e.get('load_before')} |")
    else:
        hits = (("time limit", e["hit_time_limit"]), ("memory budget", e["hit_memory_budget"]))
        bound = ", ".join(b for b, hit in hits if hit) or "none: finished"
        lines.append(f"| exhaustive (native) | {data['exhaustive_seconds']:g} s, {data['memory']} | "
                     f"{e['verdict']}; stopped by: {bound} | {e['states']:,} | {e['max_depth']} | "
                     f"{e['wall_seconds']} | {e['load_before']} |")
    sim = (f"VIOLATED after {s['found_after_seconds']} s ({s['walks']} walks); {s['length']} steps, shrunk to "
           f"{s['shrunk_length']}" if s.get("shrunk_length") else f"no violation ({s.get('error') or 'none found'})")
    lines.append(f"| simulate | {data['simulate_seconds']} s | {sim} | | | {s.get('process_seconds')} | "
                 f"{s.get('load_before')} |")
    short = (f"shortest counterexample: {k['shortest']} steps" if k.get("shortest")
             else f"{k.get('verdict') or k.get('error')}: shortest not known")
    lines.append(f"| shortest (native, depth ≤ {k.get('depth')}) | depth {k.get('depth')} | {short} | "
                 f"{k.get('states') or ''} | {k.get('depth')} | {k.get('process_seconds')} | |")
    lines += ["", "## What it shows", ""]
    if e.get("states") is not None:
        stopped = e["hit_time_limit"] or e["hit_memory_budget"]
        ending = ("without finishing" if stopped else
                  "and FINISHED: this configuration is not too large to enumerate within the limit")
        lines.append(f"- The exhaustive search stored {e['states']:,} states and reached BFS level {e['max_depth']} "
                     f"in {e['wall_seconds']} s (code generation included) {ending}: "
                     f"`{e['verdict']}`{' (' + e['reason'] + ')' if e['reason'] else ''}. Spilled to disk: "
                     f"{e['spilled_bytes']:,} bytes{' in ' + e['spill_dir'] if e['spill_dir'] else ''}.")
        if e.get("violation_known_after_seconds") is not None:
            lines.append(f"- Breadth-first, it had met the {e['counterexample_length']}-step violation by the end "
                         f"of level {e['counterexample_length']}, {e['violation_known_after_seconds']} s in (a "
                         "violation this shallow is no harder for BFS than for walks); what the time limit costs "
                         "it is every verdict that needs the whole space: none of them can be HOLDS.")
    if s.get("shrunk_length"):
        exact = f"known from the search exhaustive to depth {k['depth']}"
        known = (f", the shortest ({exact})" if k.get("shortest") == s["shrunk_length"]
                 else f"; the shortest is {k['shortest']} ({exact})" if k.get("shortest")
                 else "; the shortest is not known")
        lines.append(f"- `simulate` found a violation after {s['found_after_seconds']} s of walks "
                     f"({s['process_seconds']} s for the whole command); the {s['length']}-step walk shrinks to "
                     f"{s['shrunk_length']} steps{known}.")
    again = f"python3 bench/too_large.py --exhaustive-seconds {data['exhaustive_seconds']:g} --memory {data['memory']}"
    lines += ["", "## Commands", "", "```", again, s["command"], k.get("command", ""), "```", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exhaustive-seconds", type=float, default=600.0, help="the exhaustive search's time limit")
    parser.add_argument("--memory", default="8G", help="the exhaustive search's memory budget (default 8G)")
    parser.add_argument("--spill-dir", help="where the exhaustive search spills (default: the system's temp dir)")
    parser.add_argument("--simulate-seconds", type=int, default=60)
    parser.add_argument("--depth", type=int, default=60, help="the walks' depth bound")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="simulate's processes")
    parser.add_argument("--property", default=PROPERTY)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="directory for too_large.*")
    parser.add_argument("--phase", choices=("exhaustive",), help=argparse.SUPPRESS)
    parser.add_argument("--phase-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        answer = exhaustive(args.exhaustive_seconds, args.memory, args.spill_dir, args.property)
        answer["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        args.phase_out.write_text(json.dumps(answer))
        return
    data: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": _machine(),
                            "settings": SETTINGS, "property": args.property,
                            "exhaustive_seconds": args.exhaustive_seconds, "memory": args.memory,
                            "simulate_seconds": args.simulate_seconds}
    print(f"exhaustive: native search, {args.exhaustive_seconds:g} s, {args.memory} ...", flush=True)
    data["exhaustive"] = _child("exhaustive", args, args.exhaustive_seconds + FINISH)
    print(f"simulate: {args.simulate_seconds} s ...", flush=True)
    data["simulate"] = simulate(args)
    depth = data["simulate"].get("shrunk_length") or data["exhaustive"].get("counterexample_length") or 12
    print(f"shortest: native search to depth {depth} ...", flush=True)
    data["shortest"] = shortest(args, depth)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "too_large.json").write_text(json.dumps(data, indent=1) + "\n")
    text = markdown(data)
    (args.out / "too_large.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
