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
import re
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
        function = _function(width, leaves, keys, locals_, tables)  # named @R@ until printed
        same = printed.setdefault(tuple(function), f"mc_canon_{r}")
        names.append(same)
        if same == f"mc_canon_{r}":
            body += [line.replace("@R@", str(r)) for line in function]
    ready_c = [expr(ast.parse(text, mode="eval").body, tables) for text in owner.ready_texts]
    head = ["/* symmetry: the representative of a state's class, per readiness vector */"]
    head += [f"static const int64_t {name}[] = {{{', '.join(map(str, values + values))}}};"
             for values, name in tables.items()]
    tail = ["static void (*const mc_canon_of[])(mc_cell *) = {" + ", ".join(names) + "};",
            "static inline __attribute__((always_inline)) unsigned mc_readiness(const mc_cell *x)", "{",
            *_locals(width),
            "    unsigned r = 0;"]
    tail += [f"    if ({text}) r |= {1 << b}u;" for b, text in enumerate(ready_c)]
    tail += ["    return r;", "}",
             "void mc_canonical(unsigned char *ready_seen, int64_t (*ready_row)[MC_WIDTH], mc_cell *x)", "{",
             "    unsigned r = mc_readiness(x);"]
    # the first state seen per readiness vector, kept by the context (or by a thread's part
    # of a level, merged in state order): held against the spec's ready() after the search
    tail += ["    if (!ready_seen[r]) {", "        ready_seen[r] = 1;",
             "        for (int l = 0; l < MC_WIDTH; l++)", "            ready_row[r][l] = x[l];", "    }",
             "    mc_canon_of[r](x);", "}",
             "void mc_canonical_cells(mc_cell *x)", "{", "    mc_canon_of[mc_readiness(x)](x);", "}"]
    return "\n".join([*head, *body, *tail]) + "\n", 1 << len(ids)


def _locals(width: int) -> list[str]:
    return ["    const int64_t " + ", ".join(f"v{j} = x[{j}]" for j in range(width)) + ";",
            "    (void)v0;"]


def _function(width: int, leaves: list[list[str]], keys: list[list[str]],
              locals_: list[tuple[str, str]], tables: dict[tuple[int, ...], str]) -> list[str]:
    """``mc_canon_@R@``: rewrite ``x`` into the least image by key, the first least winning (as
    Python's ``min`` and the compiled mode's ``<`` chain choose).

    Keys are compared lazily, position by position, and computed only as far as a comparison
    reaches: most images differ from the least so far at one of the first positions, so a call
    costs a few comparisons per image instead of every key in full. While the identity is the
    least (the usual case: a representative's successors are often representatives) each image
    is compared with the identity's key expressions, which read ``x`` directly; once an image
    beats it, that image's key is written to ``b`` (from the position where it won on, the
    positions before being equal), and the images after it are compared with ``b``. The winner's
    leaves are written last, from a copy of the old ones.
    """
    out = ["static void mc_canon_@R@(mc_cell *x)", "{"]
    if not keys:
        return [*out, "    (void)x;", "}"]
    # the winner's leaves are written by a function of their own, so that the comparisons
    # keep none of the leaves they read alive for it (at -O1 GCC would, spilling them)
    apply = ["static __attribute__((noinline)) void mc_apply_@R@(mc_cell *x, int i)", "{",
             *_locals(width), "    switch (i) {"]
    for i in range(1, len(leaves)):
        moved = [f"x[{j}] = {expr(ast.parse(leaf, mode='eval').body, tables)};"
                 for j, leaf in enumerate(leaves[i]) if leaf != f"v{j}"]
        apply.append(f"    case {i}: " + " ".join(moved) + " return;")
    apply += ["    }", "}"]
    out = [*apply, *out]
    spelled = {name: f"({value})" for name, value in locals_}

    def c(text: str) -> str:  # a key's C text: the locals spelled out, the leaves read from x
        text = re.sub(r"\b[wu]\d+\b", lambda m: spelled[m.group(0)], text)
        return re.sub(r"\bv(\d+)\b", r"x[\1]", expr(ast.parse(text, mode="eval").body, tables))

    n, last = len(keys[0]), len(keys) - 1
    k = [[c(text) for text in key] for key in keys]
    out += ["    int64_t t, s;", *([f"    int64_t b[{n}];"] if last > 1 else []), "    int i;"]
    # while the identity (image 0) is the least: image j against it, a win going to fill<j>
    # (a position is reached only when the ones before are equal: one that compares a pair of
    # expressions compared before, either way round, is equal too and left out)
    for j in range(1, last + 1):
        out.append(f"    /* image {j} against the identity */")
        equal: set[frozenset[str]] = set()
        for q in range(n):
            pair = frozenset((k[j][q], k[0][q]))
            if len(pair) > 1 and pair not in equal:
                equal.add(pair)
                out.append(f"    if ((t = {k[j][q]}) != (s = {k[0][q]})) "
                           f"{{ if (t < s) goto fill{j}; goto id{j + 1}; }}")
        out.append(f"id{j + 1}:;")
    out.append("    return;")
    # image j won: its key into b (fill<j>, or fill<j>_<q> when it won at q against b), then the
    # images after it against b (vs<j>); the last image's win needs no key
    for j in range(1, last + 1):
        if j == last:
            out += [f"fill{j}:", f"    i = {j};"]
            break
        out.append(f"fill{j}:")
        out += [f"fill{j}_{q}: b[{q}] = {k[j][q]};" for q in range(n)]
        out += [f"fill{j}_{n}: i = {j};", f"vs{j + 1}:"]
        for q in range(n):
            win = f"b[{q}] = t; goto fill{j + 1}_{q + 1};" if j + 1 < last else f"goto fill{j + 1};"
            out.append(f"    if ((t = {k[j + 1][q]}) != b[{q}]) {{ if (t < b[{q}]) {{ {win} }} goto vs{j + 2}; }}")
        out.append(f"    goto vs{j + 2};")
    if last > 1:
        out.append(f"vs{last + 1}:;")
    out += ["    mc_apply_@R@(x, i);", "}"]
    return out
