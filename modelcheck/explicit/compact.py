"""The compact store's memory: 64-bit fingerprints in sorted numpy runs, flat states packed as bytes.

A Python ``set`` of fingerprints costs about 70 bytes per state (a 32-byte int object
plus a hash-table slot kept under two-thirds full). :class:`FingerprintSet` keeps the
same fingerprints as sorted ``uint64`` runs, 8 bytes each, merged log-structured (a run
is merged into the one before it while that one is at most twice its size, so there
are O(log n) runs and every fingerprint is copied O(log n) times). It answers for a
whole batch of successors at once, which suits the level-synchronous search: the engine
collects a chunk of successors, asks which are new, and admits those in the order they
were generated, so ids, counts and traces are the same as with one lookup per step.

A compiled search's frontier holds flat states (tuples of small ints, see
:mod:`modelcheck.explicit.compiled.expander`): a tuple of 71 leaves costs 624 bytes, and a level of the
benchmark's large configuration holds 345,000 of them. :class:`PackedLevel` stores a
level back to back in one ``bytearray``, each leaf in the narrowest integer type that holds
every leaf (71 bytes per state there).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from ..state import State
from .flat import leaf_range


class FingerprintSet:
    """A set of 64-bit fingerprints (unsigned, or ``signed`` ones such as Python's ``hash()``),
    queried and extended a batch at a time."""

    def __init__(self, signed: bool = False) -> None:
        self.dtype = np.int64 if signed else np.uint64
        self.runs: list[np.ndarray] = []
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def __contains__(self, fp: int) -> bool:
        probe = np.array([fp], dtype=self.dtype)
        return bool(self._present(probe)[0])

    def add_new(self, fps: Iterable[int]) -> list[int]:
        """Add a batch; return the positions in ``fps`` (ascending) of the fingerprints that
        were not in the set before, each fingerprint's first occurrence only."""
        batch = fps if isinstance(fps, np.ndarray) else np.fromiter(fps, dtype=self.dtype)
        if not len(batch):
            return []
        values, first = np.unique(batch, return_index=True)
        fresh = ~self._present(values)
        values = values[fresh]
        if len(values):
            self._push(values)
        return np.sort(first[fresh]).tolist()

    def _present(self, values: np.ndarray) -> np.ndarray:
        """Which of the sorted ``values`` are in the set."""
        found = np.zeros(len(values), dtype=bool)
        for run in self.runs:
            pos = np.searchsorted(run, values)
            pos[pos == len(run)] = 0
            found |= run[pos] == values
        return found

    def _push(self, values: np.ndarray) -> None:
        self.runs.append(values)
        self.size += len(values)
        runs = self.runs
        while len(runs) > 1 and len(runs[-2]) <= 2 * len(runs[-1]):
            top = runs.pop()
            merged = np.concatenate((runs.pop(), top))
            merged.sort()
            runs.append(merged)


class PackedLevel:
    """One BFS level of flat states, packed back to back in one ``bytearray`` (``struct``
    codes of a fixed width); iterating unpacks them as tuples again, at C speed."""

    def __init__(self, typecode: str, width: int):
        self.codec = struct.Struct(f"<{width}{typecode}")
        self.buf = bytearray()
        self.size = 0

    def append(self, x: tuple[int, ...]) -> None:
        self.buf += self.codec.pack(*x)
        self.size += 1

    def append_packed(self, packed: bytes) -> None:
        """Append a state already packed with this level's codec."""
        self.buf += packed
        self.size += 1

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[tuple[int, ...]]:
        return self.codec.iter_unpack(self.buf)


TYPECODES = (("b", -2**7, 2**7 - 1), ("B", 0, 2**8 - 1), ("h", -2**15, 2**15 - 1), ("H", 0, 2**16 - 1),
             ("i", -2**31, 2**31 - 1))


def level_factory(state_class: type[State]) -> Callable[[], list | PackedLevel]:
    """A maker of empty frontier levels for flat states of ``state_class``: packed in the
    narrowest array type that holds every leaf, or a plain list when none does."""
    from ..symbolic.layout import width

    try:
        lo, hi = leaf_range(state_class)
        size = sum(width(ftype) for ftype in state_class.types.values())
    except TypeError:  # a field type with no flat encoding: the compiled mode is not used either
        return list
    for code, least, most in TYPECODES:
        if least <= lo and hi <= most and size:
            return lambda: PackedLevel(code, size)
    return list
