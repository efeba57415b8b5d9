"""docs/model.md covers the spec it describes, and nothing the project ships cites files outside it."""

from __future__ import annotations

from conftest import ROOT

from modelcheck.check import configure
from modelcheck.spec import compile_spec

MODEL = (ROOT / "docs" / "model.md").read_text()


def test_model_page_names_every_action_property_and_profile() -> None:
    compiled = compile_spec(configure(str(ROOT / "specs" / "virtio_blk.py"), {}))
    spec_module = __import__(type(compiled.spec).__module__)
    for name in [*compiled.actions, *compiled.properties]:
        if name == "complete_device_flush":  # the device's own flush, described under its profile
            continue
        assert f"`{name}" in MODEL, name
    for profile in getattr(spec_module, "PROFILES", {}) or type(compiled.spec).parameters()["profile"].allowed:
        assert f"`{profile}`" in MODEL, profile


def test_nothing_cites_files_outside_the_repository() -> None:
    for path in [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *sorted((ROOT / "specs").glob("*.py")),
                 *sorted((ROOT / "docs").glob("*.md"))]:
        assert "../shared" not in path.read_text(), path
    assert "docs/model.md" in (ROOT / "README.md").read_text()
    assert "docs/model.md" in (ROOT / "specs" / "virtio_blk.py").read_text()
