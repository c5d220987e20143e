"""The results as one self-contained HTML page: the matrix of every scenario (the
Markdown matrix's cells, coloured), then per case a timeline drawn in inline SVG
(:mod:`.timeline`), its processes, hooks, orphans, escalations, stop record, traffic
and output tail.

Self-contained: one inline ``<style>`` (``report.css``, shipped in the package), system
fonts, inline SVG; no script, no font, no stylesheet or image from anywhere. The markup
is also well-formed XML (every element closed, every attribute quoted, only XML's own
entities), so tests and tools can read it with ``xml.etree``. Every text that enters
it, the target's above all (output, command lines, hook evidence, errors, scenario
names, paths), goes through :func:`.markup.esc`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from importlib import resources

from ..results import UNFINISHED, CaseResult, Results, StopRecord
from .claims import claims
from .legend import legend, traffic_legend
from .notes import failure_lines, hang_lines, probe_note_lines, started_after_lines, summary_line
from .order import order_lines, order_text
from .repeats import repeat_lines
from .rows import by_scenario, check_names, hook_names
from .rows import rows as matrix_rows
from .services import FAILED_STATES, has_services, service_text
from .traffic import has_traffic, traffic_lines
from .cells import (CUT, NOT_RAN, RAISED, RAN, exit_cell, hook_cell, time_cell, trigger_text, verify_cell,
                    verify_column)
from .explain import explain
from .markup import esc, esc_block, secs, tag
from .timeline import fired, process_ending, timeline

__all__ = ["format_html", "page_start"]


@functools.lru_cache(maxsize=1)
def style() -> str:
    """The reports' style sheet (``report.css``, package data next to this module)."""
    return resources.files(__package__).joinpath("report.css").read_text(encoding="utf-8")


def _cell_class(text: str, kind: str) -> str:
    """What a matrix cell means, as a class: the colour is a second channel, the
    symbol and the words stay."""
    if kind == "hook" or kind == "drained":
        if " ×" in text:
            return "mixed"
        if text in ("-", "?"):
            return "none"
        if CUT in text or RAISED in text:
            return "cut"
        if text.startswith(RAN):
            return "cut" if kind == "drained" and ":" in text else "ran"
        if text.startswith(NOT_RAN):
            return "not-ran"
        return "none"
    if kind == "check":  # a [verify] check: its words follow the mark
        if " ×" in text:
            return "mixed"
        return {RAN: "ran", NOT_RAN: "not-ran"}.get(text[:1], "none")
    if kind == "exit":
        if " ×" in text:
            return "mixed"
        if text == "skipped":
            return "none"
        if text.startswith(("hung", "ignored", "blocked")) or text in UNFINISHED or text == "unresponsive":
            return "bad"
        return ""
    if kind == "orphans":
        return "none" if text == "-" else "warn"
    return "none" if text == "-" else ""  # traffic words, times


def _matrix(cases: list[CaseResult], index: dict[int, int]) -> list[str]:
    hooks = hook_names(cases)
    checks = check_names(cases)
    traffic = has_traffic(cases)
    services = has_services(cases)
    head = ["path", *hooks, *map(verify_column, checks), *(["drained", "new requests", "port"] if traffic else []),
            "exit", "time", "orphans", *(["services"] if services else [])]
    out = ['<div class="scroll"><table class="matrix">',
           "<thead><tr>" + "".join(tag("th", {"scope": "col"}, esc(h)) for h in head) + "</tr></thead>", "<tbody>"]
    # the case each row stands for (a repeated path: its first run), in rows() order
    firsts: list[CaseResult] = []
    seen: set[str] = set()
    for case in cases:
        if case.attempt is None:
            firsts.append(case)
        elif case.path not in seen:
            seen.add(case.path)
            firsts.append(case)
    for row, case in zip(matrix_rows(cases, hooks, traffic, checks, services), firsts):
        link = tag("a", {"href": f"#case-{index[id(case)]}"}, esc(row.label))
        cells = [tag("th", {"class": "path", "scope": "row"}, link)]
        cells += [tag("td", {"class": f"c {_cell_class(t, 'hook')}".rstrip()}, esc(t)) for t in row.hooks]
        cells += [tag("td", {"class": f"check {_cell_class(t, 'check')}".rstrip()}, esc(t)) for t in row.checks]
        if traffic:
            drained, new, port = row.traffic
            cells.append(tag("td", {"class": f"c {_cell_class(drained, 'drained')}".rstrip()}, esc(drained)))
            cells.append(tag("td", {"class": _cell_class(new, "traffic") or None}, esc(new)))
            cells.append(tag("td", {"class": _cell_class(port, "traffic") or None}, esc(port)))
        cells.append(tag("td", {"class": f"exit {_cell_class(row.exit, 'exit')}".rstrip()}, esc(row.exit)))
        cells.append(tag("td", {"class": "num"}, esc(row.time)))
        cells.append(tag("td", {"class": f"orphans {_cell_class(row.orphans, 'orphans')}"}, esc(row.orphans)))
        if row.services is not None:
            cls = "bad" if NOT_RAN in row.services else _cell_class(row.services, "traffic")
            cells.append(tag("td", {"class": f"services {cls}".rstrip()}, esc(row.services)))
        out.append(tag("tr", {"class": "failed" if row.failed else None}, "".join(cells)))
    out.append("</tbody></table></div>")
    return out


