"""Per-action profile of an exhaustive search: which action generates the states, and where (TLC's profiler).

Read from what every backend already records: the steps per action instance (``fired``),
and per state id the instance that first reached it (``via``) and its depth. So *generated*
counts every step an instance took (transitions), *new* the distinct states it discovered
first, and the *peak level* is the BFS depth at which it discovered the most. Under symmetry
or partial-order reduction the counts are those of the reduced search.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .explicit import Exploration


@dataclass(frozen=True)
class Row:
    """One action (or action instance) of the profile."""

    name: str
    generated: int  # steps taken by it (transitions)
    new: int  # distinct states it reached first
    peak_level: int  # the BFS level where it added the most new states (-1: it added none)
    peak_new: int  # new states it added at that level


def profile(ex: Exploration) -> tuple[list[Row], list[Row]]:
    """Per action and per action instance, in the spec's order."""
    instances = ex.compiled.instances
    size = ex.size or len(ex.via)
    code = getattr(ex.via, "typecode", None) or ex.via.format  # an array, or a spilled search's memoryview
    via = np.frombuffer(ex.via, dtype=np.dtype(code), count=size).astype(np.int32) if size \
        else np.zeros(0, np.int32)  # int16 from the native search when the instances fit
    depth = np.frombuffer(ex.depth, dtype=np.uint32, count=size).astype(np.int64) if size else np.zeros(0, np.int64)
    levels = int(depth.max()) + 1 if size else 1
    reached = via >= 0  # initial states have no instance
    # new[k, d]: states first reached by instance k at depth d
    new = np.zeros((len(instances), levels), dtype=np.int64)
    np.add.at(new, (via[reached], depth[reached]), 1)
    fired = ex.fired_instances or [0] * len(instances)
    per_instance = [_row(ex.compiled.show_step(inst.step), fired[k], new[k]) for k, inst in enumerate(instances)]
    per_action = []
    for name in ex.compiled.actions:
        ks = [k for k, inst in enumerate(instances) if inst.name == name]
        per_action.append(_row(name, sum(fired[k] for k in ks), new[ks].sum(axis=0)))
    return per_action, per_instance


def _row(name: str, generated: int, by_level: np.ndarray) -> Row:
    total = int(by_level.sum())
    peak = int(np.argmax(by_level)) if total else -1
    return Row(name, int(generated), total, peak, int(by_level[peak]) if total else 0)


def to_json(per_action: list[Row], per_instance: list[Row]) -> dict:
    """The ``profile`` section of ``check --json``."""
    def rows(rs: list[Row]) -> list[dict]:
        return [{"name": r.name, "generated": r.generated, "new": r.new, "peak_level": r.peak_level,
                 "peak_new": r.peak_new} for r in rs]
    return {"actions": rows(per_action), "instances": rows(per_instance)}
