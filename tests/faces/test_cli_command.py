"""`shutdown-probe run -- CMD` and `shutdown-probe init -- CMD`, as a user runs them:
a real subprocess, real targets, real exit codes.

What must hold: a command with no scenario file runs the default signal paths and
prints the matrix; with no --ready it is ready once a process of it listens on a TCP
port (the port the kernel's socket table shows for the pid, which the target was told
on its command line), or else after the documented 3 s without output; `init` writes a
scenario file that `run FILE` runs as it is, listing the -child paths only for an app
whose root has a child; a bad option is one line naming it, exit 2.
"""

from __future__ import annotations

import json
import sys
from shutdown_probe.scenario.loading import tomllib  # the loader's TOML reader: tomli on 3.10

from tests.support import TARGETS, run_cli
from shutdown_probe.paths import SIGNAL_PATHS
from shutdown_probe.scenario.from_command import DEFAULT_QUIET

HTTP_APP = str(TARGETS / "http_app.py")  # one process, listens on the port it is given
PLAIN = str(TARGETS / "plain.py")  # one process, prints a line and listens on nothing
PARENT_CHILD = str(TARGETS / "parent_child.py")  # a root and one child; WORKDIR/ready once both are set
CHILD_PATHS = [p for p in SIGNAL_PATHS if p.endswith("-child")]


def cases_of(path) -> list[dict]:
    return json.loads(path.read_text())["cases"]


