"""Proof time (z3) against explicit search time for virtio-blk's barrier, as qdepth grows.

Run: ``python bench/bench_prove.py [--timeout SECONDS] [--qdepth 2 3 4]``. Prints one row per
configuration: the explicit verdict, states and seconds; the z3 engine's verdict and seconds
(Spacer for drain, BMC to the explicit depth for nodrain, as a refutation needs a trace).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from modelcheck.check import check, configure
from modelcheck.symbolic.prove import ProveOptions, prove

SPEC = str(Path(__file__).resolve().parent.parent / "specs" / "virtio_blk.py")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timeout", type=float, default=30.0, help="per z3 query, seconds")
    parser.add_argument("--qdepth", type=int, nargs="+", default=[2, 3, 4])
    parser.add_argument("--workload", default="W0 W1 F W2 F")
    parser.add_argument("--profiles", nargs="+", default=["qemu-2010", "qemu-7.2"])
    parser.add_argument("--engine", default="spacer", choices=("spacer", "kind"))
    args = parser.parse_args()
    print(f"workload {args.workload!r}; z3 per-query timeout {args.timeout:.0f}s")
    print(f"{'profile':<10} {'guest':<8} {'qd':>2}  {'explicit':<10} {'states':>7} {'expl s':>7}  "
          f"{'z3':<18} {'engine':<7} {'z3 s':>7}  needs")
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
                needs = ", ".join(result.assumptions) if result.verdict.value == "PROVED" else ""
                print(f"{profile:<10} {guest:<8} {qdepth:>2}  {explicit.verdict.value:<10} {explicit.states:>7} "
                      f"{explicit_s:>7.2f}  {result.verdict.value:<18} {engine:<7} {z3_s:>7.2f}  {needs}",
                      flush=True)


if __name__ == "__main__":
    main()
