"""k-induction: a second prover, to cross-check Spacer on small configurations.

For k = 0, 1, ...: the base case is BMC at depth k (no bad state within k steps of an
initial state); the inductive step asks for k+1 distinct good states joined by transitions
and followed by a bad one. When no such path exists the property holds for executions of
any length. When the step still fails at the last k, its path is a counterexample to
induction (CTI), shown as a trace that need not start in an initial state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import z3

from ..errors import SpecError
from ..spec import Property
from ..trace import Trace, replay
from .bmc import Unrolling
from .encode import Encoding, Guards, Limits


@dataclass
class KindOutcome:
    """``proved`` at ``k``, ``found`` (a trace from the base case), or ``unknown`` (with a CTI)."""

    status: str
    k: int
    trace: Trace | None = None
    cti: Trace | None = None
    reason: str = ""
    seconds: float = 0.0


def k_induction(enc: Encoding, prop: Property, guards: Guards, max_k: int, limits: Limits,
                check_replay: bool = True) -> KindOutcome:
    """Prove ``prop`` (an ``always`` or step property) by k-induction, for k up to ``max_k``.

    ``check_replay`` is off only while a proof is re-tried with fewer assumptions than the
    configuration has: its traces then need not replay under the configuration's assumptions.
    """
    started = time.perf_counter()
    bad, crash = enc.property_bad(prop, guards)
    bad = z3.Or(bad, crash, enc.fault(guards))
    base = Unrolling(enc, dict(guards), limits)
    step = Unrolling(enc, dict(guards), limits, from_init=False)
    for k in range(max_k + 1):
        if k > 0:
            base.extend()
        answer = base.solver.check(enc.at(bad, k))
        if answer == z3.sat:
            model = base.solver.model()
            is_prop = z3.is_true(model.eval(enc.at(enc.property_bad(prop, guards)[0], k), model_completion=True))
            trace = base.trace(model, prop if is_prop else None, prop.name, "counterexample")
            if check_replay:
                replay(enc.compiled, trace, prop if is_prop else None)
            if not is_prop:
                raise SpecError(f"reachable after {len(trace)} steps: an action or property raises, or sets a "
                                "field outside its type", fix="run `modelcheck check` on this configuration")
            return KindOutcome("found", k, trace=trace, seconds=time.perf_counter() - started)
        if answer == z3.unknown:
            why = limits.explain(base.solver.reason_unknown())
            return KindOutcome("unknown", k, reason=f"z3 (base case, k={k}): {why}",
                               seconds=time.perf_counter() - started)
        # step: x0..xk good, distinct, T between them, x(k+1) bad
        step.solver.add(z3.Not(enc.at(bad, k)))
        step.extend()
        for j in range(k + 1):
            step.solver.add(z3.Or(*[a != b for a, b in zip(enc.vars(j), enc.vars(k + 1))]))
        answer = step.solver.check(enc.at(bad, k + 1))
        if answer == z3.unsat:
            return KindOutcome("proved", k + 1, seconds=time.perf_counter() - started)
        if answer == z3.unknown:
            why = limits.explain(step.solver.reason_unknown())
            return KindOutcome("unknown", k, reason=f"z3 (inductive step, k={k}): {why}",
                               seconds=time.perf_counter() - started)
        if k == max_k:
            model = step.solver.model()
            cti = step.trace(model, None, prop.name, "counterexample to induction")
            return KindOutcome("unknown", k, cti=cti, seconds=time.perf_counter() - started,
                               reason=f"not {k + 1}-inductive: the step case has a counterexample (CTI)")
    return KindOutcome("unknown", max_k, reason="no k tried", seconds=time.perf_counter() - started)
