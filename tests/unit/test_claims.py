"""Claims: a sentence per expectation, shown confirmed, refuted or untested with the
observations behind it, in every report and in the results JSON."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from shutdown_probe.expect import evaluate
from shutdown_probe.render import format_case_failure, format_html, format_markdown, format_terminal, row_properties
from shutdown_probe.render.claims import claims
from shutdown_probe.render.markdown import claim_lines
from shutdown_probe.results import (CaseResult, HookOrder, HookResult, OrderPair, Orphan, ProcessRecord, Results,
                                    UnknownOrder)
from shutdown_probe.scenario import Expectation

CLAIM = "atexit does not run when the parent is killed, and the child is left serving"
EXPECT = Expectation(not_ran=("atexit",), exit="SIGKILL", orphans=True, claim=CLAIM)


def killed(attempt: int | None = None, *, atexit_ran: bool = False) -> CaseResult:
    """The parent killed by SIGKILL, its serving child left behind on :5000."""
    hook = (HookResult(True, "stdout line 4: bye", pids=[10], roles=["root"], at_s=0.2) if atexit_ran
            else HookResult(False, "no output line matched 'bye'"))
    return CaseResult(
        scenario="demo", path="sigkill", outcome="exited", attempt=attempt,
        exit={"returncode": None, "signal": "SIGKILL"}, root_exit_s=0.01,
        hooks={"atexit": hook},
        processes=[ProcessRecord(10, "root", "python app.py", signal="SIGKILL", exit_known=True, ended_after_s=0.01),
                   ProcessRecord(11, "child", "python app.py", signal="SIGKILL", exit_known=True,
                                 killed_by_harness=True)],
        orphans=[Orphan(11, "python app.py", "child", [5000], True)],
    )


def evaluated(case: CaseResult, expectation: Expectation = EXPECT) -> CaseResult:
    case.expect = evaluate(expectation, case)
    return case


def test_a_claim_whose_checks_hold_is_confirmed_with_one_line_of_evidence_per_check():
    got = evaluate(EXPECT, killed())
    assert (got.passed, got.claim, got.verdict, got.failures) == (True, CLAIM, "confirmed", [])
    assert got.evidence == [
        "hook 'atexit' did not run: no output line matched 'bye'",
        "the root was ended by SIGKILL",
        "left running after the root ended: child pid 11 (listening :5000)",
    ]


def test_a_claim_with_a_failed_check_is_refuted_and_keeps_what_held():
    got = evaluate(EXPECT, killed(atexit_ran=True))
    assert (got.passed, got.verdict) == (False, "refuted")
    assert got.failures == ["expected hook 'atexit' not to run, it ran (stdout line 4: bye)"]
    assert got.evidence == ["the root was ended by SIGKILL",
                            "left running after the root ended: child pid 11 (listening :5000)"]


def test_a_claim_is_untested_when_the_case_was_skipped_or_did_not_run_to_the_end():
    skipped = CaseResult(scenario="demo", path="sigkill", outcome="skipped", error="no child to signal")
    got = evaluate(EXPECT, skipped)
    assert (got.passed, got.verdict, got.evidence) == (True, "untested", ["skipped: no child to signal"])
    broken = CaseResult(scenario="demo", path="sigkill", outcome="not-ready", error="never ready")
    got = evaluate(EXPECT, broken)
    assert (got.passed, got.verdict) == (False, "untested")


def test_without_a_claim_there_is_no_verdict_but_evidence_is_still_kept():
    got = evaluate(Expectation(exit="SIGKILL"), killed())
    assert (got.claim, got.verdict, got.evidence) == (None, None, ["the root was ended by SIGKILL"])


def test_grace_kill_and_ran_in_evidence():
    case = killed()
    case.hooks["atexit"] = HookResult(True, "probe: ran", pids=[10, 11], roles=["root", "child"],
                                      kinds=["reloader-parent", "reloader-child"])
    got = evaluate(Expectation(ran_in={"atexit": ("root", "child")}, ran=("atexit",)), case)
    assert got.evidence == ["hook 'atexit' ran in root+child (reloader-parent+reloader-child): probe: ran",
                            "hook 'atexit' ran in root+child (reloader-parent+reloader-child) and in no other process"]


def test_repeated_runs_are_tallied_and_a_single_refutation_refutes():
    runs = [evaluated(killed(1)), evaluated(killed(2, atexit_ran=True)), evaluated(killed(3))]
    [row] = claims(runs)
    assert (row.verdict, row.tally, row.runs, row.refuted) == ("refuted", "refuted in 1 of 3 runs", 3, 1)
    assert row.failures == ["expected hook 'atexit' not to run, it ran (stdout line 4: bye)"]
    [row] = claims([evaluated(killed(1)), evaluated(killed(2))])
    assert (row.verdict, row.tally) == ("confirmed", "confirmed in 2 runs")


def results(*cases: CaseResult) -> Results:
    return Results(cases=list(cases), scenarios={"demo": "A demo"}, tool="shutdown-probe 0.1.0",
                   environment={"python": "3.11.7", "platform": "Linux"})


def test_markdown_lists_each_claim_with_its_verdict_and_evidence_exactly():
    assert claim_lines([evaluated(killed())]) == [
        "Claims:",
        "",
        "- ✓ `sigkill`: atexit does not run when the parent is killed, and the child is left serving — **confirmed**",
        "  - hook 'atexit' did not run: no output line matched 'bye'",
        "  - the root was ended by SIGKILL",
        "  - left running after the root ended: child pid 11 (listening :5000)",
        "",
    ]
    text = format_markdown(results(evaluated(killed(atexit_ran=True))))
    assert ("- ✗ `sigkill`: atexit does not run when the parent is killed, and the child is left serving"
            " — **refuted**\n  - ✗ expected hook 'atexit' not to run, it ran (stdout line 4: bye)\n") in text
    assert "- claim: atexit does not run when the parent is killed, and the child is left serving — **refuted**" in text


def test_a_hostile_claim_cannot_break_the_markdown():
    case = evaluated(killed(), Expectation(exit="SIGKILL", claim="a | b <script>alert(1)</script> `x` # y"))
    [head, *_] = [line for line in claim_lines([case]) if line.startswith("- ")]
    assert head == "- ✓ `sigkill`: a \\| b \\<script\\>alert(1)\\</script\\> \\`x\\` # y — **confirmed**"


def test_terminal_html_and_the_failure_text_show_the_claim():
    res = results(evaluated(killed(atexit_ran=True)))
    assert f"claim ✗ sigkill: {CLAIM} — refuted" in " ".join(format_terminal(res, width=300).split())
    page = format_html(res)
    root = ET.fromstring(page.split("\n", 1)[1])  # without the doctype
    [cell] = [td for td in root.iter("td") if "verdict" in (td.get("class") or "")]
    assert cell.get("class") == "verdict refuted" and cell.text == "✗ refuted"
    assert f"claim refuted: {CLAIM}" in format_case_failure(res.cases[0])
    assert ("shutdown_probe.claim.verdict", "refuted") in row_properties(res.cases[0])


def test_the_claim_survives_the_json_round_trip():
    res = results(evaluated(killed()))
    back = Results.from_dict(json.loads(res.to_json()))
    assert back.cases[0].expect == res.cases[0].expect
    assert back.cases[0].expect.verdict == "confirmed"


def test_order_holds_only_when_every_hook_started_in_that_order():
    case = killed()
    case.hooks = {f"atexit:s{n}": HookResult(True, "probe: ran", source="probe") for n in (1, 2, 3)}
    case.probe_order = ["atexit:s3", "atexit:s2", "atexit:s1"]
    lifo = Expectation(order=("atexit:s3", "atexit:s2", "atexit:s1"))
    assert evaluate(lifo, case).evidence == ["the hooks started in the order atexit:s3 → atexit:s2 → atexit:s1"]
    fifo = Expectation(order=("atexit:s1", "atexit:s2", "atexit:s3"))
    assert evaluate(fifo, case).failures == [
        "expected atexit:s1 → atexit:s2 → atexit:s3 in this order, they started atexit:s3 → atexit:s2 → atexit:s1"]
    case.probe_order = ["atexit:s3", "atexit:s1"]
    assert evaluate(lifo, case).failures == [
        "expected atexit:s3 → atexit:s2 → atexit:s1 in this order, but atexit:s2 did not run"]
    # declared hooks: the order one clock saw their evidence appear in
    case.hooks = {"a": HookResult(True, "x", source="log"), "b": HookResult(True, "y", source="log")}
    case.order = HookOrder(["b", "a"], [OrderPair("b", "a", "stdout")], [])
    assert evaluate(Expectation(order=("b", "a")), case).passed
    assert not evaluate(Expectation(order=("a", "b")), case).passed
    # no clock saw the two: the order cannot be claimed either way
    case.order = HookOrder(["a", "b"], [], [UnknownOrder(["a", "b"], "different clocks")])
    assert evaluate(Expectation(order=("a", "b")), case).failures == [
        "expected a → b in this order; which of a and b came first is unknown (different clocks)"]
    assert not evaluate(Expectation(order=("b", "a")), case).passed


def test_ran_in_names_a_declared_hook_s_process_by_the_probe_s_framework_role():
    case = killed(atexit_ran=True)  # "atexit" here is a declared log hook, seen in pid 10
    case.probe = {"processes": [{"pid": 10, "kind": "reloader-parent"}, {"pid": 11, "kind": "reloader-child"}]}
    assert evaluate(Expectation(ran_in={"atexit": ("reloader-parent",)}), case).evidence == [
        "hook 'atexit' ran in root (reloader-parent) and in no other process"]
    assert evaluate(Expectation(ran_in={"atexit": ("reloader-child",)}), case).failures == [
        "expected hook 'atexit' to run in reloader-child, it ran in root (reloader-parent)"]
