"""Every argument is checked before any work: paths, numeric ranges, --where keys; process counts are capped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_results_support import VIRTIO, write_matrix

import modelcheck.matrix as matrix_mod
from modelcheck.cli import main

SPEC = str(VIRTIO)


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any search or matrix run fails the test: the command had to stop before."""
    def work(*args: object, **kwargs: object) -> None:
        raise AssertionError("work started before the arguments were checked")

    monkeypatch.setattr(matrix_mod, "run_cases", work)
    monkeypatch.setattr("modelcheck.cli.check", work)


@pytest.mark.parametrize("argv", [
    ["prove", SPEC, "--depth", "-3"], ["prove", SPEC, "--max-k", "0"], ["prove", SPEC, "--timeout", "0"],
    ["prove", SPEC, "--timeout", "nan"], ["check", SPEC, "--workers", "0"], ["matrix", "--jobs", "-1"],
    ["run", "--jobs", "0"],
])
def test_numbers_out_of_range_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    assert "error: argument" in capsys.readouterr().err


def test_unusable_outputs_fail_before_any_work(tmp_path: Path, no_work: None,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    matrix = write_matrix(tmp_path / "m")
    a_file = tmp_path / "file.txt"
    a_file.write_text("x\n")
    assert main(["run", "--matrix", str(matrix), "--output", str(a_file)]) == 2
    assert "choose another --output" in capsys.readouterr().err
    assert main(["check", SPEC, "--json", str(tmp_path)]) == 2  # a directory
    assert main(["graph", SPEC, "--format", "graphml"]) == 2
    assert main(["gate", "--matrix", str(matrix), "--results", str(tmp_path), "--junit", str(a_file / "x.xml")]) == 2


def test_where_names_a_parameter_and_a_value_of_the_matrix(tmp_path: Path, no_work: None,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    matrix = str(write_matrix(tmp_path / "m"))
    assert main(["matrix", matrix, "--where", "profle=qemu-7.2"]) == 2
    err = capsys.readouterr().err
    assert "'profle' is not a parameter" in err and "profile" in err
    assert main(["matrix", matrix, "--where", "profile=qemu-72"]) == 2
    assert "its values here: qemu-2010, qemu-7.2" in capsys.readouterr().err


def test_workers_above_the_core_count_are_capped_with_a_note(capsys: pytest.CaptureFixture[str]) -> None:
    cores = os.cpu_count() or 1
    assert main(["check", SPEC, "--set", "workload=W0 F", "--workers", str(cores + 998), "-q"]) == 0
    assert f"using {cores}" in capsys.readouterr().err
