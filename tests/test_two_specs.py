"""One matrix, two specs: grids name their spec, results/ gets a part per spec, the gate guards both."""

from __future__ import annotations

import copy
import re

import pytest
from conftest import ROOT

from modelcheck.errors import UsageError
from modelcheck.matrix import load_matrix
from modelcheck.results import gate
from modelcheck.results.cli import compute

SPECS = ROOT / "specs"

MATRIX = f'''spec = "{SPECS / "virtio_blk.py"}"

[defaults]
workload = "W0 F"
qdepth = 1
guest = "drain"
profile = "qemu-7.2"
migrations = 0

[defaults."{SPECS / "nvme.py"}"]
workload = "W0 F"
guest = "waits"
profile = "qemu"

[[grid]]
name = "virtio"
profile = ["qemu-2010", "qemu-7.2"]

[[grid]]
name = "nvme"
spec = "{SPECS / "nvme.py"}"
profile = ["qemu", "flush-not-sent"]
'''


@pytest.fixture
def matrix(tmp_path):
    path = tmp_path / "matrix.toml"
    path.write_text(MATRIX, encoding="utf-8")
    return path


def test_a_grid_names_its_spec_and_takes_that_specs_defaults(matrix):
    cases = load_matrix(matrix).cases
    assert [(c.group, c.spec.rsplit("/", 1)[1]) for c in cases] == [
        ("virtio", "virtio_blk.py"), ("virtio", "virtio_blk.py"), ("nvme", "nvme.py"), ("nvme", "nvme.py")]
    nvme = cases[2].params
    assert nvme["guest"] == "waits" and "migrations" not in nvme


def test_the_main_specs_defaults_do_not_leak_into_another_spec(tmp_path):
    path = tmp_path / "matrix.toml"
    path.write_text(MATRIX.replace(f'[defaults."{SPECS / "nvme.py"}"]', "[unused]"), encoding="utf-8")
    cases = load_matrix(path).cases
    assert "guest" not in cases[2].params  # nvme's own default applies


def test_a_defaults_entry_for_a_spec_that_is_no_table_is_an_error_naming_it(tmp_path):
    path = tmp_path / "matrix.toml"
    text = MATRIX.replace(f'[defaults."{SPECS / "nvme.py"}"]\nworkload = "W0 F"\nguest = "waits"\nprofile = "qemu"\n',
                          "")
    text = text.replace("migrations = 0\n", f'migrations = 0\n"{SPECS / "nvme.py"}" = 3\n')
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=r"nvme\.py"):
        load_matrix(path)


def test_results_have_a_part_per_spec_with_anchors_of_their_own(matrix):
    _, files = compute(str(matrix), jobs=1, with_files=True)
    report = files["REPORT.md"]
    assert "## VirtioBlk (" in report and "## Nvme (" in report
    anchors = re.findall(r'<a id="([^"]+)"></a>', report)
    assert len(anchors) == len(set(anchors))
    assert "virtioblk-grid-flush_contract" in anchors and "nvme-grid-flush_contract" in anchors
    for target in re.findall(r"\]\(#([^)]+)\)", report):
        assert target in anchors
    assert any(p.startswith("traces/nvme~profile=flush-not-sent~flush_contract") for p in files)
    assert "Block layer and medium" in files["traces/nvme~profile=flush-not-sent~flush_contract.svg"]


def test_the_gate_guards_both_specs(matrix):
    doc, _ = compute(str(matrix), jobs=1)
    assert gate.compare(doc, doc) == []
    broken = copy.deepcopy(doc)
    for rec in broken["records"]:
        if rec["case"] == "nvme~profile=flush-not-sent" and rec["property"] == "flush_contract":
            rec["verdict"] = "HOLDS"
    assert {d.case for d in gate.compare(broken, doc)} == {"nvme~profile=flush-not-sent"}
