"""A scaling model of the partitioned search: time and memory for 8, 64 and 512 ranks, from measured levels.

A script, not a test. Its inputs are the per-level, per-rank figures that
``bench/bench_distributed.py`` measured (``bench/results/distributed.json``): states expanded,
new states kept, bytes sent, and seconds to expand, exchange, deduplicate and agree. From the
one-rank runs it takes the costs per unit of work; from the runs on several ranks, how evenly the
fingerprints share the work out. It projects, for each benchmark configuration and for one of
about 10⁹ states (the large configuration's shape, scaled), with these stated assumptions:

- ranks run on nodes of ``--ranks-per-node`` cores (default 32), one rank per core;
- compute scales with each rank's share: expansion (and packing) per state expanded and
  deduplication per step received, in CPU seconds as measured on one rank (the wall seconds of
  a shared host include waiting for a core), times the measured imbalance (the busiest rank's
  work over the mean);
- a step travels as one record (its fingerprint, its parent's, its instance and its row); a
  fraction (P−1)/P of them leaves the rank, of which the part to other nodes crosses the network
  at ``--bandwidth`` GB/s per node (default 12.5: 100 Gb/s) shared by the node's ranks, and the
  part within a node at ``--shm-bandwidth`` GB/s per rank (default 5);
- every exchange round (one ``Alltoall`` of counts and one ``Alltoallv``; a level needs one
  round per batch of at most ``BATCH`` records on its busiest rank) costs a latency of
  ``--latency`` µs (default 2) per peer, pairwise as Open MPI's default algorithm, and every
  level one ``allgather`` of log₂ P steps;
- memory per rank: the process's fixed cost (measured resident memory before the search), the
  states it owns at the measured bytes per state (fingerprint, parent links, the set at its
  load, its share of the largest frontier), and the batch buffers.

It writes ``bench/results/scaling.md`` (the table, the assumptions and the measured inputs) and
``bench/results/scaling.json``::

    python bench/scaling.py
    python bench/scaling.py --bandwidth 25 --latency 1.5 --ranks-per-node 64
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
RANKS = (8, 64, 512)
BATCH_BYTES = 4 << 20  # modelcheck.explicit.distributed.BATCH_BYTES
HUGE = 10**9


def measured_inputs(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per configuration: sizes, per-unit costs (one rank) and imbalance (several ranks)."""
    out: dict[str, dict[str, Any]] = {}
    for config in dict.fromkeys(r["config"] for r in rows if r.get("status") == "ok"):
        runs = [r for r in rows if r.get("status") == "ok" and r["config"] == config]
        one = min(runs, key=lambda r: r["ranks"])
        levels = one["per_rank"][0]["levels"]
        record = one["per_rank"][0].get("record_bytes") or 91
        expanded = sum(lv["expanded"] for lv in levels)
        received = one["transitions"]  # on one rank every step is admitted there (none is sent)
        frontier_peak = max(lv["new"] for lv in levels) / max(one["states"], 1)
        imbalance = 1.0
        for r in runs:
            if r["ranks"] > 1:
                per = [sum(lv["expanded"] for lv in e["levels"]) for e in r["per_rank"]]
                imbalance = max(imbalance, max(per) / (sum(per) / len(per)))
        out[config] = {
            "states": one["states"], "transitions": one["transitions"], "levels": len(levels),
            "level_profile": [lv["expanded"] / max(expanded, 1) for lv in levels],
            # CPU seconds where measured: on a shared host the wall ones include waiting for a core
            "expand_s_per_state": sum(lv.get("expand_cpu", lv["expand"]) for lv in levels) / max(expanded, 1),
            "dedup_s_per_step": sum(lv.get("dedup_cpu", lv["dedup"]) for lv in levels) / max(received, 1),
            "record_bytes": record, "frontier_peak_fraction": frontier_peak, "imbalance": imbalance,
            "bytes_per_state": one["bytes_per_state"],
            "fixed_rss": one["per_rank"][0]["resident_before"],
            "measured_seconds": {str(r["ranks"]): r["seconds"] for r in runs},
            "load_average": {str(r["ranks"]): r.get("load_average") for r in runs},
        }
    return out


def project(m: dict[str, Any], states: int, transitions: int, levels: int, ranks: int,
            args: argparse.Namespace) -> dict[str, float]:
    """Seconds and bytes per rank for one configuration on ``ranks`` ranks (see the module docstring)."""
    share = states / ranks * m["imbalance"]
    steps = transitions / ranks * m["imbalance"]
    compute = share * m["expand_s_per_state"] + steps * m["dedup_s_per_step"]
    record = m["record_bytes"]
    off_rank = steps * record * (ranks - 1) / ranks
    per_node = min(ranks, args.ranks_per_node)
    off_node_fraction = max(0.0, (ranks - per_node) / max(ranks - 1, 1))
    network = off_rank * off_node_fraction / (args.bandwidth * 1e9 / per_node)
    shm = off_rank * (1 - off_node_fraction) / (args.shm_bandwidth * 1e9)
    batch = BATCH_BYTES // record
    profile = m["level_profile"]
    scale = levels / len(profile)
    rounds = 0
    for f in profile:  # every level (stretched to `levels`) needs ceil(its busiest rank's steps / batch) rounds
        level_steps = f * steps
        rounds += max(1, math.ceil(level_steps / batch)) * scale
    latency = rounds * (ranks - 1) * args.latency * 1e-6 * 2 + levels * math.log2(max(ranks, 2)) * args.latency * 1e-6
    seconds = compute + network + shm + latency
    per_state = m["bytes_per_state"]
    memory = m["fixed_rss"] + share * per_state
    return {"seconds": seconds, "compute": compute, "network": network + shm, "latency": latency,
            "rounds": rounds, "memory_per_rank": memory, "memory_total": memory * ranks}


