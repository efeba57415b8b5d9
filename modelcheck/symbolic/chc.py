"""Proof by constrained Horn clauses: z3's Spacer (PDR/IC3) finds an inductive invariant.

The clauses are the textbook ones over one relation ``Reach`` of the state's leaves::

    Reach(x)  <-  Init(x)
    Reach(y)  <-  Reach(x) ∧ T_a(x, y)            one clause per action instance a
    false     <-  Reach(x) ∧ (Bad(x) ∨ Fault(x))

No model of ``Reach`` satisfying the clauses means a bad state is reachable; a model is an
inductive invariant that excludes every bad state, valid for executions of any length. The
invariant is printed over the leaves' names (``rq.len``, ``vm = 'stopped'``).
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass, replace

import z3

from ..errors import EngineBug
from .bmc import Unrolling
from .compact import Compact, compact
from .encode import Encoding, Guards, Limits, new_solver
from .layout import Leaf
from .mining import Candidate, mine

REFUTE_DEPTH = 12  # steps BMC unrolls when the mined facts do not prove, before Spacer


@dataclass
class ChcOutcome:
    """``proved`` (with the invariant), ``reachable`` (a bad state is reachable) or ``unknown``."""

    status: str
    invariant: str = ""
    invariant_size: int = 0
    reason: str = ""
    seconds: float = 0.0
    dropped: list[str] | None = None  # fields outside the cone of influence (compact layout)
    seed: int | None = None  # the seed that decided, when several raced
    method: str = "spacer"  # "houdini": the mined facts alone were the invariant (no Spacer ran)
    mined: dict | None = None  # how the facts were mined (:meth:`.mining.MinedFacts.describe`)


def spacer(enc: Encoding, bad: z3.BoolRef, guards: Guards, limits: Limits,
           background: list[z3.BoolRef] | None = None, layout: str = "compact",
           free: frozenset[str] = frozenset(), walks: int = 0) -> ChcOutcome:
    """Ask Spacer whether a state in ``bad`` is reachable under the assumptions ``guards``.

    ``layout="compact"`` (the default) gives Spacer :mod:`.compact`'s layout (a cone of
    influence, sequences as per-item positions, one rule for the whole transition, z3's
    preprocessing on); the invariant it finds is translated back and checked over the plain
    leaves. ``layout="plain"`` keeps every leaf and one rule per action instance;
    ``background`` then holds facts already known to be inductive (from :mod:`houdini`),
    added to every step's body, which leaves the reachable states unchanged.
    ``walks`` (compact layout): random walks whose states suggest facts for :mod:`.mining`;
    when the facts Houdini keeps exclude every bad state they are the invariant and Spacer does
    not run, else they are Spacer's background (0: no walks).
    """
    if layout == "compact":
        return _spacer_compact(enc, bad, guards, limits, free, walks)
    known = z3.And(*(background or []))
    started = time.perf_counter()
    fp = z3.Fixedpoint()
    fp.set(engine="spacer")
    limits.apply(fp)
    fp.set("xform.slice", False)  # keep every argument, so the invariant names every leaf
    fp.set("xform.inline_linear", False)
    fp.set("xform.inline_eager", False)
    sorts = [leaf.var(0).sort() for leaf in enc.leaves]
    reach = z3.Function("Reach", *sorts, z3.BoolSort())
    fp.register_relation(reach)
    fp.declare_var(*enc.x, *enc.y)
    fp.rule(reach(*enc.x), z3.And(enc.domain(enc.x), enc.init(enc.x)))
    for ie in enc.instances:
        step = enc.step_formula(ie, guards)
        if not z3.is_false(z3.simplify(step)):
            fp.rule(reach(*enc.y), [reach(*enc.x), known, step], name=f"step_{ie.index}")
    try:
        answer = fp.query(z3.And(reach(*enc.x), known, bad))
    except z3.Z3Exception as err:  # z3 raises on some timeouts
        return ChcOutcome("unknown", reason=f"spacer: {limits.explain(str(err))}",
                          seconds=time.perf_counter() - started)
    seconds = time.perf_counter() - started
    if answer == z3.sat:
        return ChcOutcome("reachable", seconds=seconds)
    if answer == z3.unknown:
        return ChcOutcome("unknown", reason=f"spacer: {limits.explain(fp.reason_unknown())}", seconds=seconds)
    body = fp.get_cover_delta(-1, reach)
    named = z3.substitute_vars(body, *[z3.Const(leaf.name, s) for leaf, s in zip(enc.leaves, sorts)])
    found = z3.substitute_vars(body, *enc.x)
    status, why = check_invariant(enc, z3.And(known, found), bad, guards, limits)
    if status == "unknown":
        return ChcOutcome("unknown", seconds=seconds, reason=why)
    if status == "failed":
        raise EngineBug(f"spacer's invariant fails the independent check ({why})")
    text, size = readable(named, enc.leaves)
    return ChcOutcome("proved", invariant=text, invariant_size=size, seconds=time.perf_counter() - started)


def race(enc: Encoding, bad: z3.BoolRef, guards: Guards, limits: Limits, seeds: int,
         free: frozenset[str] = frozenset(), walks: int = 0) -> ChcOutcome:
    """Spacer over the compact layout with ``seeds`` random seeds (``limits.seed`` on), each in a
    process of its own, the first to decide winning.

    The verdict does not depend on which process finishes first: each seed's run is
    deterministic under z3's resource limit, a seed that proves always proves and the engines
    never both prove and refute, and UNKNOWN waits for every seed. Only the invariant shown
    (and the seed that found it) may differ from run to run. Each seed also seeds its walks."""
    if seeds <= 1:
        return spacer(enc, bad, guards, limits, free=free, walks=walks)
    context = multiprocessing.get_context("fork")  # the children inherit the encoding, nothing is pickled
    answers = context.SimpleQueue()
    children = []
    for k in range(seeds):
        mine = replace(limits, seed=limits.seed + k)
        child = context.Process(target=_one_seed, args=(enc, bad, guards, mine, answers, free, walks),
                                daemon=True)
        child.start()
        children.append(child)
    unknown: list[str] = []
    decided: ChcOutcome | None = None
    try:
        for _ in range(seeds):
            while answers.empty():  # a child that died without an answer must not hang the race
                if not any(child.is_alive() for child in children) and answers.empty():
                    raise EngineBug("spacer: a seed's process ended without an answer")
                time.sleep(0.05)
            seed, out, error = answers.get()
            if error is not None:
                raise EngineBug(f"spacer (seed {seed}): {error}")
            if out.status != "unknown":
                out.seed = seed
                decided = out
                break
            unknown.append(f"seed {seed}: {out.reason}")
    finally:
        for child in children:
            if child.is_alive():
                child.kill()
            child.join()
    return decided or ChcOutcome("unknown", reason="; ".join(sorted(unknown)))


def _one_seed(enc: Encoding, bad: z3.BoolRef, guards: Guards, limits: Limits, answers: object,
              free: frozenset[str], walks: int) -> None:
    """One seed of a race, in a child process: its outcome (or the engine bug it found) on ``answers``."""
    try:
        answers.put((limits.seed, _spacer_compact(enc, bad, guards, limits, free, walks), None))  # type: ignore[attr-defined]
    except Exception as err:  # reported to the parent, which raises it as an engine bug
        answers.put((limits.seed, None, f"{type(err).__name__}: {err}"))  # type: ignore[attr-defined]


def _spacer_compact(enc: Encoding, bad: z3.BoolRef, guards: Guards, limits: Limits,
                    free: frozenset[str] = frozenset(), walks: int = 0) -> ChcOutcome:
    """The compact layout: mined facts first (:mod:`.mining`); if they do not exclude every bad
    state, Spacer over one relation, one rule for initial states and one for the steps."""
    started = time.perf_counter()
    cs = compact(enc, bad, guards, free)
    known: list[Candidate] = []
    mined = None
    if walks:
        found_facts = mine(enc, cs, limits, walks, limits.seed)
        mined = found_facts.describe()
        if found_facts.complete:
            known = found_facts.facts
        if found_facts.excludes_bad:
            return _checked(enc, cs, known, None, bad, guards, limits, started, mined)
        depth = _bad_within(enc, bad, guards, limits, REFUTE_DEPTH)
        if depth is not None:  # a refutation: the caller finds (and replays) the trace
            return ChcOutcome("reachable", seconds=time.perf_counter() - started, mined=mined,
                              reason=f"BMC: a bad state within {depth} steps")
    fp = z3.Fixedpoint()
    fp.set(engine="spacer")
    limits.apply(fp)
    reach = z3.Function("Reach", *[v.sort() for v in cs.x], z3.BoolSort())
    fp.register_relation(reach)
    fp.declare_var(*{v.get_id(): v for v in [*enc.x, *cs.x, *cs.y]}.values())
    facts = z3.And(*[c.formula(cs.x) for c in known])
    fp.rule(reach(*cs.x), z3.And(cs.domain, cs.init))
    fp.rule(reach(*cs.y), [reach(*cs.x), cs.domain, facts, cs.transition], name="step")
    try:
        answer = fp.query(z3.And(reach(*cs.x), cs.domain, facts, cs.bad))
    except z3.Z3Exception as err:  # z3 raises on some limits
        return ChcOutcome("unknown", reason=f"spacer: {limits.explain(str(err))}",
                          seconds=time.perf_counter() - started, mined=mined)
    seconds = time.perf_counter() - started
    if answer == z3.sat:
        # a bad state, or a sequence holding an item twice (which the positions cannot hold): the
        # caller looks for a trace to a bad state over the plain layout and says UNKNOWN if none
        return ChcOutcome("reachable", seconds=seconds, mined=mined,
                          reason="or a sequence may hold an item twice (the compact layout cannot hold it)"
                          if cs.repeats else "")
    if answer == z3.unknown:
        return ChcOutcome("unknown", reason=f"spacer: {limits.explain(fp.reason_unknown())}", seconds=seconds,
                          mined=mined)
    body = fp.get_cover_delta(-1, reach)
    return _checked(enc, cs, known, z3.substitute_vars(body, *cs.x), bad, guards, limits, started, mined)


def _bad_within(enc: Encoding, bad: z3.BoolRef, guards: Guards, limits: Limits, depth: int) -> int | None:
    """The fewest steps (up to ``depth``) from an initial state to a state in ``bad``, by BMC over
    the plain layout; None when there is none within ``depth`` or z3 gave up. Only ever a reason
    to look for a trace (which the caller finds and replays), never part of a proof."""
    unroll = Unrolling(enc, dict(guards), limits)
    for k in range(depth + 1):
        if k:
            unroll.extend()
        answer = unroll.solver.check(enc.at(bad, k))
        if answer == z3.sat:
            return k
        if answer == z3.unknown:
            return None
    return None


def _checked(enc: Encoding, cs: Compact, facts: list[Candidate], found: z3.BoolRef | None, bad: z3.BoolRef,
             guards: Guards, limits: Limits, started: float, mined: dict | None) -> ChcOutcome:
    """The mined ``facts`` and Spacer's invariant ``found`` (None: Spacer did not run), over the
    compact layout's step-0 variables, checked together over the plain leaves."""
    method = "spacer" if found is not None else "houdini"
    whole = z3.And(cs.domain, *[c.formula(cs.x) for c in facts], *([found] if found is not None else []))
    status, why = check_invariant(enc, cs.to_plain(whole), bad, guards, limits)
    if status == "unknown":
        return ChcOutcome("unknown", seconds=time.perf_counter() - started, reason=why, mined=mined)
    if status == "failed":
        raise EngineBug(f"the {method} invariant fails the independent check over the plain layout ({why})")
    lines = sorted({c.text(cs.leaves) for c in facts})
    if found is not None:
        named = z3.substitute(found, *[(v, z3.Const(leaf.name, v.sort())) for leaf, v in zip(cs.leaves, cs.x)])
        text, _ = readable(named, cs.leaves)
        lines = [*text.splitlines(), *lines]
    return ChcOutcome("proved", invariant="\n".join(lines), invariant_size=len(lines),
                      seconds=time.perf_counter() - started, dropped=cs.dropped, method=method, mined=mined)


