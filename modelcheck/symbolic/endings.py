"""``at_end`` properties in ``prove``: bounded model checking of endings and of executions that never end.

An ``at_end`` property is judged where an execution ends (a state with no allowed step), and
fails on an execution that never ends (the explicit engine shows it as a lasso). Unrolling
k = 0, 1, 2, ... steps, z3 is asked at each depth for

- an *ending that violates it*: the state at step k has no allowed step and the property is
  false there; the trace ends in that state;
- a *lasso*: the state at step k equals an earlier one, so the execution can go round
  forever; the trace returns to the loop's start;

and, once neither exists up to k, whether any execution has k + 1 steps at all. When none
does, every execution ends within k steps and every ending was judged: the property is
PROVED. Otherwise the answer after ``depth`` steps is "holds up to bound". Traces are
replayed and the property judged again on them before they are returned.
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
class EndingsOutcome:
    """``found`` (a counterexample: ``trace``), ``proved`` (every execution ends within ``depth``
    steps, every ending judged), ``clear`` (nothing within ``depth``) or ``unknown``: the answer
    of a bounded search of endings and lassos, here and in :mod:`.lasso`."""

    status: str
    depth: int
    trace: Trace | None = None
    reason: str = ""
    seconds: float = 0.0


def judge_endings(enc: Encoding, prop: Property, depth: int, guards: Guards, limits: Limits) -> EndingsOutcome:
    """Search the endings and cycles of the first ``depth`` steps (see the module text)."""
    started = time.perf_counter()
    unroll = Unrolling(enc, dict(guards), limits)
    bad, crash = enc.property_bad(prop, guards)  # bad: false here and no allowed step
    fault = z3.Or(enc.fault(guards), crash)

    def done(status: str, k: int, trace: Trace | None = None, reason: str = "") -> EndingsOutcome:
        return EndingsOutcome(status, k, trace, reason, time.perf_counter() - started)

    for k in range(depth + 1):
        if k > 0:
            unroll.extend()
        xs = enc.vars(k)
        same = [z3.And(*[a == b for a, b in zip(enc.vars(i), xs)]) for i in range(k)]
        answer = unroll.solver.check(z3.Or(enc.at(bad, k), enc.at(fault, k), *same))
        if answer == z3.unknown:
            return done("unknown", k, reason=f"z3: {limits.explain(unroll.solver.reason_unknown())} at depth {k}")
        if answer == z3.sat:
            model = unroll.solver.model()
            trace = unroll.trace(model, None, prop.name, "counterexample")
            loop = next((i for i, eq in enumerate(same) if z3.is_true(model.eval(eq, model_completion=True))), None)
            is_bad = z3.is_true(model.eval(enc.at(bad, k), model_completion=True))
            if loop is None and not is_bad:
                replay(enc.compiled, trace)
                steps = ", ".join(enc.compiled.show_step(st) for st, _ in trace.steps) or "(initial state)"
                raise SpecError(f"reachable after [{steps}]: an action or property raises, or sets a field "
                                "outside its type", fix="run `modelcheck check` on this configuration to see where")
            if loop is not None and not is_bad:
                trace = Trace(trace.initial, trace.steps, prop.name, "counterexample", loop_start=loop)
            replay(enc.compiled, trace, prop)
            return done("found", k, trace)
        longer = unroll.solver.check(enc.at(enc.enabled(guards), k))
        if longer == z3.unsat:
            return done("proved", k)
        if longer == z3.unknown:
            return done("unknown", k, reason=f"z3: {limits.explain(unroll.solver.reason_unknown())} at depth {k}")
    return done("clear", depth)
