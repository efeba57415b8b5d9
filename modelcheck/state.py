"""Frozen states: a tuple subclass per spec, with one read-only attribute per field."""

from __future__ import annotations

from collections.abc import Mapping
from operator import itemgetter
from typing import Any, ClassVar

from .errors import SpecError
from .types import FieldType

RESERVED = frozenset({"replace", "as_dict", "fields", "types"})


class State(tuple):
    """A state of a spec: an immutable tuple whose positions are the spec's fields.

    Engines treat it as a plain tuple (hashable, ordered, cheap); specs read it by
    attribute (``s.vm``) and derive the next state with :meth:`replace`.
    """

    __slots__ = ()
    fields: ClassVar[tuple[str, ...]] = ()
    types: ClassVar[Mapping[str, FieldType]] = {}
    _index: ClassVar[Mapping[str, int]] = {}

    def replace(self, **changes: Any) -> State:
        """A copy of this state with the named fields changed."""
        values = list(self)
        index = self._index
        for name, value in changes.items():
            try:
                values[index[name]] = value
            except KeyError:
                raise SpecError(
                    f"replace(): no field {name!r}",
                    fix=f"use one of {', '.join(self.fields)}",
                ) from None
        return tuple.__new__(type(self), values)

    def as_dict(self) -> dict[str, Any]:
        """The fields by name, in declaration order."""
        return dict(zip(self.fields, self))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in zip(self.fields, self))
        return f"{type(self).__name__}({inner})"


def state_class(name: str, types: Mapping[str, FieldType]) -> type[State]:
    """Make the State subclass for one spec configuration's fields."""
    for field in types:
        if not field.isidentifier() or field.startswith("_") or field in RESERVED:
            raise SpecError(
                f"field name {field!r} is not allowed",
                fix="use an identifier that does not start with '_' and is not "
                + ", ".join(sorted(RESERVED)),
            )
    namespace: dict[str, Any] = {
        "__slots__": (),
        "fields": tuple(types),
        "types": dict(types),
        "_index": {f: i for i, f in enumerate(types)},
    }
    for i, field in enumerate(types):
        namespace[field] = property(itemgetter(i), doc=f"field {field}: {types[field].describe()}")
    return type(name, (State,), namespace)
