"""The results as one self-contained HTML page: the matrix of every scenario (the
Markdown matrix's cells, coloured), then per case a timeline drawn in inline SVG, its
processes, hooks, orphans, escalations, stop record, traffic and output tail.

Self-contained: one inline ``<style>``, system fonts, inline SVG; no script, no font,
no stylesheet or image from anywhere. The markup is also well-formed XML (every element
closed, every attribute quoted, only XML's own entities), so tests and tools can read it
with ``xml.etree``. Every text that enters it, the target's above all (output, command
lines, hook evidence, errors, scenario names, paths), goes through :func:`esc`.

The timeline's horizontal scale, documented for tests and readers alike: a case's axis
runs from ``lo`` to ``hi`` seconds after the trigger (:func:`axis_for`), and a time ``t``
is drawn at ``x_at(t, lo, hi) = PLOT_LEFT + (t - lo) / (hi - lo) * PLOT_WIDTH`` in the
SVG's viewBox units (rounded to 0.1), ``t`` clamped to the axis. The ``<svg>`` carries
``data-lo`` and ``data-hi``; each mark carries its time(s) in ``data-t`` (``data-t0``,
``data-t1`` for spans) and the exact text in an SVG ``<title>`` (its tooltip).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

from ..results import (UNFINISHED, CaseResult, HookResult, ProcessRecord, RequestRecord, Results, StopRecord,
                       TrafficRecord)
from . import common
from .common import clean, clean_line

__all__ = ["PLOT_LEFT", "PLOT_WIDTH", "VIEW_WIDTH", "axis_for", "clean", "esc", "format_html", "x_at"]

# ---------------------------------------------------------------- text

def esc(text: Any) -> str:
    """Text for markup, element content and attribute values alike, on one line (a
    newline shows as ␤, :func:`common.clean_line`): only the output tail is a block."""
    return html.escape(clean_line(text), quote=True)


def esc_block(text: Any) -> str:
    """Text of several lines (the output tail, in a <pre>)."""
    return html.escape(clean(text), quote=True)


def _secs(t: float | None) -> str:
    """A time as recorded (4 decimals at most, trailing zeros dropped): '0.0022 s'."""
    if t is None:
        return "-"
    text = f"{round(t, 4):.4f}".rstrip("0").rstrip(".")
    return ("0" if text == "-0" else text) + " s"


def _attrs(attrs: dict[str, Any]) -> str:
    return "".join(f' {k}="{esc(v)}"' for k, v in attrs.items() if v is not None)


def _tag(name: str, attrs: dict[str, Any], content: str = "") -> str:
    return f"<{name}{_attrs(attrs)}>{content}</{name}>"


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# ---------------------------------------------------------------- the time axis

VIEW_WIDTH = 1000  # the SVG's viewBox width
PLOT_LEFT = 170  # lane labels to the left of this
PLOT_RIGHT = 16  # free space right of the axis's end
PLOT_WIDTH = VIEW_WIDTH - PLOT_LEFT - PLOT_RIGHT
MIN_END = 0.1  # the axis shows at least 0.1 s after the trigger


@dataclass
class Axis:
    lo: float
    hi: float
    step: float

    def x(self, t: float) -> float:
        return x_at(t, self.lo, self.hi)

    def ticks(self) -> list[tuple[float, str]]:
        decimals = max(0, -math.floor(math.log10(self.step) + 1e-9))
        first, last = math.ceil(self.lo / self.step - 1e-9), math.floor(self.hi / self.step + 1e-9)
        return [(k * self.step, f"{k * self.step:.{decimals}f}") for k in range(first, last + 1)]


def x_at(t: float, lo: float, hi: float) -> float:
    """Where ``t`` seconds after the trigger is drawn, on an axis from ``lo`` to ``hi``."""
    t = min(max(t, lo), hi)
    return round(PLOT_LEFT + (t - lo) / (hi - lo) * PLOT_WIDTH, 1)


def _nice(raw: float) -> float:
    """1, 2 or 5 times a power of ten, the nearest to ``raw`` in ratio."""
    base = 10.0 ** math.floor(math.log10(raw))
    best = min((1, 2, 5, 10), key=lambda m: abs(math.log(raw / (m * base))))
    return float(f"{best * base:.12g}")


def axis_for(times: list[float]) -> Axis:
    """The axis for a case whose marks fall at ``times`` (seconds after the trigger).

    ``step`` (between ticks) is 1, 2 or 5 x 10^k, the nearest to a tenth of the span
    from ``min(0, earliest)`` to ``max(MIN_END, latest)``. ``hi`` is the latest time
    plus 2 % of that span, rounded up to a whole step; ``lo`` is 0, or the earliest
    time less 2 % of the span when something (a request in flight) came before the
    trigger.
    """
    early = min([0.0, *times])
    late = max([MIN_END, *times])
    span = late - early
    step = _nice(span / 10)
    hi = float(f"{math.ceil((late + span * 0.02) / step - 1e-9) * step:.12g}")
    lo = float(f"{early - span * 0.02:.12g}") if early < 0 else 0.0
    return Axis(lo, hi, step)


# ---------------------------------------------------------------- the timeline


@dataclass
class _Event:
    """One row of the table under a timeline: the same facts as the marks."""

    t: float
    lane: str
    text: str


@dataclass
class _Label:
    """A mark's visible text, placed after the marks are known (if there is room)."""

    x: float
    y: float
    text: str
    cls: str
    reserve: float | None = None  # not a label: keeps [x, x + reserve] free (a span, an in-bar name)
    rank: int = 0  # labels of a lower rank are placed first


@dataclass
class _Timeline:
    axis: Axis
    n: int
    defs: list[str] = field(default_factory=list)
    back: list[str] = field(default_factory=list)  # bands and grid, under everything
    body: list[str] = field(default_factory=list)
    labels: list[list[_Label]] = field(default_factory=list)  # one list per row
    events: list[_Event] = field(default_factory=list)
    y: float = 0.0

    def x(self, t: float) -> float:
        return self.axis.x(t)


CHAR_W = 6.1  # a character of the 11-unit label font, roughly (no layout engine here)
END_LABEL = {"harness": "killed by the harness", "stop": "killed when the grace ran out"}
MAX_REQUEST_ROWS = 14  # new requests are packed into rows; beyond this many, rows overlap
OUTCOME_CLASS = {o: f"o-{o}" for o in ("completed", "error-status", "cut", "refused", "timed-out", "failed",
                                       "unfinished")}


def _times(case: CaseResult) -> list[float]:
    """Every time a case's timeline draws, to fit the axis around them."""
    out: list[float] = []
    for p in case.processes:
        out += [t for t in (p.ended_after_s, p.started_after_s) if t is not None]
    for h in case.hooks.values():
        if h.at_s is not None:
            out.append(h.at_s + (h.duration_s or 0.0))
    for e in case.escalations:
        at = getattr(e, "at_s", None)
        if at is not None:
            out.append(at)
    if case.stop is not None:
        s = case.stop
        out += [t for t in (s.signal_at_s, s.kill_at_s, s.cleanup_s) if t is not None]
        if s.pre_stop and s.pre_stop.get("duration_s") is not None:
            out.append(float(s.pre_stop["duration_s"]))
        if s.second_signal and s.second_signal.get("at_s") is not None:
            out.append(float(s.second_signal["at_s"]))
        if s.grace_s is not None and s.final_kill:
            out.append(s.grace_s)
    t = case.traffic
    if t is not None:
        for r in t.requests:
            out += [v for v in (r.sent_s, r.ended_s) if v is not None]
        out += [v for v in (t.stopped_accepting_s, t.refused_from_s, t.released_s, t.last_served_s) if v is not None]
        if t.stopped_by == "window" and t.window_s:
            out.append(t.window_s)
    for v in (case.duration_s, case.root_exit_s):
        if v is not None:
            out.append(v)
    return out


