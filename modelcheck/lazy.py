"""Third-party modules loaded on first use rather than at import: start-up time is part of
every answer (a ``modelcheck check`` of a few thousand states takes a tenth of a second), and
networkx alone took longer to import than such a search, while most runs draw no graph.

``module(name)`` is the standard library's :class:`importlib.util.LazyLoader` recipe: the
module object is in ``sys.modules`` at once (so ``import name`` elsewhere gets the same one),
and its code runs when an attribute is first read.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def module(name: str) -> ModuleType:
    """``name``, imported when first used (at once if it is already imported)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    lazy = importlib.util.module_from_spec(spec)
    sys.modules[name] = lazy
    loader.exec_module(lazy)
    return lazy
