"""``explore``: plan a search, build its parts, run it (the native search, or the Python loop).

A tiered search (the default) whose interpreted first tier passes :data:`AHEAD` states
(:data:`AHEAD_BUSY` when the plan has no core to spare)
forks a child that generates the fast backend's code and compiles it into the code cache
while the interpreted search goes on, so that switching at :data:`~.plan.TIER` states costs
little more than reading the cache. When the interpreted search finishes first, the child
is killed with its compiler. Either way it changes nothing but the time to a verdict.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import time
from collections.abc import Callable

from ..spec import Compiled, Property
from .compiled.cache import cache_dir
from .distributed import explore_partitioned
from .exploration import Exploration
from .native import driver
from .options import Progress, SearchOptions
from .plan import Plan, plan
from .search import search

# States of the interpreted tier after which the fast backend's code is prepared alongside. With a
# core to spare (the plan's threads) early, because on a large space that child is on the critical
# path; without one (matrix cases side by side) later, because a space that ends first kills the
# child, whose CPU was then taken from the other cases: on `modelcheck run` starting it at 200
# states instead of 2,000 cost 12 s of 63 on two cores.
AHEAD = 200
AHEAD_BUSY = 2_000


def explore(compiled: Compiled, properties: list[Property], options: SearchOptions | None = None) -> Exploration:
    """Search every reachable state of ``compiled`` and judge ``properties`` in each.

    :func:`~.plan.plan` picks the backend and store (``options.backend="auto"``: the
    interpreted search first, the fastest backend once the space is large); every choice
    gives the same states, ids, verdicts and shortest traces. ``options.distributed``,
    ``checkpoint`` or ``resume`` run the partitioned search (:mod:`.distributed`) instead.
    """
    started = time.perf_counter()
    chosen = plan(compiled, properties, options or SearchOptions())
    if chosen.partitioned:
        return explore_partitioned(chosen, started)
    if chosen.tier is not None:
        first = chosen.first_tier()
        ahead = _Ahead(chosen, first.options.on_progress)
        first.options = dataclasses.replace(first.options, on_progress=ahead.progress)
        try:
            ex = run(first, started)
        except BaseException:
            ahead.stop()
            raise
        if not ex.hit_state_bound:
            ahead.stop()
            ex.plan = chosen.describe(ended_in_tier=ex.size)
            return ex
        del ex
        chosen.prepared_ahead = ahead.wait()
    ex = run(chosen, started)
    ex.plan = chosen.describe()
    return ex


def run(chosen: Plan, started: float) -> Exploration:
    """One search as planned: natively when the plan has a library, else in Python."""
    chosen.build()
    opts = chosen.options
    if chosen.library is not None:
        ex = chosen.exploration()
        try:
            driver.explore_native(ex, chosen.successors, chosen.library, opts.max_states, opts.max_depth,
                                  opts.on_progress, started, edges=chosen.endings, budget=chosen.budget,
                                  threads=chosen.threads, steps=chosen.liveness, spill_dir=chosen.spill_dir,
                                  time_limit=opts.time_limit)
        except driver.Fault as err:
            chosen.without_native(f"{err}; the Python search decides it")
        else:
            ex.seconds = time.perf_counter() - started
            return _without_marks(chosen, ex)
    ex = chosen.exploration()
    successors, store, levels = chosen.parts(ex)
    search(ex, successors, store, levels, opts.max_depth, opts.on_progress, started, opts.time_limit)
    ex.seconds = time.perf_counter() - started
    return _without_marks(chosen, ex)


def _without_marks(chosen: Plan, ex: Exploration) -> Exploration:
    """The liveness marks (:func:`~.liveness.marks`) are per-state bits, not witnesses: the
    evidence every backend records is the same."""
    for mark in chosen.marks:
        ex.violated_at.pop(mark.name, None)
    return ex


class _Ahead:
    """A forked child preparing the fast backend's code (into the code cache) during the first tier."""

    def __init__(self, chosen: Plan, on_progress: Callable[[Progress], None] | None):
        self.chosen = chosen
        self.on_progress = on_progress
        self.pid = 0
        self.tried = cache_dir() is None  # without a cache the child's work could not be handed over
        self.ahead = AHEAD if chosen.threads > 1 else AHEAD_BUSY

    def progress(self, p: Progress) -> None:
        if not self.tried and p.states >= self.ahead:
            self.tried = True
            self.pid = _prepare_in_child(self.chosen)
        if self.on_progress is not None:
            self.on_progress(p)

    def wait(self) -> bool:
        """The tier ran out of room: wait for the child; whether it prepared the code."""
        if not self.pid:
            return False
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            return False
        return os.waitstatus_to_exitcode(status) == 0

    def stop(self) -> None:
        """The tier answered (or failed): the child's work is not needed."""
        if self.pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)


def _prepare_in_child(chosen: Plan) -> int:
    """Fork a child (in a process group of its own, so its compiler dies with it) that builds
    the plan's parts, which leaves the generated code and the C library in the cache."""
    try:
        pid = os.fork()
    except OSError:
        return 0
    if pid:
        return pid
    code = 1
    try:
        os.setsid()
        chosen.build()
        code = 0
    except BaseException:
        pass
    finally:
        os._exit(code)
    return 0  # not reached
