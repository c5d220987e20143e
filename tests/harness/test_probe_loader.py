"""The probe's loader (shutdown_probe/_probe_site/loader/sitecustomize.py) and the run's
cache of compiled probe code (shutdown_probe/probecode.py), in real interpreters.

Whether a start ran the cached code or compiled the source is told by a marker: the
cached code of some tests is the probe's source compiled with one more line, which
creates a file. The source on disk never creates it.
SHUTDOWN_PROBE_TEST_PYTHON runs the targets with another interpreter (3.8+).
"""

from __future__ import annotations

import json
import marshal
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from shutdown_probe import probecode
from shutdown_probe.probe import CODE_ENV, EVENTS_ENV, PROBE_DIR, probe_env, without_probe
from tests.support.interpreters import imports_threading_at_start

PYTHON = os.environ.get("SHUTDOWN_PROBE_TEST_PYTHON", sys.executable)
TAG = subprocess.run([PYTHON, "-c", "import sys; print(sys.implementation.cache_tag)"], capture_output=True,
                     text=True, check=True).stdout.strip()
KEY = "k" * 20


def env_for(events: Path, prefix: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHUTDOWN_PROBE_") and k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(PROBE_DIR), PYTHONDONTWRITEBYTECODE="1", **{EVENTS_ENV: str(events)})
    if prefix is not None:
        env[CODE_ENV] = prefix
    return env


def start(env: dict[str, str], code: str = "pass", *, python: str = PYTHON) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def probe_ran(events: Path) -> bool:
    return events.exists() and [json.loads(x)["ev"] for x in events.read_text().splitlines()][0] == "start"


def cache(tmp_path: Path, mode: int = 0o700) -> Path:
    folder = tmp_path / "cache"
    folder.mkdir()
    folder.chmod(mode)
    (folder / f"{KEY}.py").write_bytes(probecode.SOURCE.read_bytes())
    (folder / f"{KEY}.py").chmod(0o600)
    return folder


def marked_code(marker: Path) -> bytes:
    """What the target's Python would cache, from the source plus a line that creates ``marker``."""
    source = probecode.SOURCE.read_text() + f"\nopen({str(marker)!r}, 'w').close()\n"
    out = subprocess.run([PYTHON, "-c", "import marshal, sys; sys.stdout.buffer.write(marshal.dumps("
                          "compile(sys.stdin.read(), 'probe', 'exec')))"], input=source.encode(),
                         capture_output=True, check=True).stdout
    return probecode.MAGIC + out


def test_a_start_without_bytecode_compiles_once_then_runs_the_cached_code(tmp_path):
    folder, events, marker = cache(tmp_path), tmp_path / "events.jsonl", tmp_path / "marker"
    env = env_for(events, str(folder / KEY))
    first = start(env)
    assert first.returncode == 0, first.stderr
    assert probe_ran(events)
    cached = folder / f"{KEY}.{TAG}"
    assert cached.read_bytes().startswith(probecode.MAGIC)
    assert stat.S_IMODE(cached.stat().st_mode) == 0o600
    assert sorted(p.name for p in folder.iterdir()) == sorted([f"{KEY}.py", cached.name])  # no temporary left
    cached.write_bytes(marked_code(marker))
    events.unlink()
    second = start(env)
    assert second.returncode == 0, second.stderr
    assert marker.exists(), "the second start compiled the source instead of loading the cache"
    assert probe_ran(events)


def test_no_cache_env_compiles_the_source(tmp_path):
    events = tmp_path / "events.jsonl"
    done = start(env_for(events, None), "import sys; print(sys.modules['sitecustomize'].__file__)")
    assert done.returncode == 0, done.stderr
    assert probe_ran(events)
    assert done.stdout.strip() == str(PROBE_DIR / "sitecustomize.py")


@pytest.mark.parametrize("how", ["folder open to others", "file writable by others", "file is a symlink",
                                 "other owner"])
def test_code_others_could_have_planted_is_not_run(tmp_path, how):
    folder = cache(tmp_path, 0o777 if how == "folder open to others" else 0o700)
    events, marker = tmp_path / "events.jsonl", tmp_path / "marker"
    cached = folder / f"{KEY}.{TAG}"
    if how == "file is a symlink":
        elsewhere = tmp_path / "elsewhere"
        elsewhere.write_bytes(marked_code(marker))
        elsewhere.chmod(0o600)
        cached.symlink_to(elsewhere)
    else:
        cached.write_bytes(marked_code(marker))
        cached.chmod(0o666 if how == "file writable by others" else 0o600)
    if how == "other owner":
        if os.geteuid() != 0:
            pytest.skip("giving a file to another user needs root")
        os.chown(folder, 65534, 65534)
    done = start(env_for(events, str(folder / KEY)))
    assert done.returncode == 0, done.stderr
    assert not marker.exists()
    assert probe_ran(events)  # compiled from the source instead


@pytest.mark.parametrize("content", [b"", b"garbage", probecode.MAGIC + b"\xff\x00garbage", probecode.MAGIC,
                                     probecode.MAGIC + marshal.dumps(12)])
def test_a_corrupt_cache_file_is_compiled_over(tmp_path, content):
    folder, events = cache(tmp_path), tmp_path / "events.jsonl"
    cached = folder / f"{KEY}.{TAG}"
    cached.write_bytes(content)
    cached.chmod(0o600)
    done = start(env_for(events, str(folder / KEY)))
    assert done.returncode == 0, done.stderr
    assert probe_ran(events)


def test_the_harness_cache_is_private_precompiled_and_leaves_the_harness_env_alone(tmp_path):
    env = probe_env({"PATH": os.environ["PATH"]}, str(tmp_path / "events.jsonl"), None)
    prefix = env[CODE_ENV]
    folder = Path(prefix).parent
    st = folder.lstat()
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == os.geteuid()
    assert Path(prefix + ".py").read_bytes() == probecode.SOURCE.read_bytes()
    assert Path(f"{prefix}.{sys.implementation.cache_tag}").read_bytes().startswith(probecode.MAGIC)
    assert CODE_ENV not in without_probe(env)
    done = start(dict(env, PYTHONDONTWRITEBYTECODE="1"))
    assert done.returncode == 0 and probe_ran(tmp_path / "events.jsonl")


def test_the_probe_imports_threading_only_when_the_app_does(tmp_path):
    events = tmp_path / "events.jsonl"
    python = PYTHON
    if imports_threading_at_start(python):
        # a site-packages .pth file imports it at every start (as a CA-injecting one does):
        # the same interpreter in a venv of its own runs none of them
        subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True, timeout=120,
                       capture_output=True)
        python = str(tmp_path / "venv" / "bin" / "python")
        assert not imports_threading_at_start(python)
    alone = start(env_for(events, None), "import sys; print('threading' in sys.modules)", python=python)
    assert alone.stdout.strip() == "False", alone.stderr
    evs = [json.loads(x)["ev"] for x in events.read_text().splitlines()]
    assert "finalize" not in evs and evs[-1] == "atexit-done"
    events.unlink()
    app = start(env_for(events, None), "import threading, atexit; atexit.register(print)")
    assert app.returncode == 0, app.stderr
    lines = [json.loads(x) for x in events.read_text().splitlines()]
    finalize = [e for e in lines if e["ev"] == "finalize"]
    assert len(finalize) == 1 and finalize[0]["caller"] is None
    evs = [e["ev"] for e in lines]
    assert evs.index("finalize") < evs.index("hook-start")
