"""Proof time (z3) against explicit search time for virtio-blk's barrier, as qdepth grows.

Run: ``python bench/bench_prove.py [--timeout SECONDS] [--qdepth 2 3 4] [--workload any:3]``.
Prints one row per configuration: the explicit verdict, states and seconds; the z3 engine's
verdict, seconds (including the assumption core and, for a proof, the BMC refutation without
each dropped assumption), the invariant's size, and the assumptions the proof needs. Under
drain the prover is ``--engine`` (default: certificate); under nodrain the refutation is BMC
to the explicit depth, as a refutation needs a trace. Every row also checks that the two
engines agree (verdict, and the shortest counterexample's length).

``python bench/bench_prove.py --enumeration-free [--seeds 5]`` measures issue 13's case instead:
drain's ``barrier`` at "W0 W1 F W2 F" qdepth 3 proved by ``prove --engine spacer`` (facts
mined from random walks and kept by Houdini, else Spacer; no explicit search), with only
``flush_waits`` in force, once per seed, each run a process of its own; it prints each run's
CPU and wall-clock seconds, their medians and the load average (CPU time is the figure that
means something on a loaded machine), and, once, the full run with the assumption core
(``guest=drain``: which assumptions the proof needs).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from modelcheck.check import check, configure
from modelcheck.symbolic.prove import ProveOptions, prove
from modelcheck.verdict import Verdict

SPEC = str(Path(__file__).resolve().parent.parent / "specs" / "virtio_blk.py")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timeout", type=float, default=60.0, help="per z3 query, seconds")
    parser.add_argument("--qdepth", type=int, nargs="+", default=[2, 3, 4])
    parser.add_argument("--workload", default="W0 W1 F W2 F")
    parser.add_argument("--profiles", nargs="+", default=["qemu-2010", "qemu-7.2"])
    parser.add_argument("--engine", default="certificate", choices=("certificate", "spacer", "kind"))
    parser.add_argument("--enumeration-free", action="store_true",
                        help="only issue 13's case: the barrier proved with no explicit search, per seed")
    parser.add_argument("--seeds", type=int, default=5, help="--enumeration-free: seeds 0..N-1 (default 5)")
    args = parser.parse_args()
    if args.enumeration_free:
        enumeration_free(args.seeds)
        return
    print(f"workload {args.workload!r}; engine {args.engine}; z3 per-query timeout {args.timeout:.0f}s")
    print(f"{'profile':<10} {'guest':<8} {'qd':>2}  {'explicit':<9} {'states':>7} {'expl s':>7}  "
          f"{'z3':<9} {'engine':<12} {'z3 s':>7} {'invariant':>16}  agree  needs")
    for profile in args.profiles:
        for guest in ("drain", "nodrain"):
            for qdepth in args.qdepth:
                spec = configure(SPEC, {"profile": profile, "guest": guest, "qdepth": qdepth,
                                        "workload": args.workload})
                started = time.perf_counter()
                explicit = check(spec, ["barrier"]).results[0]
                explicit_s = time.perf_counter() - started
                engine = args.engine if guest == "drain" else "bmc"
                opts = ProveOptions(engine=engine, depth=explicit.depth, timeout_ms=int(args.timeout * 1000))
                started = time.perf_counter()
                result = prove(spec, ["barrier"], opts).results[0]
                z3_s = time.perf_counter() - started
                agree = _agree(explicit, result)
                needs = ", ".join(result.assumptions) if result.verdict is Verdict.PROVED else ""
                size = _size(result.extra)
                print(f"{profile:<10} {guest:<8} {qdepth:>2}  {explicit.verdict.value:<9} {explicit.states:>7} "
                      f"{explicit_s:>7.2f}  {result.verdict.value:<9} {engine:<12} {z3_s:>7.2f} {size:>16}  "
                      f"{agree:<5}  {needs}", flush=True)


ENUMERATION_FREE = ["prove", SPEC, "--engine", "spacer", "-p", "barrier", "-q",
                    "--set", "workload=W0 W1 F W2 F", "--set", "qdepth=3"]


def enumeration_free(seeds: int) -> None:
    """Issue 13's must-show, per seed: CPU and wall seconds of one ``modelcheck prove`` process."""
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    cpu, wall = [], []
    for seed in range(seeds):
        c, w, out = _timed([*ENUMERATION_FREE, "--set", "guest=flush_waits", "--no-core", "--seed", str(seed)])
        cpu.append(c)
        wall.append(w)
        print(f"seed {seed}: cpu {c:6.2f} s  wall {w:6.2f} s  {out}", flush=True)
    print(f"median over {seeds} seeds: cpu {statistics.median(cpu):.2f} s, wall {statistics.median(wall):.2f} s "
          f"(guest=flush_waits, no assumption core)")
    c, w, out = _timed([*ENUMERATION_FREE, "--set", "guest=drain", "--seed", "0"])
    print(f"guest=drain with the assumption core, seed 0: cpu {c:.2f} s  wall {w:.2f} s  {out}")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def _timed(argv: list[str]) -> tuple[float, float, str]:
    """One ``python -m modelcheck`` process: its CPU seconds (user + system), wall seconds, verdict line."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "modelcheck", *argv], capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = [line for line in done.stdout.splitlines() if line.startswith("barrier")]
    return cpu, wall, " ".join(lines[0].split()) if lines else f"exit {done.returncode}: {done.stderr.strip()[-200:]}"


def _agree(explicit: object, result: object) -> str:
    ev, zv = explicit.verdict, result.verdict  # type: ignore[attr-defined]
    if ev is Verdict.VIOLATED:
        same = zv is Verdict.VIOLATED and len(result.trace) == len(explicit.trace)  # type: ignore[attr-defined]
    else:
        same = zv in (Verdict.PROVED, Verdict.HOLDS_UP_TO_BOUND)
    return "yes" if same else "NO"


def _size(extra: dict) -> str:
    if extra.get("invariant_kind") == "reachable set":
        return f"{extra['invariant_states']} states"
    if extra.get("invariant_conjuncts"):
        return f"{extra['invariant_conjuncts']} clauses"
    return f"k={extra['k']}" if "k" in extra else ""


if __name__ == "__main__":
    main()