def _fired(case: CaseResult) -> bool:
    """Whether the path fired: a case that never got that far has no timeline."""
    if case.outcome in ("skipped", "not-ready"):
        return False
    if case.outcome in ("error", "interrupted"):
        return case.trigger_clock is not None or bool(case.trigger) or case.stop is not None
    return True


def _place(labels: list[_Label], right_edge: float) -> list[str]:
    """The labels of one row that fit: each to the right of its mark, else to the left,
    else left out (its mark's tooltip and the events table still say it)."""
    out = []
    taken = [(lab.x, lab.x + lab.reserve) for lab in labels if lab.reserve is not None]
    for lab in sorted((lb for lb in labels if lb.reserve is None), key=lambda lb: (lb.rank, lb.x)):
        width = len(lab.text) * CHAR_W
        for x0, anchor in ((lab.x + 7, "start"), (lab.x - 7 - width, "end")):
            x1 = x0 + width
            if x0 < PLOT_LEFT - 4 or x1 > right_edge:
                continue
            if any(x0 < b + 4 and a < x1 + 4 for a, b in taken):
                continue
            taken.append((x0, x1))
            tx = x0 if anchor == "start" else x1
            out.append(_tag("text", {"class": f"lbl {lab.cls}", "x": f"{tx:.1f}", "y": f"{lab.y:.1f}",
                                     "text-anchor": anchor}, esc(lab.text)))
            break
    return out


def _title(text: str) -> str:
    return f"<title>{esc(text)}</title>"


def _lane_label(tl: _Timeline, y: float, main: str, sub: str = "", tip: str = "") -> None:
    tip = tip or (main + (f" ({sub})" if sub else ""))
    tl.body.append(_tag("text", {"class": "lane", "x": PLOT_LEFT - 10, "y": f"{y:.1f}", "text-anchor": "end"},
                        _title(tip) + esc(_clip(main, 24))))
    if sub:
        tl.body.append(_tag("text", {"class": "lane sub", "x": PLOT_LEFT - 10, "y": f"{y + 12:.1f}",
                                     "text-anchor": "end"}, _title(tip) + esc(_clip(sub, 27))))


def _triangle(x: float, y: float, cls: str, tip: str, t: float) -> str:
    """A signal sent: a triangle pointing down at the lanes."""
    points = f"{x - 5:.1f},{y - 6:.1f} {x + 5:.1f},{y - 6:.1f} {x:.1f},{y + 4:.1f}"
    return _tag("polygon", {"class": f"mark {cls}", "points": points, "data-t": _num(t)}, _title(tip))


def _square(x: float, y: float, cls: str, tip: str, t: float, size: float = 9) -> str:
    h = size / 2
    return _tag("rect", {"class": f"mark {cls}", "x": f"{x - h:.1f}", "y": f"{y - h:.1f}", "width": size,
                         "height": size, "data-t": _num(t)}, _title(tip))


def _num(t: float) -> str:
    return f"{round(t, 6):g}"


def _signals_row(tl: _Timeline, case: CaseResult) -> None:
    """The signals the harness or the stopper sent: the trigger at zero, a preStop, a
    second signal, the final SIGKILL, the harness's own SIGKILLs."""
    y0 = tl.y
    mid = y0 + 16
    _lane_label(tl, mid + 4, "signals", tip="what the harness (or the stop profile) did, and when")
    labels: list[_Label] = []
    stop = case.stop
    trigger = _trigger_text(case)
    if stop is not None:
        pre = stop.pre_stop
        if pre:
            end = float(pre.get("duration_s") or 0.0)
            what = pre.get("http") or " ".join(pre.get("command", []))
            how = pre.get("error") or (f"HTTP {pre['status']}" if "status" in pre else f"rc {pre.get('returncode')}")
            tip = f"preStop {what}: {how}, {_secs(end)}"
            x0, x1 = tl.x(0.0), tl.x(end)
            tl.body.append(_tag("rect", {"class": "mark prestop", "x": x0, "y": f"{mid - 4:.1f}",
                                         "width": f"{max(x1 - x0, 2):.1f}", "height": 8, "data-t0": "0",
                                         "data-t1": _num(end)}, _title(tip)))
            tl.events.append(_Event(0.0, "signals", f"preStop started: {what}"))
            tl.events.append(_Event(end, "signals", tip))
            labels.append(_Label(x1, mid + 4, "preStop", "sig", rank=1))
        at = stop.signal_at_s or 0.0
        tip = f"{stop.stopper}: {stop.signal} to {stop.to}" + (f" ({stop.init})" if stop.init else "")
        if stop.pid1_handles_signal is False and stop.init is None:
            tip += f"; PID 1 has no {stop.signal} handler, so the kernel drops it"
        tl.body.append(_triangle(tl.x(at), mid, "sig trigger", tip, at))
        tl.events.append(_Event(at, "signals", tip))
        labels.append(_Label(tl.x(at), mid + 4, f"{stop.signal} → {stop.to}", "sig"))
        second = stop.second_signal
        if second and second.get("at_s") is not None:
            at2 = float(second["at_s"])
            tip = f"{stop.signal} again ({second.get('why')})"
            tl.body.append(_triangle(tl.x(at2), mid, "sig", tip, at2))
            tl.events.append(_Event(at2, "signals", tip))
            labels.append(_Label(tl.x(at2), mid + 4, f"{stop.signal} again", "sig"))
        if stop.final_kill and stop.kill_at_s is not None:
            hit = ", ".join(f"{k.get('role')} {k.get('pid')}" for k in stop.killed) or "nothing left"
            tip = f"the {stop.grace_s:g} s grace ran out: SIGKILL ({hit})"
            tl.body.append(_square(tl.x(stop.kill_at_s), mid, "kill stop-kill", tip, stop.kill_at_s, 10))
            tl.events.append(_Event(stop.kill_at_s, "signals", tip))
            labels.append(_Label(tl.x(stop.kill_at_s), mid + 4, "SIGKILL (grace over)", "kill"))
    elif trigger:
        tip = f"trigger: {trigger} (" + ", ".join(f"{k}={v}" for k, v in case.trigger.items()) + ")"
        tl.body.append(_triangle(tl.x(0.0), mid, "sig trigger", tip, 0.0))
        tl.events.append(_Event(0.0, "signals", tip))
        labels.append(_Label(tl.x(0.0), mid + 4, trigger, "sig"))
    # the harness's own SIGKILLs, one mark per moment
    moments: dict[float, list[Any]] = {}
    for e in case.escalations:
        at = getattr(e, "at_s", None)
        if at is not None:
            moments.setdefault(at, []).append(e)
    for at, group in moments.items():
        who = ", ".join(f"{e.role} {e.pid}" for e in group)
        reasons = list(dict.fromkeys(e.reason for e in group))
        tip = f"the harness sent {'/'.join(dict.fromkeys(e.signal for e in group))} to {who}: {'; '.join(reasons)}"
        tl.body.append(_square(tl.x(at), mid, "kill harness-kill", tip, at))
        tl.events.append(_Event(at, "signals", tip))
        labels.append(_Label(tl.x(at), mid + 4, f"harness SIGKILL → {who}", "kill"))
    tl.labels.append(labels)
    tl.y = y0 + 32


def _trigger_text(case: CaseResult) -> str:
    """The trigger in a few words: 'SIGINT → process group', 'SIGKILL → root 30951'."""
    t = case.trigger
    if not t:
        return ""
    to = t.get("to")
    if t.get("inject"):
        return f"inject {t['inject']} in {to}" + (f" {t['pid']}" if t.get("pid") is not None else "")
    if t.get("signal"):
        whom = f"{to} {t['pid']}" if t.get("pid") is not None else str(to)
        text = f"{t['signal']} → {whom}"
        return text + (" (not delivered)" if t.get("delivered") is False else "")
    if t.get("trigger"):
        how = f" ({t.get('method', 'GET')} {t['http']})" if t.get("http") else ""
        return f"trigger {t['trigger']}{how}"
    return ", ".join(f"{k}={v}" for k, v in t.items())


