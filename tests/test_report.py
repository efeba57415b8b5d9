"""REPORT.md's words: causes read from steps, cells described in words, the answer decided by verdicts."""

from __future__ import annotations

from typing import Any

import pytest
from test_results_support import VIRTIO

from modelcheck.loader import load_spec_class
from modelcheck.results import answer, report
from modelcheck.results.blocks import MAX_LINE, Bullets, Link, Para, Table, to_markdown
from modelcheck.views import DEFAULT, views_of

VIEWS = views_of(load_spec_class(str(VIRTIO)))

PARKED_FLUSH = ("submit W0 ; fetch W0 ; execute W0 ok ; complete W0 ; observe W0 ; submit F1 ; fetch F1 ; "
                "execute F1 eio ; complete F1 ; stop ; settle ; resume ; restart")

# Counterexamples as the search finds them (committed results/), with the cause each shows.
CAUSES = [
    ("barrier", "submit W0 ; submit F1 ; fetch W0 ; fetch F1 ; execute F1 ok ; complete F1 ; observe F1",
     {"werror": "stop"}, "R"),
    ("barrier", "submit W0 ; submit F1 ; fetch W0 ; fetch F1 ; execute W0 nospc ; complete W0 ; execute F1 ok ; "
     "complete F1 ; observe F1", {"werror": "stop"}, "P"),
    ("barrier", "submit W0 ; fetch W0 ; execute W0 nospc ; complete W0 ; observe W0 ; submit F1 ; fetch F1 ; "
     "execute F1 ok ; complete F1 ; observe F1", {"werror": "ignore"}, "L"),
    ("barrier", "submit W0 ; fetch W0 ; execute W0 ok ; complete W0 ; observe W0 ; submit F1 ; fetch F1 ; "
     "execute F1 eio ; complete F1 ; observe F1", {"werror": "ignore"}, "F"),
    ("barrier_order", "submit W0 ; submit F1 ; fetch W0 ; execute W0 ok ; complete W0 ; observe W0 ; submit W1 ; "
     "fetch F1 ; fetch W1 ; execute W1 ok ; writeback s1", {"werror": "stop"}, "E"),
    ("restart_order", "submit W0 ; submit W1 ; fetch W0 ; fetch W1 ; execute W0 nospc ; complete W0 ; "
     "execute W1 nospc ; complete W1 ; resume ; restart", {"werror": "stop"}, "O"),
    ("flush_contract", f"{PARKED_FLUSH} ; execute F1 ok ; complete F1 ; observe F1",
     {"werror": "stop", "flush_error": "lossy"}, "D"),
    ("progress", f"{PARKED_FLUSH} ; execute F1 eio", {"werror": "stop", "flush_error": "sticky"}, "S"),
]


@pytest.mark.parametrize(("prop", "steps", "params", "letter"), CAUSES)
def test_cause_is_read_from_the_steps(prop: str, steps: str, params: dict[str, str], letter: str) -> None:
    assert VIEWS.cause(prop, steps.split(" ; "), params) == letter
    assert letter in VIEWS.causes


def test_a_spec_without_views_gets_the_defaults() -> None:
    assert DEFAULT.cause("p", ["a"], {}) == ""
    assert not DEFAULT.axes


@pytest.mark.parametrize(("cells", "words"), [
    ({("a", "x"), ("b", "x"), ("c", "x"), ("a", "y"), ("b", "y"), ("c", "y")}, "on every p"),
    ({("a", "x"), ("b", "x"), ("c", "x")}, "on every p under w=x"),
    ({("a", "x"), ("b", "x"), ("a", "y"), ("b", "y"), ("c", "y")}, "on every p but c and on c under w=y"),
    ({("a", "y")}, "on a under w=y"),
])
def test_describe_cells_in_words(cells: set[tuple[str, str]], words: str) -> None:
    assert answer.describe(cells, ["a", "b", "c"], ["x", "y"], "p", "w") == words


def _doc(verdicts: dict[tuple[str, str, str], str]) -> dict[str, Any]:
    """A verdicts document with one case per (guest, profile, werror) and one barrier record each."""
    cases, records = {}, []
    for (guest, profile, werror), verdict in verdicts.items():
        name = f"c~{guest}~{profile}~{werror}"
        cases[name] = {"group": "g", "params": {"guest": guest, "profile": profile, "werror": werror,
                                                "order": "any", "evict": "on"}}
        steps = ["submit W0", "submit F1", "fetch W0", "fetch F1", "execute F1 ok", "complete F1", "observe F1"]
        violated = verdict == "VIOLATED"
        records.append({"case": name, "property": "barrier", "kind": "always", "engine": "explicit",
                        "verdict": verdict, "states": 1, "counterexample": steps if violated else None,
                        "trace": f"traces/{name}~barrier" if violated else None, "assumptions": []})
    return {"matrix": "m.toml", "cases": cases, "records": records}


