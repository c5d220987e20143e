"""Strings the target chooses, through every report: the renderers (from results built
by hand), then the CLI and a pytest session with a real target (tests/targets/hostile.py
``names``: atexit callables whose qualified names are rich markup, an OSC 8
hyperlink, a colour code and a lone surrogate).

What a report must make of such a string: colour codes (CSI ... m) dropped, every
other C0 control shown as its Unicode control picture (U+2400 + code), a lone
surrogate as U+FFFD, a bidi control as ``<U+202E>``, and never read as markup by any
renderer. On a line of its own (a cell, a header, an order or repeat line, a field of
the failure text) a newline is shown as ␤, so the target cannot start a line that
looks like the harness's. What no report may hold is derived here from ``unicodedata``,
not from the renderers' own rule.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from rich.console import Console

from tests.support import TARGETS, run_cli
from tests.unit.test_html import stop_case, traffic_case
from shutdown_probe.render import (build_tables, format_case_failure, format_compat, format_html, format_junit,
                                   format_markdown, format_terminal, row_properties)
from shutdown_probe.results import (CaseResult, Escalation, ExpectResult, HookResult, Orphan, ProcessRecord,
                                    Results)

HOSTILE_TARGET = TARGETS / "hostile.py"
# the names hostile.py gives its atexit callables (HOSTILE_NAMES there), and how a
# report shows each, by the rule above
SHOWN = {
    "[/]": "[/]",
    "[link=https://example.invalid]x[/link]": "[link=https://example.invalid]x[/link]",
    "\x1b]8;;http://x\x07evil\x1b]8;;\x07": "\u241b]8;;http://x\u2407evil\u241b]8;;\u2407",
    "\x1b[31mred": "red",
    "\udcff": "\ufffd",
}
# one string with all of them, and what Markdown and HTML would read as markup
EVIL = "".join(SHOWN) + "\x00 <b>b</b> [l](http://e) *x* `c` | &amp;"
EVIL_SHOWN = "".join(SHOWN.values()) + "\u2400 <b>b</b> [l](http://e) *x* `c` | &amp;"
# names that would forge a line of the report: a verdict after a newline, a right-to-left
# override that shows "a → c" as "c ← a"; as a one-line field shows them
FORGED = "sigterm: the 5 runs agree"
FORGING = {f"x\n{FORGED}": f"x\u2424{FORGED}", "order b \u202ea \u2192 c": "order b <U+202E>a \u2192 c"}
SHOWN |= FORGING

SGR = re.compile(r"\x1b\[[0-9;]*m")
# the bidirectional formatting characters: invisible (category Cf) with an explicit
# bidi class (the embeddings, overrides, isolates) or a strong one (the marks LRM, RLM,
# ALM are L, R, AL): they reorder the text around them when displayed
BIDI_CLASSES = {"LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI", "L", "R", "AL"}


def _illegal(c: str) -> bool:
    if c in "\t\n":
        return False
    code = ord(c)
    return (unicodedata.category(c) in ("Cc", "Cs")  # controls, lone surrogates
            or code & 0xFFFE == 0xFFFE  # U+FFFE, U+FFFF: non-characters, not legal in XML
            or unicodedata.category(c) == "Cf" and unicodedata.bidirectional(c) in BIDI_CLASSES)


def illegal(text: str) -> list[str]:
    """Characters no report may hold: controls (but tab and newline), lone surrogates,
    non-characters, bidi controls."""
    return sorted({hex(ord(c)) for c in text if _illegal(c)})


def forged_lines(text: str) -> list[str]:
    """Lines that begin, once a table's border is stripped, with the forged verdict."""
    return [line for line in text.splitlines() if line.strip("│┃|├┤ -*").startswith(FORGED)]


def test_the_bidi_classes_are_the_ones_the_review_named():
    named = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
    assert all(_illegal(chr(c)) for c in named)
    assert not _illegal("a") and not _illegal("\u2192") and not _illegal("\u05d0")  # Hebrew letters are text


