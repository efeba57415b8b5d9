"""The partitioned search: breadth-first over MPI ranks, each owning the states its fingerprints map to.

As Stern and Dill's parallel Murphi, Eddy_Murphi, PReach or LTSmin's MPI tools: every state
is owned by one rank, read from the high bits of its 64-bit fingerprint (:func:`.kernels.owner`;
a rank's set places it by the low bits). The search goes level by level. Each rank expands
its share of the frontier a batch at a time with the fastest kernel the plan built (the
native C successor function, else the compiled Python one), buckets the successors by owner
and sends them in one ``Alltoallv`` of packed rows per batch (so a level's messages stay
bounded); each owner keeps the new ones (fingerprint, parent fingerprint, instance) and makes
them its share of the next frontier, whose rows are freed once expanded. One ``allgather`` a
level agrees on the new states' count (the end), the memory budget and the evidence: for
each property, the least fingerprint among the states (or steps) of the shallowest level
that violates or witnesses it, so the answer does not depend on how many ranks searched.

Distinct states, transitions, depth, verdicts and counterexample lengths are those of the
single-process search: BFS levels are the same sets of states whatever the partition. A
counterexample is rebuilt by walking parent links back across ranks (one ``bcast`` a step,
from the owner of the state reached), then replayed through the spec as every trace is.

What it does not do: symmetry, partial-order reduction, the full store, liveness properties,
``--max-states`` (ids are per rank, so a cut at N states would depend on the partition). With
an ``at_end`` property each rank also keeps the steps it generated (16 bytes each), and
:mod:`.peeling` looks for a cycle over the ranks once the search is over, as the single-process
searches do. With ``--checkpoint`` / ``--resume`` each completed level is kept on disk
(:mod:`.checkpoint`), in one process as well as on MPI.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import UsageError
from ..spec import Compiled, Property, PropertyKind
from . import checkpoint as cp
from .exploration import Exploration
from .kernels import Fault, NativeKernel, PythonKernel, owner, record_type, signed
from .memory import OverBudget, afford, default_budget, resident
from .options import Progress, SearchOptions
from .peeling import bytes_needed, peel
from .plan import Plan
from .ranks import One, world

BATCH_BYTES = 4 << 20  # the records (steps as sent) of one batch, in bytes: bounds every message and buffer


class Tally:
    """The count of terminal states, where a single-process search keeps their ids (none kept here)."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Any:
        raise TypeError("the partitioned search counts terminal states; it keeps no ids")


@dataclass
class PartitionedExploration(Exploration):
    """What the partitioned search found: the counts, and only the states on the counterexamples'
    paths (ids 0.. along them), which traces are rebuilt from by replay."""

    deepest: int = 0
    rank: int = 0
    ranks: int = 1
    level_seconds: list[dict[str, float]] = dataclasses.field(default_factory=list)
    record_bytes: int = 0  # one step as the ranks send it

    @property
    def max_depth(self) -> int:
        return self.deepest


