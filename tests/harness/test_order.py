"""The declared hooks' order states only what one clock saw (issue 18, item 16).

A log line is placed by its position in its pipe (exact, however late the pipe is
read); a sentinel by its modification time (coarse: it lags by up to a clock tick).
An app that prints a line, writes a sentinel, then prints another line used to get
"finally → atexit → flushed" and orders that flipped between identical runs, while the
repeat line said the runs agreed. The expected order below comes from the target's
source (tests/targets/print_file_print.py), never from the output under test.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.support import target_toml, write_scenario
from shutdown_probe import expand_cases, load_scenario, run_case
from shutdown_probe.evidence import FileHookDetector, LogHookDetector, observed_order
from shutdown_probe.expect import evaluate
from shutdown_probe.output import Line
from shutdown_probe.render import format_markdown, format_terminal
from shutdown_probe.render.order import order_text
from shutdown_probe.render.repeats import RepeatLine, repeat_lines
from shutdown_probe.results import CaseResult, HookOrder, HookResult, OrderPair, Results, UnknownOrder
from shutdown_probe.scenario import Expectation, HookSpec, compile_regex

# print_file_print.py's handler prints "flushed", its finally writes the sentinel, its
# atexit callable prints "atexit ran": in that order, by the program's own control flow
SOURCE_ORDER = ["flushed", "finally", "atexit"]
RUNS = 5


def stated_pairs(text: str) -> set[tuple[str, str]]:
    """Every "a → b" the report states (chains read pairwise; {x, y} is a layer)."""
    pairs = set()
    for chain in re.findall(r"(?:[\w{}, ]+ → )+[\w{}, ]+", text):
        layers = [re.findall(r"\w+", part) for part in chain.split(" → ")]
        for i, lo in enumerate(layers):
            for hi in layers[i + 1:]:
                pairs |= {(a, b) for a in lo for b in hi}
    return pairs


@pytest.fixture(scope="module")
def print_file_print(tmp_path_factory) -> list[CaseResult]:
    tmp_path = tmp_path_factory.mktemp("order")
    path = write_scenario(tmp_path, target_toml(
        "print_file_print.py", "{workdir}/finally", name="order", paths=["sigterm"], ready_timeout=20,
        stop_timeout=10, app_extra="probe = false", hooks={
            "flushed": r"log = '\] flushed$'",
            "finally": 'file = "{workdir}/finally"',
            "atexit": r"log = '\] atexit ran$'",
        }))
    results = [run_case(case) for case in expand_cases([load_scenario(path)], repeat=RUNS)]
    for result in results:
        assert result.outcome == "exited", (result.outcome, result.error, result.output_tail)
        assert all(h.ran for h in result.hooks.values()), result.hooks
    return results


def test_the_report_never_states_an_order_the_program_did_not_follow(print_file_print):
    text = format_terminal(Results(cases=print_file_print), width=400)
    order_lines = [line for line in text.splitlines() if line.startswith("order in ")]
    assert order_lines, text
    for line in order_lines:
        stated = stated_pairs(line.split(": ", 1)[1].split("; unknown:")[0])
        assert stated, line
        for a, b in stated:
            assert SOURCE_ORDER.index(a) < SOURCE_ORDER.index(b), f"{line!r} states {a} before {b}"
        # no clock saw the sentinel against the lines: the report must not place it
        assert not any("finally" in pair for pair in stated), line


def test_the_order_is_known_where_one_clock_saw_it_and_unknown_elsewhere(print_file_print):
    for result in print_file_print:
        order = result.order
        assert order.known == [OrderPair("flushed", "atexit", "stdout")]
        assert sorted(sorted(u.hooks) for u in order.unknown) == [["atexit", "finally"], ["finally", "flushed"]]
        assert {u.why for u in order.unknown} == {
            "different clocks: a sentinel's last-write time and a line's place in stdout"}
        # the listing keeps the known pair; the rest is declaration order
        assert order.hooks == result.hook_order == ["flushed", "finally", "atexit"]


def test_every_run_reads_the_same_and_the_repeat_line_says_what_agrees(print_file_print):
    text = " ".join(format_terminal(Results(cases=print_file_print), width=400).split())
    assert (f"order in sigterm (all {RUNS} runs): flushed → atexit (stdout); unknown: finally vs flushed and atexit "
            "(different clocks: a sentinel's last-write time and a line's place in stdout)") in text
    # one process, so its end is compared; the pairs no clock saw are said not compared
    assert (f"sigterm: the {RUNS} runs agree on the outcome, each process's end and hooks (by role), the hooks "
            "and the hook order; not compared (not known in every run): the order of some hooks") in text
    assert "- order: flushed → atexit (stdout); unknown: finally vs" in format_markdown(
        Results(cases=print_file_print[:1]))


def test_an_order_expectation_holds_only_on_what_was_seen(print_file_print):
    result = print_file_print[0]
    seen = evaluate(Expectation(order=("flushed", "atexit")), result)
    assert seen.passed and seen.evidence == ["the hooks' evidence appeared in the order flushed → atexit (stdout)"]
    guess = evaluate(Expectation(order=("flushed", "finally", "atexit")), result)
    assert guess.failures == [
        "expected flushed → finally → atexit in this order; which of flushed and finally came first is unknown "
        "(different clocks: a sentinel's last-write time and a line's place in stdout)"]
    wrong = evaluate(Expectation(order=("atexit", "flushed")), result)
    assert wrong.failures == ["expected atexit → flushed in this order, flushed came before atexit (stdout)"]


# ---------------------------------------------------------------- the rules, clock by clock

def log_detector(name: str, pattern: str) -> LogHookDetector:
    det = LogHookDetector(HookSpec(name=name, log=compile_regex(pattern)))
    det.arm(0.0, {"stdout": 0, "stderr": 0})
    return det


def feed(dets: list[LogHookDetector], lines: list[tuple[str, str]]) -> None:
    """Lines in the order a reader might hand them out; each stream's offsets grow."""
    offsets = {"stdout": 0, "stderr": 0}
    numbers = {"stdout": 0, "stderr": 0}
    for stream, text in lines:
        offsets[stream] += len(text) + 1
        numbers[stream] += 1
        for det in dets:
            det(Line(stream, numbers[stream], text, 0.0, offsets[stream]))


