"""App actions the harness performs: a scenario's triggers and a preStop hook.

Both are an HTTP call or a command, run with the app's folder and environment, so
the same relative paths and variables work in the app and in its actions.

An HTTP action is one request: a redirect is recorded (its status and ``Location``),
never followed, as ready checks and traffic do not follow them either; an answer
from another URL is not the app's answer. A command's processes are the case's
(:meth:`~shutdown_probe.processes.CaseProcesses.spawn_action`): tagged, tracked,
reported and killed like the app's, in the action's own roles.
"""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING, Any

from .readiness import direct_session
from .scenario import TriggerSpec
from .waiting import wait_readable

if TYPE_CHECKING:
    from .processes import CaseProcesses


def perform(trigger: TriggerSpec, info: dict[str, Any], cwd: str, env: dict[str, str],
            timeout: float | None = None, *, tree: CaseProcesses, action: str) -> None:
    """Run ``trigger`` once as the case's ``action`` ("trigger" or "pre-stop") and
    record in ``info`` what happened; never raises for the action's own failure (an
    app that dies mid-request is a normal outcome)."""
    limit = trigger.timeout if timeout is None else timeout
    if trigger.http:
        import requests  # only for HTTP actions: it costs 50 ms to import

        info.update(http=trigger.http, method=trigger.method)
        try:
            with direct_session() as session:
                resp = session.request(trigger.method, trigger.http, timeout=limit, allow_redirects=False)
            info["status"] = resp.status_code
            if resp.is_redirect and "location" in resp.headers:
                info["location"] = resp.headers["location"]
        except requests.RequestException as exc:
            # Expected for os._exit: the process dies before it answers.
            info["error"] = type(exc).__name__
        return
    argv = list(trigger.command or ())
    info["command"] = argv
    try:
        handle = tree.spawn_action(argv, action, cwd, env)
    except OSError as exc:
        info["error"] = str(exc)
        return
    if handle is None:
        info["started"] = False
        info["error"] = f"not started: the case had ended before the {action} command could start"
        return
    info["pid"] = handle.pid
    popen = handle.popen
    assert popen is not None
    if handle.pidfd is not None:
        wait_readable([handle.pidfd], limit)
    else:
        try:
            popen.wait(limit)
        except subprocess.TimeoutExpired:
            pass  # killed below
    if popen.poll() is None:
        tree.kill(handle, f"the {action} command was still running after {limit:g} s")
        info["error"] = f"still running after {limit:g} s (killed)"
    popen.wait()
    tree.reaped(handle)
    if "error" not in info:
        info["returncode"] = popen.returncode