def hostile_results() -> Results:
    """A target's strings in every field a renderer shows: names, evidence, errors,
    failures, claims, commands, the output tail, the description."""
    hook = HookResult(True, f"probe: {EVIL}", pids=[10], roles=["root"], at_s=0.1, source="probe",
                      errors=[f"pid 10: RuntimeError: {EVIL}"], where=f"/app/{EVIL}.py:3")
    failed = CaseResult(
        scenario=f"s{EVIL}", path="sigterm", outcome="exited", exit={"returncode": 0, "signal": None},
        duration_s=0.2, wall_s=0.5, trigger={"signal": "SIGTERM", "to": "root", "pid": 10},
        hooks={f"atexit:{name}": hook for name in SHOWN} | {f"log{EVIL}": HookResult(False, EVIL)},
        hook_order=[f"log{EVIL}"], probe_order=[f"atexit:{name}" for name in SHOWN],
        processes=[ProcessRecord(10, "root", f"python {EVIL}", returncode=0, exit_known=True, ended_after_s=0.2,
                                 kind=EVIL),
                   ProcessRecord(11, "child", f"sleep {EVIL}", signal="SIGKILL", killed_by_harness=True)],
        orphans=[Orphan(11, f"sleep {EVIL}", "child", [], True)],
        escalations=[Escalation(11, "child", "SIGKILL", f"orphan {EVIL}", 1.1)],
        expect=ExpectResult(False, [f"expected {EVIL}"], declared=True, claim=f"claim {EVIL}", verdict="refuted",
                            evidence=[f"saw {EVIL}"]),
        output_tail=f"line {EVIL}\n[stderr] {EVIL}", scenario_file=f"/tmp/{EVIL}.toml")
    errored = CaseResult(scenario=f"s{EVIL}", path="sigint", outcome="not-ready", error=f"not-ready: {EVIL}",
                         output_tail=EVIL, scenario_file=f"/tmp/{EVIL}.toml", wall_s=2.0)
    skipped = CaseResult(scenario=f"s{EVIL}", path="sigkill-child", outcome="skipped",
                         error=f"skipped: {EVIL}", skip_reason=EVIL, scenario_file=f"/tmp/{EVIL}.toml")
    stopped = stop_case()  # a stop profile's words, and traffic's, from the target too
    stopped.scenario, stopped.scenario_file = f"s{EVIL}", f"/tmp/{EVIL}.toml"
    stop = stopped.stop
    stop.stopper, stop.to, stop.source, stop.namespace, stop.init = (f"{w} {EVIL}" for w in ("by", "to", "src", "ns",
                                                                                               "init"))
    stop.pre_stop = {"http": f"http://e/{EVIL}", "error": EVIL, "duration_s": 0.5}
    stop.second_signal = {"sent": True, "at_s": 1.25, "why": EVIL}
    stop.killed = stop.left_running = [{"pid": 21, "role": "root", "cmdline": EVIL}]
    stopped.traffic = traffic_case().traffic
    stopped.traffic.url, stopped.traffic.new_url, stopped.traffic.notes = f"http://e/{EVIL}", EVIL, [EVIL]
    for request in stopped.traffic.requests:
        request.detail, request.role = EVIL, EVIL
    return Results(cases=[failed, errored, skipped, stopped], scenarios={f"s{EVIL}": f"uses [/] in prose {EVIL}"},
                   environment={"python": EVIL, "packages": {"flask": EVIL}}, tool=f"tool {EVIL}")


# ---------------------------------------------------------------- terminal


def test_the_terminal_matrix_shows_markup_and_escapes_as_text_even_in_colour():
    res = hostile_results()
    buf = io.StringIO()
    # a colour terminal, as a user sees it: rich writes its own colours (SGR) here,
    # and would write an OSC 8 hyperlink for live [link=] markup
    console = Console(file=buf, width=400, force_terminal=True, color_system="truecolor", emoji=True)
    for table in build_tables(res, 400):
        console.print(table)
    coloured = buf.getvalue()
    assert "\x1b]" not in coloured and "\x07" not in coloured  # no OSC, no bell: no hyperlink, live or raw
    plain = SGR.sub("", coloured)
    assert "\x1b" not in plain, "every escape left is rich's own colour code"
    assert illegal(plain) == []
    for shown in SHOWN.values():
        assert f"atexit:{shown}" in plain
    assert "uses [/] in prose" in plain
    assert forged_lines(plain) == []
    assert format_terminal(res, width=400) == SGR.sub("", coloured)


def test_every_renderer_holds_only_printable_text():
    res = hostile_results()
    pages = {
        "terminal": format_terminal(res, width=200),
        "markdown": format_markdown(res),
        "compat": format_compat([res]),
        "html": format_html(res),
        "junit": format_junit(res),
        **{f"failure {c.label}": format_case_failure(c) for c in res.cases},
        **{f"properties {c.label}": "\n".join(f"{n}={v}" for n, v in row_properties(c)) for c in res.cases},
    }
    for name, page in pages.items():
        assert illegal(page) == [], name
        assert forged_lines(page) == [], name
        page.encode("utf-8")  # strict: writable as UTF-8
    assert f"atexit:{SHOWN['[link=https://example.invalid]x[/link]']}" in pages["failure sigterm"]
    assert f"expected {EVIL_SHOWN}" in pages["failure sigterm"]
    assert dict(row_properties(res.cases[0]))[f"shutdown_probe.hook.atexit:{SHOWN[chr(0xdcff)]}"].startswith("✓")


