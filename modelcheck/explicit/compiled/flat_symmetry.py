"""Symmetry reduction over flat states: the Canonicalizer's representative, computed by generated code.

:func:`flat_canonicalizer` gives, for one configuration, a function ``f`` over the flat
states of the compiled mode (:mod:`modelcheck.explicit.compiled.expander`) with, for every state ``s`` in
the field types::

    f(layout.flatten(s)) == layout.flatten(canon(s))

that is, the *same* representative the plain symmetry search stores (the least member of
the class in the tuple order of :class:`~modelcheck.state.State` values), so a compiled
search with symmetry stores the states of the plain one, and traces are rebuilt with
``canon`` itself. Soundness is therefore :mod:`modelcheck.explicit.reductions.symmetry`'s argument; what this
module must get right is that ``f`` computes that function, which rests on four facts:

1. *Readiness.* ``f`` first computes which ids are ready, as Python expressions over the
   leaves: the symbolic engine runs ``sym.ready(s, id)`` over a symbolic state (as the
   compiled mode translates properties, within the field types) and
   :func:`modelcheck.explicit.compiled.python_source.python_expr` prints where it is true. Where it cannot (the
   code forks into an exception, returns a non-bool, or uses an untranslated operator),
   that id's readiness is the spec's own ``ready`` on the decoded state. The first state
   seen with each readiness vector is decoded and checked against the concrete ``ready``.
2. *The permutations.* :meth:`Canonicalizer.group` depends on the state only through its
   readiness vector (it caches by it); at the first state with a new vector ``f`` asks
   ``canon.group`` for exactly that state and generates a function for it. So the
   permutations tried at ``s`` are ``canon.group(s)``, plus the identity.
3. *Images.* The image of a flat state under ``π`` is built leaf by leaf from the compiled
   permutation ``canon`` itself made (``Canonicalizer._compile``), with the renaming
   ``Canonicalizer.apply`` does: an indexed field's element blocks move; an id-valued
   ``Int`` scalar, or an ``Int`` element of a renamed ``Tuple``/``Seq``, is renamed by a
   constant table (``perm.get(v, v)``); a sequence's length and its padding slots (past the
   length) are never renamed; enums (strings) and nested tuples are left alone, as
   ``perm.get`` leaves them. Declarations this cannot mirror raise :class:`Unsupported`
   up front (an indexed field that is not a ``Tuple`` with one key per position; renamed
   bools while 0 or 1 is a grouped id, which ``perm.get`` would turn into ints).
4. *Order.* Images are compared by a key tuple whose lexicographic order is the ``State``
   order of the images: a bool or int leaf is itself; an enum leaf is the rank of its
   name among the sorted names (names compare as strings, leaves as indices); a tuple is
   its elements' keys in turn (all of one width); a sequence whose length may differ
   between images (inside a moved element of an indexed field) drops its length and marks
   each slot present (>= 1, fused into the slot's first key) or absent (0), so a prefix
   compares below its extensions as in Python. A top-level sequence keeps its length under
   every permutation, so its slots compare as they are. Key positions that read the same
   in every image are left out (they never decide). The first least key wins, as ``min``
   and ``canon`` take the first least state; images with equal keys are equal states.

Speed. ``f`` reads the leaves ``ready`` needs and the lengths of the renamed top-level
sequences, and calls the function generated for that key (readiness vector, lengths): one
tuple per image, of the key positions that can differ, with renaming tables and enum ranks
inlined as constant tuples; a tuple comparison per image; the winner's flat tuple built
once (``x`` itself when it is its own representative). Knowing the lengths, a function
leaves padding slots out and renames the others without a test. Past ``limit`` such
functions, new lengths share one function per readiness vector that tests each slot.

The tests check ``f`` against ``flatten(canon(unflatten(x)))`` on every reachable state of
several configurations and on random states of the field types.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ...errors import EngineBug
from ...spec import Compiled
from ...symbolic.layout import width
from ...types import Bool, Enum, FieldType, Int, Seq, Tuple
from ..flat import FlatLayout
from ..reductions.symmetry import Canonicalizer, Perm
from .python_source import python_expr

Flat = tuple[int, ...]
SPECIALIZED = 512  # functions specialized to sequence lengths, at most (then one per readiness vector)


class Unsupported(Exception):
    """A symmetry declaration whose permutations the flat form cannot mirror (the message says why);
    symmetry then has to run on states (plain mode)."""


def flat_canonicalizer(compiled: Compiled, layout: FlatLayout, canon: Canonicalizer, *,
                       limit: int = SPECIALIZED) -> Callable[[Flat], Flat]:
    """``f`` with ``f(layout.flatten(s)) == layout.flatten(canon(s))`` for every state ``s`` of the types.

    Raises :class:`Unsupported` for a declaration it cannot mirror (see the module docstring).
    ``f`` is generated code: ``f.source`` is its text, ``f.sources`` the text of each function
    it generated so far, by readiness vector (and sequence lengths). At most ``limit``
    functions are specialized to the lengths of the renamed sequences; past that, one per
    readiness vector reads them.
    """
    return _FlatCanonicalizer(compiled, layout, canon, limit).canonical


def _has_bool(ftype: FieldType, depth: int) -> bool:
    """Whether a bool sits where renaming reaches: the value itself (depth 0) or its elements (depth 1)."""
    if isinstance(ftype, Bool):
        return True
    if depth and isinstance(ftype, Tuple | Seq):
        return _has_bool(ftype.elem, depth - 1)
    return False


class _FlatCanonicalizer:
    """The generated canonicalizer of one configuration, and the functions it generates as new keys appear."""

    def __init__(self, compiled: Compiled, layout: FlatLayout, canon: Canonicalizer, limit: int):
        self.layout = layout
        self.canon = canon
        self.width = layout.width
        self.types = {name: ftype for name, ftype, _, _ in layout.fields}
        self._check(canon)
        self.table: dict[tuple[Any, ...], Callable[[Flat], Flat]] = {}
        self.sources: dict[tuple[Any, ...], str] = {}
        self._last: list[Any] = [None, None]
        self.limit = limit
        self._generic: dict[tuple[bool, ...], Callable[[Flat], Flat]] = {}
        # top-level renamed sequences of ints: their lengths never change under a permutation
        self.seqs = {name: lo for name, ftype, lo, _ in layout.fields
                     if name in canon.sym.renamed and isinstance(ftype, Seq) and isinstance(ftype.elem, Int)}
        texts = _ready_texts(layout, canon)
        self.ready_texts = texts
        parts = [t if t is not None else f"_ready(x, {i})" for t, i in zip(texts, canon.ids)]
        parts += [f"v{lo}" for lo in self.seqs.values()]
        used = sorted({int(j) for t in parts for j in re.findall(r"\bv(\d+)\b", t)})
        lines = [f'"""Symmetry canonicalizer over flat states: {compiled.spec.describe()}."""', "", "",
                 "def canonical(x):"]
        lines += [f"    v{j} = x[{j}]" for j in used]
        lines += [f"    key = ({', '.join(parts)}{',' if len(parts) == 1 else ''})",
                  "    try:", "        fn = _table[key]", "    except KeyError:", "        fn = _learn(key, x)",
                  "    return fn(x)", ""]
        self.source = "\n".join(lines)
        env = {"_table": self.table, "_learn": self._learn, "_ready": self._ready}
        self.canonical: Callable[[Flat], Flat] = _build(self.source, "canonical", env)
        self.canonical.source = self.source  # type: ignore[attr-defined]
        self.canonical.sources = self.sources  # type: ignore[attr-defined]
        self.canonical.owner = self  # type: ignore[attr-defined]  # what the native search prints as C

    def _check(self, canon: Canonicalizer) -> None:
        sym = canon.sym
        for name, keys in sym.indexed.items():
            ftype = self.types[name]
            if not isinstance(ftype, Tuple) or ftype.size != len(keys):
                raise Unsupported(f"symmetry(): indexed field {name} is not a Tuple with one key per position")
        if {0, 1} & set(canon.ids):
            for name in sym.renamed:
                if _has_bool(self.types[name], 1):
                    raise Unsupported(f"symmetry(): renamed field {name} holds bools, which renaming id 0 or 1 "
                                      "would turn into ints")

    # ----------------------------------------------------------------- readiness

    def _state(self, x: Flat) -> Any:
        if self._last[0] is not x:
            self._last[:] = [x, self.layout.unflatten(x)]
        return self._last[1]

    def _ready(self, x: Flat, i: int) -> bool:
        """Readiness of id ``i`` by the spec's own ``ready`` (where it was not translated)."""
        return bool(self.canon.sym.ready(self._state(x), i))

    def _learn(self, key: tuple[Any, ...], x: Flat) -> Callable[[Flat], Flat]:
        """The function for a new key (readiness vector, sequence lengths), generated from
        ``canon.group`` at ``x``: specialized to the lengths, or past ``limit`` functions one
        per readiness vector that reads the lengths."""
        s = self._state(x)
        ids = self.canon.ids
        ready = tuple(bool(self.canon.sym.ready(s, i)) for i in ids)
        if ready != tuple(bool(k) for k in key[:len(ids)]):
            raise EngineBug(f"symmetry: the translated readiness {key[:len(ids)]} differs from ready() {ready} "
                            f"at {s!r}")
        if len(self.sources) < self.limit:
            lengths = dict(zip(self.seqs, key[len(ids):]))
            fn = self._compile(ready + tuple(lengths.values()), self.canon.group(s), lengths)
        else:
            fn = self._generic.get(ready) or self._compile(ready, self.canon.group(s), None)
            self._generic[ready] = fn
        self.table[key] = fn
        return fn

    def _compile(self, name: tuple[Any, ...], group: list[tuple[Perm, list[tuple]]],
                 lengths: dict[str, int] | None) -> Callable[[Flat], Flat]:
        source = self._group_source(group, lengths)
        self.sources[name] = source
        return _build(source, "canonical", {})

    # ----------------------------------------------------------------- one readiness vector

    def _group_source(self, group: list[tuple[Perm, list[tuple]]], lengths: dict[str, int] | None) -> str:
        """``canonical(x)`` for the permutations ``group`` (identity left out), as module text;
        ``lengths``: those of the renamed top-level sequences (None: read them)."""
        lines = ['"""The representative among the images under one set of permutations."""', "", "",
                 "def canonical(x):"]
        n = self.width
        images, keys, locals_ = self.group_parts(group, lengths)
        if not keys:  # no permutation (or none that changes a state)
            return "\n".join([*lines, "    return x", ""])
        texts = [", ".join(k) + ("," if len(k) == 1 else "") for k in keys]
        lines.append("    " + ", ".join(f"v{j}" for j in range(n)) + (", = x" if n == 1 else " = x"))
        lines += [f"    {name} = {value}" for name, value in locals_]
        lines += [f"    k{i} = ({text})" for i, text in enumerate(texts)]
        lines += ["    best = k0", "    i = 0"]
        for i in range(1, len(keys)):
            lines += [f"    if k{i} < best:", f"        best = k{i}", f"        i = {i}"]
        lines += ["    if i == 0:", "        return x"]
        for i in range(1, len(images)):
            value = "(" + ", ".join(images[i]) + ("," if n == 1 else "") + ")"
            last = i == len(images) - 1
            lines += [f"    return {value}"] if last else [f"    if i == {i}:", f"        return {value}"]
        return "\n".join([*lines, ""])

    def group_parts(self, group: list[tuple[Perm, list[tuple]]], lengths: dict[str, int] | None
                    ) -> tuple[list[list[str]], list[list[str]], list[tuple[str, str]]]:
        """The pieces of the function for ``group`` (identity left out), as Python expressions over
        the leaves ``v0 .. vN``: every image's leaves (the identity first), every image's key at the
        positions that can differ (none when no permutation changes a state), and the locals the
        keys read (``wJ``: an enum leaf's rank, ``uJ``: a slot or the padding), in order.
        The native search prints the same pieces as C."""
        n = self.width
        images = [[f"v{j}" for j in range(n)]] + [self._image(perm, ops, lengths) for perm, ops in group]
        keys = [self._key(image) for image in images]
        live = [q for q in range(len(keys[0])) if len({k[q] for k in keys}) > 1]
        if not live:
            return images, [], []
        live_keys = [[k[q] for q in live] for k in keys]
        names = sorted({m for k in live_keys for text in k for m in re.findall(r"\b[wu]\d+\b", text)},
                       key=lambda m: int(m[1:]))
        locals_ = [(name, f"{self._rank_table(int(name[1:]))}[v{name[1:]}]" if name[0] == "w"
                    else self._slot_text(int(name[1:]))) for name in names]
        images = [[re.sub(r"\bu(\d+)\b", lambda m: self._slot_text(int(m.group(1))), leaf) for leaf in image]
                  for image in images]
        return images, live_keys, locals_

    def _image(self, perm: Perm, ops: list[tuple], lengths: dict[str, int] | None) -> list[str]:
        """The leaves of the image under ``perm`` as expressions over ``v0 .. vN`` (``Canonicalizer.apply``)."""
        out: list[str] = []
        for (name, ftype, lo, hi), op in zip(self.layout.fields, ops):
            leaves = [f"v{j}" for j in range(lo, hi)]
            kind = op[0]
            if kind == "same":
                out += leaves
            elif kind == "index":
                assert isinstance(ftype, Tuple)
                w = width(ftype.elem)
                for src in op[1]:
                    block = leaves[src * w:(src + 1) * w]
                    out += [_renamed_scalar(ftype.elem, block[0], perm)] if op[2] and w == 1 else block
            elif isinstance(ftype, Tuple):
                if isinstance(ftype.elem, Int | Bool | Enum):
                    out += [_renamed_scalar(ftype.elem, v, perm) for v in leaves]
                else:
                    out += leaves
            elif isinstance(ftype, Seq):
                if isinstance(ftype.elem, Int):
                    length = None if lengths is None else lengths[name]
                    out.append(leaves[0])
                    out += [_renamed_slot(ftype.elem, v, perm, None if length is None else i < length)
                            for i, v in enumerate(leaves[1:])]
                else:
                    out += leaves
            else:
                out.append(_renamed_scalar(ftype, leaves[0], perm))
        return out

    def _key(self, image: list[str]) -> list[str]:
        """The comparison key of an image (see the module docstring, fact 4)."""
        out: list[str] = []
        for name, ftype, lo, hi in self.layout.fields:
            varying = name in self.canon.sym.indexed
            if varying:
                assert isinstance(ftype, Tuple)
                w = width(ftype.elem)
                for p in range(ftype.size):
                    out += _key_of(ftype.elem, image[lo + p * w:lo + (p + 1) * w], True)[0]
            else:
                out += _key_of(ftype, image[lo:hi], False)[0]
        return out

    def _slot(self, j: int) -> tuple[int, int, int]:
        """Leaf ``j`` as a slot of a top-level sequence of ints: its length's leaf, its place, the least int."""
        for _, ftype, lo, hi in self.layout.fields:
            if lo < j < hi and isinstance(ftype, Seq) and isinstance(ftype.elem, Int):
                return lo, j - lo - 1, ftype.elem.lo
        raise IndexError(j)

    def _slot_text(self, j: int) -> str:
        """Slot leaf ``j`` of a top-level sequence of ints, or ``lo - 1`` past the length (``uJ``)."""
        length, place, lo = self._slot(j)
        return f"(v{j} if v{length} > {place} else {lo - 1})"

    def _rank_table(self, j: int) -> str:
        ftype = self._leaf_type(j)
        assert isinstance(ftype, Enum)
        order = sorted(ftype.names)
        return "(" + ", ".join(str(order.index(name)) for name in ftype.names) + ",)"

    def _leaf_type(self, j: int) -> FieldType:
        for _, ftype, lo, hi in self.layout.fields:
            if lo <= j < hi:
                return _leaf_type_in(ftype, j - lo)
        raise IndexError(j)


