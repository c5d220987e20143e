"""A case's timeline, drawn in inline SVG: the signals sent, a lane per process (its
life, how it ended, the hooks it ran), the requests of its traffic, a stop profile's
grace; and the same facts as events, for the table under it.

The horizontal scale is :mod:`.axis`'s. The ``<svg>`` carries ``data-lo`` and
``data-hi``; each mark carries its time(s) in ``data-t`` (``data-t0``, ``data-t1`` for
spans) and the exact text in an SVG ``<title>`` (its tooltip).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..results import CaseResult, Escalation, HookResult, ProcessRecord, RequestRecord, StopRecord, TrafficRecord
from .axis import PLOT_LEFT, VIEW_WIDTH, Axis, axis_for
from .cells import CUT, RAN, trigger_text
from .markup import clip, esc, secs, tag
from .traffic import FATE_WORDS, STOPPED_BY, new_requests_cell

@dataclass
class Event:
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
    events: list[Event] = field(default_factory=list)
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
    out += [e.at_s for e in case.escalations if e.at_s is not None]
    if case.stop is not None:
        s = case.stop
        out += [t for t in (s.signal_at_s, s.kill_at_s, s.cleanup_s) if t is not None]
        pre_stop_s = s.pre_stop.get("duration_s") if s.pre_stop else None
        if pre_stop_s is not None:
            out.append(float(pre_stop_s))
        second_s = s.second_signal.get("at_s") if s.second_signal else None
        if second_s is not None:
            out.append(float(second_s))
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


def fired(case: CaseResult) -> bool:
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
            out.append(tag("text", {"class": f"lbl {lab.cls}", "x": f"{tx:.1f}", "y": f"{lab.y:.1f}",
                                     "text-anchor": anchor}, esc(lab.text)))
            break
    return out


def _title(text: str) -> str:
    return f"<title>{esc(text)}</title>"


def _lane_label(tl: _Timeline, y: float, main: str, sub: str = "", tip: str = "") -> None:
    tip = tip or (main + (f" ({sub})" if sub else ""))
    tl.body.append(tag("text", {"class": "lane", "x": PLOT_LEFT - 10, "y": f"{y:.1f}", "text-anchor": "end"},
                        _title(tip) + esc(clip(main, 24))))
    if sub:
        tl.body.append(tag("text", {"class": "lane sub", "x": PLOT_LEFT - 10, "y": f"{y + 12:.1f}",
                                     "text-anchor": "end"}, _title(tip) + esc(clip(sub, 27))))


def _triangle(x: float, y: float, cls: str, tip: str, t: float) -> str:
    """A signal sent: a triangle pointing down at the lanes."""
    points = f"{x - 5:.1f},{y - 6:.1f} {x + 5:.1f},{y - 6:.1f} {x:.1f},{y + 4:.1f}"
    return tag("polygon", {"class": f"mark {cls}", "points": points, "data-t": _num(t)}, _title(tip))


def _square(x: float, y: float, cls: str, tip: str, t: float, size: float = 9) -> str:
    h = size / 2
    return tag("rect", {"class": f"mark {cls}", "x": f"{x - h:.1f}", "y": f"{y - h:.1f}", "width": size,
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
            tip = f"preStop {what}: {how}, {secs(end)}"
            x0, x1 = tl.x(0.0), tl.x(end)
            tl.body.append(tag("rect", {"class": "mark prestop", "x": x0, "y": f"{mid - 4:.1f}",
                                         "width": f"{max(x1 - x0, 2):.1f}", "height": 8, "data-t0": "0",
                                         "data-t1": _num(end)}, _title(tip)))
            tl.events.append(Event(0.0, "signals", f"preStop started: {what}"))
            tl.events.append(Event(end, "signals", tip))
            labels.append(_Label(x1, mid + 4, "preStop", "sig", rank=1))
        at = stop.signal_at_s or 0.0
        tip = f"{stop.stopper}: {stop.signal} to {stop.to}" + (f" ({stop.init})" if stop.init else "")
        if stop.pid1_handles_signal is False and stop.init is None:
            tip += f"; PID 1 has no {stop.signal} handler, so the kernel drops it"
        tl.body.append(_triangle(tl.x(at), mid, "sig trigger", tip, at))
        tl.events.append(Event(at, "signals", tip))
        labels.append(_Label(tl.x(at), mid + 4, f"{stop.signal} → {stop.to}", "sig"))
        second = stop.second_signal
        second_s = second.get("at_s") if second else None
        if second and second_s is not None:
            at2 = float(second_s)
            tip = f"{stop.signal} again ({second.get('why')})"
            tl.body.append(_triangle(tl.x(at2), mid, "sig", tip, at2))
            tl.events.append(Event(at2, "signals", tip))
            labels.append(_Label(tl.x(at2), mid + 4, f"{stop.signal} again", "sig"))
        if stop.final_kill and stop.kill_at_s is not None:
            hit = ", ".join(f"{k.get('role')} {k.get('pid')}" for k in stop.killed) or "nothing left"
            main_gone = stop.kill_cause == "main-exited"
            why = "the main process had exited" if main_gone else f"the {stop.grace_s:g} s grace ran out"
            tip = f"{why}: SIGKILL ({hit})"
            tl.body.append(_square(tl.x(stop.kill_at_s), mid, "kill stop-kill", tip, stop.kill_at_s, 10))
            tl.events.append(Event(stop.kill_at_s, "signals", tip))
            labels.append(_Label(tl.x(stop.kill_at_s), mid + 4,
                                 "SIGKILL (main gone)" if main_gone else "SIGKILL (grace over)", "kill"))
    elif trigger:
        tip = f"trigger: {trigger} (" + trigger_text(case) + ")"
        tl.body.append(_triangle(tl.x(0.0), mid, "sig trigger", tip, 0.0))
        tl.events.append(Event(0.0, "signals", tip))
        labels.append(_Label(tl.x(0.0), mid + 4, trigger, "sig"))
    # the harness's own SIGKILLs, one mark per moment
    moments: dict[float, list[Escalation]] = {}
    for e in case.escalations:
        if e.at_s is not None:
            moments.setdefault(e.at_s, []).append(e)
    for at, group in moments.items():
        who = ", ".join(f"{e.role} {e.pid}" for e in group)
        reasons = list(dict.fromkeys(e.reason for e in group))
        tip = f"the harness sent {'/'.join(dict.fromkeys(e.signal for e in group))} to {who}: {'; '.join(reasons)}"
        tl.body.append(_square(tl.x(at), mid, "kill harness-kill", tip, at))
        tl.events.append(Event(at, "signals", tip))
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


def process_ending(p: ProcessRecord) -> tuple[str, str]:
    """(css class, words) for how a process ended."""
    if p.killed_by_stop:
        return "end-stop", f"{p.signal or 'SIGKILL'}, {END_LABEL['stop']}"
    if p.killed_by_harness:
        return "end-harness", f"{p.signal or 'SIGKILL'}, {END_LABEL['harness']}"
    if p.signal:
        return "end-sig", p.signal
    if p.returncode is not None:
        return ("end-ok" if p.returncode == 0 else "end-rc"), f"rc {p.returncode}" + zombie_words(p)
    return "end-unknown", "exit unknown" + (f" ({p.exit_note})" if p.exit_note else "") + zombie_words(p)


def zombie_words(p: ProcessRecord) -> str:
    """", then a zombie until 1.51 s" for a process its parent did not reap; else ""."""
    if not p.zombie:
        return ""
    if p.reaped_after_s is None:
        return ", then a zombie (never reaped while watched)"
    return f", then a zombie (unreaped) until {secs(p.reaped_after_s)}"


def _end_mark(x: float, y: float, cls: str, tip: str, t: float) -> str:
    if cls in ("end-stop", "end-harness"):
        return _square(x, y, f"end {cls}", tip, t, 10)
    if cls == "end-sig":  # a cross: the process was killed by a signal
        d = (f"M{x - 4.5:.1f},{y - 4.5:.1f} L{x + 4.5:.1f},{y + 4.5:.1f} "
             f"M{x - 4.5:.1f},{y + 4.5:.1f} L{x + 4.5:.1f},{y - 4.5:.1f}")
        return tag("path", {"class": f"mark end {cls}", "d": d, "data-t": _num(t)}, _title(tip))
    return tag("circle", {"class": f"mark end {cls}", "cx": f"{x:.1f}", "cy": f"{y:.1f}", "r": 4.5,
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
            words = f"{name} started {secs(p.started_after_s)} after the trigger"
            tl.events.append(Event(p.started_after_s, name, f"started ({p.cmdline})" if p.cmdline else "started"))
            tl.body.append(tag("path", {"class": "mark start", "d": f"M{x0:.1f},{bar_y - 2:.1f} v14",
                                         "data-t": _num(p.started_after_s)}, _title(words)))
        if p.ended_after_s is not None:
            x1 = tl.x(p.ended_after_s)
            tl.body.append(tag("rect", {"class": "life", "x": f"{x0:.1f}", "y": f"{bar_y:.1f}",
                                         "width": f"{max(x1 - x0, 1):.1f}", "height": 10},
                                _title(f"{name}: alive until {secs(p.ended_after_s)}")))
            cls, words = process_ending(p)
            if p.zombie and p.reaped_after_s is not None:
                xz = tl.x(p.reaped_after_s)
                tl.body.append(tag("rect", {"class": "life zombie", "x": f"{x1:.1f}", "y": f"{bar_y + 3:.1f}",
                                             "width": f"{max(xz - x1, 1):.1f}", "height": 4, "fill-opacity": "0.4"},
                                    _title(f"{name}: a zombie, exited but not reaped by its parent, "
                                           f"until {secs(p.reaped_after_s)}")))
                tl.events.append(Event(p.reaped_after_s, name, "reaped (no longer a zombie)"))
            tip = f"{name} ended at {secs(p.ended_after_s)}: {words}"
            tl.body.append(_end_mark(x1, bar_y + 5, cls, tip, p.ended_after_s))
            tl.events.append(Event(p.ended_after_s, name, f"ended: {words}"))
            labels.append(_Label(x1, bar_y + 9, words.split(", ")[0] if cls == "end-sig" else
                                 {"end-stop": "grace SIGKILL", "end-harness": "harness SIGKILL"}.get(cls, words),
                                 f"t-{cls}"))
        else:
            cls, words = process_ending(p)
            tl.body.append(tag("rect", {"class": "life open", "x": f"{x0:.1f}", "y": f"{bar_y:.1f}",
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
                    tip = f"{names[pid]} died inside {name} ({CUT}) at {secs(end)}"
                    tl.body.append(tag("text", {"class": "mark cutmark", "x": f"{tl.x(end):.1f}",
                                                 "y": f"{rows[pid] + 4:.1f}", "text-anchor": "middle",
                                                 "data-t": _num(end)}, _title(tip) + CUT))
                    tl.events.append(Event(end, names[pid], f"died inside {name} {CUT}"))
    tl.labels += lane_labels.values()
    order = list(case.hooks)
    for name, h in sorted(own_rows, key=lambda item: order.index(item[0])):
        y0 = tl.y
        who = ", ".join(f"{r} {p}" for r, p in zip(h.roles, h.pids))
        cut = ", ".join(f"{r} {p}" for r, p in zip(h.interrupted_roles, h.interrupted_pids))
        sub = (f"{RAN} {who}" if who else "") + (f" {CUT} {cut}" if cut else "")
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
            tip = (f"{name} {CUT} started at {secs(at)} in {lane}, never finished: "
                   + (f"the process died inside it at {secs(end)}" if end is not None else "no end recorded"))
            cls = "hook cut"
        else:
            stop = at + (h.duration_s or 0.0)
            ran = "ran" if h.ran else "started"
            tip = f"{name} {ran} from {secs(at)} to {secs(stop)} ({secs(h.duration_s)}){first}"
            if not exact and h.duration_s is not None:
                tip += "; its longest finished run"
            if cut:
                tip += f"; {CUT} never finished in " + ", ".join(
                    f"{r} {p}" for r, p in zip(h.interrupted_roles, h.interrupted_pids))
            if h.errors:
                tip += "; raised: " + "; ".join(h.errors)
            cls = "hook ran" + (" cut" if cut else "") + ("" if exact else " approx")
        x1 = tl.x(stop)
        tl.body.append(tag("rect", {"class": f"mark {cls}", "x": f"{x0:.1f}", "y": f"{y - 5:.1f}",
                                     "width": f"{max(x1 - x0, 2):.1f}", "height": 10, "rx": 2,
                                     "data-hook": name, "data-t0": _num(at), "data-t1": _num(stop)}, _title(tip)))
        tl.events.append(Event(at, lane, f"{name} started" + ("" if exact else " (first start in any process)")))
        if cls == "hook cut":
            tl.events.append(Event(stop, lane, f"{name} cut short {CUT}"))
        elif h.duration_s is not None:
            tl.events.append(Event(stop, lane, f"{name} finished ({secs(h.duration_s)})"
                                    + ("" if exact else " (its longest run, from the first start)")))
        text = name.removeprefix("atexit:") + (f" {CUT}" if cut and exact and not h.ran else "")
        width = len(text) * CHAR_W
        labels.append(_Label(x0, y, "", "", reserve=max(x1 - x0, 2)))
        if x1 - x0 >= width + 6:  # the name inside its span
            tl.body.append(tag("text", {"class": "lbl inbar", "x": f"{x0 + 3:.1f}", "y": f"{y + 3.5:.1f}"},
                                esc(text)))
        else:
            labels.append(_Label(x1, y + 4, text, "hooklbl"))
        return
    # a point: the first evidence (a log line read, a file's mtime) or a probe hook
    # whose duration is unknown
    where = f"first evidence at {secs(at)}" if h.source != "probe" else f"started at {secs(at)}"
    tip = f"{name}: {where}{first}: {h.evidence}"
    points = f"{x0:.1f},{y - 6:.1f} {x0 + 5:.1f},{y:.1f} {x0:.1f},{y + 6:.1f} {x0 - 5:.1f},{y:.1f}"
    tl.body.append(tag("polygon", {"class": "mark hook point" + ("" if exact else " approx"), "points": points,
                                    "data-hook": name, "data-t": _num(at)}, _title(tip)))
    tl.events.append(Event(at, lane, f"{name}: {where}" + ("" if exact else " (which process: see the hooks)")))
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
        for r in sorted(new, key=lambda r: (r.sent_s or 0.0, r.n)):  # every one has its sent_s
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
            why = STOPPED_BY.get(t.stopped_by, t.stopped_by) if t.stopped_by != "window" else \
                f"the {t.window_s:g} s window ended"
            tip = f"new requests sent from 0 to {secs(window_end)}" + (f" (until {why})" if why else "")
            tl.back.append(tag("rect", {"class": "window", "x": f"{x0:.1f}", "y": f"{first_new - 2:.1f}",
                                         "width": f"{max(x1 - x0, 1):.1f}", "height": f"{height:.1f}",
                                         "data-t0": "0", "data-t1": _num(window_end)}, _title(tip)))
            tl.events.append(Event(window_end, "requests", tip))
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
            tl.body.append(tag("path", {"class": f"mark port port-{short.replace(' ', '-')}",
                                         "d": f"M{x:.1f},{top - 2:.1f} V{row_y + 5:.1f}", "data-t": _num(v)},
                                _title(f"{tip} at {secs(v)}")))
            tl.events.append(Event(v, "port", f"{tip}"))
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
    fate = FATE_WORDS.get(r.outcome, r.outcome)
    detail = r.detail or (str(r.status) if r.status is not None else "")
    return f"#{r.n} {r.kind}{on}: {fate}" + (f" ({detail})" if detail else "")


def _request(tl: _Timeline, r: RequestRecord, y: float) -> str:
    assert r.sent_s is not None
    x0 = tl.x(r.sent_s)
    x1 = _request_end_x(tl, r)
    line = _request_text(r)
    tip = f"{line}; sent at {secs(r.sent_s)}" + ("" if r.ended_s is not None else "; end not recorded")
    if r.kind != "new" and r.ended_s is not None:
        tl.events.append(Event(r.ended_s, f"#{r.n} {r.kind}", line))
    attrs = {"class": f"mark req {OUTCOME_CLASS.get(r.outcome, 'o-other')}", "x": f"{x0:.1f}", "y": f"{y:.1f}",
             "width": f"{x1 - x0:.1f}", "height": 4, "data-t0": _num(r.sent_s),
             "data-t1": _num(r.ended_s) if r.ended_s is not None else None}
    return tag("rect", attrs, _title(tip))


def _grace(tl: _Timeline, stop: StopRecord, top: float, bottom: float) -> None:
    if stop.grace_s is None:
        return
    x0 = tl.x(0.0)
    off_chart = stop.grace_s > tl.axis.hi
    x1 = tl.x(min(stop.grace_s, tl.axis.hi))
    tip = (f"the {stop.grace_s:g} s grace ({stop.grace_from}) of {stop.stopper}: from 0 to {secs(stop.grace_s)}"
           + (", past the end of this chart" if off_chart else ""))
    tl.back.append(tag("rect", {"class": "grace", "x": f"{x0:.1f}", "y": f"{top:.1f}",
                                 "width": f"{max(x1 - x0, 1):.1f}", "height": f"{bottom - top:.1f}",
                                 "data-t0": "0", "data-t1": _num(stop.grace_s)}, _title(tip)))
    text = f"grace {stop.grace_s:g} s" + (" →" if off_chart else "")
    tl.back.append(tag("text", {"class": "lbl gracelbl", "x": f"{x1 - 4:.1f}", "y": f"{bottom - 4:.1f}",
                                 "text-anchor": "end"}, esc(text)))
    if not off_chart:
        tl.back.append(tag("path", {"class": "grace-end", "d": f"M{x1:.1f},{top:.1f} V{bottom:.1f}"}))
    tl.events.append(Event(stop.grace_s, "signals", f"the {stop.grace_s:g} s grace ends"))


def timeline(case: CaseResult, n: int) -> tuple[str, list[Event]]:
    """Case ``n``'s timeline as an inline ``<svg>``, and its marks as events."""
    axis = axis_for(_times(case))
    tl = _Timeline(axis, n)
    tl.y = 26  # the tick labels above
    top = tl.y
    _signals_row(tl, case)
    hook_rows = _process_lanes(tl, case)
    _hook_marks(tl, case, hook_rows)
    if case.traffic is not None and case.traffic.requests:
        tl.body.append(tag("path", {"class": "sep", "d": f"M{PLOT_LEFT - 160},{tl.y:.1f} H{VIEW_WIDTH}"}))
        _traffic_rows(tl, case.traffic, new_requests_cell(case))
    bottom = tl.y + 4
    if case.stop is not None:
        _grace(tl, case.stop, top, bottom)
    # the axis: grid lines, tick labels, the trigger's line at zero
    grid = []
    for value, text in axis.ticks():
        x = axis.x(value)
        grid.append(tag("path", {"class": "grid", "d": f"M{x:.1f},{top - 4} V{bottom:.1f}"}))
        grid.append(tag("text", {"class": "tick", "x": f"{x:.1f}", "y": 14, "text-anchor": "middle"}, esc(text)))
    grid.append(tag("text", {"class": "tick", "x": PLOT_LEFT - 10, "y": 14, "text-anchor": "end"},
                     "s after the trigger"))
    x0 = axis.x(0.0)
    grid.append(tag("path", {"class": "zero", "d": f"M{x0:.1f},{top - 4} V{bottom:.1f}", "data-t": "0"},
                     _title("0: the trigger")))
    right = axis.x(axis.hi)
    labels = []
    for row in tl.labels:
        labels += _place(row, right)
    height = bottom + 6
    hatch = (f'<defs><pattern id="tl{n}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
             f'patternTransform="rotate(45)"><rect class="hatch-bg" width="6" height="6"></rect>'
             f'<path class="hatch" d="M0,0 V6"></path></pattern></defs>')
    desc = f"Timeline of {case.scenario} :: {case.label}, {secs(axis.lo)} to {secs(axis.hi)} after the trigger"
    svg = (f'<svg class="tl" id="tl{n}" role="img" aria-labelledby="tl{n}-title" viewBox="0 0 {VIEW_WIDTH} '
           f'{height:.0f}" width="100%" data-lo="{_num(axis.lo)}" data-hi="{_num(axis.hi)}" '
           f'preserveAspectRatio="xMinYMin meet">'
           f'<title id="tl{n}-title">{esc(desc)}</title>{hatch}'
           + "".join(tl.back) + "".join(grid) + "".join(tl.body) + "".join(labels) + "</svg>")
    return svg, tl.events
