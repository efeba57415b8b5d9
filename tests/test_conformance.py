"""Conformance: the qtest/QMP/trace-log plumbing (no QEMU needed), then the real device.

The QEMU tests run only where qemu-system-x86_64 is installed and skip with that reason
otherwise (``pytest -rs`` shows it). QEMU runs each scenario once per session (a module
fixture); every profile is judged on those observations.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from modelcheck.check import check, configure
from modelcheck.conformance import cli, qmp, qtest, storage, tracelog
from modelcheck.conformance.conform import Graphs, configuration, judge, judge_flush_errors, observe
from modelcheck.conformance.errors import QemuError
from modelcheck.conformance.generate import GENERATING, coverage, generate, instances_in, key
from modelcheck.conformance.machine import ErrorRule, Machine, halting_bios, make_image, rules_text
from modelcheck.conformance.mapping import expectation
from modelcheck.conformance.replay import parked_counterexample, replay, replay_lines
from modelcheck.conformance.scenarios import PERSISTENT, SCENARIOS, Observation, Scenario
from modelcheck.conformance.storage import Storage
from modelcheck.conformance.validate import Graph, edit_distance, matched, validate
from modelcheck.conformance.virtio import Layout, config_address, sector_data, writer_of
from modelcheck.errors import UsageError
from modelcheck.explicit import SearchOptions, explore
from modelcheck.loader import load_spec_class
from modelcheck.spec import compile_spec
from modelcheck.trace import trace_to_json

SPEC = str(Path(__file__).resolve().parent.parent / "specs" / "virtio_blk.py")
QEMU_MISSING = shutil.which("qemu-system-x86_64") is None
needs_qemu = pytest.mark.skipif(
    QEMU_MISSING, reason="qemu-system-x86_64 is not installed (apt-get install qemu-system-x86 qemu-utils)")


# --------------------------------------------------------------------------- qtest


def test_qtest_reply_parsing():
    assert qtest.parse_reply("OK 0x10\n") == (True, "0x10")
    assert qtest.parse_reply("OK") == (True, "")
    assert qtest.parse_reply("FAIL Unknown command 'x'") == (False, "Unknown command 'x'")
    with pytest.raises(QemuError):
        qtest.parse_reply("garbage")
    assert qtest.is_async("IRQ raise 11")
    assert not qtest.is_async("OK 0x1")
    assert qtest.parse_value("0x1af4") == 0x1AF4
    assert qtest.parse_bytes("0x00ff", 2) == b"\x00\xff"
    with pytest.raises(QemuError):
        qtest.parse_bytes("0x00", 2)
    assert qtest.write_command(0x1000, b"\x01\x02") == "write 0x1000 2 0x0102"


def test_line_reader_keeps_partial_lines():
    reader = qtest.LineReader()
    assert reader.feed(b"OK 0x1\nOK") == ["OK 0x1"]
    assert reader.feed(b" 0x2\n") == ["OK 0x2"]


def _fake_qemu(replies: list[list[bytes]]) -> tuple[socket.socket, threading.Thread]:
    """A socket answering each command with its chunks of reply (a chunk may end mid-line)."""
    ours, theirs = socket.socketpair()

    def serve() -> None:
        for chunks in replies:
            if not theirs.recv(4096):
                return
            for chunk in chunks:
                theirs.sendall(chunk)
                time.sleep(0.01)
        theirs.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return ours, thread


def test_qtest_skips_irq_lines_and_reports_fail():
    conn, thread = _fake_qemu([[b"IRQ raise 11\nOK 0x1001", b"1af4\n"], [b"FAIL bad\n"]])
    q = qtest.Qtest(conn, timeout=2)
    assert q.inl(0xCFC) == 0x10011AF4
    with pytest.raises(QemuError, match="failed: bad"):
        q.outl(0xCF8, 0)
    q.close()
    thread.join(2)


def test_qtest_times_out_on_silence():
    ours, theirs = socket.socketpair()
    q = qtest.Qtest(ours, timeout=0.1)
    with pytest.raises(QemuError, match="no reply"):
        q.readw(0)
    ours.close()
    theirs.close()


# --------------------------------------------------------------------------- QMP


def test_qmp_message_helpers():
    assert qmp.classify({"QMP": {}}) == "greeting"
    assert qmp.classify({"return": {}}) == "return"
    assert qmp.classify({"error": {}}) == "error"
    assert qmp.classify({"event": "STOP", "timestamp": {}}) == "event"
    with pytest.raises(QemuError):
        qmp.classify({"nothing": 1})
    assert json.loads(qmp.command_text("migrate", {"uri": "exec:cat > f"})) == {
        "execute": "migrate", "arguments": {"uri": "exec:cat > f"}}
    assert json.loads(qmp.command_text("cont")) == {"execute": "cont"}
    reply = {"qemu": {"major": 7, "minor": 2, "micro": 22}, "package": "Debian 1:7.2+dfsg-7"}
    assert qmp.version_text(reply) == "7.2.22 (Debian 1:7.2+dfsg-7)"
    event = qmp.parse_event({"event": "BLOCK_IO_ERROR", "data": {"nospace": True}, "timestamp": {}})
    assert (event.name, event.data) == ("BLOCK_IO_ERROR", {"nospace": True})


def test_qmp_session_keeps_events_met_while_waiting(tmp_path):
    path = str(tmp_path / "qmp.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)

    def serve() -> None:
        conn, _ = server.accept()
        conn.sendall(b'{"QMP": {"version": {}}}\n')
        conn.recv(4096)  # qmp_capabilities
        conn.sendall(b'{"return": {}}\n')
        conn.recv(4096)  # cont
        conn.sendall(b'{"event": "RESUME", "data": {}, "timestamp": {}}\n{"return": {}}\n')
        conn.recv(4096)  # bad
        conn.sendall(b'{"error": {"class": "GenericError", "desc": "no"}}\n')
        conn.recv(4096)
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    session = qmp.Qmp(path, timeout=2)
    assert session.execute("cont") == {}
    assert session.wait_event("RESUME", timeout=0.1).name == "RESUME"
    with pytest.raises(QemuError, match="GenericError: no"):
        session.execute("bad")
    session.close()
    server.close()
    thread.join(2)


# --------------------------------------------------------------------------- trace log, rules, layout


LOG = """\
virtio_blk_data_plane_start dataplane 0x1
virtio_blk_handle_write vdev 0xa req 0x1 sector 2 nsectors 1
virtio_blk_handle_write vdev 0xa req 0x2 sector 10 nsectors 1
blk_co_pwritev blk 0xb bs 0xc offset 1024 bytes 512 flags 0x8
virtio_blk_req_complete vdev 0xa req 0x3 status 0
virtio_blk_rw_complete vdev 0xa req 0x2 ret -28
virtio_blk_rw_complete vdev 0xa req 0x1 ret -28
9@1.5:virtio_blk_handle_write vdev 0xa req 0x1 sector 6 nsectors 1
virtio_blk_rw_complete vdev 0xa req 0x1 ret 0
not a trace line!
"""


def test_trace_log_orders():
    records = tracelog.parse(LOG.splitlines())
    assert tracelog.handled(records) == [("write", 2), ("write", 10), ("write", 6)]
    assert tracelog.failed(records) == [("write", 10), ("write", 2)]
    assert tracelog.count(records, "virtio_blk_rw_complete") == 3
    assert tracelog.parse_line("") is None


def test_blkdebug_rules_and_bios():
    text = rules_text([ErrorRule(2), ErrorRule(flush=True, errno=5)])
    assert text.count("[inject-error]") == 2
    assert 'sector = "2"' in text and 'errno = "28"' in text and 'event = "flush_to_os"' in text
    assert text.count('once = "on"') == 2
    assert "once" not in rules_text([ErrorRule(flush=True, errno=5, persistent=True)])  # every flush fails
    bios = halting_bios()
    assert len(bios) == 0x10000
    assert bios[0xFFF0:0xFFF4] == b"\xfa\xf4\xeb\xfd"
    assert set(bios[:0xFFF0]) == {0xF4}


def test_virtqueue_layout_and_sector_data():
    lay = Layout(0x100000, 256)
    assert (lay.desc, lay.avail, lay.used) == (0x100000, 0x101000, 0x102000)
    assert config_address(2, 0x10) == 0x80001010
    data = sector_data(7, 10)
    assert len(data) == 512 and writer_of(data) == 7
    assert writer_of(bytes(512)) is None
    with pytest.raises(QemuError):
        writer_of(b"x" * 512)


# --------------------------------------------------------------------------- trace validation without QEMU


def _observation(restart: list[int], migrations: int = 0) -> Observation:
    image = [[2, None], [6, None], [10, None]]
    return Observation(
        "synthetic", "W2 W10 W6", [0, 1, 2], migrations,
        guest=[["submit", 0], ["submit", 1], ["submit", 2], ["observe", 1], ["observe", 0], ["observe", 2]],
        failure_order=[0, 1, 2], io_error_events=3, stop_events=1,
        used=[["cont", [0, 1, 2], image], ["push", 1, "ok"], ["push", 0, "ok"], ["push", 2, "ok"]],
        restart_order=[restart], disk={"2": 0, "10": 1, "6": 2})


@pytest.fixture(scope="module")
def spec_cls():
    return load_spec_class(SPEC)


def _graph(spec_cls, scenario: Scenario, profile: str) -> Graph:
    params = configuration(spec_cls, scenario, profile)
    return Graph(explore(compile_spec(spec_cls(**params)), [], SearchOptions(keep_edges=True)))


def test_expectation_channels():
    want = expectation(Observation("x", "W2 F", [0], 0, guest=[["submit", 0], ["submit", 1], ["observe", 1]],
                                   failure_order=[0], stop_events=1,
                                   used=[["push", 1, "ok"], ["cont", [0], [[2, None]]], ["push", 0, "ok"]],
                                   restart_order=[[0]], flushes=1, durable=[[2]], disk={"2": 0}))
    assert want.channel("guest") == (("submit", 0), ("submit", 1), ("observe", 1))
    assert want.channel("failures") == (0,)
    assert want.channel("restarts") == ((0,),)
    assert want.channel("used") == (("push", 1, "ok"), ("cont", (0,), ((2, None),)), ("push", 0, "ok"))
    assert want.channel("stops") == ("stop",)
    assert want.channel("flushes") == ("flush",)
    assert want.channel("durable") == ((2,),)
    assert want.disk == ((2, 0),)


def test_validation_finds_lifo_in_qemu_72_and_refutes_fifo(spec_cls):
    local = SCENARIOS[0]
    lifo = expectation(_observation([2, 1, 0]))
    graph = _graph(spec_cls, local, "qemu-7.2")
    assert validate(graph, lifo).matches
    assert matched(graph, lifo).states
    refuted = validate(_graph(spec_cls, local, "fifo"), lifo)
    assert not refuted.matches
    assert refuted.mismatch is not None
    assert refuted.mismatch.channel == "restarts"
    assert refuted.mismatch.observed == ["(W6 W10 W2)"]
    assert refuted.mismatch.allowed == ["(W2 W10 W6)"]
    assert refuted.mismatch.side_by_side() == ["observed restarts: (W6 W10 W2)", "allowed  restarts: (W2 W10 W6)"]
    assert not matched(_graph(spec_cls, local, "fifo"), lifo).states


def test_validation_refutes_a_wrong_disk(spec_cls):
    obs = _observation([2, 1, 0])
    obs.disk = {"2": 0, "10": 2, "6": 2}
    result = validate(_graph(spec_cls, SCENARIOS[0], "qemu-7.2"), expectation(obs))
    assert not result.matches and result.mismatch is not None and result.mismatch.channel == "disk"


def test_validation_refutes_an_observation_taken_while_stopped(spec_cls):
    obs = _observation([2, 1, 0])
    obs.guest.insert(3, ["observe", 1])  # an observation before cont: the guest cannot run then
    obs.guest.pop()
    assert not validate(_graph(spec_cls, SCENARIOS[0], "qemu-7.2"), expectation(obs), explain=False).matches


def test_edit_distance():
    assert edit_distance([], ["a"]) == 1
    assert edit_distance(["a", "b"], ["a", "b"]) == 0
    assert edit_distance(["a", "b", "c"], ["c", "b", "a"]) == 2


# --------------------------------------------------------------------------- the real device


@pytest.fixture(scope="module")
def observations() -> dict[str, Observation]:
    if QEMU_MISSING:
        pytest.skip("qemu-system-x86_64 is not installed (apt-get install qemu-system-x86 qemu-utils)")
    return {o.scenario: o for o in observe(SCENARIOS, timeout=10)}


@pytest.fixture(scope="module")
def qemu_72(observations) -> None:
    version = observations["local-restart"].version
    if not version.startswith("7.2."):
        pytest.skip(f"the expected behaviour was established on QEMU 7.2; this is {version}")


@needs_qemu
def test_local_stop_restarts_in_reverse_failure_order(observations, qemu_72):
    obs = observations["local-restart"]
    assert obs.io_error_events == 3 and obs.stop_events == 1
    assert obs.failure_order == [0, 1, 2]
    assert obs.restart_order == [[2, 1, 0]]
    assert obs.used[0] == ["cont", [0, 1, 2], [[2, None], [6, None], [10, None]]]
    assert sorted(e[1:] for e in obs.used[1:]) == [[0, "ok"], [1, "ok"], [2, "ok"]]
    assert obs.disk == {"2": 0, "10": 1, "6": 2}


@needs_qemu
def test_one_migration_restarts_in_failure_order(observations, qemu_72):
    obs = observations["migrated-restart"]
    assert obs.migrations == 1
    assert obs.failure_order == [0, 1, 2]
    assert obs.restart_order == [[0, 1, 2]]
    assert obs.disk == {"2": 0, "10": 1, "6": 2}


@needs_qemu
def test_flush_completes_ok_while_the_write_is_parked(observations, qemu_72):
    obs = observations["flush-while-parked"]
    assert obs.failure_order == [0]
    assert obs.used == [["push", 1, "ok"], ["cont", [0], [[2, None]]], ["push", 0, "ok"]]
    assert obs.flushes == 1 and obs.durable == []  # the flush had nothing to write
    assert obs.disk == {"2": 0}


@needs_qemu
def test_the_stop_flushes_what_was_written_before_it(observations, qemu_72):
    obs = observations["flush-at-stop"]
    assert obs.failure_order == [1]
    assert obs.durable == [[2], [6]]  # W2 made durable at the stop, W6 by the guest's flush
    assert obs.flushes == 1


@needs_qemu
def test_each_profile_is_refuted_or_confirmed(observations, qemu_72, spec_cls):
    configs = {s.name: configuration(spec_cls, s, "qemu-7.2") for s in SCENARIOS}
    profiles = ["qemu-7.2", "fifo", "qemu-9.0", "qemu-2010", "flush-after-restart"]
    verdicts = judge(Graphs(spec_cls), profiles, list(observations.values()), configs, {})
    assert verdicts["qemu-7.2"].verdict == "conforms"
    assert all(entry["matches"] for entry in verdicts["qemu-7.2"].scenarios.values())
    expected = {"fifo": ("local-restart", "restarts"), "qemu-9.0": ("local-restart", "restarts"),
                "qemu-2010": ("flush-at-stop", "durable"), "flush-after-restart": ("local-restart", "flushes")}
    for profile, (scenario, channel) in expected.items():
        assert verdicts[profile].verdict == "refuted"
        assert verdicts[profile].refuted_by is not None
        assert verdicts[profile].refuted_by["scenario"] == scenario
        assert verdicts[profile].refuted_by["mismatch"]["channel"] == channel
    assert not verdicts["qemu-9.0"].scenarios["migrated-restart"]["matches"]
    assert verdicts["fifo"].scenarios["migrated-restart"]["matches"]
    assert verdicts["qemu-7.2"].scenarios["two-queue-restart"]["matches"]
    assert not verdicts["qemu-9.0"].scenarios["two-queue-restart"]["matches"]
    assert not verdicts["fifo"].scenarios["two-queue-restart"]["matches"]
    assert verdicts["qemu-7.2"].scenarios["two-queue-migrated"]["matches"]
    assert not verdicts["qemu-9.0"].scenarios["two-queue-migrated"]["matches"]


def test_a_persistent_flush_failure_needs_a_last_cont_and_spends_a_budget_per_cont():
    scenario = PERSISTENT[0]
    scenario.check()
    assert scenario.budgets()["flush_failures"] == 1 + scenario.conts
    with pytest.raises(ValueError, match="conts"):
        Scenario("x", "W2 F", (1,), persistent=(1,)).check()
    with pytest.raises(ValueError, match="only a failing flush"):
        Scenario("x", "W2 F", (0,), persistent=(0,), conts=1).check()


@needs_qemu
def test_a_flush_that_fails_for_good_matches_transient_not_sticky(tmp_path, qemu_72, spec_cls):
    """Every flush fails (blkdebug without once): the parked flush fails again after each cont and
    the VM stops each time, but the stop's bdrv_flush_all, which also flushes the protocol node
    below blkdebug, made W2 durable and nothing was dropped: transient's observable behaviour."""
    (obs,) = observe(PERSISTENT, timeout=10)
    conts = PERSISTENT[0].conts
    assert obs.failure_order == [1] * (conts + 1) and obs.stop_events == conts + 1
    assert obs.guest == [["submit", 0], ["observe", 0], ["submit", 1]]  # the guest never sees F complete
    assert [e[0] for e in obs.used] == ["push", *["cont"] * conts]
    assert obs.durable == [[2]] and obs.flushes == 0 and obs.disk == {"2": 0}
    verdicts = judge_flush_errors(Graphs(spec_cls), spec_cls, [obs], PERSISTENT)[obs.scenario]
    assert verdicts["transient"]["matches"] and not verdicts["sticky"]["matches"]


