"""The benchmark's commands: each run as a subprocess in the checkout, its output in
files, its wall time and resource usage (wait4) kept, and every one remembered so
the printed log and results.json list them all."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Command:
    label: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)  # set on top of ours, shown as a prefix

    def shell(self) -> str:
        """The command as one would type it (in ROOT) to run it again."""
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        line = shlex.join(self.argv)
        return f"{prefix} {line}" if prefix else line


@dataclass
class Ran:
    command: Command
    wall_s: float
    rc: int
    stdout: str
    stderr: str
    rusage_maxrss_kib: int | None = None  # from wait4: the process and its waited-for descendants


class Runner:
    """Runs commands one at a time, in ROOT, with their output in files, and
    remembers each one (the printed log and results.json list them all)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.log: list[dict] = []
        self._n = 0

    def run(self, cmd: Command, *, phase: str, timeout: float = 1800,
            on_start=None) -> Ran:
        self._n += 1
        out_path = self.workdir / f"cmd{self._n}.stdout"
        err_path = self.workdir / f"cmd{self._n}.stderr"
        env = dict(os.environ, **cmd.env)
        if "STAMP_DIR" not in cmd.env:
            env.pop("STAMP_DIR", None)
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            began = time.monotonic()
            proc = subprocess.Popen(cmd.argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
            try:
                if on_start is not None:
                    on_start(proc)
                status, usage = _wait4(proc, timeout)
                wall = time.monotonic() - began
            finally:
                _stop(proc)
        ran = Ran(cmd, wall, os.waitstatus_to_exitcode(status), out_path.read_text(errors="replace"),
                  err_path.read_text(errors="replace"), usage.ru_maxrss)
        self.log.append({"phase": phase, "label": cmd.label, "command": cmd.shell(),
                         "wall_s": round(wall, 4), "rc": ran.rc})
        return ran


def _wait4(proc: subprocess.Popen, timeout: float):
    """Wait for ``proc`` (woken by the kernel through a pidfd) and reap it with
    wait4, which also returns its resource usage."""
    pidfd = os.pidfd_open(proc.pid)
    try:
        if not _readable(pidfd, timeout):
            raise TimeoutError(f"{shlex.join(proc.args)} did not finish within {timeout:g} s")
    finally:
        os.close(pidfd)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait for it again
    return status, usage


def _readable(fd: int, timeout: float | None) -> bool:
    import select

    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(None if timeout is None else timeout * 1000))


def _stop(proc: subprocess.Popen) -> None:
    """An interrupted or timed-out command: SIGTERM first (every contender and the
    harness then kill what they started; a second signal does not cut that short),
    SIGKILL if it does not go."""
    if proc.returncode is not None:
        return
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
