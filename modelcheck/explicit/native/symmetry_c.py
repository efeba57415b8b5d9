"""The compiled mode's symmetry canonicalizer, printed as C for the native search.

The compiled mode maps every successor to its class's representative with generated Python
(:mod:`modelcheck.explicit.compiled.flat_symmetry`): a function per readiness vector (which
ids may be exchanged), built the first time a state with that vector is seen. C cannot
generate code as it goes, so this module prints all of them up front, one C function per
readiness vector (``2**ids`` of them, the group of each from
:meth:`~modelcheck.explicit.reductions.symmetry.Canonicalizer.group_of`), from the very
pieces the Python functions are made of (:meth:`group_parts`: each image's leaves, each
image's key at the positions that can differ, the locals those keys read). The C function
reads the sequence lengths where the Python one may specialize on them; both give the least
image by the same key, so the C search stores the same representatives, in the same order.

``mc_canonical(c, x)`` computes the readiness vector from the translated ``ready``
expressions, keeps the first state seen with each vector (Python checks it against the
spec's own ``ready`` after the search, as the compiled mode checks the first state of each
vector), and rewrites ``x`` in place into its representative. Where a ``ready`` is not
translated, or there are too many ids or images, :class:`~.c_source.NotC` says why and the
search runs as compiled Python.
"""

from __future__ import annotations

import ast
from typing import Any

from .c_source import NotC, expr

MAX_IDS = 10  # readiness vectors are bits of an unsigned; 2**10 functions at most
MAX_IMAGES = 20_000  # images over every readiness vector, at most (the C text grows with them)


def c_canonicalizer(canonical: Any) -> tuple[str, int]:
    """The C text of ``mc_canonical`` for the compiled mode's ``canonical`` (its ``owner`` holds
    the pieces), and the number of readiness vectors (``MC_READY``)."""
    owner = getattr(canonical, "owner", None)
    if owner is None:
        raise NotC("the canonicalizer is not the generated one")
    canon = owner.canon
    ids = canon.ids
    if len(ids) > MAX_IDS:
        raise NotC(f"{len(ids)} interchangeable ids; the native canonicalizer takes at most {MAX_IDS}")
    for text, i in zip(owner.ready_texts, ids):
        if text is None:
            raise NotC(f"ready() of id {i} is not translated from the spec's code")
    tables: dict[tuple[int, ...], str] = {}
    width = owner.width
    body: list[str] = []
    images = 0
    names: list[str] = []  # per readiness vector, the function that canonicalizes under it
    printed: dict[tuple[str, ...], str] = {}  # a function's body: its name
    for r in range(1 << len(ids)):
        ready = tuple(i for b, i in enumerate(ids) if r >> b & 1)
        leaves, keys, locals_ = owner.group_parts(canon.group_of(ready), None)
        images += len(leaves)
        if images > MAX_IMAGES:
            raise NotC(f"more than {MAX_IMAGES} images over the readiness vectors")
        # readiness vectors with the same group (ids that no permutation of the group moves
        # differ in readiness) get the same function: printed once, its C compiled once
        function = _function(r, width, leaves, keys, locals_, tables)
        same = printed.setdefault(tuple(function[1:]), f"mc_canon_{r}")
        names.append(same)
        if same == f"mc_canon_{r}":
            body += function
    ready_c = [expr(ast.parse(text, mode="eval").body, tables) for text in owner.ready_texts]
    head = ["/* symmetry: the representative of a state's class, per readiness vector */",
            "static inline int64_t mc_pyindex(int64_t i, int64_t n) { return i < 0 ? i + n : i; }",
            "static inline int mc_less(const int64_t *a, const int64_t *b, int n)", "{",
            "    for (int i = 0; i < n; i++)", "        if (a[i] != b[i])", "            return a[i] < b[i];",
            "    return 0;", "}"]
    head += [f"static const int64_t {name}[] = {{{', '.join(map(str, values))}}};" for values, name in tables.items()]
    tail = ["static void (*const mc_canon_of[])(int64_t *) = {" + ", ".join(names) + "};",
            "static void mc_canonical(unsigned char *ready_seen, int64_t (*ready_row)[MC_WIDTH], int64_t *x)", "{",
            *_locals(width),
            "    unsigned r = 0;"]
    tail += [f"    if ({text}) r |= {1 << b}u;" for b, text in enumerate(ready_c)]
    # the first state seen per readiness vector, kept by the context (or by a thread's part
    # of a level, merged in state order): held against the spec's ready() after the search
    tail += ["    if (!ready_seen[r]) {", "        ready_seen[r] = 1;",
             "        memcpy(ready_row[r], x, sizeof ready_row[r]);", "    }",
             "    mc_canon_of[r](x);", "}",
             "#define MC_CANONICAL(c, x) mc_canonical((c)->ready_seen, (c)->ready_row, x)"]
    return "\n".join([*head, *body, *tail]) + "\n", 1 << len(ids)


def _locals(width: int) -> list[str]:
    return ["    const int64_t " + ", ".join(f"v{j} = x[{j}]" for j in range(width)) + ";",
            "    (void)v0;"]


def _function(r: int, width: int, leaves: list[list[str]], keys: list[list[str]],
              locals_: list[tuple[str, str]], tables: dict[tuple[int, ...], str]) -> list[str]:
    """``mc_canon_<r>``: rewrite ``x`` into the least image (by key; the first least wins)."""
    out = [f"static void mc_canon_{r}(int64_t *x)", "{"]
    if not keys:
        return [*out, "    (void)x;", "}"]

    def c(text: str) -> str:
        return expr(ast.parse(text, mode="eval").body, tables)

    out += _locals(width)
    out += [f"    const int64_t {name} = {c(value)};" for name, value in locals_]
    n = len(keys[0])
    out.append(f"    const int64_t k[{len(keys)}][{n}] = {{"
               + ", ".join("{" + ", ".join(c(t) for t in key) + "}" for key in keys) + "};")
    out += ["    int i = 0;", f"    for (int j = 1; j < {len(keys)}; j++)",
            f"        if (mc_less(k[j], k[i], {n}))", "            i = j;", "    switch (i) {"]
    for i in range(1, len(leaves)):
        moved = [f"x[{j}] = {c(leaf)};" for j, leaf in enumerate(leaves[i]) if leaf != f"v{j}"]
        out.append(f"    case {i}: " + " ".join(moved) + " return;")
    out += ["    }", "}"]
    return out