def _leaf_type_in(ftype: FieldType, j: int) -> FieldType:
    if isinstance(ftype, Tuple):
        w = width(ftype.elem)
        return _leaf_type_in(ftype.elem, j % w)
    if isinstance(ftype, Seq):
        if j == 0:
            return Int(0, ftype.maxlen)
        return _leaf_type_in(ftype.elem, (j - 1) % width(ftype.elem))
    return ftype


def _value_table(ftype: Int, perm: Perm, extra: dict[int, int] | None = None) -> str | None:
    """The constant tuple ``T`` with ``T[v] == perm.get(v, v)`` over ``ftype``'s range and ``T[k] == extra[k]``
    (negative values index from the end), or None where ``perm`` moves no value of the range."""
    values = range(ftype.lo, ftype.hi + 1)
    if all(perm.get(v, v) == v for v in values):
        return None
    mapping = {v: perm.get(v, v) for v in values} | (extra or {})
    size = max(max(mapping) + 1, 0) + max(-min(mapping), 0)
    table: list[int] = [0] * size
    for v, image in mapping.items():
        table[v] = image
    return "(" + ", ".join(map(str, table)) + ",)"


def _renamed_scalar(ftype: FieldType, leaf: str, perm: Perm) -> str:
    """A renamed scalar: an int through ``perm``; anything else as it is (``perm.get`` keeps strings
    and tuples; bools reach here only when 0 and 1 are not ids)."""
    if isinstance(ftype, Int):
        table = _value_table(ftype, perm)
        return leaf if table is None else f"{table}[{leaf}]"
    return leaf