def _ending(p: ProcessRecord) -> tuple[str, str]:
    """(css class, words) for how a process ended."""
    if p.killed_by_stop:
        return "end-stop", f"{p.signal or 'SIGKILL'}, {END_LABEL['stop']}"
    if p.killed_by_harness:
        return "end-harness", f"{p.signal or 'SIGKILL'}, {END_LABEL['harness']}"
    if p.signal:
        return "end-sig", p.signal
    if p.returncode is not None:
        return ("end-ok" if p.returncode == 0 else "end-rc"), f"rc {p.returncode}"
    return "end-unknown", "exit unknown" + (f" ({p.exit_note})" if p.exit_note else "")


def _end_mark(x: float, y: float, cls: str, tip: str, t: float) -> str:
    if cls in ("end-stop", "end-harness"):
        return _square(x, y, f"end {cls}", tip, t, 10)
    if cls == "end-sig":  # a cross: the process was killed by a signal
        d = (f"M{x - 4.5:.1f},{y - 4.5:.1f} L{x + 4.5:.1f},{y + 4.5:.1f} "
             f"M{x - 4.5:.1f},{y + 4.5:.1f} L{x + 4.5:.1f},{y - 4.5:.1f}")
        return _tag("path", {"class": f"mark end {cls}", "d": d, "data-t": _num(t)}, _title(tip))
    return _tag("circle", {"class": f"mark end {cls}", "cx": f"{x:.1f}", "cy": f"{y:.1f}", "r": 4.5,
                           "data-t": _num(t)}, _title(tip))


def _lane_name(p: ProcessRecord) -> str:
    return f"{p.role} {p.pid}"


def _process_lanes(tl: _Timeline, case: CaseResult) -> dict[int, float]:
    """One lane per process: its life as a bar, how it ended, and the hooks known to
    have run in it alone. Returns pid -> the y of its hook row."""
    hook_rows: dict[int, float] = {}
    right = tl.x(tl.axis.hi)
    for p in case.processes:
        y0 = tl.y
        bar_y = y0 + 6
        name = _lane_name(p)
        sub = ", ".join(x for x in (p.kind, f"PID {p.ns_pid} inside" if p.ns_pid is not None else "") if x)
        tip = f"{p.role} pid {p.pid}" + (f" ({sub})" if sub else "") + (f": {p.cmdline}" if p.cmdline else "")
        tl.body.append(f'<g class="proc" data-pid="{esc(p.pid)}">')
        _lane_label(tl, bar_y + 9, name, sub, tip)
        start = p.started_after_s if p.started_after_s is not None else tl.axis.lo
        x0 = tl.x(start)
        labels: list[_Label] = []
        if p.started_after_s is not None:
            words = f"{name} started {_secs(p.started_after_s)} after the trigger"
            tl.events.append(_Event(p.started_after_s, name, f"started ({p.cmdline})" if p.cmdline else "started"))
            tl.body.append(_tag("path", {"class": "mark start", "d": f"M{x0:.1f},{bar_y - 2:.1f} v14",
                                         "data-t": _num(p.started_after_s)}, _title(words)))
        if p.ended_after_s is not None:
            x1 = tl.x(p.ended_after_s)
            tl.body.append(_tag("rect", {"class": "life", "x": f"{x0:.1f}", "y": f"{bar_y:.1f}",
                                         "width": f"{max(x1 - x0, 1):.1f}", "height": 10},
                                _title(f"{name}: alive until {_secs(p.ended_after_s)}")))
            cls, words = _ending(p)
            tip = f"{name} ended at {_secs(p.ended_after_s)}: {words}"
            tl.body.append(_end_mark(x1, bar_y + 5, cls, tip, p.ended_after_s))
            tl.events.append(_Event(p.ended_after_s, name, f"ended: {words}"))
            labels.append(_Label(x1, bar_y + 9, words.split(", ")[0] if cls == "end-sig" else
                                 {"end-stop": "grace SIGKILL", "end-harness": "harness SIGKILL"}.get(cls, words),
                                 f"t-{cls}"))
        else:
            cls, words = _ending(p)
            tl.body.append(_tag("rect", {"class": "life open", "x": f"{x0:.1f}", "y": f"{bar_y:.1f}",
                                         "width": f"{max(right - x0, 1):.1f}", "height": 10,
                                         "fill": f"url(#tl{tl.n}-hatch)"},
                                _title(f"{name}: no end recorded ({words})")))
            labels.append(_Label(right, bar_y + 9, "no end recorded", "t-end-unknown"))
        tl.body.append("</g>")
        tl.labels.append(labels)
        hook_rows[p.pid] = y0 + 24
        tl.y = y0 + 38
    return hook_rows


def _hook_pids(h: HookResult) -> list[int]:
    return list(dict.fromkeys([*h.pids, *h.interrupted_pids]))


def _is_span(h: HookResult) -> bool:
    return h.source == "probe" and (h.duration_s is not None or bool(h.interrupted_pids))


def _hook_marks(tl: _Timeline, case: CaseResult, rows: dict[int, float]) -> None:
    """Hooks on the lane of the one process they ran in; a hook whose time is not one
    process's (it ran in several, or which one is unknown) gets a row of its own."""
    own_rows: list[tuple[str, HookResult]] = []
    lane_labels: dict[float, list[_Label]] = {}
    ends = {p.pid: p.ended_after_s for p in case.processes}
    names = {p.pid: _lane_name(p) for p in case.processes}
    # spans first, so that the points of log hooks are drawn over them
    for name, h in sorted(case.hooks.items(), key=lambda item: not _is_span(item[1])):
        pids = _hook_pids(h)
        if len(pids) == 1 and pids[0] in rows and h.at_s is not None:
            pid = pids[0]
            _draw_hook(tl, name, h, rows[pid], names[pid], ends.get(pid), lane_labels.setdefault(rows[pid], []),
                       exact=True)
        elif h.at_s is not None:
            own_rows.append((name, h))
        # where the process died inside a hook is known even when the hook's start is not
        if len(pids) > 1:
            for pid in h.interrupted_pids:
                if pid in rows and ends.get(pid) is not None:
                    end = ends[pid]
                    assert end is not None
                    tip = f"{names[pid]} died inside {name} ({common.CUT}) at {_secs(end)}"
                    tl.body.append(_tag("text", {"class": "mark cutmark", "x": f"{tl.x(end):.1f}",
                                                 "y": f"{rows[pid] + 4:.1f}", "text-anchor": "middle",
                                                 "data-t": _num(end)}, _title(tip) + common.CUT))
                    tl.events.append(_Event(end, names[pid], f"died inside {name} {common.CUT}"))
    tl.labels += lane_labels.values()
    order = list(case.hooks)
    for name, h in sorted(own_rows, key=lambda item: order.index(item[0])):
        y0 = tl.y
        who = ", ".join(f"{r} {p}" for r, p in zip(h.roles, h.pids))
        cut = ", ".join(f"{r} {p}" for r, p in zip(h.interrupted_roles, h.interrupted_pids))
        sub = (f"{common.RAN} {who}" if who else "") + (f" {common.CUT} {cut}" if cut else "")
        _lane_label(tl, y0 + 12, name, sub.strip() or "which process: not known")
        labels: list[_Label] = []
        involved = ", ".join(names.get(pid, f"pid {pid}") for pid in _hook_pids(h)) or "which process: not known"
        _draw_hook(tl, name, h, y0 + 10, involved, None, labels, exact=False)
        tl.labels.append(labels)
        tl.y = y0 + 30