@needs_qemu
def test_two_queues_restart_from_one_device_wide_list(observations, qemu_72):
    obs = observations["two-queue-restart"]
    assert obs.failure_order == [0, 2, 1]  # W2, W4 (queue 0), then W3 (queue 1)
    assert obs.restart_order == [[1, 2, 0]]  # W3 W4 W2: the reverse, across the queues
    assert [e[1] for e in obs.used if e[0] == "push"] == [0, 2]
    assert [e[1] for e in obs.used1 if e[0] == "push"] == [1]
    migrated = observations["two-queue-migrated"]
    assert migrated.failure_order == [0, 2, 1] and migrated.restart_order == [[0, 2, 1]]  # load reverses it back


@needs_qemu
@pytest.mark.parametrize("name", ["two-queue-restart", "two-queue-migrated"])
def test_a_notify_that_reaches_the_stopped_vm_is_caught(name, monkeypatch, qemu_72):
    """Queue 1's notify sent only once queue 0's errors stopped the VM (what a loaded machine
    did by chance): the device restarts its parked writes while stopped, and the run is
    discarded as such. Before a migration this went unseen, and the destination, holding
    only what the source parked again, left the run waiting for restarts that never came."""
    from modelcheck.conformance import scenarios

    def late_submit(run: scenarios.Run, group: tuple[int, ...]) -> None:
        for r in group:
            kind, sector = run.requests[r]
            run.driver.queue(r, kind, sector)
            run.handled_here += kind != "flush"
        run.driver.kick([0])
        run.m.qmp.wait_status({"io-error"})
        run.driver.kick([1])

    monkeypatch.setattr(scenarios.Run, "submit", late_submit)
    scenario = next(s for s in SCENARIOS if s.name == name)
    with pytest.raises(scenarios.KickedWhileStopped, match="a notify reached the stopped VM"):
        scenarios.run(scenario, timeout=10)


