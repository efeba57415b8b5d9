"""The results/ tree: every file built in memory from a run, written beside results/, then swapped in.

Layout (all names derive from case and property names, nothing from time or place):

- ``verdicts.json`` — :mod:`.store`; ``REPORT.md`` — :mod:`.report`; ``index.html`` — the
  same content as a web page (:mod:`.html`)
- ``timings.json`` — the run's timings and machine facts, the one file that changes from
  run to run (``.gitignore`` names it, so two runs leave ``git status`` clean)
- ``traces/<case>~<property>.txt | .json | .itf.json | .svg`` — one set per counterexample
- ``graphs/<case>~<property>.dot | .svg`` — a few tiny cases (:func:`.graphs.pick_graph_cases`)

Writing never leaves a half-written results/: the new tree goes into a temporary
directory next to it, and only once complete is it renamed into place (the old
tree is renamed aside first and removed last, with Ctrl-C held off between the two
renames). Any failure or interrupt before the swap removes the temporary directory
and leaves the previous results/ as it was. Entries of results/ that other tools
write (``conformance.json``, anything not in :data:`MANAGED`) are copied into the
new tree unchanged.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..atomic import umask_mode, unwritable_parent
from ..check import configure
from ..errors import ResultsError
from ..spec import compile_spec
from ..trace import trace_from_json
from ..views import DEFAULT, Views, views_of
from . import graphs, html, report, store, svg, traces
from .blocks import Block, to_markdown

STABLE_EXCEPTIONS = ("graphs/*.svg",)  # Graphviz's output: depends on the installed Graphviz
MANAGED = frozenset({store.VERDICTS_FILE, store.TIMINGS_FILE, "REPORT.md", "index.html", "traces", "graphs"})


def build_files(doc: Mapping[str, Any], case_records: list[Mapping[str, Any]], spec_paths: Mapping[str, str],
                *, with_graphs: bool = True, real_device: Sequence[Block] = ()) -> dict[str, str]:
    """Every file of results/ as ``{relative path: text}``.

    ``doc`` is the verdicts document (:func:`.store.build_verdicts`), ``case_records``
    the matrix records it came from (they carry the full traces) and ``spec_paths``
    maps each case to its spec file (what the files show is relative, see
    :func:`.store.portable_path`). ``real_device``: the report's finished real-device
    section (see :func:`add_report`).
    """
    files = data_files(doc, case_records, spec_paths, with_graphs=with_graphs)
    add_report(files, doc, spec_paths, real_device=real_device)
    return files


def data_files(doc: Mapping[str, Any], case_records: list[Mapping[str, Any]], spec_paths: Mapping[str, str],
               *, with_graphs: bool = True) -> dict[str, str]:
    """Every file of results/ but the report (REPORT.md, index.html): verdicts, traces, graphs."""
    files: dict[str, str] = {store.VERDICTS_FILE: store.render(doc), store.TIMINGS_FILE: store.render_timings(doc)}
    by_case = {rec["case"]: rec for rec in case_records}
    trace_data: dict[tuple[str, str], Mapping[str, Any]] = {}
    for rec in doc["records"]:
        if rec["trace"] is None:
            continue
        case = rec["case"]
        source = by_case[case]
        result = next(r for r in source["results"] if r["property"] == rec["property"] and r["engine"] == rec["engine"])
        if result.get("trace") is None:
            continue
        trace_data[(case, rec["property"])] = result["trace"]
        files.update(counterexample_files(rec, doc["cases"][case]["params"], spec_paths[case], result["trace"]))
    if with_graphs:
        for case, prop in graphs.pick_graph_cases(doc):
            stem = f"graphs/{traces.trace_stem(case, prop)}"
            dot = graphs.graph_dot(spec_paths[case], doc["cases"][case]["params"], trace_data[(case, prop)],
                                   f"{case}: counterexample to {prop}")
            files[f"{stem}.dot"] = dot
            picture = graphs.render_svg(dot)
            if picture is not None:
                files[f"{stem}.svg"] = picture
    return files


def add_report(files: dict[str, str], doc: Mapping[str, Any], spec_paths: Mapping[str, str],
               *, real_device: Sequence[Block] = ()) -> None:
    """Add REPORT.md and index.html to ``files`` (built by :func:`data_files`): one part per spec
    when the matrix has several, the real-device section that the ``run`` command made in the
    part of the spec whose views name a replay (the tree never runs a device)."""
    graph_files = sorted(p for p in files if p.startswith("graphs/"))
    pieces = []
    placed = False
    for spec_name, part in split_by_spec(doc):
        views, notes = spec_views(spec_paths, part)
        groups = {c["group"] for c in part["cases"].values()}
        mine = [g for g in graph_files if g.split("/", 1)[1].split("~", 1)[0] in groups]
        section = real_device if views.replay and not placed else ()
        placed = placed or bool(section)
        pieces.append((spec_name, report.blocks(part, graph_files=mine, views=views, notes=notes,
                                                real_device=section)))
    if len(pieces) == 1:
        content = pieces[0][1]
    else:
        content = report.parts([(name.lower(), f"{name} ({store.portable_path(spec_file(spec_paths, doc, name))})",
                                 blocks) for name, blocks in pieces])
    files["REPORT.md"] = to_markdown(content)
    files["index.html"] = html.render(content)


def split_by_spec(doc: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The verdicts document cut into one per spec (by class name, in the matrix's order)."""
    names: list[str] = []
    for case in doc["cases"].values():
        if case["spec"] not in names:
            names.append(case["spec"])
    if len(names) <= 1:
        return [(names[0] if names else "", dict(doc))]
    out = []
    for name in names:
        cases = {k: c for k, c in doc["cases"].items() if c["spec"] == name}
        out.append((name, {**doc, "cases": cases, "records": [r for r in doc["records"] if r["case"] in cases]}))
    return out


