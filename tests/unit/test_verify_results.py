"""[verify] checks in the results and in every report, from results built by hand (no
process runs here): the expectations on them, the matrix's columns (terminal, Markdown,
HTML), JUnit properties, compatibility tables, repeated runs, the JSON round trip, and
a check's hostile output kept inert everywhere."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from shutdown_probe.expect import evaluate
from shutdown_probe.render import format_compat, format_html, format_junit, format_markdown, format_terminal
from shutdown_probe.render.cells import VERIFY_WORDS, verify_cell
from shutdown_probe.render.failure import format_case_failure
from shutdown_probe.render.repeats import repeat_lines
from shutdown_probe.results import CaseResult, ExpectResult, Results, VerifyRecord
from shutdown_probe.scenario import Expectation

INTACT = VerifyRecord("intact", True, command="check integrity db", returncode=0, duration_s=0.03,
                      output="integrity_check: ok")
KEPT = VerifyRecord("rows", True, command="check rows db 20000", returncode=0, duration_s=0.02,
                    output="20000 of 20000 rows")
LOST = VerifyRecord("rows", False, command="check rows db 20000", returncode=1, duration_s=0.02,
                    output="opening db\n0 of 20000 rows")
TIMED_OUT = VerifyRecord("rows", False, command="check rows db 20000", signal="SIGKILL", duration_s=10.0,
                         error="still running after 10 s: killed, with every process it started (no answer)")


def case(path: str, *checks: VerifyRecord, attempt: int | None = None, outcome: str = "exited") -> CaseResult:
    return CaseResult(scenario="db", path=path, outcome=outcome,  # type: ignore[arg-type]
                      exit={"returncode": None, "signal": "SIGKILL"}, duration_s=0.01,
                      verify=list(checks), attempt=attempt, expect=ExpectResult(True, [], declared=True))


def sample() -> Results:
    return Results(cases=[case("sigint", INTACT, KEPT), case("sigkill", INTACT, LOST), case("sigterm", INTACT, TIMED_OUT),
                          CaseResult(scenario="db", path="sigquit", outcome="skipped", error="skipped: no")],
                   scenarios={"db": "batch"}, environment={"python": "3.11.7"})


def test_verified_holds_for_a_check_that_exited_0_and_not_verified_for_one_that_exited_otherwise():
    want = Expectation(verified=("intact",), not_verified=("rows",), claim="SIGKILL loses the batch")
    held = evaluate(want, case("sigkill", INTACT, LOST))
    assert held.passed and held.verdict == "confirmed"
    assert held.evidence == ["check 'intact' passed (exit 0); its last line: integrity_check: ok",
                             "check 'rows' failed (exit 1); its last line: 0 of 20000 rows"]
    refuted = evaluate(want, case("sigint", INTACT, KEPT))
    assert not refuted.passed and refuted.verdict == "refuted"
    assert refuted.failures == ["expected check 'rows' to fail, it passed (exit 0); its last line: 20000 of 20000 rows"]


def test_a_check_that_gave_no_answer_holds_for_neither_expectation():
    for want in (Expectation(verified=("rows",)), Expectation(not_verified=("rows",))):
        got = evaluate(want, case("sigterm", TIMED_OUT))
        assert not got.passed
        assert "it gave no answer: still running after 10 s" in got.failures[0]


def test_a_check_that_did_not_run_fails_both_expectations_and_a_skipped_case_tests_nothing():
    got = evaluate(Expectation(not_verified=("rows",)), case("sigkill"))
    assert got.failures == ["expected check 'rows' to fail, but it did not run"]
    skipped = CaseResult(scenario="db", path="sigquit", outcome="skipped", error="skipped: no")
    assert evaluate(Expectation(verified=("rows",)), skipped).passed


def test_a_cell_is_the_mark_and_the_checks_own_last_words():
    c = case("x", INTACT, LOST, TIMED_OUT)
    assert verify_cell(c, "intact") == "✓ integrity_check: ok"
    assert verify_cell(case("x", LOST), "rows") == "✗ 0 of 20000 rows"
    assert verify_cell(case("x", TIMED_OUT), "rows") == "? timed out"
    assert verify_cell(case("x"), "rows") == "-"  # not run
    silent = VerifyRecord("rows", False, returncode=3)
    assert verify_cell(case("x", silent), "rows") == "✗ exit 3"


def test_the_terminal_matrix_has_a_column_per_check():
    text = format_terminal(sample(), width=200)
    head = next(line for line in text.splitlines() if "path" in line)
    assert "verify:intact" in head and "verify:rows" in head
    lines = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
             for line in text.splitlines() if line.startswith("│")}
    assert lines["sigint"][:2] == ["✓ integrity_check: ok", "✓ 20000 of 20000 rows"]
    assert lines["sigkill"][:2] == ["✓ integrity_check: ok", "✗ 0 of 20000 rows"]
    assert lines["sigterm"][:2] == ["✓ integrity_check: ok", "? timed out"]
    assert lines["sigquit"][:2] == ["-", "-"]
    assert "verify:NAME = a check run after the case" in " ".join(text.split())


def test_markdown_has_the_columns_and_the_details_say_how_each_check_ended():
    text = format_markdown(sample())
    assert "| path | verify:intact | verify:rows | exit | time | orphans |" in text
    assert "| `sigkill` | ✓ integrity_check: ok | ✗ 0 of 20000 rows | SIGKILL |" in text
    assert "- check `rows` ✗ (exit 1, 0.02 s): 0 of 20000 rows" in text
    assert "- check `rows` ? (still running after 10 s" in text


def test_html_has_the_columns_and_a_table_of_checks_per_case():
    page = format_html(sample())
    assert "<th scope=\"col\">verify:rows</th>" in page
    assert '<td class="check not-ran">✗ 0 of 20000 rows</td>' in page
    assert '<td class="check ran">✓ 20000 of 20000 rows</td>' in page
    assert page.count("<h4>checks after the case</h4>") == 3


def test_junit_carries_each_checks_cell_as_a_property():
    root = ET.fromstring(format_junit(sample()))
    props = {tc.get("name"): {p.get("name"): p.get("value") for p in tc.iter("property")} for tc in root.iter("testcase")}
    assert props["sigkill"]["shutdown_probe.verify.rows"] == "✗ 0 of 20000 rows"
    assert props["sigkill"]["shutdown_probe.verify.intact"] == "✓ integrity_check: ok"
    assert "shutdown_probe.verify.rows" not in props["sigquit"]


def test_the_failure_text_shows_the_checks_and_their_output():
    text = format_case_failure(case("sigkill", LOST))
    assert "checks after the case:" in text
    assert "rows  ✗ 0 of 20000 rows  (exit 1): check rows db 20000" in text
    assert "| opening db" in text


def test_compat_cells_give_each_checks_answer_without_its_words():
    text = format_compat([sample()])
    row = next(line for line in text.splitlines() if line.startswith("| `sigkill`"))
    assert "verify:intact ✓" in row and "verify:rows ✗" in row
    assert "0 of 20000" not in text  # words may change between runs; the answer is what is compared


def test_repeated_runs_differ_when_a_check_answers_differently():
    runs = [case("sigterm", LOST, attempt=1), case("sigterm", KEPT, attempt=2), case("sigterm", LOST, attempt=3)]
    (line,) = repeat_lines(runs)
    assert line.kind == "differ"
    assert line.text == "sigterm: the 3 runs differ in check rows: failed (#1, #3) / passed (#2)"
    assert line.comparison is not None
    (diff,) = line.comparison.differences
    assert (diff.aspect, diff.name, [(v.text, v.runs) for v in diff.variants]) == (
        "check", "rows", [("failed", (1, 3)), ("passed", (2,))])
    # the same answer in other words (a row count) agrees; the agreement names the checks
    other_words = VerifyRecord("rows", False, returncode=1, output="5 of 20000 rows")
    (same,) = repeat_lines([case("sigterm", LOST, attempt=1), case("sigterm", other_words, attempt=2)])
    assert same.kind == "agree" and "the checks after the case" in same.text


def test_the_checks_survive_the_json_round_trip_and_an_older_file_has_none():
    results = sample()
    back = Results.from_dict(json.loads(results.to_json()))
    assert back.cases[1].verify == [INTACT, LOST]
    assert back.cases[2].verify[1].error == TIMED_OUT.error
    assert format_markdown(back) == format_markdown(results)
    old = json.loads(results.to_json())
    for c in old["cases"]:
        del c["verify"]  # a file written before [verify] existed
    assert all(c.verify == [] for c in Results.from_dict(old).cases)


def test_a_bad_verify_record_in_a_file_is_refused_with_its_key():
    data = json.loads(sample().to_json())
    data["cases"][0]["verify"][0]["passed"] = "yes"
    try:
        Results.from_dict(data, file="r.json")
    except ValueError as exc:
        assert "cases[0].verify[0].passed" in str(exc)
    else:
        raise AssertionError("a string for passed was accepted")


def test_a_checks_hostile_output_is_inert_in_every_report():
    evil = VerifyRecord("rows", False, returncode=1,
                        output="\x1b[2J\x1b]8;;http://x\x07<script>alert(1)</script> | `x` [link](y) " + "z" * 500)
    results = Results(cases=[case("sigkill", evil)], scenarios={"db": ""})
    cell = verify_cell(results.cases[0], "rows")
    assert len(cell) <= len("✗ ") + VERIFY_WORDS
    terminal = format_terminal(results, width=300)
    assert "\x1b" not in terminal and "\x07" not in terminal
    page = format_html(results)
    assert "<script>" not in page
    md = format_markdown(results)
    assert "<script>" not in md and "\x1b" not in md
    ET.fromstring(format_junit(results))  # well-formed XML