@needs_qemu
def test_conform_command_writes_sorted_json_without_timings(tmp_path, capsys, qemu_72):
    import argparse

    parser = argparse.ArgumentParser(prog="modelcheck")
    cli.add_parser(parser.add_subparsers())
    out = tmp_path / "results" / "conformance.json"
    # a generous wait: this test is about the file written, and a loaded machine can take QEMU past 5 s
    base = ["conform", "--spec", SPEC, "--output", str(out), "--generate", "0", "--timeout", "30"]
    args = parser.parse_args([*base, "-P", "qemu-7.2", "-P", "fifo"])
    assert args.run(args) == 0
    text = out.read_text()
    report = json.loads(text)
    assert text == json.dumps(report, sort_keys=True, indent=2) + "\n"
    assert report["conforming"] == ["qemu-7.2"]
    assert report["qemu"]["version"].startswith("7.2.")
    assert "timing" not in report and "binary" not in report["qemu"]
    assert set(json.loads((tmp_path / "results" / "conformance.timing.json").read_text())) >= {"qemu", "total"}
    assert "refuted by local-restart" in capsys.readouterr().out
    args = parser.parse_args([*base, "-P", "fifo"])
    assert args.run(args) == 1


@needs_qemu
def test_a_failing_qemu_is_reaped_and_its_stderr_kept(tmp_path):
    image = tmp_path / "missing.img"
    keep = tmp_path / "kept"
    machine = Machine(tmp_path, image, timeout=5, keep=keep)
    with pytest.raises(QemuError) as caught, machine:
        pass
    assert caught.value.kept == str(keep)
    assert (keep / "src.stderr").read_text()
    assert machine.proc is not None and machine.proc.poll() is not None


