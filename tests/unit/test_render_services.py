"""The scenario's services in the reports (issue 20's "what is left"): a services
column in the terminal, Markdown and HTML matrices, and a line per case in the
details saying which services ran, on which port, and how each ended; a failed
service is marked. Results built by hand; no process runs here."""

from __future__ import annotations

from shutdown_probe.render import format_markdown, format_terminal
from shutdown_probe.render.failure import format_case_failure
from shutdown_probe.render.html import format_html
from shutdown_probe.render.junit import format_junit
from shutdown_probe.render.services import service_cell, services_line
from shutdown_probe.results import CaseResult, Results, ServiceRecord


def redis(**kw) -> ServiceRecord:
    base = dict(name="redis", scope="run", state="running", command="redis-server --port 6390", port=6390,
                pid=400, ready_s=0.012)
    return ServiceRecord(**{**base, **kw})


def case(path: str, services: list[ServiceRecord], outcome: str = "exited", attempt: int | None = None,
         error: str | None = None) -> CaseResult:
    return CaseResult(scenario="svc", path=path, outcome=outcome, exit={"returncode": 0, "signal": None},
                      services=services, attempt=attempt, error=error)


def sample() -> Results:
    cases = [
        case("sigterm", [redis()]),
        case("sigkill", [redis(), redis(name="db", scope="case", state="stopped", port=7001, pid=501,
                                        returncode=0, stopped_by_harness=True)]),
        case("sigint", [redis(state="died", signal="SIGKILL", ended_after_s=-0.25,
                              error="service redis ended by SIGKILL before the trigger")],
             outcome="error", error="service redis died"),
        case("sigquit", [redis(state="not-ready", pid=402, ready_s=None, returncode=1,
                               error="service redis was not ready within 15 s")],
             outcome="error", error="service redis was never ready"),
    ]
    return Results(cases=cases, scenarios={"svc": "services"}, tool="shutdown-probe test")


def test_the_cell_names_each_service_and_its_port_and_marks_a_failed_one():
    c = sample().cases
    assert service_cell(c[0]) == "redis :6390"
    assert service_cell(c[1]) == "redis :6390; db :7001"
    assert service_cell(c[2]) == "redis :6390 ✗ died (SIGKILL)"
    assert service_cell(c[3]) == "redis :6390 ✗ not-ready (rc 1)"
    assert service_cell(case("x", [])) == "-"


def test_the_line_says_scope_pid_port_readiness_and_how_it_ended():
    c = sample().cases
    assert services_line(c[0]) == ("services: redis (scope run) pid 400 port 6390, ready in 0.01 s, "
                                   "running when the case ended")
    assert services_line(c[1]).endswith("; db (scope case) pid 501 port 7001, ready in 0.01 s, stopped by the "
                                        "harness after the case (rc 0)")
    assert services_line(c[2]) == ("services: ✗ redis (scope run) pid 400 port 6390, ready in 0.01 s, died while "
                                   "the case needed it (SIGKILL, 0.25 s before the trigger): service redis ended "
                                   "by SIGKILL before the trigger")
    assert services_line(c[3]).startswith("services: ✗ redis (scope run) pid 402 port 6390, never ready (rc 1): ")
    assert services_line(case("x", [])) is None


def test_terminal_has_a_services_column_only_when_a_case_had_services():
    text = format_terminal(sample(), width=200)
    header = next(line for line in text.splitlines() if "path" in line)
    assert header.rstrip(" ┃").endswith("services")
    rows = [line for line in text.splitlines() if line.startswith("│")]
    assert rows[0].rstrip(" │").endswith("redis :6390")
    assert rows[2].rstrip(" │").endswith("redis :6390 ✗ died (SIGKILL)")
    bare = Results(cases=[case("sigterm", [])], scenarios={"svc": ""}, tool="t")
    assert "services" not in format_terminal(bare, width=200)


def test_markdown_has_the_column_and_a_line_per_case():
    md = format_markdown(sample())
    assert "| path | exit | time | orphans | services |" in md
    assert "| `sigint` | error | - | - | redis :6390 ✗ died (SIGKILL) |" in md
    assert md.count("- services: ") == 4
    assert "- services: ✗ redis (scope run) pid 402 port 6390, never ready (rc 1)" in md


def test_html_has_the_column_and_a_services_list_with_failures_marked():
    html = format_html(sample())
    assert "<th scope=\"col\">services</th>" in html
    assert html.count("<h4>services</h4>") == 4
    assert '<li class="failure">✗ redis (scope run) pid 400 port 6390, ready in 0.01 s, died while' in html
    assert '<td class="services bad">redis :6390 ✗ died (SIGKILL)</td>' in html


def test_repeated_runs_share_a_port_or_drop_it_when_each_run_had_its_own():
    run_scoped = Results(cases=[case("sigterm", [redis()], attempt=n) for n in (1, 2)], scenarios={}, tool="t")
    assert "redis :6390 " in format_terminal(run_scoped, width=200)
    per_case = Results(cases=[case("sigterm", [redis(scope="case", port=p)], attempt=n)
                              for n, p in ((1, 7001), (2, 7002))], scenarios={}, tool="t")
    row = next(line for line in format_terminal(per_case, width=200).splitlines() if line.startswith("│"))
    assert row.rstrip(" │").endswith("redis") and ":700" not in row


def test_junit_properties_and_the_failure_text_carry_the_services():
    xml = format_junit(sample())
    assert '<property name="shutdown_probe.services" value="redis :6390 ✗ died (SIGKILL)" />' in xml
    text = format_case_failure(sample().cases[2])
    assert "  services: ✗ redis (scope run) pid 400 port 6390" in text
