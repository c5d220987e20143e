"""This test session's tag. Every harness the session starts (in process or as a CLI
subprocess, which inherits the environment) tags its targets with it, so the leak
check in tests/conftest.py sees exactly this session's processes and never another
run's on the same machine.

Under pytest-xdist (the default, see pyproject.toml) each worker is its own session,
tagged below the controller's: ``<controller tag>-gw0``. A worker's tests check their own
tag; the controller, when every worker has finished, checks every tag that starts with
its own, so a leak no worker reported still fails the run."""

from __future__ import annotations

import os
import uuid

from shutdown_probe.runner import SESSION_ENV

_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
_CONTROLLER = os.environ.get(SESSION_ENV, "")
if _WORKER and _CONTROLLER.startswith("pytest-"):
    SESSION = f"{_CONTROLLER}-{_WORKER}"
else:
    SESSION = f"pytest-{os.getpid()}-{uuid.uuid4().hex[:6]}"
os.environ[SESSION_ENV] = SESSION
