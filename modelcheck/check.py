"""One check of one configuration with the explicit engine: the library entry point."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .explicit import Exploration, SearchOptions, explore
from .graph import reachability_graph
from .loader import load_spec_class
from .spec import Compiled, Spec, compile_spec
from .trace import replay
from .verdict import PropertyResult

if TYPE_CHECKING:
    import networkx as nx


@dataclass
class CheckRun:
    """A finished check: the flattened spec, the search, and one result per property."""

    compiled: Compiled
    exploration: Exploration
    results: list[PropertyResult]

    def graph(self) -> nx.DiGraph:
        """The reachability graph (networkx), for a search that kept its edges (the full store's default)."""
        return reachability_graph(self.exploration)


def configure(spec: str | type[Spec], settings: Mapping[str, Any] | None = None) -> Spec:
    """A spec instance from a spec file (or class) and ``NAME=VALUE`` settings."""
    cls = load_spec_class(spec) if isinstance(spec, str) else spec
    return cls(**dict(settings or {}))


def check(
    spec: Spec,
    properties: Iterable[str] | None = None,
    options: SearchOptions | None = None,
) -> CheckRun:
    """Explore ``spec`` exhaustively (within the options' bounds) and judge its properties.

    Every trace is replayed through the spec before it is returned, so a trace that
    does not replay is reported as an engine bug rather than shown to the user.
    """
    compiled = compile_spec(spec)
    chosen = compiled.select(list(properties or []))
    exploration = explore(compiled, chosen, options)
    results = [exploration.result(p) for p in chosen]
    for prop, result in zip(chosen, results):
        if result.trace is not None:
            replay(compiled, result.trace, prop)
    return CheckRun(compiled, exploration, results)