def _renamed_slot(elem: FieldType, leaf: str, perm: Perm, present: bool | None) -> str:
    """A slot of a renamed sequence: renamed below the length, the padding kept past it.

    ``present``: whether the slot is below the length (None: not known when generating).
    Where that is not known and ``perm`` moves the padding value, the slot is read as ``uJ``
    (computed once per call: the leaf, or ``lo - 1`` past the length), and the table maps
    ``lo - 1`` to the padding.
    """
    if not isinstance(elem, Int) or present is False:
        return leaf
    pad = elem.lo
    if present or perm.get(pad, pad) == pad:
        table = _value_table(elem, perm)
        return leaf if table is None else f"{table}[{leaf}]"
    return f"{_value_table(elem, perm, {pad - 1: pad})}[u{leaf[1:]}]"


def _key_of(ftype: FieldType, leaves: list[str], varying: bool) -> tuple[list[str], int | None]:
    """The key expressions of a value whose leaves are ``leaves``, and the least value its first
    key may take (None when it has no key). ``varying``: sequence lengths may differ between images.

    An enum leaf ``vJ`` (a leaf unchanged, or moved: enums are never renamed) reads as ``wJ``,
    its rank, computed once per call.
    """
    if isinstance(ftype, Bool):
        return [leaves[0]], 0
    if isinstance(ftype, Int):
        return [leaves[0]], ftype.lo
    if isinstance(ftype, Enum):
        leaf = leaves[0]
        if list(ftype.names) == sorted(ftype.names):
            return [leaf], 0
        assert re.fullmatch(r"v\d+", leaf), leaf
        return ["w" + leaf[1:]], 0
    if isinstance(ftype, Tuple):
        w = width(ftype.elem)
        out: list[str] = []
        least: int | None = None
        for p in range(ftype.size):
            keys, first = _key_of(ftype.elem, leaves[p * w:(p + 1) * w], varying)
            if not out:
                least = first
            out += keys
        return out, least
    if isinstance(ftype, Seq):
        w = width(ftype.elem)
        length = leaves[0]
        out = [] if varying else [length]
        for i in range(ftype.maxlen):
            keys, first = _key_of(ftype.elem, leaves[1 + i * w:1 + (i + 1) * w], varying)
            if not varying:
                out += keys
            elif not keys:
                out.append(f"(1 if {length} > {i} else 0)")
            else:
                assert first is not None
                shift = f" + {1 - first}" if first < 1 else f" - {first - 1}" if first > 1 else ""
                out.append(f"({keys[0]}{shift} if {length} > {i} else 0)")
                out += keys[1:]
        return out, 0
    raise TypeError(f"no flat encoding for {type(ftype).__name__}")


