"""Finite field types of a spec's state: what a value may be, and how it reads."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


class FieldType:
    """A finite set of values a state field may hold.

    Every type answers three questions the engines ask: is a value of this type
    (``contains``), what are all its values (``values``, for engines that enumerate),
    and how does a value read in a trace (``show``).
    """

    def contains(self, value: Any) -> bool:
        raise NotImplementedError

    def values(self) -> Iterator[Any]:
        raise NotImplementedError

    def show(self, value: Any) -> str:
        return repr(value)

    def describe(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Bool(FieldType):
    """``True`` or ``False``."""

    def contains(self, value: Any) -> bool:
        return value is True or value is False

    def values(self) -> Iterator[bool]:
        yield from (False, True)

    def show(self, value: Any) -> str:
        return "yes" if value else "no"

    def describe(self) -> str:
        return "bool"


@dataclass(frozen=True)
class Enum(FieldType):
    """One of a fixed list of names (strings)."""

    names: tuple[str, ...]

    def __init__(self, *names: str):
        object.__setattr__(self, "names", tuple(names))

    def contains(self, value: Any) -> bool:
        return value in self.names

    def values(self) -> Iterator[str]:
        yield from self.names

    def show(self, value: Any) -> str:
        return str(value)

    def describe(self) -> str:
        return "|".join(self.names)


@dataclass(frozen=True)
class Int(FieldType):
    """An integer in ``lo..hi`` (both included); ``names`` gives some values a reading."""

    lo: int
    hi: int
    names: Mapping[int, str] = field(default_factory=dict, compare=False, hash=False)

    def contains(self, value: Any) -> bool:
        return type(value) is int and self.lo <= value <= self.hi

    def values(self) -> Iterator[int]:
        yield from range(self.lo, self.hi + 1)

    def show(self, value: Any) -> str:
        return self.names.get(value, str(value))

    def describe(self) -> str:
        return f"int {self.lo}..{self.hi}"


@dataclass(frozen=True)
class Tuple(FieldType):
    """Exactly ``size`` values of type ``elem`` (a Python tuple); ``keys`` name the positions."""

    elem: FieldType
    size: int
    keys: tuple[str, ...] | None = field(default=None, compare=False, hash=False)

    def key(self, i: int) -> str:
        """How position ``i`` reads in a trace (``cache[s0]``)."""
        return self.keys[i] if self.keys else str(i)

    def contains(self, value: Any) -> bool:
        return (
            type(value) is tuple
            and len(value) == self.size
            and all(self.elem.contains(v) for v in value)
        )

    def values(self) -> Iterator[tuple[Any, ...]]:
        def rec(n: int) -> Iterator[tuple[Any, ...]]:
            if n == 0:
                yield ()
                return
            for head in self.elem.values():
                for rest in rec(n - 1):
                    yield (head, *rest)

        yield from rec(self.size)

    def show(self, value: Any) -> str:
        return "[" + " ".join(self.elem.show(v) for v in value) + "]"

    def describe(self) -> str:
        return f"tuple[{self.elem.describe()}; {self.size}]"


@dataclass(frozen=True)
class Seq(FieldType):
    """An ordered sequence of at most ``maxlen`` values of type ``elem`` (a Python tuple)."""

    elem: FieldType
    maxlen: int

    def contains(self, value: Any) -> bool:
        return (
            type(value) is tuple
            and len(value) <= self.maxlen
            and all(self.elem.contains(v) for v in value)
        )

    def values(self) -> Iterator[tuple[Any, ...]]:
        for n in range(self.maxlen + 1):
            yield from Tuple(self.elem, n).values()

    def show(self, value: Any) -> str:
        return "[" + " ".join(self.elem.show(v) for v in value) + "]"

    def describe(self) -> str:
        return f"seq[{self.elem.describe()}; <={self.maxlen}]"


