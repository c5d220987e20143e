"""Processes re-parented to the harness without a tag, when several cases run at once.

The target (tests/targets/hostile.py exec-daemon) double-forks a daemon that calls
setsid() and execs /bin/sleep with an empty environment: no tag, not in its case's
session, its parent gone. It writes the daemon's pid in its workdir, so every check
here reads the pids the targets wrote and looks at /proc for them directly (the
session's leak check only sees tagged processes).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.support import ROOT, TARGETS, running, tie_of, write_scenario
from shutdown_probe.waiting import wait_readable
from shutdown_probe import expand_cases, run_cases
from shutdown_probe.render.cells import orphans_cell
from shutdown_probe.results import CaseResult, Results
from shutdown_probe.scenario import make_scenario

HOSTILE = TARGETS / "hostile.py"


def daemon_of(workdir: str) -> int:
    for line in (Path(workdir) / "pids").read_text().splitlines():
        role, pid, _pgid, _sid = line.split()
        if role == "daemon":
            return int(pid)
    raise AssertionError(f"no daemon in {workdir}/pids")


def kill_left(pids) -> list[int]:
    """SIGKILL those of ``pids`` still running (so a failure leaks nothing); return them."""
    left = [pid for pid in pids if running(pid)]
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return left


@pytest.mark.timeout(120)
def test_daemons_of_parallel_cases_holding_their_output_go_each_to_its_own_case(tmp_path):
    """The issue's run: three cases at once (--jobs 3), each target's daemon started
    before ready. Each daemon still holds its case's stdout: that ties it to that case
    and to no other, whichever case's thread sees it first."""
    path = write_scenario(tmp_path, f'''
paths = ["sigterm", "sighup", "sigint"]
[app]
command = ["{{python}}", "{HOSTILE}", "{{workdir}}", "exec-daemon"]
ready = {{ file = "{{workdir}}/ready" }}
stop_timeout = 1
''')
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-m", "shutdown_probe", "run", str(path), "--jobs", "3", "--json",
                           str(out), "--keep-workdirs", "--quiet"], cwd=ROOT, capture_output=True, text=True,
                          timeout=100, stdin=subprocess.DEVNULL)
    results = Results.from_dict(json.loads(out.read_text()))
    daemons = {}
    try:
        assert len(results.cases) == 3, done.stderr
        daemons = {c.path: daemon_of(c.workdir) for c in results.cases}
        assert kill_left(daemons.values()) == [], "a daemon outlived the run"
        for case in results.cases:
            mine = daemons[case.path]
            # its pipe ties it to its case, and to no other; a look that saw it earlier
            # (its tag before its execve, the session of its parent) says the same case
            [rec] = [p for p in case.processes if p.pid == mine]
            assert rec.killed_by_harness and tie_of(rec) is not None, (rec.role, rec.attributed_by)
            assert all(mine not in {p.pid for p in c.processes} for c in results.cases if c is not case)
            assert [(o.pid, o.killed_by_harness) for o in case.orphans] == [(mine, True)]
            assert case.strays == []
            assert orphans_cell(case) != "-"
    finally:
        kill_left(daemons.values())
        for case in results.cases:
            shutil.rmtree(case.workdir, ignore_errors=True)


def barrier(sock_path: Path, n: int) -> threading.Thread:
    """A Unix socket that answers every one of ``n`` connections once all are in."""
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    server.listen(n)

    def serve() -> None:
        conns = []
        try:
            server.settimeout(60)
            for _ in range(n):
                conns.append(server.accept()[0])
            for conn in conns:
                conn.sendall(b"!")
        finally:
            for conn in conns:
                conn.close()
            server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


@pytest.mark.timeout(120)
def test_a_daemon_no_case_can_be_known_to_own_is_killed_and_shown_on_every_case_that_may_own_it(tmp_path):
    """Two cases at once; each target waits at a barrier until both roots run, then
    starts a daemon that let go of its output. Each daemon then started while both
    cases ran, and nothing ties it to either: the harness cannot know whose it is. It
    must kill both, claim neither for one case, and show each on both."""
    sock = tmp_path / "barrier"
    meet = barrier(sock, 2)
    sc = make_scenario("meet", command=["{python}", str(HOSTILE), "{workdir}", "exec-daemon", "quiet",
                                        "meet", str(sock)],
                       ready={"file": "{workdir}/ready"}, paths=["sigterm"], ready_timeout=60, stop_timeout=1)
    cases = expand_cases([sc], ["sigterm"], repeat=2)
    results = run_cases(cases, jobs=2, keep_workdirs=True)
    meet.join(5)
    daemons: dict[str, int] = {}
    try:
        assert [c.outcome for c in results.cases] == ["exited", "exited"], [c.error for c in results.cases]
        daemons = {f"meet::{c.label}": daemon_of(c.workdir) for c in results.cases}
        assert kill_left(daemons.values()) == [], "a daemon outlived its cases"
        for case in results.cases:
            assert {s.pid for s in case.strays} == set(daemons.values())
            for stray in case.strays:
                assert sorted(stray.cases) == sorted(daemons)
                assert stray.killed_by_harness and stray.cmdline == "sleep 1000"
            # never claimed for one case: not a process, not an orphan of either
            assert not {p.pid for p in case.processes} & set(daemons.values())
            assert case.orphans == []
            assert "stray" in orphans_cell(case)
        # the record survives the JSON round trip
        again = CaseResult.from_dict(json.loads(json.dumps(results.cases[0].to_dict())))
        assert again.strays == results.cases[0].strays
    finally:
        kill_left(daemons.values())
        for case in results.cases:
            shutil.rmtree(case.workdir, ignore_errors=True)


