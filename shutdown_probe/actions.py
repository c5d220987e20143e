"""App actions the harness performs: a scenario's triggers and a preStop hook.

Both are an HTTP call or a command, run with the app's folder and environment, so
the same relative paths and variables work in the app and in its actions.
"""

from __future__ import annotations

import subprocess
from typing import Any

from .readiness import direct_session
from .scenario import TriggerSpec


def perform(trigger: TriggerSpec, info: dict[str, Any], cwd: str, env: dict[str, str],
            timeout: float | None = None) -> None:
    """Run ``trigger`` once and record in ``info`` what happened; never raises for
    the action's own failure (an app that dies mid-request is a normal outcome)."""
    limit = trigger.timeout if timeout is None else timeout
    if trigger.http:
        import requests  # only for HTTP actions: it costs 50 ms to import

        info.update(http=trigger.http, method=trigger.method)
        try:
            with direct_session() as session:
                resp = session.request(trigger.method, trigger.http, timeout=limit)
            info["status"] = resp.status_code
        except requests.RequestException as exc:
            # Expected for os._exit: the process dies before it answers.
            info["error"] = type(exc).__name__
    else:
        info["command"] = list(trigger.command or ())
        try:
            done = subprocess.run(list(trigger.command or ()), stdin=subprocess.DEVNULL, cwd=cwd, env=env,
                                  capture_output=True, timeout=limit)
            info["returncode"] = done.returncode
        except subprocess.TimeoutExpired:
            info["error"] = f"still running after {limit:g} s (stopped)"
        except OSError as exc:
            info["error"] = str(exc)
