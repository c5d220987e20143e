"""HTTP traffic during the shutdown, in words: the matrix's drained, new requests
and port cells, and a case's traffic lines for the details."""

from __future__ import annotations

from collections import Counter

from ..behaviour import role_of
from ..results import NOT_OBSERVED, REQUEST_OUTCOMES, CaseResult, RequestRecord, TrafficRecord
from .cells import NOT_RAN, RAN


# a new request's outcome in the matrix: what a client of the port saw
NEW_WORDS = {"completed": "served", "error-status": "5xx", "cut": "dropped", "refused": "refused",
             "timed-out": "timed out", "unfinished": "unfinished"}
# an in-flight (or queued) request's outcome: it was accepted already, so "cut", not "dropped"
FATE_WORDS = {"completed": "completed", "error-status": "5xx", "cut": "cut", "refused": "refused",
              "timed-out": "timed out", "unfinished": "unfinished"}
STOPPED_BY = {"cap": "the cap on new requests was reached", "case ended": "the case ended"}


def has_traffic(cases: list[CaseResult]) -> bool:
    """Whether a table gets the traffic columns: only when one of its cases sent traffic."""
    return any(c.traffic is not None for c in cases)


def _traffic(case: CaseResult) -> TrafficRecord | None:
    if case.outcome in NOT_OBSERVED:
        return None
    return case.traffic


def _counted(counts: dict[str, int], words: dict[str, str]) -> str:
    return ", ".join(f"{n} {words[o]}" for o, n in counts.items() if n)


def _tally(requests: list[RequestRecord]) -> dict[str, int]:
    out = {o: 0 for o in REQUEST_OUTCOMES}
    for r in requests:
        out[r.outcome] = out.get(r.outcome, 0) + 1
    return out


def drained_cell(case: CaseResult) -> str:
    """'✓ 3/3': every in-flight request completed; '✗ 1/3: 2 cut' otherwise."""
    t = _traffic(case)
    if t is None or t.drained is None:
        return "-"
    in_flight = [r for r in t.requests if r.kind == "in-flight"]
    tally = _tally(in_flight)
    text = f"{RAN if t.drained else NOT_RAN} {tally['completed']}/{len(in_flight)}"
    failures = _counted({o: n for o, n in tally.items() if o != "completed"}, FATE_WORDS)
    # the backlog's fate is not part of the verdict, but it is news when it was lost
    queued = _counted({o: n for o, n in _tally([r for r in t.requests if r.kind == "queued"]).items()
                       if o != "completed"}, FATE_WORDS)
    if queued:
        failures += ("; " if failures else "") + f"queued: {queued}"
    return f"{text}: {failures}" if failures else text


def new_requests_cell(case: CaseResult) -> str:
    """New requests sent after the path fired, by outcome: '12 served, 3 dropped, 20 refused'."""
    t = _traffic(case)
    if t is None:
        return "-"
    return _counted(t.counts("new"), NEW_WORDS) or "none sent"


def _served_new(t: TrafficRecord) -> int:
    return t.counts("new").get("completed", 0)


def holders(case: CaseResult) -> str:
    """Who still listened on the port when the harness ended the case, by role
    ("worker×2", "reloader-child (root)"), or ""."""
    t = case.traffic
    if t is None or not t.held_by:
        return ""
    by_pid = {p.pid: p for p in case.processes}
    names = Counter(role_of(by_pid[pid]) if pid in by_pid else "pid not tracked" for pid in t.held_by)
    return "+".join(name if n == 1 else f"{name}×{n}" for name, n in sorted(names.items()))


def port_cell(case: CaseResult, *, number: bool = True) -> str:
    """When the port stopped serving new requests (and was released, if much later);
    while a hung root or an orphan still held it when the harness ended the case, who
    did, and the port (``number=False``: without it, for the runs of a repeated path,
    whose ports differ)."""
    t = _traffic(case)
    if t is None:
        return "-"
    parts = []
    if t.stopped_accepting_s is not None:
        text = f"stopped {t.stopped_accepting_s:.2f} s"
        if t.released_s is not None and abs(t.released_s - t.stopped_accepting_s) > 0.05:
            text += f"; released {t.released_s:.2f} s"
        parts.append(text)
    elif _served_new(t):
        parts.append("kept serving")
    who = holders(case)
    if who:
        port = f":{t.port} " if number and t.port is not None else ""
        parts.append(f"{port}held by {who} until killed")
    return "; ".join(parts) or "-"


def _request_line(r: RequestRecord) -> str:
    on = ""
    if r.pid is not None:
        on = f" on {r.role} pid {r.pid}" if r.role else f" on pid {r.pid}"
    fate = FATE_WORDS.get(r.outcome, r.outcome)
    if r.status is not None and r.detail.startswith(str(r.status)):
        fate += f" {r.detail}"  # "200 OK"
    else:
        fate += f" {r.status}" if r.status is not None else ""
        fate += f" ({r.detail})" if r.detail else ""
    when = f" at {r.ended_s:.2f} s" if r.ended_s is not None else ""
    return f"#{r.n} {r.kind}{on}: {fate}{when}"


def traffic_lines(case: CaseResult) -> list[str]:
    """The traffic of one case for the details: a heading, then one item per line.

    Empty without traffic. The first line is the heading (what was sent where); the
    renderers indent the rest under it."""
    t = case.traffic
    if t is None:
        return []
    asked = f"{t.in_flight} in flight" + (f", {t.queued} queued" if t.queued else "")
    head = f"traffic: {t.url} ({asked})"
    if t.new_url and t.new_url != t.url:
        head += f"; new requests to {t.new_url}"
    lines = [head]
    lines += [_request_line(r) for r in t.requests if r.kind in ("in-flight", "queued")]
    new = _counted(t.counts("new"), NEW_WORDS) or "none sent"
    if t.stopped_by == "window":
        why = f"the {t.window_s:g} s window ended"
    else:
        why = STOPPED_BY.get(t.stopped_by, t.stopped_by)
    lines.append(f"new requests: {new}" + (f" (sent until {why})" if why else ""))
    port = []
    if t.stopped_accepting_s is not None:
        port.append(f"stopped serving new requests at {t.stopped_accepting_s:.2f} s")
    elif _served_new(t):
        port.append("kept serving new requests")
    if t.refused_from_s is not None:
        port.append(f"refused connections from {t.refused_from_s:.2f} s")
    if t.released_s is not None:
        port.append(f"released at {t.released_s:.2f} s")
    if t.last_served_s is not None:
        port.append(f"last response served at {t.last_served_s:.2f} s")
    if holders(case):
        port.append(f"still held{f' (:{t.port})' if t.port is not None else ''} by {holders(case)} "
                    "when the harness ended the case")
    if port:
        lines.append("port: " + "; ".join(port))
    lines += [f"note: {n}" for n in t.notes]
    return lines