def _draw_hook(tl: _Timeline, name: str, h: HookResult, y: float, lane: str, end: float | None,
               labels: list[_Label], *, exact: bool) -> None:
    """A probe hook as a span (its run), a log or file hook as a point (its evidence)."""
    assert h.at_s is not None
    at = h.at_s
    x0 = tl.x(at)
    cut = bool(h.interrupted_pids)
    first = "" if exact else " (the first start in any of its processes; per-process times are not recorded)"
    if _is_span(h):
        if exact and cut and not h.ran:
            stop = end if end is not None else tl.axis.hi
            tip = (f"{name} {common.CUT} started at {_secs(at)} in {lane}, never finished: "
                   + (f"the process died inside it at {_secs(end)}" if end is not None else "no end recorded"))
            cls = "hook cut"
        else:
            stop = at + (h.duration_s or 0.0)
            ran = "ran" if h.ran else "started"
            tip = f"{name} {ran} from {_secs(at)} to {_secs(stop)} ({_secs(h.duration_s)}){first}"
            if not exact and h.duration_s is not None:
                tip += "; its longest finished run"
            if cut:
                tip += f"; {common.CUT} never finished in " + ", ".join(
                    f"{r} {p}" for r, p in zip(h.interrupted_roles, h.interrupted_pids))
            if h.errors:
                tip += "; raised: " + "; ".join(h.errors)
            cls = "hook ran" + (" cut" if cut else "") + ("" if exact else " approx")
        x1 = tl.x(stop)
        tl.body.append(_tag("rect", {"class": f"mark {cls}", "x": f"{x0:.1f}", "y": f"{y - 5:.1f}",
                                     "width": f"{max(x1 - x0, 2):.1f}", "height": 10, "rx": 2,
                                     "data-hook": name, "data-t0": _num(at), "data-t1": _num(stop)}, _title(tip)))
        tl.events.append(_Event(at, lane, f"{name} started" + ("" if exact else " (first start in any process)")))
        if cls == "hook cut":
            tl.events.append(_Event(stop, lane, f"{name} cut short {common.CUT}"))
        elif h.duration_s is not None:
            tl.events.append(_Event(stop, lane, f"{name} finished ({_secs(h.duration_s)})"
                                    + ("" if exact else " (its longest run, from the first start)")))
        text = name.removeprefix("atexit:") + (f" {common.CUT}" if cut and exact and not h.ran else "")
        width = len(text) * CHAR_W
        labels.append(_Label(x0, y, "", "", reserve=max(x1 - x0, 2)))
        if x1 - x0 >= width + 6:  # the name inside its span
            tl.body.append(_tag("text", {"class": "lbl inbar", "x": f"{x0 + 3:.1f}", "y": f"{y + 3.5:.1f}"},
                                esc(text)))
        else:
            labels.append(_Label(x1, y + 4, text, "hooklbl"))
        return
    # a point: the first evidence (a log line read, a file's mtime) or a probe hook
    # whose duration is unknown
    where = f"first evidence at {_secs(at)}" if h.source != "probe" else f"started at {_secs(at)}"
    tip = f"{name}: {where}{first}: {h.evidence}"
    points = f"{x0:.1f},{y - 6:.1f} {x0 + 5:.1f},{y:.1f} {x0:.1f},{y + 6:.1f} {x0 - 5:.1f},{y:.1f}"
    tl.body.append(_tag("polygon", {"class": "mark hook point" + ("" if exact else " approx"), "points": points,
                                    "data-hook": name, "data-t": _num(at)}, _title(tip)))
    tl.events.append(_Event(at, lane, f"{name}: {where}" + ("" if exact else " (which process: see the hooks)")))
    labels.append(_Label(x0, y + 4, name, "hooklbl"))


def _traffic_rows(tl: _Timeline, t: TrafficRecord, summary: str) -> None:
    """Requests as thin spans from sent to ended, by outcome; the new-request window;
    when the port stopped serving, refused, was released."""
    top = tl.y + 4
    rows_html: list[str] = []
    old = [r for r in t.requests if r.kind != "new" and r.sent_s is not None]
    y = top
    for r in old:
        _lane_label(tl, y + 4, f"#{r.n} {r.kind}", tip=_request_text(r))
        rows_html.append(_request(tl, r, y + 1))
        y += 13
    new = [r for r in t.requests if r.kind == "new" and r.sent_s is not None]
    first_new = y
    if new:
        lanes: list[float] = []  # the end x of each packed row
        placed: list[tuple[RequestRecord, int]] = []
        for r in sorted(new, key=lambda r: (r.sent_s, r.n)):  # type: ignore[arg-type, return-value]
            assert r.sent_s is not None
            x0 = tl.x(r.sent_s)
            row = next((i for i, end in enumerate(lanes) if end + 1 < x0), None)
            if row is None:
                if len(lanes) < MAX_REQUEST_ROWS:
                    lanes.append(0.0)
                    row = len(lanes) - 1
                else:
                    row = min(range(len(lanes)), key=lambda i: lanes[i])
            lanes[row] = max(lanes[row], _request_end_x(tl, r))
            placed.append((r, row))
        height = len(lanes) * 6 + 4
        window_end = _window_end(t, new)
        if window_end is not None:
            x0, x1 = tl.x(0.0), tl.x(window_end)
            why = common.STOPPED_BY.get(t.stopped_by, t.stopped_by) if t.stopped_by != "window" else \
                f"the {t.window_s:g} s window ended"
            tip = f"new requests sent from 0 to {_secs(window_end)}" + (f" (until {why})" if why else "")
            tl.back.append(_tag("rect", {"class": "window", "x": f"{x0:.1f}", "y": f"{first_new - 2:.1f}",
                                         "width": f"{max(x1 - x0, 1):.1f}", "height": f"{height:.1f}",
                                         "data-t0": "0", "data-t1": _num(window_end)}, _title(tip)))
            tl.events.append(_Event(window_end, "requests", tip))
        _lane_label(tl, first_new + 8, f"new requests ({len(new)})", tip=f"new requests: {summary}")
        for r, row in placed:
            rows_html.append(_request(tl, r, first_new + 1 + row * 6))
        y = first_new + height
    tl.body.extend(rows_html)
    # the port: one row of markers, lines across the requests
    marks = [(t.stopped_accepting_s, "stopped serving new requests", "stopped"),
             (t.refused_from_s, "refused connections from here", "refused"),
             (t.released_s, "port released: nothing listened any more", "released"),
             (t.last_served_s, "last response served", "last served")]
    marks = [(v, tip, short) for v, tip, short in marks if v is not None]
    labels: list[_Label] = []
    if marks:
        row_y = y + 12
        _lane_label(tl, row_y + 4, "port")
        for v, tip, short in marks:
            assert v is not None
            x = tl.x(v)
            tl.body.append(_tag("path", {"class": f"mark port port-{short.replace(' ', '-')}",
                                         "d": f"M{x:.1f},{top - 2:.1f} V{row_y + 5:.1f}", "data-t": _num(v)},
                                _title(f"{tip} at {_secs(v)}")))
            tl.events.append(_Event(v, "port", f"{tip}"))
            labels.append(_Label(x, row_y + 4, short, "portlbl"))
        y = row_y + 12
    tl.labels.append(labels)
    tl.y = y + 4


def _window_end(t: TrafficRecord, new: list[RequestRecord]) -> float | None:
    if t.stopped_by == "window" and t.window_s:
        return t.window_s
    sent = [r.sent_s for r in new if r.sent_s is not None]
    return max(sent) if sent else None


def _request_end_x(tl: _Timeline, r: RequestRecord) -> float:
    assert r.sent_s is not None
    x0 = tl.x(r.sent_s)
    return max(tl.x(r.ended_s), x0 + 3) if r.ended_s is not None else x0 + 3


def _request_text(r: RequestRecord) -> str:
    """'#1 in-flight on child pid 4101: cut (connection reset)'."""
    on = f" on {r.role + ' ' if r.role else ''}pid {r.pid}" if r.pid is not None else ""
    fate = common.FATE_WORDS.get(r.outcome, r.outcome)
    detail = r.detail or (str(r.status) if r.status is not None else "")
    return f"#{r.n} {r.kind}{on}: {fate}" + (f" ({detail})" if detail else "")


