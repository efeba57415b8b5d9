"""The certificate checked state by state over the symbolic paths (symbolic/rowcheck.py)."""

import pytest
from conftest import VIRTIO

from modelcheck.check import check, configure
from modelcheck.errors import EngineBug
from modelcheck.symbolic.prove import ProveOptions, prove
from modelcheck.verdict import Verdict

SMALL_DRAIN = {"profile": "qemu-2010", "workload": "W0 F", "qdepth": 1, "guest": "drain"}


@pytest.mark.parametrize("prop", ["barrier", "flush_contract", "conservation"])
def test_state_by_state_agrees_with_the_z3_table(prop):
    spec = configure(VIRTIO, SMALL_DRAIN)
    by_rows = prove(spec, [prop], ProveOptions(minimise=False, table_limit=0)).results[0]
    by_z3 = prove(spec, [prop], ProveOptions(minimise=False)).results[0]
    assert by_rows.verdict is by_z3.verdict is Verdict.PROVED
    assert by_rows.extra["certificate_check"] == "state by state"
    assert by_z3.extra["certificate_check"] == "z3"
    assert by_rows.extra["invariant_states"] == by_z3.extra["invariant_states"] == check(spec, [prop]).results[0].states


def test_a_state_the_explicit_search_lost_is_an_engine_bug_state_by_state(monkeypatch):
    import modelcheck.symbolic.certificate as certificate

    real = certificate.explore

    def lossy(*args, **kwargs):
        ex = real(*args, **kwargs)
        ex.states = ex.states[:-1]
        return ex

    monkeypatch.setattr(certificate, "explore", lossy)
    with pytest.raises(EngineBug, match="never reached"):
        prove(configure(VIRTIO, SMALL_DRAIN), ["barrier"], ProveOptions(minimise=False, table_limit=0))


def test_a_violation_is_still_found_and_replayed():
    spec = configure(VIRTIO, {**SMALL_DRAIN, "guest": "nodrain", "qdepth": 2})
    result = prove(spec, ["barrier"], ProveOptions(minimise=False, table_limit=0)).results[0]
    assert result.verdict is Verdict.VIOLATED
    assert len(result.trace) == len(check(spec, ["barrier"]).results[0].trace)
