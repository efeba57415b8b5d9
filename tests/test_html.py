"""results/index.html: static, every link resolves, and a real headless browser shows it without a console error."""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_results_support import write_matrix

from modelcheck.cli import main

CHROMIUM = next((p for p in (shutil.which("chromium"), "/usr/bin/chromium") if p and os.path.exists(p)), None)


class Page(HTMLParser):
    """Every id, every link target (href, src, data) and the tables of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.targets: list[str] = []
        self.tables: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        for key in ("href", "src", "data"):
            if a.get(key):
                self.targets.append(a[key] or "")
        if tag == "table":
            self.tables.append(a.get("class") or "")
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("html")
    out = base / "results"
    assert main(["run", "--matrix", str(write_matrix(base / "m")), "--output", str(out), "-j", "1",
                 "--no-progress"]) == 0
    return out


def _page(site: Path) -> Page:
    page = Page()
    page.feed((site / "index.html").read_text(encoding="utf-8"))
    return page


def test_page_is_static_and_every_link_resolves(site: Path) -> None:
    page = _page(site)
    assert page.targets
    for target in page.targets:
        assert not target.startswith(("http:", "https:", "//")), target  # no network
        if target.startswith("#"):
            assert target == "#" or target[1:] in page.ids, target
        else:
            assert (site / target.replace("%20", " ")).is_file(), target


def test_page_has_the_reports_content(site: Path) -> None:
    text = (site / "index.html").read_text(encoding="utf-8")
    report = (site / "REPORT.md").read_text(encoding="utf-8")
    for heading in [line[3:].split(" <a")[0] for line in report.splitlines() if line.startswith("## ")]:
        assert f">{heading}</h2>" in text, heading
    page = _page(site)
    assert page.tables and all("sortable" in c for c in page.tables)
    assert "sortTable" in "".join(page.scripts)
    assert text.count("<details>") >= 1 and 'class="diagram"' in text  # diagrams inline and on click
    if any((site / "graphs").glob("*.svg")):
        assert '<object type="image/svg+xml" data="graphs/' in text  # SVG documents keep their hover titles


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
def test_headless_chromium_shows_it_without_console_errors(site: Path, tmp_path: Path) -> None:
    shot = tmp_path / "index.png"
    done = subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--enable-logging=stderr", "--v=0", f"--screenshot={shot}", "--window-size=1280,1000",
                           "--virtual-time-budget=3000", (site / "index.html").as_uri()],
                          capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path)
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console
    assert shot.is_file() and shot.stat().st_size > 20_000, done.stderr[-2000:]  # a page, not a blank
    keep = os.environ.get("MODELCHECK_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
