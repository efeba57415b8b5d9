"""States as the engine stores and hashes them: field layout, flattening, and every fingerprint.

One module for the three ways a state is reduced to a number, so that the choice is
visible in one place:

- :func:`fingerprint` — the hex string shown to people (graphs, reports): blake2b of the
  canonical ``repr``;
- :func:`fingerprint_int` — the interpreted search's compact store: blake2b of the marshal
  encoding;
- :func:`fingerprint_for` / :func:`flat_fingerprint` — the compiled search over *flat
  states* (tuples of small ints, one per leaf, in the leaf order of
  :mod:`modelcheck.symbolic.layout`): Python's unsalted ``hash()`` of the tuple. The native
  search hashes the same leaves, packed, with XXH64's round (``native/search.c``).

None depends on ``PYTHONHASHSEED``. :class:`FlatLayout` converts between states and flat
states with the project's one flattener, :func:`modelcheck.symbolic.layout.leaves_into`
(the z3 engine's rows are the same leaves, booleans as bools); :func:`leaf_range` bounds
every leaf (the packed frontier and the C cell type depend on it).
"""

from __future__ import annotations

import hashlib
import marshal
from collections.abc import Callable

from ..state import State
from ..symbolic.layout import decode, leaves_into, leaves_of, width
from ..types import FieldType


def fingerprint(state: tuple) -> str:
    """A stable 64-bit fingerprint of a state, the same on every run and machine.

    Built from the canonical ``repr`` of the plain tuple (ints, bools, strings and
    tuples of them), never from Python's salted ``hash()``.
    """
    return hashlib.blake2b(tuple.__repr__(state).encode(), digest_size=8).hexdigest()


def fingerprint_int(s: tuple) -> int:
    """The compact store's 64-bit fingerprint of a state: blake2b of its marshal encoding.

    Marshal format 2 has no back-references, so equal states always encode alike; it is
    several times cheaper than the ``repr`` behind :func:`modelcheck.state.fingerprint`
    (the one shown to people), and never uses Python's salted ``hash()``.
    """
    return int.from_bytes(hashlib.blake2b(marshal.dumps(tuple(s), 2), digest_size=8).digest(), "little")


def flat_fingerprint(x: tuple[int, ...]) -> int:
    """The compact store's 64-bit fingerprint of a flat state whose leaves all lie in
    ``-1 .. 2**61 - 2``: Python's ``hash()`` of the tuple (a signed 64-bit int; the search
    calls ``hash`` itself, this names it). :func:`fingerprint_for` picks the function for
    other leaf ranges.

    Deterministic on every run and machine with 64-bit CPython: only ``str`` and ``bytes``
    hashes are salted by ``PYTHONHASHSEED``; an int's hash is its value modulo 2**61 - 1
    (except ``hash(-1) == -2``) and a tuple's hash is a fixed xxHash-style mix of its items'
    hashes. Within that range an int's hash is one-to-one, so two states share a fingerprint
    only by the tuple mix, as with any 64-bit fingerprint (probability about n**2 / 2**65 for
    n states); the full store keeps states and dedups exactly.
    """
    return hash(x)


def fingerprint_for(lo: int, hi: int) -> Callable[[tuple[int, ...]], int]:
    """The flat fingerprint for leaves in ``lo .. hi``: ``hash`` itself where an int's hash is
    one-to-one on the range (:func:`flat_fingerprint`); else the hash of the leaves shifted to
    start at 0 (``hash(-1) == hash(-2)`` would otherwise merge two states at every such leaf)."""
    if lo >= -1 and hi < (1 << 61) - 1:
        return hash
    if hi - lo >= (1 << 61) - 1:  # ints that far apart may share a hash: digest the leaves themselves
        return lambda x: fingerprint_int(x) - (1 << 63)  # signed, as the flat store keeps them

    def shifted(x: tuple[int, ...]) -> int:
        return hash(tuple([v - lo for v in x]))

    return shifted


# --------------------------------------------------------------------------- flat <-> State


def flat_fields(state_class: type[State]) -> list[tuple[str, FieldType, int, int]]:
    """(name, type, first leaf, end) per field: the symbolic encoding's ``fields``, without building it."""
    out: list[tuple[str, FieldType, int, int]] = []
    start = 0
    for name, ftype in state_class.types.items():
        out.append((name, ftype, start, start + width(ftype)))
        start += width(ftype)
    return out


class FlatLayout:
    """Converts between a configuration's states and flat states (same leaves as the symbolic layout)."""

    def __init__(self, state_class: type[State], fields: list[tuple[str, FieldType, int, int]]):
        self.state_class = state_class
        self.fields = fields
        self.width = fields[-1][3] if fields else 0
        self._decode = decode

    def flatten(self, s: State) -> tuple[int, ...]:
        out: list[int] = []
        for (_, ftype, _, _), value in zip(self.fields, s):
            leaves_into(ftype, value, out)
        return tuple(out)

    def unflatten(self, x: tuple[int, ...]) -> State:
        decode = self._decode
        values = [decode(ftype, x[lo:hi]) for _, ftype, lo, hi in self.fields]
        return tuple.__new__(self.state_class, values)


def leaf_range(state_class: type[State]) -> tuple[int, int]:
    """The least and greatest value any flat leaf of ``state_class`` can hold (bools are 0 and 1)."""
    lo, hi = 0, 1
    for name, ftype in state_class.types.items():
        for leaf in leaves_of(name, ftype):
            if not leaf.is_bool:
                lo, hi = min(lo, leaf.lo), max(hi, leaf.hi)
    return lo, hi