@needs_qemu
def test_a_started_qemu_is_reaped_when_the_block_fails(tmp_path):
    image = tmp_path / "disk.img"
    make_image(image, 8)
    keep = tmp_path / "kept"
    machine = Machine(tmp_path, image, rules=[ErrorRule(1)], timeout=5, keep=keep)
    with pytest.raises(QemuError, match="kept in"), machine:
        assert machine.qmp.execute("query-status")["status"] in ("running", "paused", "prelaunch")
        raise QemuError("the harness gave up")
    assert machine.proc is not None and machine.proc.poll() is not None
    assert (keep / "src.cmdline").exists()


# --------------------------------------------------------------------------- generated scenarios


@pytest.fixture(scope="module")
def generating_graph(spec_cls) -> Graph:
    return Graph(explore(compile_spec(spec_cls(**GENERATING)), [], SearchOptions(keep_edges=True)))


def test_generation_is_seeded_and_covers_every_instance(generating_graph):
    first, covered = generate(generating_graph, 20, seed=7)
    again, _ = generate(generating_graph, 20, seed=7)
    other, _ = generate(generating_graph, 20, seed=8)
    assert [s.as_json() for s in first] == [s.as_json() for s in again]
    assert [s.as_json() for s in first] != [s.as_json() for s in other]
    assert len(first) == 20 and len({key(s) for s in first}) == 20
    assert covered == instances_in(generating_graph)
    for s in first:
        s.check()
        assert s.workload == GENERATING["workload"]
        budgets = s.budgets()
        assert all(budgets[b] <= GENERATING[b] for b in budgets)


