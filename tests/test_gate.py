"""The regression gate: silent on unchanged results, exact about a change, strict about unreadable files."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_results_support import write_matrix

from modelcheck.cli import main
from modelcheck.results import gate, store

FLAGS = ["--jobs", "1", "--no-progress"]


@pytest.fixture(scope="module")
def committed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(matrix, variant matrix, results written from the matrix)."""
    base = tmp_path_factory.mktemp("gate")
    matrix = write_matrix(base / "spec")
    variant = write_matrix(base / "variant", variant=True)
    out = base / "results"
    assert main(["run", "--matrix", str(matrix), "--output", str(out), *FLAGS]) == 0
    return matrix, variant, out


def test_gate_passes_on_fresh_results(committed: tuple[Path, Path, Path], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    matrix, _, out = committed
    junit = tmp_path / "junit.xml"
    assert main(["gate", "--matrix", str(matrix), "--results", str(out), "--junit", str(junit), *FLAGS]) == 0
    assert "no difference" in capsys.readouterr().out
    suite = ET.parse(junit).getroot()
    assert suite.get("failures") == "0" and int(suite.get("tests")) == 22  # 2 cases x 11 properties


def test_variant_is_reported_as_exactly_its_property(committed: tuple[Path, Path, Path], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    _, variant, out = committed
    junit = tmp_path / "junit.xml"
    assert main(["gate", "--matrix", str(variant), "--results", str(out), "--junit", str(junit), *FLAGS]) == 1
    printed = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("gate:")]
    assert printed == ["restart: restart_order: vanished counterexample: VIOLATED (2697 states, 12-step "
                       "counterexample) → HOLDS (2697 states)"]
    suite = ET.parse(junit).getroot()
    failed = [t for t in suite.iter("testcase") if t.find("failure") is not None]
    assert [(t.get("classname"), t.get("name")) for t in failed] == [("restart", "restart_order")]


def test_quick_compares_only_quick_cases(committed: tuple[Path, Path, Path],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    matrix, variant, out = committed
    assert main(["gate", "--quick", "--matrix", str(matrix), "--results", str(out), *FLAGS]) == 0
    assert "11 verdicts (1 quick cases)" in capsys.readouterr().out
    assert main(["gate", "--quick", "--matrix", str(variant), "--results", str(out), *FLAGS]) == 1


def test_update_rewrites_on_purpose(committed: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, variant, out = committed
    mine = tmp_path / "results"
    shutil.copytree(out, mine)
    assert main(["gate", "--update", "--matrix", str(variant), "--results", str(mine), *FLAGS]) == 0
    assert main(["gate", "--matrix", str(variant), "--results", str(mine), *FLAGS]) == 0
    assert not (mine / "traces/restart~restart_order.svg").exists()
    assert main(["gate", "--update", "--quick", "--matrix", str(variant), "--results", str(mine), *FLAGS]) == 2


@pytest.mark.parametrize(("content", "message"), [
    ("{\"format\": \"modelcheck-verdicts\", \"version\": 1, \"cases\": {", "corrupt"),
    ("[1, 2, 3]\n", "not a modelcheck verdicts file"),
    ("{\"format\": \"something-else\"}\n", "not a modelcheck verdicts file"),
    ("{\"format\": \"modelcheck-verdicts\", \"version\": 99}\n", "version 99"),
    ("{\"format\": \"modelcheck-verdicts\", \"version\": 1, \"cases\": {}, \"records\": [{}]}\n", "lacks"),
])
def test_unreadable_results_exit_2_with_path_and_fix(committed: tuple[Path, Path, Path], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str], content: str,
                                                     message: str) -> None:
    matrix, _, _ = committed
    (tmp_path / "verdicts.json").write_text(content)
    assert main(["gate", "--matrix", str(matrix), "--results", str(tmp_path), *FLAGS]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "verdicts.json") in err and message in err and "modelcheck run" in err


def test_missing_results_exit_2(committed: tuple[Path, Path, Path], tmp_path: Path) -> None:
    matrix, _, _ = committed
    assert main(["gate", "--matrix", str(matrix), "--results", str(tmp_path / "none"), *FLAGS]) == 2


def _record(**changes: object) -> dict:
    rec = {"case": "c", "property": "p", "kind": "always", "engine": "explicit", "verdict": "HOLDS", "bound": None,
           "states": 10, "transitions": 20, "depth": 3, "assumptions": [], "counterexample": None, "witness": None,
           "reason": "", "trace": None}
    rec.update(changes)
    return rec


def _doc(*records: dict) -> dict:
    return {"format": store.FORMAT, "version": store.VERSION, "cases": {"c": {"quick": True}}, "records": list(records)}


@pytest.mark.parametrize(("before", "after", "what"), [
    (_record(), _record(verdict="VIOLATED", counterexample=["a"]), "lost proof"),
    (_record(verdict="PROVED", engine="bmc"), _record(verdict="UNKNOWN", engine="bmc"), "lost proof"),
    (_record(verdict="VIOLATED", counterexample=["a"]), _record(), "vanished counterexample"),
    (_record(verdict="UNKNOWN"), _record(verdict="HOLDS up to bound"), "changed verdict"),
    (_record(), _record(states=11), "changed states"),
    (_record(verdict="VIOLATED", counterexample=["a"]), _record(verdict="VIOLATED", counterexample=["b"]),
     "changed counterexample"),
])
def test_each_kind_of_difference_is_named(before: dict, after: dict, what: str) -> None:
    found = gate.compare(_doc(before), _doc(after))
    assert [d.what for d in found] == [what]


def test_new_and_removed_records_are_differences() -> None:
    found = gate.compare(_doc(_record()), _doc(_record(property="q")))
    assert sorted(d.what for d in found) == ["new", "removed"]


def test_volatile_key_is_ignored() -> None:
    a, b = _doc(_record()), _doc(_record())
    a["run"], b["run"] = {"seconds": {"c": 1.0}}, {"seconds": {"c": 9.0}}
    assert gate.compare(a, b) == []
    assert json.dumps(store.stable(a)) == json.dumps(store.stable(b))