def _notes(cases: list[CaseResult]) -> list[str]:
    items = [tag("li", {"class": "legend"}, esc(text))
             for text in (legend(cases), traffic_legend(cases)) if text]
    items += [tag("li", {"class": "order"}, esc(line)) for line in order_lines(cases)]
    items += [tag("li", {"class": "differ"}, esc(line)) for line in probe_note_lines(cases)]
    items += [tag("li", {"class": "differ"}, esc(line)) for line in hang_lines(cases)]
    items += [tag("li", {"class": "differ" if line.kind == "differ" else "repeat"}, esc(line.text))
              for line in repeat_lines(cases)]
    items += [tag("li", {"class": "failure"}, esc(f"{NOT_RAN} {line}")) for line in failure_lines(cases)]
    return ['<ul class="notes matrix-notes">', *items, "</ul>"] if items else []


def _claims(cases: list[CaseResult]) -> list[str]:
    """The claims, one row each: verdict (symbol and word), path, claim, and what was seen."""
    found = claims(cases)
    if not found:
        return []
    out = ['<div class="scroll"><table class="claims"><thead><tr>'
           + "".join(tag("th", {"scope": "col"}, h) for h in ("verdict", "path", "claim", "evidence"))
           + "</tr></thead><tbody>"]
    for row in found:
        seen = [tag("li", {"class": "failure"}, esc(f"{NOT_RAN} {line}")) for line in row.failures]
        seen += [tag("li", {}, esc(line)) for line in row.evidence]
        out.append("<tr>" + tag("td", {"class": f"verdict {row.verdict}"}, esc(f"{row.mark} {row.tally}"))
                   + tag("td", {"class": "nw"}, esc(row.path)) + tag("td", {}, esc(row.claim))
                   + tag("td", {"class": "evidence"}, tag("ul", {}, "".join(seen)) if seen else "") + "</tr>")
    out.append("</tbody></table></div>")
    return out


def _dl(pairs: list[tuple[str, str]], cls: str = "facts") -> str:
    if not pairs:
        return ""
    body = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in pairs)
    return f'<dl class="{cls}">{body}</dl>'