def test_a_flush_failure_is_generated_only_where_qemu_could_fail_it(generating_graph):
    scenarios, _ = generate(generating_graph, 40, seed=3)
    flush = GENERATING["workload"].split().index("F")
    with_flush = [s for s in scenarios if flush in s.fail]
    assert with_flush
    for s in with_flush:  # a write was submitted and taken complete before the flush was submitted
        groups = s.plan()
        first = next(i for i, (g, _) in enumerate(groups) if flush in g)
        assert first > 0 and any(r < flush for g, _ in groups[:first] for r in g)


def test_coverage_counts_what_matching_paths_run_through(generating_graph):
    none = coverage(generating_graph, [])
    assert none["action_instances"]["matched"] == 0
    assert len(none["unmatched_instances"]) == none["action_instances"]["total"] == len(instances_in(generating_graph))
    assert none["states"]["total"] == len(generating_graph.ex.states)
    per_action = none["transitions_by_action"]
    assert sum(c["total"] for c in per_action.values()) == none["transitions"]["total"]
    assert not any(c["matched"] for c in per_action.values())


@needs_qemu
def test_twenty_generated_scenarios_are_all_paths_of_qemu_72(generating_graph, qemu_72):
    scenarios, _ = generate(generating_graph, 20, seed=1)
    observed = observe(scenarios, timeout=10)
    matches = [matched(generating_graph, expectation(o)) for o in observed]
    assert all(m.states for m in matches), [o.scenario for o, m in zip(observed, matches) if not m.states]
    cov = coverage(generating_graph, matches)
    assert cov["action_instances"]["fraction"] == 1.0
    assert 0 < cov["states"]["fraction"] < 1


