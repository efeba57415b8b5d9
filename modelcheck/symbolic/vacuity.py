"""Vacuity: whether the assumptions in force leave the spec something to prove.

An assumption removes steps. One that is always false (or two that contradict each other)
removes them all, and then every ``always`` property is "proved" about a system that never
moves. A proof resting on such assumptions is vacuous, and must say so. This module searches
the configuration's reachable states under the active assumptions (plain Python, the spec's
own code) and reports, with a shortest trace to the place:

- an action with a step the spec enables in some reachable state, but none that the
  assumptions allow in any (the assumptions *block every step* of the action);
- no step allowed from any initial state although the spec enables one (nothing past the
  initial states is reachable: the proof covers only them);
- a reachable state where the spec enables a step but the assumptions allow none (a
  *deadlock the assumptions add*).

The search is capped (``max_states``): a finding within the cap is definite; an action not
seen allowed within it is reported as undetermined, never as fine.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from ..spec import Compiled, Disabled, Step
from ..state import State
from ..trace import Trace


@dataclass(frozen=True)
class Finding:
    """One way the assumptions make proofs vacuous: ``kind`` is ``blocked_action``,
    ``no_initial_step`` or ``added_deadlock``; ``trace`` reaches the place (for a blocked action:
    a state where the spec enables it)."""

    kind: str
    text: str
    trace: Trace | None = None
    blocked_by: tuple[str, ...] = ()


@dataclass
class Vacuity:
    """What the search found; ``complete`` is False when it stopped at ``max_states``."""

    findings: list[Finding] = field(default_factory=list)
    undetermined: list[str] = field(default_factory=list)  # actions not seen allowed within the cap
    states: int = 0
    complete: bool = True

    @property
    def vacuous(self) -> bool:
        return bool(self.findings)


def check_vacuity(compiled: Compiled, max_states: int = 200_000) -> Vacuity:
    """Search the reachable states under the active assumptions for the findings above."""
    spec = compiled.spec
    active = compiled.active_assumptions
    out = Vacuity()
    if not active:
        return out
    parent: dict[State, tuple[State, Step] | None] = {}
    queue: deque[State] = deque()
    for s in compiled.initial:
        if s not in parent:
            parent[s] = None
            queue.append(s)
    enabled_at: dict[str, State] = {}  # action → a state where the spec enables it
    blockers: dict[str, set[str]] = {}  # action → assumptions that rejected one of its steps
    allowed_actions: set[str] = set()
    first_deadlock: tuple[State, tuple[str, ...]] | None = None
    initial_moves = False
    initial_enabled = False
    while queue:
        s = queue.popleft()
        enabled = allowed = 0
        rejecting: set[str] = set()
        for inst in compiled.instances:
            try:
                nxt = inst.func(spec, s, *inst.args)
            except Disabled:
                continue
            enabled += 1
            enabled_at.setdefault(inst.name, s)
            against = [a.name for a in active if not a.func(spec, s, inst.step, nxt)]
            if against:
                rejecting.update(against)
                blockers.setdefault(inst.name, set()).update(against)
                continue
            allowed += 1
            allowed_actions.add(inst.name)
            if nxt not in parent:
                if len(parent) >= max_states:
                    out.complete = False
                    continue
                parent[nxt] = (s, inst.step)
                queue.append(nxt)
        if parent[s] is None:
            initial_enabled |= enabled > 0
            initial_moves |= allowed > 0
        if enabled and not allowed and first_deadlock is None:
            first_deadlock = (s, tuple(sorted(rejecting)))
    out.states = len(parent)

    def trace_to(s: State, what: str) -> Trace:
        steps = []
        while parent[s] is not None:
            before, step = parent[s]  # type: ignore[misc]
            steps.append((step, s))
            s = before
        return Trace(s, tuple(reversed(steps)), what, "vacuity")

    if initial_enabled and not initial_moves:
        s0 = compiled.initial[0]
        out.findings.append(Finding("no_initial_step", "the assumptions allow no step from any initial state "
                                    "(only the initial states are reachable)", trace_to(s0, "initial"),
                                    tuple(sorted(set().union(*blockers.values())))))
    for action in compiled.actions:
        if action in enabled_at and action not in allowed_actions:
            names = tuple(sorted(blockers.get(action, ())))
            if out.complete:
                out.findings.append(Finding("blocked_action", f"the assumptions ({', '.join(names)}) block every "
                                            f"step of {action} in every reachable state",
                                            trace_to(enabled_at[action], action), names))
            else:
                out.undetermined.append(action)
    if first_deadlock is not None and not any(f.kind == "no_initial_step" for f in out.findings):
        s, names = first_deadlock
        out.findings.append(Finding("added_deadlock", f"a reachable state where the spec can move but the "
                                    f"assumptions ({', '.join(names)}) allow no step",
                                    trace_to(s, "deadlock"), names))
    return out
