"""Compare the Promela model with specs/virtio_blk.py state for state, not only by count.

The model is generated with a ``printf`` of every variable at the end of every step and
verified with ``pan -DPRINTF``, which prints each step SPIN takes (one line per transition,
the initial state aside). The printed valuations must be exactly the states our explicit
engine reaches (minus the initial one, which no step leads to unless a cycle does), and the
number of lines exactly its transition count. Run on the benchmark configurations and on a
grid of small variants that exercise every profile, error policy, backend order and reads::

    python bench/spin/crosscheck.py --config small,medium
    python bench/spin/crosscheck.py --grid
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen import CONFIGS, Config, Model

from modelcheck.check import check, configure
from modelcheck.explicit import SearchOptions

SPEC = str(Path(__file__).resolve().parents[2] / "specs" / "virtio_blk.py")

GRID: list[Config] = [
    Config(workload="W0 W1 F W2 F", profile=profile, order=order, guest=guest, failures=1,
           property="barrier")
    for profile in ("qemu-2010", "qemu-7.2", "qemu-9.0", "fifo", "flush-after-restart", "ordered-flush")
    for order in ("any", "fifo")
    for guest in ("drain", "nodrain")
] + [
    Config(workload="W0 F W0 R0", qdepth=2, guest="nodrain", werror=werror, rerror=rerror, failures=1,
           eio_failures=1, flush_failures=1, read_failures=1, evict=evict, property="barrier_order")
    for werror in ("stop", "enospc", "report", "ignore")
    for rerror in ("stop", "report")
    for evict in ("on", "off")
] + [
    Config(workload="W0 W1 F W1 F", qdepth=3, guest="nodrain", failures=2, migrations=2, order="fifo",
           profile="qemu-9.0", property="flush_contract"),
]


def spin_steps(model: Model, workdir: Path) -> list[tuple[int, ...]]:
    """Every state SPIN steps into, one entry per transition it takes."""
    (workdir / "m.pml").write_text(model.promela())
    subprocess.run(["spin", "-o2", "-a", "m.pml"], cwd=workdir, check=True, capture_output=True)
    subprocess.run(["gcc", "-O2", "-w", "-DSAFETY", "-DNOREDUCE", "-DPRINTF", "-DMEMLIM=4096", "-o", "pan",
                    "pan.c"], cwd=workdir, check=True, capture_output=True)
    out = subprocess.run(["./pan", "-m100000", "-A"], cwd=workdir, capture_output=True, text=True).stdout
    return [tuple(int(v) for v in line.split()[1:]) for line in out.splitlines() if line.startswith("STATE ")]


def compare(cfg: Config, workdir: Path) -> bool:
    """Check one configuration; print one line, and the first differing states on a mismatch."""
    model = Model(cfg, dump=True)
    steps = spin_steps(model, workdir)
    run = check(configure(SPEC, cfg.settings()), ["completion"] if cfg.property == "none" else [cfg.property],
                SearchOptions())
    ex = run.exploration
    ours = [model.encode(s) for s in ex.states]
    spin_states = set(steps) | {ours[0]}
    same = spin_states == set(ours) and len(steps) == ex.transitions
    label = " ".join(f"{k}={v}" for k, v in cfg.settings().items() if v != getattr(Config(), k))
    verdict = run.results[0].verdict.name
    print(f"{'same' if same else 'DIFFERENT':9} states {len(ours):>8} / spin {len(spin_states):>8}  "
          f"transitions {ex.transitions:>8} / spin {len(steps):>8}  {cfg.property}={verdict}  {label}")
    if not same:
        names = model.variables()
        for tag, diff in (("only ours", set(ours) - spin_states), ("only spin", spin_states - set(ours))):
            for s in sorted(diff)[:2]:
                print(f"  {tag}: " + " ".join(f"{k}={v}" for k, v in zip(names, s)))
    return same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="", help="comma-separated benchmark configurations")
    parser.add_argument("--grid", action="store_true", help="also the grid of small variants")
    args = parser.parse_args()
    configs = [CONFIGS[name] for name in args.config.split(",") if name]
    if args.grid:
        configs += GRID
    ok = True
    with tempfile.TemporaryDirectory(prefix="mc-spin-") as tmp:
        for cfg in configs:
            ok &= compare(replace(cfg), Path(tmp))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