def _request(tl: _Timeline, r: RequestRecord, y: float) -> str:
    assert r.sent_s is not None
    x0 = tl.x(r.sent_s)
    x1 = _request_end_x(tl, r)
    line = _request_text(r)
    tip = f"{line}; sent at {_secs(r.sent_s)}" + ("" if r.ended_s is not None else "; end not recorded")
    if r.kind != "new" and r.ended_s is not None:
        tl.events.append(_Event(r.ended_s, f"#{r.n} {r.kind}", line))
    attrs = {"class": f"mark req {OUTCOME_CLASS.get(r.outcome, 'o-other')}", "x": f"{x0:.1f}", "y": f"{y:.1f}",
             "width": f"{x1 - x0:.1f}", "height": 4, "data-t0": _num(r.sent_s),
             "data-t1": _num(r.ended_s) if r.ended_s is not None else None}
    return _tag("rect", attrs, _title(tip))


def _grace(tl: _Timeline, stop: StopRecord, top: float, bottom: float) -> None:
    if stop.grace_s is None:
        return
    x0 = tl.x(0.0)
    off_chart = stop.grace_s > tl.axis.hi
    x1 = tl.x(min(stop.grace_s, tl.axis.hi))
    tip = (f"the {stop.grace_s:g} s grace ({stop.grace_from}) of {stop.stopper}: from 0 to {_secs(stop.grace_s)}"
           + (", past the end of this chart" if off_chart else ""))
    tl.back.append(_tag("rect", {"class": "grace", "x": f"{x0:.1f}", "y": f"{top:.1f}",
                                 "width": f"{max(x1 - x0, 1):.1f}", "height": f"{bottom - top:.1f}",
                                 "data-t0": "0", "data-t1": _num(stop.grace_s)}, _title(tip)))
    text = f"grace {stop.grace_s:g} s" + (" →" if off_chart else "")
    tl.back.append(_tag("text", {"class": "lbl gracelbl", "x": f"{x1 - 4:.1f}", "y": f"{bottom - 4:.1f}",
                                 "text-anchor": "end"}, esc(text)))
    if not off_chart:
        tl.back.append(_tag("path", {"class": "grace-end", "d": f"M{x1:.1f},{top:.1f} V{bottom:.1f}"}))
    tl.events.append(_Event(stop.grace_s, "signals", f"the {stop.grace_s:g} s grace ends"))


def timeline(case: CaseResult, n: int) -> tuple[str, list[_Event]]:
    """Case ``n``'s timeline as an inline ``<svg>``, and its marks as events."""
    axis = axis_for(_times(case))
    tl = _Timeline(axis, n)
    tl.y = 26  # the tick labels above
    top = tl.y
    _signals_row(tl, case)
    hook_rows = _process_lanes(tl, case)
    _hook_marks(tl, case, hook_rows)
    if case.traffic is not None and case.traffic.requests:
        tl.body.append(_tag("path", {"class": "sep", "d": f"M{PLOT_LEFT - 160},{tl.y:.1f} H{VIEW_WIDTH}"}))
        _traffic_rows(tl, case.traffic, common.new_requests_cell(case))
    bottom = tl.y + 4
    if case.stop is not None:
        _grace(tl, case.stop, top, bottom)
    # the axis: grid lines, tick labels, the trigger's line at zero
    grid = []
    for value, text in axis.ticks():
        x = axis.x(value)
        grid.append(_tag("path", {"class": "grid", "d": f"M{x:.1f},{top - 4} V{bottom:.1f}"}))
        grid.append(_tag("text", {"class": "tick", "x": f"{x:.1f}", "y": 14, "text-anchor": "middle"}, esc(text)))
    grid.append(_tag("text", {"class": "tick", "x": PLOT_LEFT - 10, "y": 14, "text-anchor": "end"},
                     "s after the trigger"))
    x0 = axis.x(0.0)
    grid.append(_tag("path", {"class": "zero", "d": f"M{x0:.1f},{top - 4} V{bottom:.1f}", "data-t": "0"},
                     _title("0: the trigger")))
    right = axis.x(axis.hi)
    labels = []
    for row in tl.labels:
        labels += _place(row, right)
    height = bottom + 6
    hatch = (f'<defs><pattern id="tl{n}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
             f'patternTransform="rotate(45)"><rect class="hatch-bg" width="6" height="6"></rect>'
             f'<path class="hatch" d="M0,0 V6"></path></pattern></defs>')
    desc = f"Timeline of {case.scenario} :: {case.label}, {_secs(axis.lo)} to {_secs(axis.hi)} after the trigger"
    svg = (f'<svg class="tl" id="tl{n}" role="img" aria-labelledby="tl{n}-title" viewBox="0 0 {VIEW_WIDTH} '
           f'{height:.0f}" width="100%" data-lo="{_num(axis.lo)}" data-hi="{_num(axis.hi)}" '
           f'preserveAspectRatio="xMinYMin meet">'
           f'<title id="tl{n}-title">{esc(desc)}</title>{hatch}'
           + "".join(tl.back) + "".join(grid) + "".join(tl.body) + "".join(labels) + "</svg>")
    return svg, tl.events


# ---------------------------------------------------------------- page

