"""The explicit engine: exhaustive breadth-first search over a spec's reachable states.

Start at :mod:`.plan` (which backend and store a search uses, and why), then
:mod:`.search` (the loop). The public names are re-exported here.
"""

from .search import Exploration, Progress, SearchOptions, explore

__all__ = ["Exploration", "Progress", "SearchOptions", "explore"]