def _joined(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps (source id, target fingerprint, instance) in parts, as three arrays."""
    empty = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int32))
    if not parts:
        return empty
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))  # type: ignore[return-value]


def build(chosen: Plan, ranks: Any) -> None:
    """The plan's parts (the native library, else the compiled Python code): rank 0 builds them first,
    into the code cache, and the others then read them from there."""
    if ranks.rank == 0:
        chosen.build()
    ranks.barrier()
    if ranks.rank != 0:
        chosen.build()
    if chosen.fallback:
        raise UsageError(f"--distributed/--checkpoint need the compiled successor code, which this spec "
                         f"has not: {chosen.fallback}")


def explore_partitioned(chosen: Plan, started: float) -> Exploration:
    """Run a partitioned plan (:func:`.plan.plan` gives one when ``distributed``, ``checkpoint`` or
    ``resume`` is asked for) over the ranks ``options.distributed`` names (see the module docstring),
    checkpointing into ``options.checkpoint`` and resuming from ``options.resume``."""
    compiled, properties, options = chosen.compiled, chosen.properties, chosen.options
    ranks = world(options.distributed)
    build(chosen, ranks)
    flat = chosen.successors
    kernel: Any = NativeKernel(chosen.library, flat) if chosen.library is not None else PythonKernel(flat)
    search = Partitioned(compiled, properties, options, ranks, kernel, flat, started)
    try:
        search.run()
        ex = search.exploration(chosen)
    finally:
        search.close()
    ex.seconds = time.perf_counter() - started
    return ex


class Partitioned:
    """One rank's side of the partitioned search."""

    def __init__(self, compiled: Compiled, properties: list[Property], options: SearchOptions, ranks: Any,
                 kernel: Any, flat: Any, started: float):
        self.compiled, self.properties, self.options = compiled, properties, options
        self.ranks, self.kernel, self.flat, self.started = ranks, kernel, flat, started
        self.names = [p.name for p in properties]
        self.instances = max(len(compiled.instances), 1)
        self.record = record_type(kernel.dtype, kernel.width)
        self.cap = max(BATCH_BYTES // self.record.itemsize, 4 * self.instances)
        self.seen = kernel.new_set()
        # this rank's states, level by level: fingerprint, parent's fingerprint, instance (-1: initial)
        self.fps: list[np.ndarray] = []
        self.parents: list[np.ndarray] = []
        self.insts: list[np.ndarray] = []
        self.frontier = np.empty((0, kernel.width), dtype=kernel.dtype)
        self.steps = 0
        self.terminals = 0
        self.fired = np.zeros(self.instances, dtype=np.int64)
        # agreed by every rank
        self.states: list[int] = []  # new states per level
        self.at: dict[int, tuple[int, int]] = {}  # property -> (depth, fingerprint) of the state chosen
        self.step: dict[int, tuple[int, int, int, list[int]]] = {}  # property -> (depth, source fp, instance, row)
        self.hit_depth_bound = False
        self.hit_memory_bound = 0
        memory = options.memory
        self.budget = default_budget(ranks.size) if memory == 0 else memory
        self.timing: list[dict[str, float]] = []
        self.directory = Path(options.checkpoint or options.resume) if (options.checkpoint or options.resume) else None
        self.files: dict[str, str] = {}
        self._steps_hint = 0
        self.endings = any(p.kind == PropertyKind.AT_END for p in properties)
        # with an at_end property, every step this rank generated: source (local id), target, instance
        self.edges: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    # ------------------------------------------------------------------ the search

    def run(self) -> None:
        if self.directory is not None:
            problem = None
            if self.ranks.rank == 0:
                try:
                    cp.prepare(self.directory, resuming=self.options.resume is not None)
                except cp.CheckpointError as err:
                    problem = str(err)
            problem = self.ranks.bcast(problem, root=0)
            if problem:
                raise cp.CheckpointError(problem)
        if self.options.resume:
            self._resume()
        else:
            self._seed()
            self._checkpoint()
        d = len(self.states) - 1
        while self.states[-1]:
            cut = self.options.max_depth is not None and d >= self.options.max_depth
            self.hit_depth_bound |= cut
            self._level(d, not (cut or self.hit_memory_bound))
            d += 1
            self._checkpoint()
            if self.ranks.rank == 0 and self.options.on_progress is not None:
                self.options.on_progress(Progress(sum(self.states), self.states[-1], d - 1, self._steps_hint,
                                                  time.perf_counter() - self.started))

    def _seed(self) -> None:
        rows = self.kernel.pack(list(self.flat.initial))
        fps = self.kernel.fingerprint(rows)
        _, first = np.unique(fps, return_index=True)
        first.sort()
        rows, fps = rows[first], fps[first]
        mine = owner(fps, self.ranks.size) == self.ranks.rank
        self.seen.add(fps[mine])
        self._keep(fps[mine], np.zeros(int(mine.sum()), dtype=np.uint64),
                   np.full(int(mine.sum()), -1, dtype=np.int32), rows[mine])
        self.states.append(len(first))
        self._steps_hint = 0

    def _keep(self, fps: np.ndarray, parents: np.ndarray, insts: np.ndarray, rows: np.ndarray) -> None:
        self.fps.append(np.ascontiguousarray(fps, dtype=np.uint64))
        self.parents.append(np.ascontiguousarray(parents, dtype=np.uint64))
        self.insts.append(np.ascontiguousarray(insts, dtype=np.int32))
        self.frontier = np.ascontiguousarray(rows)

    def _level(self, d: int, successors: bool) -> None:
        """Expand level ``d`` (this rank's share), exchange, keep the new states, agree."""
        kernel, ranks, size = self.kernel, self.ranks, self.ranks.size
        rows, fps = self.frontier, self.fps[d]
        state_cand: dict[int, int] = {}
        step_cand: dict[int, tuple[int, int, list[int]]] = {}
        incoming: list[np.ndarray] = []
        t_expand = t_exchange = t_dedup = 0.0
        c_expand = c_dedup = 0.0  # CPU seconds (the wall ones include waiting on a shared host)
        sent = 0
        pos = 0
        base = sum(len(f) for f in self.fps[:d])  # the local id of this level's first state
        steps: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        pipe = ranks.pipeline()

        def admit(part: np.ndarray) -> None:
            fresh, _ = self.seen.admit(part, self.record, None)
            if len(fresh):
                incoming.append(fresh.copy())

        while True:
            t0, c0 = time.perf_counter(), time.process_time()
            if pos < len(rows):
                try:
                    b = kernel.expand(rows[pos:], successors, self.cap)
                except Fault as err:  # the other ranks wait in a collective: MPI ends them all
                    ranks.abort(f"{err}; the partitioned search cannot go on: check this configuration without "
                                "--distributed/--checkpoint to see the spec's own error")
                self._evidence(b, fps[pos:pos + b.consumed], state_cand, step_cand)
                self.steps += len(b.fps)
                self.terminals += b.terminals
                self.fired += np.bincount(b.inst, minlength=self.instances)
                if self.endings:  # copies: the batch's buffers are reused
                    steps.append((base + pos + b.src.astype(np.int64), b.fps.copy(), b.inst.copy()))
                data, counts = kernel.records(b, fps[pos:pos + b.consumed], size, self.record)
                pos += b.consumed
                del b
            else:
                data, counts = np.empty(0, dtype=np.uint8), np.zeros(size, dtype=np.int64)
            t1, c1 = time.perf_counter(), time.process_time()
            nbytes = counts * self.record.itemsize
            start = np.cumsum(nbytes) - nbytes
            me = ranks.rank
            own = data[start[me]:start[me] + nbytes[me]]  # this rank's own records skip MPI
            nbytes[me] = 0
            sent += int(nbytes.sum())
            received = pipe.send(data, nbytes, start, pos < len(rows))
            t2, c2 = time.perf_counter(), time.process_time()
            for part in (own, *received):
                admit(part)
            del data, own, received
            t3, c3 = time.perf_counter(), time.process_time()
            c_expand += c1 - c0
            c_dedup += c3 - c2
            t_expand += t1 - t0
            t_exchange += t2 - t1
            t_dedup += t3 - t2
            if not pipe.going:
                break
        t2 = time.perf_counter()
        late = pipe.drain()
        t3 = time.perf_counter()
        for part in late:
            admit(part)
        t_exchange += t3 - t2
        t_dedup += time.perf_counter() - t3
        self.frontier = np.empty((0, kernel.width), dtype=kernel.dtype)  # expanded: its rows are freed
        if self.endings:
            self.edges.append(_joined(steps))
        new = np.concatenate(incoming) if incoming else np.empty(0, dtype=self.record)
        incoming.clear()
        self._keep(new["fp"], new["parent"], new["inst"], new["row"])
        del new
        over = self.budget is not None and resident() > self.budget
        t4 = time.perf_counter()
        agreed = ranks.allgather((len(self.fps[-1]), state_cand, step_cand, over, self.steps))
        self.states.append(sum(a[0] for a in agreed))
        self._steps_hint = sum(a[4] for a in agreed)
        if any(a[3] for a in agreed) and not self.hit_memory_bound:
            self.hit_memory_bound = self.budget or 0
        for i in range(len(self.names)):
            if i not in self.at:
                found = [a[1][i] for a in agreed if i in a[1]]
                if found:
                    self.at[i] = (d, min(found))
            if i not in self.step:
                steps = [a[2][i] for a in agreed if i in a[2]]
                if steps:
                    src, k, row = min(steps, key=lambda s: (s[0], s[1]))
                    self.step[i] = (d, src, k, row)
        self.timing.append({"level": d, "expanded": len(rows), "new": len(self.fps[-1]), "bytes_sent": sent,
                            "expand": t_expand, "exchange": t_exchange, "dedup": t_dedup,
                            "expand_cpu": c_expand, "dedup_cpu": c_dedup,
                            "agree": time.perf_counter() - t4})

    def _evidence(self, b: Any, fps: np.ndarray, state_cand: dict[int, int],
                  step_cand: dict[int, tuple[int, int, list[int]]]) -> None:
        """Per property, the least fingerprint among this batch's states (and steps) that violate or witness it."""
        for j in np.flatnonzero(b.state_mask).tolist():
            m, fp = int(b.state_mask[j]), int(fps[j])
            while m:
                i = (m & -m).bit_length() - 1
                m &= m - 1
                if i not in state_cand or fp < state_cand[i]:
                    state_cand[i] = fp
        for j in np.flatnonzero(b.step_mask).tolist():
            m, src, k = int(b.step_mask[j]), int(fps[int(b.src[j])]), int(b.inst[j])
            while m:
                i = (m & -m).bit_length() - 1
                m &= m - 1
                if i not in step_cand or (src, k) < step_cand[i][:2]:
                    step_cand[i] = (src, k, b.rows[j].tolist())

    # ------------------------------------------------------------------ checkpoints

    def identity(self) -> dict[str, Any]:
        spec = self.compiled.spec
        return {"spec": type(spec).__name__, "settings": {k: repr(v) for k, v in spec.params.items()},
                "spec_sha256": cp.spec_sha256(spec), "properties": self.names, "ranks": self.ranks.size,
                "max_depth": self.options.max_depth, "modelcheck": __version__,
                "fingerprints": self.kernel.fingerprints, "width": self.kernel.width,
                "instances": len(self.compiled.instances)}

    def _checkpoint(self) -> None:
        """Keep the level just completed (see :mod:`.checkpoint`)."""
        if self.directory is None:
            return
        level, rank = len(self.states) - 1, self.ranks.rank
        links = {"fps": self.fps[level], "parents": self.parents[level], "insts": self.insts[level]}
        if self.endings and level:  # the steps generated expanding the level before
            links.update(zip(("edge_src", "edge_dst", "edge_inst"), self.edges[level - 1]))
        mine = {cp.links_name(rank, level): cp.write_arrays(self.directory, cp.links_name(rank, level), links),
                cp.state_name(rank, level): cp.write_arrays(self.directory, cp.state_name(rank, level), {
                    "frontier": self.frontier, "counters": np.array([self.steps, self.terminals], dtype=np.int64),
                    "fired": self.fired})}
        every = self.ranks.allgather(mine)
        if rank == 0:
            files = {k: v for k, v in self.files.items() if k.startswith("links-")}
            for part in every:
                files.update(part)
            self.files = files
            manifest = cp.Manifest(self.identity(), level, list(self.states), self._evidence_json(),
                                   {"hit_depth_bound": self.hit_depth_bound, "hit_memory_bound": self.hit_memory_bound},
                                   files)
            cp.write_manifest(self.directory, manifest)
        self.ranks.barrier()
        if level:
            (self.directory / cp.state_name(rank, level - 1)).unlink(missing_ok=True)

    def _evidence_json(self) -> dict[str, Any]:
        return {"at": {self.names[i]: [d, str(fp)] for i, (d, fp) in self.at.items()},
                "step": {self.names[i]: [d, str(src), k, row] for i, (d, src, k, row) in self.step.items()}}

    def _resume(self) -> None:
        """Continue from the checkpoint's last complete level (every rank checks its own files)."""
        assert self.directory is not None
        problem = None
        try:
            manifest = cp.read_manifest(self.directory)
            cp.refuse_mismatch(self.directory, manifest, self.identity())
            self._load(manifest)
        except cp.CheckpointError as err:
            problem = str(err)
        problems = [p for p in self.ranks.allgather(problem) if p]
        if problems:
            raise cp.CheckpointError(problems[0])

    def _load(self, manifest: cp.Manifest) -> None:
        rank, where = self.ranks.rank, self.directory
        assert where is not None
        self.files = dict(manifest.files)
        for level in range(manifest.level + 1):
            name = cp.links_name(rank, level)
            links = cp.read_arrays(where, name, manifest.files.get(name))
            self.fps.append(links["fps"])
            self.parents.append(links["parents"])
            self.insts.append(links["insts"])
            self.seen.add(links["fps"])
            if self.endings and level:
                self.edges.append((links["edge_src"], links["edge_dst"], links["edge_inst"]))
        name = cp.state_name(rank, manifest.level)
        state = cp.read_arrays(where, name, manifest.files.get(name))
        self.frontier = np.ascontiguousarray(state["frontier"], dtype=self.kernel.dtype)
        self.steps, self.terminals = (int(x) for x in state["counters"])
        self.fired = state["fired"].astype(np.int64)
        self.states = list(manifest.states)
        ev = manifest.evidence
        index = {n: i for i, n in enumerate(self.names)}
        self.at = {index[n]: (d, int(fp)) for n, (d, fp) in ev.get("at", {}).items()}
        self.step = {index[n]: (d, int(src), k, row) for n, (d, src, k, row) in ev.get("step", {}).items()}
        self.hit_depth_bound = bool(manifest.cut.get("hit_depth_bound"))
        self.hit_memory_bound = int(manifest.cut.get("hit_memory_bound", 0))
        self._steps_hint = 0

    # ------------------------------------------------------------------ the answer

    def _links(self, level: int, fp: int) -> tuple[int, int]:
        """The parent fingerprint and instance of this rank's state ``fp`` of ``level``."""
        where = np.flatnonzero(self.fps[level] == np.uint64(fp))
        if not len(where):
            raise MemoryError(f"the partitioned search lost state {fp:#x} of level {level}")  # never expected
        j = int(where[0])
        return int(self.parents[level][j]), int(self.insts[level][j])

    def walk(self, depth: int, fp: int) -> list[tuple[int, int]]:
        """``(instance, fingerprint)`` from an initial state (instance -1) to state ``fp`` at ``depth``,
        following parent links across ranks (every rank takes part)."""
        path = [fp]
        steps: list[int] = []
        for level in range(depth, 0, -1):
            root = int(owner(np.array([path[-1]], dtype=np.uint64), self.ranks.size)[0])
            links = self._links(level, path[-1]) if self.ranks.rank == root else None
            parent, k = self.ranks.bcast(links, root=root)
            steps.append(k)
            path.append(parent)
        path.reverse()
        steps.reverse()
        return [(-1, path[0]), *zip(steps, path[1:])]

    def exploration(self, chosen: Plan) -> PartitionedExploration:
        """The same answer on every rank: totals, and the paths to the evidence as ids."""
        totals = self.ranks.allgather((self.steps, self.terminals, self.fired))
        ex = PartitionedExploration(self.compiled, self.properties, compact=True,
                                    native_fallback=chosen.native_fallback, code_origin=chosen.code_origin,
                                    code_source=chosen.code_source, rank=self.ranks.rank, ranks=self.ranks.size)
        if chosen.library is not None:
            built = chosen.library.built
            ex.native, ex.native_from_cache, ex.native_seconds = built.describe(), built.from_cache, built.seconds
        ex.parent, ex.via, ex.depth, ex.fingerprints = (type(ex.parent)("i"), type(ex.via)("i"),
                                                        type(ex.depth)("I"), type(ex.fingerprints)("q"))
        ids: dict[int, int] = {}

        def number(path: list[tuple[int, int]], chain: bool = True) -> int:
            """Ids for the states of ``path`` (from an initial state, unless ``chain`` is false: a
            state on a cycle, known by its fingerprint only)."""
            parent = -1
            for d, (k, fp) in enumerate(path):
                if fp not in ids:
                    ids[fp] = ex.add(None, parent, k, d, signed(fp))
                    if parent < 0 and chain:
                        ex.initial_ids.append(ids[fp])
                parent = ids[fp]
            return parent

        for i, (d, fp) in sorted(self.at.items()):
            ex.violated_at[self.names[i]] = number(self.walk(d, fp))
        for i, (d, src, k, row) in sorted(self.step.items()):
            ex.violated_step[self.names[i]] = (number(self.walk(d, src)), k, tuple(row))
        ex.size = sum(self.states)
        ex.deepest = max((d for d, n in enumerate(self.states) if n), default=0)
        ex.transitions = sum(t[0] for t in totals)
        ex.terminal = Tally(sum(t[1] for t in totals))  # type: ignore[assignment]
        fired = sum((t[2] for t in totals), np.zeros(self.instances, dtype=np.int64))
        ex.fired_instances = [int(n) for n in fired[:len(self.compiled.instances)]]
        ex.fired = dict.fromkeys(self.compiled.actions, 0)
        for k, n in enumerate(ex.fired_instances):
            ex.fired[self.compiled.instances[k].name] += n
        ex.hit_depth_bound = self.hit_depth_bound
        if self.endings:
            self._cycles(ex, number)
        ex.hit_memory_bound = self.hit_memory_bound
        ex.level_seconds = self.timing
        ex.record_bytes = self.record.itemsize
        self.flat.finish(ex)
        ex.key = self.kernel.key(self.flat.layout.flatten)
        plural = "s" if self.ranks.size > 1 else ""
        where = "one process" if isinstance(self.ranks, One) else f"{self.ranks.size} MPI rank{plural}"
        ex.plan = (f"search: partitioned breadth-first, {where}, {self.kernel.name} successors, a fingerprint "
                   f"set per rank" + (f"; checkpoints in {self.directory}" if self.directory is not None else ""))
        return ex

    def _cycles(self, ex: PartitionedExploration, number: Any) -> None:
        """Peel the graph (:func:`.peeling.peel`); a cycle becomes the exploration's lasso. When
        the peeling would pass the memory budget on some rank, the `at_end` verdicts are
        UNKNOWN with the budget it needs (``ex.ends_unknown``), on every rank."""
        src, dst, inst = _joined(self.edges)
        fps = np.concatenate(self.fps) if self.fps else np.empty(0, dtype=np.uint64)
        reason = ""
        try:
            afford(self.budget, f"peeling the graph for cycles ({len(fps):,} states and {len(src):,} steps on rank "
                   f"{self.ranks.rank})", bytes_needed(len(fps), len(src)))
        except OverBudget as over:
            reason = over.reason
        ex.ends_unknown = next((r for r in self.ranks.allgather(reason) if r), "")
        if ex.ends_unknown:
            return
        found = peel(self.ranks, fps, src, dst, inst)
        ex.ends_checked = True
        if found is None:
            return
        entry, cycle = found
        root = int(owner(np.array([entry], dtype=np.uint64), self.ranks.size)[0])
        depth = None
        if self.ranks.rank == root:
            depth = next(d for d, level in enumerate(self.fps) if (level == np.uint64(entry)).any())
        depth = self.ranks.bcast(depth, root=root)
        head = number(self.walk(depth, entry))
        ids = []
        for k, fp in cycle:
            ids.append(number([(k, fp)], chain=False))
        ex.lasso = (head, [(k, i) for (k, _), i in zip(cycle, ids)])

    def close(self) -> None:
        self.seen.close()
