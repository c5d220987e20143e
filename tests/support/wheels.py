"""Tiny wheels written on the spot, for an offline package index (``--find-links DIR
--no-index``): the version matrix and bisect tests install them with the real
installers (uv, pip), so they need no network and always see the same versions.

A wheel is a zip (PEP 427): the module, and ``NAME-VERSION.dist-info`` with METADATA,
WHEEL and a RECORD whose hashes are right (installers check them).
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

FIXTURE = "sp_fixture_pkg"

# The fixture's behaviour by version: 1.x registers an atexit hook that prints a line,
# 2.0 and later do not (the "regression" bisect has to find).
_WITH_HOOK = '''import atexit, os, sys


def _flush():
    sys.stdout.write(f"fixture flushed (pid {os.getpid()})\\n")
    sys.stdout.flush()


def install():
    atexit.register(_flush)
'''
_WITHOUT_HOOK = '''def install():
    pass
'''


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def write_wheel(folder: Path, version: str, source: str | None = None, name: str = FIXTURE,
                requires_python: str | None = None) -> Path:
    """Write ``name``-``version`` as a pure-Python wheel in ``folder``; its module is
    ``source`` (default: the fixture's code for that version). It declares a console
    script, ``sp-fixture-version``, that prints the version: the installer writes it
    into the environment's bin/."""
    if source is None:
        source = _WITHOUT_HOOK if version.split(".")[0] >= "2" else _WITH_HOOK
    info = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    if requires_python:
        metadata += f"Requires-Python: {requires_python}\n"
    files = {
        f"{name}/__init__.py": source.encode(),
        f"{info}/METADATA": metadata.encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{name}/_version_script.py": f"def main():\n    print('{name} {version}')\n".encode(),
        f"{info}/entry_points.txt": f"[console_scripts]\nsp-fixture-version = {name}._version_script:main\n".encode(),
    }
    record = [_record_line(n, d) for n, d in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for n, d in files.items():
            z.writestr(n, d)
    return path


FIXTURE_APP = '''import os, signal, sys, time
import sp_fixture_pkg

sp_fixture_pkg.install()
sys.stdout.write(f"ready (pid {os.getpid()})\\n")
sys.stdout.flush()
while True:
    time.sleep(0.5)
'''


def write_fixture_scenario(folder: Path, expect_hook: bool = True) -> Path:
    """A scenario whose app imports the fixture and waits; on sigint the atexit hook
    of 1.x prints its line. Its expectation: the hook ran (or, with
    ``expect_hook=False``, nothing said)."""
    (folder / "fixture_app.py").write_text(FIXTURE_APP)
    expect = '\n[expect.sigint]\nran = ["flushed"]\n' if expect_hook else ""
    scenario = folder / "fixture.toml"
    scenario.write_text(
        'name = "fixture"\npaths = ["sigint"]\n\n[app]\ncommand = ["{python}", "fixture_app.py"]\n'
        'ready = { log = "ready" }\nready_timeout = 20\nstop_timeout = 5\n\n'
        '[hooks.flushed]\nlog = "fixture flushed"\n' + expect)
    return scenario