CSS = """
:root { color-scheme: light dark; --fg: #1f2328; --bg: #ffffff; --muted: #59636e; --line: #d1d9e0;
  --panel: #f6f8fa; --link: #0550ae;
  --ran: #116329; --ran-bg: #dafbe1; --not: #a40e26; --not-bg: #ffebe9; --cut: #7d4e00; --cut-bg: #fff1c2;
  --none: #59636e; --none-bg: #f6f8fa;
  --life: #8c959f; --hook: #0969da; --hook-bg: #ddf4ff; --sig: #8250df; --kill: #a40e26;
  --grace: rgba(130, 80, 223, 0.08); --window: rgba(9, 105, 218, 0.08); --grid: #eaeef2; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9198a1; --line: #3d444d; --panel: #151b23; --link: #4493f8;
    --ran: #56d364; --ran-bg: #0f2d1b; --not: #ff8182; --not-bg: #3c1618; --cut: #e3b341; --cut-bg: #3a2d0b;
    --none: #9198a1; --none-bg: #151b23;
    --life: #656c76; --hook: #4493f8; --hook-bg: #0c2d6b; --sig: #ab7df8; --kill: #ff8182;
    --grace: rgba(171, 125, 248, 0.12); --window: rgba(68, 147, 248, 0.12); --grid: #21262d; }
}
* { box-sizing: border-box; }
body { font-family: system-ui, sans-serif; color: var(--fg); background: var(--bg); margin: 0 auto;
  max-width: 1280px; padding: 1rem 1.5rem 3rem; line-height: 1.45; font-size: 15px; overflow-wrap: break-word; }
a { color: var(--link); }
h1 { font-size: 1.6rem; margin: 0.5rem 0; }
h2 { font-size: 1.3rem; margin: 2.5rem 0 0.3rem; border-bottom: 2px solid var(--line); padding-bottom: 0.2rem; }
h3 { font-size: 1.05rem; margin: 0 0 0.4rem; }
h4 { font-size: 0.95rem; margin: 1rem 0 0.3rem; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  font-size: 0.86em; }
.muted, .meta { color: var(--muted); }
.desc { margin: 0.2rem 0 0.8rem; }
table { border-collapse: collapse; margin: 0.4rem 0; }
th, td { border: 1px solid var(--line); padding: 0.25rem 0.5rem; vertical-align: top; text-align: left;
  overflow-wrap: break-word; }
td.cmd, td.long { overflow-wrap: anywhere; }
th { background: var(--panel); font-weight: 600; }
table.matrix td.c { text-align: center; white-space: nowrap; }
table.matrix td.num { text-align: right; white-space: nowrap; }
table.matrix td.path { white-space: nowrap; }
td.ran { color: var(--ran); background: var(--ran-bg); }
td.not-ran { color: var(--not); background: var(--not-bg); }
td.cut, td.mixed, td.warn { color: var(--cut); background: var(--cut-bg); }
td.none { color: var(--none); background: var(--none-bg); }
td.bad { color: var(--not); background: var(--not-bg); font-weight: 600; }
tr.failed td.path { box-shadow: inset 4px 0 0 var(--not); font-weight: 600; }
tr.failed td.path a { color: var(--not); }
ul.notes { margin: 0.4rem 0; padding-left: 1.2rem; color: var(--muted); }
ul.notes li.failure, ul.failures li, p.error { color: var(--not); }
ul.notes li.differ { color: var(--cut); }
p.summary { font-weight: 600; }
section.case { border: 1px solid var(--line); border-radius: 6px; padding: 0.8rem 1rem; margin: 1.2rem 0; }
section.case.failed { border-left: 4px solid var(--not); }
.outcome { font-weight: normal; color: var(--muted); }
.explain { margin: 0.3rem 0 0.6rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.1rem 0.8rem; margin: 0.4rem 0;
  font-size: 0.92em; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
table.small { font-size: 0.88em; width: 100%; }
td.nw { white-space: nowrap; }
td.verdict { white-space: nowrap; font-weight: 600; }
td.confirmed, p.claim.confirmed { color: var(--ran); background: var(--ran-bg); }
td.refuted, p.claim.refuted { color: var(--not); background: var(--not-bg); }
td.untested, p.claim.untested { color: var(--none); background: var(--none-bg); }
p.claim { padding: 0.2rem 0.5rem; border-radius: 4px; }
table.claims td.evidence ul { margin: 0; padding-left: 1.1rem; }
table.claims td.evidence li.failure { color: var(--not); }
td.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.92em; }
table.small td.cmd { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.92em; }
pre.tail { background: var(--panel); border: 1px solid var(--line); border-radius: 4px; padding: 0.5rem;
  white-space: pre-wrap; overflow-wrap: anywhere; max-height: 26em; overflow: auto; }
.tlwrap, .scroll { overflow-x: auto; margin: 0.4rem 0; }
svg.tl { display: block; min-width: 760px; font-family: system-ui, sans-serif; }
svg.tl text { fill: var(--fg); font-size: 11px; }
svg.tl text.tick, svg.tl text.sub { fill: var(--muted); font-size: 10px; }
svg.tl text.lane { font-size: 11.5px; }
svg.tl .grid { stroke: var(--grid); stroke-width: 1; }
svg.tl .zero { stroke: var(--sig); stroke-width: 1.5; stroke-dasharray: 4 3; }
svg.tl .sep { stroke: var(--line); }
svg.tl .life { fill: var(--life); opacity: 0.55; }
svg.tl .hatch-bg { fill: var(--life); opacity: 0.25; }
svg.tl .hatch { stroke: var(--life); stroke-width: 2; }
svg.tl .life.open { opacity: 1; stroke: var(--life); stroke-dasharray: 3 2; }
svg.tl .mark.start { stroke: var(--fg); stroke-width: 2; }
svg.tl .end-ok { fill: var(--ran); }
svg.tl .end-rc { fill: var(--cut); }
svg.tl .end-unknown { fill: var(--bg); stroke: var(--muted); stroke-width: 1.5; }
svg.tl .end-sig { stroke: var(--not); stroke-width: 2.5; fill: none; }
svg.tl .end-harness, svg.tl .harness-kill { fill: var(--kill); stroke: var(--fg); stroke-width: 1; }
svg.tl .end-stop, svg.tl .stop-kill { fill: var(--kill); stroke: var(--sig); stroke-width: 2; }
svg.tl text.t-end-ok { fill: var(--ran); }
svg.tl text.t-end-rc { fill: var(--cut); }
svg.tl text.t-end-unknown { fill: var(--muted); }
svg.tl text.t-end-sig, svg.tl text.t-end-harness, svg.tl text.t-end-stop, svg.tl text.kill { fill: var(--not); }
svg.tl .sig { fill: var(--sig); }
svg.tl text.sig { fill: var(--sig); }
svg.tl .prestop { fill: var(--sig); opacity: 0.35; }
svg.tl .hook.ran { fill: var(--hook-bg); stroke: var(--hook); stroke-width: 1.2; }
svg.tl .hook.cut { fill: var(--cut-bg); stroke: var(--cut); stroke-width: 1.2; stroke-dasharray: 3 2; }
svg.tl .hook.approx { stroke-dasharray: 5 3; }
svg.tl .hook.point { fill: var(--hook); stroke: var(--bg); stroke-width: 1; }
svg.tl text.inbar { font-size: 10px; }
svg.tl text.hooklbl { fill: var(--hook); font-size: 10px; }
svg.tl text.cutmark { fill: var(--cut); font-size: 13px; font-weight: 700; }
svg.tl .grace { fill: var(--grace); }
svg.tl .grace-end { stroke: var(--sig); stroke-width: 1.5; }
svg.tl text.gracelbl { fill: var(--sig); font-size: 10px; }
svg.tl .window { fill: var(--window); }
svg.tl .req { stroke: none; }
svg.tl .o-completed { fill: var(--ran); }
svg.tl .o-error-status { fill: #bc4c00; }
svg.tl .o-cut, svg.tl .o-failed { fill: var(--not); }
svg.tl .o-refused { fill: var(--sig); }
svg.tl .o-timed-out { fill: var(--cut); }
svg.tl .o-unfinished, svg.tl .o-other { fill: var(--muted); }
svg.tl .port { stroke: var(--fg); stroke-width: 1; stroke-dasharray: 2 2; }
svg.tl text.portlbl { font-size: 10px; }
table.events td.t { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
details > summary { cursor: pointer; color: var(--muted); }
.key { font-size: 0.9em; color: var(--muted); }
.key strong { font-weight: 600; color: var(--fg); }
nav ul { margin: 0.2rem 0; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  a { color: inherit; text-decoration: none; }
  section.case { break-inside: avoid-page; }
  svg.tl { break-inside: avoid; min-width: 0; }
  pre.tail { max-height: none; overflow: visible; }
  .scroll, .tlwrap { overflow: visible; }
}
"""


def _cell_class(text: str, kind: str) -> str:
    """What a matrix cell means, as a class: the colour is a second channel, the
    symbol and the words stay."""
    if kind == "hook" or kind == "drained":
        if " ×" in text:
            return "mixed"
        if text in ("-", "?"):
            return "none"
        if common.CUT in text or common.RAISED in text:
            return "cut"
        if text.startswith(common.RAN):
            return "cut" if kind == "drained" and ":" in text else "ran"
        if text.startswith(common.NOT_RAN):
            return "not-ran"
        return "none"
    if kind == "exit":
        if " ×" in text:
            return "mixed"
        if text == "skipped":
            return "none"
        if text.startswith("hung") or text in UNFINISHED:
            return "bad"
        return ""
    if kind == "orphans":
        return "none" if text == "-" else "warn"
    return "none" if text == "-" else ""  # traffic words, times


def _matrix(cases: list[CaseResult], index: dict[int, int]) -> list[str]:
    hooks = common.hook_names(cases)
    traffic = common.has_traffic(cases)
    head = ["path", *hooks, *(["drained", "new requests", "port"] if traffic else []), "exit", "time", "orphans"]
    out = ['<div class="scroll"><table class="matrix">',
           "<thead><tr>" + "".join(_tag("th", {"scope": "col"}, esc(h)) for h in head) + "</tr></thead>", "<tbody>"]
    # the case each row stands for (a repeated path: its first run), in rows() order
    firsts: list[CaseResult] = []
    seen: set[str] = set()
    for case in cases:
        if case.attempt is None:
            firsts.append(case)
        elif case.path not in seen:
            seen.add(case.path)
            firsts.append(case)
    for row, case in zip(common.rows(cases, hooks, traffic), firsts):
        link = _tag("a", {"href": f"#case-{index[id(case)]}"}, esc(row.label))
        cells = [_tag("th", {"class": "path", "scope": "row"}, link)]
        cells += [_tag("td", {"class": f"c {_cell_class(t, 'hook')}".rstrip()}, esc(t)) for t in row.hooks]
        if traffic:
            drained, new, port = row.traffic
            cells.append(_tag("td", {"class": f"c {_cell_class(drained, 'drained')}".rstrip()}, esc(drained)))
            cells.append(_tag("td", {"class": _cell_class(new, "traffic") or None}, esc(new)))
            cells.append(_tag("td", {"class": _cell_class(port, "traffic") or None}, esc(port)))
        cells.append(_tag("td", {"class": f"exit {_cell_class(row.exit, 'exit')}".rstrip()}, esc(row.exit)))
        cells.append(_tag("td", {"class": "num"}, esc(row.time)))
        cells.append(_tag("td", {"class": f"orphans {_cell_class(row.orphans, 'orphans')}"}, esc(row.orphans)))
        out.append(_tag("tr", {"class": "failed" if row.failed else None}, "".join(cells)))
    out.append("</tbody></table></div>")
    return out


