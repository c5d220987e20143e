"""The built-in forwarding init (``shutdown_probe/_forward_init.py``), on real processes.

It stands in for tini in ``docker run --init``: PID 1 of a new PID namespace that
forwards the stop signal to the application and reaps orphans. These tests run it
the way the harness does (``python -I -S _forward_init.py -- ...``), first as a plain
subprocess, then as PID 1 under ``unshare --pid --fork --mount-proc``.

No fixed sleeps: every wait is on an event - a line the target prints on stdout, a
pidfd becoming readable, ``Popen.wait`` - with a bound. Two exceptions: the control
showing that PID 1 ignores SIGTERM proves that something does NOT happen, so it waits
a bounded 0.5 s on a pidfd; and the zombie checks poll ``/proc`` with a backoff, since
a zombie being reaped is no event anyone outside can wait on.

Every process a test starts is tagged like the harness's own (so the leak check in
conftest.py sees it) and the ``procs`` fixture kills every tagged process it left,
whatever the outcome.
"""

from __future__ import annotations

import functools
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shutdown_probe.processes import TAG_ENV, tagged_processes
from shutdown_probe.runner import SESSION_ENV
from tests.support import ROOT

INIT = ROOT / "shutdown_probe" / "_forward_init.py"
INIT_CMD = [sys.executable, "-I", "-S", str(INIT)]
PY = [sys.executable, "-I"]
WAIT = 15.0  # bound for events that should happen within milliseconds

pytestmark = pytest.mark.timeout(60)

# A target with no signal handler at all (SIGINT back to the default too): it says
# which PID it has, then sleeps until a signal ends it.
SLEEPER = (
    "import os, signal, time\n"
    "signal.signal(signal.SIGINT, signal.SIG_DFL)\n"
    "print('ready', os.getpid(), flush=True)\n"
    "while True: time.sleep(3600)\n"
)


# --------------------------------------------------------------------------- helpers


class Lines:
    """Lines of a child's stdout pipe, each awaited with select and a bound."""

    def __init__(self, stream) -> None:
        self.fd = stream.fileno()
        self.buf = b""

    def next(self, timeout: float = WAIT) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            readable, _, _ = select.select([self.fd], [], [], max(left, 0))
            if not readable:
                raise AssertionError(f"no output line within {timeout}s (so far: {self.buf!r})")
            chunk = os.read(self.fd, 4096)
            if not chunk:
                raise AssertionError(f"stdout closed before a full line (so far: {self.buf!r})")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode()


def readable(fd: int, timeout: float) -> bool:
    return bool(select.select([fd], [], [], timeout)[0])