def _ready_texts(layout: FlatLayout, canon: Canonicalizer) -> list[str | None]:
    """Per grouped id, where ``ready`` holds as a Python expression over the leaves ``v0 .. vN``, or
    None where the symbolic engine cannot say (then the spec's own ``ready`` answers)."""
    import z3

    from ...symbolic.encode import new_solver
    from ...symbolic.layout import domain, leaves_of, make
    from ...symbolic.values import Oracle, SymBool, explore_paths

    xs = [leaf.var(0) for name, ftype, _, _ in layout.fields for leaf in leaves_of(name, ftype)]
    solver = new_solver(10000)
    solver.add(*[c for _, ftype, lo, hi in layout.fields for c in domain(ftype, xs[lo:hi])])
    oracle = Oracle(solver)
    leaf = {v.decl().name(): f"v{j}" for j, v in enumerate(xs)}
    memo: dict[int, Any] = {}
    ready = canon.sym.ready

    def state(ctx: Any) -> Any:
        return tuple.__new__(layout.state_class, [make(ctx, ftype, xs[lo:hi]) for _, ftype, lo, hi in layout.fields])

    out: list[str | None] = []
    for i in canon.ids:
        try:
            true_on = []
            for p in explore_paths(lambda ctx, i=i: ready(state(ctx), i), oracle):
                if p.outcome != "return" or not (p.value is True or p.value is False or isinstance(p.value, SymBool)):
                    raise Unsupported("ready() raises or returns a non-bool on some states")
                truth = p.value.expr if isinstance(p.value, SymBool) else z3.BoolVal(p.value)
                true_on.append(z3.And(p.formula, truth))
            holds = z3.simplify(z3.Or(*true_on)) if true_on else z3.BoolVal(False)
            out.append(python_expr(holds, leaf, memo))
        except Exception:  # anything the symbolic run or the translator cannot follow: ask ready() itself
            out.append(None)
    return out


