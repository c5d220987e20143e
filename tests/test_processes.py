"""processes.CaseProcesses: what the record of a process says about it."""

from __future__ import annotations

import subprocess
import sys

from shutdown_probe.processes import CaseProcesses


def test_the_started_process_has_its_command_line_even_while_in_execve():
    # Popen returns once execve has begun; until the kernel has copied the new argv,
    # /proc/PID/cmdline reads empty (measured: 9 reads in 10 right after Popen), and
    # a report named the root with an empty command line about 1 case in 20.
    for n in range(10):
        popen = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()", f"arg-{n}"],
                                 stdin=subprocess.PIPE)
        try:
            tree = CaseProcesses(popen, "no-tag")
            assert tree.started.cmdline.split()[-1] == f"arg-{n}", tree.started.cmdline
        finally:
            popen.stdin.close()
            popen.wait(timeout=60)
            tree.finish()