class Procs:
    """Starts the test's processes and kills every one of them at the end.

    Every process started carries the tag ``tag`` in its environment, and so does every
    descendant, orphans included: at the end each tagged process is SIGKILLed.
    """

    def __init__(self, tag: str, tmp_path: Path) -> None:
        self.tag = tag
        self.env = dict(os.environ, **{TAG_ENV: tag})
        self.tmp_path = tmp_path
        self.popens: list[subprocess.Popen] = []
        self.pidfds: list[int] = []

    def start(self, argv: list[str]) -> tuple[subprocess.Popen, Lines, Path]:
        """Run argv with stdout on a pipe (for readiness lines) and stderr in a file."""
        err = self.tmp_path / f"stderr-{len(self.popens)}.txt"
        with open(err, "wb") as err_fh:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=err_fh, env=self.env)
        self.popens.append(proc)
        return proc, Lines(proc.stdout), err

    def watch(self, pid: int) -> int:
        """A pidfd for a process the test did not start itself."""
        fd = os.pidfd_open(pid)
        self.pidfds.append(fd)
        return fd

    def cleanup(self) -> None:
        for proc in tagged_processes(self.tag):
            try:
                self.watch(proc.pid)
            except ProcessLookupError:
                pass
        for fd in self.pidfds:
            try:
                signal.pidfd_send_signal(fd, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for proc in self.popens:
            if proc.poll() is None:
                proc.kill()
            proc.wait(WAIT)
            proc.stdout.close()
        for fd in self.pidfds:
            readable(fd, WAIT)
            try:  # an orphan re-parented to this process (if it is a subreaper)
                os.waitid(os.P_PIDFD, fd, os.WEXITED | os.WNOHANG)
            except ChildProcessError:
                pass
            os.close(fd)


@pytest.fixture
def procs(request, tmp_path):
    p = Procs(f"{os.environ.get(SESSION_ENV, '-')}/forward-init/{request.node.name}/", tmp_path)
    try:
        yield p
    finally:
        p.cleanup()


def proc_status(pid: int | str) -> dict[str, str]:
    out = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def nspids(pid: int) -> list[int]:
    """The PID of ``pid`` in each PID namespace it belongs to, outermost first."""
    return [int(x) for x in proc_status(pid)["NSpid"].split()]


def children(pid: int) -> list[int]:
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as fh:
            out += [int(x) for x in fh.read().split()]
    return sorted(out)


def only_child(pid: int) -> int:
    kids = children(pid)
    assert len(kids) == 1, f"expected one child of {pid}, found {kids}"
    return kids[0]


def namespace_members(ns_init: int) -> dict[int, dict[str, str]]:
    """host pid -> /proc status of PID 1 of a namespace and of all its descendants
    (zombies included: they stay on their parent's children list until reaped)."""
    out = {}
    todo = [ns_init]
    while todo:
        pid = todo.pop()
        try:
            out[pid] = proc_status(pid)
            todo += children(pid)
        except (FileNotFoundError, ProcessLookupError):
            pass  # it just went away
    return out


def poll_until(check, what: str, timeout: float = WAIT):
    """Poll ``check()`` with a short backoff until it returns something truthy."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def sig_bit(mask_hex: str, sig: int) -> bool:
    return bool(int(mask_hex, 16) & (1 << (sig - 1)))


@functools.lru_cache(maxsize=None)
def _pidns_prefix() -> tuple[list[str] | None, str]:
    if shutil.which("unshare") is None:
        return None, "unshare (util-linux) is not installed"
    base = ["unshare", "--pid", "--fork", "--mount-proc"]
    try:
        probe = subprocess.run([*base, "true"], capture_output=True, text=True, timeout=WAIT)
    except subprocess.TimeoutExpired:
        return None, "`unshare --pid --fork --mount-proc true` hung"
    if probe.returncode != 0:
        return None, (f"cannot make a PID namespace here: `unshare --pid --fork --mount-proc true` "
                      f"exited {probe.returncode}: {probe.stderr.strip()}")
    # --kill-child: if the test kills unshare, the namespace's PID 1 dies with it.
    if subprocess.run([*base, "--kill-child", "true"], capture_output=True, timeout=WAIT).returncode == 0:
        base.append("--kill-child")
    return base, ""


@pytest.fixture
def pidns() -> list[str]:
    """The command prefix that runs a command as PID 1 of a new PID namespace."""
    prefix, reason = _pidns_prefix()
    if prefix is None:
        pytest.skip(reason)
    return list(prefix)


# ------------------------------------------------------------ as a plain subprocess


def test_version():
    out = subprocess.run([*INIT_CMD, "--version"], capture_output=True, text=True, timeout=WAIT)
    assert (out.returncode, out.stdout, out.stderr) == (0, "shutdown-probe forwarding init 1\n", "")


def test_forwarded_sigterm_runs_the_childs_handler(procs, tmp_path):
    marker = tmp_path / "handler-ran"
    code = (
        "import signal, sys, time\n"
        "def on_term(signum, frame):\n"
        f"    open({str(marker)!r}, 'w').write('SIGTERM')\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, on_term)\n"
        "print('ready', flush=True)\n"
        "while True: time.sleep(3600)\n"
    )
    init, out, err = procs.start([*INIT_CMD, "--", *PY, "-c", code])
    assert out.next() == "ready"
    init.send_signal(signal.SIGTERM)
    assert init.wait(WAIT) == 0
    assert marker.read_text() == "SIGTERM"
    assert err.read_text() == ""  # the init prints nothing


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1],
                         ids=lambda s: s.name)
def test_child_without_handler_dies_and_init_exits_128_plus_n(procs, sig):
    init, out, err = procs.start([*INIT_CMD, "--", *PY, "-c", SLEEPER])
    assert out.next().startswith("ready ")
    init.send_signal(sig)
    assert init.wait(WAIT) == 128 + sig
    assert err.read_text() == ""


@pytest.mark.parametrize("status", [0, 7, 255])
def test_exit_code_passes_through(procs, status):
    init, out, err = procs.start([*INIT_CMD, "--", *PY, "-c", f"raise SystemExit({status})"])
    assert init.wait(WAIT) == status
    assert err.read_text() == ""


def test_child_killed_by_sigkill_gives_137(procs):
    init, out, err = procs.start([*INIT_CMD, "--", *PY, "-c", "import os; os.kill(os.getpid(), 9)"])
    assert init.wait(WAIT) == 137


def test_exec_failure_is_127_with_one_line(procs, tmp_path):
    missing = str(tmp_path / "no-such-program")
    init, out, err = procs.start([*INIT_CMD, "--", missing, "arg"])
    assert init.wait(WAIT) == 127
    assert err.read_text() == f"shutdown-probe init: cannot run '{missing}': No such file or directory\n"


def test_exec_permission_denied_is_126(procs, tmp_path):
    script = tmp_path / "not-executable.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o644)  # no x bit at all: even root may not execute it
    init, out, err = procs.start([*INIT_CMD, "--", str(script)])
    assert init.wait(WAIT) == 126
    assert err.read_text() == f"shutdown-probe init: cannot run '{script}': Permission denied\n"


def test_child_runs_in_its_own_group_with_clean_signal_state(procs):
    """setpgid(0, 0) like tini; the init's blocked set does not leak into the child;
    every disposition is the default, even one the init's parent ignored."""
    # sh, not Python: Python ignores SIGPIPE and SIGXFSZ itself at start-up. Field 5
    # of /proc/PID/stat is the process group.
    app = ["sh", "-c", 'echo $$ $(cut -d" " -f5 /proc/$$/stat); exec grep -E "^Sig(Blk|Ign):" /proc/self/status']
    # The init's parent ignores SIGHUP (as nohup does); exec keeps ignored signals.
    argv = ["sh", "-c", 'trap "" HUP; exec "$@"', "sh", *INIT_CMD, "--", *app]
    init, out, err = procs.start(argv)
    pid, pgid = map(int, out.next().split())
    assert pgid == pid != os.getpgid(init.pid)
    lines = dict(out.next().split(":\t") for _ in range(2))
    assert init.wait(WAIT) == 0
    expected_blocked = proc_status("thread-self")["SigBlk"]  # what Popen children inherit
    # Except the signals the C library keeps for itself (glibc: 32 and 33, outside
    # signal.valid_signals()), which neither Python nor glibc's sigaction() will set: one
    # this process ignores stays ignored down the line (a pytest-xdist worker on 3.13
    # ignores 32).
    reserved = sum(1 << (n - 1) for n in range(1, signal.NSIG) if n not in signal.valid_signals())
    expected_ignored = int(proc_status("self")["SigIgn"], 16) & reserved
    assert lines == {"SigBlk": expected_blocked, "SigIgn": f"{expected_ignored:016x}"}


def test_init_exits_with_main_child_even_if_a_grandchild_still_runs(procs):
    code = (
        "import os, signal\n"
        "if os.fork() == 0:\n"
        "    print('grandchild', os.getpid(), flush=True)\n"
        "    while True: signal.pause()\n"
        "raise SystemExit(5)\n"
    )
    init, out, err = procs.start([*INIT_CMD, "--", *PY, "-c", code])
    grandchild = int(out.next().split()[1])
    fd = procs.watch(grandchild)
    assert init.wait(WAIT) == 5
    assert not readable(fd, 0), "the grandchild should still be running"


# A main child that forks a helper in its process group. The helper takes SIGTERM with
# sigwaitinfo and reports who sent it: the init (forwarding to the group) or the test.
GROUP_TARGET = (
    "import os, signal\n"
    "r, w = os.pipe()\n"
    "if os.fork() == 0:\n"
    "    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})\n"
    "    print('helper', os.getpid(), os.getpgrp(), flush=True)\n"
    "    os.write(w, b'x')\n"
    "    info = signal.sigwaitinfo({signal.SIGTERM})\n"
    "    print('helper got SIGTERM from', info.si_pid, flush=True)\n"
    "    os._exit(0)\n"
    "os.read(r, 1)\n"
    "print('app', os.getpid(), os.getpgrp(), flush=True)\n"
    "while True: signal.pause()\n"
)


@pytest.mark.parametrize("group", [False, True], ids=["child-only", "group"])
def test_group_flag_forwards_to_the_whole_process_group(procs, group):
    flags = ["--group"] if group else []
    init, out, err = procs.start([*INIT_CMD, *flags, "--", *PY, "-c", GROUP_TARGET])
    _, helper, helper_pgid = out.next().split()
    _, app, app_pgid = out.next().split()
    assert helper_pgid == app_pgid == app
    helper_fd = procs.watch(int(helper))

    init.send_signal(signal.SIGTERM)
    assert init.wait(WAIT) == 143  # the main child died by SIGTERM either way
    if group:
        assert out.next() == f"helper got SIGTERM from {init.pid}"
        assert readable(helper_fd, WAIT)
    else:
        # The helper has seen no SIGTERM: the first one it reports is the test's.
        signal.pidfd_send_signal(helper_fd, signal.SIGTERM)
        assert out.next() == f"helper got SIGTERM from {os.getpid()}"
    assert err.read_text() == ""


# --------------------------------------------------------- as PID 1 of a namespace


def test_as_pid1_sigterm_is_forwarded_and_the_app_dies(procs, pidns):
    unshare, out, err = procs.start([*pidns, *INIT_CMD, "--", *PY, "-c", SLEEPER])
    assert out.next() == "ready 2"  # the app is PID 2; the init is PID 1
    init = only_child(unshare.pid)
    init_fd = procs.watch(init)
    assert nspids(init) == [init, 1]
    app = only_child(init)
    app_fd = procs.watch(app)
    assert nspids(app) == [app, 2]

    os.kill(init, signal.SIGTERM)  # from outside, as `docker stop` does
    assert readable(app_fd, WAIT), "the app did not die of the forwarded SIGTERM"
    assert readable(init_fd, WAIT)
    assert unshare.wait(WAIT) == 143  # unshare --fork exits with PID 1's status
    assert err.read_text() == ""


def test_without_init_pid1_ignores_sigterm(procs, pidns):
    """The control: the same app as PID 1 itself. It has no SIGTERM handler, so the
    kernel drops the signal - `docker stop` then waits and SIGKILLs."""
    unshare, out, err = procs.start([*pidns, *PY, "-c", SLEEPER])
    assert out.next() == "ready 1"
    app = only_child(unshare.pid)
    app_fd = procs.watch(app)
    assert nspids(app) == [app, 1]
    assert not sig_bit(proc_status(app)["SigCgt"], signal.SIGTERM)  # no handler

    os.kill(app, signal.SIGTERM)
    assert not readable(app_fd, 0.5), "PID 1 without a handler died of SIGTERM"
    status = proc_status(app)
    # Dropped, not merely pending.
    assert not sig_bit(status["SigPnd"], signal.SIGTERM)
    assert not sig_bit(status["ShdPnd"], signal.SIGTERM)

    signal.pidfd_send_signal(app_fd, signal.SIGKILL)
    assert readable(app_fd, WAIT)
    unshare.wait(WAIT)  # its status is not asserted: util-linux 2.38 reports PID 1's SIGKILL as 1


# The app (main child) forks a middle process, which forks the orphan-to-be and exits
# once the orphan holds a pidfd on it; the app reaps the middle. The orphan waits for
# the middle's exit (it is re-parented by then), reports its PID and new parent, exits.
ORPHAN_TARGET = (
    "import os, select, signal\n"
    "middle = os.fork()\n"
    "if middle == 0:\n"
    "    me = os.getpid()\n"
    "    r, w = os.pipe()\n"
    "    if os.fork() == 0:\n"
    "        fd = os.pidfd_open(me)\n"
    "        os.write(w, b'x')\n"
    "        select.select([fd], [], [])\n"
    "        print('orphan', os.getpid(), 'ppid', os.getppid(), flush=True)\n"
    "        os._exit(0)\n"
    "    os.read(r, 1)\n"
    "    os._exit(0)\n"
    "os.waitpid(middle, 0)\n"
    "print('app', os.getpid(), flush=True)\n"
    "while True: signal.pause()\n"
)


def _run_orphan_target(procs, argv):
    unshare, out, err = procs.start(argv)
    lines = {}
    for _ in range(2):
        kind, pid, *rest = out.next().split()
        lines[kind] = (int(pid), rest)
    pid1 = only_child(unshare.pid)
    procs.watch(pid1)
    assert nspids(pid1)[-1] == 1
    orphan_nspid, rest = lines["orphan"]
    assert rest == ["ppid", "1"], "the orphan was not re-parented to PID 1"
    return unshare, pid1, lines["app"][0], orphan_nspid


def test_as_pid1_orphans_are_reaped(procs, pidns):
    unshare, init, app_nspid, orphan_nspid = _run_orphan_target(
        procs, [*pidns, *INIT_CMD, "--", *PY, "-c", ORPHAN_TARGET])
    assert app_nspid == 2

    def only_init_and_app_left():
        members = namespace_members(init)
        states = {int(s["NSpid"].split()[-1]): s["State"][0] for s in members.values()}
        return states if states == {1: "S", 2: "S"} else None

    poll_until(only_init_and_app_left, f"the orphan (PID {orphan_nspid} in the namespace) to be reaped")
    only_child(init)  # the app, and nothing else


def test_without_init_orphans_stay_zombies(procs, pidns):
    """The control for the reaping test: an app as PID 1 that never reaps what it
    inherited. It shows the check above would see a zombie if there were one."""
    unshare, app, app_nspid, orphan_nspid = _run_orphan_target(procs, [*pidns, *PY, "-c", ORPHAN_TARGET])
    assert app_nspid == 1

    def orphan_is_zombie_of_pid1():
        for pid, status in namespace_members(app).items():
            if int(status["NSpid"].split()[-1]) == orphan_nspid:
                return status["State"][0] == "Z" and int(status["PPid"]) == app
        return False

    poll_until(orphan_is_zombie_of_pid1, "the orphan to be a zombie of PID 1")