def test_a_stray_is_recorded_once_even_when_a_second_thread_finds_it_after_the_kill():
    """Issue 18 review, item 4: the same process (pid and start time) settled again
    after the first settle finished was recorded a second time, as not killed."""
    from shutdown_probe import adoption

    child = subprocess.Popen(["sleep", "1000"], stdin=subprocess.DEVNULL)
    try:
        st = adoption.stat(child.pid)
        assert st is not None
        strays: list = []
        window = adoption.Window("case-x", "tag-x", adoption.boottime(), frozenset(), strays)
        verdict = adoption.Verdict(None, [window], "2 cases were running when it started")
        kills = []

        def kill() -> bool:
            kills.append(child.pid)
            child.kill()
            child.wait()
            return True

        adoption.settle(child.pid, st, verdict, "sleep 1000", [], kill)
        adoption.settle(child.pid, st, verdict, "", [], kill)  # found again, later
        assert kills == [child.pid]
        assert [(s.pid, s.cmdline, s.killed_by_harness) for s in strays] == [(child.pid, "sleep 1000", True)]
    finally:
        kill_left([child.pid])
        child.wait()


def test_a_zombie_another_running_case_knows_is_left_for_it_to_reap():
    """Issue 18 review, item 1: case A's look at the harness's children reaped a
    zombie case B had seen end but not yet reaped, and B lost its exit status."""
    from shutdown_probe import adoption, strays

    child = subprocess.Popen([sys.executable, "-c", "raise SystemExit(7)"], start_new_session=True,
                             stdin=subprocess.DEVNULL)
    fd = os.pidfd_open(child.pid)
    try:
        assert wait_readable([fd], 60)  # it ended; nobody reaped it: a zombie
        a = adoption.Window("case-a", "tag-a", 0.0, frozenset(), [])
        b = adoption.Window("case-b", "tag-b", 0.0, frozenset(), [], known=lambda: {child.pid})
        look = adoption.Look([child.pid], set(), [a, b])
        assert strays.find_strays(look, set(), a) == {}
        # still there to be reaped, with its status, by its owner
        info = os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        assert info is not None and info.si_status == 7
        assert a.strays == b.strays == []
    finally:
        os.close(fd)
        child.wait()


def test_a_process_naming_itself_like_the_watchdog_is_still_a_cases():
    """Issue 18 review, item 7: any process called ``sp-watchdog`` (prctl PR_SET_NAME,
    no privilege needed) was skipped by the harness's look. A watchdog is recognised
    by its command line too (python -I -S .../_watchdog.py), or as the harness's own."""
    from shutdown_probe import adoption, strays

    code = ("import ctypes, sys; ctypes.CDLL(None).prctl(15, ctypes.c_char_p(b'sp-watchdog'), 0, 0, 0); "
            "print('named', flush=True); sys.stdin.read()")
    child = subprocess.Popen([sys.executable, "-c", code], start_new_session=True, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline() == b"named\n"
        window = adoption.Window("case-a", "tag-a", 0.0, frozenset(), [])
        look = adoption.Look([child.pid], set(), [window])
        assert strays.find_strays(look, set(), window) == {child.pid: "start time: the only case running when it started"}
    finally:
        child.stdin.close()
        child.stdout.close()
        child.wait(timeout=60)


def test_killing_a_stray_kills_what_it_started_too():
    """Issue 18 review, item 3: only the stray itself was killed; its children were
    re-parented to the harness after the look that found it, and nothing looked again."""
    from shutdown_probe import adoption, kills
    from shutdown_probe.processes import capabilities

    capabilities()  # the test process becomes a subreaper, as the harness is
    code = ("import subprocess, sys\n"
            "kid = subprocess.Popen(['sleep', '1000'])\n"
            "print(kid.pid, flush=True)\n"
            "sys.stdin.read()\n")
    stray = subprocess.Popen([sys.executable, "-c", code], start_new_session=True, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
    kid = int(stray.stdout.readline())
    kid_fd = os.pidfd_open(kid)
    try:
        st = adoption.stat(stray.pid)
        assert kills.kill_and_reap(stray.pid, st.start)
        assert adoption.stat(stray.pid) is None  # killed and reaped
        # killed too, and reaped by the harness it was re-parented to (a zombie left
        # would still have a /proc entry)
        assert wait_readable([kid_fd], 30), "the stray's child outlived it"
        assert adoption.stat(kid) is None
    finally:
        os.close(kid_fd)
        kill_left([kid])
        stray.stdin.close()
        stray.stdout.close()
        stray.wait()
