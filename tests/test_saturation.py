"""Issue 13: proofs for every value of a parameter (qdepth stops mattering at the number of requests)."""

from __future__ import annotations

import pytest
from test_results_support import VIRTIO

from modelcheck import Int, Param, Spec, action, always, require
from modelcheck.errors import UsageError
from modelcheck.loader import load_spec_class
from modelcheck.symbolic.encode import Limits
from modelcheck.symbolic.prove import ProveOptions, prove
from modelcheck.symbolic.saturation import prove_every, saturation
from modelcheck.verdict import Verdict


class Capped(Spec):
    """``n`` climbs to 3 but never past ``cap``: every cap from 3 on gives the same steps."""

    cap = Param(2, allowed=range(1, 7))

    def fields(self):
        return {"n": Int(0, 3)}

    def initial(self):
        yield self.state(n=0)

    @action
    def up(self, s):
        require(s.n < 3)
        require(s.n < self.cap)
        return s.replace(n=s.n + 1)

    @always
    def at_most_three(self, s):
        return s.n <= 3

    @always
    def at_most_two(self, s):
        return s.n <= 2


class Sized(Capped):
    """The field's type grows with ``cap``: no two values give the same configuration."""

    def fields(self):
        return {"n": Int(0, self.cap)}

    @action
    def up(self, s):
        require(s.n < self.cap)
        return s.replace(n=s.n + 1)


def _prove(spec: Spec) -> list:
    return prove(spec, ["at_most_three", "at_most_two"], ProveOptions()).results


def test_the_parameter_stops_mattering_where_z3_finds_the_steps_equal() -> None:
    sat = saturation(Capped, {}, "cap", ["at_most_three"], Limits())
    assert sat.values == [1, 2, 3, 4, 5, 6] and sat.at == 3
    assert sat.differs.startswith("cap=2: the steps of up")
    assert saturation(Sized, {}, "cap", [], Limits()).at == 6  # fields differ: nothing shared


def test_every_value_proved_or_the_first_violation_shown() -> None:
    three, two = prove_every(Capped, {}, "cap", ["at_most_three", "at_most_two"], _prove, Limits())
    assert three.verdict is Verdict.PROVED and sorted(three.per_value) == [1, 2, 3]
    assert two.verdict is Verdict.VIOLATED
    assert two.deciding is two.per_value[3] and two.deciding.trace.actions == ["up"] * 3


def test_every_needs_an_integer_parameter_with_allowed_values() -> None:
    with pytest.raises(UsageError):
        saturation(Capped, {}, "n", [], Limits())


def test_virtio_qdepth_stops_mattering_at_the_number_of_requests() -> None:
    sat = saturation(load_spec_class(str(VIRTIO)), {"workload": "W0 W1 F", "guest": "drain"}, "qdepth",
                     ["barrier"], Limits())
    assert sat.at == 3 and sat.differs.startswith("qdepth=2: the steps of submit")


def test_prove_every_on_the_command_line(tmp_path, capsys) -> None:
    import json

    from modelcheck.cli import main

    out = tmp_path / "every.json"
    code = main(["prove", str(VIRTIO), "--set", "workload=W0 F", "--set", "guest=nodrain", "--every", "qdepth",
                 "-p", "barrier", "--json", str(out)])
    assert code == 1
    doc = json.loads(out.read_text())
    assert doc["same_from"] == 2 and doc["results"][0]["verdict"] == "VIOLATED"
    assert doc["results"][0]["per_value"]["2"]["verdict"] == "VIOLATED"
    assert "counterexample to barrier at qdepth=" in capsys.readouterr().out
