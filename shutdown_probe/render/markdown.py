"""The matrix as GitHub Markdown, with per-case details for docs."""

from __future__ import annotations

from ..results import CaseResult, Results
from . import common


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def format_markdown(results: Results, *, details: bool = True) -> str:
    lines: list[str] = []
    env = results.environment
    for scenario, cases in common.by_scenario(results).items():
        hooks = common.hook_names(cases)
        lines.append(f"## {scenario}")
        lines.append("")
        description = results.scenarios.get(cases[0].scenario, "")
        if description:
            lines.append(description)
            lines.append("")
        traffic = common.has_traffic(cases)
        traffic_header = ["drained", "new requests", "port"] if traffic else []
        header = ["path", *hooks, *traffic_header, "exit", "time", "orphans"]
        lines.append("| " + " | ".join(header) + " |")
        align = ["---"] + [":---:"] * len(hooks) + ([":---:", "---", "---"] if traffic else [])
        lines.append("|" + "|".join(align + ["---", "---:", "---"]) + "|")
        for row in common.rows(cases, hooks, traffic):
            cells = [f"`{row.label}`", *row.hooks, *row.traffic, row.exit, row.time, row.orphans]
            lines.append("| " + " | ".join(_escape(c) for c in cells) + " |")
        lines.append("")
        bullets = [f"- {legend}" for legend in (common.legend(cases), common.traffic_legend(cases)) if legend]
        bullets += [f"- {line}" for line in common.order_lines(cases)]
        bullets += [f"- {_escape(line)}" for line in common.repeat_lines(cases)]
        bullets += [f"- ✗ {_escape(f)}" for f in common.failure_lines(cases)]
        if bullets:
            lines += [*bullets, ""]
        lines.append(common.summary_line(cases) + ".")
        lines.append("")
        lines.append("What happened on each path:")
        lines.append("")
        lines += [f"- `{case.label}`: {_escape(common.explain(case))}" for case in cases]
        lines.append("")
        if details:
            lines.append("### Cases")
            lines.append("")
            for case in cases:
                lines.extend(_case_details(case))
    if env:
        facts = ", ".join(f"{k} {env[k]}" for k in ("python", "platform") if k in env)
        lines.append(f"_{results.tool}; {facts}._")
        lines.append("")
    return "\n".join(lines)


def _case_details(case: CaseResult) -> list[str]:
    out = [f"#### `{case.label}` — {case.outcome}", ""]
    if case.trigger:
        out.append("- trigger: " + ", ".join(f"{k}={v}" for k, v in case.trigger.items()))
    if case.stop is not None:
        stop = case.stop
        grace = f"{stop.grace_s:g} s ({stop.grace_from})" if stop.grace_s is not None else "none (never kills)"
        out.append(f"- stop profile `{stop.profile}` ({stop.stopper}): grace {grace}; source: {_escape(stop.source)}")
        if stop.namespace:
            out.append(f"- PID 1: {stop.namespace}" + (f", init: {stop.init}" if stop.init else ""))
    if case.error:
        out.append(f"- {case.error}")
    for p in case.processes:
        if p.signal:
            end = p.signal
        elif p.returncode is not None:
            end = f"rc {p.returncode}"
        else:
            end = "exit unknown" + (f" ({p.exit_note})" if p.exit_note else "")
        when = f" after {p.ended_after_s:.2f} s" if p.ended_after_s is not None else ""
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
        out.append(f"- process {p.role} pid {p.pid}: {end}{when}{tail}")
    out += [f"- {line}" for line in common.started_after_lines(case)]
    traffic = common.traffic_lines(case)
    if traffic:
        out.append(f"- {_escape(traffic[0])}")
        out += [f"  - {_escape(line)}" for line in traffic[1:]]
    for name, h in case.hooks.items():
        mark = common.RAN if h.ran else common.NOT_RAN
        who = f" [{', '.join(f'{r} {p}' for r, p in zip(h.roles, h.pids))}]" if h.pids else ""
        out.append(f"- hook `{name}` {mark}{who}: {_escape(h.evidence)}")
    if case.hook_order:
        out.append("- order: " + " → ".join(case.hook_order))
    for e in case.escalations:
        out.append(f"- harness sent {e.signal} to {e.role} pid {e.pid}: {e.reason}")
    for f in case.expect.failures:
        out.append(f"- ✗ {_escape(f)}")
    if case.output_tail:
        out += ["", "<details><summary>output tail</summary>", "", "```", case.output_tail, "```",
                "", "</details>"]
    out.append("")
    return out
