"""A counterexample as a sequence diagram in plain SVG: lanes guest / virtqueue / device / backend.

Time runs down, one row per step. Each step is an arrow between the lanes it links
(``submit`` guest → virtqueue, ``fetch`` virtqueue → backend, ``complete`` backend →
device when the request is parked on ``rq``, …), errors in red, and under it every
lane's state after the step (dark where the step changed it). Rows where the VM is
stopped are shaded; the last step, after which the property fails, is boxed in red.
The SVG text is built here, with no fonts, network or browser needed, and is the
same for the same trace. Specs without virtio-blk's fields get one lane of fields.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from ..spec import Compiled, Step
from ..state import State
from ..trace import Trace, field_changes

LANE_WIDTH = 260
VM_COLUMN = 92
LEFT = 40
ROW = 60
RED = "#c62828"
AMBER = "#b26a00"
STOPPED_FILL = "#e6e6e6"
ERRNO = {"nospc": "ENOSPC", "eio": "EIO"}
VIRTIO_FIELDS = ("vm", "submitted", "fetched", "flight", "outcome", "rq", "used", "status", "observed", "cache", "disk")


@dataclass(frozen=True)
class Lane:
    """One vertical lifeline: an actor of the system and how its state reads."""

    key: str
    title: str
    subtitle: str
    show: Callable[[State], list[str]]


@dataclass(frozen=True)
class Arrow:
    """How one step is drawn: from lane to lane (equal for a step within one actor), or across all."""

    source: str
    target: str
    label: str
    color: str = "#222"
    across: bool = False


def sequence_svg(compiled: Compiled, trace: Trace, *, case: str, params: Mapping[str, Any], verdict: str) -> str:
    """The SVG text of one counterexample."""
    view = _View(compiled)
    lanes = view.lanes()
    states = list(trace.states())
    doc = compiled.properties[trace.prop].doc if trace.prop in compiled.properties else ""
    width = max(LEFT + VM_COLUMN + LANE_WIDTH * len(lanes) + 20, 900)
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
    if "vm" in view.types:
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
            out.append(f'<rect x="{LEFT}" y="{rows_top + ROW * i}" width="{width - LEFT - 10}" height="{ROW}" '
                       f'fill="{STOPPED_FILL}"/>')
    for lane in lanes:
        x = center[lane.key]
        out.append(f'<line x1="{x}" y1="{top + 40}" x2="{x}" y2="{bottom}" stroke="#9aa" stroke-dasharray="4 3"/>')
    last = rows_top + ROW * (n_rows - 1)
    if trace.steps:
        out.append(f'<rect x="{LEFT - 36}" y="{last}" width="{width - LEFT + 26}" height="{ROW}" fill="none" '
                   f'stroke="{RED}" stroke-width="2.5" rx="4"/>')
    if trace.loop_start is not None:
        y0 = rows_top + ROW * trace.loop_start + ROW // 2
        out.append(f'<path d="M {width - 14} {last + ROW // 2} C {width - 2} {last}, {width - 2} {y0}, '
                   f'{width - 14} {y0}" fill="none" stroke="{AMBER}" stroke-width="2" marker-end="url(#amber)"/>')

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
            out.extend(_arrow(view.arrow(step, prev, s), center, row, width))
        for lane in lanes:
            lines = lane.show(s)
            before = lane.show(prev) if prev is not None else None
            changed = before is None or before != lines
            out.extend(_state_box(center[lane.key], row + 30, lines, changed, final=i == n_rows - 1))
        prev = s

    # footer
    y = bottom + 26
    for n, line in enumerate(footer):
        out.append(_text(16, y, line, size=12, fill=RED if n == 0 else "#222", weight="bold" if n == 0 else "normal"))
        y += 16
    legend = ("shaded rows: VM stopped · red: errors · red box: the step after which the property fails · "
              "grey text: unchanged by the step · s0=-: sector 0 holds no written data")
    out.append(_text(16, y + 8, legend, size=10, fill="#666"))
    out.append("</svg>")
    return "\n".join(out) + "\n"


class _View:
    """How the fields of one spec map to lanes, arrows and words."""

    def __init__(self, compiled: Compiled):
        self.compiled = compiled
        self.types = compiled.state_class.types
        self.virtio = all(f in self.types for f in VIRTIO_FIELDS)
        self.names: tuple[str, ...] = tuple(getattr(self.types.get("status"), "keys", None) or ())

    def vm(self, s: State | None) -> str | None:
        return getattr(s, "vm", None) if s is not None and "vm" in self.types else None

    def lanes(self) -> list[Lane]:
        if not self.virtio:
            return [Lane("spec", "spec", "every field", self._all_fields)]
        return [
            Lane("guest", "Guest", "driver: submits, sees completions", self._guest),
            Lane("virtqueue", "Virtqueue", "avail ring → · → used ring", self._virtqueue),
            Lane("device", "Device (QEMU virtio-blk)", "rq: failed requests parked", self._device),
            Lane("backend", "Backend (host storage)", "in flight · volatile cache · durable", self._backend),
        ]

    # ------------------------------------------------------------- lane texts

    def _show(self, name: str, value: Any) -> str:
        return self.types[name].show(value)

    def _all_fields(self, s: State) -> list[str]:
        return [" ".join(f"{k}={self._show(k, v)}" for k, v in zip(s.fields, s))]

    def _guest(self, s: State) -> list[str]:
        sent = " ".join(self.names[: s.submitted]) or "nothing"
        seen = [f"{n} {'OK' if st == 'ok' else 'IOERR'}" for n, obs, st in zip(self.names, s.observed, s.status)
                if obs]
        return [f"sent: {sent}", f"saw: {', '.join(seen) or 'nothing'}"]

    def _virtqueue(self, s: State) -> list[str]:
        avail = " ".join(self.names[s.fetched: s.submitted])
        return [f"avail [{avail}]", f"used {self._show('used', s.used)}"]

    def _device(self, s: State) -> list[str]:
        lines = [f"rq {self._show('rq', s.rq)}"]
        if getattr(s, "restart_pending", False):
            lines.append("restart pending")
        return lines

    def _backend(self, s: State) -> list[str]:
        keys = getattr(self.types["outcome"], "keys", None) or ()
        flying = []
        for i, name in enumerate(keys):
            if self._in_flight(s, i):
                outcome = s.outcome[i]
                flying.append(name if outcome == "none" else f"{name}:{ERRNO.get(outcome, 'done')}")
        cache = self._sectors("cache", s.cache)
        disk = self._sectors("disk", s.disk)
        lines = [f"in flight: {' '.join(flying) or '-'}", f"cache {cache}  durable {disk}"]
        lost = self._not_durable(s)
        if lost:
            lines.append(f"not durable: {' '.join(lost)}")
        return lines

    def _in_flight(self, s: State, i: int) -> bool:
        if isinstance(s.flight, tuple) and s.flight and isinstance(s.flight[0], bool):
            return bool(s.flight[i])
        return i in s.flight

    def _sectors(self, name: str, values: tuple) -> str:
        ftype = self.types[name]
        return " ".join(f"{ftype.key(i)}={ftype.elem.show(v)}" for i, v in enumerate(values))

    def _read_value(self, s: State, req: str) -> str:
        """What a read of ``req``'s sector returns in ``s``: the cached value, else the durable one."""
        cache = self.types["cache"]
        key = "s" + req[1:].split(".")[0]
        keys = list(getattr(cache, "keys", None) or ())
        if key not in keys:
            return "?"
        i = keys.index(key)
        value = s.cache[i] if cache.elem.show(s.cache[i]) != "-" else s.disk[i]
        return f"{key}={cache.elem.show(value)}"

    def _not_durable(self, s: State) -> list[str]:
        """Submitted writes whose own value is not in the durable image (and not seen to fail)."""
        disk = self.types["disk"]
        on_disk = {disk.elem.show(v) for v in s.disk}
        out = []
        for r, name in enumerate(self.names[: s.submitted]):
            failed = s.observed[r] and s.status[r] == "ioerr"
            if name.startswith("W") and name not in on_disk and not failed:
                out.append(name)
        return out

    # ------------------------------------------------------------- arrows

    def arrow(self, step: Step, before: State, after: State) -> Arrow:
        label = self.compiled.show_step(step)
        if not self.virtio:
            changes = field_changes(self.types, before, after)
            return Arrow("spec", "spec", f"{label}: {'; '.join(changes)}" if changes else label)
        req = self.compiled.show_arg(step.action, "r", step.args[0][1]) if step.args else ""
        act = step.action
        if act == "submit":
            return Arrow("guest", "virtqueue", f"submit {req}")
        if act == "fetch":
            return Arrow("virtqueue", "backend", f"fetch {req} → in flight")
        if act == "execute":
            result = dict(step.args).get("result", "ok")
            if result == "ok":
                kind = "cache → durable" if req.startswith(("F", "DF")) else "into cache"
                if req.startswith("R"):
                    kind = f"returns {self._read_value(before, req)}"
                return Arrow("backend", "backend", f"execute {req}: OK ({kind})")
            words = {"nospc": "fails ENOSPC (no space)", "eio": "fails EIO"}
            return Arrow("backend", "backend", f"execute {req}: {words.get(result, result)}", RED)
        if act == "complete":
            if len(after.rq) > len(before.rq):
                stop = {"stopped": ", VM stops", "stopping": ", stop requested"}.get(after.vm, "")
                if after.vm == before.vm:
                    stop = ""
                return Arrow("backend", "device", f"complete {req}: error → parked on rq{stop}", RED)
            r = self.names.index(req) if req in self.names else None
            status = after.status[r] if r is not None else "ok"
            failed = r is not None and before.outcome[r] not in ("ok", "none")
            if status == "ok" and failed:
                errno = ERRNO.get(before.outcome[r], before.outcome[r])
                return Arrow("backend", "virtqueue", f"complete {req}: {errno} ignored → OK to used ring", AMBER)
            return Arrow("backend", "virtqueue", f"complete {req}: {'OK' if status == 'ok' else 'IOERR'} → used ring",
                         "#222" if status == "ok" else RED)
        if act == "observe":
            r = self.names.index(req) if req in self.names else None
            status = "OK" if r is not None and after.status[r] == "ok" else "IOERR"
            return Arrow("virtqueue", "guest", f"guest sees {req} complete: {status}", "#1565c0" if status == "OK"
                         else RED)
        if act == "complete_device_flush":
            return Arrow("backend", "device", "device's own flush completes (not shown to the guest)")
        if act == "writeback":
            return Arrow("backend", "backend", f"{label}: cache → durable (eviction)")
        if act == "restart":
            moved = self._show("rq", before.rq)
            failed = f" (they failed in order {self._show('parked', before.parked)})" if "parked" in self.types else ""
            return Arrow("device", "backend", f"restart: {moved} back in flight{failed}")
        if act == "settle":
            return Arrow("device", "backend", "settle: drain + flush all (cache → durable)")
        across = {"stop": "VM stops (the requested stop takes effect)", "resume": "resume (QMP cont): VM runs again",
                  "migrate": "migrate: disks flushed, rq saved and loaded, VM still stopped"}
        if act in across:
            return Arrow("guest", "backend", across[act], AMBER, across=True)
        return Arrow("guest", "guest", label)


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


def _state_box(x: int, y: int, lines: list[str], changed: bool, final: bool) -> list[str]:
    out = []
    for n, line in enumerate(lines):
        cls = "s" if changed else "u"
        if line.startswith("not durable") and final:
            cls = "r"
        out.append(f'<text x="{x}" y="{y + 11 * n}" class="{cls}">{escape(line)}</text>')
    return out


def _footer(view: _View, trace: Trace, states: list[State]) -> list[str]:
    """What the last row means, in words: the property, and the final state of each lane."""
    n = len(trace)
    step = view.compiled.show_step(trace.steps[-1][0]) if trace.steps else "the initial state"
    lines = [f"✗ {trace.prop} fails after step {n} ({step})"]
    final = states[-1]
    for lane in view.lanes():
        lines.append(f"{lane.title}: {' · '.join(lane.show(final))}")
    if trace.loop_start is not None:
        lines.append(f"… and the execution can return to step {trace.loop_start} and loop forever")
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
