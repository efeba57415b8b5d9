"""Deterministic JSON with one line per row: compact to store, readable in a diff (one changed row, one line)."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any


def dumps_rows(doc: Mapping[str, Any], row_keys: Collection[str]) -> str:
    """``doc`` as JSON text with sorted keys: the lists (or objects) under ``row_keys`` one item a line.

    Every other value is written compactly on its key's line. The text parses back to
    ``doc`` with :func:`json.loads`, and is the same for the same ``doc``.

    >>> print(dumps_rows({"b": [1, {"y": 2, "x": 1}], "a": 1}, {"b"}), end="")
    {
    "a": 1,
    "b": [
      1,
      {"x":1,"y":2}
    ]
    }
    """
    lines = ["{"]
    keys = sorted(doc)
    for n, key in enumerate(keys):
        comma = "," if n < len(keys) - 1 else ""
        value = doc[key]
        head = f"{_compact(key)}: "
        if key in row_keys and isinstance(value, list) and value:
            items = [f"  {_compact(v)}" for v in value]
            lines.append(head + "[\n" + ",\n".join(items) + f"\n]{comma}")
        elif key in row_keys and isinstance(value, dict) and value:
            items = [f"  {_compact(k)}: {_compact(value[k])}" for k in sorted(value)]
            lines.append(head + "{\n" + ",\n".join(items) + f"\n}}{comma}")
        else:
            lines.append(head + _compact(value) + comma)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
