"""Benchmark: the partitioned search (``check --distributed``) under ``mpirun -n N``.

A script, not a test. For each configuration of ``bench/spin/gen.py`` (small, medium, large:
3,360,953 states) and rank count it runs the check under ``mpirun -n N --oversubscribe`` and records, from
rank 0, the counts and verdict, the search's seconds, every rank's peak RSS and its growth
during the search (bytes per stored state = the ranks' summed growth / distinct states, as
``bench_explicit.py`` counts it), and per level and rank: states expanded, new states kept,
bytes sent, seconds to expand, exchange, deduplicate and agree. It writes
``bench/results/distributed.json`` and ``distributed.md``; ``bench/scaling.py`` projects from them::

    python bench/bench_distributed.py                    # small, medium, large; 1, 2 and 4 ranks
    python bench/bench_distributed.py --configs large --ranks 1,2

The machine may be shared: the load average at the start of each run is recorded beside it, each
rank runs in a session of its own (``setsid -w``: Linux's autogroup scheduling would give all of
mpirun's ranks one process's share of a busy host), and
``--nice -10`` (as root) runs the ranks ahead of the host's other work, which the table says.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SPEC = str(ROOT / "specs" / "virtio_blk.py")
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE / "spin"))

from gen import CONFIGS  # noqa: E402


def rank_main(config: str, out: str) -> None:
    """Under mpirun: one partitioned check; rank 0 writes what every rank measured."""
    import modelcheck.explicit.compiled.expander  # noqa: F401  (imports are not per-state memory)
    from modelcheck.check import check, configure
    from modelcheck.explicit import SearchOptions
    from modelcheck.explicit.memory import resident
    from modelcheck.explicit.ranks import Mpi

    comm = Mpi().comm  # MPI as the search starts it (mpi4py imported there)
    cfg = CONFIGS[config]
    spec = configure(SPEC, cfg.settings())
    comm.Barrier()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    resident_before = resident()
    started, cpu = time.perf_counter(), time.process_time()
    run = check(spec, [cfg.property], SearchOptions(distributed=True, memory=None))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    ex = run.exploration
    mine = {"rank": comm.Get_rank(), "peak_rss": peak, "rss_before": before, "resident_before": resident_before,
            "growth": peak - max(before, resident_before), "levels": ex.level_seconds, "seconds": seconds,
            "record_bytes": ex.record_bytes, "cpu_seconds": cpu}
    every = comm.gather(mine, root=0)
    if comm.Get_rank() == 0:
        r = run.results[0]
        row = {"config": config, "ranks": comm.Get_size(), "states": r.states, "transitions": r.transitions,
               "depth": r.depth, "verdict": r.verdict.value, "seconds": max(e["seconds"] for e in every),
               "plan": ex.plan, "per_rank": every, "cpu_seconds": [e["cpu_seconds"] for e in every],
               "bytes_per_state": sum(e["growth"] for e in every) / max(r.states, 1)}
        Path(out).write_text(json.dumps(row))


def run_one(config: str, ranks: int, timeout: float, nice: int = 0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "row.json"
        env = dict(os.environ, PYTHONPATH=str(ROOT), OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
        load = os.getloadavg()[0]
        started = time.perf_counter()
        prefix = ["nice", "-n", str(nice)] if nice else []
        # Linux's autogroup scheduling (sched_autogroup_enabled) gives one session's processes one
        # share of the CPU between them: all of mpirun's ranks would share what one process gets, and
        # on a host busy with other sessions two ranks would run no faster than one. `setsid -w` puts
        # each rank in a session of its own, as ranks on separate cores or hosts are scheduled.
        session = ["setsid", "-w"] if shutil.which("setsid") else []
        done = subprocess.run([*prefix, "mpirun", "-n", str(ranks), "--oversubscribe", *session, sys.executable,
                               __file__, "--rank-main", config, str(out)], env=env, capture_output=True, text=True,
                              timeout=timeout)
        wall = time.perf_counter() - started
        if done.returncode != 0 or not out.exists():
            return {"config": config, "ranks": ranks, "status": "failed", "stderr": done.stderr[-2000:]}
        row = json.loads(out.read_text())
        row.update(status="ok", mpirun_seconds=wall, load_average=load, nice=nice)
        return row


def _rounded(value: Any) -> Any:
    """Seconds to the microsecond (the per-level figures are many)."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["# The partitioned search under mpirun", "",
             f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
             f"{platform.python_version()}; {time.strftime('%Y-%m-%d %H:%M')}. The machine is shared: the load "
             "average at each run's start is shown. Generated by `python bench/bench_distributed.py`.", "",
             "| config | ranks | states | transitions | depth | verdict | search s | mpirun s | vs 1 rank | "
             "CPU s per rank | bytes/state | load | nice |", "|---" * 13 + "|"]
    one = {r["config"]: r["seconds"] for r in rows if r.get("status") == "ok" and r["ranks"] == 1}
    for r in rows:
        if r.get("status") != "ok":
            lines.append(f"| {r['config']} | {r['ranks']} | failed |" + " |" * 10)
            continue
        ratio = f"{r['seconds'] / one[r['config']]:.2f}x" if r["config"] in one else ""
        lines.append(f"| {r['config']} | {r['ranks']} | {r['states']:,} | {r['transitions']:,} | {r['depth']} | "
                     f"{r['verdict']} | {r['seconds']:.2f} | {r['mpirun_seconds']:.2f} | {ratio} | "
                     f"{', '.join(f'{c:.2f}' for c in r['cpu_seconds'])} | "
                     f"{r['bytes_per_state']:.0f} | {r['load_average']:.1f} | {r.get('nice', 0)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--rank-main":
        rank_main(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="small,medium,large", help="comma-separated: small, medium, large")
    parser.add_argument("--ranks", default="1,2,4", help="comma-separated rank counts")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--nice", type=int, default=0,
                        help="run mpirun under nice -n N (negative, as root: ahead of the other work of a shared host)")
    parser.add_argument("--output", type=Path, default=RESULTS / "distributed.json")
    args = parser.parse_args()
    rows = []
    for config in args.configs.split(","):
        run_one(config, 1, args.timeout)  # warm-up: the generated code and the C library into the cache
        rows += [run_one(config, int(n), args.timeout, args.nice) for n in args.ranks.split(",")]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(_rounded(rows), separators=(",", ":")) + "\n")  # per level and rank: compact
    args.output.with_suffix(".md").write_text(markdown(rows))
    print(markdown(rows))


if __name__ == "__main__":
    main()
