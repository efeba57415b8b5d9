"""Symmetry reduction: each state mapped to its class's representative under a spec's interchangeable ids.

A spec declares its symmetry with a method ``symmetry(self) -> Symmetry``
(:class:`modelcheck.symmetry.Symmetry`, optional):
which ids (request numbers, say) may be exchanged, from which state on, and where a
state holds ids, as the position keys of a field (``observed[r]``, ``ordered[(w, f)]``,
``cache[sector of w]``) or as its values (``rq``, ``cache``). The engine then stores one
representative per class: the least state (tuple order) among the images of a state
under every permutation the declaration allows there.

Why verdicts do not change. Let ``G(s)`` be the permutations of ids that, within each
group, exchange only ids ``ready`` in ``s``. The declaration promises three things:

1. every ``π`` in ``G(s)`` is an automorphism at ``s``: ``s → t`` by a step exactly when
   ``π(s) → π(t)`` by the renamed step (assumptions included), and no initial state has
   a ready id;
2. readiness is monotone (``s → t`` keeps every ready id ready, so ``G(s) ⊆ G(t)``) and
   invariant (``ready`` gives the same answer in ``π(s)``);
3. every property is invariant: ``P(π(s)) = P(s)`` for state properties and
   ``P(π(s), π(step), π(t)) = P(s, step, t)`` for step properties.

Then "``s'`` is ``π(s)`` for some ``π`` in ``G(s)``" is an equivalence (``G(s)`` is a
group and the same for the whole class by 2), and a bisimulation by 1 and 2: a step
``s → t`` is matched from ``π(s)`` by ``π(s) → π(t)``, and ``π(t)`` is in ``t``'s class
because ``G(s) ⊆ G(t)``. A bisimulation preserves reachability of every class, the
length of the shortest path to it, terminal states and infinite executions; with 3 every
verdict (always, step, sometimes, at_end) and every shortest counterexample length is the
same with and without the reduction. Traces stay concrete: the engine rebuilds them step
by step (:meth:`modelcheck.explicit.search.Exploration.trace_to`).

The engine cannot prove 1-3 for arbitrary spec code; :func:`check_symmetry` tests them
on a set of states (the test suite runs it on every reachable state of small
configurations).
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise, permutations, product
from typing import Any

from ...errors import SpecError
from ...state import State
from ...symmetry import Symmetry

Perm = dict[int, int]


def _rename_key(key: Any, perm: Perm) -> Any:
    if isinstance(key, bool):
        return key
    if isinstance(key, int):
        return perm.get(key, key)
    if isinstance(key, tuple):
        return tuple(_rename_key(k, perm) for k in key)
    return key


class Canonicalizer:
    """Maps a state to the least member of its class; built once per search from a :class:`Symmetry`."""

    def __init__(self, sym: Symmetry, state_cls: type[State], where: Any = None):
        self.sym = sym
        self.fields = state_cls.fields
        self.groups = tuple(g for g in sym.groups if len(g) > 1)
        self.ids = tuple(i for g in self.groups for i in g)
        self._positions = {name: {k: i for i, k in enumerate(keys)} for name, keys in sym.indexed.items()}
        for name in [*sym.indexed, *sym.renamed]:
            if name not in state_cls._index:
                raise SpecError(f"symmetry() names field {name!r}, which the state does not have", where=where,
                                fix=f"use one of {', '.join(self.fields)}")
        for g in self.groups:  # the position keys must be closed under each swap of the group
            for a, b in pairwise(g):
                self._compile({a: b, b: a}, where)
        self._cache: dict[tuple[int, ...], list[list[tuple]]] = {}

    def _compile(self, perm: Perm, where: Any = None) -> list[tuple]:
        """Per field, how ``perm`` acts: ("same",), ("index", sources, renamed), ("value",) or ("elements",)."""
        ops: list[tuple] = []
        for name in self.fields:
            renamed = name in self.sym.renamed
            if name in self.sym.indexed:
                keys = self.sym.indexed[name]
                pos = self._positions[name]
                sources = [0] * len(keys)
                for i, k in enumerate(keys):
                    moved = _rename_key(k, perm)
                    if moved not in pos:
                        raise SpecError(f"symmetry(): field {name} has a position for {k!r} but none for its image "
                                        f"{moved!r}", where=where, fix="group only ids whose positions correspond")
                    sources[pos[moved]] = i
                ops.append(("index", tuple(sources), renamed))
            elif renamed:
                ops.append(("elements",))
            else:
                ops.append(("same",))
        return ops

    def group(self, s: State) -> list[list[tuple]]:
        """The compiled non-identity permutations allowed in ``s`` (cached per set of ready ids)."""
        return self.group_of(tuple(i for i in self.ids if self.sym.ready(s, i)))

    def group_of(self, ready: tuple[int, ...]) -> list[list[tuple]]:
        """The compiled non-identity permutations allowed where the ids ``ready`` (in :attr:`ids`
        order) are the ready ones (cached)."""
        found = self._cache.get(ready)
        if found is None:
            choices = []
            for g in self.groups:
                movable = [i for i in g if i in ready]
                choices.append([dict(zip(movable, p)) for p in permutations(movable)])
            found = []
            for parts in product(*choices):
                perm = {a: b for part in parts for a, b in part.items() if a != b}
                if perm:
                    found.append((perm, self._compile(perm)))
            self._cache[ready] = found
        return found

    def apply(self, perm: Perm, ops: list[tuple], s: State) -> State:
        """The image of ``s`` under ``perm``."""
        get = perm.get
        out = []
        for value, op in zip(s, ops):
            kind = op[0]
            if kind == "same":
                out.append(value)
            elif kind == "index":
                moved = tuple(value[i] for i in op[1])
                out.append(tuple(get(v, v) for v in moved) if op[2] else moved)
            elif isinstance(value, tuple):
                out.append(tuple(get(v, v) for v in value))
            else:
                out.append(get(value, value))
        return tuple.__new__(type(s), out)

    def images(self, s: State) -> Iterable[tuple[Perm, list[tuple], State]]:
        """``(π, its compiled form, π(s))`` for every non-identity permutation allowed in ``s``."""
        for perm, ops in self.group(s):
            yield perm, ops, self.apply(perm, ops, s)

    def __call__(self, s: State) -> State:
        best = s
        for perm, ops in self.group(s):
            t = self.apply(perm, ops, s)
            if t < best:
                best = t
        return best


def check_symmetry(compiled: Any, canon: Canonicalizer, states: Iterable[State], properties: Iterable[Any]) -> None:
    """AssertionError unless the declaration's promises 1-3 hold at each of ``states``.

    For each state ``s`` and allowed ``π``: ``π(s)`` has the same ready ids, the renamed
    successors of ``s`` are exactly the successors of ``π(s)``, readiness never shrinks
    along a step, and every property judges ``s`` and ``π(s)`` (and each step and its
    image) alike.
    """
    from ..interpreted import Expander

    expander = Expander(compiled, list(properties), validate=False)
    ready = canon.sym.ready
    for s in states:
        base = expander.expand(s)
        ids = {i for i in canon.ids if ready(s, i)}
        for _, t, _ in base[4]:
            assert ids <= {i for i in canon.ids if ready(t, i)}, f"readiness shrinks along a step from {s!r}"
        for perm, ops, image in canon.images(s):
            assert ids == {i for i in canon.ids if ready(image, i)}, f"readiness differs in {image!r}"
            moved = expander.expand(image)
            assert base[:4] == moved[:4], f"state properties differ between {s!r} and its image under {perm}"
            want = sorted((canon.apply(perm, ops, t), bad) for _, t, bad in base[4])
            got = sorted((t, bad) for _, t, bad in moved[4])
            assert want == got, f"the image of {s!r} under {perm} has other successors (or step verdicts)"
