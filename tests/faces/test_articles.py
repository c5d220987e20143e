"""The articles' write-up: its verdicts come from the checks, bad files are one line,
and the committed reports/articles.md and .html are what the command makes now."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.support import ROOT
from shutdown_probe.articles import MORE, NOT_REPRODUCED, REPRODUCED, UNTESTED, WRONG, load, judge
from shutdown_probe.render.articles import stable
from shutdown_probe.results import CaseResult, HookResult

WRITEUP = ROOT / "reports" / "articles.toml"
COMMAND = [sys.executable, "-m", "shutdown_probe.articles", "reports/articles.toml"]


def experiment(title: str):
    [found] = [e for e in load(WRITEUP).experiments if e.title == title]
    return found


def reloader_case(path: str, banner_pid: int, *, returncode: int = 247) -> CaseResult:
    """A hand-built run of the Flask reloader: parent 10, child 11; ``banner_pid``
    printed the banner and ran the three atexit hooks."""
    role = {10: "root", 11: "child"}[banner_pid]
    kind = {10: "reloader-parent", 11: "reloader-child"}[banner_pid]
    hooks = {"banner": HookResult(True, "stdout line 3", pids=[banner_pid], roles=[role])}
    for name in ("shutdown", "shutdown2", "shutdown3"):
        hooks[f"atexit:{name}"] = HookResult(True, "probe: ran", pids=[banner_pid], roles=[role], kinds=[kind],
                                             source="probe")
    return CaseResult(scenario="flask-atexit", path=path, outcome="exited",
                      exit={"returncode": returncode, "signal": None}, hooks=hooks,
                      probe={"processes": [{"pid": 10, "kind": "reloader-parent"},
                                           {"pid": 11, "kind": "reloader-child"}]})


def test_the_explanation_is_wrong_when_the_banner_came_from_the_parent():
    got = judge(experiment("kill -9 on the second PID"), reloader_case("sigkill-child", 10))
    assert got.verdict == WRONG
    assert got.checks["explanation"].failures == [
        "expected hook 'banner' to run in reloader-child, it ran in root (reloader-parent)"]
    assert got.why.startswith("the second process is the reloader's serving child")


def test_the_same_experiment_would_confirm_the_author_had_the_child_printed_the_banner():
    # the verdict is not written in the file: change what was observed, it changes
    got = judge(experiment("kill -9 on the second PID"), reloader_case("sigkill-child", 11))
    assert got.verdict == REPRODUCED
    assert got.checks["finding"].verdict == "refuted"
    assert "the finding itself did not hold" in got.why


def test_not_reproduced_and_untested():
    quiet = reloader_case("sigkill-child", 10)
    quiet.hooks["banner"] = HookResult(False, "no output line matched")
    assert judge(experiment("kill -9 on the second PID"), quiet).verdict == NOT_REPRODUCED
    broken = CaseResult(scenario="flask-atexit", path="sigkill-child", outcome="not-ready", error="never ready")
    got = judge(experiment("kill -9 on the second PID"), broken)
    assert (got.verdict, got.why) == (UNTESTED, "never ready")
    assert judge(experiment("kill -9 on the second PID"), None).verdict == UNTESTED


def test_a_confirmed_finding_beside_a_confirmed_explanation_shows_more():
    case = CaseResult(scenario="sigterm-finally", path="ctrl-c", outcome="exited",
                      exit={"returncode": None, "signal": "SIGINT"},
                      hooks={name: HookResult(True, "seen", pids=[10], roles=["root"])
                             for name in ("released", "finally", "atexit")})
    got = judge(experiment("Ctrl-C on the developer's machine"), case)
    assert got.verdict == MORE
    case.exit = {"returncode": 0, "signal": None}
    assert judge(experiment("Ctrl-C on the developer's machine"), case).verdict == REPRODUCED


def test_stable_text_drops_pids_ports_and_private_folders():
    text = ("the process (pid 31757) ran finally; the process (pid 31761, PID 1 inside) ran; SIGKILL (root 31761): "
            "SIGKILL was sent to root pid 31761; GET http://127.0.0.1:59595/user/Amy; "
            "file /tmp/shutdown-probe-ctrl-c-ruz900bn/released")
    assert stable(text) == ("the process ran finally; the process (PID 1 inside) ran; SIGKILL: "
                            "SIGKILL was sent to root; GET http://127.0.0.1:{port}/user/Amy; file {workdir}/released")


@pytest.mark.parametrize(("text", "phrase"), [
    ('title = "x"\n', "articles: expected one or more [[articles]] tables"),
    ('[[articles]]\nid = "a"\ntitle = "t"\nsetup = "s"\nconclusion = "c"\n[[experiments]]\narticle = "b"\n',
     "experiments[1].article: unknown article 'b'"),
    ('[[articles]]\nid = "a"\ntitle = "t"\nsetup = "s"\nconclusion = "c"\n[[experiments]]\narticle = "a"\n'
     'title = "t"\nscenario = "SCENARIOS/flask_atexit.toml"\npath = "sigkil"\n',
     "experiments[1].path: unknown path 'sigkil'"),
    ('[[articles]]\nid = "a"\ntitle = "t"\nsetup = "s"\nconclusion = "c"\n[[experiments]]\narticle = "a"\n'
     'title = "t"\nscenario = "SCENARIOS/flask_atexit.toml"\npath = "sigkill"\nsaw = "s"\nconcluded = "c"\n'
     '[experiments.observation]\nran = ["banner"]\n[experiments.explanation]\nclaim = "x"\nran = ["baner"]\n',
     "experiments[1].observation.claim: missing"),
    ('[[articles]]\nid = "a"\ntitle = "t"\nsetup = "s"\nconclusion = "c"\n[[experiments]]\narticle = "a"\n'
     'title = "t"\nscenario = "SCENARIOS/flask_atexit.toml"\npath = "sigkill"\nsaw = "s"\nconcluded = "c"\n'
     '[experiments.observation]\nclaim = "x"\nran = ["baner"]\n',
     "experiments[1].observation.ran: unknown hook 'baner'"),
])
def test_a_bad_writeup_is_one_line_and_exit_2(tmp_path, text, phrase):
    bad = tmp_path / "articles.toml"
    bad.write_text(text.replace("SCENARIOS", str(ROOT / "scenarios")))
    done = subprocess.run([*COMMAND[:3], str(bad)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert phrase in line and line.startswith("shutdown-probe: ") and "Traceback" not in line


def _timeless(text: str) -> str:
    """Markdown with every time (``3.04 s``, ``10.0 s``) set aside, and the line that
    names the versions it was made with (another kernel or Flask is not staleness;
    what it changes in behaviour shows in the rest of the page)."""
    text = re.sub(r"(?m)^Generated by .*$", "Generated by ...", text)
    return re.sub(r"\b\d+\.\d+ s\b", "T s", text)


def _numberless(text: str) -> str:
    """HTML with the timelines and every number set aside: a timeline is a drawing of
    the times (where each mark sits, which labels fit), and its lanes name pids."""
    text = re.sub(r'(?m)^<p class="summary">Generated by .*$', "Generated by ...", text)
    drawings = len(re.findall(r"<svg\b", text))
    return f"{drawings} timelines " + re.sub(r"\d+(\.\d+)?", "N", re.sub(r"(?s)<svg\b.*?</svg>", "<svg/>", text))


@pytest.mark.timeout(240)
def test_the_committed_reports_are_what_the_command_makes_now(tmp_path):
    md, html, saved = tmp_path / "articles.md", tmp_path / "articles.html", tmp_path / "results.json"
    done = subprocess.run([*COMMAND, "--markdown", str(md), "--html", str(html), "--json", str(saved),
                           "--jobs", "2"], cwd=ROOT, capture_output=True, text=True, timeout=220)
    skipped = [c for c in json.loads(saved.read_text())["cases"] if c["outcome"] == "skipped"] \
        if saved.exists() else []
    if skipped:  # a machine without PID namespaces cannot run docker-stop: say so
        pytest.skip(f"{skipped[0]['scenario']}::{skipped[0]['path']} skipped: {skipped[0]['error']}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    committed = (ROOT / "reports" / "articles.md").read_text()
    assert _timeless(md.read_text()) == _timeless(committed), \
        "reports/articles.md is stale: regenerate it with the command in reports/articles.toml"
    assert _numberless(html.read_text()) == _numberless((ROOT / "reports" / "articles.html").read_text()), \
        "reports/articles.html is stale: regenerate it with the command in reports/articles.toml"
    # and the verdicts the page states are the ones the checks gave
    for line in done.stdout.splitlines()[-len(load(WRITEUP).experiments):]:
        title, verdict = line.rsplit(": ", 1)
        assert f"### {title} — {verdict}" in committed


def test_rendering_a_saved_run_and_its_mistakes(tmp_path):
    from shutdown_probe.results import Results

    saved = tmp_path / "results.json"
    saved.write_text(Results(cases=[reloader_case("sigkill-child", 10)]).to_json())
    out = tmp_path / "a.md"
    done = subprocess.run([*COMMAND, "--results", str(saved), "--markdown", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    # one case for ten experiments: the other nine are untested, and the run says so
    assert done.returncode == 1, done.stderr
    assert "kill -9 on the second PID: reproduced; the explanation is wrong" in done.stdout
    assert "kill -9 on the first PID: untested" in done.stdout
    assert "### kill -9 on the first PID — untested" in out.read_text()
    for args, phrase in (([str(tmp_path / "missing.json")], "missing.json: no such file"),
                         ([str(saved), "--markdown", "/proc/nope/a.md"], "/proc/nope/a.md: cannot write"),
                         ([str(saved), "--jobz", "2"], "unrecognized arguments: --jobz")):
        done = subprocess.run([*COMMAND, "--results", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
        assert phrase in done.stderr
