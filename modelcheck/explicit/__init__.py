"""The explicit engine: exhaustive breadth-first search over a spec's reachable states.

Start at :mod:`.plan` (which backend and store a search uses, and why), then
:mod:`.search` (the loop), :mod:`.stores` and :mod:`.successors` (the two protocols).
The public names are re-exported here.
"""

from .engine import explore
from .exploration import Exploration
from .options import Progress, SearchOptions

__all__ = ["Exploration", "Progress", "SearchOptions", "explore"]
