"""What an interpreter does at start-up on its own, measured without the probe.

A site-packages ``.pth`` file runs at every start of its interpreter, before the probe's
``sitecustomize``: one that imports ``threading`` (directly, or through ``certifi`` or
``importlib.resources``, as a CA-injecting ``.pth`` does) makes the probe see the
threading shutdown of every process, app or not. The tests that expect no ``finalize``
event from an app that never imports threading ask this first."""

from __future__ import annotations

import functools
import os
import subprocess


@functools.cache
def imports_threading_at_start(python: str) -> bool:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHUTDOWN_PROBE_") and k != "PYTHONPATH"}
    done = subprocess.run([python, "-c", "import sys; print('threading' in sys.modules)"], env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=True)
    return done.stdout.strip() == "True"
