"""Cell texts shared by the terminal and Markdown matrices, so both say the same thing."""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ..results import (INCOMPLETE, NOT_OBSERVED, REQUEST_OUTCOMES, UNFINISHED, UNOBSERVED, CaseResult,
                       HookOrder, HookResult, ProcessRecord, RequestRecord, Results, TrafficRecord)

RAN = "✓"
NOT_RAN = "✗"
UNKNOWN = "?"  # the hook could not be watched to the end: whether it ran is not known

# ---------------------------------------------------------------- text from the target

_CSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")  # terminal colour and cursor codes
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ ␁ ... ␛ ...: the control picture
    if code == 0x7F:
        return "\u2421"  # ␡
    if code <= 0x9F:
        return f"\\x{code:02x}"
    return "\ufffd"  # a lone surrogate or a non-character: not text


# Characters that reorder the text around them when displayed (the bidirectional
# embeddings, overrides, isolates and marks): a target's name holding U+202E would show
# an order line reversed. Shown as a visible escape instead, as are the Unicode line
# and paragraph separators.
_INVISIBLE = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    return f"<U+{ord(match.group()):04X}>"


def clean(text: Any) -> str:
    """``text`` made printable and legal in XML and HTML: terminal escape sequences
    (colours) dropped, CRLF turned into LF, every other control character (NUL, a lone
    CR, ESC...) shown as its control picture (``␀``, ``␍``, ``␛``) or ``\\xNN``, and
    the characters that reorder text (bidi controls) as ``<U+202E>``. Newlines stay:
    see :func:`clean_line` for text that must stay on one line."""
    text = _CSI.sub("", str(text)).replace("\r\n", "\n")
    return _INVISIBLE.sub(_escape, _UNPRINTABLE.sub(_picture, text))


NEWLINE = "\u2424"  # ␤


def clean_line(text: Any) -> str:
    """:func:`clean`, for a line of a report (a cell, a header, an order, repeat, claim
    or note line, an error line): a newline in the target's text is shown as ``␤``,
    so it cannot start a line of its own that looks like the harness's."""
    return clean(text).replace("\n", NEWLINE)


def by_scenario(results: Results) -> dict[str, list[CaseResult]]:
    """Title -> cases. Two files that use one scenario name get a table each, titled
    with their file, rather than one table with every path twice."""
    files: dict[str, set[str]] = {}
    for case in results.cases:
        files.setdefault(case.scenario, set()).add(case.scenario_file)
    groups: dict[str, list[CaseResult]] = {}
    for case in results.cases:
        title = case.scenario
        if len(files[case.scenario]) > 1:
            title = f"{case.scenario} ({case.scenario_file})"
        groups.setdefault(title, []).append(case)
    return groups


def hook_names(cases: list[CaseResult]) -> list[str]:
    names: list[str] = []
    for case in cases:
        for name in case.hooks:
            if name not in names:
                names.append(name)
    return names


CUT = "◐"  # started, never finished: killed mid-hook
RAISED = "raised"  # finished by an exception (a second Ctrl-C's KeyboardInterrupt...)


def app_processes(case: CaseResult) -> list[ProcessRecord]:
    """The case's processes without the harness's own PID-1 launcher."""
    return [p for p in case.processes if p.role != "launcher"]


def _multi_process(case: CaseResult) -> bool:
    """Whether the case had processes to tell apart (else a bare ✓ says it all)."""
    if sum(1 for p in app_processes(case) if p.role != "init") > 1:
        return True
    return any(r != "root" for h in case.hooks.values() for r in (*h.roles, *h.interrupted_roles))


def where(roles: list[str], case: CaseResult) -> str:
    """Which processes, in words: 'parent', 'child', 'both', 'parent+child-2'."""
    distinct = list(dict.fromkeys(roles))
    if not distinct or not _multi_process(case):
        return ""
    if set(distinct) == {"root", "child"} and sum(1 for p in app_processes(case) if p.role != "root") <= 1:
        return "both"
    return "+".join("parent" if r == "root" else r for r in distinct)


