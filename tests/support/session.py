"""This test session's tag. Every harness the session starts (in process or as a CLI
subprocess, which inherits the environment) tags its targets with it, so the leak
check in tests/conftest.py sees exactly this session's processes and never another
run's on the same machine. Under xdist each worker is its own session."""

from __future__ import annotations

import os
import uuid

from shutdown_probe.runner import SESSION_ENV

SESSION = f"pytest-{os.getpid()}-{uuid.uuid4().hex[:6]}"
os.environ[SESSION_ENV] = SESSION