def test_storage_keeps_writes_volatile_until_a_flush(tmp_path):
    image = tmp_path / "disk.img"
    make_image(image, 8)
    store = Storage(tmp_path, image)
    data = sector_data(0, 2)
    assert store._execute(storage.CMD_WRITE, 2 * 512, 512, data) == (0, b"")
    assert store.sectors([2]) == {2: data}
    assert store.sectors([2], durable=True) == {2: bytes(512)}
    assert store._execute(storage.CMD_READ, 2 * 512, 512, b"") == (0, data)
    assert store._execute(storage.CMD_FLUSH, 0, 0, b"") == (0, b"")
    assert store._execute(storage.CMD_FLUSH, 0, 0, b"") == (0, b"")  # nothing cached: no event
    assert store.durable() == [(2,)]
    assert store.sectors([2], durable=True) == {2: data}
    store._execute(7, 0, 0, b"")
    with pytest.raises(QemuError, match="unsupported command 7"):
        store.check()


# --------------------------------------------------------------------------- replaying spec traces


SEED = {"workload": "W0 F", "qdepth": 2, "guest": "nodrain", "profile": "qemu-7.2", "werror": "stop",
        "rerror": "stop", "order": "any", "evict": "on", "failures": 1, "eio_failures": 0,
        "flush_failures": 0, "read_failures": 0, "migrations": 1}