def hook_mark(hook: HookResult) -> str:
    """✓ ran, ✗ did not run, ? could not be watched to the end."""
    if hook.ran:
        return RAN
    return UNKNOWN if hook.evidence.startswith(UNOBSERVED) else NOT_RAN


def hook_cell(case: CaseResult, name: str) -> str:
    """✓ where the hook ran, ◐ where it was cut short, ✗ when it ran nowhere."""
    if case.outcome in NOT_OBSERVED:
        return "-"
    hook: HookResult | None = case.hooks.get(name)
    if hook is None:
        return "?"
    if not hook.ran and not hook.interrupted_pids and hook.evidence.startswith(UNOBSERVED):
        return UNKNOWN  # not seen is not "did not run"
    parts = []
    if hook.ran:
        parts.append(f"{RAN} {where(hook.roles, case)}".rstrip())
        if hook.errors:
            parts[-1] += f" {RAISED}"
    if hook.interrupted_pids:
        parts.append(f"{CUT} {where(hook.interrupted_roles, case) or 'cut short'}")
    return " ".join(parts) if parts else NOT_RAN


def legend(cases: list[CaseResult]) -> str | None:
    """What the words and symbols in the cells mean, for those these cases use."""
    cells = {hook_cell(c, n) for c in cases for n in c.hooks}
    notes = []
    if any("parent" in t or "both" in t for t in cells):
        notes.append("parent = the launched process, child = its working child, both = the two")
    if any(RAISED in t for t in cells):
        notes.append(f"{RAISED} = the hook ended by raising an exception (cut short, see the details)")
    if any(CUT in t for t in cells):
        notes.append(f"{CUT} = started but never finished (the process died inside the hook)")
    if any(t.startswith(UNKNOWN) for t in cells):
        notes.append(f"{UNKNOWN} = not known whether it ran (see the details)")
    return "; ".join(notes) or None


def order_text(order: HookOrder | None) -> str:
    """What is known of the declared hooks' order, in one phrase ("" when fewer than
    two ran, or for results that did not record it): the chains one clock saw, then
    the pairs no clock saw, with why."""
    if order is None or len(order.hooks) < 2:
        return ""
    if not order.unknown:
        return " → ".join(order.hooks)
    parts = [_chain(group, order) for group in _ordered_groups(order)]
    by_why: dict[str, list[list[str]]] = {}
    for u in order.unknown:
        by_why.setdefault(u.why, []).append(u.hooks)
    parts += [f"unknown: {_pairs(pairs, order.hooks)} ({why})" for why, pairs in by_why.items()]
    return "; ".join(parts)


def _ordered_groups(order: HookOrder) -> list[list[str]]:
    """The hooks linked by known pairs, group by group, each in listing order."""
    group_of = {h: {h} for h in order.hooks}
    for p in order.known:
        merged = group_of[p.first] | group_of[p.then]
        for h in merged:
            group_of[h] = merged
    groups: list[list[str]] = []
    for h in order.hooks:
        members = [m for m in order.hooks if m in group_of[h]]
        if len(members) > 1 and members not in groups:
            groups.append(members)
    return groups


def _chain(group: list[str], order: HookOrder) -> str:
    """``a → {b, c} → d (stdout)``: hooks in braces have no known order between them.
    A group that is not layered that way is given pair by pair."""
    pairs = [p for p in order.known if p.first in group]
    before = {h: sum(1 for p in pairs if p.then == h) for h in group}
    layers: dict[int, list[str]] = {}
    for h in group:
        layers.setdefault(before[h], []).append(h)
    levels = sorted(layers)
    known = {(p.first, p.then) for p in pairs}
    layered = all((a, b) in known for i, lo in enumerate(levels) for hi in levels[i + 1:]
                  for a in layers[lo] for b in layers[hi])
    layered = layered and all((a, b) not in known for hs in layers.values() for a in hs for b in hs)
    clocks = ", ".join(dict.fromkeys(p.clock for p in pairs))
    if layered:
        text = " → ".join(layers[n][0] if len(layers[n]) == 1 else "{" + ", ".join(layers[n]) + "}" for n in levels)
    else:
        text = ", ".join(f"{p.first} → {p.then}" for p in pairs)
    return f"{text} ({clocks})"


