"""Facts guessed from random walks and kept by Houdini: an invariant over the compact layout, often
with no Spacer at all.

Random walks (seeded; a sample of the reachable states, not an enumeration of them) give rows
of values in :mod:`.compact`'s layout. From them come candidate facts of three shapes: a
variable's values (``vm ∈ {running, stopping}``), one value implying another variable's values
(``observed[F1] → disk[s0] ∈ {W0}``) and two values implying a third's (``status[W0] = ok ∧
cache[s0] = - → disk[s0] ∈ {W0}``: the write is in the cache or on the disk). Every
candidate holds on every sample; Houdini then keeps the largest subset that is inductive over
the compact transition, each query a z3 check over *all* states (in :mod:`.onehot`'s
propositional form, which z3 decides much faster than the bounded integers). What survives
is an inductive invariant whatever the walks were; when it already excludes every bad state
the property is proved (the caller checks the invariant once more over the plain leaves).
A solver limit ends the search with ``complete`` false, never with facts that were not
checked.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from itertools import combinations

import z3

from ..spec import Compiled
from ..trace import allowed_steps
from .compact import Compact
from .encode import Encoding, Limits, new_solver
from .layout import Leaf
from .onehot import OneHot, every, some

WALK_DEPTH = 60
SUPPORT = 5  # samples a pair of values needs before it may imply a third variable's values
CHUNK = 300  # candidates whose preservation one Houdini query asks about
MAX_QUERIES = 300  # Houdini gives up after this many queries (a count, so the outcome never depends on load)


@dataclass(frozen=True)
class Candidate:
    """``premise`` (pairs of variable index and value, all holding) implies ``var`` ∈ ``values``."""

    premise: tuple[tuple[int, object], ...]
    var: int
    values: tuple[object, ...]

    def holds(self, row: tuple[object, ...]) -> bool:
        return any(row[i] != v for i, v in self.premise) or row[self.var] in self.values

    def formula(self, xs: list[z3.ExprRef]) -> z3.BoolRef:
        """Over the compact layout's (integer and Boolean) variables ``xs``."""
        return z3.Implies(every([_is(xs[i], v) for i, v in self.premise]),
                          some([_is(xs[self.var], v) for v in self.values]))

    def text(self, leaves: list[Leaf]) -> str:
        """The fact in the spec's names: ``status[W0] = 'ok' ∧ cache[s0] = -1 → disk[s0] = 0``."""
        then = _atom(leaves[self.var], self.values)
        if not self.premise:
            return then
        return " ∧ ".join(_atom(leaves[i], (v,)) for i, v in self.premise) + f" → {then}"

    def propositional(self, oh: OneHot, xs: list[z3.ExprRef]) -> z3.BoolRef:
        """Over the per-value Booleans of ``xs``."""
        return z3.Implies(every([oh.is_value(xs[i], v) for i, v in self.premise]),  # type: ignore[arg-type]
                          some([oh.is_value(xs[self.var], v) for v in self.values]))  # type: ignore[arg-type]


@dataclass
class MinedFacts:
    """The facts that survived, and how they were found."""

    facts: list[Candidate] = field(default_factory=list)
    candidates: int = 0
    samples: int = 0
    rounds: int = 0
    complete: bool = True  # False when a solver query stopped at a limit (then ``facts`` is empty)
    excludes_bad: bool = False  # the facts alone exclude every bad state
    reason: str = ""
    seconds: dict[str, float] = field(default_factory=dict)  # per phase, process CPU time

    def describe(self) -> dict[str, object]:
        return {"samples": self.samples, "candidates": self.candidates, "facts": len(self.facts),
                "rounds": self.rounds, "complete": self.complete, "excludes_bad": self.excludes_bad,
                "cpu_seconds": {k: round(v, 3) for k, v in self.seconds.items()}}


