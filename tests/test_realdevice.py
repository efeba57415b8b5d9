"""The report's real-device section: built from conformance.json and a replay outcome, written by `run`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_results_support import ROOT, VIRTIO

from modelcheck.cli import main
from modelcheck.results import html, realdevice
from modelcheck.results.blocks import MAX_LINE, to_markdown
from modelcheck.results.cli import replay_on_device

SEED = ("seed~guest=nodrain", "barrier")
SEED_TRACE = ROOT / "results" / "traces" / "seed~guest=nodrain~barrier.json"

CONFORMANCE = {
    "qemu": {"version": "7.2.99 (test)"},
    "scenarios": [{"name": "a"}, {"name": "b"}],
    "generated": {"count": 3, "coverage": {
        "action_instances": {"matched": 3, "total": 4, "fraction": 0.75},
        "transitions": {"matched": 10, "total": 40, "fraction": 0.25},
        "states": {"matched": 5, "total": 8, "fraction": 0.625},
        "unmatched_instances": ["migrate"]}},
    "profiles": {
        "fifo": {"verdict": "refuted", "scenarios": ["a", "b"], "refuted_by": {
            "scenario": "b", "mismatch": {"channel": "restarts", "observed": ["(W6 W2)"], "allowed": ["(W2 W6)"]}}},
        "qemu-7.2": {"verdict": "conforms", "scenarios": ["a", "b"], "refuted_by": None},
    },
}
REPLAYED = realdevice.Replayed(*SEED, "traces/seed~guest=nodrain~barrier", "reproduced",
                               ("replay of x: reproduced", "  ok  1 submit W0  queued <on> the ring"))


def test_the_section_shows_coverage_verdicts_and_the_replay() -> None:
    blocks = realdevice.section(CONFORMANCE, REPLAYED)
    text = to_markdown(blocks)
    assert text.startswith("## The real device")
    assert "QEMU 7.2.99 (test) through 2 hand-written scenarios and 3 scenarios generated" in text
    assert "| action instances | 3 | 4 | 75.0% |" in text
    assert "| states | 5 | 8 | 62.5% |" in text
    assert "`migrate`" in text
    assert ("| `fifo` | refuted | scenario `b`: restarts observed `(W6 W2)`, "
            "the nearest the profile allows `(W2 W6)` |") in text
    assert "| `qemu-7.2` | conforms | — |" in text
    assert "**reproduced**" in text
    assert "```\nreplay of x: reproduced\n  ok  1 submit W0  queued <on> the ring\n```" in text
    assert "traces/seed~guest=nodrain~barrier.svg" in text
    assert all(len(line) <= MAX_LINE for line in text.splitlines() if not line.startswith("["))
    page = html.render(blocks)
    assert "<pre>replay of x: reproduced\n  ok  1 submit W0  queued &lt;on&gt; the ring</pre>" in page
    assert 'href="traces/seed~guest=nodrain~barrier.svg"' in page


def test_the_flush_that_fails_for_good_is_shown_against_each_flush_error_setting() -> None:
    doc = {**CONFORMANCE, "flush_errors": {
        "scenarios": [{"name": "flush-fails-for-good", "doc": "every flush fails"}],
        "verdicts": {"flush-fails-for-good": {
            "transient": {"matches": True, "mismatch": None},
            "sticky": {"matches": False, "mismatch": {"channel": "all"}}}}}}
    text = to_markdown(realdevice.section(doc, None))
    assert "| `flush-fails-for-good` | `flush_error=transient` | matches | — |" in text
    assert "| `flush-fails-for-good` | `flush_error=sticky` | refuted | no path, even with any one channel" in text
    assert "flush_error" not in to_markdown(realdevice.section(CONFORMANCE, None))


def test_without_conformance_or_replay_each_says_why_in_one_line() -> None:
    text = to_markdown(realdevice.section(None, realdevice.Replayed(*SEED, "traces/t", note="QEMU is missing.")))
    assert "run `modelcheck conform`" in text
    assert "was not replayed on the device: QEMU is missing." in text
    assert "```" not in text
    assert "this run has none" in to_markdown(realdevice.section(None, realdevice.Replayed(*SEED)))
    assert realdevice.section(None, None) == []


def _seed_matrix(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "matrix.toml"
    path.write_text(f'spec = "{VIRTIO.as_posix()}"\n\n[defaults]\nworkload = "W0 F"\nqdepth = 2\nevict = "on"\n'
                    'failures = 1\nmigrations = 1\n\n[[grid]]\nname = "seed"\nguest = ["drain", "nodrain"]\n')
    return path


def test_run_reads_conformance_json_and_says_when_qemu_is_missing(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    matrix = _seed_matrix(tmp_path / "m")
    out = tmp_path / "out"
    out.mkdir()
    (out / "conformance.json").write_text(json.dumps(CONFORMANCE))
    monkeypatch.setattr("modelcheck.conformance.machine.shutil.which", lambda name: None)
    args = ["run", "-m", str(matrix), "-o", str(out), "-j", "1", "--no-progress"]
    assert main(args) == 0
    first = (out / "REPORT.md").read_text()
    assert "| transitions | 10 | 40 | 25.0% |" in first
    assert "was not replayed on the device: qemu-system-x86_64 is not installed" in " ".join(first.split())
    assert "not installed" in (out / "index.html").read_text()
    assert json.loads((out / "conformance.json").read_text()) == CONFORMANCE  # carried over unchanged
    assert main(args) == 0
    assert (out / "REPORT.md").read_text() == first  # deterministic
    assert main([*args, "--no-replay"]) == 0
    assert "not replayed on the device: `--no-replay` was given." in " ".join((out / "REPORT.md").read_text().split())


def test_a_corrupt_conformance_json_stops_run_before_any_work(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "conformance.json").write_text("{not json")
    assert main(["run", "-m", str(_seed_matrix(tmp_path / "m")), "-o", str(out), "--no-progress"]) == 2
    assert sorted(p.name for p in out.iterdir()) == ["conformance.json"]


@pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="QEMU is not installed")
def test_the_seed_counterexample_is_reproduced_on_qemu() -> None:
    replayed = replay_on_device(*SEED, "traces/seed~guest=nodrain~barrier", json.loads(SEED_TRACE.read_text()),
                                str(VIRTIO))
    assert replayed.verdict == "reproduced", replayed.note or "\n".join(replayed.lines)
    assert any(line.startswith("  violation on the device: the guest took F1 complete with OK while W0")
               for line in replayed.lines)
    assert "**reproduced**" in to_markdown(realdevice.section(None, replayed))