def _pairs(pairs: list[list[str]], listing: list[str]) -> str:
    """``finally vs flushed and atexit``: the pairs, gathered on the hook most of them share."""
    count = Counter(h for pair in pairs for h in pair)
    rank = {h: (-count[h], listing.index(h) if h in listing else 0) for h in count}
    hubs: dict[str, list[str]] = {}
    for a, b in pairs:
        hub, other = (a, b) if rank[a] <= rank[b] else (b, a)
        hubs.setdefault(hub, []).append(other)
    return "; ".join(f"{hub} vs {_names(others)}" for hub, others in hubs.items())


def order_lines(cases: list[CaseResult]) -> list[str]:
    """The order hooks' evidence appeared in, as far as it is known, once per distinct
    text, with its paths; then the probe's atexit order (one clock: CLOCK_MONOTONIC)."""
    lines = []
    runs = Counter(case.path for case in cases)
    for label, text_of in (("order", lambda c: order_text(c.order)),
                           ("atexit order", lambda c: " → ".join(c.probe_order) if len(c.probe_order) > 1 else "")):
        groups: dict[str, list[CaseResult]] = {}
        for case in cases:
            text = text_of(case)
            if text:
                groups.setdefault(text, []).append(case)
        lines += [f"{label} in {_case_labels(group, runs)}: {text}" for text, group in groups.items()]
    return lines


def probe_note_lines(cases: list[CaseResult]) -> list[str]:
    """For each case whose probe evidence is incomplete, one line that says why."""
    return [f"{case.label}: {INCOMPLETE}: " + "; ".join(n.detail for n in case.probe_notes)
            for case in cases if case.probe_notes]


def _case_labels(group: list[CaseResult], runs: Counter[str]) -> str:
    """The cases' labels; a repeated path whose every run is in ``group`` is named once."""
    in_group = Counter(case.path for case in group)
    out: list[str] = []
    named: set[str] = set()
    for case in group:
        n = in_group[case.path]
        if case.attempt is None or n < runs[case.path]:
            out.append(case.label)
        elif case.path not in named:
            named.add(case.path)
            out.append(f"{case.path} (all {n} runs)")
    return ", ".join(out)


def exit_cell(case: CaseResult) -> str:
    if case.outcome == "skipped":
        return "skipped"
    if case.outcome in UNFINISHED:
        return case.outcome
    if case.outcome == "survived":
        # the root was still running; the harness ended it, so its exit says nothing
        return "survived"
    ex = case.exit
    end = ex.get("signal") or (f"rc {ex.get('returncode')}" if ex.get("returncode") is not None else "?")
    return f"hung → {end}" if case.outcome == "hung" else end


def time_cell(case: CaseResult) -> str:
    """Trigger to the end: of every process, or of the root when orphans outlived it.

    For a stop profile, the grace accounting: "0.21 s of 10 s", "killed at 10 s".
    For a case the root survived, when the path's target ended."""
    if case.outcome == "survived":
        target = target_process(case)
        return f"{target.ended_after_s:.2f} s" if target is not None else "-"
    stop = case.stop
    if stop is not None and stop.grace_s is not None and case.outcome == "exited":
        if stop.final_kill:
            return f"killed at {stop.kill_at_s:.1f} s" if stop.kill_at_s is not None else "killed"
        if stop.cleanup_s is not None:
            return f"{stop.cleanup_s:.2f} s of {stop.grace_s:g} s"
    if case.duration_s is not None:
        return f"{case.duration_s:.2f} s"
    if case.outcome == "hung":
        return "killed"
    if case.root_exit_s is not None:
        return f"{case.root_exit_s:.2f} s"
    return "-"


