"""Matrix files: expansion into cases, bad files, and z3 proofs recorded beside explicit verdicts."""

import pytest
from conftest import ROOT, VIRTIO

from modelcheck.errors import UsageError
from modelcheck.matrix import load_matrix, run_cases, select


def write(tmp_path, body):
    path = tmp_path / "m.toml"
    path.write_text(f'spec = "{VIRTIO}"\n[defaults]\nworkload = "W0 F"\nqdepth = 2\n' + body)
    return path


def test_grids_expand_in_order_with_stable_names(tmp_path):
    matrix = load_matrix(write(tmp_path, '[[grid]]\nname = "g"\nguest = ["drain", "nodrain"]\nqdepth = [1, 2]\n'))
    assert [c.name for c in matrix.cases] == ["g~qdepth=1~guest=drain", "g~qdepth=1~guest=nodrain",
                                             "g~guest=drain", "g~guest=nodrain"]
    assert [c.name for c in select(matrix.cases, ["guest=nodrain"])] == ["g~qdepth=1~guest=nodrain",
                                                                        "g~guest=nodrain"]


@pytest.mark.parametrize(("body", "message"), [
    ('[[grid]]\ncolour = "red"\n', "unknown parameter 'colour'"),
    ('[[grid]]\nqdepth = 99\n', "parameter qdepth: 99 is not allowed"),
    ("[[grid\n", "not valid TOML"),
    ("", "no [[grid]] tables"),
])
def test_bad_matrix_files_name_the_problem(tmp_path, body, message):
    with pytest.raises(UsageError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_matrix(write(tmp_path, body))


def test_proofs_are_recorded_with_their_assumption_core(tmp_path):
    body = ('[[grid]]\nname = "p"\nguest = ["drain", "nodrain"]\nproperties = ["barrier", "flush_contract"]\n'
            'prove = ["barrier", "flush_contract"]\n')
    records = run_cases(load_matrix(write(tmp_path, body)).cases, jobs=1)
    got = {(rec["params"]["guest"], r["property"], r["engine"]): (r["verdict"], r["assumptions"])
           for rec in records for r in rec["results"]}
    assert got[("drain", "barrier", "certificate")] == ("PROVED", ["flush_waits"])
    assert got[("drain", "flush_contract", "certificate")] == ("PROVED", [])
    assert got[("nodrain", "barrier", "certificate")][0] == "VIOLATED"
    assert got[("nodrain", "barrier", "explicit")][0] == "VIOLATED"


def test_the_default_matrix_loads():
    matrix = load_matrix(ROOT / "specs" / "matrix.toml")
    assert len(matrix.cases) > 100 and any(c.prove for c in matrix.cases)


def test_a_cases_records_do_not_depend_on_what_ran_before_it(tmp_path):
    """Each case runs in a fresh process: a z3 counterexample is the same whether the case runs
    alone or after other cases. (Run one after another in one process,
    as before, this matrix's last case got another certificate counterexample: z3's models
    depend on the terms its process made before.)"""
    path = tmp_path / "m.toml"
    path.write_text(f'spec = "{VIRTIO}"\n[[grid]]\nname = "p"\nguest = ["drain", "nodrain"]\nqdepth = [2, 3]\n'
                    'properties = ["barrier"]\nprove = ["barrier"]\n')
    cases = load_matrix(path).cases
    target = cases[-1]  # nodrain, qdepth 3: refuted by both engines, with traces

    def traces(records):
        return [(r["engine"], r["trace_actions"]) for r in records[-1]["results"]]

    alone = traces(run_cases([target, target], jobs=1))
    assert any(engine == "certificate" and steps for engine, steps in alone)
    assert traces(run_cases(cases, jobs=1)) == alone
