"""Partial-order reduction: in each state, fire only a stubborn subset of the enabled steps.

Footprints. Every action instance is run once over a symbolic state (the spec's own code,
through :mod:`modelcheck.symbolic.encode`), which gives, per scalar of the state (one per
tuple element, one per sequence slot and length: a *leaf*), whether the instance may
write it and whether its guard, effect or an active assumption may read it, over *all*
states, not only the reachable ones seen so far. Two instances are *independent* when
neither writes a leaf the other reads or writes (Bernstein's conditions): wherever both
are enabled, firing one leaves the other enabled with the same effect, and both orders
reach the same state.

Ample sets. In state ``s`` with enabled instances ``E``, for each enabled candidate ``t``
(in instance order) the closure ``S`` of ``{t}`` adds, for an enabled member, every
instance dependent on it, and for a disabled member every instance that may write a leaf
its guard reads (a necessary enabling set). ``S ∩ E`` is then a strong stubborn set
(conditions C0 and C1: no path outside it can disable, enable or change one of its steps).
The smallest such set is kept when it has no *visible* instance (C2), else ``E``.
A visible instance is one that may write a leaf some checked state property (``always``,
``sometimes``) reads, or on which some checked step property is not trivially true.
C3 (no step ignored forever around a cycle) is enforced by the search: it fully expands a
state one of whose kept steps leads back to a state of depth at most its own
(:func:`modelcheck.explicit.search.explore`); every cycle of the reduced graph has such an edge.
The choice depends only on ``E``, so it is cached per enabled set.

What it preserves (with C0-C3: the textbook stuttering-equivalence theorem, Clarke,
Grumberg and Peled, *Model Checking*, ch. 10, and Valmari's deadlock theorem):

- ``always`` and ``sometimes`` verdicts: a state property changes only by a visible step;
- ``always_on_step`` verdicts: read as a state property over a sticky flag "some step
  violated P"; a step that may violate P is visible, and the leaves P reads when judging
  a step count as read by that step, so independence also keeps P's verdict on it;
- ``at_end`` verdicts: strong stubborn sets keep every reachable terminal state, and
  C3 keeps every infinite execution (the reduced graph has a cycle iff the full one does);
- not liveness verdicts (``eventually``, ``leads_to``): a stubborn set may postpone a
  weakly fair action around a cycle forever, so they say UNKNOWN under this reduction;
- not the state and transition counts, and not shortest traces: a counterexample or
  witness found under POR is a real trace but may be longer than the shortest one
  (the result says so).

A spec the symbolic encoding cannot run raises :class:`UsageError`: no silent fallback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...errors import UsageError
from ...spec import LIVENESS, Compiled, Property, PropertyKind
from ...state import State
from ..successors import Successor


def _leaf_vars(expr: Any, index: dict[str, int]) -> int:
    """Bitmask of the leaves (``name@0`` constants) ``expr`` mentions."""
    import z3

    found = 0
    seen: set[int] = set()
    stack = [expr]
    while stack:
        e = stack.pop()
        eid = e.get_id()
        if eid in seen:
            continue
        seen.add(eid)
        if z3.is_const(e) and e.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            bit = index.get(e.decl().name())
            if bit is not None:
                found |= 1 << bit
            continue
        stack.extend(e.children())
    return found


class Footprints:
    """Per action instance: the leaves it may read and write, and whether it is visible."""

    def __init__(self, compiled: Compiled, properties: list[Property]):
        try:
            import z3

            from ...symbolic.encode import Encoding

            enc = Encoding(compiled)
        except Exception as err:  # the encoding names the unsupported construct
            raise UsageError(f"partial-order reduction needs the symbolic encoding of the spec: {err}") from None
        index = {str(v): i for i, v in enumerate(enc.x)}
        self.leaves = [leaf.name for leaf in enc.leaves]
        # guard_reads: what decides whether the instance is enabled (path conditions, assumptions);
        # reads: that and what its effect reads; writes: leaves some path may change
        n = len(compiled.instances)
        self.guard_reads = [0] * n
        self.reads = [0] * n
        self.writes = [0] * n
        for ie in enc.instances:
            g = _leaf_vars(ie.crash, index)
            r = w = 0
            for sp in ie.paths:
                g |= _leaf_vars(sp.condition, index)
                r |= _leaf_vars(sp.fault, index)  # a step that would leave the field types
                for f in sp.assumes.values():
                    g |= _leaf_vars(f, index)
                for i, (x, y) in enumerate(zip(enc.x, sp.next)):
                    # a change the path allows (slots past a sequence's length are kept at a default)
                    if not z3.eq(x, y) and enc.oracle.feasible([sp.condition, x != y]):
                        w |= 1 << i
                        r |= _leaf_vars(y, index)
            self.guard_reads[ie.index] = g
            self.reads[ie.index] = r | g
            self.writes[ie.index] = w
        guards = {a.name: z3.BoolVal(True) for a in compiled.active_assumptions}
        self.visible_leaves = 0
        self.violable = [False] * n
        for p in properties:
            if p.kind in LIVENESS:
                continue  # not judged under this reduction (UNKNOWN, and said so): no footprint
            bad, crash = enc.property_bad(p, guards)
            if p.kind in (PropertyKind.ALWAYS, PropertyKind.SOMETIMES):
                self.visible_leaves |= _leaf_vars(bad, index) | _leaf_vars(crash, index)
            elif p.kind == PropertyKind.STEP:
                for ie, _sp, holds, crash in enc._props[p.name]:
                    if z3.is_true(holds) and z3.is_false(crash):
                        continue
                    self.violable[ie.index] = True
                    self.reads[ie.index] |= _leaf_vars(holds, index) | _leaf_vars(crash, index)
        self.visible = [self.violable[k] or bool(self.writes[k] & self.visible_leaves) for k in range(n)]

    def dependent(self, a: int, b: int) -> bool:
        """Whether ``a`` and ``b`` may fail to commute somewhere (one writes what the other reads or writes)."""
        wa, wb = self.writes[a], self.writes[b]
        return bool(wa & (self.reads[b] | wb) or wb & self.reads[a])


class AmpleSets:
    """The ample-set choice of the module docstring, as the search's ``ample`` hook."""

    def __init__(self, compiled: Compiled, properties: list[Property]):
        fp = Footprints(compiled, properties)
        self.footprints = fp
        n = len(compiled.instances)
        self.dep = [sum(1 << b for b in range(n) if b == a or fp.dependent(a, b)) for a in range(n)]
        self.enablers = [sum(1 << b for b in range(n) if fp.writes[b] & fp.guard_reads[a]) | (1 << a) for a in range(n)]
        self.visible = sum(1 << k for k in range(n) if fp.visible[k])
        self._chosen: dict[int, int] = {}

    def choose(self, enabled: int) -> int:
        """The instances to fire when ``enabled`` (a bitmask) are enabled."""
        found = self._chosen.get(enabled)
        if found is not None:
            return found
        best = enabled
        best_size = enabled.bit_count()
        k = 0
        rest = enabled & ~self.visible
        while rest and best_size > 1:
            if rest & 1:
                stubborn = self._closure(k, enabled)
                ample = stubborn & enabled
                size = ample.bit_count()
                if size < best_size and not ample & self.visible:
                    best, best_size = ample, size
            rest >>= 1
            k += 1
        self._chosen[enabled] = best
        return best

    def _closure(self, start: int, enabled: int) -> int:
        stubborn = 1 << start
        todo = [start]
        dep, enablers = self.dep, self.enablers
        while todo:
            a = todo.pop()
            add = (dep[a] if enabled >> a & 1 else enablers[a]) & ~stubborn
            stubborn |= add
            while add:
                low = add & -add
                todo.append(low.bit_length() - 1)
                add ^= low
        return stubborn

    def __call__(self, s: State, successors: list[Successor]) -> list[Successor]:
        enabled = 0
        for k, _, _ in successors:
            enabled |= 1 << k
        keep = self.choose(enabled)
        if keep == enabled:
            return successors
        return [x for x in successors if keep >> x[0] & 1]


def ample_sets(compiled: Compiled, properties: list[Property]) -> Callable[[State, list[Successor]], list[Successor]]:
    """The ``ample`` hook for ``compiled`` and the properties being checked."""
    return AmpleSets(compiled, properties)