def target_process(case: CaseResult) -> ProcessRecord | None:
    """The process the path signalled (by role), once it ended; None when unknown."""
    to = case.trigger.get("to")
    for p in case.processes:
        if p.role == to and p.started_after_s is None and p.ended_after_s is not None:
            return p
    return None


def orphans_cell(case: CaseResult) -> str:
    """The orphans, then the strays: processes that may be this case's or another's."""
    parts = []
    for o in case.orphans:
        ports = ",".join(f":{p}" for p in o.listening)
        text = f"{o.role} {o.pid}" + (f" {ports}" if ports else "")
        parts.append(text + (" (killed)" if o.killed_by_harness else ""))
    for s in case.strays:
        parts.append(f"stray {s.pid}?" + (" (killed)" if s.killed_by_harness else ""))
    return "; ".join(parts) or "-"


def failure_lines(cases: list[CaseResult]) -> list[str]:
    lines = []
    for case in cases:
        if case.outcome in UNFINISHED and not case.expect.failures:
            lines.append(f"{case.label}: {case.outcome}: {case.error}")
        for failure in case.expect.failures:
            lines.append(f"{case.label}: {failure}")
    return lines


# ---------------------------------------------------------------- claims

CLAIM_MARKS = {"confirmed": RAN, "refuted": NOT_RAN, "untested": "–"}


@dataclass
class ClaimRow:
    """A scenario's claim about one path, over every run of that path."""

    path: str
    claim: str
    verdict: str  # refuted if any run refuted it; confirmed if every tested run did
    runs: int
    refuted: int
    untested: int
    # what the first refuting run saw (its failed checks, then what held), else the
    # first confirming run's evidence; or why it could not be tested
    failures: list[str]
    evidence: list[str]

    @property
    def mark(self) -> str:
        return CLAIM_MARKS[self.verdict]

    @property
    def tally(self) -> str:
        """``confirmed``, ``refuted in 1 of 3 runs``, ``confirmed in 3 runs``..."""
        if self.runs == 1:
            return self.verdict
        tested = self.runs - self.untested
        if self.verdict == "refuted":
            text = f"refuted in {self.refuted} of {tested} runs"
        elif self.verdict == "confirmed":
            text = f"confirmed in {tested} runs"
        else:
            return f"untested in {self.runs} runs"
        return text + (f" ({self.untested} untested)" if self.untested else "")


def claims(cases: list[CaseResult]) -> list[ClaimRow]:
    """Each claim the cases carry, once per path (repeated runs are tallied)."""
    groups: dict[tuple[str, str], list[CaseResult]] = {}
    for case in cases:
        if case.expect.claim:
            groups.setdefault((case.path, case.expect.claim), []).append(case)
    out = []
    for (path, claim), group in groups.items():
        verdicts = [c.expect.verdict or "untested" for c in group]
        refuted = verdicts.count("refuted")
        untested = verdicts.count("untested")
        if refuted:
            verdict = "refuted"
        elif untested == len(group):
            verdict = "untested"
        else:
            verdict = "confirmed"
        shown = next(c for c, v in zip(group, verdicts) if v == verdict)
        out.append(ClaimRow(path, claim, verdict, len(group), refuted, untested,
                            list(shown.expect.failures), list(shown.expect.evidence)))
    return out


def claim_line(row: ClaimRow) -> str:
    """``✓ sigkill: atexit does not run on SIGKILL — confirmed``"""
    return f"{row.mark} {row.path}: {row.claim} — {row.tally}"


# ---------------------------------------------------------------- rows


@dataclass
class Row:
    """One line of a matrix: a case, or every run of a repeated path (``--repeat``)."""

    label: str
    failed: bool
    hooks: list[str]  # one cell per hook name
    traffic: list[str]  # drained, new requests, port (empty without traffic columns)
    exit: str
    time: str
    orphans: str


def _orphans_shape(case: CaseResult) -> str:
    """The orphans cell without pids and ports, which differ from run to run."""
    parts = [o.role + (" (killed)" if o.killed_by_harness else "") for o in case.orphans]
    parts += ["stray?" + (" (killed)" if s.killed_by_harness else "") for s in case.strays]
    return "; ".join(parts) or "-"


