"""A counterexample as a sequence diagram in plain SVG, lanes and arrows taken from the spec's views.

Time runs down, one row per step. Each step is an arrow between the lanes it links
(``submit`` guest → virtqueue, ``fetch`` virtqueue → backend, ``complete`` backend →
device when the request is parked on ``rq``, …), errors in red, and under it every
lane's state after the step (dark where the step changed it). Rows where the VM is
stopped are shaded; the last step, after which the property fails, is boxed in red. A
lasso (an execution that repeats forever: a liveness counterexample, or an ``at_end`` one
that never ends) gets a bracket in a margin of its own from the state where the loop starts
to the last row, labelled "from here the execution repeats forever" and "back to the state
after step k", and the footer says it in a sentence, so the picture reads aloud alone.
The SVG text is built here, with no fonts, network or browser needed, and is the
same for the same trace. Specs without views get one lane of fields (:class:`modelcheck.views.SequenceView`).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

from ..spec import LIVENESS, Compiled
from ..state import State
from ..trace import Trace
from ..views import Arrow, SequenceView, views_of

LANE_WIDTH = 260
LOOP_MARGIN = 250  # room on the right for a lasso's bracket and its labels
VM_COLUMN = 92
LEFT = 40
ROW = 60
RED = "#c62828"
AMBER = "#b26a00"
STOPPED_FILL = "#e6e6e6"


def sequence_svg(compiled: Compiled, trace: Trace, *, case: str, params: Mapping[str, Any], verdict: str,
                 view: SequenceView | None = None) -> str:
    """The SVG text of one counterexample; lanes and arrows from the spec's views (:mod:`modelcheck.views`)."""
    if view is None:
        view = views_of(type(compiled.spec)).sequence(compiled)
    lanes = view.lanes()
    states = list(trace.states())
    doc = compiled.properties[trace.prop].doc if trace.prop in compiled.properties else ""
    width = max(LEFT + VM_COLUMN + LANE_WIDTH * len(lanes) + 20, 900)
    lanes_right = width
    if trace.loop_start is not None:
        width += LOOP_MARGIN
    header_lines = textwrap.wrap(" ".join(doc.split()), 150) if doc else []
    setting = " ".join(f"{k}={v}" for k, v in params.items())
    setting_lines = textwrap.wrap(setting, 150)
    top = 34 + 16 * (len(header_lines) + len(setting_lines)) + 14
    lane_top = top + 48
    rows_top = lane_top + 12
    n_rows = len(states)
    footer = _footer(view, trace, states)
    height = rows_top + ROW * n_rows + 30 + 16 * len(footer) + 40
    center = {lane.key: LEFT + VM_COLUMN + LANE_WIDTH * i + LANE_WIDTH // 2 for i, lane in enumerate(lanes)}

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace">',
           f"<title>{escape(f'{trace.kind} to {trace.prop} in {case}')}</title>",
           _defs(),
           f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>']
    what = "counterexample to" if trace.kind == "counterexample" else "witness of"
    out.append(_text(16, 24, f"{what} {trace.prop} ({verdict}), {len(trace)} steps", size=16, weight="bold"))
    y = 44
    for line in header_lines:
        out.append(_text(16, y, line, size=12))
        y += 16
    for line in setting_lines:
        out.append(_text(16, y, line, size=11, fill="#666"))
        y += 16

    # lane headers and lifelines
    if view.vm(states[0]) is not None:
        out.append(_text(LEFT + VM_COLUMN // 2, lane_top - 22, "VM", size=12, weight="bold", anchor="middle"))
    for lane in lanes:
        x = center[lane.key]
        out.append(f'<rect x="{x - LANE_WIDTH // 2 + 6}" y="{top}" width="{LANE_WIDTH - 12}" height="40" rx="6" '
                   f'fill="#eef3fb" stroke="#7a96c2"/>')
        out.append(_text(x, top + 17, lane.title, size=13, weight="bold", anchor="middle"))
        out.append(_text(x, top + 32, lane.subtitle, size=10, fill="#555", anchor="middle"))
    bottom = rows_top + ROW * n_rows
    # row backgrounds: VM stopped, then the violating step
    for i, s in enumerate(states):
        if view.vm(s) == "stopped":
            out.append(f'<rect x="{LEFT}" y="{rows_top + ROW * i}" width="{lanes_right - LEFT - 10}" height="{ROW}" '
                       f'fill="{STOPPED_FILL}"/>')
    for lane in lanes:
        x = center[lane.key]
        out.append(f'<line x1="{x}" y1="{top + 40}" x2="{x}" y2="{bottom}" stroke="#9aa" stroke-dasharray="4 3"/>')
    last = rows_top + ROW * (n_rows - 1)
    if trace.steps:
        out.append(f'<rect x="{LEFT - 36}" y="{last}" width="{lanes_right - LEFT + 26}" height="{ROW}" fill="none" '
                   f'stroke="{RED}" stroke-width="2.5" rx="4"/>')
    if trace.loop_start is not None:
        out.extend(_loop_bracket(trace, lanes_right, rows_top + ROW * trace.loop_start, last))

    # rows
    prev: State | None = None
    for i, s in enumerate(states):
        row = rows_top + ROW * i
        label = "initial" if i == 0 else str(i)
        out.append(_text(LEFT - 8, row + 22, label if i else "0", size=11, anchor="end", weight="bold"))
        vm = view.vm(s)
        if vm is not None:
            changed = prev is None or view.vm(prev) != vm
            color = {"running": "#2e7d32", "stopping": AMBER, "stopped": "#555"}.get(vm, "#222")
            out.append(_text(LEFT + VM_COLUMN // 2, row + 44, vm, size=11, anchor="middle",
                             fill=color if changed else "#aaa", weight="bold" if changed else "normal"))
        if i > 0:
            step = trace.steps[i - 1][0]
            out.extend(_arrow(view.arrow(step, prev, s), center, row, lanes_right))
        for lane in lanes:
            lines = lane.show(s)
            before = lane.show(prev) if prev is not None else None
            changed = before is None or before != lines
            out.extend(_state_box(center[lane.key], row + 30, lines, changed, final=i == n_rows - 1, view=view))
        prev = s

    # footer
    y = bottom + 26
    for n, line in enumerate(footer):
        out.append(_text(16, y, line, size=12, fill=RED if n == 0 else "#222", weight="bold" if n == 0 else "normal"))
        y += 16
    out.append(_text(16, y + 8, view.legend, size=10, fill="#666"))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _loop_bracket(trace: Trace, x: int, first: int, last: int) -> list[str]:
    """The lasso's bracket in the right margin: from the row of the state the loop starts in
    (``first``) to the last row (``last``), which returns to it, with the words that say so."""
    k = trace.loop_start
    back = "the initial state" if k == 0 else f"the state after step {k}"
    y0, y1 = first + ROW // 2, last + ROW // 2
    bx = x + 18
    out = [f'<rect x="{x + 4}" y="{first + 2}" width="{LOOP_MARGIN - 12}" height="{last - first + ROW - 4}" '
           f'fill="#fff4e0" stroke="none" rx="6"/>',
           f'<path d="M {bx + 10} {y1} L {bx} {y1} L {bx} {y0} L {bx + 10} {y0}" fill="none" stroke="{AMBER}" '
           f'stroke-width="2.5" marker-end="url(#amber)"/>',
           _text(bx + 16, y0 - 4, "↻ from here the execution", size=12, fill=AMBER, weight="bold"),
           _text(bx + 16, y0 + 11, "repeats forever", size=12, fill=AMBER, weight="bold"),
           _text(bx + 16, y0 + 25, f"(steps {k + 1} to {len(trace)}, again and again)", size=10, fill=AMBER)]
    if last != first:
        out += [_text(bx + 16, y1 - 4, f"step {len(trace)} is back in", size=11, fill=AMBER),
                _text(bx + 16, y1 + 10, back, size=11, fill=AMBER)]
    return out


def _arrow(a: Arrow, center: Mapping[str, int], row: int, width: int) -> list[str]:
    y = row + 16
    if a.across:
        x1, x2 = LEFT + VM_COLUMN, width - 14
        mid = (x1 + x2) // 2
        return [f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{a.color}" stroke-width="2" '
                'stroke-dasharray="8 4"/>',
                _label_box(mid, y - 4, a.label, a.color, anchor="middle")]
    x1, x2 = center[a.source], center[a.target]
    marker = "url(#red)" if a.color == RED else "url(#dark)"
    if x1 == x2:  # a step within one actor: a dot, labelled on the side with room
        rightmost = x1 == max(center.values()) and len(center) > 1
        return [f'<circle cx="{x1}" cy="{y}" r="5" fill="{a.color}"/>',
                _label_box(x1 - 10 if rightmost else x1 + 10, y + 1, a.label, a.color,
                           anchor="end" if rightmost else "start")]
    tip = x2 - 8 if x2 > x1 else x2 + 8
    anchor_x = (x1 + x2) // 2
    return [f'<line x1="{x1}" y1="{y}" x2="{tip}" y2="{y}" stroke="{a.color}" stroke-width="2" '
            f'marker-end="{marker}"/>',
            _label_box(anchor_x, y - 5, a.label, a.color, anchor="middle")]


def _label_box(x: int, y: int, text: str, color: str, anchor: str) -> str:
    """An arrow's label, with a white halo so that lines behind it do not cross the letters."""
    attrs = f'x="{x}" y="{y}" class="a"'
    if anchor != "start":
        attrs += f' text-anchor="{anchor}"'
    if color != "#222":
        attrs += f' fill="{color}"'
    return f"<text {attrs}>{escape(text)}</text>"


def _state_box(x: int, y: int, lines: list[str], changed: bool, final: bool, view: SequenceView) -> list[str]:
    out = []
    for n, line in enumerate(lines):
        cls = "s" if changed else "u"
        if final and view.highlight(line):
            cls = "r"
        out.append(f'<text x="{x}" y="{y + 11 * n}" class="{cls}">{escape(line)}</text>')
    return out


def _footer(view: SequenceView, trace: Trace, states: list[State]) -> list[str]:
    """What the last row means, in words: the property, and the final state of each lane."""
    n = len(trace)
    step = view.compiled.show_step(trace.steps[-1][0]) if trace.steps else "the initial state"
    prop = view.compiled.properties.get(trace.prop)
    liveness = prop is not None and prop.kind in LIVENESS
    k = trace.loop_start
    if k is not None:
        back = "the initial state" if k == 0 else f"the state after step {k}"
        goal = ", and never reaches what it claims" if liveness else ""
        lines = [f"✗ {trace.prop} fails: from step {k + 1} the execution repeats forever (step {n} returns to "
                 f"{back}){goal}"]
    elif liveness:
        lines = [f"✗ {trace.prop} fails: the execution ends after step {n} ({step}), no step allowed, short of "
                 "what it claims"]
    else:
        lines = [f"✗ {trace.prop} fails after step {n} ({step})"]
    final = states[-1]
    for lane in view.lanes():
        lines.append(f"{lane.title}: {' · '.join(lane.show(final))}")
    return lines


STYLE = ("text{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}"
         ".s,.u,.r{font-size:10px;text-anchor:middle;fill:#111}.u{fill:#a0a0a0}"
         f".r{{fill:{RED};font-weight:bold}}.a{{font-size:11px;font-weight:bold}}")


def _defs() -> str:
    def marker(name: str, color: str) -> str:
        return (f'<marker id="{name}" viewBox="0 0 10 10" refX="2" refY="5" markerWidth="7" markerHeight="7" '
                f'orient="auto"><path d="M 0 0 L 10 5 L 0 10 z" fill="{color}"/></marker>')

    return (f"<defs><style>{STYLE}</style>{marker('dark', '#222')}{marker('red', RED)}{marker('amber', AMBER)}"
            "</defs>")


def _text(x: float, y: float, text: str, *, size: int = 11, fill: str = "#222", anchor: str = "start",
          weight: str = "normal") -> str:
    attrs = f'x="{x:.0f}" y="{y:.0f}" font-size="{size}" fill="{fill}"'
    if anchor != "start":
        attrs += f' text-anchor="{anchor}"'
    if weight != "normal":
        attrs += f' font-weight="{weight}"'
    return f"<text {attrs}>{escape(text)}</text>"
