"""No module of the harness names a field of a spec: what a report shows comes from the spec's views.

``modelcheck/conformance/`` is left out: it drives the real QEMU virtio-blk device and maps
what it observes onto that spec's fields by design (ARCHITECTURE.md).
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

from modelcheck.check import configure
from modelcheck.spec import compile_spec

CONFIGURATIONS = [
    ("virtio_blk.py", {}),
    ("virtio_blk.py", {"workload": "any:2"}),
    ("nvme.py", {}),
    ("nvme.py", {"workload": "VWC0 W0f R0 F", "queues": 2}),
]
# words the harness uses for its own concepts, which a spec may also use as a field name
OWN_WORDS = {"kind": "a property's kind (always, always_on_step, sometimes, at_end)",
             "observed": "a key of conformance.json: what the real device was seen to do"}
STATE_NAMES = {"s", "state", "before", "after", "first", "last", "initial"}


def spec_fields() -> set[str]:
    fields: set[str] = set()
    for name, params in CONFIGURATIONS:
        compiled = compile_spec(configure(str(ROOT / "specs" / name), params))
        fields |= set(compiled.state_class.types)
    return fields


def mentions(path: Path, fields: set[str], root: Path = ROOT) -> list[str]:
    """Where ``path`` names a field: as a string literal, or read off a state (``s.cache``)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in fields:
            out.append(f"{path.relative_to(root)}:{node.lineno}: {node.value!r}")
        if (isinstance(node, ast.Attribute) and node.attr in fields and isinstance(node.value, ast.Name)
                and node.value.id in STATE_NAMES):
            out.append(f"{path.relative_to(root)}:{node.lineno}: {node.value.id}.{node.attr}")
    return out


def test_both_specs_have_distinct_fields_to_look_for():
    fields = spec_fields()
    assert {"rq", "vm", "flight"} <= fields and {"kick", "vwc", "cache_on"} <= fields


def test_no_harness_module_names_a_field_of_either_spec():
    fields = spec_fields() - set(OWN_WORDS)
    modules = [p for p in sorted((ROOT / "modelcheck").rglob("*.py")) if "conformance" not in p.parts]
    found = [hit for p in modules for hit in mentions(p, fields)]
    assert found == []


def test_the_check_sees_a_field_name_when_there_is_one(tmp_path):
    bad = tmp_path / "renderer.py"
    bad.write_text("def lanes(s, types):\n    return s.rq, types['vwc']\n", encoding="utf-8")
    assert set(mentions(bad, {"rq", "vwc"}, tmp_path)) == {"renderer.py:2: s.rq", "renderer.py:2: 'vwc'"}
