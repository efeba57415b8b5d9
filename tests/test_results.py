"""results/: what `modelcheck run` writes, that it is deterministic, and that writing is all or nothing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_results_support import ROOT, SEED_CASE, write_matrix

from modelcheck.check import configure
from modelcheck.cli import main
from modelcheck.errors import ResultsError
from modelcheck.results import store, tree
from modelcheck.results.jsonrows import dumps_rows
from modelcheck.spec import compile_spec
from modelcheck.trace import replay, trace_from_json

SUFFIXES = (".txt", ".json", ".itf.json", ".svg")


def run_into(matrix: Path, out: Path) -> int:
    return main(["run", "--matrix", str(matrix), "--output", str(out), "--jobs", "1", "--no-progress"])


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("results")
    matrix = write_matrix(base / "matrix")
    out = base / "results"
    assert run_into(matrix, out) == 0
    return matrix, out


def test_layout_one_file_set_per_counterexample(written: tuple[Path, Path]) -> None:
    _, out = written
    doc = store.load(out / "verdicts.json")
    assert list(doc["cases"]) == ["restart", SEED_CASE]
    violated = [r for r in doc["records"] if r["counterexample"] is not None]
    assert {(r["case"], r["property"]) for r in violated} >= {("restart", "restart_order"), (SEED_CASE, "barrier")}
    expected = {"verdicts.json", "REPORT.md"}
    for r in violated:
        assert r["trace"] == f"traces/{r['case']}~{r['property']}"
        expected |= {r["trace"] + s for s in SUFFIXES}
    files = set(tree.read_tree(out))
    assert expected <= files
    assert {f for f in files if f.startswith("traces/")} == {f for f in expected if f.startswith("traces/")}
    assert f"graphs/{SEED_CASE}~barrier.dot" in files  # the smallest case with a counterexample, per group


def test_records_have_the_stable_fields_only(written: tuple[Path, Path]) -> None:
    doc = store.load(written[1] / "verdicts.json")
    for r in doc["records"]:
        assert set(r) == {*store.RECORD_FIELDS, *store.OPTIONAL_FIELDS}
    assert doc["format"] == store.FORMAT and doc["version"] == store.VERSION
    assert store.VOLATILE_KEY not in doc  # timings live in the git-ignored sidecar
    assert "seconds" in json.loads((written[1] / store.TIMINGS_FILE).read_text())
    assert all("seconds" not in r for r in doc["records"])


def test_no_absolute_path_reaches_results(written: tuple[Path, Path]) -> None:
    matrix, out = written
    for name, data in tree.read_tree(out).items():
        text = data.decode()
        if name == "verdicts.json":
            text = json.dumps(store.stable(json.loads(text)))
        assert str(matrix.parent) not in text, name
        assert str(ROOT) not in text, name


def test_rerun_under_another_hash_seed_is_identical(written: tuple[Path, Path], tmp_path: Path) -> None:
    matrix, out = written
    again = tmp_path / "again"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run([sys.executable, "-m", "modelcheck", "run", "--matrix", str(matrix), "--output", str(again),
                           "--jobs", "1"], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    first, second = tree.read_tree(out), tree.read_tree(again)
    assert set(first) == set(second)
    differ = {name for name in first if first[name] != second[name]}
    assert differ <= {store.TIMINGS_FILE}  # byte for byte, verdicts.json included
    ignored = subprocess.run(["git", "check-ignore", "-q", f"results/{store.TIMINGS_FILE}"], cwd=ROOT, check=False)
    assert ignored.returncode == 0  # so two runs leave `git status` clean


def test_files_and_directories_follow_the_umask(tmp_path: Path) -> None:
    from modelcheck.atomic import write_text

    old = os.umask(0o022)
    try:
        tree.write_tree(tmp_path / "results", {"verdicts.json": "{}\n", "traces/a.txt": "a\n"})
        write_text(tmp_path / "graph.dot", "digraph {}\n")
    finally:
        os.umask(old)
    assert (tmp_path / "results").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "results" / "traces").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "results" / "verdicts.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "graph.dot").stat().st_mode & 0o777 == 0o644


def test_itf_has_the_required_shape(written: tuple[Path, Path]) -> None:
    out = written[1]
    data = json.loads((out / f"traces/{SEED_CASE}~barrier.itf.json").read_text())
    assert data["#meta"]["format"] == "ITF"
    assert {"#meta", "vars", "states"} <= set(data)
    for i, state in enumerate(data["states"]):
        assert state["#meta"] == {"index": i}
        assert set(data["vars"]) == set(state) - {"#meta"}
    first = data["states"][0]
    assert first["submitted"] == {"#bigint": "0"}
    assert first["vm"] == "running"
    assert first["rq"] == []  # a sequence is a list
    assert set(first["observed"]) == {"#tup"}  # a fixed-size tuple is a #tup
    assert data["states"][-1]["mbt::actionTaken"] == "observe"
    assert data["states"][-1]["mbt::nondetPicks"] == {"r": {"#bigint": "1"}}


def test_trace_json_replays_and_text_reproduces(written: tuple[Path, Path]) -> None:
    out = written[1]
    doc = store.load(out / "verdicts.json")
    for rec in (r for r in doc["records"] if r["trace"]):
        data = json.loads((out / f"{rec['trace']}.json").read_text())
        compiled = compile_spec(configure(str(ROOT / "specs/virtio_blk.py"), doc["cases"][rec["case"]]["params"]))
        trace = trace_from_json(compiled, data)
        replay(compiled, trace)
        assert [compiled.show_step(st) for st, _ in trace.steps] == rec["counterexample"]
        text = (out / f"{rec['trace']}.txt").read_text()
        assert f"-p {rec['property']}" in text


def test_svg_is_well_formed_with_lanes_and_highlight(written: tuple[Path, Path]) -> None:
    out = written[1]
    for path in sorted((out / "traces").glob("*.svg")):
        root = ET.parse(path).getroot()
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
    text = (out / f"traces/{SEED_CASE}~barrier.svg").read_text()
    for lane in ("Guest", "Virtqueue", "Device", "Backend"):
        assert lane in text
    assert "parked on rq" in text and "ENOSPC" in text and "not durable: W0" in text
    assert 'stroke="#c62828" stroke-width="2.5"' in text  # the violating step's box


def test_report_links_to_existing_pictures(written: tuple[Path, Path]) -> None:
    out = written[1]
    report = (out / "REPORT.md").read_text()
    lines = report.splitlines()
    assert lines[2].startswith("## The question") and "## The answer" in report
    assert report.index("## The answer") < report.index("## Glossary") < report.index("## Grids")
    inline = [part.split(")")[0] for part in report.split("](")[1:]]
    references = [line.split(": ", 1)[1] for line in lines if re.match(r"^\[\d+\]: ", line)]
    assert references
    for link in inline + references:
        if link.startswith("#"):
            assert f'<a id="{link[1:]}"></a>' in report, link
        else:
            assert (out / link.replace("%20", " ")).is_file(), link
    assert all(len(line) <= 160 for line in lines if not re.match(r"^\[\d+\]: ", line))
    for prop in ("barrier", "restart_order", "flush_seen_while_write_parked"):
        assert f"- `{prop}` (" in report  # the glossary


def test_interrupt_before_the_swap_keeps_the_old_tree(written: tuple[Path, Path], tmp_path: Path) -> None:
    old = tmp_path / "results"
    tree.write_tree(old, {"verdicts.json": "old\n", "traces/a.txt": "a\n"})

    def interrupt(_: Path) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tree.write_tree(old, {"verdicts.json": "new\n"}, before_swap=interrupt)
    assert tree.read_tree(old) == {"verdicts.json": b"old\n", "traces/a.txt": b"a\n"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]  # no temporary directory left


def test_run_interrupted_says_so_and_keeps_results(written: tuple[Path, Path], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    matrix, out = written
    before = tree.read_tree(out)

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(tree, "data_files", interrupted)
    assert run_into(matrix, out) == 130
    assert "left as it was" in capsys.readouterr().err
    assert tree.read_tree(out) == before


def test_files_of_other_tools_survive_a_rewrite(tmp_path: Path) -> None:
    (tmp_path / "conformance.json").write_text("{}\n")
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench/bench.md").write_text("# bench\n")
    tree.write_tree(tmp_path, {"verdicts.json": "1\n", "traces/a.txt": "a\n"})
    tree.write_tree(tmp_path, {"verdicts.json": "2\n"})
    assert tree.read_tree(tmp_path) == {"verdicts.json": b"2\n", "conformance.json": b"{}\n",
                                        "bench/bench.md": b"# bench\n"}


def test_refuses_to_replace_traces_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "traces").mkdir()
    (tmp_path / "traces/notes.txt").write_text("mine")
    with pytest.raises(ResultsError):
        tree.write_tree(tmp_path, {"verdicts.json": "{}\n"})
    assert (tmp_path / "traces/notes.txt").read_text() == "mine"


def test_rows_json_parses_back() -> None:
    doc = {"z": [{"b": [1, 2], "a": "é"}], "a": {"k": {"x": None}}, "e": []}
    assert json.loads(dumps_rows(doc, ("z", "a", "e"))) == doc


def test_graph_states_are_labelled_and_show_their_fields_on_hover(written: tuple[Path, Path]) -> None:
    out = written[1]
    dots = sorted((out / "graphs").glob("*.dot"))
    assert dots
    text = dots[0].read_text()
    assert '0 [label="0", tooltip="state 0: vm=running' in text
    pictures = sorted((out / "graphs").glob("*.svg"))
    if pictures:  # Graphviz installed
        assert 'xlink:title="state 0: vm=running' in pictures[0].read_text()