def _build(source: str, name: str, env: dict[str, Any]) -> Callable[..., Any]:
    namespace: dict[str, Any] = dict(env)
    exec(compile(source, f"<flatsym {name}>", "exec"), namespace)
    return namespace[name]


class SymmetricFlat:
    """A compiled expander whose successors are their classes' representatives.

    What :class:`~modelcheck.explicit.interpreted.Expander` does with ``canonical``, over flat states:
    the generated successor function runs (and judges step properties on the concrete
    step), then each successor is replaced by ``canonical`` of it. Everything else
    (initial states, fingerprints, :meth:`finish`) is the wrapped expander's.
    """

    state_cls = tuple
    ample = None

    def __init__(self, flat: Any, canonical: Callable[[Flat], Flat]):
        self.flat = flat
        self.canonical = canonical
        self.layout, self.source = flat.layout, flat.source
        self.initial = [canonical(x) for x in flat.initial]
        self.fingerprint = flat.fingerprint
        self.finish = flat.finish

    def expand(self, x: Flat, successors: bool = True, full: bool = False) -> Any:
        bad, hit, ends, terminal, out = self.flat.expand(x, successors, full)
        if out:
            f = self.canonical
            out = [(k, f(t), sb) for k, t, sb in out]
        return bad, hit, ends, terminal, out
