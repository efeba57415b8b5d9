"""check --profile: per-action counts read from what every backend records, the same in each."""

from __future__ import annotations

import json

import pytest
from conftest import VIRTIO, no_c_compiler

from modelcheck.check import check, configure
from modelcheck.cli import main
from modelcheck.explicit import SearchOptions
from modelcheck.profile import profile

SETTINGS = {"workload": "W0 W1 F", "qdepth": 2}
SEARCHES = {
    "interpreted": SearchOptions(backend="interpreted"),
    "compiled": SearchOptions(backend="compiled"),
    "compact": SearchOptions(backend="interpreted", store="compact"),
    "workers": SearchOptions(backend="interpreted", workers=2),
}
if not no_c_compiler():
    SEARCHES["native"] = SearchOptions(backend="native")


def _profile(options: SearchOptions):
    run = check(configure(str(VIRTIO), SETTINGS), ["conservation"], options)
    return run, profile(run.exploration)


def test_profile_adds_up_to_the_search_and_pins_the_biggest_action() -> None:
    run, (actions, instances) = _profile(SEARCHES["interpreted"])
    ex = run.exploration
    assert run.results[0].states == 319 and ex.transitions == 676
    assert sum(r.generated for r in actions) == sum(r.generated for r in instances) == ex.transitions
    assert sum(r.new for r in actions) == sum(r.new for r in instances) == ex.size - len(ex.initial_ids)
    biggest = max(actions, key=lambda r: r.new)
    assert (biggest.name, biggest.generated, biggest.new, biggest.peak_level, biggest.peak_new) == \
        ("writeback", 204, 128, 9, 16)
    never = next(r for r in actions if r.name == "complete_device_flush")
    assert (never.generated, never.new, never.peak_level) == (0, 0, -1)


@pytest.mark.parametrize("search", sorted(SEARCHES))
def test_every_backend_gives_the_same_profile(search: str) -> None:
    run, got = _profile(SEARCHES[search])
    assert search != "native" or run.exploration.native  # the native search did run
    assert got == _profile(SEARCHES["interpreted"])[1]


def test_check_profile_prints_a_table_and_writes_json(tmp_path, capsys) -> None:
    out = tmp_path / "p.json"
    assert main(["check", str(VIRTIO), "--set", "workload=W0 W1 F", "--set", "qdepth=2", "-p", "conservation",
                 "--profile", "-q", "--json", str(out)]) == 0
    assert "peak level" in capsys.readouterr().out
    data = json.loads(out.read_text())["profile"]
    assert data["actions"][0]["name"] == "submit"
    assert sum(r["new"] for r in data["instances"]) == sum(r["new"] for r in data["actions"]) == 318