def test_lines_of_one_stream_are_ordered_by_place_and_streams_are_not_compared():
    a, b, c = log_detector("a", "^a$"), log_detector("b", "^b$"), log_detector("c", "^c$")
    # read stderr first: the read order is not the write order
    feed([a, b, c], [("stderr", "c"), ("stdout", "a"), ("stdout", "b")])
    order = observed_order({"a": a, "b": b, "c": c})
    assert order.known == [OrderPair("a", "b", "stdout")]
    assert order.unknown == [UnknownOrder(["a", "c"], "different clocks: a line's place in stderr and a line's "
                                                      "place in stdout"),
                             UnknownOrder(["b", "c"], "different clocks: a line's place in stderr and a line's "
                                                      "place in stdout")]


def test_two_hooks_first_seen_on_one_line_are_not_ordered():
    a, b = log_detector("a", "bye"), log_detector("b", "bye now")
    feed([a, b], [("stdout", "bye now")])
    assert observed_order({"a": a, "b": b}).unknown == [UnknownOrder(["a", "b"], "the same line (stdout line 1)")]


def test_a_hook_seen_in_both_streams_is_before_another_only_if_one_of_its_lines_precedes_all_the_other_s():
    x, y, z = log_detector("x", "^x"), log_detector("y", "^y$"), log_detector("z", "^z$")
    feed([x, y, z], [("stderr", "z"), ("stderr", "x2"), ("stdout", "x1"), ("stdout", "y")])
    order = observed_order({"x": x, "y": y, "z": z})
    assert order.known == [OrderPair("x", "y", "stdout")]  # x's stdout line precedes y's only line
    # z precedes x's stderr line, but x's stdout line is on another clock
    assert [u.hooks for u in order.unknown] == [["x", "z"], ["y", "z"]]


def file_detector(tmp_path: Path, name: str, mtime_ns: int) -> FileHookDetector:
    path = tmp_path / name
    det = FileHookDetector(HookSpec(name=name, file=str(path)), str(path))
    det.arm(0.0)
    path.write_text("done\n")
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return det


