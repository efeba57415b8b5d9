"""The report as blocks (headings, paragraphs, lists, tables, code), written out as Markdown here and as HTML by :mod:`.html`.

One content, two renderers: REPORT.md and index.html say the same thing because both
are printed from the same list of blocks. Inline text is a list of parts, each a
string (with Markdown's `code` spans, which the HTML renderer turns into <code>) or a
:class:`Link`. Tables in Markdown put their links in reference definitions under the
table, so that no line grows longer than a screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

MAX_LINE = 160  # no line of REPORT.md is longer (reference definitions of long file names aside)


@dataclass(frozen=True)
class Link:
    """A link: its text, its target (relative to results/, or ``#anchor``) and a hover title."""

    text: str
    href: str
    title: str = ""


Inline = str | Link


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    anchor: str = ""


@dataclass(frozen=True)
class Para:
    parts: Sequence[Inline]


@dataclass(frozen=True)
class Bullets:
    items: Sequence[Sequence[Inline]]


@dataclass(frozen=True)
class Table:
    """A table; ``numeric`` names the columns that sort and align as numbers."""

    header: Sequence[str]
    rows: Sequence[Sequence[Sequence[Inline]]]
    numeric: frozenset[int] = field(default_factory=frozenset)
    anchors: Sequence[str] = ()  # one per row ('' for none): an id to link to the row


@dataclass(frozen=True)
class Figure:
    """A picture (an SVG file of results/) shown inline in HTML, linked in Markdown."""

    href: str
    caption: str


@dataclass(frozen=True)
class Code:
    """Preformatted lines (a tool's own output), shown as they are: a fenced block, or <pre>."""

    lines: Sequence[str]


Block = Heading | Para | Bullets | Table | Figure | Code


def url(path: str) -> str:
    """A relative file path as a link target."""
    return path.replace(" ", "%20")


def to_markdown(blocks: Sequence[Block]) -> str:
    """REPORT.md's text."""
    out: list[str] = []
    refs: dict[str, str] = {}  # link target -> reference key, for the whole document
    for block in blocks:
        if isinstance(block, Heading):
            anchor = f'<a id="{block.anchor}"></a>' if block.anchor else ""
            out += ["#" * block.level + " " + block.text + (" " + anchor if anchor else ""), ""]
        elif isinstance(block, Para):
            known = set(refs)
            out += [*_wrap(_inline(block.parts, refs)), ""]
            out += _definitions(refs, known)
        elif isinstance(block, Bullets):
            known = set(refs)
            for item in block.items:
                lines = _wrap(_inline(item, refs), MAX_LINE - 2)
                out += ["- " + lines[0], *("  " + line for line in lines[1:])]
            out.append("")
            out += _definitions(refs, known)
        elif isinstance(block, Table):
            out += _table(block, refs)
        elif isinstance(block, Figure):
            known = set(refs)
            out += [f"- {block.caption}: {_inline([Link('picture', block.href)], refs)}", ""]
            out += _definitions(refs, known)
        elif isinstance(block, Code):
            out += ["```", *block.lines, "```", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def _definitions(refs: dict[str, str], known: set[str]) -> list[str]:
    """Reference definitions for the link targets first used by the block just written."""
    new = [f"[{key}]: {url(href)}" for href, key in refs.items() if href not in known]
    return [*new, ""] if new else []


def _inline(parts: Sequence[Inline], refs: dict[str, str] | None = None) -> str:
    """Inline parts as Markdown; with ``refs``, links to files become reference links (short lines)."""
    text = []
    for part in parts:
        if isinstance(part, Link):
            if refs is None or part.href.startswith("#"):
                text.append(f"[{part.text}]({url(part.href)})")
            else:
                key = refs.setdefault(part.href, f"{len(refs) + 1}")
                text.append(f"[{part.text}][{key}]")
        else:
            text.append(part)
    return "".join(text)


def _wrap(text: str, width: int = MAX_LINE) -> list[str]:
    """Break a paragraph at spaces so that no line passes ``width`` (a link's target is never broken)."""
    words = text.split(" ")
    lines: list[str] = []
    line = ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return lines


def _table(table: Table, refs: dict[str, str]) -> list[str]:
    known = set(refs)
    align = ["---:" if i in table.numeric else "---" for i in range(len(table.header))]
    out = ["| " + " | ".join(table.header) + " |", "|" + "|".join(align) + "|"]
    for n, row in enumerate(table.rows):
        cells = [_inline(cell, refs).replace("|", "\\|") for cell in row]
        anchor = table.anchors[n] if n < len(table.anchors) else ""
        if anchor and cells:
            cells[0] = f'<a id="{anchor}"></a>{cells[0]}'
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    return out + _definitions(refs, known)