def _words(doc: dict[str, Any]) -> list[str]:
    best = {(r["case"], r["property"]): r for r in doc["records"]}
    return ["".join(p.text if isinstance(p, Link) else p for p in s) for s in answer.answer(doc, VIEWS, best, {})]


def test_the_answer_follows_the_verdicts() -> None:
    grid = {(g, p, w): "HOLDS" for g in ("drain", "nodrain") for p in ("qemu-7.2", "fifo", "ordered-flush")
            for w in ("stop", "ignore")}
    drain, nodrain = _words(_doc(grid))
    assert drain.startswith("A guest that drains") and "keeps its barrier on every profile (" in drain
    assert "loses" not in drain
    for profile in ("qemu-7.2", "fifo"):
        for werror in ("stop", "ignore"):
            grid[("nodrain", profile, werror)] = "VIOLATED"
    drain, nodrain = _words(_doc(grid))
    assert "loses" not in drain
    assert "keeps its barrier on ordered-flush" in nodrain
    assert "loses it on every profile but ordered-flush, through host reordering alone (shortest: 7 steps)" in nodrain


def test_markdown_lines_fit_a_screen_and_links_become_references() -> None:
    long = "traces/" + "x" * 150 + ".svg"
    text = to_markdown([Para(["word " * 80, Link("7 steps", long)]), Bullets([["a " * 100]]),
                        Table(["h"], [[[Link("✗", long)]]])])
    lines = text.splitlines()
    assert all(len(line) <= MAX_LINE for line in lines if not line.startswith("["))
    assert f"[1]: {long}" in lines and lines.count(f"[1]: {long}") == 1  # one definition, used twice
    assert "[7 steps][1]" in text and "[✗][1]" in text


def test_witnesses_read_reached_or_not_reached() -> None:
    assert report.witness_word("HOLDS") == "REACHED"
    assert report.witness_word("VIOLATED") == "NOT REACHED"
    rec = {"kind": "sometimes", "verdict": "VIOLATED"}
    assert report.mark(rec) == ["○"]


def test_abbreviations_are_distinct() -> None:
    short = report.abbreviations(["completion", "conservation", "barrier", "barrier_order", "b"])
    assert len(set(short.values())) == len(short)


def test_views_named_wrong_are_a_spec_error_naming_the_fix(tmp_path) -> None:
    from modelcheck.errors import SpecError

    spec = tmp_path / "tiny.py"
    spec.write_text("from modelcheck import Spec\n\nclass Tiny(Spec):\n    VIEWS = 'missing_views.py'\n")
    cls = load_spec_class(str(spec))
    with pytest.raises(SpecError, match=r"Tiny\.VIEWS names 'missing_views\.py'"):
        views_of(cls)
    (tmp_path / "missing_views.py").write_text("VIEWS = 3\n")
    with pytest.raises(SpecError, match=r"defines no VIEWS = Views\("):
        views_of(cls)


def test_a_subclass_in_another_directory_keeps_its_bases_views(tmp_path) -> None:
    variant = tmp_path / "variant.py"
    variant.write_text(f"from modelcheck.loader import load_spec_class\nBase = load_spec_class({str(VIRTIO)!r})\n\n"
                       "class Variant(Base):\n    '''A variant.'''\n\nSPEC = Variant\n")
    assert views_of(load_spec_class(str(variant))) is VIEWS


def test_the_refuted_flush_error_cases_are_explained_for_an_operator() -> None:
    """A row per refuted case the views explain, with each violated property's shortest counterexample."""
    params = {"guest": "drain", "profile": "qemu-7.2", "werror": "stop", "order": "any", "evict": "on"}
    cases, records = {}, []
    for flush_error, prop, steps in [("lossy", "flush_contract", 16), ("sticky", "progress", 14),
                                     ("transient", "barrier", 7)]:
        name = f"c~{flush_error}"
        cases[name] = {"group": "g", "params": {**params, "flush_error": flush_error}}
        records.append({"case": name, "property": prop, "kind": "always", "engine": "explicit",
                        "verdict": "VIOLATED", "states": 1, "counterexample": ["submit W0"] * steps,
                        "trace": f"traces/{name}~{prop}", "assumptions": []})
    doc = {"matrix": "m.toml", "cases": cases, "records": records}
    text = report.render(doc, views=VIEWS)
    section = text[text.index("What the refuted cases mean"):]
    section = section[:section.index("## Every case")]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "steps" in line]
    assert [row.split(" | ")[0] for row in rows] == ["| lossy", "| sticky"]  # transient: nothing to explain
    assert "16 steps" in rows[0] and "they are lost" in rows[0]
    assert "14 steps" in rows[1] and "forever" in rows[1]
    assert VIEWS.meaning({"flush_error": "lossy", "werror": "report"}, {}) == ""
