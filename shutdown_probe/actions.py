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
import threading
from typing import TYPE_CHECKING, TypedDict

from .readiness import direct_session
from .scenario import TriggerSpec
from .waiting import wait_readable

if TYPE_CHECKING:
    from .processes import CaseProcesses


class Performed(TypedDict, total=False):
    """What one action did: its request and answer, or its command and exit."""

    http: str
    method: str
    status: int
    location: str  # a 3xx's Location (never followed)
    error: str
    command: list[str]
    pid: int
    started: bool  # False: asked for after its case had ended
    returncode: int


def perform(trigger: TriggerSpec, cwd: str, env: dict[str, str], timeout: float | None = None, *,
            tree: CaseProcesses, action: str) -> Performed:
    """Run ``trigger`` once as the case's ``action`` ("trigger" or "pre-stop") and
    return what happened; never raises for the action's own failure (an app that
    dies mid-request is a normal outcome)."""
    limit = trigger.timeout if timeout is None else timeout
    if trigger.http:
        return _request(trigger.http, trigger.method, limit)
    return _command(list(trigger.command or ()), limit, cwd, env, tree, action)


def _request(url: str, method: str, limit: float) -> Performed:
    import requests  # only for HTTP actions: it costs 50 ms to import

    info: Performed = {"http": url, "method": method}
    try:
        with direct_session() as session:
            resp = session.request(method, url, timeout=limit, allow_redirects=False)
        info["status"] = resp.status_code
        if resp.is_redirect and "location" in resp.headers:
            info["location"] = resp.headers["location"]
    except requests.RequestException as exc:
        # Expected for os._exit: the process dies before it answers.
        info["error"] = type(exc).__name__
    return info


def _command(argv: list[str], limit: float, cwd: str, env: dict[str, str], tree: CaseProcesses,
             action: str) -> Performed:
    info: Performed = {"command": argv}
    try:
        handle = tree.spawn_action(argv, action, cwd, env)
    except OSError as exc:
        info["error"] = str(exc)
        return info
    if handle is None:
        info["started"] = False
        info["error"] = f"not started: the case had ended before the {action} command could start"
        return info
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
        tree.kills.kill(handle, f"the {action} command was still running after {limit:g} s")
        info["error"] = f"still running after {limit:g} s (killed)"
    popen.wait()
    tree.reaped(handle)
    if "error" not in info:
        info["returncode"] = popen.returncode
    return info


class Background:
    """An action performed on a thread of its own, so the case's wait starts at once;
    :meth:`join` hands back what it did (None if it is still running)."""

    def __init__(self, trigger: TriggerSpec, cwd: str, env: dict[str, str], *, tree: CaseProcesses,
                 action: str) -> None:
        self._done: Performed | None = None

        def run() -> None:
            self._done = perform(trigger, cwd, env, tree=tree, action=action)

        self._thread = threading.Thread(target=run, name=f"shutdown-probe-{action}", daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> Performed | None:
        self._thread.join(timeout)
        return self._done