@pytest.mark.parametrize("render", [format_markdown, lambda res: format_compat([res])], ids=["markdown", "compat"])
def test_markdown_reports_hold_no_markup_of_the_targets(render):
    tokens = MarkdownIt("commonmark").enable("table").parse(render(hostile_results()))
    inline = [c for t in tokens for c in t.children or ()]
    html = [t.content.strip() for t in [*tokens, *inline] if t.type in ("html_inline", "html_block")]
    # the report's own folding of the output tail is the only HTML
    assert set(html) <= {"<details><summary>output tail</summary>", "</details>"}
    assert not {t.type for t in inline} & {"link_open", "image", "s_open"}
    # what Markdown would read as a tag, a link, emphasis, code stays text, whole
    words = "".join(c.content for c in inline if c.type == "text")
    assert "<b>b</b> [l](http://e) *x* `c` | &amp;" in words


def test_html_and_junit_are_well_formed_xml_with_the_text_inside():
    res = hostile_results()
    for page in (format_html(res), format_junit(res)):
        root = ET.fromstring(page)
        everywhere = "".join(root.itertext()) + "".join(v for el in root.iter() for v in el.attrib.values())
        assert EVIL_SHOWN in everywhere
        assert not [el for el in root.iter() if el.tag == "b"]


# ---------------------------------------------------------------- the CLI, a real target


def names_scenario(tmp_path: Path) -> Path:
    path = tmp_path / "names.toml"
    path.write_text(f'''
name = "hostile-names"
description = "uses [/] in prose"
paths = ["sigterm", "sigkill"]
[app]
command = ["{{python}}", "{HOSTILE_TARGET}", "{{workdir}}", "names"]
ready = {{ file = "{{workdir}}/ready" }}
stop_timeout = 10
[expect.sigkill]
ran = ["atexit:[/]"]
''')
    return path


def check_reports(json_file: Path, md: Path, html: Path, junit: Path | None = None) -> dict:
    data = json.loads(json_file.read_text(encoding="utf-8"))
    cases = {c["path"]: c for c in data["cases"]}
    # the JSON keeps the names exactly as the target chose them
    assert set(cases["sigterm"]["hooks"]) == {f"atexit:{n}" for n in SHOWN}
    assert all(h["ran"] for h in cases["sigterm"]["hooks"].values())
    assert not any(h["ran"] for h in cases["sigkill"]["hooks"].values())
    text = md.read_text(encoding="utf-8")
    assert illegal(text) == []
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    assert not {c.type for t in tokens for c in t.children or ()} & {"link_open", "html_inline"}
    page = html.read_text(encoding="utf-8")
    assert illegal(page) == []
    ET.fromstring(page)
    if junit is not None:
        root = ET.parse(junit).getroot()
        props = {p.get("name"): p.get("value") for p in root.iter("property")}
        for shown in SHOWN.values():
            assert props[f"shutdown_probe.hook.atexit:{shown}"] in ("✓", "✗")
        assert illegal(junit.read_text(encoding="utf-8")) == []
    return cases


@pytest.mark.timeout(90)
def test_run_shows_hostile_names_as_text_and_writes_every_report(tmp_path):
    scenario = names_scenario(tmp_path)
    out = {kind: tmp_path / f"r.{kind}" for kind in ("json", "markdown", "html", "junit")}
    done = run_cli("run", str(scenario), "--width", "300", *[a for k, f in out.items() for a in (f"--{k}", str(f))],
                   env={"FORCE_COLOR": "1", "TERM": "xterm-256color"})
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1, done.stderr  # the sigkill expectation fails, nothing else
    stdout = done.stdout
    assert "\x1b[" in stdout  # a colour terminal indeed
    assert "\x1b]" not in stdout and "\x07" not in stdout
    plain = SGR.sub("", stdout)
    assert "\x1b" not in plain and illegal(plain) == []
    assert forged_lines(plain) == []
    assert "hostile-names — uses [/] in prose" in plain
    for shown in SHOWN.values():
        assert f"atexit:{shown}" in plain
    assert "\x1b" not in done.stderr and illegal(done.stderr) == []
    cases = check_reports(out["json"], out["markdown"], out["html"], out["junit"])
    assert cases["sigkill"]["expect"]["passed"] is False


