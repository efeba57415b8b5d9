"""The import graph: no cycle, and no module imports one from a higher layer (ARCHITECTURE.md).

Every ``import`` counts, also those inside functions (they hide a dependency, not remove
it); only imports under ``if TYPE_CHECKING:`` (annotations) do not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "modelcheck"

# Layers from the bottom up; a module's layer is that of its longest matching prefix.
LAYERS: list[tuple[str, ...]] = [
    ("modelcheck.errors", "modelcheck.lazy"),
    ("modelcheck.types", "modelcheck.atomic"),
    ("modelcheck.state", "modelcheck.ops"),
    ("modelcheck.spec", "modelcheck.symmetry", "modelcheck.loader", "modelcheck.trace", "modelcheck.verdict",
     "modelcheck"),  # the package itself re-exports the spec API
    ("modelcheck.symbolic.identity",),  # what the z3 core refuses to run symbolically
    ("modelcheck.symbolic.values", "modelcheck.symbolic.layout", "modelcheck.symbolic.encode",
     "modelcheck.symbolic"),  # the z3 core the compiled backend runs spec code on
    # the explicit engine, bottom up
    ("modelcheck.explicit.flat", "modelcheck.explicit.options", "modelcheck.explicit.successors",
     "modelcheck.explicit.memory", "modelcheck.explicit.cycles", "modelcheck.explicit.liveness"),
    ("modelcheck.explicit.exploration", "modelcheck.explicit.compact", "modelcheck.explicit.interpreted"),
    ("modelcheck.explicit.stores", "modelcheck.explicit.parallel", "modelcheck.explicit.reductions",
     "modelcheck.explicit.compiled"),
    ("modelcheck.explicit.native", "modelcheck.explicit.levels", "modelcheck.explicit.ranks",
     "modelcheck.explicit.checkpoint", "modelcheck.explicit.kernels", "modelcheck.explicit.peeling"),
    ("modelcheck.explicit.search",),
    ("modelcheck.explicit.plan",),
    ("modelcheck.explicit.engine", "modelcheck.explicit.distributed", "modelcheck.explicit"),
    # engines that use the explicit search, and what builds on one check
    ("modelcheck.symbolic.bmc", "modelcheck.symbolic.chc", "modelcheck.symbolic.compact",
     "modelcheck.symbolic.houdini", "modelcheck.symbolic.saturation",
     "modelcheck.symbolic.kinduction", "modelcheck.symbolic.certificate", "modelcheck.symbolic.assumptions",
     "modelcheck.symbolic.prove", "modelcheck.symbolic.lasso", "modelcheck.graph", "modelcheck.check",
     "modelcheck.simulate", "modelcheck.profile", "modelcheck.parametric"),
    ("modelcheck.matrix", "modelcheck.results", "modelcheck.conformance", "modelcheck.symbolic.cli",
     "modelcheck.parametric.cli"),
    ("modelcheck.cli", "modelcheck.__main__"),
]
# Modules of the symbolic package below the explicit engine; every other one of it is above.
SYMBOLIC_CORE = {"modelcheck.symbolic.identity", "modelcheck.symbolic.values", "modelcheck.symbolic.layout",
                 "modelcheck.symbolic.encode"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    best, rank = -1, -1
    for i, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best:
                best, rank = len(name), i
    if module.startswith("modelcheck.symbolic.") and module not in SYMBOLIC_CORE and rank <= 5:
        rank = 13  # a new prover or symbolic helper: above the explicit engine unless listed
    return rank


def imports(path: Path, module: str) -> set[str]:
    """The modelcheck modules ``path`` imports (resolved to module names, type-checking ones left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    known = {module_name(p) for p in PACKAGE.rglob("*.py")}
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("modelcheck"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("modelcheck"):
                target = node.module
            else:
                continue
            for alias in node.names:  # `from . import x` may name a module
                sub = f"{target}.{alias.name}"
                out.add(sub if sub in known else target)
    out.discard(module)
    return out


def graph() -> nx.DiGraph:
    g = nx.DiGraph()
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        g.add_node(module)
        for target in imports(path, module):
            g.add_edge(module, target)
    return g


def test_every_module_has_a_layer():
    assert [m for m in graph() if layer(m) < 0] == []


def test_no_import_cycle():
    g = graph()
    # a package's __init__ re-exporting its own modules is not a cycle of responsibilities
    g.remove_edges_from([(a, b) for a, b in list(g.edges) if b.startswith(a + ".")])
    assert list(nx.simple_cycles(g)) == []


def test_nothing_imports_upward():
    upward = [(a, b) for a, b in graph().edges if layer(b) > layer(a) and not b.startswith(a + ".")]
    assert upward == []


def test_the_search_loop_imports_no_mode():
    """The loop knows the protocols only: no backend, store choice, reduction or plan."""
    loop = imports(PACKAGE / "explicit" / "search.py", "modelcheck.explicit.search")
    assert loop <= {"modelcheck.explicit.exploration", "modelcheck.explicit.options", "modelcheck.explicit.stores",
                    "modelcheck.explicit.successors"}


def test_the_search_loop_fits_one_screen():
    source = (PACKAGE / "explicit" / "search.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    loop = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "search")
    assert loop.end_lineno - loop.lineno + 1 <= 50
