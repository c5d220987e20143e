"""The matrix as GitHub Markdown, with per-case details for docs."""

from __future__ import annotations

import re

from ..results import CaseResult, Results
from . import claims, legend, notes, order, repeats, rows, services, traffic
from .cells import NOT_RAN, hook_mark, trigger_text, verify_column, verify_mark
from .explain import explain
from .text import clean


# What can make Markdown of a plain string: a cell separator, a code span, emphasis,
# strikethrough, a link or image, an autolink or inline HTML, an entity. A backslash
# before ASCII punctuation is always a literal in CommonMark. An underscore inside a
# word (exit_function) is literal already and stays as it is, so names read as names.
_MD_SPECIAL = re.compile(r"[\\`*|<>\[\]~]|&(?=#?\w+;)|(?<!\w)_|_(?!\w)")

_MD_LEADING = re.compile(r"^(\s*\d{0,9})((?<!\d)#(?=#{0,5}(\s|$))|(?<!\d)[+-](?=\s|$|--)|(?<=\d)[.)](?=\s|$))")


def escape(text: object, *, start: bool = False) -> str:
    """Text from anywhere (the target's output above all) as inert Markdown on one line:
    it can neither end a table cell, nor start a code span, emphasis, a link or HTML.
    Control characters are shown as their pictures (:func:`.text.clean`). ``start``:
    the text begins a line (a bullet's text, a paragraph), where ``#``, ``-``, ``1.``
    would make a heading or a list; a table cell holds inline text only."""
    flat = " ".join(clean(text).split("\n"))
    text = _MD_SPECIAL.sub(lambda m: "\\" + m.group(), flat)
    # at the start of a line (a bullet's text, a paragraph) these make a heading, a
    # list or a rule: '# ', '- ', '---', '+ ', '1. ', '2) '
    if not start:
        return text
    return _MD_LEADING.sub(lambda m: m.group(1) + "\\" + m.group(2), text, count=1)