def _counterexample(tmp_path, **changes) -> str:
    run = check(configure(SPEC, {**SEED, **changes}), ["barrier"])
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(trace_to_json(run.compiled, run.results[0].trace)))
    return str(path)


def test_a_trace_the_harness_cannot_steer_is_a_usage_error(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("{}")
    with pytest.raises(UsageError, match="not a modelcheck trace"):
        replay(str(path), spec=SPEC)


@needs_qemu
def test_the_seed_counterexample_happens_on_the_device(tmp_path, qemu_72):
    outcome = replay(_counterexample(tmp_path), spec=SPEC)
    assert outcome["verdict"] == "reproduced"
    assert all(s["agrees"] for s in outcome["steps"])
    ev = outcome["evidence"]
    assert ev["used_ring"] == [["F1", "ok"]] and ev["taken_by_guest"] == ["F1"]
    assert ev["durable_image"] == {"s0": None}
    assert ev["flush_ok_before_write_durable"] == [{"flush": "F1", "write": "W0", "write_state": "in flight"}]


@needs_qemu
def test_a_parked_write_and_a_completed_flush_on_the_device(tmp_path, qemu_72):
    outcome = replay(_counterexample(tmp_path, order="fifo"), spec=SPEC)
    # every step up to the guest taking the flush is followed: W0 fails and is parked,
    # F1 completes OK; QEMU stops the VM before a guest could take F1
    assert [s["agrees"] for s in outcome["steps"]] == [True] * 8 + [False]
    assert outcome["verdict"] == "diverged" and outcome["divergence"]["label"] == "observe F1"
    ev = outcome["evidence"]
    assert ev["used_ring"] == [["F1", "ok"]] and ev["parked"] == ["W0"] and ev["vm"] == "io-error"
    assert ev["durable_image"] == {"s0": None} and ev["image_with_cache"] == {"s0": None}
    assert any("parked W0" in line for line in replay_lines(outcome))


@needs_qemu
def test_the_guest_sees_the_flush_while_the_parked_write_is_not_durable(tmp_path, qemu_72):
    compiled = compile_spec(configure(SPEC, {**SEED, "evict": "off", "migrations": 0}))
    trace = parked_counterexample(compiled)
    assert [compiled.show_step(step) for step, _ in trace.steps] == [
        "submit W0", "submit F1", "fetch W0", "fetch F1", "execute W0 nospc", "complete W0", "stop",
        "execute F1 ok", "complete F1", "settle", "resume", "observe F1"]
    path = tmp_path / "parked.json"
    path.write_text(json.dumps(trace_to_json(compiled, trace)))
    outcome = replay(str(path), spec=SPEC)
    assert outcome["verdict"] == "reproduced"
    ev = outcome["evidence"]
    assert ev["before_each_cont"] == [{"used_ring": [["F1", "ok"]], "parked": ["W0"], "image_with_cache": {"s0": None}}]
    assert ev["flush_ok_before_write_durable"] == [{"flush": "F1", "write": "W0", "write_state": "in flight"}]


# --------------------------------------------------------------------------- the spec's queues


def test_two_queues_in_the_spec(spec_cls):
    params = {"workload": "W2 W3 W4", "qdepth": 3, "guest": "nodrain", "evict": "off", "failures": 3,
              "migrations": 0}
    one = spec_cls(**params, profile="qemu-7.2")
    two = spec_cls(**params, profile="qemu-7.2", queues=2)
    nine = spec_cls(**params, profile="qemu-9.0", queues=2)
    assert two.queue == (0, 1, 0)
    assert two.restart_sequence((1, 2, 0)) == (1, 2, 0)  # one device-wide list, head first
    assert nine.restart_sequence((1, 2, 0)) == (0, 2, 1)  # per queue, each reversed, queue 0 first
    assert spec_cls(**params, profile="qemu-9.0").restart_sequence((1, 2, 0)) == (0, 2, 1)
    ex_one = explore(compile_spec(one), [], SearchOptions())
    ex_two = explore(compile_spec(two), [], SearchOptions())
    # two queues: each queue's avail and used ring is FIFO, the two are independent
    assert (len(ex_one.states), ex_one.transitions) == (3816, 8255)
    assert (len(ex_two.states), ex_two.transitions) == (4744, 10745)
    assert all(s.used1 == () or all(r % 2 == 1 for r in s.used1) for s in ex_two.states)