def _table(head: list[str], rows: Sequence[Sequence[tuple[str, str | None]]], cls: str) -> str:
    """rows: cells as (text, class)."""
    out = [f'<div class="scroll"><table class="{cls}"><thead><tr>'
           + "".join(tag("th", {"scope": "col"}, esc(h)) for h in head) + "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(tag("td", {"class": c}, esc(t)) for t, c in row) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _process_table(case: CaseResult) -> str:
    rows = []
    for p in case.processes:
        cls, how = process_ending(p)
        notes = []
        if p.ns_pid is not None:
            notes.append(f"PID {p.ns_pid} in the namespace")
        if p.started_after_s is not None:
            notes.append(f"started {secs(p.started_after_s)} after the trigger")
        if p.signals_caught:
            notes.append("handles " + ", ".join(p.signals_caught))
        if p.signals_ignored:
            notes.append("ignores " + ", ".join(p.signals_ignored))
        if p.zombie:
            notes.append("a zombie after its exit: its parent did not reap it" + (
                f"; reaped at {secs(p.reaped_after_s)}" if p.reaped_after_s is not None else ""))
        if p.exit_note and not how.endswith(f"({p.exit_note})"):
            notes.append(p.exit_note)
        killed = "by the stop's SIGKILL (grace over)" if p.killed_by_stop else (
            "by the harness" if p.killed_by_harness else "-")
        rows.append([(str(p.pid), "nw"), (p.role, "nw"), (p.kind or "-", "nw"), (how, None),
                     (secs(p.ended_after_s) if p.ended_after_s is not None else "never seen", "nw"),
                     (" ".join(f":{x}" for x in p.listening) or "-", "nw"), (killed, "warn" if killed != "-" else None),
                     ("; ".join(notes) or "-", "long"), (p.cmdline or "-", "cmd")])
    return _table(["pid", "role", "kind", "how it ended", "ended at", "listening", "killed", "notes", "command"],
                  rows, "small processes")


def _hook_table(case: CaseResult) -> str:
    rows = []
    for name, h in case.hooks.items():
        cell = hook_cell(case, name)
        who = ", ".join(f"{r} {p}" for r, p in zip(h.roles, h.pids))
        if h.interrupted_pids:
            who += ("; " if who else "") + f"{CUT} " + ", ".join(
                f"{r} {p}" for r, p in zip(h.interrupted_roles, h.interrupted_pids))
        evidence = h.evidence + ("; raised: " + "; ".join(h.errors) if h.errors else "") + (
            f" (registered at {h.where})" if h.where else "")
        rows.append([(name, "mono"), (cell, f"nw {_cell_class(cell, 'hook')}"), (who or "-", "nw"),
                     (secs(h.at_s), "nw"), (secs(h.duration_s), "nw"), (h.source or "-", "nw"), (evidence, "cmd")])
    return _table(["hook", "result", "in", "at", "duration", "source", "evidence"], rows, "small hooks")


def _check_table(case: CaseResult) -> str:
    """The [verify] checks: each one's answer, exit, time, command and output."""
    rows = []
    for rec in case.verify:
        cell = verify_cell(case, rec.name)
        how = rec.error or (f"killed by {rec.signal}" if rec.signal else f"exit {rec.returncode}")
        rows.append([(rec.name, "mono"), (cell, f"nw {_cell_class(cell, 'check')}"), (how, "long"),
                     (secs(rec.duration_s), "nw"), (rec.command or "-", "cmd"), (rec.output or "-", "cmd")])
    return _table(["check", "result", "how it ended", "took", "command", "output (its last lines)"], rows,
                  "small checks")


def _stop_facts(stop: StopRecord) -> str:
    grace = f"{stop.grace_s:g} s ({stop.grace_from})" if stop.grace_s is not None else "none (never kills)"
    pairs = [("profile", f"{stop.profile} ({stop.stopper})"), ("signal", f"{stop.signal} to {stop.to}"),
             ("grace", grace)]
    if stop.signal_at_s:
        pairs.append(("signal at", secs(stop.signal_at_s)))
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
        second = stop.second_signal
        text = ", ".join(f"{k}={v}" for k, v in second.items() if k != "signalled")
        if second.get("signalled"):
            text += "; to " + ", ".join(f"{s.get('role')} {s.get('pid')}" + (
                "" if s.get("delivered", True) else " (not delivered)") for s in second["signalled"])
        pairs.append(("second signal", text))
    if stop.cleanup_s is not None:
        pairs.append(("cleanup", secs(stop.cleanup_s) + (f" of the {stop.grace_s:g} s grace"
                                                          if stop.grace_s is not None else "")))
    for ex in stop.exec_stop:
        pairs.append(("ExecStop", ", ".join(f"{k}={v}" for k, v in ex.items())))
    pairs.append(("final SIGKILL", f"at {secs(stop.kill_at_s)}: " + (", ".join(
        f"{k.get('role')} {k.get('pid')}" for k in stop.killed) or "nothing left") if stop.final_kill else "no"))
    if stop.left_running:
        pairs.append(("left running", ", ".join(f"{k.get('role')} {k.get('pid')}" for k in stop.left_running)))
    if stop.source:
        pairs.append(("source", stop.source))
    return _dl(pairs)


def _case_facts(case: CaseResult) -> list[tuple[str, str]]:
    """The facts at the top of a case's section: trigger, readiness, exit, time..."""
    facts: list[tuple[str, str]] = []
    if case.trigger and case.stop is None:
        facts.append(("trigger", trigger_text(case)))
    if case.ready_s is not None:
        facts.append(("ready after", secs(case.ready_s) + " (from launch)"))
    if fired(case):
        facts.append(("exit", exit_cell(case)))
        facts.append(("time", time_cell(case)))
    if case.probe:
        facts.append(("Python probe", str(case.probe.get("why", case.probe.get("enabled")))))
    if case.wall_s is not None:
        facts.append(("whole case", secs(case.wall_s) + " in the harness"))
    if case.workdir:
        facts.append(("workdir", case.workdir))
    return facts


def _case(case: CaseResult, n: int) -> list[str]:
    cls = "case failed" if case.failed else "case"
    out = [f'<section class="{cls}" id="case-{n}">',
           f"<h3>{esc(case.scenario)} :: {esc(case.label)} <span class=\"outcome\">— {esc(case.outcome)}</span></h3>",
           tag("p", {"class": "explain"}, esc(explain(case)))]
    if case.error:
        out.append(tag("p", {"class": "error"}, esc(case.error)))
    out.append(_dl(_case_facts(case)))
    if fired(case):
        svg, events = timeline(case, n)
        out.append(f'<div class="tlwrap">{svg}</div>')
        if events:
            rows = [[(secs(e.t), "t"), (e.lane, "nw"), (e.text, "long")]
                    for e in sorted(events, key=lambda e: e.t)]
            out.append("<details><summary>the timeline as a table</summary>"
                       + _table(["at", "where", "what"], rows, "small events") + "</details>")
    if case.expect.claim:
        out.append(tag("p", {"class": f"claim {case.expect.verdict or 'untested'}"},
                        esc(f"claim: {case.expect.claim} — {case.expect.verdict or 'untested'}")))
    if case.failure_lines:
        out.append('<ul class="failures">' + "".join(tag("li", {}, esc(f"{NOT_RAN} {f}"))
                                                     for f in case.failure_lines) + "</ul>")
    if case.stop is not None:
        out.append("<h4>stop profile</h4>")
        out.append(_stop_facts(case.stop))
    if case.processes:
        out.append("<h4>processes</h4>")
        out.append(_process_table(case))
    started = started_after_lines(case) + hang_lines([case])
    if started:
        out.append('<ul class="notes">' + "".join(tag("li", {}, esc(line)) for line in started) + "</ul>")
    if case.hooks and case.outcome != "skipped":
        out.append("<h4>hooks</h4>")
        out.append(_hook_table(case))
        orders = []
        if order_text(case.order):
            orders.append("order: " + order_text(case.order))
        if len(case.probe_order) > 1:
            orders.append("atexit order: " + " → ".join(case.probe_order))
        if orders:
            out.append('<ul class="notes">' + "".join(tag("li", {}, esc(o)) for o in orders) + "</ul>")
    if case.verify:
        out.append("<h4>checks after the case</h4>")
        out.append(_check_table(case))
    if case.services:
        out.append("<h4>services</h4>")
        out.append('<ul class="notes services">' + "".join(
            tag("li", {"class": "failure" if svc.state in FAILED_STATES else None}, esc(service_text(svc)))
            for svc in case.services) + "</ul>")
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
            when = f" at {secs(e.at_s)}" if e.at_s is not None else ""
            items.append(tag("li", {}, esc(f"the harness sent {e.signal} to {e.role} pid {e.pid}{when}: {e.reason}")))
        out.append('<ul class="escalations">' + "".join(items) + "</ul>")
    traffic = traffic_lines(case)
    if traffic:
        out.append("<h4>traffic</h4>")
        inner = "".join(tag("li", {}, esc(line)) for line in traffic[1:])
        out.append(f'<ul class="traffic"><li>{esc(traffic[0])}<ul>{inner}</ul></li></ul>')
    if case.output_tail:
        out.append("<h4>output tail</h4>")
        out.append(tag("pre", {"class": "tail"}, esc_block(case.output_tail)))
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
            f"<title>{esc(title)}</title>", f"<style>\n{style()}{css}</style>", "</head>", "<body>",
            "<header>", f"<h1>{esc(title)}</h1>"]


