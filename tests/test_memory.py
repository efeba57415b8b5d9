"""The memory budget: reaching it ends a search as HOLDS up to bound, with the reason, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SMALL, VIRTIO, no_c_compiler

from modelcheck import cli
from modelcheck.check import check, configure
from modelcheck.errors import UsageError
from modelcheck.explicit import SearchOptions
from modelcheck.explicit.memory import default_budget, machine_bytes, parse
from modelcheck.explicit.plan import plan
from modelcheck.spec import LIVENESS, compile_spec
from modelcheck.verdict import EXIT_INCONCLUSIVE, EXIT_USAGE, Verdict

TINY = 1 << 10  # any process is past it at the first look


@pytest.mark.parametrize("options", [{}, {"store": "compact"}, {"compiled": True, "store": "compact"},
                                     {"native": True, "store": "compact"}, {"por": True}],
                         ids=["full", "compact", "compiled", "native", "por"])
def test_a_tiny_budget_ends_the_search_as_a_bound(options):
    if options.get("native") and no_c_compiler():
        pytest.skip("no C compiler")
    spec = configure(VIRTIO, SMALL)
    # the safety properties: a liveness claim needs the whole graph whatever the budget
    # (UNKNOWN with a reason of its own under a compact store or a reduction)
    props = [p.name for p in compile_spec(spec).properties.values() if p.kind not in LIVENESS]
    exact = check(spec, props)
    run = check(spec, props, SearchOptions(memory=TINY, **options))
    ex = run.exploration
    assert ex.hit_memory_bound == TINY and ex.size < exact.exploration.size
    for r in run.results:
        assert r.verdict in (Verdict.HOLDS_UP_TO_BOUND, Verdict.UNKNOWN, Verdict.VIOLATED), r
        if r.verdict is not Verdict.VIOLATED and not (r.kind == "at_end" and not ex.ends_checked):
            assert "memory budget 1024 bytes reached" in r.reason
    assert {r.verdict for r in run.results} != {Verdict.HOLDS}


def test_check_with_a_tiny_budget_is_inconclusive_and_a_bad_size_is_a_usage_error(capsys):
    argv = ["check", VIRTIO, "-q", "--no-progress", "-p", "barrier"]
    assert cli.main([*argv, "--memory", "1K"]) == EXIT_INCONCLUSIVE
    assert "memory budget" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exited:
        cli.main([*argv, "--memory", "lots"])
    assert exited.value.code == EXIT_USAGE
    assert cli.main([*argv, "--memory", "off"]) == 0


def test_the_default_budget_is_half_the_machine_split_among_workers():
    compiled = compile_spec(configure(VIRTIO, SMALL))
    total = machine_bytes()
    assert total and default_budget(1) == total // 2
    assert plan(compiled, [], SearchOptions(workers=4)).budget == total // 2 // 4
    assert plan(compiled, [], SearchOptions(memory=None)).budget is None
    assert plan(compiled, [], SearchOptions(memory=5 << 30)).budget == 5 << 30


@pytest.mark.parametrize(("text", "size"), [("2G", 2 << 30), ("512M", 512 << 20), ("100k", 100 << 10),
                                            ("1.5GiB", 3 << 29), ("4096", 4096)])
def test_sizes(text, size):
    assert parse(text) == size


@pytest.mark.parametrize("options", [{}, {"native": True, "store": "compact"}], ids=["interpreted", "native"])
def test_a_time_limit_ends_the_search_as_a_bound_never_as_holds(options):
    if options.get("native") and no_c_compiler():
        pytest.skip("no C compiler")
    spec = configure(VIRTIO, SMALL)
    props = [p.name for p in compile_spec(spec).properties.values() if p.kind not in LIVENESS]
    run = check(spec, props, SearchOptions(time_limit=1e-9, **options))  # past it before the first level
    ex = run.exploration
    assert ex.hit_time_limit == 1e-9 and ex.size == len(ex.initial_ids)
    assert {r.verdict for r in run.results} <= {Verdict.HOLDS_UP_TO_BOUND, Verdict.UNKNOWN, Verdict.VIOLATED}
    assert any("time limit" in r.reason for r in run.results)
    assert check(spec, props, SearchOptions(time_limit=3600, **options)).exploration.hit_time_limit == 0


def test_check_with_a_time_limit_is_inconclusive_and_a_bad_one_is_a_usage_error(capsys):
    argv = ["check", VIRTIO, "-q", "--no-progress", "-p", "barrier"]
    assert cli.main([*argv, "--time-limit", "1e-9"]) == EXIT_INCONCLUSIVE
    assert "time limit" in capsys.readouterr().out
    for bad in ("0", "-5", "soon"):
        with pytest.raises(SystemExit) as exited:
            cli.main([*argv, "--time-limit", bad])
        assert exited.value.code == EXIT_USAGE


def test_the_partitioned_search_refuses_a_time_limit_and_a_spill_dir(tmp_path):
    compiled = compile_spec(configure(VIRTIO, SMALL))
    for extra in ({"time_limit": 5.0}, {"spill_dir": str(tmp_path)}):
        with pytest.raises(UsageError):
            plan(compiled, [], SearchOptions(checkpoint=str(tmp_path / "c"), **extra))


def test_a_tmpfs_is_told_apart_from_a_disk(tmp_path):
    from modelcheck.explicit.memory import in_memory_filesystem

    mounts = [line.split()[1:3] for line in Path("/proc/mounts").read_text().splitlines()]
    assert in_memory_filesystem("/dev/shm") == (["/dev/shm", "tmpfs"] in mounts)
    assert not in_memory_filesystem("/proc")