def check_invariant(enc: Encoding, inv: z3.BoolRef, bad: z3.BoolRef, guards: Guards, limits: Limits,
                    next_in_domain: bool = False) -> tuple[str, str]:
    """Init ⇒ inv, inv ∧ T ⇒ inv', inv ⇒ ¬bad, each checked by a fresh solver.

    Returns ``("ok", "")``, ``("failed", which)`` (z3 found a state breaking a condition: the
    invariant is wrong, an engine bug) or ``("unknown", why)`` (a solver limit, never a bug).
    ``next_in_domain`` assumes the next state within its field types in consecution; only
    sound when ``bad`` includes the steps that leave them (the certificate engine's faults)."""
    after = z3.substitute(inv, *zip(enc.x, enc.y))
    step = [enc.domain(enc.x), enc.domain(enc.y)] if next_in_domain else [enc.domain(enc.x)]
    queries = [
        ("initiation", z3.And(enc.domain(enc.x), enc.init(enc.x), z3.Not(inv))),
        ("consecution", z3.And(*step, inv, enc.transition(guards), z3.Not(after))),
        ("safety", z3.And(enc.domain(enc.x), inv, bad)),
    ]
    for what, q in queries:
        solver = new_solver(limits)
        solver.add(q)
        answer = solver.check()
        if answer == z3.unknown:
            return "unknown", f"z3 ({what} of the invariant): {limits.explain(solver.reason_unknown())}"
        if answer == z3.sat:
            return "failed", what
    return "ok", ""