_SECONDS = re.compile(r"^(\d+\.\d+) s$")


def _combined(values: list[str]) -> str:
    """One cell for several runs: the value they share, a range of times, or each
    value with how many runs had it."""
    counts = Counter(values)
    if len(counts) == 1:
        return values[0]
    times = [_SECONDS.match(v) for v in values]
    if all(times):
        secs = sorted(float(m.group(1)) for m in times if m)
        return f"{secs[0]:.2f}–{secs[-1]:.2f} s"
    return " · ".join(f"{v} ×{n}" for v, n in counts.most_common())


def rows(cases: list[CaseResult], hooks: list[str], traffic: bool) -> list[Row]:
    """The matrix's rows, in case order; the runs of a repeated path share one row
    (``sigterm ×20``) whose cells say where the runs differed."""

    def row(case: CaseResult, orphans: str) -> Row:
        return Row(case.label, case.failed, [hook_cell(case, h) for h in hooks],
                   [drained_cell(case), new_requests_cell(case), port_cell(case)] if traffic else [],
                   exit_cell(case), time_cell(case), orphans)

    order: list[CaseResult | str] = []  # a case, or the name of a repeated path
    runs: dict[str, list[CaseResult]] = {}
    for case in cases:
        if case.attempt is None:
            order.append(case)
            continue
        if case.path not in runs:
            runs[case.path] = []
            order.append(case.path)
        runs[case.path].append(case)
    out: list[Row] = []
    for item in order:
        if isinstance(item, CaseResult):
            out.append(row(item, orphans_cell(item)))
            continue
        each = [row(c, _orphans_shape(c)) for c in runs[item]]
        out.append(Row(f"{item} ×{len(each)}", any(r.failed for r in each),
                       [_combined([r.hooks[i] for r in each]) for i in range(len(hooks))],
                       [_combined([r.traffic[i] for r in each]) for i in range(len(each[0].traffic))],
                       _combined([r.exit for r in each]), _combined([r.time for r in each]),
                       _combined([r.orphans for r in each])))
    return out


def repeat_lines(cases: list[CaseResult]) -> list[str]:
    """For a repeated path (``--repeat``): whether its runs agreed, and how they split.

    Runs agree when their hook cells, outcome, exit, the known order of the declared
    hooks and the order the probe saw atexit hooks start are the same; timing and pids
    always differ and are left out.
    """
    runs: dict[str, list[CaseResult]] = {}
    for case in cases:
        if case.attempt is not None:
            runs.setdefault(case.path, []).append(case)
    hooks = hook_names(cases)
    lines = []
    for path, group in runs.items():
        kinds: dict[tuple[str, ...], list[int]] = {}
        for case in group:
            row = (case.outcome, exit_cell(case), *(f"{h} {hook_cell(case, h)}" for h in hooks))
            # what is known of the order: runs that saw opposite orders differ
            row += (f"order {order_text(case.order)}" if order_text(case.order) else "no order",)
            # the probe's atexit order (one exact clock): runs that called them in
            # other orders differ too
            row += ("atexit order " + " → ".join(case.probe_order) if case.probe_order else "no atexit order",)
            kinds.setdefault(row, []).append(case.attempt or 0)
        if len(kinds) == 1:
            # they agree on what was seen; where no clock saw an order, not on that
            partial = any(case.order is not None and case.order.unknown for case in group)
            lines.append(f"{path}: the {len(group)} runs agree" + (" (the order of some hooks is unknown in each)"
                                                                   if partial else ""))
            continue
        # what differs between the kinds of run, not what they share
        differing = [i for i in range(len(next(iter(kinds)))) if len({row[i] for row in kinds}) > 1]
        parts = [f"{len(attempts)}× {', '.join(row[i] for i in differing)} (#{', #'.join(map(str, attempts))})"
                 for row, attempts in sorted(kinds.items(), key=lambda kv: -len(kv[1]))]
        lines.append(f"{path}: the {len(group)} runs differ: " + "; ".join(parts))
    return lines


