"""The reductions of the explicit search: symmetry (:mod:`.symmetry`) and partial-order (:mod:`.por`).

:func:`build_reduction` gives the two hooks :mod:`modelcheck.explicit.interpreted` applies: ``canonical``
maps every next state to its class representative before deduplication, ``ample`` keeps a
subset of a state's successors. Either may be off (None).

Together. Symmetry quotients the state graph by a bisimulation that keeps every property
(see :mod:`.symmetry`); POR then picks stubborn sets on each stored representative, a
concrete state, with the spec's own footprints, and the search's cycle proviso acts on the
quotient graph it actually stores. The usual argument for POR (a path to a violation is
shortened by an ample step, or an ample step is prepended and the rest still leads to a
violation, until a fully expanded state on every cycle forces the shortening) goes through
on the quotient, because a remaining path from a class member is renamed into one of the
same length from its representative, and properties do not see the renaming. So every
verdict is kept: symmetry alone keeps shortest counterexample lengths too; with POR a
counterexample may be longer and the result says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...errors import SpecError, Where
from ...spec import Compiled, Property
from ...state import State
from ...symmetry import Symmetry
from ..successors import Successor
from .symmetry import Canonicalizer


@dataclass
class Reduction:
    """The hooks of one search (None where a reduction is off or the spec declares no symmetry)."""

    canonical: Callable[[State], State] | None = None
    ample: Callable[[State, list[Successor]], list[Successor]] | None = None


def canonicalizer(compiled: Compiled) -> Canonicalizer | None:
    """The spec's symmetry as a state → representative map, or None when it declares none."""
    spec = compiled.spec
    hook = getattr(spec, "symmetry", None)
    if hook is None:
        return None
    where = Where.of(type(spec).symmetry, type(spec).__name__)
    declared = hook()
    if not isinstance(declared, Symmetry):
        raise SpecError(f"symmetry() returned {type(declared).__name__}, not a Symmetry", where=where,
                        fix="return modelcheck.symmetry.Symmetry(groups=..., ready=..., indexed=..., renamed=...)")
    canon = Canonicalizer(declared, compiled.state_class, where)
    return canon if canon.groups else None


def build_reduction(compiled: Compiled, properties: list[Property], *, symmetry: bool = False,
                    por: bool = False) -> Reduction:
    """The hooks for a search of ``compiled`` judging ``properties``."""
    out = Reduction()
    if symmetry:
        out.canonical = canonicalizer(compiled)
    if por:
        from .por import ample_sets

        out.ample = ample_sets(compiled, properties)
    return out
