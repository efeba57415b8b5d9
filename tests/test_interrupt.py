"""Ctrl-C, for real: SIGINT to the whole process group (as a terminal sends it) while workers run.

One line on stderr, exit 130, no worker's traceback, and results/ untouched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_results_support import ROOT, VIRTIO

from modelcheck.results import tree

BIG = ["--set", "guest=nodrain", "--set", "workload=W0 W1 F W2 F"]  # a few seconds of interpreted search


def interrupt(argv: list[str], delay: float = 2.0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.Popen([sys.executable, "-m", "modelcheck", *argv, "--no-progress"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    time.sleep(delay)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize("argv", [
    ["check", str(VIRTIO), *BIG, "--interpreted", "--workers", "2", "-q"],
    ["matrix", "specs/matrix.toml", "-j", "2"],
    ["gate", "-j", "2"],
])
def test_ctrl_c_is_one_line_and_exit_130(argv: list[str]) -> None:
    done = interrupt(argv)
    assert done.returncode == 130, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("modelcheck: interrupted"), done.stderr


def test_ctrl_c_during_run_leaves_results_as_they_were(tmp_path: Path) -> None:
    out = tmp_path / "results"
    tree.write_tree(out, {"verdicts.json": "old\n"})
    before = tree.read_tree(out)
    done = interrupt(["run", "--output", str(out), "-j", "2"])
    assert done.returncode == 130, done.stderr
    assert done.stderr.count("\n") == 1 and "left as it was" in done.stderr, done.stderr
    assert tree.read_tree(out) == before
