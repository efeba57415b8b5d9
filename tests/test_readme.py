"""The README runs as written: its spec example, and every command it prints (a tagged few are only parsed)."""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from modelcheck.check import check
from modelcheck.cli import build_parser
from modelcheck.verdict import Verdict


def test_readme_spec_example_checks():
    text = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    run = check(namespace["Counter"]())
    assert [r.verdict for r in run.results] == [Verdict.HOLDS]
    assert len(run.exploration.states) == 4


def test_readme_starts_with_the_two_commands():
    lines = (ROOT / "README.md").read_text().splitlines()[:4]
    assert any("pip install -e ." in line and "modelcheck run" in line for line in lines)
    assert any("pip install -e '.[test]'" in line and "pytest" in line for line in lines)


# Commands the README prints that this test only parses, with the reason: each is run elsewhere
# (CI runs `run`'s gate and `conform`; the test suite runs pytest) or rewrites the checkout's results/.
PARSED_ONLY = {"run": "writes results/ (the whole matrix)", "gate": "the whole matrix; CI runs it",
               "conform": "needs QEMU; tests/test_conformance.py runs it"}


def readme_commands() -> list[str]:
    """Every command line of the README's indented code blocks that starts with `modelcheck` (joined at '\\')."""
    lines = (ROOT / "README.md").read_text().splitlines()
    out: list[str] = []
    joined = ""
    for line in lines:
        if not line.startswith("    ") or line.startswith("     "):
            if joined and line.startswith("     "):
                joined += " " + line.strip().rstrip("\\").strip()
                if not line.rstrip().endswith("\\"):
                    out.append(joined)
                    joined = ""
            continue
        text = line.strip()
        if text.startswith("modelcheck "):
            if text.endswith("\\"):
                joined = text.rstrip("\\").strip()
            else:
                out.append(text)
    return [c.split("  #", 1)[0].strip() for c in out]


def test_readme_commands_are_found():
    commands = readme_commands()
    assert len(commands) >= 12
    assert any("profile=qemu-2010 --set order=fifo -p barrier" in c for c in commands)  # a joined continuation


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_runs_as_printed(command: str, tmp_path: Path) -> None:
    argv = shlex.split(command)[1:]
    assert not any(a.startswith("[") or a == "..." for a in argv), f"placeholder in {command!r}"
    build_parser().parse_args(argv)  # every option exists, every value parses
    if argv[0] in PARSED_ONLY:
        pytest.skip(f"parsed only: {PARSED_ONLY[argv[0]]}")
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    done = subprocess.run([sys.executable, "-m", "modelcheck", *argv], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300, check=False)
    assert done.returncode in (0, 1), done.stderr[-2000:]  # 1: the README's examples show violations on purpose
    assert "Traceback" not in done.stderr