def mine(enc: Encoding, cs: Compact, limits: Limits, walks: int, seed: int) -> MinedFacts:
    """Sample, guess, filter by Houdini, and ask whether the facts exclude ``cs.bad``."""
    out = MinedFacts()
    clock = time.process_time()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.process_time()
        out.seconds[name] = now - clock
        clock = now

    rows = sample(enc.compiled, enc, cs, walks, seed)
    out.samples = len(rows)
    lap("walks")
    cands = guess(cs, rows)
    out.candidates = len(cands)
    oh = OneHot()
    for x, y, leaf in [*zip(cs.x, cs.y, cs.leaves), *zip(enc.x, enc.y, enc.leaves)]:  # plain: free fields
        if not leaf.is_bool:
            oh.add(x, leaf.lo, leaf.hi)
            oh.add(y, leaf.lo, leaf.hi)
    lap("guess")
    try:
        base = [oh.exactly_one(), oh.formula(cs.domain)]
        step = oh.formula(cs.transition)
        bad = oh.formula(cs.bad)
    except ValueError as err:  # a term with no propositional form: Spacer alone decides
        out.complete, out.reason = False, f"no propositional form: {err}"
        return out
    alive, out.rounds, why = houdini(cs, oh, cands, [*base, step], limits)
    lap("houdini")
    if alive is None:
        out.complete, out.reason = False, why
        return out
    out.facts = alive
    solver = new_solver(limits)
    solver.add(*base, bad, *[c.propositional(oh, cs.x) for c in alive])
    answer = solver.check()
    if answer == z3.unknown:
        out.reason = f"z3 (do the facts exclude the bad states): {limits.explain(solver.reason_unknown())}"
    out.excludes_bad = answer == z3.unsat
    lap("safety")
    return out


def sample(compiled: Compiled, enc: Encoding, cs: Compact, walks: int, seed: int,
           depth: int = WALK_DEPTH) -> list[tuple[object, ...]]:
    """The distinct states of ``walks`` seeded random walks of up to ``depth`` steps, in the
    compact layout, sorted (every initial state is among them)."""
    rng = random.Random(seed)
    rows = {cs.row(enc.row(s)) for s in compiled.initial}
    for k in range(walks):
        s = compiled.initial[k % len(compiled.initial)]
        for _ in range(depth):
            try:
                steps = list(allowed_steps(compiled, s))
            except Exception:  # the spec raises here: a fault, which z3 finds and reports (samples only guide)
                break
            if not steps:
                break
            s = steps[rng.randrange(len(steps))][1]
            rows.add(cs.row(enc.row(s)))
    return sorted(rows, key=repr)


def guess(cs: Compact, rows: list[tuple[object, ...]], support: int = SUPPORT) -> list[Candidate]:
    """Candidates true on every row: ranges, one value implying a variable's values, and two
    values (seen together at least ``support`` times) implying a variable's values where
    neither alone does as much."""
    n = len(cs.x)
    seen = [sorted({r[i] for r in rows}, key=repr) for i in range(n)]
    varying = [i for i in range(n) if len(seen[i]) > 1]
    out = [Candidate((), i, tuple(seen[i])) for i in range(n)
           if len(seen[i]) == 1 or (not cs.leaves[i].is_bool and len(seen[i]) < cs.leaves[i].hi - cs.leaves[i].lo + 1)]
    atoms = [(i, v) for i in varying for v in seen[i]]
    where = {a: 0 for a in atoms}  # the rows where each atom holds, as a bit set
    for k, r in enumerate(rows):
        for i in varying:
            where[i, r[i]] |= 1 << k

    def values(ks: int, j: int) -> tuple[object, ...]:
        return tuple(v for v in seen[j] if ks & where[j, v])

    single = {(a, j): values(where[a], j) for a in atoms for j in varying}
    for a in atoms:
        for j in varying:
            if j != a[0] and len(single[a, j]) < len(seen[j]):
                out.append(Candidate((a,), j, single[a, j]))
    for a, b in combinations(atoms, 2):
        if a[0] == b[0]:
            continue
        ks = where[a] & where[b]
        if ks.bit_count() < support:
            continue
        for j in varying:
            if j in (a[0], b[0]):
                continue
            both = values(ks, j)
            alone = set(single[a, j]) & set(single[b, j])
            if len(both) < len(alone):
                out.append(Candidate((a, b), j, both))
    return out