def spec_file(spec_paths: Mapping[str, str], doc: Mapping[str, Any], name: str) -> str:
    """The spec file of the first case whose spec class is ``name``."""
    return next(spec_paths[c] for c, case in doc["cases"].items() if case["spec"] == name)


def spec_views(spec_paths: Mapping[str, str], doc: Mapping[str, Any]) -> tuple[Views, report.SpecNotes]:
    """The views and docstrings of a document's spec (its first case's; each part of a report speaks of one)."""
    if not doc["cases"]:
        return DEFAULT, report.SpecNotes()
    case = next(iter(doc["cases"]))
    compiled = compile_spec(configure(spec_paths[case], doc["cases"][case]["params"]))
    spec = compiled.spec
    notes = report.SpecNotes(
        properties={p.name: (p.kind, first_sentence(p.doc)) for p in compiled.properties.values()},
        assumptions={a.name: first_sentence(a.doc) for a in compiled.assumptions.values()},
        parameters={name: param.doc for name, param in type(spec).parameters().items()},
    )
    return views_of(type(spec)), notes


def first_sentence(text: str) -> str:
    """The first sentence of a docstring, on one line."""
    joined = " ".join((text or "").split())
    end = joined.find(". ")
    return joined[: end + 1] if end >= 0 else joined


def counterexample_files(rec: Mapping[str, Any], params: Mapping[str, Any], spec_path: str,
                         trace_data: Mapping[str, Any]) -> dict[str, str]:
    """The .txt, .json, .itf.json and .svg of one counterexample record."""
    compiled = compile_spec(configure(spec_path, params))
    trace = trace_from_json(compiled, trace_data)
    case, prop, stem = rec["case"], rec["property"], rec["trace"]
    shown = store.portable_path(spec_path)
    command = traces.reproduce_command(shown, params, prop)
    return {
        f"{stem}.txt": traces.trace_text(compiled, trace, case=case, prop=prop, verdict=rec["verdict"],
                                         command=command),
        f"{stem}.json": traces.trace_json(compiled, trace, case=case),
        f"{stem}.itf.json": traces.itf_text(compiled, trace, case=case, source=shown),
        f"{stem}.svg": svg.sequence_svg(compiled, trace, case=case, params=params, verdict=rec["verdict"]),
    }


def write_tree(target: str | Path, files: Mapping[str, str],
               before_swap: Callable[[Path], None] | None = None) -> None:
    """Replace directory ``target`` by exactly ``files``, atomically as seen by a reader.

    ``before_swap`` is called with the finished temporary directory (tests use it to
    fail at the last moment). ResultsError when ``target`` holds something that is
    not a results tree, so that a mistyped ``--output`` never deletes a user's files.
    """
    target = Path(target)
    _check_replaceable(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    try:
        os.chmod(tmp, umask_mode(0o777))  # mkdtemp makes 0700; results/ is the user's, as mkdir would make it
        for rel, text in sorted(files.items()):
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
        _carry_over(target, tmp)
        if before_swap is not None:
            before_swap(tmp)
        _swap(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def check_output(target: str | Path) -> None:
    """ResultsError now, before any work, when ``target`` could not be replaced by a results tree later."""
    target = Path(target)
    _check_replaceable(target)
    problem = unwritable_parent(target, "--output")
    if problem:
        raise ResultsError(problem)


def _check_replaceable(target: Path) -> None:
    """ResultsError when ``target`` holds a traces/ or graphs/ that modelcheck did not write."""
    if not target.exists():
        return
    if not target.is_dir():
        raise ResultsError(f"{target}: exists and is not a directory; choose another --output")
    entries = {p.name for p in target.iterdir()}
    if entries & MANAGED and store.VERDICTS_FILE not in entries:
        clash = ", ".join(sorted(entries & MANAGED))
        raise ResultsError(f"{target}: has {clash} but no {store.VERDICTS_FILE}, so modelcheck did not write them; "
                           "choose another --output or move them away first")


def _carry_over(target: Path, new: Path) -> None:
    """Copy the entries of ``target`` that modelcheck does not manage into the new tree."""
    if not target.is_dir():
        return
    for entry in sorted(target.iterdir()):
        if entry.name in MANAGED or (new / entry.name).exists():
            continue
        if entry.is_dir():
            shutil.copytree(entry, new / entry.name, symlinks=True)
        else:
            shutil.copy2(entry, new / entry.name, follow_symlinks=False)


def _swap(new: Path, target: Path) -> None:
    """Rename ``new`` to ``target``; the old ``target`` goes aside first and is removed last."""
    old = target.parent / f".{target.name}.old-{new.name.rsplit('-', 1)[-1]}"
    with _sigint_held():
        if target.exists():
            os.rename(target, old)
        try:
            os.rename(new, target)
        except BaseException:
            if old.exists() and not target.exists():
                os.rename(old, target)
            raise
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _sigint_held() -> Iterator[None]:
    """Delay Ctrl-C until the block ends (only where the platform can block signals)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def read_tree(root: str | Path) -> dict[str, bytes]:
    """Every file below ``root`` as ``{relative path: bytes}`` (for determinism checks)."""
    root = Path(root)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
