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

from modelcheck.conformance import cli, qmp, qtest, tracelog
from modelcheck.conformance.conform import configuration, judge, observe
from modelcheck.conformance.errors import QemuError
from modelcheck.conformance.machine import ErrorRule, Machine, halting_bios, make_image, rules_text
from modelcheck.conformance.mapping import expectation
from modelcheck.conformance.scenarios import SCENARIOS, Observation, Scenario
from modelcheck.conformance.validate import Graph, edit_distance, validate
from modelcheck.conformance.virtio import Layout, config_address, sector_data, writer_of
from modelcheck.explicit import SearchOptions, explore
from modelcheck.loader import load_spec_class
from modelcheck.spec import compile_spec

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
    assert tracelog.handled_writes(records) == [2, 10, 6]
    assert tracelog.failed_writes(records) == [10, 2]
    assert tracelog.count(records, "virtio_blk_rw_complete") == 3
    assert tracelog.parse_line("") is None


def test_blkdebug_rules_and_bios():
    text = rules_text([ErrorRule(2), ErrorRule(flush=True, errno=5)])
    assert text.count("[inject-error]") == 2
    assert 'sector = "2"' in text and 'errno = "28"' in text and 'event = "flush_to_os"' in text
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
    return Observation(
        "synthetic", "W2 W10 W6", [2, 10, 6], migrations, failure_order=[0, 1, 2], io_error_events=3,
        stop_events=1, status_at_stop="io-error", used_at_stop=[], restart_order=restart,
        used_final=[[1, "ok"], [0, "ok"], [2, "ok"]], disk={"2": 0, "10": 1, "6": 2})


@pytest.fixture(scope="module")
def spec_cls():
    return load_spec_class(SPEC)


def _graph(spec_cls, scenario: Scenario, profile: str) -> Graph:
    params = configuration(spec_cls, scenario, profile)
    return Graph(explore(compile_spec(spec_cls(**params)), [], SearchOptions(keep_edges=True)))


def test_expectation_channels():
    want = expectation(Observation("x", "W2 F", [2], 0, failure_order=[0], stop_events=1,
                                   used_at_stop=[[1, "ok"]], restart_order=[0],
                                   used_final=[[1, "ok"], [0, "ok"]], disk={"2": 0}))
    assert want.channel("failures") == (0,)
    assert want.channel("restarts") == ((0,),)
    assert want.channel("used") == (("push", 1, "ok"), ("cont", (0,)), ("push", 0, "ok"))
    assert want.channel("stops") == ("stop",)
    assert want.disk == ((2, 0),)


def test_validation_finds_lifo_in_qemu_72_and_refutes_fifo(spec_cls):
    local = SCENARIOS[0]
    lifo = expectation(_observation([2, 1, 0]))
    assert validate(_graph(spec_cls, local, "qemu-7.2"), lifo).matches
    refuted = validate(_graph(spec_cls, local, "fifo"), lifo)
    assert not refuted.matches
    assert refuted.mismatch is not None
    assert refuted.mismatch.channel == "restarts"
    assert refuted.mismatch.observed == ["(W6 W10 W2)"]
    assert refuted.mismatch.allowed == ["(W2 W10 W6)"]
    assert refuted.mismatch.path[-1].startswith(("execute", "complete"))


def test_validation_refutes_a_wrong_disk(spec_cls):
    obs = _observation([2, 1, 0])
    obs.disk = {"2": 0, "10": 2, "6": 2}
    result = validate(_graph(spec_cls, SCENARIOS[0], "qemu-7.2"), expectation(obs))
    assert not result.matches and result.mismatch is not None and result.mismatch.channel == "disk"


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
    assert obs.status_at_stop == "io-error"
    assert obs.io_error_events == 3 and obs.stop_events == 1
    assert obs.failure_order == [0, 1, 2]
    assert obs.restart_order == [2, 1, 0]
    assert sorted(obs.used_final) == [[0, "ok"], [1, "ok"], [2, "ok"]]
    assert obs.disk == {"2": 0, "10": 1, "6": 2}


@needs_qemu
def test_one_migration_restarts_in_failure_order(observations, qemu_72):
    obs = observations["migrated-restart"]
    assert obs.failure_order == [0, 1, 2]
    assert obs.restart_order == [0, 1, 2]
    assert sorted(obs.used_final) == [[0, "ok"], [1, "ok"], [2, "ok"]]
    assert obs.disk == {"2": 0, "10": 1, "6": 2}


@needs_qemu
def test_flush_completes_ok_while_the_write_is_parked(observations, qemu_72):
    obs = observations["flush-while-parked"]
    assert obs.status_at_stop == "io-error"
    assert obs.failure_order == [0]
    assert obs.used_at_stop == [[1, "ok"]]
    assert obs.used_final == [[1, "ok"], [0, "ok"]]
    assert obs.disk == {"2": 0}


@needs_qemu
def test_qemu_72_conforms_and_fifo_and_qemu_90_are_refuted(observations, qemu_72, spec_cls):
    verdicts = judge(spec_cls, ["qemu-7.2", "fifo", "qemu-9.0"], list(observations.values()), SCENARIOS, {})
    assert verdicts["qemu-7.2"].verdict == "conforms"
    assert all(entry["matches"] for entry in verdicts["qemu-7.2"].scenarios.values())
    for profile, scenario in (("fifo", "local-restart"), ("qemu-9.0", "local-restart")):
        assert verdicts[profile].verdict == "refuted"
        assert verdicts[profile].refuted_by is not None
        assert verdicts[profile].refuted_by["scenario"] == scenario
        assert verdicts[profile].refuted_by["mismatch"]["channel"] == "restarts"
    assert not verdicts["qemu-9.0"].scenarios["migrated-restart"]["matches"]
    assert verdicts["fifo"].scenarios["migrated-restart"]["matches"]


@needs_qemu
def test_conform_command_writes_sorted_json(tmp_path, capsys, qemu_72):
    import argparse

    parser = argparse.ArgumentParser(prog="modelcheck")
    cli.add_parser(parser.add_subparsers())
    out = tmp_path / "results" / "conformance.json"
    base = ["conform", "--spec", SPEC, "--output", str(out)]
    args = parser.parse_args([*base, "-P", "qemu-7.2", "-P", "fifo"])
    assert args.run(args) == 0
    text = out.read_text()
    report = json.loads(text)
    assert text == json.dumps(report, sort_keys=True, indent=2) + "\n"
    assert report["conforming"] == ["qemu-7.2"]
    assert report["qemu"]["version"].startswith("7.2.")
    assert set(report["timing"]) >= {"qemu", "spec", "total"}
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