def _notes(cases: list[CaseResult]) -> list[str]:
    items = [_tag("li", {"class": "legend"}, esc(text))
             for text in (common.legend(cases), common.traffic_legend(cases)) if text]
    items += [_tag("li", {"class": "order"}, esc(line)) for line in common.order_lines(cases)]
    items += [_tag("li", {"class": "differ"}, esc(line)) for line in common.probe_note_lines(cases)]
    items += [_tag("li", {"class": "differ" if " differ: " in line else "repeat"}, esc(line))
              for line in common.repeat_lines(cases)]
    items += [_tag("li", {"class": "failure"}, esc(f"{common.NOT_RAN} {line}")) for line in common.failure_lines(cases)]
    return ['<ul class="notes matrix-notes">', *items, "</ul>"] if items else []


def _claims(cases: list[CaseResult]) -> list[str]:
    """The claims, one row each: verdict (symbol and word), path, claim, and what was seen."""
    rows = common.claims(cases)
    if not rows:
        return []
    out = ['<div class="scroll"><table class="claims"><thead><tr>'
           + "".join(_tag("th", {"scope": "col"}, h) for h in ("verdict", "path", "claim", "evidence"))
           + "</tr></thead><tbody>"]
    for row in rows:
        seen = [_tag("li", {"class": "failure"}, esc(f"{common.NOT_RAN} {line}")) for line in row.failures]
        seen += [_tag("li", {}, esc(line)) for line in row.evidence]
        out.append("<tr>" + _tag("td", {"class": f"verdict {row.verdict}"}, esc(f"{row.mark} {row.tally}"))
                   + _tag("td", {"class": "nw"}, esc(row.path)) + _tag("td", {}, esc(row.claim))
                   + _tag("td", {"class": "evidence"}, _tag("ul", {}, "".join(seen)) if seen else "") + "</tr>")
    out.append("</tbody></table></div>")
    return out


def _dl(pairs: list[tuple[str, str]], cls: str = "facts") -> str:
    if not pairs:
        return ""
    body = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in pairs)
    return f'<dl class="{cls}">{body}</dl>'


