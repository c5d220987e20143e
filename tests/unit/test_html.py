"""The HTML report against exact expectations, from results built by hand (no process
runs here): the matrix's cells and classes, the timeline's lanes and marks at the
right x, escaping of hostile target output, no network references, determinism."""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

from shutdown_probe.render.axis import PLOT_LEFT, PLOT_WIDTH, axis_for, x_at
from shutdown_probe.render.html import format_html
from shutdown_probe.render.rows import hook_names
from shutdown_probe.render.rows import rows as matrix_rows
from shutdown_probe.render.text import clean
from shutdown_probe.render.traffic import traffic_lines
from shutdown_probe.results import (CaseResult, Escalation, ExpectResult, HookResult, Orphan, ProcessRecord,
                                    RequestRecord, Results, StopRecord, TrafficRecord)

# ---------------------------------------------------------------- helpers


def expected_x(t: float, lo: float, hi: float) -> float:
    """The documented scale, written out again: PLOT_LEFT + (t - lo) / (hi - lo) * PLOT_WIDTH."""
    return round(PLOT_LEFT + (t - lo) / (hi - lo) * PLOT_WIDTH, 1)


def parse(page: str) -> ET.Element:
    return ET.fromstring(page)  # raises unless the page is well-formed


def classes(el: ET.Element) -> list[str]:
    return (el.get("class") or "").split()


def find_all(root: ET.Element, tag: str | None = None, cls: str | None = None) -> list[ET.Element]:
    return [el for el in root.iter() if (tag is None or el.tag == tag) and (cls is None or cls in classes(el))]


def by_id(root: ET.Element, ident: str) -> ET.Element:
    found = [el for el in root.iter() if el.get("id") == ident]
    assert len(found) == 1, ident
    return found[0]


