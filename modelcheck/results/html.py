"""index.html: the report's blocks as one static web page (no server, no network), beside REPORT.md.

Same content as REPORT.md (both are printed from :func:`.report.blocks`), plus what a
browser adds: tables sort when their header is clicked, a counterexample's sequence
diagram opens inline beside the page when its mark is clicked (and the answer's
diagrams unfold under each sentence), and graph pictures are embedded as SVG
documents, so that hovering a state shows its fields. Everything is relative to
results/; the page's script and style are inline, so the page works from a file.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from .blocks import Block, Bullets, Code, Figure, Heading, Inline, Link, Para, Table, url

STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
main{max-width:1180px;margin:0 auto;padding:12px 28px 60px}
nav{position:sticky;top:0;background:#263238;padding:8px 28px;z-index:2}
nav a{color:#eceff1;margin-right:18px;text-decoration:none;font-size:14px}
h1{font-size:26px;margin:18px 0 6px}h2{border-bottom:2px solid #cfd8dc;padding-bottom:3px;margin-top:34px}
code{background:#eceff1;padding:0 3px;border-radius:3px;font-size:90%}
pre{background:#eceff1;padding:8px;overflow-x:auto;font-size:12px;line-height:1.35}
#answer+p+ul li{margin-bottom:10px;background:#fff;border-left:4px solid #1565c0;padding:6px 10px}
table{border-collapse:collapse;margin:8px 0 18px;background:#fff;font-size:14px}
th,td{border:1px solid #cfd8dc;padding:3px 8px;text-align:left;white-space:nowrap}
th{background:#eceff1;cursor:pointer;user-select:none}th[data-dir=asc]::after{content:" ▲"}
th[data-dir=desc]::after{content:" ▼"}td.n,th.n{text-align:right}
td a{color:#c62828;font-weight:bold;text-decoration:none}tr:target{background:#fff59d}
details{margin:4px 0 0}details img{max-width:100%;border:1px solid #cfd8dc;background:#fff}
figure{margin:10px 0 24px}figure object{max-width:100%;border:1px solid #cfd8dc;background:#fff}
#viewer{position:fixed;top:40px;right:0;width:52%;height:calc(100% - 40px);background:#fff;
 border-left:3px solid #263238;overflow:auto;z-index:3;box-shadow:-4px 0 12px #0003}
#viewer header{position:sticky;top:0;background:#eceff1;padding:6px 10px;font-size:13px}
#viewer button{float:right}#viewer img{width:100%}
"""

SCRIPT = """
function sortKey(text, numeric) {
  if (numeric) { return parseFloat(text) || 0; }
  var rank = {"✗": "0", "?": "1", "≤": "2", "✓": "3", "★": "4", "○": "5", "●": "6", "·": "7"};
  var first = text.charAt(0);
  return (rank[first] || "8") + text;
}
function sortTable(table, index, th) {
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var numeric = th.classList.contains("n");
  var dir = th.dataset.dir === "asc" ? -1 : 1;
  table.querySelectorAll("th").forEach(function (h) { delete h.dataset.dir; });
  th.dataset.dir = dir === 1 ? "asc" : "desc";
  rows.sort(function (a, b) {
    var x = sortKey(a.cells[index].textContent.trim(), numeric);
    var y = sortKey(b.cells[index].textContent.trim(), numeric);
    return dir * (x < y ? -1 : x > y ? 1 : 0);
  });
  rows.forEach(function (r) { body.appendChild(r); });
}
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, i) {
    th.addEventListener("click", function () { sortTable(table, i, th); });
  });
});
document.addEventListener("click", function (event) {
  var a = event.target.closest("a.diagram");
  if (!a) { return; }
  event.preventDefault();
  var viewer = document.getElementById("viewer");
  viewer.querySelector("img").src = a.getAttribute("href");
  viewer.querySelector("span").textContent = a.title || a.getAttribute("href");
  viewer.querySelector("a").href = a.getAttribute("href");
  viewer.hidden = false;
});
document.getElementById("close").addEventListener("click", function () {
  document.getElementById("viewer").hidden = true;
});
"""


def render(blocks: Sequence[Block], title: str = "modelcheck results") -> str:
    """The page's text."""
    toc = [b for b in blocks if isinstance(b, Heading) and b.level == 2 and b.anchor]
    out = ["<!doctype html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{html.escape(title)}</title>", f"<style>{STYLE}</style>", "</head>", "<body>",
           "<nav>" + "".join(f'<a href="#{b.anchor}">{_text(b.text)}</a>' for b in toc) + "</nav>", "<main>"]
    for block in blocks:
        out.append(_block(block))
    out += ["</main>",
            '<aside id="viewer" hidden><header><button id="close" type="button">close</button>'
            '<span></span> · <a href="#">open the picture alone</a></header>'
            '<img alt="sequence diagram of a counterexample"></aside>',
            f"<script>{SCRIPT}</script>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


def _block(block: Block) -> str:
    if isinstance(block, Heading):
        anchor = f' id="{html.escape(block.anchor)}"' if block.anchor else ""
        return f"<h{block.level}{anchor}>{_text(block.text)}</h{block.level}>"
    if isinstance(block, Para):
        return f"<p>{_inline(block.parts)}</p>"
    if isinstance(block, Bullets):
        items = []
        for item in block.items:
            pictures = [p for p in item if isinstance(p, Link) and p.href.endswith(".svg")]
            unfold = "".join(f'<details><summary>{_text(p.text)}: {html.escape(p.title)}</summary>'
                             f'<img loading="lazy" src="{html.escape(url(p.href))}" '
                             f'alt="sequence diagram: {html.escape(p.title)}"></details>' for p in pictures)
            items.append(f"<li>{_inline(item)}{unfold}</li>")
        return "<ul>" + "".join(items) + "</ul>"
    if isinstance(block, Table):
        head = "".join(f'<th{" class=n" if i in block.numeric else ""}>{_text(h)}</th>'
                       for i, h in enumerate(block.header))
        rows = []
        for n, row in enumerate(block.rows):
            anchor = block.anchors[n] if n < len(block.anchors) else ""
            cells = "".join(f'<td{" class=n" if i in block.numeric else ""}>{_inline(cell)}</td>'
                            for i, cell in enumerate(row))
            rows.append(f'<tr{f" id={chr(34)}{html.escape(anchor)}{chr(34)}" if anchor else ""}>{cells}</tr>')
        return f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    if isinstance(block, Figure):
        src = html.escape(url(block.href))
        return (f'<figure><figcaption>{_text(block.caption)} (hover a state for its fields)</figcaption>'
                f'<object type="image/svg+xml" data="{src}">{_text(block.caption)}</object></figure>')
    if isinstance(block, Code):
        return "<pre>" + html.escape("\n".join(block.lines), quote=False) + "</pre>"
    raise TypeError(f"unknown block {block!r}")


def _inline(parts: Sequence[Inline]) -> str:
    out = []
    for part in parts:
        if isinstance(part, Link):
            cls = ' class="diagram"' if part.href.endswith(".svg") else ""
            title = f' title="{html.escape(part.title)}"' if part.title else ""
            out.append(f'<a href="{html.escape(url(part.href))}"{cls}{title}>{_text(part.text)}</a>')
        else:
            out.append(_text(part))
    return "".join(out)


def _text(text: str) -> str:
    """Plain text with Markdown's `code`, **strong** and *emphasis* spans, escaped for HTML."""
    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    escaped = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)
    return re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"<em>\1</em>", escaped)