def format_html(results: Results, *, title: str | None = None) -> str:
    """The whole report as one HTML document (no I/O; the same results give the same text)."""
    groups = by_scenario(results)
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
        line = summary_line(results.cases) + (f"; {failed} failed" if failed else "")
        out.append(tag("p", {"class": "summary"}, esc(line)))
    else:
        out.append('<p class="summary">no cases</p>')
    if len(groups) > 1:
        out.append("<nav><ul>" + "".join(tag("li", {}, tag("a", {"href": f"#scenario-{k}"}, esc(name)))
                                         for k, name in enumerate(groups)) + "</ul></nav>")
    out.append(KEY)
    out.append("</header>")
    for k, (name, cases) in enumerate(groups.items()):
        out.append(f'<section class="scenario" id="scenario-{k}">')
        out.append(tag("h2", {}, esc(name)))
        description = results.scenarios.get(cases[0].scenario, "")
        if description:
            out.append(tag("p", {"class": "desc"}, esc(description)))
        out += _matrix(cases, index)
        out += _notes(cases)
        out += _claims(cases)
        out.append(tag("p", {"class": "summary"}, esc(summary_line(cases) + ".")))
        out.append("<h4>what happened on each path</h4>")
        out.append('<ul class="explained">' + "".join(
            "<li>" + tag("a", {"href": f"#case-{index[id(c)]}"}, esc(c.label)) + ": " + esc(explain(c))
            + "</li>" for c in cases) + "</ul>")
        for case in cases:
            out += _case(case, index[id(case)])
        out.append("</section>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)