def _table(head: list[str], rows: list[list[tuple[str, str | None]]], cls: str) -> str:
    """rows: cells as (text, class)."""
    out = [f'<div class="scroll"><table class="{cls}"><thead><tr>'
           + "".join(_tag("th", {"scope": "col"}, esc(h)) for h in head) + "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(_tag("td", {"class": c}, esc(t)) for t, c in row) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _process_table(case: CaseResult) -> str:
    rows = []
    for p in case.processes:
        cls, how = _ending(p)
        notes = []
        if p.ns_pid is not None:
            notes.append(f"PID {p.ns_pid} in the namespace")
        if p.started_after_s is not None:
            notes.append(f"started {_secs(p.started_after_s)} after the trigger")
        if p.signals_caught:
            notes.append("handles " + ", ".join(p.signals_caught))
        if p.signals_ignored:
            notes.append("ignores " + ", ".join(p.signals_ignored))
        if p.exit_note and not how.endswith(f"({p.exit_note})"):
            notes.append(p.exit_note)
        killed = "by the stop's SIGKILL (grace over)" if p.killed_by_stop else (
            "by the harness" if p.killed_by_harness else "-")
        rows.append([(str(p.pid), "nw"), (p.role, "nw"), (p.kind or "-", "nw"), (how, None),
                     (_secs(p.ended_after_s) if p.ended_after_s is not None else "never seen", "nw"),
                     (" ".join(f":{x}" for x in p.listening) or "-", "nw"), (killed, "warn" if killed != "-" else None),
                     ("; ".join(notes) or "-", "long"), (p.cmdline or "-", "cmd")])
    return _table(["pid", "role", "kind", "how it ended", "ended at", "listening", "killed", "notes", "command"],
                  rows, "small processes")


def _hook_table(case: CaseResult) -> str:
    rows = []
    for name, h in case.hooks.items():
        cell = common.hook_cell(case, name)
        who = ", ".join(f"{r} {p}" for r, p in zip(h.roles, h.pids))
        if h.interrupted_pids:
            who += ("; " if who else "") + f"{common.CUT} " + ", ".join(
                f"{r} {p}" for r, p in zip(h.interrupted_roles, h.interrupted_pids))
        evidence = h.evidence + ("; raised: " + "; ".join(h.errors) if h.errors else "") + (
            f" (registered at {h.where})" if h.where else "")
        rows.append([(name, "mono"), (cell, f"nw {_cell_class(cell, 'hook')}"), (who or "-", "nw"),
                     (_secs(h.at_s), "nw"), (_secs(h.duration_s), "nw"), (h.source or "-", "nw"), (evidence, "cmd")])
    return _table(["hook", "result", "in", "at", "duration", "source", "evidence"], rows, "small hooks")


def _stop_facts(stop: StopRecord) -> str:
    grace = f"{stop.grace_s:g} s ({stop.grace_from})" if stop.grace_s is not None else "none (never kills)"
    pairs = [("profile", f"{stop.profile} ({stop.stopper})"), ("signal", f"{stop.signal} to {stop.to}"),
             ("grace", grace)]
    if stop.signal_at_s:
        pairs.append(("signal at", _secs(stop.signal_at_s)))
    if stop.signalled:
        pairs.append(("signalled", ", ".join(
            f"{s.get('role')} {s.get('pid', s.get('pgid'))}" + ("" if s.get("delivered", True) else " (not delivered)")
            for s in stop.signalled)))
    if stop.namespace:
        pairs.append(("PID 1", stop.namespace + (f", init: {stop.init}" if stop.init else "")))
    if stop.pid1_handles_signal is not None:
        pairs.append((f"PID 1 handles {stop.signal}", "yes" if stop.pid1_handles_signal else
                      "no: the kernel drops the signal"))
    if stop.pre_stop:
        pairs.append(("preStop", ", ".join(f"{k}={v}" for k, v in stop.pre_stop.items())))
    if stop.second_signal:
        pairs.append(("second signal", ", ".join(f"{k}={v}" for k, v in stop.second_signal.items())))
    if stop.cleanup_s is not None:
        pairs.append(("cleanup", _secs(stop.cleanup_s) + (f" of the {stop.grace_s:g} s grace"
                                                          if stop.grace_s is not None else "")))
    pairs.append(("final SIGKILL", f"at {_secs(stop.kill_at_s)}: " + (", ".join(
        f"{k.get('role')} {k.get('pid')}" for k in stop.killed) or "nothing left") if stop.final_kill else "no"))
    if stop.left_running:
        pairs.append(("left running", ", ".join(f"{k.get('role')} {k.get('pid')}" for k in stop.left_running)))
    if stop.source:
        pairs.append(("source", stop.source))
    return _dl(pairs)


def _case(case: CaseResult, n: int) -> list[str]:
    cls = "case failed" if case.failed else "case"
    out = [f'<section class="{cls}" id="case-{n}">',
           f"<h3>{esc(case.scenario)} :: {esc(case.label)} <span class=\"outcome\">— {esc(case.outcome)}</span></h3>",
           _tag("p", {"class": "explain"}, esc(common.explain(case)))]
    facts: list[tuple[str, str]] = []
    if case.trigger and case.stop is None:
        facts.append(("trigger", ", ".join(f"{k}={v}" for k, v in case.trigger.items())))
    if case.ready_s is not None:
        facts.append(("ready after", _secs(case.ready_s) + " (from launch)"))
    if _fired(case):
        facts.append(("exit", common.exit_cell(case)))
        facts.append(("time", common.time_cell(case)))
    if case.probe:
        facts.append(("Python probe", str(case.probe.get("why", case.probe.get("enabled")))))
    if case.wall_s is not None:
        facts.append(("whole case", _secs(case.wall_s) + " in the harness"))
    if case.workdir:
        facts.append(("workdir", case.workdir))
    if case.error:
        out.append(_tag("p", {"class": "error"}, esc(case.error)))
    out.append(_dl(facts))
    if _fired(case):
        svg, events = timeline(case, n)
        out.append(f'<div class="tlwrap">{svg}</div>')
        if events:
            rows = [[(_secs(e.t), "t"), (e.lane, "nw"), (e.text, "long")]
                    for e in sorted(events, key=lambda e: e.t)]
            out.append("<details><summary>the timeline as a table</summary>"
                       + _table(["at", "where", "what"], rows, "small events") + "</details>")
    if case.expect.claim:
        out.append(_tag("p", {"class": f"claim {case.expect.verdict or 'untested'}"},
                        esc(f"claim: {case.expect.claim} — {case.expect.verdict or 'untested'}")))
    if case.expect.failures:
        out.append('<ul class="failures">' + "".join(_tag("li", {}, esc(f"{common.NOT_RAN} {f}"))
                                                     for f in case.expect.failures) + "</ul>")
    if case.stop is not None:
        out.append("<h4>stop profile</h4>")
        out.append(_stop_facts(case.stop))
    if case.processes:
        out.append("<h4>processes</h4>")
        out.append(_process_table(case))
    started = common.started_after_lines(case)
    if started:
        out.append('<ul class="notes">' + "".join(_tag("li", {}, esc(line)) for line in started) + "</ul>")
    if case.hooks and case.outcome != "skipped":
        out.append("<h4>hooks</h4>")
        out.append(_hook_table(case))
        orders = []
        if common.order_text(case.order):
            orders.append("order: " + common.order_text(case.order))
        if len(case.probe_order) > 1:
            orders.append("atexit order: " + " → ".join(case.probe_order))
        if orders:
            out.append('<ul class="notes">' + "".join(_tag("li", {}, esc(o)) for o in orders) + "</ul>")
    if case.orphans:
        out.append("<h4>orphans</h4>")
        out.append(_table(["pid", "role", "listening", "killed by the harness", "command"],
                          [[(str(o.pid), "nw"), (o.role, "nw"), (" ".join(f":{x}" for x in o.listening) or "-", "nw"),
                            ("yes" if o.killed_by_harness else "no", "warn" if not o.killed_by_harness else None),
                            (o.cmdline or "-", "cmd")] for o in case.orphans], "small orphans"))
    if case.escalations:
        out.append("<h4>escalations</h4>")
        items = []
        for e in case.escalations:
            at = getattr(e, "at_s", None)
            when = f" at {_secs(at)}" if at is not None else ""
            items.append(_tag("li", {}, esc(f"the harness sent {e.signal} to {e.role} pid {e.pid}{when}: {e.reason}")))
        out.append('<ul class="escalations">' + "".join(items) + "</ul>")
    traffic = common.traffic_lines(case)
    if traffic:
        out.append("<h4>traffic</h4>")
        inner = "".join(_tag("li", {}, esc(line)) for line in traffic[1:])
        out.append(f'<ul class="traffic"><li>{esc(traffic[0])}<ul>{inner}</ul></li></ul>')
    if case.output_tail:
        out.append("<h4>output tail</h4>")
        out.append(_tag("pre", {"class": "tail"}, esc_block(case.output_tail)))
    out.append("</section>")
    return out


KEY = (
    '<p class="key"><strong>Cells</strong>: ✓ ran (green), ✗ did not run (red), ◐ started but cut short, '
    "and ×N counts where repeated runs differed (amber), - not applicable (grey); the words say which "
    "process. <strong>Timelines</strong>: seconds after the trigger (0, the dashed line); ▼ a signal "
    "sent; ■ a SIGKILL by the harness, or by the stop profile when its grace (the shaded band) ran out; "
    "per process a bar for its life ending in ● an exit (rc), ✕ a signal or ■ a kill, hatched when no end "
    "was recorded; a framed span for an atexit hook the probe timed (dashed: the first start among several "
    "processes), ◆ the first evidence of a log or file hook, ◐ a process that died inside a hook; requests "
    "as thin bars from sent to answered: green completed, orange 5xx, red cut, violet refused. Hover a "
    "mark for its exact text; each timeline has the same facts as a table.</p>"
)


def page_start(title: str, css: str = "") -> list[str]:
    """A page's lines up to its open ``<header>`` and ``<h1>``: the head with the
    report's style (and ``css`` after it), nothing fetched from anywhere."""
    return ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8"/>',
            '<meta name="viewport" content="width=device-width, initial-scale=1"/>',
            '<meta name="color-scheme" content="light dark"/>',
            f"<title>{esc(title)}</title>", f"<style>{CSS}{css}</style>", "</head>", "<body>",
            "<header>", f"<h1>{esc(title)}</h1>"]


def format_html(results: Results, *, title: str | None = None) -> str:
    """The whole report as one HTML document (no I/O; the same results give the same text)."""
    groups = common.by_scenario(results)
    index = {id(c): i for i, c in enumerate(results.cases)}
    if title is None:
        names = list(groups)
        title = "shutdown-probe report" + (": " + ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
                                           if names else "")
    out = page_start(title)
    env = results.environment
    facts: list[tuple[str, str]] = [("tool", results.tool)] if results.tool else []
    if env.get("python"):
        facts.append(("python", f"{env['python']}" + (f" ({env['implementation']})" if env.get("implementation")
                                                      else "")))
    for key in ("platform", "kernel", "jobs", "runner", "workers"):
        if env.get(key) is not None and env.get(key) != "":
            facts.append((key, str(env[key])))
    for what, how in (env.get("capabilities") or {}).items():
        if how != "yes":
            facts.append((str(what), str(how)))
    out.append(_dl(facts, "facts env"))
    if results.cases:
        failed = sum(1 for c in results.cases if c.failed)
        line = common.summary_line(results.cases) + (f"; {failed} failed" if failed else "")
        out.append(_tag("p", {"class": "summary"}, esc(line)))
    else:
        out.append('<p class="summary">no cases</p>')
    if len(groups) > 1:
        out.append("<nav><ul>" + "".join(_tag("li", {}, _tag("a", {"href": f"#scenario-{k}"}, esc(name)))
                                         for k, name in enumerate(groups)) + "</ul></nav>")
    out.append(KEY)
    out.append("</header>")
    for k, (name, cases) in enumerate(groups.items()):
        out.append(f'<section class="scenario" id="scenario-{k}">')
        out.append(_tag("h2", {}, esc(name)))
        description = results.scenarios.get(cases[0].scenario, "")
        if description:
            out.append(_tag("p", {"class": "desc"}, esc(description)))
        out += _matrix(cases, index)
        out += _notes(cases)
        out += _claims(cases)
        out.append(_tag("p", {"class": "summary"}, esc(common.summary_line(cases) + ".")))
        out.append("<h4>what happened on each path</h4>")
        out.append('<ul class="explained">' + "".join(
            "<li>" + _tag("a", {"href": f"#case-{index[id(c)]}"}, esc(c.label)) + ": " + esc(common.explain(c))
            + "</li>" for c in cases) + "</ul>")
        for case in cases:
            out += _case(case, index[id(case)])
        out.append("</section>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)