# --------------------------------------------------------------------------- printing


def readable(formula: z3.ExprRef, leaves: list[Leaf]) -> tuple[str, int]:
    """The invariant as one conjunct per line, enum values by name; and the number of conjuncts."""
    enums = {leaf.name: leaf.names for leaf in leaves if leaf.names}
    formula = z3.simplify(formula, arith_lhs=True, som=False)
    conjuncts = list(formula.children()) if z3.is_and(formula) else [formula]
    lines = sorted({show(c, enums) for c in conjuncts})
    return "\n".join(lines), len(lines)


def show(e: z3.ExprRef, enums: dict[str, tuple[str, ...]]) -> str:
    """One formula in infix form with the spec's names."""
    if z3.is_true(e):
        return "true"
    if z3.is_false(e):
        return "false"
    if z3.is_const(e) and not z3.is_int_value(e):
        return str(e)
    if z3.is_int_value(e):
        return str(e.as_long())
    kids = e.children()
    if z3.is_not(e):
        inner = kids[0]
        if z3.is_eq(inner) and z3.is_bool(inner.children()[0]):  # ¬(p = q) between truth values: p xor q
            return f"({show(inner.children()[0], enums)} ⊕ {show(inner.children()[1], enums)})"
        if z3.is_eq(inner):
            return _compare(inner.children()[0], "≠", inner.children()[1], enums)
        return f"¬({show(inner, enums)})"
    if z3.is_eq(e) and z3.is_bool(kids[0]):  # p = q between truth values: p iff q
        return f"({show(kids[0], enums)} ↔ {show(kids[1], enums)})"
    if z3.is_app_of(e, z3.Z3_OP_DISTINCT) and len(kids) == 2:
        if z3.is_bool(kids[0]):
            return f"({show(kids[0], enums)} ⊕ {show(kids[1], enums)})"
        return _compare(kids[0], "≠", kids[1], enums)
    if z3.is_and(e):
        return "(" + " ∧ ".join(show(k, enums) for k in kids) + ")"
    if z3.is_or(e):
        return "(" + " ∨ ".join(show(k, enums) for k in kids) + ")"
    if z3.is_implies(e):
        return f"({show(kids[0], enums)} → {show(kids[1], enums)})"
    ops = {z3.Z3_OP_EQ: "=", z3.Z3_OP_LE: "≤", z3.Z3_OP_GE: "≥", z3.Z3_OP_LT: "<", z3.Z3_OP_GT: ">"}
    kind = e.decl().kind()
    if kind in ops:
        return _compare(kids[0], ops[kind], kids[1], enums)
    if kind == z3.Z3_OP_ADD:
        return "(" + " + ".join(show(k, enums) for k in kids) + ")"
    if kind == z3.Z3_OP_MUL and len(kids) == 2 and z3.is_int_value(kids[0]) and kids[0].as_long() == -1:
        return f"-{show(kids[1], enums)}"
    if kind == z3.Z3_OP_MUL:
        return "·".join(show(k, enums) for k in kids)
    if z3.is_app_of(e, z3.Z3_OP_ITE):
        return f"(if {show(kids[0], enums)} then {show(kids[1], enums)} else {show(kids[2], enums)})"
    return str(e)


def _compare(a: z3.ExprRef, op: str, b: z3.ExprRef, enums: dict[str, tuple[str, ...]]) -> str:
    if z3.is_int_value(a) and not z3.is_int_value(b):
        a, b = b, a
        op = {"≤": "≥", "≥": "≤", "<": ">", ">": "<"}.get(op, op)
    name = str(a) if z3.is_const(a) else ""
    if name in enums and z3.is_int_value(b) and op in ("=", "≠"):
        names = enums[name]
        v = b.as_long()
        if 0 <= v < len(names):
            return f"{name} {op} {names[v]!r}"
    return f"{show(a, enums)} {op} {show(b, enums)}"
