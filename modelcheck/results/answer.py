"""The answer in words: one sentence per value of the spec's sentence axis and headline property, decided by the verdicts.

Nothing here is written by hand about a particular system: the subjects, the verbs
and the names of causes come from the spec's views (:mod:`modelcheck.views`), which
cells hold or fail comes from the verdicts, and the cause of each counterexample from
the views' reading of its steps. A sentence says where the property holds (linked to
a z3 proof when there is one, else to its grid), where it fails and through which
causes, each cause linked to its shortest counterexample.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..views import Sentence, Views
from .blocks import Inline, Link

HOLDING = ("HOLDS", "PROVED")

Record = Mapping[str, Any]


def ordered(items: Iterable[Any]) -> list[Any]:
    """Distinct items in first-seen order."""
    out: list[Any] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def causes(doc: Mapping[str, Any], views: Views) -> dict[tuple[str, str], str]:
    """Per (case, property) with a counterexample, the letter of its cause ('' when the views cannot tell)."""
    out: dict[tuple[str, str], str] = {}
    for rec in doc["records"]:
        steps = rec.get("counterexample")
        if rec["verdict"] == "VIOLATED" and steps and (rec["case"], rec["property"]) not in out:
            out[(rec["case"], rec["property"])] = views.cause(rec["property"], steps, doc["cases"][rec["case"]]["params"])
    return out


def has_axes(doc: Mapping[str, Any], views: Views) -> bool:
    """Whether every case sets the views' three axes (else there is no grid and no answer)."""
    return bool(views.axes) and all(all(a in c["params"] for a in views.axes) for c in doc["cases"].values())


def answer(doc: Mapping[str, Any], views: Views, best: Mapping[tuple[str, str], Record],
           proof_anchor: Mapping[int, str]) -> list[list[Inline]]:
    """The answer's sentences, each a list of inline parts.

    ``best`` is the deciding record per (case, property); ``proof_anchor`` maps the index
    of a z3 record in ``doc["records"]`` to the anchor of its row in the proofs table.
    """
    if not has_axes(doc, views):
        return []
    sentence_axis = views.axes[0]
    found = causes(doc, views)
    props = ordered(r["property"] for r in doc["records"])
    out = []
    for prop in [p for p in views.headline if p in props]:
        for value in ordered(c["params"][sentence_axis] for c in doc["cases"].values()):
            parts = _sentence(doc, views, best, found, prop, value, proof_anchor)
            if parts:
                out.append(parts)
    return out


def _sentence(doc: Mapping[str, Any], views: Views, best: Mapping[tuple[str, str], Record],
              found: Mapping[tuple[str, str], str], prop: str, value: Any,
              proof_anchor: Mapping[int, str]) -> list[Inline]:
    axis, row_axis, col_axis = views.axes
    scope = [n for n, c in doc["cases"].items() if c["params"][axis] == value and (n, prop) in best]
    if not scope:
        return []
    cells: dict[tuple[Any, Any], list[str]] = {}
    for name in scope:
        params = doc["cases"][name]["params"]
        cells.setdefault((params[row_axis], params[col_axis]), []).append(name)
    rows = ordered(k[0] for k in cells)
    cols = ordered(k[1] for k in cells)
    verdicts = {k: [best[(n, prop)]["verdict"] for n in names] for k, names in cells.items()}
    violated = {k for k, v in verdicts.items() if "VIOLATED" in v}
    holding = {k for k, v in verdicts.items() if all(x in HOLDING for x in v)}
    other = set(cells) - violated - holding
    words = views.sentences.get((value, prop)) or Sentence(f"With `{axis}={value}`")
    parts: list[Inline] = [words.subject + " "]
    if holding:
        parts.append(words.keeps.format(prop=prop) + " " + describe(holding, rows, cols, row_axis, col_axis) + " (")
        parts.append(Link("every reachable state checked", f"#grid-{prop}", f"the grid of {prop}"))
        proofs = [i for i, r in enumerate(doc["records"]) if r["property"] == prop and r["verdict"] == "PROVED"
                  and doc["cases"][r["case"]]["params"][axis] == value and i in proof_anchor]
        if proofs:
            parts += ["; ", Link("proved by z3 for executions of any length", f"#{proof_anchor[proofs[0]]}",
                                 doc["records"][proofs[0]]["case"])]
        parts.append(")")
    if violated:
        parts.append("; " if holding else "")
        verb = words.loses if holding else (words.loses_alone or words.loses)
        parts.append(verb.format(prop=prop) + " " + describe(violated, rows, cols, row_axis, col_axis) + ", ")
        parts += _through(doc, views, found, prop, [n for k in sorted(violated, key=str) for n in cells[k]
                                                   if best[(n, prop)]["verdict"] == "VIOLATED"])
    if other:
        parts.append("; " if holding or violated else "")
        parts.append("is undecided (a bound was hit, or unknown) " + describe(other, rows, cols, row_axis, col_axis))
    parts.append(".")
    return parts


