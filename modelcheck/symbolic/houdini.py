"""Cheap inductive facts (Houdini) that Spacer starts from, so it only has to find the hard ones.

Candidates are guessed from sample states (a bounded breadth-first run of the spec's own
code): for each leaf the values it takes, and for each value of one leaf the values another
leaf takes alongside it (``vm = 'stopped' → flight[W0] ∈ {no}``). Guesses are only guesses:
Houdini keeps the largest subset that holds initially and is preserved by every step, each
check done by z3 over *all* states, so what survives is an inductive invariant of the
configuration whatever the samples were.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import z3

from ..explicit import SearchOptions, explore
from .encode import Encoding, Guards, Limits, new_solver


@dataclass
class HoudiniOutcome:
    """The facts that survived, how many were guessed, and the time taken."""

    facts: list[z3.BoolRef] = field(default_factory=list)
    candidates: int = 0
    samples: int = 0
    rounds: int = 0
    seconds: float = 0.0
    complete: bool = True  # False when a solver call gave up (then ``facts`` is empty)


def leaf_values(enc: Encoding, max_samples: int) -> list[list[object]]:
    """Rows of leaf values (Python ints and bools), one per sampled state."""
    ex = explore(enc.compiled, [], SearchOptions(max_states=max_samples, validate=False))
    rows = []
    for s in ex.states:
        leaves = [z3.simplify(e) for e in enc.leaves_of_state(s)]
        rows.append([z3.is_true(e) if z3.is_bool(e) else e.as_long() for e in leaves])
    return rows


def candidates(enc: Encoding, rows: list[list[object]]) -> list[z3.BoolRef]:
    """Unary ranges and binary implications true in every sample."""
    xs = enc.x
    n = len(xs)
    seen = [sorted({r[i] for r in rows}, key=repr) for i in range(n)]
    out: list[z3.BoolRef] = []

    def member(i: int, values: list[object]) -> z3.BoolRef:
        return z3.Or(*[xs[i] == _val(v) for v in values])

    for i in range(n):
        out.append(member(i, seen[i]))
    for i in range(n):
        if len(seen[i]) < 2:
            continue
        for v in seen[i]:
            with_v = [r for r in rows if r[i] == v]
            for j in range(n):
                if j == i or len(seen[j]) < 2:
                    continue
                alongside = sorted({r[j] for r in with_v}, key=repr)
                if len(alongside) < len(seen[j]):
                    out.append(z3.Implies(xs[i] == _val(v), member(j, alongside)))
    return out


def _val(v: object) -> z3.ExprRef:
    return z3.BoolVal(v) if isinstance(v, bool) else z3.IntVal(v)


def houdini(enc: Encoding, guards: Guards, limits: Limits, max_samples: int = 4000) -> HoudiniOutcome:
    """The largest inductive subset of the guessed facts (under the assumptions ``guards``)."""
    started = time.perf_counter()
    rows = leaf_values(enc, max_samples)
    cands = candidates(enc, rows)
    out = HoudiniOutcome(candidates=len(cands), samples=len(rows))
    solver = new_solver(limits)
    solver.add(enc.domain(enc.x))
    solver.add(enc.transition(guards))
    solver.add(z3.Not(enc.fault(guards)))
    pairs = list(zip(enc.x, enc.y))
    flags = [z3.Bool(f"houdini:{k}") for k in range(len(cands))]
    for flag, c in zip(flags, cands):
        solver.add(z3.Implies(flag, c))
    after = [z3.substitute(c, *pairs) for c in cands]
    # the initial states satisfy every candidate (they are among the samples)
    alive = list(range(len(cands)))
    while alive:
        out.rounds += 1
        answer = solver.check(*[flags[k] for k in alive], z3.Or(*[z3.Not(after[k]) for k in alive]))
        if answer == z3.unsat:
            break
        if answer == z3.unknown:
            out.complete = False
            alive = []
            break
        model = solver.model()
        alive = [k for k in alive if z3.is_true(model.eval(after[k], model_completion=True))]
    out.facts = [cands[k] for k in alive]
    out.seconds = time.perf_counter() - started
    return out
