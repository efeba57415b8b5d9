"""Expanding a BFS level on worker processes, with results identical to one process.

Workers are forked from the searching process, so they inherit its compiled spec
(specs loaded by path need no re-import) and its :class:`~modelcheck.expand.Expander`.
States travel as plain tuples; each chunk's answers come back in order, so the search
merges them exactly as a single process would.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

from .expand import Expander, Expansion
from .state import State

# Set in each worker process by _init (inherited through fork); never in the parent.
_worker: dict[str, Expander] = {}


def _init(expander: Expander) -> None:
    _worker["x"] = expander


def _expand_chunk(chunk: list[tuple[tuple, bool]]) -> list[Expansion]:
    expander = _worker["x"]
    cls = expander.state_cls
    out = []
    for values, successors in chunk:
        bad, hit, ends, terminal, succ = expander.expand(tuple.__new__(cls, values), successors)
        out.append((bad, hit, ends, terminal, [(k, tuple(t), sb) for k, t, sb in succ]))
    return out


class Pool:
    """A pool of forked workers that expand lists of states."""

    def __init__(self, expander: Expander, workers: int, chunk: int = 256):
        self.cls = expander.state_cls
        self.chunk = chunk
        context = multiprocessing.get_context("fork")
        self.executor = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init,
                                            initargs=(expander,))

    def expand(self, states: list[State], successors: list[bool]) -> Iterator[Expansion]:
        """Expansions of ``states``, in order."""
        items = [(tuple(s), f) for s, f in zip(states, successors)]
        chunks = [items[i:i + self.chunk] for i in range(0, len(items), self.chunk)]
        cls = self.cls
        for answers in self.executor.map(_expand_chunk, chunks):
            for bad, hit, ends, terminal, succ in answers:
                yield bad, hit, ends, terminal, [(k, tuple.__new__(cls, t), sb) for k, t, sb in succ]

    def close(self) -> None:
        self.executor.shutdown(cancel_futures=True)