def _through(doc: Mapping[str, Any], views: Views, found: Mapping[tuple[str, str], str], prop: str,
             violated_cases: Sequence[str]) -> list[Inline]:
    """'through host reordering alone (order=any; shortest: 7 steps), ...' with each count linked."""
    by_cause: dict[str, list[str]] = {}
    for name in violated_cases:
        by_cause.setdefault(found.get((name, prop), ""), []).append(name)
    parts: list[Inline] = []
    order = [c for c in views.causes if c in by_cause] + [c for c in by_cause if c not in views.causes]
    for n, letter in enumerate(order):
        names = by_cause[letter]
        shortest = min((r for r in doc["records"] if r["property"] == prop and r["case"] in names
                        and r["verdict"] == "VIOLATED" and r["trace"]),
                       key=lambda r: (len(r["counterexample"]), r["case"]), default=None)
        others = [c for other, cs in by_cause.items() if other != letter for c in cs]
        settings = distinguishing(doc, views, names, others)
        name = views.cause_names.get(letter) or (f"cause {letter}" if letter else "a cause the views do not name")
        parts.append((", and " if n == len(order) - 1 and n else ", " if n else "") + f"through {name} (")
        if settings:
            parts.append(", ".join(settings) + "; ")
        if shortest is not None:
            parts += ["shortest: ", Link(f"{len(shortest['counterexample'])} steps", shortest["trace"] + ".svg",
                                         f"{name}, in {shortest['case']}")]
        else:
            parts.append(f"{len(names)} cases")
        parts.append(")")
    return parts


def distinguishing(doc: Mapping[str, Any], views: Views, names: Sequence[str], others: Sequence[str]) -> list[str]:
    """The settings of ``views.explain`` that all of ``names`` share and no case of ``others`` has."""
    out = []
    for key in views.explain:
        mine = ordered(str(doc["cases"][n]["params"].get(key)) for n in names)
        theirs = {str(doc["cases"][n]["params"].get(key)) for n in others}
        if len(mine) == 1 and others and mine[0] not in theirs:
            out.append(f"{key}={mine[0]}")
    return out


def describe(cells: set[tuple[Any, Any]], rows: Sequence[Any], cols: Sequence[Any], row_axis: str,
             col_axis: str) -> str:
    """A set of (row, column) cells in words: 'on every profile but ordered-flush under werror=ignore'."""
    by_col = _rectangles(cells, rows, cols, lambda r, c: (r, c))
    by_row = [(rs, cs) for cs, rs in _rectangles({(c, r) for r, c in cells}, cols, rows, lambda c, r: (c, r))]
    rects = by_row if len(by_row) <= len(by_col) else by_col
    return " and ".join(f"{_set_words(rs, rows, row_axis, 'on')}{_cols_words(cs, cols, col_axis)}"
                        for rs, cs in rects)


def _rectangles(cells: set[tuple[Any, Any]], rows: Sequence[Any], cols: Sequence[Any],
                key: Any) -> list[tuple[list[Any], list[Any]]]:
    """Cells grouped into (rows, columns) rectangles: columns with the same set of rows go together."""
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for c in cols:
        rs = tuple(r for r in rows if key(r, c) in cells)
        if rs:
            groups.setdefault(rs, []).append(c)
    return [(list(rs), cs) for rs, cs in groups.items()]


def _set_words(chosen: Sequence[Any], every: Sequence[Any], axis: str, prep: str) -> str:
    if list(chosen) == list(every):
        return f"{prep} every {axis}"
    missing = [x for x in every if x not in chosen]
    if len(missing) <= 2 and len(chosen) > len(missing):
        return f"{prep} every {axis} but {_join(missing, 'and')}"
    return f"{prep} {_join(chosen, 'and')}"


def _cols_words(chosen: Sequence[Any], every: Sequence[Any], axis: str) -> str:
    if len(every) == 1:
        return ""
    if list(chosen) == list(every):
        return ""
    missing = [x for x in every if x not in chosen]
    if len(missing) == 1 and len(chosen) > 1:
        return f" under every {axis} but {axis}={missing[0]}"
    return f" under {axis}={_join(chosen, 'or')}"


def _join(items: Sequence[Any], word: str) -> str:
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" {word} " + items[-1]
