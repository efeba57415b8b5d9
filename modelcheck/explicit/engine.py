"""``explore``: plan a search, build its parts, run it (the native search, or the Python loop)."""

from __future__ import annotations

import time

from ..spec import Compiled, Property
from .exploration import Exploration
from .options import SearchOptions
from .plan import Plan, plan
from .search import search


def explore(compiled: Compiled, properties: list[Property], options: SearchOptions | None = None) -> Exploration:
    """Search every reachable state of ``compiled`` and judge ``properties`` in each.

    :func:`~.plan.plan` picks the backend and store (``options.backend="auto"``: the
    interpreted search first, the fastest backend once the space is large); every choice
    gives the same states, ids, verdicts and shortest traces.
    """
    started = time.perf_counter()
    chosen = plan(compiled, properties, options or SearchOptions())
    if chosen.tier is not None:
        ex = run(chosen.first_tier(), started)
        if not ex.hit_state_bound:
            ex.plan = chosen.describe(ended_in_tier=ex.size)
            return ex
        del ex
    ex = run(chosen, started)
    ex.plan = chosen.describe()
    return ex


def run(chosen: Plan, started: float) -> Exploration:
    """One search as planned: natively when the plan has a library, else in Python."""
    chosen.build()
    opts = chosen.options
    if chosen.library is not None:
        from .native import driver

        ex = chosen.exploration()
        try:
            driver.explore_native(ex, chosen.successors, chosen.library, opts.max_states, opts.max_depth,
                                  opts.on_progress, started, edges=chosen.endings, budget=chosen.budget)
        except driver.Fault as err:
            chosen.without_native(f"{err}; the Python search decides it")
        else:
            ex.seconds = time.perf_counter() - started
            return ex
    ex = chosen.exploration()
    successors, store, levels = chosen.parts(ex)
    search(ex, successors, store, levels, opts.max_depth, opts.on_progress, started)
    ex.seconds = time.perf_counter() - started
    return ex