@pytest.mark.timeout(90)
def test_a_report_that_cannot_be_written_costs_only_itself(tmp_path):
    scenario = names_scenario(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    bad = blocker / "r.md"  # its parent is a regular file: ENOTDIR/EEXIST, as root too
    good = {kind: tmp_path / f"r.{kind}" for kind in ("json", "junit", "html")}
    done = run_cli("run", str(scenario), "--markdown", str(bad),
                   *[a for k, f in good.items() for a in (f"--{k}", str(f))])
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "cannot" in line]
    assert errors == [f"shutdown-probe: --markdown {bad}: cannot write: {os.strerror(17)}"] or \
        errors == [f"shutdown-probe: --markdown {bad}: cannot write: {os.strerror(20)}"], done.stderr
    assert "hostile-names" in done.stdout  # the matrix is still printed
    assert not bad.exists()
    json.loads(good["json"].read_text())
    ET.parse(good["junit"])
    ET.fromstring(good["html"].read_text())


@pytest.mark.timeout(90)
def test_the_error_line_quoting_an_apps_last_output_holds_no_escape(tmp_path):
    # an app that never gets ready: the one error line quotes what it printed last
    path = tmp_path / "early.toml"
    path.write_text(r'''
paths = ["sigterm"]
[app]
command = ["{python}", "-c", "print('\\x1b]0;pwned\\x07 [/] \\x1b[2J bye')"]
ready = { file = "{workdir}/ready" }
ready_timeout = 30
''')
    done = run_cli("run", str(path), "-q")
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.endswith("its last output: \u241b]0;pwned\u2407 [/]  bye"), line
    assert illegal(done.stderr) == []


# ---------------------------------------------------------------- pytest, a real target


def run_pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """A real pytest session in ``tmp_path`` (a subprocess: --junitxml's writer runs as
    it does for users, after every test)."""
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})


@pytest.mark.timeout(150)
def test_pytest_junitxml_and_the_plugins_reports_hold_hostile_names(tmp_path):
    names_scenario(tmp_path)
    done = run_pytest(tmp_path, "names.toml", "--junitxml=junit.xml", "--shutdown-probe-json=r.json",
                      "--shutdown-probe-markdown=r.md", "--shutdown-probe-html=r.html")
    output = done.stdout + done.stderr
    assert "Traceback" not in output and "INTERNALERROR" not in output, output
    assert done.returncode == 1, output  # sigkill::names fails its expectation
    assert "\x1b" not in done.stdout and illegal(done.stdout) == []
    check_reports(tmp_path / "r.json", tmp_path / "r.md", tmp_path / "r.html", tmp_path / "junit.xml")
    root = ET.parse(tmp_path / "junit.xml").getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"sigterm", "sigkill"}
    (failure,) = cases["sigkill"].iter("failure")
    assert "expected hook 'atexit:[/]' to run" in failure.text
    assert f"atexit:{SHOWN['[link=https://example.invalid]x[/link]']}" in failure.text
    assert forged_lines(failure.text) == [] and forged_lines(done.stdout) == []
    for shown in FORGING.values():
        assert f"atexit:{shown}" in failure.text


@pytest.mark.timeout(150)
def test_pytest_writes_its_reports_when_one_of_them_cannot_be_written(tmp_path):
    names_scenario(tmp_path)
    (tmp_path / "a-file").write_text("")
    done = run_pytest(tmp_path, "names.toml", "-k", "sigterm", "--shutdown-probe-json=r.json",
                      "--shutdown-probe-markdown=a-file/r.md", "--shutdown-probe-html=r.html")
    assert "Traceback" not in done.stdout + done.stderr
    assert done.returncode == 3, done.stdout  # pytest's "internal error": a report is missing
    lines = [line for line in done.stdout.splitlines() if "a-file/r.md" in line]
    assert len(lines) == 1 and "--shutdown-probe-markdown a-file/r.md: cannot write: " in lines[0], done.stdout
    assert [c["path"] for c in json.loads((tmp_path / "r.json").read_text())["cases"]] == ["sigterm"]
    ET.fromstring((tmp_path / "r.html").read_text())


@pytest.mark.timeout(150)
def test_pytest_junitxml_failing_to_write_costs_the_plugins_reports_nothing(tmp_path):
    names_scenario(tmp_path)
    (tmp_path / "a-file").write_text("")
    done = run_pytest(tmp_path, "names.toml", "-k", "sigterm", "--junitxml=a-file/junit.xml",
                      "--shutdown-probe-json=r.json", "--shutdown-probe-html=r.html")
    assert done.returncode != 0  # pytest's own writer fails (and says so its own way)
    # the plugin's reports are written before other plugins finish the session
    assert [c["path"] for c in json.loads((tmp_path / "r.json").read_text())["cases"]] == ["sigterm"]
    ET.fromstring((tmp_path / "r.html").read_text())
