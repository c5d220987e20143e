"""One case, explained: why it failed, as plain text for a test report.

Used by the pytest plugin for a failed item, by the JUnit report for a failed case, and
for the matrix row each item carries in JUnit XML. The text reads like a diff: what the
scenario expected next to what was observed, then the evidence behind every hook and
the end of the app's output.

Hook names, evidence, errors and the output tail are the target's to choose, so both
functions make their whole text printable at the end (:func:`.text.clean_line`): no
escape sequence, NUL or lone surrogate reaches a test report, whose XML could not
hold them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from ..results import NOT_OBSERVED, STDERR_MARK, CaseResult
from .cells import exit_cell, hook_cell, orphans_cell, time_cell, verify_cell
from .explain import explain
from .notes import hang_lines, probe_note_lines, started_after_lines
from .services import service_cell, services_line
from .text import clean_line
from .traffic import drained_cell, new_requests_cell, port_cell, traffic_lines


class ExpectedHooks(Protocol):
    """What the scenario expected of the hooks, for the diff at the top of the text:
    the results do not record it (a JUnit report, made from them alone, has no diff).
    A scenario's expectation (``scenario.Expectation``) is one; this module needs no
    more of the scenario model than these three fields."""

    @property
    def ran(self) -> Sequence[str]: ...

    @property
    def not_ran(self) -> Sequence[str]: ...

    @property
    def ran_in(self) -> Mapping[str, Sequence[str]]: ...


def _names(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "(none)"


def format_case_failure(case: CaseResult, expectation: ExpectedHooks | None = None, *,
                        tail_lines: int = 20) -> str:
    """Why ``case`` failed: the expectation diff (when ``expectation`` is given), the
    evidence, the output tail."""
    if case.errored:
        why = f"the case did not run to the end ({case.outcome})"
    elif case.expect.passed and case.fail_on:
        why = "--fail-on: " + ", ".join(f.finding for f in case.fail_on)
    else:
        why = "expectations do not hold"
    lines = [f"{case.scenario}::{case.label}: {why}"]
    if case.expect.claim:
        lines.append(f"  claim {case.expect.verdict or 'untested'}: {case.expect.claim}")
    if case.errored:
        lines.append(f"  reason: {case.error}")
    elif expectation is not None:
        observed_ran = [n for n, h in case.hooks.items() if h.ran]
        observed_not = [n for n, h in case.hooks.items() if not h.ran]
        expected_ran = list(dict.fromkeys([*expectation.ran, *expectation.ran_in]))
        rows = [("expected ran:", _names(expected_ran)), ("observed ran:", _names(observed_ran))]
        if expectation.not_ran:
            rows += [("expected not ran:", _names(expectation.not_ran)),
                     ("observed not ran:", _names(observed_not))]
        width = max(len(label) for label, _ in rows)
        lines += [f"  {label:<{width}}  {value}" for label, value in rows]
    if not case.errored:  # with or without the expectation at hand (a JUnit report has only the results)
        lines += [f"  ✗ {failure}" for failure in case.failure_lines]
    lines.append(f"  outcome: {row_summary(case)}")
    if case.stop is not None and not case.errored:
        lines.append(f"  stop: {explain(case)}")
    if case.hooks:
        lines.append("  evidence:")
        shown = {name: clean_line(name) for name in case.hooks}  # as wide as it will be printed
        width = max(len(n) for n in shown.values())
        for name, hook in case.hooks.items():
            lines.append(f"    {shown[name]:<{width}}  {hook_cell(case, name):<5}  {hook.evidence}")
    if case.verify:
        lines.append("  checks after the case:")
        for rec in case.verify:
            how = rec.error or (f"killed by {rec.signal}" if rec.signal else f"exit {rec.returncode}")
            lines.append(f"    {rec.name}  {verify_cell(case, rec.name)}  ({how}): {rec.command}")
            lines += [f"      | {line}" for line in rec.output.splitlines()[-5:]]
    lines += [f"  {line}" for line in started_after_lines(case)]
    services = services_line(case)
    if services:
        lines.append(f"  {services}")
    lines += [f"  {line}" for line in probe_note_lines([case])]
    lines += [f"  {line}" for line in hang_lines([case])]
    traffic = traffic_lines(case)
    if traffic:
        lines.append(f"  {traffic[0]}")
        lines += [f"    {line}" for line in traffic[1:]]
    for esc in case.escalations:
        lines.append(f"  harness sent {esc.signal} to the {esc.role} (pid {esc.pid}): {esc.reason}")
    tail = _last_of_each_stream(case.output_tail.rstrip("\n").splitlines(), tail_lines)
    if tail:
        lines.append(f"  output tail (last {len(tail)} lines):")
        lines += [f"    | {line}" for line in tail]
    else:
        lines.append("  output tail: (the app wrote nothing)")
    # each entry is one line: a newline inside a field (a hook's name, an error) is ␤
    return "\n".join(clean_line(line) for line in lines)


def _last_of_each_stream(lines: list[str], n: int) -> list[str]:
    """The last ``n`` stdout lines and the last ``n`` stderr lines (marked ``[stderr]``
    in the tail), in their order: a flood on one stream leaves the other's end."""
    err = [i for i, line in enumerate(lines) if line.startswith(STDERR_MARK)]
    out = [i for i, line in enumerate(lines) if not line.startswith(STDERR_MARK)]
    keep = sorted(err[-n:] + out[-n:]) if n > 0 else []
    return [lines[i] for i in keep]


def row_summary(case: CaseResult) -> str:
    """The row's outcome in one phrase: 'exited, SIGTERM, 0.03 s, no orphans'."""
    parts: list[str] = [case.outcome]
    if case.outcome not in NOT_OBSERVED:
        exit_text = exit_cell(case)
        parts += [exit_text] if exit_text != case.outcome else []  # not "survived, survived"
        parts.append(time_cell(case))
    if case.traffic is not None and case.outcome not in NOT_OBSERVED:
        drained = drained_cell(case)
        parts += [f"drained {drained}"] if drained != "-" else []
        parts.append(f"new requests: {new_requests_cell(case)}")
    if case.orphans:
        parts.append(f"orphans: {orphans_cell(case)}")
    return ", ".join(parts)


def row_properties(case: CaseResult, *, prefix: str = "shutdown_probe") -> list[tuple[str, str]]:
    """The matrix row as name/value pairs, for JUnit XML <properties>."""
    props: list[tuple[str, str]] = [
        ("scenario", case.scenario),
        ("path", case.path),
        *([("attempt", str(case.attempt))] if case.attempt is not None else []),
        ("outcome", case.outcome),
        ("exit", exit_cell(case)),
        ("time", time_cell(case)),
    ]
    props += [(f"hook.{name}", hook_cell(case, name)) for name in case.hooks]
    props += [(f"verify.{rec.name}", verify_cell(case, rec.name)) for rec in case.verify]
    if case.traffic is not None:
        props += [("drained", drained_cell(case)), ("new_requests", new_requests_cell(case)),
                  ("port", port_cell(case))]
    props.append(("orphans", orphans_cell(case)))
    if case.services:
        props.append(("services", service_cell(case)))
    if case.expect.declared:
        props.append(("expect", "held" if case.expect.passed else "; ".join(case.expect.failures)))
    if case.expect.claim:
        props += [("claim", case.expect.claim), ("claim.verdict", case.expect.verdict or "untested")]
    if case.error:
        props.append(("error", case.error))
    return [(clean_line(f"{prefix}.{name}"), clean_line(value)) for name, value in props]
