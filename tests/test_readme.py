"""The README's spec example runs as written."""

import re

from conftest import ROOT

from modelcheck.check import check
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