def test_a_command_with_no_scenario_file_gets_a_matrix(tmp_path):
    out = tmp_path / "r.json"
    r = run_cli("run", "--json", str(out), "--", sys.executable, HTTP_APP, "{workdir}", "{port}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "http_app" in r.stdout and "sigkill" in r.stdout  # the matrix, named after the script
    cases = cases_of(out)
    assert [c["path"] for c in cases] == list(SIGNAL_PATHS)
    ran = [c for c in cases if c["outcome"] != "skipped"]
    assert {c["path"] for c in cases if c["outcome"] == "skipped"} == set(CHILD_PATHS)  # one process: no child
    for case in ran:
        root = next(p for p in case["processes"] if p["role"] == "root")
        # ready by the socket it listens on: the port it was given on its command line
        assert root["listening"] == [int(root["cmdline"].split()[-1])]
    by_path = {c["path"]: c for c in cases}
    assert by_path["sigkill"]["exit"]["signal"] == "SIGKILL"
    assert by_path["sigterm"]["exit"]["signal"] == "SIGTERM"  # no SIGTERM handler: the default action


def test_an_app_that_listens_on_nothing_is_ready_when_its_output_pauses(tmp_path):
    out = tmp_path / "r.json"
    r = run_cli("run", "--path", "sigterm", "--json", str(out), "--", sys.executable, PLAIN, "{workdir}",
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (case,) = cases_of(out)
    assert case["outcome"] == "exited" and case["exit"]["signal"] == "SIGTERM"
    assert DEFAULT_QUIET <= case["ready_s"] < DEFAULT_QUIET + 10  # the pause, from the start


def test_ready_hooks_and_paths_come_from_the_options(tmp_path):
    out = tmp_path / "r.json"
    r = run_cli("run", "--ready", "file:{workdir}/ready", "--path", "sigkill-child", "--path", "sigint",
                "--hook", r"child_int=child: KeyboardInterrupt", "--json", str(out),
                "--", sys.executable, PARENT_CHILD, "{workdir}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    by_path = {c["path"]: c for c in cases_of(out)}
    assert set(by_path) == {"sigkill-child", "sigint"}
    assert by_path["sigkill-child"]["outcome"] != "skipped"  # the root has its child
    assert by_path["sigkill-child"]["hooks"]["child_int"]["ran"] is False  # SIGKILL runs nothing
    # SIGINT to the root only: the parent_child target's child does not get it
    assert by_path["sigint"]["hooks"]["child_int"]["ran"] is False
    assert by_path["sigint"]["ready_s"] < DEFAULT_QUIET  # the file, not a pause, made it ready


def test_a_bad_option_is_one_line_naming_it(tmp_path):
    r = run_cli("run", "--stop-timeout", "soon", "--", sys.executable, PLAIN, "{workdir}", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [r.stderr.strip()]
    assert "--stop-timeout" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("run", "--ready", "log:x", str(TARGETS / "none.toml"), cwd=tmp_path)
    assert r.returncode == 2 and "--ready goes with -- COMMAND" in r.stderr
    r = run_cli("run", cwd=tmp_path)
    assert r.returncode == 2 and "-- COMMAND" in r.stderr


def _init_and_run(tmp_path, *command: str, options: tuple[str, ...] = ()) -> tuple[str, dict, list[dict]]:
    target = tmp_path / "app.toml"
    r = run_cli("init", "-o", str(target), *options, "--", *command, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    text = target.read_text()
    out = tmp_path / "r.json"
    ran = run_cli("run", str(target), "--json", str(out), cwd=tmp_path)  # as it is
    assert ran.returncode == 0, ran.stderr
    return text, tomllib.loads(text), cases_of(out)


def test_init_writes_a_file_that_runs_as_it_is(tmp_path):
    text, table, cases = _init_and_run(tmp_path, sys.executable, HTTP_APP, "{workdir}", "{port}")
    assert text.startswith("# shutdown-probe scenario\n")
    assert table["paths"] == [p for p in SIGNAL_PATHS if p not in CHILD_PATHS]  # no child was seen
    assert table["app"]["ready"] == {"listening": True}
    assert "# [expect.sigterm]" in text and "expect" not in table  # left for the user to confirm
    assert [c["path"] for c in cases] == table["paths"]
    assert all(c["outcome"] == "exited" for c in cases)


def test_init_lists_the_child_paths_for_an_app_with_a_child(tmp_path):
    text, table, cases = _init_and_run(tmp_path, sys.executable, PARENT_CHILD, "{workdir}",
                                       options=("--ready", "file:{workdir}/ready"))
    assert set(CHILD_PATHS) <= set(table["paths"])
    assert table["app"]["ready"] == {"file": "{workdir}/ready"}
    assert "child" in text.split("\n\n")[0]  # what the run saw names the child
    children = [c for c in cases if c["path"] in CHILD_PATHS]
    assert children and all(c["outcome"] not in ("skipped", "not-ready", "error") for c in children)


def test_init_does_not_overwrite_without_force(tmp_path):
    target = tmp_path / "app.toml"
    target.write_text("mine\n")
    command = ("--ready", "quiet:0.2", "--", sys.executable, PLAIN, "{workdir}")
    r = run_cli("init", "-o", str(target), *command, cwd=tmp_path)
    assert r.returncode == 2 and "--force" in r.stderr
    assert target.read_text() == "mine\n"
    r = run_cli("init", "-o", str(target), "--force", *command, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert tomllib.loads(target.read_text())["app"]["ready"] == {"quiet": 0.2}


HANG_KINDS = str(TARGETS / "hang_kinds.py")  # listen: listens on $PORT and never accepts


def test_listening_means_serving_a_port_nothing_accepts_on_is_not_ready(tmp_path):
    base = ("run", "--path", "sigkill", "--ready", "listening", "--ready-timeout", "3", "--env", "PORT={port}")
    r = run_cli(*base, "--", sys.executable, HANG_KINDS, "{workdir}", "listen", cwd=tmp_path)
    assert r.returncode == 2, r.stdout  # never ready on any path: a setup mistake, one line
    assert "no process took a connection to it within 3 s" in r.stderr
    assert "run -- COMMAND: --ready: the app never got ready" in r.stderr  # the option, not a file
    out = tmp_path / "r.json"
    r = run_cli(*base, "--json", str(out), "--", sys.executable, HANG_KINDS, "{workdir}", "listen-accept",
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (case,) = cases_of(out)
    assert case["outcome"] == "exited" and case["exit"]["signal"] == "SIGKILL"


WSGI = '''
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
'''


def test_a_reload_is_told_apart_by_connecting_where_the_app_served(tmp_path):
    # gunicorn's documented SIGHUP: new workers started, the old ones stopped, the
    # master stays. With no --ready, the alive check connects where it was found serving.
    (tmp_path / "wsgi_app.py").write_text(WSGI)
    out = tmp_path / "r.json"
    r = run_cli("run", "--path", "sighup", "--json", str(out), "--", sys.executable, "-m", "gunicorn",
                "wsgi_app:app", "-w", "2", "-b", "127.0.0.1:{port}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (case,) = cases_of(out)
    assert case["outcome"] == "reloaded", case["error"]
    root = next(p for p in case["processes"] if p["role"] == "root")
    assert case["stayed"]["alive"]["target"] == f"127.0.0.1:{root['listening'][0]}"
    assert case["stayed"]["alive"]["passed"] is True