def code(text: object, *, cell: bool = False) -> str:
    """``text`` as a code span on one line. Inside a code span a backslash is literal,
    so a backtick is fenced by a longer run of backticks. In a table ``cell`` a pipe
    becomes ``\\|``: GitHub splits cells on a pipe even inside code, and takes that
    escape back out; anywhere else the backslash would show, so the pipe stays."""
    flat = " ".join(clean(text).split("\n"))
    if cell:
        flat = flat.replace("|", "\\|")
    fence = "`" * (_longest_run(flat, "`") + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def fenced(text: object, info: str = "") -> list[str]:
    """``text`` as a fenced code block: the fence is longer than any run of backticks
    in the text, so nothing in it can close the block early."""
    body = clean(text)
    fence = "`" * max(3, _longest_run(body, "`") + 1)
    return [fence + info, *body.split("\n"), fence]


def _longest_run(text: str, char: str) -> int:
    runs = re.findall(re.escape(char) + "+", text)
    return max((len(r) for r in runs), default=0)



def format_markdown(results: Results, *, details: bool = True) -> str:
    lines: list[str] = []
    env = results.environment
    for scenario, cases in rows.by_scenario(results).items():
        hooks = rows.hook_names(cases)
        checks = rows.check_names(cases)
        lines.append(f"## {escape(scenario)}")
        lines.append("")
        description = results.scenarios.get(cases[0].scenario, "")
        if description:
            lines.append(escape(description, start=True))
            lines.append("")
        has_traffic = traffic.has_traffic(cases)
        traffic_header = ["drained", "new requests", "port"] if has_traffic else []
        has_services = services.has_services(cases)
        header = ["path", *hooks, *map(verify_column, checks), *traffic_header, "exit", "time", "orphans",
                  *(["services"] if has_services else [])]
        lines.append("| " + " | ".join(escape(h) for h in header) + " |")
        align = (["---"] + [":---:"] * len(hooks) + ["---"] * len(checks)
                 + ([":---:", "---", "---"] if has_traffic else []))
        lines.append("|" + "|".join(align + ["---", "---:", "---"] + (["---"] if has_services else [])) + "|")
        for row in rows.rows(cases, hooks, has_traffic, checks, has_services):
            cells = [*row.hooks, *row.checks, *row.traffic, row.exit, row.time, row.orphans,
                     *([row.services] if row.services is not None else [])]
            lines.append("| " + " | ".join([code(row.label, cell=True), *(escape(c) for c in cells)]) + " |")
        lines.append("")
        legends = (legend.legend(cases), legend.traffic_legend(cases))
        bullets = [f"- {escape(text, start=True)}" for text in legends if text]
        bullets += [f"- {escape(line, start=True)}" for line in order.order_lines(cases)]
        bullets += [f"- {escape(line, start=True)}" for line in notes.probe_note_lines(cases)]
        bullets += [f"- {escape(line, start=True)}" for line in notes.hang_lines(cases)]
        bullets += [f"- {escape(line.text, start=True)}" for line in repeats.repeat_lines(cases)]
        bullets += [f"- ✗ {escape(f)}" for f in notes.failure_lines(cases)]
        if bullets:
            lines += [*bullets, ""]
        lines += claim_lines(cases)
        lines.append(escape(notes.summary_line(cases), start=True) + ".")
        lines.append("")
        lines.append("What happened on each path:")
        lines.append("")
        lines += [f"- {code(case.label)}: {escape(explain(case))}" for case in cases]
        lines.append("")
        if details:
            lines.append("### Cases")
            lines.append("")
            for case in cases:
                lines.extend(_case_details(case))
    if env:
        facts = ", ".join(f"{k} {env[k]}" for k in ("python", "platform") if k in env)
        lines.append(f"_{escape(results.tool)}; {escape(facts)}._")
        lines.append("")
    return "\n".join(lines)


def claim_lines(cases: list[CaseResult]) -> list[str]:
    """The claims the cases test, each with its verdict and the observations behind it."""
    found = claims.claims(cases)
    if not found:
        return []
    out = ["Claims:", ""]
    for row in found:
        out.append(f"- {row.mark} {code(row.path)}: {escape(row.claim)} — **{escape(row.tally)}**")
        out += [f"  - {NOT_RAN} {escape(line)}" for line in row.failures]
        out += [f"  - {escape(line, start=True)}" for line in row.evidence]
    return [*out, ""]


def _case_details(case: CaseResult) -> list[str]:
    out = [f"#### {code(case.label)} — {escape(case.outcome)}", ""]
    if case.trigger:
        out.append("- trigger: " + escape(trigger_text(case)))
    if case.stop is not None:
        stop = case.stop
        grace = f"{stop.grace_s:g} s ({stop.grace_from})" if stop.grace_s is not None else "none (never kills)"
        out.append(f"- stop profile {code(stop.profile)} ({escape(stop.stopper)}): grace {escape(grace)}; "
                   f"source: {escape(stop.source)}")
        if stop.namespace:
            out.append(f"- PID 1: {escape(stop.namespace)}" + (f", init: {escape(stop.init)}" if stop.init else ""))
    if case.error:
        out.append(f"- {escape(case.error, start=True)}")
    line = services.services_line(case)
    if line:
        out.append(f"- {escape(line, start=True)}")
    for p in case.processes:
        if p.signal:
            end = p.signal
        elif p.returncode is not None:
            end = f"rc {p.returncode}"
        else:
            end = "exit unknown" + (f" ({p.exit_note})" if p.exit_note else "")
        when = f" after {p.ended_after_s:.2f} s" if p.ended_after_s is not None else ""
        if p.zombie:
            when += (f", then a zombie (unreaped) until {p.reaped_after_s:.2f} s" if p.reaped_after_s is not None
                     else ", then a zombie (never reaped while watched)")
        extra = []
        if p.listening:
            extra.append("listening " + ",".join(f":{x}" for x in p.listening))
        if p.signals_caught:
            extra.append("handles " + ",".join(p.signals_caught))
        if p.signals_ignored:
            extra.append("ignores " + ",".join(p.signals_ignored))
        if p.ns_pid is not None:
            extra.append(f"PID {p.ns_pid} in the namespace")
        if p.killed_by_stop:
            extra.append("killed when the grace ran out")
        if p.killed_by_harness:
            extra.append("killed by the harness")
        tail = f" ({'; '.join(extra)})" if extra else ""
        out.append(f"- process {escape(p.role)} pid {p.pid}: {escape(end)}{when}{escape(tail)}")
    out += [f"- {escape(line, start=True)}" for line in notes.started_after_lines(case)]
    out += [f"- {escape(line, start=True)}" for line in notes.hang_lines([case])]
    lines = traffic.traffic_lines(case)
    if lines:
        out.append(f"- {escape(lines[0], start=True)}")
        out += [f"  - {escape(line, start=True)}" for line in lines[1:]]
    for name, h in case.hooks.items():
        mark = hook_mark(h)
        who = f" [{', '.join(f'{r} {p}' for r, p in zip(h.roles, h.pids))}]" if h.pids else ""
        out.append(f"- hook {code(name)} {mark}{escape(who)}: {escape(h.evidence)}")
    if order.order_text(case.order):
        out.append("- order: " + escape(order.order_text(case.order)))
    for rec in case.verify:
        how = rec.error or (f"killed by {rec.signal}" if rec.signal else f"exit {rec.returncode}")
        took = f", {rec.duration_s:.2f} s" if rec.duration_s is not None else ""
        last = f": {rec.last_line()}" if rec.last_line() else ""
        out.append(f"- check {code(rec.name)} {verify_mark(rec)} ({escape(how)}{took}){escape(last)}")
    for e in case.escalations:
        out.append(f"- harness sent {escape(e.signal)} to {escape(e.role)} pid {e.pid}: {escape(e.reason)}")
    if case.expect.claim:
        out.append(f"- claim: {escape(case.expect.claim)} — **{escape(case.expect.verdict or 'untested')}**")
    for f in case.failure_lines:
        out.append(f"- ✗ {escape(f)}")
    if case.output_tail:
        out += ["", "<details><summary>output tail</summary>", "", *fenced(case.output_tail), "", "</details>"]
    out.append("")
    return out
