"""The floor: the same job with nothing but ``subprocess`` and a tight loop.

    python benchmarks/contenders/bare.py --target trivial|flask --cases N --out FILE.jsonl [--stamp-dir D]

Per case: spawn the target with stdout and stderr on one pipe, read lines until the
ready regex matches, send SIGTERM, wait for the exit, close the pipe.

"noticed" is taken right after the wait returns. The wait is a poll on a pidfd (with
a timeout, so a hung target cannot hang the benchmark) followed by ``Popen.wait()``,
which then reaps at once: the kernel wakes the poll when the process exits.
``Popen.wait(timeout=...)`` is not used because it polls with sleeps of up to 50 ms.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time

from _common import TIMEOUT, CaseOutcome, Target, parse_args, run


def read_until(fd: int, pattern: re.Pattern[bytes], deadline: float) -> None:
    """Read ``fd`` until a whole line matches ``pattern``; raise on EOF or timeout."""
    pending = b""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no line matched {pattern.pattern!r} within {TIMEOUT:g} s")
        if not poller.poll(left * 1000):
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            raise EOFError(f"the target closed its output before a line matched {pattern.pattern!r}")
        *lines, pending = (pending + chunk).split(b"\n")
        if any(pattern.search(line) for line in lines):
            return


def wait_exit(proc: subprocess.Popen, timeout: float) -> int:
    """Wait for ``proc`` to exit, woken by the kernel (pidfd), and reap it."""
    pidfd = os.pidfd_open(proc.pid)
    try:
        if not select.select([pidfd], [], [], timeout)[0]:
            raise TimeoutError(f"the target did not exit within {timeout:g} s of SIGTERM")
    finally:
        os.close(pidfd)
    return proc.wait()


def one_case(target: Target, env: dict[str, str]) -> CaseOutcome:
    proc = subprocess.Popen(target.argv, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        read_until(proc.stdout.fileno(), re.compile(target.ready.encode()), time.monotonic() + TIMEOUT)
        proc.send_signal(signal.SIGTERM)
        rc = wait_exit(proc, TIMEOUT)
        noticed = time.monotonic()
        return CaseOutcome(proc.pid, noticed, rc)
    finally:
        if proc.returncode is None:  # an error or Ctrl-C half-way: leave nothing behind
            proc.kill()
            proc.wait()
        proc.stdout.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv, "bare subprocess contender")
    return run(args, one_case)


if __name__ == "__main__":
    sys.exit(main())
