"""The command line as users run it: a real subprocess, real exit codes."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.support import ROOT, SESSION, TARGETS, run_cli, wait_while_running, write_scenario
from shutdown_probe.concurrency import cpu_count
from shutdown_probe.paths import BUILTIN_PATHS
from shutdown_probe.processes import tagged_processes

# A target that is ready at once, writes a mark file (so a test knows it runs), and
# exits 0 on SIGTERM after printing a line; SIGINT ends it with KeyboardInterrupt.
SIMPLE = r'''
import os, signal, sys
def bye(*_):
    print("[pid %d] bye" % os.getpid(), flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
open(os.environ["MARK"], "w").close()
print("ready", flush=True)
while True:
    signal.pause()
'''


def scenario(tmp_path, *, expect: str = "", extra_app: str = "", mark=None) -> str:
    script = tmp_path / "target.py"
    script.write_text(SIMPLE)
    mark = mark or tmp_path / "mark"
    path = write_scenario(tmp_path, f'''
paths = ["sigterm", "sigkill"]
[app]
command = ["{{python}}", "target.py"]
env = {{ MARK = "{mark}" }}
ready = {{ log = "^ready$" }}
stop_timeout = 3
{extra_app}
[hooks.bye]
log = '\\[pid (?P<pid>\\d+)\\] bye'
{expect}
''')
    return str(path)


def test_paths_lists_every_builtin_path():
    done = run_cli("paths")
    assert done.returncode == 0
    names = [line.split()[0] for line in done.stdout.splitlines() if not line.startswith(" ")]
    assert names == list(BUILTIN_PATHS)
    # every stop profile is followed by the source that documents its behaviour
    sources = [line.strip() for line in done.stdout.splitlines() if line.startswith(" ")]
    assert len(sources) == sum(1 for p in BUILTIN_PATHS.values() if p.profile)
    assert all(s.startswith("source: ") and len(s) > 20 for s in sources)


def test_run_exit_0_when_expectations_hold(tmp_path):
    path = scenario(tmp_path, expect='''
[expect.sigterm]
ran = ["bye"]
exit = 0
[expect.sigkill]
not_ran = ["bye"]
exit = "SIGKILL"
''')
    out = tmp_path / "out.json"
    done = run_cli("run", path, "--json", str(out), "--markdown", str(tmp_path / "m.md"))
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(out.read_text())
    assert [c["path"] for c in data["cases"]] == ["sigterm", "sigkill"]
    assert data["cases"][0]["hooks"]["bye"]["ran"] is True
    assert data["cases"][0]["hooks"]["bye"]["roles"] == ["root"]
    assert data["cases"][1]["exit"]["signal"] == "SIGKILL"
    # progress: one line per finished case, counting done, running and left
    lines = done.stderr.splitlines()
    assert len(lines) == 2
    assert all(re.match(r"\[[12]/2 done, [01] running, 0 left\] ✓ scenario::sig(term|kill): exited", ln)
               for ln in lines), lines
    assert lines[-1].startswith("[2/2 done, 0 running, 0 left]")
    assert "| `sigterm` | ✓ |" in (tmp_path / "m.md").read_text()  # one process: no "where"


def test_run_exit_1_when_an_expectation_fails(tmp_path):
    path = scenario(tmp_path, expect='''
[expect.sigkill]
ran = ["bye"]
''')
    done = run_cli("run", path, "--path", "sigkill")
    assert done.returncode == 1
    assert "✗ sigkill: expected hook 'bye' to run, it did not" in done.stdout


def test_an_app_that_never_gets_ready_is_one_line_and_exit_2(tmp_path):
    # The mark file's folder does not exist: the target dies before it is ready, on
    # every path. That is a broken setup, not a finding.
    path = scenario(tmp_path, mark=tmp_path / "missing" / "mark")
    out = tmp_path / "out.json"
    done = run_cli("run", path, "--json", str(out))
    assert done.returncode == 2
    [line] = [ln for ln in done.stderr.splitlines() if not ln.startswith("[")]  # not progress
    assert line.startswith(f"shutdown-probe: {path}: app.ready: the app never got ready on any of 2 path(s)")
    assert "exited before it was ready" in line and "FileNotFoundError" in line
    assert "Traceback" not in done.stdout
    # the results are still written, for whoever wants the details
    assert {c["outcome"] for c in json.loads(out.read_text())["cases"]} == {"not-ready"}


def test_an_app_that_is_slow_to_get_ready_names_the_check(tmp_path):
    script = tmp_path / "mute.py"
    script.write_text("import signal\nwhile True:\n    signal.pause()\n")
    path = write_scenario(tmp_path, '''
paths = ["sigterm"]
[app]
command = ["{python}", "mute.py"]
ready = { tcp = "{port}" }
ready_timeout = 1
''')
    done = run_cli("run", str(path), "-q")
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert re.fullmatch(
        re.escape(f"shutdown-probe: {path}: app.ready: the app never got ready on any of 1 path(s): ")
        + r"tcp \d+ not ready within 1 s \(Connection refused\); it printed nothing", line), line


def test_bad_path_option_is_a_usage_error(tmp_path):
    done = run_cli("run", scenario(tmp_path), "--path", "sigtrem")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--path: 'sigtrem'" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("args", [["run"], ["nonsense"], ["run", "x.toml", "--jobs", "0"],
                                  ["run", "x.toml", "--jobs", "many"], ["run", "x.toml", "--repeat", "0"]],
                         ids=["no-file", "no-command", "zero-jobs", "jobs-not-a-number", "zero-repeat"])
def test_usage_errors_exit_2_in_one_line(args):
    done = run_cli(*args)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_report_renders_saved_results(tmp_path):
    out = tmp_path / "out.json"
    assert run_cli("run", scenario(tmp_path), "--json", str(out), "-q").returncode == 0
    done = run_cli("report", str(out))  # no file asked for: the matrix
    assert done.returncode == 0
    assert "sigterm" in done.stdout and "SIGKILL" in done.stdout
    md = tmp_path / "r.md"
    done = run_cli("report", str(out), "--compat", str(md))
    assert done.returncode == 0
    assert done.stdout == f"wrote {md} (compat)\n"  # what was asked: the file, not the matrix too
    # one file, one environment: the compatibility table has a column per scenario;
    # the target prints its hook's line on SIGTERM, and nothing can run on SIGKILL
    lines = md.read_text().splitlines()
    assert lines[:4] == ["| path | scenario |", "|---|---|", "| `sigterm` | `bye` |", "| `sigkill` | nothing ran |"]
    # --markdown is one document in every command: what `run --markdown` writes
    details, ran = tmp_path / "details.md", tmp_path / "ran.md"
    assert run_cli("run", scenario(tmp_path), "--markdown", str(ran), "-q").returncode == 0
    done = run_cli("report", str(out), "--markdown", str(details), "--matrix")
    assert done.returncode == 0
    assert done.stdout.startswith(f"wrote {details} (markdown)\n") and "SIGKILL" in done.stdout
    assert details.read_text().startswith("## scenario")
    assert _headings(details.read_text()) == _headings(ran.read_text())


def _headings(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("#")]


def test_report_rejects_a_file_that_is_not_results(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 7}')
    done = run_cli("report", str(bad))
    assert done.returncode == 2
    assert "not shutdown-probe results JSON" in done.stderr


@pytest.mark.parametrize(("sig", "times"), [(signal.SIGINT, 1), (signal.SIGTERM, 1), (signal.SIGINT, 2)],
                         ids=["SIGINT", "SIGTERM", "SIGINT-twice"])
def test_interrupted_harness_kills_everything_and_exits_128_plus_signal(tmp_path, sig, times):
    # The target ignores SIGTERM here, and the stop timeout is long: the harness is
    # sitting in a case when it is interrupted.
    script = tmp_path / "stubborn.py"
    script.write_text(
        "import os, signal\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "open(os.environ['MARK'], 'w').close()\n"
        "while True:\n    signal.pause()\n")
    mark = tmp_path / "mark"
    path = write_scenario(tmp_path, f'''
paths = ["sigterm"]
[app]
command = ["{{python}}", "stubborn.py"]
env = {{ MARK = "{mark}" }}
ready = {{ file = "{mark}" }}
stop_timeout = 60
''')
    out_json, out_md = tmp_path / "r.json", tmp_path / "r.md"
    proc = subprocess.Popen([sys.executable, "-m", "shutdown_probe", "run", str(path), "--json", str(out_json),
                             "--markdown", str(out_md)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # the target is up; the harness is now waiting on it
        wait_while_running(proc, mark.exists, "the target started", timeout=20)
        assert [p for p in tagged_processes(f"{SESSION}/")], "the target should be running"
        for _ in range(times):  # a second Ctrl-C at once: no waiting, the same cleanup
            proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + sig, err
    assert f"interrupted by {signal.Signals(sig).name}" in err
    assert "Traceback" not in err
    assert tagged_processes(f"{SESSION}/") == []
    # what was gathered is written to every report asked for, the cut case marked
    data = json.loads(out_json.read_text())
    got = [(c["path"], c["outcome"]) for c in data["cases"]]
    # hurried by a second signal, the harness may write before the cut case reports
    assert got == [("sigterm", "interrupted")] or (times == 2 and got == []), got
    assert data["environment"]["interrupted_by"] == signal.Signals(sig).name
    if got:
        assert "| `sigterm` |" in out_md.read_text() and "interrupted" in out_md.read_text()


def test_python_dash_m_and_console_script_agree():
    exe = os.path.join(os.path.dirname(sys.executable), "shutdown-probe")
    if not os.path.exists(exe):
        pytest.skip("skipped: the console script is not installed next to this interpreter")
    a = subprocess.run([exe, "paths"], capture_output=True, text=True, timeout=30)
    b = run_cli("paths")
    assert a.returncode == b.returncode == 0 and a.stdout == b.stdout


def test_ran_in_checks_which_process_ran_a_hook(tmp_path):
    path = scenario(tmp_path, expect='''
[expect.sigterm]
ran_in = { bye = "child" }
''')
    done = run_cli("run", path, "--path", "sigterm")
    assert done.returncode == 1
    assert "✗ sigterm: expected hook 'bye' to run in child, it ran in root" in done.stdout


def test_keep_workdirs_names_each_kept_folder(tmp_path):
    done = run_cli("run", scenario(tmp_path), "--path", "sigterm", "--keep-workdirs",
                   "--json", str(tmp_path / "out.json"))
    assert done.returncode == 0, done.stderr
    [kept] = re.findall(r"\(kept (/\S+)\)", done.stderr)
    try:
        assert os.path.isdir(kept)
        assert json.loads((tmp_path / "out.json").read_text())["cases"][0]["workdir"] == kept
    finally:
        shutil.rmtree(kept, ignore_errors=True)


def test_grace_option_shortens_every_profile_and_says_so(tmp_path):
    path = write_scenario(tmp_path, f'''
paths = ["systemd-stop", "supervisor-stop"]
[app]
command = ["{{python}}", "{TARGETS / "ignore_all.py"}", "{{workdir}}"]
ready = {{ file = "{{workdir}}/ready" }}
[profiles]
grace = 60
''')
    out = tmp_path / "r.json"
    t = time.monotonic()
    done = run_cli("run", str(path), "--grace", "0.5", "--json", str(out))
    wall = time.monotonic() - t
    assert done.returncode == 0, done.stderr
    cases = json.loads(out.read_text())["cases"]
    assert [c["stop"]["grace_s"] for c in cases] == [0.5, 0.5]
    assert [c["stop"]["grace_from"] for c in cases] == ["command line"] * 2
    # ignore_all.py ignores SIGTERM: the shortened grace runs out, SIGKILL ends it
    assert all(c["stop"]["final_kill"] and c["exit"]["signal"] == "SIGKILL" for c in cases)
    assert wall < 30  # never the file's 60 s


@pytest.mark.parametrize("value", ["-1", "inf", "soon"])
def test_grace_option_rejects_what_is_not_seconds(tmp_path, value):
    done = run_cli("run", scenario(tmp_path), "--grace", value)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "--grace" in done.stderr and "Traceback" not in done.stderr


def test_orphan_watch_option_overrides_the_scenarios(tmp_path):
    """orphan_fates.py late-only: its one child ends 1 s after the root's SIGKILL with
    status 7. The file says no watch (it would be killed at stop_timeout, 0.5 s); the
    option gives it 10 s, and the child is seen ending by itself."""
    path = write_scenario(tmp_path, f'''
paths = ["sigkill"]
[app]
command = ["{{python}}", "{TARGETS / "orphan_fates.py"}", "{{workdir}}", "late-only"]
ready = {{ file = "{{workdir}}/ready" }}
stop_timeout = 0.5
orphan_watch = 0
''')
    out = tmp_path / "r.json"
    done = run_cli("run", str(path), "--orphan-watch", "10", "--json", str(out))
    assert done.returncode == 0, done.stderr
    [orphan] = json.loads(out.read_text())["cases"][0]["orphans"]
    assert (orphan["fate"], orphan["watched_s"], orphan["returncode"]) == ("exited", 10, 7)
    assert "(exited after" in done.stdout


@pytest.mark.parametrize("value", ["-1", "inf", "soon"])
def test_orphan_watch_option_rejects_what_is_not_seconds(tmp_path, value):
    done = run_cli("run", scenario(tmp_path), "--orphan-watch", value)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "--orphan-watch" in done.stderr and "Traceback" not in done.stderr


def test_repeat_runs_every_case_n_times_in_order(tmp_path):
    """--repeat 3: three runs of each path, next to each other, told apart by attempt;
    with --jobs 4 the order is still the case order, whatever finished first."""
    out = tmp_path / "out.json"
    done = run_cli("run", scenario(tmp_path, expect='[expect.sigterm]\nran = ["bye"]'),
                   "--repeat", "3", "--jobs", "4", "--json", str(out))
    assert done.returncode == 0, done.stderr
    cases = json.loads(out.read_text())["cases"]
    assert [(c["path"], c["attempt"]) for c in cases] == [
        ("sigterm", 1), ("sigterm", 2), ("sigterm", 3), ("sigkill", 1), ("sigkill", 2), ("sigkill", 3)]
    assert all(c["hooks"]["bye"]["ran"] == (c["path"] == "sigterm") for c in cases)
    assert len({c["processes"][0]["pid"] for c in cases}) == 6  # six real launches
    assert all(c["wall_s"] > 0 for c in cases)
    # the matrix: one row per path for its three runs, which agreed
    rows = [line for line in done.stdout.splitlines() if line.startswith("│")]
    assert [r.split("│")[1].strip() for r in rows] == ["sigterm ×3", "sigkill ×3"]
    assert [r.split("│")[2].strip() for r in rows] == ["✓", "✗"]
    assert [r.split("│")[3].strip() for r in rows] == ["rc 0", "SIGKILL"]
    assert len(done.stderr.splitlines()) == 6
    assert done.stderr.splitlines()[-1].startswith("[6/6 done, 0 running, 0 left]")


def test_jobs_default_is_up_to_four_per_usable_cpu_and_no_more_than_the_cases(tmp_path):
    # docs/how-it-works.md: auto runs up to 4 cases per CPU this process may use (its
    # affinity mask, or its container's CPU quota: tests/unit/test_concurrency.py),
    # never more than there are cases
    out = tmp_path / "out.json"
    assert run_cli("run", scenario(tmp_path), "-q", "--json", str(out)).returncode == 0
    assert json.loads(out.read_text())["environment"]["jobs"] == 2  # two cases
    assert run_cli("run", scenario(tmp_path), "-q", "--jobs", "auto", "--repeat", "5", "--json",
                   str(out)).returncode == 0
    env = json.loads(out.read_text())["environment"]
    assert env["jobs"] == min(4 * cpu_count(), 10)
    assert env["platform"] == platform.platform()  # the same text, got without its 8 ms


def test_version_does_not_load_the_runner():
    """`shutdown-probe --version` (and the package import the pytest plugin pays for)
    stays cheap: no rich, requests, psutil or runner."""
    code = ("import sys\n"
            "from shutdown_probe.cli import main\n"
            "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
            "heavy = ['rich', 'requests', 'psutil', 'shutdown_probe.runner', 'shutdown_probe.paths']\n"
            "print(sorted(m for m in heavy if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    from shutdown_probe import __version__

    assert done.stdout.splitlines() == [f"shutdown-probe {__version__}", "[]"], done.stdout + done.stderr


# A target that says goodbye on SIGTERM only on odd runs, counted in a file outside
# the case's private folder: runs of one path that really differ.
ODD_RUNS = r'''
import os, signal, sys
counter = os.environ["COUNTER"]
n = int(open(counter).read()) + 1 if os.path.exists(counter) else 1
open(counter, "w").write(str(n))
def bye(*_):
    if n % 2:
        print("bye", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
print("ready", flush=True)
while True:
    signal.pause()
'''


def test_repeat_says_which_runs_differed(tmp_path):
    (tmp_path / "target.py").write_text(ODD_RUNS)
    path = write_scenario(tmp_path, f'''
paths = ["sigterm", "sigkill"]
[app]
command = ["{{python}}", "target.py"]
env = {{ COUNTER = "{tmp_path / 'count'}" }}
ready = {{ log = "^ready$" }}
[hooks.bye]
log = "^bye$"
''')
    md = tmp_path / "m.md"
    done = run_cli("run", str(path), "--repeat", "3", "--jobs", "1", "-q", "--markdown", str(md))
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())  # the terminal folds long lines
    # runs 1, 3 (sigterm) said bye; run 2 did not; sigkill runs (4-6) never can
    # the line has no pid group: only the hook's mark can differ, not the process it ran in
    assert "sigterm: the 3 runs differ in hook bye: ran (#1, #3) / not ran (#2)" in text
    row = next(line for line in done.stdout.splitlines() if line.startswith("│ sigterm ×3"))
    assert [c.strip() for c in row.split("│")[2:4]] == ["✓ ×2 · ✗ ×1", "rc 0"]  # the row says the runs split
    assert "sigkill: the 3 runs agree" in text
    assert "- sigterm: the 3 runs differ in hook bye: ran (#1, #3) / not ran (#2)" in md.read_text()


def test_html_report_from_run_and_from_saved_results(tmp_path):
    """--html on run and on report: one self-contained page with the matrix and a
    timeline for each case; the same results give the same page."""
    out, page, again = tmp_path / "out.json", tmp_path / "run.html", tmp_path / "report.html"
    done = run_cli("run", scenario(tmp_path), "-q", "--json", str(out), "--html", str(page))
    assert done.returncode == 0, done.stderr
    text = page.read_text()
    assert text.lstrip().lower().startswith("<!doctype html")
    assert text.count("<svg") >= 2  # a timeline per case
    assert "sigterm" in text and "sigkill" in text and "SIGKILL" in text
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:|@import|url\(\s*["']?https?:""", text)
    assert run_cli("report", str(out), "--html", str(again)).returncode == 0
    assert again.read_text() == text