def text(el: ET.Element) -> str:
    """An element's text without its SVG <title> tooltips."""
    parts = [el.text or ""]
    for child in el:
        if child.tag != "title":
            parts.append(text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def tip(el: ET.Element) -> str:
    title = el.find("title")
    assert title is not None, ET.tostring(el)
    return title.text or ""


def svg_of(root: ET.Element, n: int) -> tuple[ET.Element, float, float]:
    svg = by_id(root, f"tl{n}")
    return svg, float(svg.get("data-lo", "nan")), float(svg.get("data-hi", "nan"))


# ---------------------------------------------------------------- sample


def sample() -> Results:
    """Article 1's Ctrl-C and kill -9 in small: two processes, probe hooks with
    durations, one cut short in the child; an orphan the harness killed; a skipped and
    a not-ready case."""
    ctrl_c = CaseResult(
        scenario="demo", path="ctrl-c", outcome="exited", exit={"returncode": 0, "signal": None},
        duration_s=3.2777, root_exit_s=3.2777, trigger={"signal": "SIGINT", "to": "process group", "pgid": 10},
        hooks={
            "banner": HookResult(True, "stdout line 8: [pid 10 main] shutdown: Ready to close", pids=[10],
                                 roles=["root"], at_s=2.2515, matches=1, source="log"),
            "atexit:shutdown2": HookResult(True, "probe: ran in root 10 (1000 ms)", pids=[10], roles=["root"],
                                           at_s=1.2511, source="probe", registered_pids=[10, 11],
                                           duration_s=1.0002),
            "atexit:shutdown3": HookResult(True, "probe: ran in root 10; started but never finished in child 11",
                                           pids=[10], roles=["root"], at_s=0.0004, source="probe",
                                           interrupted_pids=[11], interrupted_roles=["child"],
                                           registered_pids=[10, 11], duration_s=1.0003),
        },
        hook_order=["banner"], probe_order=["atexit:shutdown3", "atexit:shutdown2"],
        processes=[ProcessRecord(10, "root", "python app.py", returncode=0, exit_known=True, ended_after_s=3.2777,
                                 kind="reloader-parent", listening=[5000]),
                   ProcessRecord(11, "child", "python app.py", signal="SIGKILL", exit_known=True,
                                 ended_after_s=0.2532, kind="reloader-child", listening=[5000])],
        expect=ExpectResult(True, [], declared=True),
        output_tail="[pid 11 child] shutdown3: start\n[pid 10 main] shutdown3: start",
    )
    sigkill = CaseResult(
        scenario="demo", path="sigkill", outcome="exited", exit={"returncode": None, "signal": "SIGKILL"},
        root_exit_s=0.0022, trigger={"signal": "SIGKILL", "to": "root", "pid": 20, "delivered": True},
        hooks={"banner": HookResult(False, "no output line matched 'Ready'", source="log"),
               "atexit:shutdown2": HookResult(False, "probe: never called", source="probe"),
               "atexit:shutdown3": HookResult(False, "probe: never called", source="probe")},
        processes=[ProcessRecord(20, "root", "python app.py", signal="SIGKILL", exit_known=True,
                                 ended_after_s=0.0022),
                   ProcessRecord(21, "child", "python app.py", signal="SIGKILL", exit_known=True,
                                 ended_after_s=10.0063, killed_by_harness=True)],
        orphans=[Orphan(21, "python app.py", "child", [5000], True)],
        escalations=[Escalation(21, "child", "SIGKILL", "orphan: alive after the root ended", 10.0012)],
        expect=ExpectResult(False, ["expected hook 'banner' to run, it did not"], declared=True),
    )
    skipped = CaseResult(scenario="demo", path="os-exit", outcome="skipped",
                         error="skipped: the scenario has no os-exit trigger")
    not_ready = CaseResult(scenario="demo", path="sigterm", outcome="not-ready",
                           error="not-ready: the app exited before it was ready")
    return Results(cases=[ctrl_c, sigkill, skipped, not_ready], scenarios={"demo": "A demo"},
                   tool="shutdown-probe 0.1.0",
                   environment={"python": "3.11.7", "platform": "Linux", "jobs": 2,
                                "capabilities": {"pidfd": "yes", "subreaper": "yes",
                                                 "pidfd_exit_info": "the kernel has no PIDFD_INFO_EXIT"}})


# ---------------------------------------------------------------- the matrix


def test_matrix_has_the_markdown_cells_each_with_its_meaning_and_a_link_to_its_case():
    root = parse(format_html(sample()))
    (table,) = find_all(root, "table", "matrix")
    head = [text(th) for th in table.iter("th") if th.get("scope") == "col"]
    assert head == ["path", "banner", "atexit:shutdown2", "atexit:shutdown3", "exit", "time", "orphans"]
    body = table.find("tbody")
    assert body is not None
    cells = [[text(c).strip() for c in tr] for tr in body]
    assert cells == [
        ["ctrl-c", "✓ parent", "✓ parent", "✓ parent ◐ child", "rc 0", "3.28 s", "-"],
        ["sigkill", "✗", "✗", "✗", "SIGKILL", "0.00 s (orphans: 10.0 s)", "child 21 :5000 (killed)"],
        ["os-exit", "-", "-", "-", "skipped", "-", "-"],
        ["sigterm", "-", "-", "-", "not-ready", "-", "-"],
    ]
    # the same texts as the Markdown matrix: both come from render.rows
    res = sample()
    rows = matrix_rows(res.cases, hook_names(res.cases), False)
    assert [[r.label, *r.hooks, r.exit, r.time, r.orphans] for r in rows] == cells
    kinds = [[[k for k in classes(c) if k in ("ran", "not-ran", "cut", "mixed", "none", "bad", "warn")]
              for c in tr][1:] for tr in body]
    assert kinds == [
        [["ran"], ["ran"], ["cut"], [], [], ["none"]],
        [["not-ran"], ["not-ran"], ["not-ran"], [], [], ["warn"]],
        [["none"], ["none"], ["none"], ["none"], [], ["none"]],
        [["none"], ["none"], ["none"], ["bad"], [], ["none"]],
    ]
    links = [tr[0].find("a") for tr in body]
    assert [a.get("href") for a in links if a is not None] == ["#case-0", "#case-1", "#case-2", "#case-3"]
    assert [("failed" in classes(tr)) for tr in body] == [False, True, False, True]
    for n in range(4):
        assert by_id(root, f"case-{n}").tag == "section"


def test_notes_under_the_matrix_legend_order_failures_and_summary():
    root = parse(format_html(sample()))
    (notes,) = find_all(root, "ul", "matrix-notes")
    items = [(classes(li), text(li)) for li in notes]
    assert items == [
        (["legend"], "parent = the launched process, child = its working child, both = the two; "
                     "◐ = started but never finished (the process died inside the hook); "
                     "time A s (orphans: B s) = the root ended after A s; processes it left ran on until the "
                     "harness killed them at B s"),
        (["order"], "atexit order in ctrl-c: atexit:shutdown3 → atexit:shutdown2"),
        (["failure"], "✗ sigkill: expected hook 'banner' to run, it did not"),
        (["failure"], "✗ sigterm: not-ready: not-ready: the app exited before it was ready"),
    ]
    summaries = [text(p) for p in find_all(root, "p", "summary")]
    assert summaries == ["4 cases: 2 exited, 1 skipped, 1 not-ready; expectations held in 1 of 2; 2 failed",
                         "4 cases: 2 exited, 1 skipped, 1 not-ready; expectations held in 1 of 2."]


def test_header_names_the_tool_environment_and_only_the_capabilities_that_are_missing():
    page = format_html(sample(), title="Flask & friends")
    root = parse(page)
    assert text(root.find("head/title")) == "Flask & friends"  # type: ignore[arg-type]
    assert "<title>Flask &amp; friends</title>" in page
    (env,) = find_all(root, "dl", "env")
    pairs = dict(zip([text(dt) for dt in env.iter("dt")], [text(dd) for dd in env.iter("dd")]))
    assert pairs == {"tool": "shutdown-probe 0.1.0", "python": "3.11.7", "platform": "Linux", "jobs": "2",
                     "pidfd_exit_info": "the kernel has no PIDFD_INFO_EXIT"}
    assert text(find_all(root, "h1")[0]) == "Flask & friends"
    assert "<title>shutdown-probe report: demo</title>" in format_html(sample())


def test_repeated_runs_share_a_row_that_links_to_the_first_run():
    def run(n: int, ran: bool) -> CaseResult:
        hook = HookResult(True, "x", pids=[10], roles=["root"]) if ran else HookResult(False, "none")
        return CaseResult(scenario="demo", path="sigterm", outcome="exited", attempt=n,
                          exit={"returncode": 0, "signal": None}, duration_s=0.1 * n, hooks={"atexit": hook})

    root = parse(format_html(Results(cases=[run(1, True), run(2, True), run(3, False)])))
    (table,) = find_all(root, "table", "matrix")
    (tr,) = list(table.find("tbody"))  # type: ignore[arg-type]
    assert [text(c) for c in tr] == ["sigterm ×3", "✓ ×2 · ✗ ×1", "rc 0", "0.10–0.30 s", "-"]
    assert "mixed" in classes(tr[1])
    assert tr[0].find("a").get("href") == "#case-0"  # type: ignore[union-attr]
    assert [text(h) for h in find_all(root, "h3")] == [
        "demo :: sigterm #1 — exited", "demo :: sigterm #2 — exited", "demo :: sigterm #3 — exited"]
    (differ,) = find_all(root, "li", "differ")
    assert text(differ) == "sigterm: the 3 runs differ in hook atexit: ran (#1, #2) / not ran (#3)"


# ---------------------------------------------------------------- the timeline


def test_axis_steps_and_ends_as_documented():
    a = axis_for([3.2777, 0.2532])  # a tenth of the span is 0.33: the nearest nice step is 0.5
    assert (a.lo, a.hi, a.step) == (0.0, 3.5, 0.5)
    a = axis_for([10.0063])  # step 1; 10.0063 + 2 % = 10.21 -> 11
    assert (a.lo, a.hi, a.step) == (0.0, 11.0, 1.0)
    a = axis_for([0.0008])  # never less than MIN_END (0.1 s)
    assert (a.lo, a.hi, a.step) == (0.0, 0.11, 0.01)
    a = axis_for([-0.2, 1.55])  # a request sent before the trigger: lo below 0 by 2 % of the span
    assert a.lo == -0.235 and a.hi == 1.6 and a.step == 0.2
    assert [label for _, label in axis_for([3.2777]).ticks()] == ["0.0", "0.5", "1.0", "1.5", "2.0", "2.5", "3.0",
                                                                   "3.5"]
    assert x_at(0.0, 0.0, 3.5) == PLOT_LEFT and x_at(3.5, 0.0, 3.5) == PLOT_LEFT + PLOT_WIDTH
    assert x_at(99, 0.0, 3.5) == PLOT_LEFT + PLOT_WIDTH  # clamped
    assert x_at(1.2511, 0.0, 3.5) == expected_x(1.2511, 0.0, 3.5)


def test_one_lane_per_process_with_its_end_where_and_how_it_happened():
    root = parse(format_html(sample()))
    svg, lo, hi = svg_of(root, 0)
    assert (lo, hi) == (0.0, 3.5)
    lanes = find_all(svg, "g", "proc")
    assert [g.get("data-pid") for g in lanes] == ["10", "11"]
    assert [text(t) for t in find_all(svg, "text", "lane") if "sub" not in classes(t)][:3] == [
        "signals", "root 10", "child 11"]
    parent, child = lanes
    (end,) = find_all(parent, "circle", "end")
    assert "end-ok" in classes(end)
    assert float(end.get("cx", "nan")) == expected_x(3.2777, lo, hi)
    assert tip(end) == "root 10 ended at 3.2777 s: rc 0"
    (cross,) = find_all(child, "path", "end-sig")
    assert cross.get("data-t") == "0.2532"
    assert cross.get("d", "").startswith(f"M{expected_x(0.2532, lo, hi) - 4.5:.1f},")
    assert tip(cross) == "child 11 ended at 0.2532 s: SIGKILL"
    (trigger,) = find_all(svg, "polygon", "trigger")
    assert tip(trigger) == "trigger: SIGINT → process group (signal=SIGINT, to=process group, pgid=10)"
    tip_x = float(trigger.get("points", "").split()[-1].split(",")[0])  # the triangle points down at 0
    assert tip_x == expected_x(0.0, lo, hi)


def test_probe_hooks_are_spans_log_hooks_points_and_a_cut_hook_says_where_the_process_died():
    root = parse(format_html(sample()))
    svg, lo, hi = svg_of(root, 0)
    spans = {r.get("data-hook"): r for r in find_all(svg, "rect", "hook")}
    # ran in the root alone: on the root's lane, exact
    span = spans["atexit:shutdown2"]
    assert classes(span) == ["mark", "hook", "ran"]
    assert float(span.get("x", "nan")) == expected_x(1.2511, lo, hi)
    assert float(span.get("width", "nan")) == round(expected_x(2.2513, lo, hi) - expected_x(1.2511, lo, hi), 1)
    assert tip(span) == "atexit:shutdown2 ran from 1.2511 s to 2.2513 s (1.0002 s)"
    # ran in the root, cut short in the child: its own row, drawn as approximate
    cut = spans["atexit:shutdown3"]
    assert classes(cut) == ["mark", "hook", "ran", "cut", "approx"]
    assert tip(cut).startswith("atexit:shutdown3 ran from 0.0004 s to 1.0007 s (1.0003 s) (the first start in any")
    assert tip(cut).endswith("; ◐ never finished in child 11")
    # and on the child's lane, a ◐ where it died
    (mark,) = find_all(svg, "text", "cutmark")
    assert float(mark.get("x", "nan")) == expected_x(0.2532, lo, hi)
    assert tip(mark) == "child 11 died inside atexit:shutdown3 (◐) at 0.2532 s"
    # a log hook: a point at its first evidence
    (point,) = find_all(svg, "polygon", "point")
    assert point.get("data-hook") == "banner" and point.get("data-t") == "2.2515"
    assert float(point.get("points", "").split()[0].split(",")[0]) == expected_x(2.2515, lo, hi)
    assert tip(point) == "banner: first evidence at 2.2515 s: stdout line 8: [pid 10 main] shutdown: Ready to close"


def test_harness_kills_are_marked_in_the_signals_row_and_on_the_lane():
    root = parse(format_html(sample()))
    svg, lo, hi = svg_of(root, 1)
    assert hi == 11.0
    (kill,) = find_all(svg, "rect", "harness-kill")
    assert float(kill.get("x", "nan")) + 4.5 == expected_x(10.0012, lo, hi)
    assert tip(kill) == "the harness sent SIGKILL to child 21: orphan: alive after the root ended"
    (end,) = find_all(svg, "rect", "end-harness")
    assert tip(end) == "child 21 ended at 10.0063 s: SIGKILL, killed by the harness"
    # an escalation without a time (older results) is listed but not drawn
    res = sample()
    res.cases[1].escalations[0].at_s = None
    root = parse(format_html(res))
    assert not find_all(by_id(root, "tl1"), "rect", "harness-kill")
    assert "the harness sent SIGKILL to child pid 21: orphan" in text(by_id(root, "case-1"))


def test_a_process_that_never_ended_is_open_to_the_right_edge():
    res = sample()
    res.cases[0].processes[1].ended_after_s = None
    res.cases[0].processes[1].signal = None
    root = parse(format_html(res))
    svg, lo, hi = svg_of(root, 0)
    (bar,) = find_all(svg, "rect", "open")
    assert float(bar.get("x", "nan")) == expected_x(lo, lo, hi)
    assert round(float(bar.get("x", "nan")) + float(bar.get("width", "nan")), 1) == expected_x(hi, lo, hi)
    assert bar.get("fill") == "url(#tl0-hatch)"
    assert by_id(root, "tl0-hatch").tag == "pattern"


def test_cases_that_never_fired_have_no_timeline_only_their_reason():
    root = parse(format_html(sample()))
    for n, reason in ((2, "skipped: the scenario has no os-exit trigger"),
                      (3, "not-ready: the app exited before it was ready")):
        section = by_id(root, f"case-{n}")
        assert not list(section.iter("svg"))
        assert [text(p) for p in find_all(section, "p", "error")] == [reason]


def stop_case() -> CaseResult:
    """docker stop of a PID 1 without a SIGTERM handler: nothing until the grace's SIGKILL."""
    stop = StopRecord(profile="docker-stop", stopper="Docker", signal="SIGTERM", to="PID 1 (the app)", grace_s=10.0,
                      source="docs", pid1_handles_signal=False, final_kill=True, kill_at_s=10.004,
                      killed=[{"pid": 21, "role": "root", "cmdline": "python app.py"}],
                      pre_stop={"action": "preStop", "http": "http://127.0.0.1:1/drain", "status": 200,
                                "duration_s": 0.5}, signal_at_s=0.5,
                      second_signal={"sent": True, "at_s": 1.25, "why": "when atexit started"})
    procs = [ProcessRecord(20, "launcher", "python -I -S _pid1_launcher.py", signal="SIGKILL", exit_known=True,
                           ended_after_s=10.006),
             ProcessRecord(21, "root", "python app.py", signal="SIGKILL", exit_known=True, ns_pid=1,
                           ended_after_s=10.005, killed_by_stop=True)]
    return CaseResult(scenario="pid1", path="docker-stop", outcome="exited",
                      exit={"returncode": None, "signal": "SIGKILL"}, hooks={"finally": HookResult(False, "no")},
                      processes=procs, stop=stop, trigger={"profile": "docker-stop", "signal": "SIGTERM"})


def test_stop_profile_grace_band_prestop_second_signal_and_final_kill():
    root = parse(format_html(Results(cases=[stop_case()])))
    svg, lo, hi = svg_of(root, 0)
    assert (lo, hi) == (0.0, 11.0)
    (band,) = find_all(svg, "rect", "grace")
    assert float(band.get("x", "nan")) == expected_x(0, lo, hi)
    assert round(float(band.get("x", "nan")) + float(band.get("width", "nan")), 1) == expected_x(10.0, lo, hi)
    assert tip(band) == "the 10 s grace (default) of Docker: from 0 to 10 s"
    (pre,) = find_all(svg, "rect", "prestop")
    assert tip(pre) == "preStop http://127.0.0.1:1/drain: HTTP 200, 0.5 s"
    triangles = find_all(svg, "polygon", "sig")
    assert [t.get("data-t") for t in triangles] == ["0.5", "1.25"]
    assert tip(triangles[0]) == ("Docker: SIGTERM to PID 1 (the app); PID 1 has no SIGTERM handler, "
                                 "so the kernel drops it")
    assert tip(triangles[1]) == "SIGTERM again (when atexit started)"
    (kill,) = find_all(svg, "rect", "stop-kill")
    assert tip(kill) == "the 10 s grace ran out: SIGKILL (root 21)"
    assert float(kill.get("x", "nan")) + 5 == expected_x(10.004, lo, hi)
    (end,) = find_all(svg, "rect", "end-stop")
    assert tip(end) == "root 21 ended at 10.005 s: SIGKILL, killed when the grace ran out"
    assert [g.get("data-pid") for g in find_all(svg, "g", "proc")] == ["20", "21"]
    facts = find_all(by_id(root, "case-0"), "dl", "facts")[-1]
    pairs = dict(zip([text(dt) for dt in facts.iter("dt")], [text(dd) for dd in facts.iter("dd")]))
    assert pairs["grace"] == "10 s (default)" and pairs["final SIGKILL"] == "at 10.004 s: root 21"
    assert pairs["PID 1 handles SIGTERM"] == "no: the kernel drops the signal"


def test_systemds_final_sigterm_names_whom_it_reached():
    case = stop_case()
    assert case.stop is not None
    case.stop.second_signal = {"sent": True, "at_s": 0.31, "why": "systemd's final SIGTERM: the main process had "
                               "exited, 1 process left in the control group",
                               "signalled": [{"pid": 22, "role": "child", "delivered": True}]}
    facts = find_all(by_id(parse(format_html(Results(cases=[case]))), "case-0"), "dl", "facts")[-1]
    pairs = dict(zip([text(dt) for dt in facts.iter("dt")], [text(dd) for dd in facts.iter("dd")]))
    assert pairs["second signal"] == ("sent=True, at_s=0.31, why=systemd's final SIGTERM: the main process had "
                                      "exited, 1 process left in the control group; to child 22")


def test_a_grace_longer_than_the_chart_runs_off_its_right_edge():
    case = stop_case()
    assert case.stop is not None
    case.stop.grace_s, case.stop.final_kill, case.stop.kill_at_s, case.stop.killed = 90.0, False, None, []
    case.stop.cleanup_s = 0.2
    for p in case.processes:
        p.ended_after_s, p.killed_by_stop, p.signal, p.returncode = 0.2, False, None, 0
    root = parse(format_html(Results(cases=[case])))
    svg, lo, hi = svg_of(root, 0)
    assert hi == 1.3  # the second signal at 1.25 s sets it, not the 90 s grace
    (band,) = find_all(svg, "rect", "grace")
    assert round(float(band.get("x", "nan")) + float(band.get("width", "nan")), 1) == expected_x(hi, lo, hi)
    assert tip(band).endswith("from 0 to 90 s, past the end of this chart")
    assert not find_all(svg, "rect", "stop-kill")


def traffic_case() -> CaseResult:
    def req(n: int, kind: str, outcome: str, sent: float, ended: float | None, **kw) -> RequestRecord:
        return RequestRecord(n, kind, outcome, sent_s=sent, ended_s=ended, **kw)

    traffic = TrafficRecord(
        url="http://127.0.0.1:8000/slow", new_url="http://127.0.0.1:8000/", in_flight=2, queued=1, window_s=2.0,
        requests=[req(1, "in-flight", "completed", -0.2, 1.5, detail="200 OK", status=200, pid=11, role="child"),
                  req(2, "in-flight", "error-status", -0.2, 0.1, detail="500", status=500, pid=12, role="child-2"),
                  req(3, "queued", "cut", -0.1, 1.52, detail="connection reset"),
                  req(4, "new", "completed", 0.0, 0.01, status=200),
                  req(5, "new", "cut", 0.05, 1.52, detail="connection reset"),
                  req(6, "new", "refused", 1.6, 1.601, detail="connection refused"),
                  req(7, "new", "timed-out", 1.65, None)],
        drained=False, dropped=1, stopped_accepting_s=0.05, refused_from_s=1.6, released_s=1.55,
        stopped_by="window")
    procs = [ProcessRecord(10, "root", "gunicorn", returncode=0, exit_known=True, ended_after_s=1.7),
             ProcessRecord(11, "child", "gunicorn: worker", returncode=0, exit_known=True, ended_after_s=1.5),
             ProcessRecord(12, "child-2", "gunicorn: worker", returncode=0, exit_known=True, ended_after_s=1.5),
             ProcessRecord(13, "child-3", "gunicorn: worker", returncode=0, exit_known=True, ended_after_s=1.6,
                           started_after_s=0.3)]
    return CaseResult(scenario="gunicorn", path="sigterm", outcome="exited", exit={"returncode": 0, "signal": None},
                      duration_s=1.7, hooks={"worker_exit": HookResult(True, "stdout: bye", pids=[11, 12],
                                                                        roles=["child", "child-2"], at_s=1.49)},
                      processes=procs, trigger={"signal": "SIGTERM", "to": "root", "pid": 10}, traffic=traffic)


def test_traffic_requests_window_and_port_markers():
    page = format_html(Results(cases=[traffic_case()]))
    root = parse(page)
    svg, lo, hi = svg_of(root, 0)
    assert (lo, hi) == (-0.244, 2.2)  # 2 % of the span before the earliest send; the window's end, rounded up
    reqs = find_all(svg, "rect", "req")
    assert len(reqs) == 7
    assert [[k for k in classes(r) if k.startswith("o-")] for r in reqs] == [
        ["o-completed"], ["o-error-status"], ["o-cut"], ["o-completed"], ["o-cut"], ["o-refused"], ["o-timed-out"]]
    first = reqs[0]
    assert float(first.get("x", "nan")) == expected_x(-0.2, lo, hi)
    assert round(float(first.get("x", "nan")) + float(first.get("width", "nan")), 1) == expected_x(1.5, lo, hi)
    assert tip(first) == "#1 in-flight on child pid 11: completed (200 OK); sent at -0.2 s"
    assert tip(reqs[-1]).endswith("; end not recorded")
    (window,) = find_all(svg, "rect", "window")
    assert (window.get("data-t0"), window.get("data-t1")) == ("0", "2")
    assert tip(window) == "new requests sent from 0 to 2 s (until the 2 s window ended)"
    ports = {p.get("data-t"): tip(p) for p in find_all(svg, "path", "port")}
    assert ports == {"0.05": "stopped serving new requests at 0.05 s",
                     "1.6": "refused connections from here at 1.6 s",
                     "1.55": "port released: nothing listened any more at 1.55 s"}
    # a process started after the trigger: its bar starts there
    (late,) = [g for g in find_all(svg, "g", "proc") if g.get("data-pid") == "13"]
    (life,) = find_all(late, "rect", "life")
    assert float(life.get("x", "nan")) == expected_x(0.3, lo, hi)
    # the log hook of two processes: a row of its own, not a guess at one lane
    (point,) = find_all(svg, "polygon", "point")
    assert "approx" in classes(point)
    assert [text(t) for t in find_all(svg, "text", "lane")] == [
        "signals", "root 10", "child 11", "child-2 12", "child-3 13",
        "worker_exit", "✓ child 11, child-2 12",  # the hook's own row, and where it ran
        "#1 in-flight", "#2 in-flight", "#3 queued", "new requests (4)", "port"]
    # the traffic block under the timeline: traffic_lines, nested
    (block,) = find_all(root, "ul", "traffic")
    assert [text(li) for li in block.iter("li")][1:] == traffic_lines(traffic_case())[1:]


def test_every_mark_has_a_tooltip_and_the_events_table_has_them_in_time_order():
    for res in (sample(), Results(cases=[stop_case()]), Results(cases=[traffic_case()])):
        root = parse(format_html(res))
        for svg in root.iter("svg"):
            marks = find_all(svg, cls="mark")
            assert marks
            for mark in marks:
                assert tip(mark), ET.tostring(mark)
        for table in find_all(root, "table", "events"):
            times = [float(text(tr[0]).removesuffix(" s")) for tr in table.find("tbody")]  # type: ignore[union-attr]
            assert times == sorted(times)


# ---------------------------------------------------------------- escaping

HOSTILE = '</pre><script>alert(1)</script>"><img src=x onerror=alert(2)>]]>&amp;\x00\x07\x1b[31mred\x1b[0m\x1b'


class _Tags(HTMLParser):
    """What a browser's tokenizer sees: start tags, attributes, the text of <pre>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.pre: list[str] = []
        self._in_pre = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs
        self._in_pre = self._in_pre or tag == "pre"

    def handle_endtag(self, tag):
        if tag == "pre":
            self._in_pre = False

    def handle_data(self, data):
        if self._in_pre:
            self.pre.append(data)


def hostile_results() -> Results:
    long_line = "A" * 100_000
    hook = HookResult(True, f"stdout line 1: {HOSTILE}", pids=[10], roles=["root"], at_s=0.1, source="log",
                      errors=[f"pid 10: RuntimeError: {HOSTILE}"])
    case = CaseResult(
        scenario=f"evil{HOSTILE}", path=f"sig<b>term</b>", outcome="exited", exit={"returncode": 0, "signal": None},
        duration_s=0.2, trigger={"signal": "SIGTERM", "to": "root", "pid": 10},
        hooks={f"atexit:<svg onload=alert(3)>{HOSTILE}": hook},
        processes=[ProcessRecord(10, f"root{HOSTILE}", f"python {HOSTILE}", returncode=0, exit_known=True,
                                 ended_after_s=0.2, kind=HOSTILE)],
        orphans=[Orphan(11, f"sleep {HOSTILE}", "child", [], False)],
        escalations=[Escalation(11, "child", "SIGKILL", f"because {HOSTILE}", 0.15)],
        expect=ExpectResult(False, [f"expected {HOSTILE}"], declared=True),
        error=f"error: {HOSTILE}", output_tail=f"line 1\n{HOSTILE}\r\n{long_line}\nend",
        scenario_file=f"/tmp/{HOSTILE}.toml",
    )
    return Results(cases=[case], scenarios={case.scenario: f"description {HOSTILE}"},
                   environment={"python": HOSTILE, "capabilities": {"pidfd": HOSTILE}}, tool=f"tool {HOSTILE}")


def test_hostile_target_text_is_shown_escaped_never_as_markup():
    page = format_html(hostile_results())
    root = parse(page)  # still well-formed XML: no raw NUL, no stray < or &
    assert "<script" not in page.lower() and "<img" not in page.lower() and "<b>" not in page
    assert "\x00" not in page and "\x1b" not in page and "\x07" not in page
    tags = _Tags()
    tags.feed(page)
    tags.close()
    assert set(tags.tags) <= {"html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "h4",
                              "p", "strong", "dl", "dt", "dd", "ul", "li", "nav", "a", "section", "table", "thead",
                              "tbody", "tr", "th", "td", "span", "div", "details", "summary", "pre", "svg", "defs",
                              "pattern", "rect", "path", "text", "polygon", "circle", "g"}
    assert not [name for name, _ in tags.attrs if name.startswith("on") or name in ("src", "srcset", "style")]
    # the text survives, made printable: NUL and BEL as control pictures, colour codes dropped
    shown = clean(HOSTILE)
    assert shown == '</pre><script>alert(1)</script>"><img src=x onerror=alert(2)>]]>&amp;␀␇red␛'
    assert "".join(tags.pre) == f"line 1\n{shown}\n{'A' * 100_000}\nend"
    (pre,) = find_all(root, "pre", "tail")
    assert pre.text == f"line 1\n{shown}\n{'A' * 100_000}\nend"
    everywhere = "".join(root.itertext()) + "".join(v for el in root.iter() for v in el.attrib.values())
    assert everywhere.count(shown) >= 10  # scenario, description, role, command, evidence, error, failure...
    assert "&amp;amp;" in page  # the target's own "&amp;" is text, escaped once more


def test_hostile_text_in_attributes_stays_inside_them():
    page = format_html(hostile_results())
    root = parse(page)
    hooks = [el.get("data-hook") for el in root.iter() if el.get("data-hook")]
    assert hooks == [f"atexit:<svg onload=alert(3)>{clean(HOSTILE)}"]
    assert '"><img' not in page  # a quote never closes an attribute early
    assert 'data-hook="atexit:&lt;svg onload=alert(3)&gt;&lt;/pre&gt;&lt;script&gt;' in page


def test_clean_makes_any_text_printable_and_legal():
    assert clean("a\x00b\x1b[1;31mc\x1b[0m\r\nd\re\x7f\x85\ud800\ufffe\tf") == "a␀bc\nd␍e␡\\x85\ufffd\ufffd\tf"


# ---------------------------------------------------------------- self-contained, deterministic


def test_nothing_comes_from_the_network_and_nothing_runs():
    for res in (sample(), hostile_results(), Results(cases=[stop_case(), traffic_case()]), Results()):
        page = format_html(res)
        root = parse(page)
        style = "".join(el.text or "" for el in root.iter("style"))
        assert "@import" not in style and "url(" not in style and "http" not in style and "@font-face" not in style
        assert not list(root.iter("script")) and not list(root.iter("link")) and not list(root.iter("img"))
        for el in root.iter():
            for name, value in el.attrib.items():
                assert name not in ("src", "srcset", "xlink:href", "action", "style"), (el.tag, name)
                if name == "href":
                    assert value.startswith("#"), value
                if "url(" in value:
                    assert re.fullmatch(r"url\(#[\w-]+\)", value), value
        # no markup, only text, mentions the network: the target's URLs in its output
        for m in re.finditer(r"https?://", page):
            assert page.rfind(">", 0, m.start()) > page.rfind("<", 0, m.start()), page[m.start() - 80:m.end()]


def test_the_same_results_give_the_same_page():
    a = format_html(sample())
    assert format_html(sample()) == a
    assert format_html(copy.deepcopy(sample())) == a
    assert format_html(Results.from_dict(sample().to_dict())) == a
    ids = [el.get("id") for el in parse(a).iter() if el.get("id")]
    assert all(re.fullmatch(r"(case|scenario)-\d+|tl\d+(-title|-hatch)?", i or "") for i in ids), ids
    assert len(ids) == len(set(ids))


def test_an_empty_run_is_still_a_page():
    root = parse(format_html(Results()))
    assert text(find_all(root, "p", "summary")[0]) == "no cases"
    assert not list(root.iter("table"))