def test_sentinels_are_ordered_by_different_modification_times_and_not_by_equal_ones(tmp_path):
    base = 1_700_000_000 * 10**9
    early, late, same = (file_detector(tmp_path, n, t) for n, t in (("early", base), ("late", base + 4_000_000),
                                                                    ("same", base)))
    order = observed_order({"late": late, "early": early, "same": same})
    assert order.known == [OrderPair("early", "late", "last-write times"),
                           OrderPair("same", "late", "last-write times")]
    assert order.unknown == [UnknownOrder(["early", "same"], "the same last-write time")]
    assert order.hooks == ["early", "same", "late"]
    assert order_text(order) == ("{early, same} → late (last-write times); "
                                 "unknown: early vs same (the same last-write time)")


def test_a_sentinel_written_again_is_ordered_by_its_last_write_and_the_clock_says_so(tmp_path):
    """A created first, then B, then A written again: modification times place A after
    B. That is true of the last writes only, and the order's clock must say so (a
    reader would take "file times" for the files' first appearance)."""
    first = tmp_path / "first"
    a = FileHookDetector(HookSpec(name="a", file=str(first)), str(first))
    second = tmp_path / "second"
    b = FileHookDetector(HookSpec(name="b", file=str(second)), str(second))
    a.arm(0.0)
    b.arm(0.0)
    base = 1_700_000_000 * 10**9
    first.write_text("created\n")
    os.utime(first, ns=(base, base))
    second.write_text("done\n")
    os.utime(second, ns=(base + 10**9, base + 10**9))
    with open(first, "a") as f:  # written again, later: its modification time moves on
        f.write("again\n")
    os.utime(first, ns=(base + 2 * 10**9, base + 2 * 10**9))
    order = observed_order({"a": a, "b": b})
    assert order.known == [OrderPair("b", "a", "last-write times")]


# ---------------------------------------------------------------- reports of repeated runs

def run_with(attempt: int, order: HookOrder | None) -> CaseResult:
    return CaseResult(scenario="s", path="sigterm", outcome="exited", attempt=attempt,
                      exit={"returncode": 0, "signal": None},
                      hooks={"a": HookResult(True, "x"), "b": HookResult(True, "y")}, order=order)


def test_runs_that_saw_opposite_orders_differ():
    ab = HookOrder(["a", "b"], [OrderPair("a", "b", "stdout")], [])
    ba = HookOrder(["b", "a"], [OrderPair("b", "a", "stdout")], [])
    cases = [run_with(1, ab), run_with(2, ba), run_with(3, ab)]
    assert repeat_lines(cases) == [
        RepeatLine("differ", "sigterm: the 3 runs differ in hook order: a → b (#1, #3) / b → a (#2)")]


def test_results_without_a_recorded_order_state_none():
    """Results written before the order was recorded: their hook_order may mix clocks."""
    case = run_with(1, None)
    case.attempt, case.hook_order = None, ["b", "a"]
    assert "order in" not in format_terminal(Results(cases=[case]))


def test_runs_whose_atexit_hooks_started_in_opposite_orders_differ():
    """probe_order is the probe's own clock (CLOCK_MONOTONIC): two runs that called
    the app's atexit callables in opposite orders did not agree."""
    def run(attempt: int, probe_order: list[str]) -> CaseResult:
        case = run_with(attempt, None)
        case.hooks = {n: HookResult(True, "probe: ran", source="probe") for n in probe_order}
        case.probe_order = probe_order
        return case

    cases = [run(1, ["atexit:a", "atexit:b"]), run(2, ["atexit:b", "atexit:a"])]
    assert repeat_lines(cases) == [RepeatLine("differ", "sigterm: the 2 runs differ in atexit order: "
                                              "atexit:a → atexit:b (#1) / atexit:b → atexit:a (#2)")]
    same = [run(1, ["atexit:a", "atexit:b"]), run(2, ["atexit:a", "atexit:b"])]
    assert repeat_lines(same) == [RepeatLine("agree", "sigterm: the 2 runs agree on the outcome, the hooks, "
                                             "the hook order and the atexit order")]
