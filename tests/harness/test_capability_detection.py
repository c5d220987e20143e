"""What the harness detects about the machine depends on the kernel, not on $PATH.

A user's CI may run with a stripped $PATH; the detection once ran a ``true`` found
there, and without it the notes said the kernel lacked PIDFD_INFO_EXIT and that no
PID namespace was allowed. Detected with and without a $PATH, the answers must agree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support import ROOT

DETECT = ("import json; from shutdown_probe import capabilities, namespaces; "
          "caps = capabilities.capabilities().as_dict(); ns = namespaces.environment()['pid_namespace']; "
          "print(json.dumps([caps['pidfd_exit_info'], ns]))")


def detected(path: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "PATH"}
    if path is not None:
        env["PATH"] = path
    done = subprocess.run([sys.executable, "-c", DETECT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_detection_does_not_depend_on_programs_found_on_path(tmp_path):
    assert detected(str(tmp_path)) == detected(os.environ.get("PATH", os.defpath))
