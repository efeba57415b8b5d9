"""A spec's declaration of interchangeable ids: part of the spec API, used by the symmetry reduction.

The reduction itself, and the argument why it keeps every verdict, is
:mod:`modelcheck.explicit.reductions.symmetry`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .state import State


@dataclass(frozen=True)
class Symmetry:
    """A spec's declaration of interchangeable ids (see the module docstring for the promises).

    ``groups``: tuples of ids; ids of one group may be permuted among themselves.
    ``ready(s, id)``: whether ``id`` may be moved in state ``s`` (monotone along steps).
    ``indexed``: per field, the key of each position: an id, a tuple of ids, or any other
    value (a position whose key holds no grouped id never moves). A permutation moves the
    entry at key ``k`` to the position whose key is ``k`` renamed.
    ``renamed``: fields whose value, or whose elements, are ids (other values pass).
    """

    groups: tuple[tuple[int, ...], ...]
    ready: Callable[[State, int], bool]
    indexed: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    renamed: tuple[str, ...] = ()