def table(inputs: dict[str, dict[str, Any]], args: argparse.Namespace) -> tuple[str, list[dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    configs = [(name, m, m["states"], m["transitions"], m["levels"]) for name, m in inputs.items()]
    if "large" in inputs:
        large = inputs["large"]
        ratio = large["transitions"] / large["states"]
        configs.append(("~10⁹ states (large's shape)", large, HUGE, int(HUGE * ratio), int(large["levels"] * 1.4)))
    for name, m, states, transitions, levels in configs:
        for p in RANKS:
            r = project(m, states, transitions, levels, p, args)
            rows.append({"config": name, "ranks": p, "states": states, "transitions": transitions, "levels": levels,
                         **r})
    lines = ["| config | ranks | states | transitions | levels | seconds | compute s | transfer s | latency s | "
             "exchange rounds | memory per rank | memory, all ranks |", "|---" * 12 + "|"]
    for r in rows:
        lines.append(f"| {r['config']} | {r['ranks']} | {r['states']:,} | {r['transitions']:,} | {r['levels']} | "
                     f"{r['seconds']:.2f} | {r['compute']:.2f} | {r['network']:.2f} | {r['latency']:.2f} | "
                     f"{r['rounds']:.0f} | {show(r['memory_per_rank'])} | {show(r['memory_total'])} |")
    return "\n".join(lines), rows


def show(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n / 1e3:.0f} kB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=RESULTS / "distributed.json")
    parser.add_argument("--bandwidth", type=float, default=12.5, help="network GB/s per node (default 12.5)")
    parser.add_argument("--shm-bandwidth", type=float, default=5.0, help="within a node, GB/s per rank (default 5)")
    parser.add_argument("--latency", type=float, default=2.0, help="µs per message (default 2)")
    parser.add_argument("--ranks-per-node", type=int, default=32)
    parser.add_argument("--output", type=Path, default=RESULTS / "scaling.md")
    args = parser.parse_args()
    rows = json.loads(args.input.read_text())
    inputs = measured_inputs(rows)
    text, projected = table(inputs, args)
    assumptions = (f"network {args.bandwidth} GB/s per node shared by {args.ranks_per_node} ranks; within a node "
                   f"{args.shm_bandwidth} GB/s per rank; {args.latency} µs per message; exchange rounds of at most "
                   f"{BATCH_BYTES >> 20} MB per rank; the ~10⁹-state row keeps the large configuration's "
                   "transitions per state, level profile and per-state costs, with 1.4× its levels.")
    measured = ["| config | states | transitions | levels | expand µs/state | dedup+pack µs/step | record B | "
                "bytes/state | peak frontier | imbalance | fixed RSS | measured s (ranks: s) | load average |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, m in inputs.items():
        secs = ", ".join(f"{k}: {v:.2f}" for k, v in m["measured_seconds"].items())
        load = ", ".join(f"{k}: {v:.1f}" for k, v in m["load_average"].items() if v is not None)
        measured.append(f"| {name} | {m['states']:,} | {m['transitions']:,} | {m['levels']} | "
                        f"{m['expand_s_per_state'] * 1e6:.3f} | {m['dedup_s_per_step'] * 1e6:.3f} | "
                        f"{m['record_bytes']} | {m['bytes_per_state']:.0f} | {m['frontier_peak_fraction']:.1%} | "
                        f"{m['imbalance']:.3f} | {show(m['fixed_rss'])} | {secs} | {load} |")
    doc = ("# Scaling model of the partitioned search\n\nGenerated by `python bench/scaling.py` from "
           f"`{args.input.name}` (measured by `python bench/bench_distributed.py`). A model, not a measurement: "
           "see the assumptions and the measured inputs below; bench/scaling.py's docstring gives every formula.\n\n"
           f"## Projection\n\n{text}\n\n## Assumptions\n\n{assumptions}\n\n## Measured inputs\n\n"
           + "\n".join(measured) + "\n")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(doc)
    args.output.with_suffix(".json").write_text(json.dumps({"assumptions": vars(args) | {"input": str(args.input),
                                                            "output": str(args.output)}, "inputs": inputs,
                                                            "projection": projected}, indent=1, default=str) + "\n")
    print(doc)


if __name__ == "__main__":
    main()