def summary_line(cases: list[CaseResult]) -> str:
    counts: dict[str, int] = {}
    for case in cases:
        counts[case.outcome] = counts.get(case.outcome, 0) + 1
    outcomes = ", ".join(f"{n} {o}" for o, n in counts.items())
    declared = [c for c in cases if c.expect.declared and c.outcome != "skipped"]
    held = sum(1 for c in declared if c.expect.passed)
    text = f"{len(cases)} {'case' if len(cases) == 1 else 'cases'}: {outcomes}"
    if declared:
        text += f"; expectations held in {held} of {len(declared)}"
    return text


def _names(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _who(p: ProcessRecord, multi: bool) -> str:
    label = {"root": "the parent"}.get(p.role, f"the {p.role}") if multi else "the process"
    ids = [p.kind] if p.kind else []
    ids.append(f"pid {p.pid}" + (f", PID {p.ns_pid} inside" if p.ns_pid is not None else ""))
    if p.started_after_s is not None:
        ids.append(f"started {p.started_after_s:.2f} s after the trigger")
    return f"{label} ({', '.join(ids)})"


def _ending(p: ProcessRecord, case: CaseResult) -> str:
    if case.outcome == "survived" and (p.role == "root" or p.killed_by_harness):
        # how the harness's own cleanup ended it says nothing about the path
        return "was still running when the harness ended the case"
    if p.killed_by_stop:
        return "was killed by SIGKILL when the grace ran out"
    if p.killed_by_harness:
        return "outlived the stop timeout (the harness killed it)"
    if p.signal:
        return f"died by {p.signal}"
    if p.returncode is not None:
        return f"exited with status {p.returncode}"
    return "ended (how is unknown" + (f": {p.exit_note})" if p.exit_note else ")")


def _stop_phrase(case: CaseResult) -> str:
    """A stop profile's sequence in words: what was sent to whom, what PID 1 made of
    it, whether the grace ran out."""
    stop = case.stop
    assert stop is not None
    parts = []
    pre = stop.pre_stop
    if pre:
        what = pre.get("http") or " ".join(pre.get("command", []))
        how = pre.get("error") or (f"HTTP {pre['status']}" if "status" in pre else f"rc {pre.get('returncode')}")
        parts.append(f"preStop {what} ({how}, {pre.get('duration_s', 0):.2f} s)")
    to = stop.to
    if stop.init:
        to += f", {stop.init}"
    sent = f"{stop.signal} to {to}"
    if stop.pid1_handles_signal is False and stop.init is None:
        sent += f", which has no {stop.signal} handler (nor blocks it), so the kernel dropped it"
    parts.append(sent)
    second = stop.second_signal
    if second:
        if second.get("at_s") is not None:
            parts.append(f"{stop.signal} again at {second['at_s']:.3f} s ({second.get('why')})")
        else:
            parts.append(f"no second {stop.signal} ({second.get('why')})")
    if stop.final_kill:
        hit = ", ".join(f"{k['role']} {k['pid']}" for k in stop.killed) or "nothing left"
        parts.append(f"the {stop.grace_s:g} s grace ran out: SIGKILL ({hit})")
    elif stop.cleanup_s is not None and stop.grace_s is not None:
        parts.append(f"done in {stop.cleanup_s:.2f} s of the {stop.grace_s:g} s grace")
    if stop.left_running:
        left = ", ".join(f"{k['role']} {k['pid']}" for k in stop.left_running)
        parts.append(f"{stop.stopper} considered it stopped with {left} still running")
    return f"{stop.stopper}: " + ", then ".join(parts)


def injection_caught(case: CaseResult, frames: int = 6) -> str:
    """For an injected exception the app caught (it never reached ``sys.excepthook``):
    that, and where the main thread was when it was raised, innermost frame first."""
    for injected in case.probe.get("injected", []):
        if injected.get("caught"):
            stack = [os.path.basename(frame) for frame in injected.get("stack", [])[:frames]]
            where = f" (raised in {' ← '.join(stack)})" if stack else ""
            return f"which the app caught{where}"
    return ""


def _trigger_phrase(case: CaseResult) -> str:
    if case.stop is not None:
        return _stop_phrase(case)
    t = case.trigger
    to = "parent" if t.get("to") == "root" else t.get("to")
    if t.get("inject"):
        caught = injection_caught(case)
        return f"the probe's injected {t['inject']} in the {to}" + (f", {caught}" if caught else "")
    if to == "process group":
        return f"{t.get('signal')} to the whole process group"
    if t.get("signal"):
        return f"{t['signal']} to the {to}"
    if t.get("trigger"):
        how = f" ({t.get('method', 'GET')} {t['http']})" if t.get("http") else ""
        return f"the {t['trigger']} trigger{how}"
    return ""


def explain(case: CaseResult) -> str:
    """One sentence: what the path did, and what each process ran before it ended."""
    if case.outcome in NOT_OBSERVED:
        error = case.error or ""
        return error if error.startswith(case.outcome) else f"{case.outcome}: {error}"
    procs = app_processes(case)
    multi = len(procs) > 1
    clauses = []
    for p in procs:
        ran = [n for n, h in case.hooks.items() if p.pid in h.pids]
        cut = [n for n, h in case.hooks.items() if p.pid in h.interrupted_pids]
        registered = [n for n, h in case.hooks.items() if p.pid in h.registered_pids]
        raised = [f"{n} raised {e.split(': ', 1)[-1]}" for n, h in case.hooks.items()
                  for e in h.errors if e.startswith(f"pid {p.pid}:")]
        parts = []
        if ran:
            parts.append(f"ran {_names(ran)}" + (f" ({_names(raised)})" if raised else ""))
        if cut:
            parts.append(f"was inside {_names(cut)} when it died")
        missed = [n for n in registered if n not in ran and n not in cut]
        if missed:
            parts.append(f"never ran {_names(missed)}" if ran or cut else
                         f"ran none of its {len(missed)} atexit hook{'s' if len(missed) > 1 else ''}")
        parts.append(_ending(p, case))
        joined = ", ".join(parts[:-1]) + (", then " if len(parts) > 1 else "") + parts[-1]
        clauses.append(f"{_who(p, multi)} {joined}")
    known = {p.pid for p in procs}
    unattributed = [n for n, h in case.hooks.items() if h.ran and not set(h.pids) & known]
    if unattributed:
        clauses.append(f"{_names(unattributed)} ran" + (" (which process is not known)" if multi else ""))
    if not clauses:
        clauses.append("no hook ran")
    trigger = _trigger_phrase(case)
    text = "; ".join(clauses)
    return (f"{trigger}: {text}" if trigger else text) + "."


# ---------------------------------------------------------------- traffic

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


def port_cell(case: CaseResult) -> str:
    """When the port stopped serving new requests (and was released, if much later)."""
    t = _traffic(case)
    if t is None:
        return "-"
    if t.stopped_accepting_s is not None:
        text = f"stopped {t.stopped_accepting_s:.2f} s"
        if t.released_s is not None and abs(t.released_s - t.stopped_accepting_s) > 0.05:
            text += f"; released {t.released_s:.2f} s"
        return text
    if _served_new(t):
        return "kept serving"
    return "-"


def traffic_legend(cases: list[CaseResult]) -> str | None:
    """What the traffic columns' words mean, when the table has them."""
    if not has_traffic(cases):
        return None
    return ("drained = every request in flight when the path fired got a whole response below 500; "
            "dropped = connected, then cut without a whole response; "
            "refused = connection refused (nothing listening)")


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
    if port:
        lines.append("port: " + "; ".join(port))
    lines += [f"note: {n}" for n in t.notes]
    return lines


def started_after_lines(case: CaseResult) -> list[str]:
    """Processes started after the path fired (a master respawning a worker)."""
    return [f"respawned: {p.role} pid {p.pid} started {p.started_after_s:.2f} s after the trigger"
            for p in case.processes if p.started_after_s is not None]
