"""The native search: the compiled mode's successor function and the compact-store BFS, in C.

``SearchOptions(native=True)`` asks for it. The generated Python of the compiled mode
(:mod:`modelcheck.explicit.compiled.expander`) is printed as C by
:mod:`modelcheck.explicit.native.c_source`, spliced into the search loop of ``search.c``
(the compact-store search of :mod:`modelcheck.explicit.search`, state for state),
compiled with the system's C compiler into a shared library, and driven through
:mod:`ctypes` one BFS level per call. The answer is an ordinary
:class:`~modelcheck.explicit.search.Exploration` with the ids, parents, steps, depths and
evidence the Python compact search would have stored, so verdicts, traces (rebuilt by
replay) and counts are the same; tests pin that.

Why the answers are the Python search's: the C ``mc_expand`` is the generated Python
function statement for statement, and the loop expands a level's states in id order and
admits new successors in the order they were generated. Only the fingerprints differ: the
native search hashes the packed row of leaves with XXH64's round (nine rounds for 71 leaves,
where CPython's tuple ``hash()`` takes 71 dependent ones, which was a third of the search's
time), so ``Exploration.fingerprints`` and ``Exploration.key`` are the native ones. Both are
64-bit fingerprints; a collision (probability about n²/2⁶⁵) could merge two states in
either search, and in different places.

When it is not used (the caller then runs the compiled Python search and says why):
no C compiler (``$CC``, split as a shell would, else ``cc``, else ``gcc``); more than 64
properties (the C code keeps them as bits); the full store (the native search keeps
fingerprints only); partial-order reduction; a symmetry canonicalizer
:mod:`~modelcheck.explicit.native.symmetry_c` does not print (an untranslated ``ready``, too
many ids); a spec whose generated code calls
back into Python for whole actions or properties (:class:`~modelcheck.explicit.native.c_source.NotC`). A state
where the generated code would hand a step to the plain engine (a step that raises or leaves
the field types) stops the native search with :class:`Fault`; the caller reruns the search
in Python, which reports the spec's own error.

The C is two translation units (:class:`CSource`; three under symmetry), compiled side by side
and linked: the search (``search.c`` under the layout's constants, the same for every property
and with or without symmetry), the model's (the translated ``expand``) and under symmetry the
canonicalizer's. The compiled library is kept next to the compiled mode's code cache
(:func:`modelcheck.explicit.compiled.cache.cache_dir`) as ``native-<sha256>.so``, the key a hash of
both units, the compiler's version and the flags, and the search's object as ``native-<sha256>.o``,
keyed by its own text, the compiler's version and the flags, so that another property of the
configuration, or symmetry, compiles the model's unit alone (the search's unit was two thirds
of the compile). The search's unit needs no generated code, so :func:`start_search` (called by
the plan before the code generation) compiles it in a thread meanwhile; :func:`build` waits for
it. Both are written under temporary names and renamed, so a concurrent or
interrupted build never leaves a half-written file; an object the linker refuses is compiled
again. With the cache off, both units are built in a temporary directory, deleted once the
library is loaded.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import mmap
import os
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
from array import array
from dataclasses import dataclass
from enum import IntEnum
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import EngineBug
from ...symbolic.layout import leaves_of
from ..compiled import cache as codecache
from ..cycles import drawing_bytes, lasso_among
from ..flat import leaf_range
from ..memory import OverBudget, SpillError, afford, peak_since_reset, reset_peak, resident
from ..options import Progress
from .c_source import NotC, c_function
from .symmetry_c import c_canonicalizer

FLAGS = ("-O1", "-fPIC", "-pthread", "-std=gnu99", "-w")  # each unit, compiled with -c
LINK = ("-shared", "-pthread")
CELLS = (("int8_t", -(1 << 7), (1 << 7) - 1), ("int16_t", -(1 << 15), (1 << 15) - 1),
         ("int32_t", -(1 << 31), (1 << 31) - 1), ("int64_t", -(1 << 63), (1 << 63) - 1))
MODEL_MARKER = "/* @MODEL@ */"  # search.c above it is the model's unit's prelude too
NO_SYMMETRY = ("void mc_canonical(unsigned char *ready_seen, int64_t (*ready_row)[MC_WIDTH], mc_cell *x)\n"
               "{\n    (void)ready_seen; (void)ready_row; (void)x;\n}\n"
               "void mc_canonical_cells(mc_cell *x) { (void)x; }\n")
MAX_PROPERTIES = 64  # MC_MAXPROPS: properties are bits of a mask
CHUNK = 8192  # states the threads expand (then look up, a shard each) between two admissions (mc_threads)


class NativeUnavailable(Exception):
    """The native search cannot run for this configuration or on this machine (the message says why)."""


class Fault(Exception):
    """The generated code handed state ``sid`` back to Python: a step there would raise or leave the field types."""

    def __init__(self, sid: int):
        super().__init__(f"state {sid}: a step the C code does not decide")
        self.sid = sid


@dataclass(frozen=True)
class CSource:
    """One configuration's C, in translation units compiled side by side and linked:
    ``runtime``, the search (``search.c`` under the layout's constants: the same for every
    property and with or without symmetry, so compiled once and kept), ``model``, the
    translated ``expand`` (and, without symmetry, the canonicalizer's no-ops), and under
    symmetry ``canonical``, the canonicalizer ("" without); ``vectors``: the canonicalizer's
    readiness vectors (1: no symmetry)."""

    runtime: str
    model: str
    vectors: int
    canonical: str = ""


def c_source(source: str, width: int, instances: int, leaves: tuple[int, int], canonical: Any = None,
             ranges: list[tuple[int, int]] | None = None) -> CSource:
    """The C text for one configuration: constants, the translated ``expand``, the search
    (and, under symmetry, the compiled mode's ``canonical`` printed as C). ``ranges``: each
    leaf's least and greatest value, for the bit-packed frontier (None: rows of cells)."""
    head = _layout_head(width, instances, leaves, ranges)
    try:
        expand = c_function(source)
    except (NotC, SyntaxError) as err:
        raise NativeUnavailable(f"the generated code is not translated to C: {err}") from None
    symmetric, vectors = NO_SYMMETRY, 1
    if canonical is not None:
        try:
            symmetric, vectors = c_canonicalizer(canonical)
        except (NotC, SyntaxError) as err:
            raise NativeUnavailable(f"the symmetry canonicalizer is not translated to C: {err}") from None
    runtime = resources.files(__package__).joinpath("search.c").read_text()
    prelude = runtime.split(MODEL_MARKER, 1)[0]  # includes, Out, the helpers, the model's declarations
    title = source.splitlines()[0].strip('"').replace("*/", "* /") if source else ""
    vectors_c = f"int64_t mc_ready_vectors(void) {{ return {vectors}; }}\n"
    if canonical is None:
        return CSource(head + runtime, f"/* {title} */\n{head}{prelude}{expand}{symmetric}{vectors_c}", vectors)
    return CSource(head + runtime, f"/* {title} */\n{head}{prelude}{expand}", vectors,
                   f"/* {title}: symmetry */\n{head}{prelude}{symmetric}{vectors_c}")


def _layout_head(width: int, instances: int, leaves: tuple[int, int], ranges: list[tuple[int, int]] | None) -> str:
    """The constants both units are compiled under: the layout's width, the instances, the cell
    type (the narrowest that holds every leaf) and the frontier's packing."""
    cell = next((name for name, lo, hi in CELLS if lo <= leaves[0] and leaves[1] <= hi), None)
    if cell is None:
        raise NativeUnavailable(f"leaf values {leaves[0]}..{leaves[1]} do not fit 64 bits")
    return (f"#define _GNU_SOURCE\n#include <stdint.h>\n#include <string.h>\n"
            f"#define MC_WIDTH {max(width, 1)}\n#define MC_INSTANCES {max(instances, 1)}\n"
            f"typedef {cell} mc_cell;\n{_frontier_head(width, ranges, cell == 'int8_t')}")


def _layout(state_class: Any) -> tuple[tuple[int, int], list[tuple[int, int]]]:
    """The least and greatest leaf of ``state_class``, and each leaf's range (bools: 0..1)."""
    try:
        leaves = leaf_range(state_class)
    except TypeError as err:
        raise NativeUnavailable(f"a field type with no flat encoding ({err})") from None
    return leaves, [(0, 1) if leaf.is_bool else (leaf.lo, leaf.hi)
                    for name, ftype in state_class.types.items() for leaf in leaves_of(name, ftype)]


def _frontier_head(width: int, ranges: list[tuple[int, int]] | None, bytes_: bool = False) -> str:
    """The bit-packed frontier's constants: per leaf its least value and its bits (MC_BITS 0 when
    the ranges are not known or a leaf needs more than 32 bits). With one-byte cells
    (``bytes_``) and at least 16 leaves, also per leaf the least and the greatest cell its bits
    hold (``mc_lo8``, ``mc_hi8``: MC_RANGE8), so that a row's range check is 16 cells a compare."""
    if ranges is None or len(ranges) != width or width == 0:
        return "#define MC_BITS 0\n"
    bits = [max(hi - lo, 0).bit_length() for lo, hi in ranges]
    if max(bits) > 32:
        return "#define MC_BITS 0\n"
    head = (f"#define MC_BITS 1\n#define MC_FRONTIER_BYTES {max(1, (sum(bits) + 7) // 8)}\n"
            f"static const int64_t mc_lo[MC_WIDTH] = {{{', '.join(str(lo) for lo, _ in ranges)}}};\n"
            f"static const unsigned char mc_nbits[MC_WIDTH] = {{{', '.join(map(str, bits))}}};\n")
    if bytes_ and width >= 16:
        top = [min(lo + (1 << b) - 1, 127) for (lo, _), b in zip(ranges, bits)]
        head += (f"#define MC_RANGE8 1\n"
                 f"static const int8_t mc_lo8[MC_WIDTH] = {{{', '.join(str(lo) for lo, _ in ranges)}}};\n"
                 f"static const int8_t mc_hi8[MC_WIDTH] = {{{', '.join(map(str, top))}}};\n")
    return head


def compiler() -> list[str]:
    """The C compiler's command: ``$CC`` (split as a shell would: ``ccache gcc``), else ``cc``,
    else ``gcc``; NativeUnavailable when none is found."""
    chosen = shlex.split(os.environ.get("CC", ""))
    if not chosen:
        found = shutil.which("cc") or shutil.which("gcc")
        if not found:
            raise NativeUnavailable("no C compiler found (install gcc, or set CC)")
        chosen = [found]
    return chosen


@functools.lru_cache(maxsize=8)
def _compiler_id_of(cc: tuple[str, ...]) -> str:
    return _compiler_id(list(cc))


def _compiler_id(cc: list[str]) -> str:
    """The first line of ``cc --version`` (part of the library's cache key)."""
    try:
        done = subprocess.run([*cc, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as err:
        raise NativeUnavailable(f"the C compiler {shlex.join(cc)} does not run: {err}") from None
    return done.stdout.splitlines()[0] if done.returncode == 0 and done.stdout else shlex.join(cc)


class Built:
    """Where the library came from: ``path``, ``from_cache``, ``seconds`` to get it, the compiler;
    ``search_cached``: where the search's unit came from ("earlier": compiled by an earlier run,
    "ahead": compiled while the code was generated, in ``seconds`` only as far as the build
    waited for it; "": now, beside the model's)."""

    def __init__(self, path: Path, from_cache: bool, seconds: float, cc: list[str], kept: bool,
                 search_cached: str = ""):
        self.path, self.from_cache, self.seconds, self.cc, self.kept = path, from_cache, seconds, cc, kept
        self.search_cached = search_cached

    def describe(self) -> str:
        if self.from_cache:
            return f"native code: from the cache ({self.seconds:.2f} s, {self.path})"
        kept = f", kept in {self.path}" if self.kept else " (not cached)"
        part = {"earlier": "; the search's part from the cache",
                "ahead": "; the search's part compiled while the code was generated"}.get(self.search_cached, "")
        return f"native code: compiled by {shlex.join(self.cc)} in {self.seconds:.2f} s{kept}{part}"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def build(src: CSource) -> Built:
    """The shared library of ``src``: from the cache, or compiled now (and kept when the cache is on).

    The library's key hashes the compiler's version, the flags and both units; the search's
    object (``native-<sha256>.o``, keyed by the compiler's version, the flags and its own
    text) is kept too, so a configuration checked for another property, or with symmetry
    after without, compiles only its model's unit. Both units compile side by side."""
    started = time.perf_counter()
    cc = compiler()
    ident = _compiler_id_of(tuple(cc))
    digest = _digest(ident, *FLAGS, *LINK, src.runtime, src.model, src.canonical)
    where = codecache.cache_dir()
    if where is not None:
        path = where / f"native-{digest}.so"
        if path.is_file():
            codecache.touch(path)
            return Built(path, True, time.perf_counter() - started, cc, True)
        try:
            where.mkdir(parents=True, exist_ok=True)
            kept = where / f"native-{_digest(ident, *FLAGS, src.runtime)}.o"
            cached = _compile(cc, src, path, kept)
            codecache.prune(where, keep=path)
            return Built(path, False, time.perf_counter() - started, cc, True, cached)
        except OSError:
            pass  # an unwritable cache means no cache
    tmp = Path(tempfile.mkdtemp(prefix="modelcheck-native-"))
    path = tmp / "search.so"
    _compile(cc, src, path, None)
    return Built(path, False, time.perf_counter() - started, cc, False)


class _Early:
    """The search's unit of one layout compiling in a thread of this process into the cache
    (:func:`start_search`), while the code generation runs on the other core."""

    def __init__(self, cc: list[str], runtime: str, kept: Path):
        self.cc, self.runtime, self.kept = cc, runtime, kept
        self.thread = threading.Thread(target=self._run, name="modelcheck-cc", daemon=False)

    def _run(self) -> None:
        # anything wrong here is build()'s to meet and say
        with contextlib.suppress(Exception), \
                tempfile.TemporaryDirectory(dir=self.kept.parent, prefix=".native-") as tmp:
            obj = _objects(self.cc, {"search": self.runtime}, Path(tmp))["search"]
            os.replace(obj, self.kept)


_EARLY: dict[Path, _Early] = {}  # by the object each is making


def start_search(state_class: Any, instances: int) -> None:
    """Start compiling the search's unit of ``state_class``'s layout in the background, into the
    code cache: it depends on the layout alone (not on the generated code), so it need not wait
    for the code generation, which it then overlaps (on two cores the cold build's compile is
    then mostly hidden). :func:`build` waits for it and takes its object. Nothing happens
    without a cache, with the object already cached, or where anything is amiss (which
    :func:`build` then meets, and says)."""
    for done in [k for k, e in _EARLY.items() if not e.thread.is_alive()]:
        del _EARLY[done]  # finished (its object is in the cache) and no build came for it: a fallback
    where = codecache.cache_dir()
    if where is None:
        return
    try:
        leaves, ranges = _layout(state_class)
        runtime = _layout_head(len(ranges), instances, leaves, ranges) + \
            resources.files(__package__).joinpath("search.c").read_text()
        cc = compiler()
        kept = where / f"native-{_digest(_compiler_id_of(tuple(cc)), *FLAGS, runtime)}.o"
        if kept in _EARLY or kept.is_file():
            return
        where.mkdir(parents=True, exist_ok=True)
        if not os.access(where, os.W_OK):
            return
    except (NativeUnavailable, OSError):
        return
    early = _Early(cc, runtime, kept)
    _EARLY[kept] = early
    early.thread.start()


def _compile(cc: list[str], src: CSource, path: Path, kept: Path | None) -> str:
    """Compile both units into ``path`` in a temporary directory beside it, then rename: the
    search's unit taken from ``kept`` when that object exists (else compiled alongside the
    model's and kept there). Where the search's object came from (see :class:`Built`). A kept
    object the linker refuses (damaged) is compiled again."""
    early = _EARLY.pop(kept, None) if kept is not None else None
    if early is not None:
        early.thread.join()  # compiled while the code was generated: not "from the cache"
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".native-") as tmp:
        units = {"model": src.model, **({"canonical": src.canonical} if src.canonical else {})}
        reuse = kept is not None and kept.is_file()
        if not reuse:
            units["search"] = src.runtime
        objects = _objects(cc, units, Path(tmp))
        if reuse:
            assert kept is not None
            codecache.touch(kept)
            objects["search"] = str(kept)
        elif kept is not None:
            os.replace(objects["search"], kept)  # atomic: a concurrent build writes the same object
            objects["search"] = str(kept)
        so = os.path.join(tmp, "search.so")
        done = _run([*cc, *LINK, "-o", so, *objects.values()])
        if done.returncode != 0 and reuse:
            assert kept is not None
            with contextlib.suppress(OSError):
                kept.unlink()
            return _compile(cc, src, path, kept)
        if done.returncode != 0:
            first = (done.stderr.strip().splitlines() or ["no message"])[0]
            raise NativeUnavailable(f"{shlex.join(cc)} failed linking the generated C ({first})")
        os.replace(so, path)
    return "ahead" if early is not None and reuse else "earlier" if reuse else ""


def _objects(cc: list[str], units: dict[str, str], tmp: Path) -> dict[str, str]:
    """Each unit's text compiled into ``tmp``, the compilers running side by side; their objects by name."""
    running = []
    for name, text in units.items():
        c_file, o_file = tmp / f"{name}.c", tmp / f"{name}.o"
        c_file.write_text(text)
        try:
            proc = subprocess.Popen([*cc, *FLAGS, "-c", "-o", str(o_file), str(c_file)], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
        except OSError as err:
            for _, other, _ in running:
                other.kill()
            raise NativeUnavailable(f"{shlex.join(cc)} did not run: {err}") from None
        running.append((name, proc, str(o_file)))
    failed = ""
    for _, proc, _ in running:
        try:
            _, err = proc.communicate(timeout=900)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            err, proc.returncode = "timed out", -1
        if proc.returncode != 0 and not failed:
            failed = (err.strip().splitlines() or ["no message"])[0]
    if failed:
        raise NativeUnavailable(f"{shlex.join(cc)} failed on the generated C ({failed})")
    return {name: o_file for name, _, o_file in running}


def _run(argv: list[str]) -> Any:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.SubprocessError) as err:
        raise NativeUnavailable(f"{shlex.join(argv[:1])} did not run: {err}") from None


I64 = ctypes.c_int64
PTR = ctypes.c_void_p


class Library:
    """The loaded library, its functions typed, checked against the configuration's shape."""

    def __init__(self, built: Built, width: int, instances: int, vectors: int = 1):
        self.built = built
        try:
            lib = ctypes.CDLL(str(built.path))
        finally:
            if not built.kept:
                shutil.rmtree(built.path.parent, ignore_errors=True)
        for name, res, args in (("mc_new", PTR, [I64, ctypes.c_int]), ("mc_cycle", I64, [PTR]),
                                ("mc_pairs", I64, [PTR]), ("mc_steps", I64, [PTR]),
                                ("mc_marks", I64, [PTR]), ("mc_free", None, [PTR]), ("mc_seed", I64, [PTR, PTR]),
                                ("mc_level", I64, [PTR, ctypes.c_int]), ("mc_fingerprint", I64, [PTR]),
                                ("mc_size", I64, [PTR]), ("mc_frontier", I64, [PTR]),
                                ("mc_hit_state_bound", I64, [PTR]), ("mc_fault_sid", I64, [PTR]),
                                ("mc_terminals", I64, [PTR]), ("mc_width", I64, []), ("mc_instances", I64, []),
                                ("mc_array", PTR, [PTR, ctypes.c_int]), ("mc_end", None, [PTR]),
                                ("mc_release", None, [PTR, ctypes.c_int]), ("mc_ready_vectors", I64, []),
                                ("mc_canonical_row", None, [PTR]),
                                ("mc_via_size", I64, []), ("mc_threads", I64, [PTR, I64, I64]),
                                ("mc_budget", None, [PTR, I64, I64, ctypes.c_char_p]),
                                ("mc_spill_fd", I64, [PTR, ctypes.c_int]), ("mc_spilled", I64, [PTR]),
                                ("mc_spill", I64, [PTR]), ("mc_hit_memory", I64, [PTR]),
                                ("mc_spill_errno", I64, [PTR]), ("mc_spill_bytes", I64, [PTR])):
            f = getattr(lib, name)
            f.restype, f.argtypes = res, args
        self.lib = lib
        self.width = max(width, 1)
        self.vectors = vectors  # readiness vectors of the symmetry canonicalizer (1: no symmetry)
        if (lib.mc_width() != self.width or lib.mc_instances() != max(instances, 1)
                or lib.mc_ready_vectors() != vectors):
            raise NativeUnavailable("the native library does not match the configuration")

    def canonical(self, x: tuple[int, ...]) -> tuple[int, ...]:
        """The representative of flat state ``x`` by the C canonicalizer (``x`` without symmetry)."""
        row = (I64 * self.width)(*x)
        self.lib.mc_canonical_row(row)
        return tuple(row[:len(x)])

    def fingerprint(self, x: tuple[int, ...]) -> int:
        """The native search's fingerprint of flat state ``x`` (traces are rebuilt with it)."""
        return int(self.lib.mc_fingerprint((I64 * self.width)(*x)))


def library(source: str, width: int, instances: int, state_class: Any, properties: int,
            canonical: Any = None) -> Library:
    """The native library for one configuration's generated Python ``source`` (cached per text);
    with ``canonical`` (the compiled mode's symmetry canonicalizer) successors are mapped to
    their representatives in C."""
    if properties > MAX_PROPERTIES:
        raise NativeUnavailable(f"{properties} properties; the native search keeps at most {MAX_PROPERTIES}")
    leaves, ranges = _layout(state_class)
    src = c_source(source, width, instances, leaves, canonical, ranges)
    built = build(src)
    try:
        return Library(built, width, instances, src.vectors)
    except OSError:
        if not built.from_cache:
            raise NativeUnavailable(f"the library {built.path} does not load") from None
        with contextlib.suppress(OSError):  # a damaged cache entry: build it again
            built.path.unlink()
        return Library(build(src), width, instances, src.vectors)


def read(lib: Library, ctx: int, which: int, typecode: str, count: int) -> array:
    """``count`` items of the context's array ``which`` (see ``mc_array``) as a Python array;
    the per-state arrays (0 to 4) and the steps and marks (14, 15) are freed in C once copied."""
    out = array(typecode, [0]) * count
    if count:
        ctypes.memmove(out.buffer_info()[0], lib.lib.mc_array(ctx, which), count * out.itemsize)
    lib.lib.mc_release(ctx, which)
    return out


def _mapped(lib: Library, ctx: int, which: int, typecode: str, count: int) -> Any:
    """As :func:`read`, but an array the search spilled is mapped read-only from its file (a
    ``memoryview`` of ``count`` items, resident only where read), not copied."""
    fd = int(lib.lib.mc_spill_fd(ctx, which))
    if fd < 0 or not count:
        return read(lib, ctx, which, typecode, count)
    size = count * array(typecode).itemsize
    mapped = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ)  # its own duplicate of fd
    lib.lib.mc_release(ctx, which)
    return memoryview(mapped).cast(typecode)


PAIRS_CHUNK = 1 << 20  # steps read at a time from the pairs of an at_end search


def _pairs_among(lib: Library, ctx: int, flags: array) -> array:
    """The steps kept as (source, target) pairs (``mc_array`` 11) between two states that the
    peeling left (``flags``): all that drawing a cycle needs, read a chunk at a time and the
    spilled pages dropped after each, so that the pairs are never all resident."""
    c = lib.lib
    m, base = int(c.mc_pairs(ctx)), c.mc_array(ctx, 11)
    among = np.frombuffer(flags, dtype=np.uint8).astype(bool)
    out = array("i")
    for lo in range(0, m, PAIRS_CHUNK):
        k = min(PAIRS_CHUNK, m - lo)
        part = np.frombuffer((ctypes.c_int32 * (2 * k)).from_address(base + 8 * lo), dtype=np.int32).reshape(-1, 2)
        out.frombytes(part[among[part[:, 0]] & among[part[:, 1]]].tobytes())
        if c.mc_spilled(ctx):
            c.mc_spill(ctx)  # already spilled: only drops the mapped pages just read
    return out


class Status(IntEnum):
    """What ``mc_seed``, ``mc_level`` and ``mc_cycle`` return instead of a count when they cannot go on."""

    FAULT = -1  # the C code handed a state back (mc_fault_sid names it)
    NOMEM = -2  # an allocation failed, or ids would pass int32
    SEED_FAULT = -3  # mc_seed: an initial state the frontier cannot hold (a leaf outside its range)
    SPILL_FAULT = -4  # a spill file could not be made or grown (mc_spill_errno says why)


MC_FAULT, MC_NOMEM = Status.FAULT, Status.NOMEM
MC_PAIRS, MC_STEPS = 1, 2  # mc_new's edges: bits, as search.c defines them


def explore_native(ex: Any, flat: Any, lib: Library, max_states: int | None, max_depth: int | None,
                   on_progress: Any, started: float, edges: bool = False, budget: int | None = None,
                   threads: int = 1, steps: bool = False, spill_dir: str | None = None,
                   time_limit: float | None = None) -> None:
    """Fill the compact-store Exploration ``ex`` by the native search (see the module docstring).

    With ``edges`` (an ``at_end`` property is judged) the search also keeps the steps into
    states already stored and looks for a cycle (``ex.lasso``, ``ex.ends_checked``). With
    ``steps`` (a liveness property is judged) it keeps every step as the full store does
    (``ex.edges``, flat ``(source, instance, target)`` triples in the same order) and every
    state's witness mask (``ex.marks``), from which :mod:`..liveness` reads goal and trigger.
    With a ``budget`` and a ``spill_dir`` the search moves its streamed arrays to files there
    once its heap would pass what the budget leaves (the budget less this process's resident
    size at the start), and stops admitting states only when the fingerprint set itself would
    not fit (``ex.hit_memory_bound``); ``ex.spilled`` and ``ex.spill_dir`` say that it spilled,
    and the per-state arrays are then read from the files (mapped, not copied). Raises
    :class:`SpillError` when a spill file cannot be written. Past ``time_limit`` seconds from
    ``started`` (looked at between levels) no new state is admitted (``ex.hit_time_limit``).
    Raises :class:`Fault` where the C code hands a state back, ``MemoryError`` when the
    library cannot allocate; the context is freed on every exit (an interrupt is taken
    between levels). ``threads`` expand each level together and look its fingerprints up in
    the set, a shard each (``mc_threads``); new states still get their ids in the one-thread
    order, so the answer does not depend on it.
    """
    c = lib.lib
    width = flat.layout.width
    instances = ex.compiled.instances
    names = [p.name for p in ex.properties]
    ctx = c.mc_new(-1 if max_states is None else max_states, (MC_PAIRS if edges else 0) | (MC_STEPS if steps else 0))
    if not ctx:
        raise MemoryError("the native search could not allocate its tables")
    c.mc_threads(ctx, threads, CHUNK)
    reset_peak()
    ex.resident_at_start = resident()
    ex.memory_budget = budget  # what the checks after the search are held to as well
    if budget is not None and spill_dir:
        c.mc_budget(ctx, budget, ex.resident_at_start, os.fsencode(spill_dir))

    def failed(status: int) -> None:
        if status == Status.SPILL_FAULT:
            raise SpillError(spill_dir or "", int(c.mc_spill_errno(ctx)))

    try:
        for x in flat.initial:
            sid = c.mc_seed(ctx, (I64 * lib.width)(*x))
            failed(sid)
            if sid == MC_NOMEM:
                raise MemoryError("the native search ran out of memory")
            if sid == Status.SEED_FAULT:
                raise Fault(c.mc_fault_sid(ctx))
            if sid >= 0:
                ex.initial_ids.append(sid)
        transitions, d = 0, 0
        level = c.mc_size(ctx)
        counts = [level]  # states per depth (the C search keeps no depth per state)
        while level:
            at_bound = max_depth is not None and d >= max_depth
            if at_bound:
                ex.hit_depth_bound = True
            if budget is not None and not at_bound and resident() > budget:
                failed(c.mc_spill(ctx))  # past the budget: spill (if not yet) and drop the spilled pages
                if resident() > budget:  # and still past it: stop admitting states
                    ex.hit_memory_bound = budget
            if c.mc_hit_memory(ctx):
                ex.hit_memory_bound = budget or 0
            if time_limit is not None and not at_bound and time.perf_counter() - started >= time_limit:
                ex.hit_time_limit = time_limit  # checked between levels: a level begun is finished
            taken = c.mc_level(ctx, 0 if at_bound or ex.hit_memory_bound or ex.hit_time_limit else 1)
            failed(taken)
            ex.spilled = max(ex.spilled, c.mc_spill_bytes(ctx))
            if taken == MC_FAULT:
                raise Fault(c.mc_fault_sid(ctx))
            if taken == MC_NOMEM:
                raise MemoryError("the native search ran out of memory (or past 2**31 - 1 states)")
            transitions += taken
            level = c.mc_frontier(ctx)
            if level:
                counts.append(level)
            if on_progress is not None:
                on_progress(Progress(c.mc_size(ctx), level, d, transitions, time.perf_counter() - started))
            d += 1
        ex.search_peak_resident = peak_since_reset()
        size = c.mc_size(ctx)
        ex.size = size
        ex.hit_state_bound = bool(c.mc_hit_state_bound(ctx))
        if c.mc_hit_memory(ctx):
            ex.hit_memory_bound = budget or 0
        take = read
        if c.mc_spilled(ctx):
            ex.spill_dir = spill_dir or ""
            take = _mapped  # the spilled arrays are mapped from their files, not copied
        c.mc_end(ctx)
        left = c.mc_cycle(ctx) if edges else 0
        failed(left)
        if left == MC_NOMEM:
            raise MemoryError("the native search ran out of memory looking for cycles")
        flags = read(lib, ctx, 10, "B", size) if left else None
        pairs = _pairs_among(lib, ctx, flags) if left else None
        if left:
            try:  # a cycle exists: drawing it takes compressed rows of the states left
                afford(budget, f"drawing a cycle among {left:,} states (an execution that never ends)",
                       drawing_bytes(left, left + len(pairs) // 2))
            except OverBudget as over:
                ex.ends_unknown, pairs = over.reason, None
        if steps:
            ex.edges = take(lib, ctx, 14, "i", 3 * c.mc_steps(ctx))
            ex.marks = take(lib, ctx, 15, "Q", c.mc_marks(ctx))
        ex.parent = take(lib, ctx, 0, "i", size)
        ex.via = take(lib, ctx, 1, "h" if c.mc_via_size() == 2 else "i", size)
        ex.depth = array("I")
        for depth, n in enumerate(counts):
            ex.depth += array("I", [depth]) * n
        ex.levels = len(counts) if size else None
        ex.fingerprints = take(lib, ctx, 3, "q", size)
        ex.terminal = take(lib, ctx, 4, "q", c.mc_terminals(ctx)).tolist()
        fired = read(lib, ctx, 5, "q", len(instances))
        first = read(lib, ctx, 6, "q", len(names))
        step_sid = read(lib, ctx, 7, "q", len(names))
        step_k = read(lib, ctx, 8, "q", len(names))
        step_t = read(lib, ctx, 9, "q", MAX_PROPERTIES * lib.width)
        if lib.vectors > 1:
            _check_readiness(flat, read(lib, ctx, 12, "B", lib.vectors),
                             read(lib, ctx, 13, "q", lib.vectors * lib.width), lib.width)
    finally:
        c.mc_free(ctx)
    ex.transitions = transitions
    ex.fired_instances = [int(n) for n in fired]
    ex.fired = dict.fromkeys(ex.compiled.actions, 0)
    for k, n in enumerate(fired):
        ex.fired[instances[k].name] += n
    for i, name in enumerate(names):
        if first[i] >= 0:
            ex.violated_at[name] = first[i]
        if step_sid[i] >= 0:
            row = lib.width * i
            ex.violated_step[name] = (step_sid[i], step_k[i], tuple(step_t[row:row + width]))
    if edges:
        ex.ends_checked = True
        if left and pairs is not None:
            ex.lasso = lasso_among(ex.parent, ex.via, pairs, flags)
    flat.finish(ex)
    flatten = flat.layout.flatten
    ex.key = lambda s: lib.fingerprint(flatten(s))


def _check_readiness(flat: Any, seen: array, rows: array, width: int) -> None:
    """EngineBug unless the translated readiness of the first state seen with each readiness
    vector is the spec's own ``ready()`` there (what the compiled mode checks as it learns)."""
    canon = flat.canonical.owner.canon
    unflatten = flat.layout.unflatten
    for r, hit in enumerate(seen):
        if not hit:
            continue
        s = unflatten(tuple(rows[r * width:r * width + flat.layout.width]))
        ready = tuple(bool(canon.sym.ready(s, i)) for i in canon.ids)
        if ready != tuple(bool(r >> b & 1) for b in range(len(canon.ids))):
            raise EngineBug(f"symmetry: the readiness translated to C {r:b} differs from ready() {ready} at {s!r}")


# --------------------------------------------------------------------------- the partitioned search's calls

CELL_TYPES = {1: "int8", 2: "int16", 4: "int32", 8: "int64"}


def partitioned(lib: Library) -> tuple[Any, str]:
    """The library's batch functions for :mod:`modelcheck.explicit.distributed` (``mc_expand_rows``,
    ``mc_fingerprint_rows``, ``mc_pack_records``, the ``mc_dset_*`` fingerprint set), typed; and its
    cells' numpy dtype."""
    c = lib.lib
    for name, res, args in (("mc_expand_rows", I64, [PTR, I64, ctypes.c_int, I64, PTR, PTR, PTR, PTR, PTR, PTR, PTR]),
                            ("mc_fingerprint_rows", None, [PTR, I64, PTR]), ("mc_dset_new", PTR, []),
                            ("mc_dset_free", None, [PTR]), ("mc_dset_size", I64, [PTR]),
                            ("mc_dset_bytes", I64, [PTR]),
                            ("mc_dset_insert", I64, [PTR, PTR, I64, PTR, ctypes.c_int]),
                            ("mc_pack_records", None, [PTR, PTR, PTR, PTR, I64, PTR, I64, PTR, PTR, I64]),
                            ("mc_dset_admit", I64, [PTR, PTR, I64, I64, PTR, PTR]),
                            ("mc_cell_size", I64, [])):
        f = getattr(c, name)
        f.restype, f.argtypes = res, args
    return c, CELL_TYPES[int(c.mc_cell_size())]