def houdini(cs: Compact, oh: OneHot, cands: list[Candidate], step: list[z3.BoolRef],
            limits: Limits, chunk: int = CHUNK) -> tuple[list[Candidate] | None, int, str]:
    """The largest subset of ``cands`` preserved by every step (``step``: the transition and the
    variables' constraints, propositional), each query asking about ``chunk`` candidates; None
    (with z3's reason) when a query stopped at a limit. The candidates hold initially (they
    hold on every sample, and the initial states are samples)."""
    solver = new_solver(limits)
    solver.set("smt.relevancy", 0)  # propositional queries: measured faster without relevancy filtering
    solver.add(*step)
    flags = [z3.Bool(f"fact:{k}") for k in range(len(cands))]
    for flag, c in zip(flags, cands):
        solver.add(z3.Implies(flag, c.propositional(oh, cs.x)))
    broken = [z3.Not(c.propositional(oh, cs.y)) for c in cands]
    ybits = [(oh.bits.get(y.get_id()), oh.ranges.get(y.get_id(), (0, 0))[0], y) for y in cs.y]
    alive = list(range(len(cands)))
    rounds = 0
    changed = True
    while changed:  # until one whole pass finds every chunk preserved by the same alive set
        changed = False
        pos = 0
        while pos < len(alive):
            rounds += 1
            if rounds > MAX_QUERIES:
                return None, rounds, f"Houdini stopped after {MAX_QUERIES} queries"
            part = alive[pos:pos + chunk]
            answer = _check(solver, [flags[k] for k in alive] + [z3.Or(*[broken[k] for k in part])])
            if answer == z3.unknown:
                return None, rounds, f"z3 (Houdini): {limits.explain(solver.reason_unknown())}"
            if answer == z3.unsat:
                pos += chunk
                continue
            row = _row(solver.model(), ybits)
            kept = [k for k in alive if cands[k].holds(row)]
            pos = sum(1 for k in alive[:pos] if cands[k].holds(row))
            alive = kept
            changed = True
    return [cands[k] for k in alive], rounds, ""


def _check(solver: z3.Solver, literals: list[z3.BoolRef]) -> z3.CheckSatResult:
    """``solver.check(*literals)`` without z3's per-literal sort check (thousands per query here)."""
    held = (z3.Ast * len(literals))(*[lit.as_ast() for lit in literals])
    return z3.CheckSatResult(z3.Z3_solver_check_assumptions(solver.ctx.ref(), solver.solver, len(literals), held))


def _row(model: z3.ModelRef, ybits: list[tuple[list[z3.BoolRef] | None, int, z3.ExprRef]]) -> tuple[object, ...]:
    """The next state of a model, as values of the compact layout's variables."""
    out: list[object] = []
    for bits, lo, y in ybits:
        if bits is None:
            out.append(z3.is_true(model.eval(y, model_completion=True)))
            continue
        out.append(next((lo + i for i, b in enumerate(bits) if z3.is_true(model.eval(b, model_completion=True))), lo))
    return tuple(out)


def _atom(leaf: Leaf, values: tuple[object, ...]) -> str:
    if leaf.is_bool:
        return leaf.name if values == (True,) else f"¬{leaf.name}" if values == (False,) else "true"
    shown = [repr(leaf.names[v]) if leaf.names else str(v) for v in values]  # type: ignore[index]
    return f"{leaf.name} = {shown[0]}" if len(shown) == 1 else f"{leaf.name} ∈ {{{', '.join(shown)}}}"


def _is(var: z3.ExprRef, value: object) -> z3.BoolRef:
    if z3.is_bool(var):
        return var if value else z3.Not(var)  # type: ignore[return-value]
    return var == value  # type: ignore[return-value]
