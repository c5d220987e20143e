"""What the faces import before they need it.

A command pays for every module it imports, compiled from source on every run where
bytecode cannot be written (PYTHONDONTWRITEBYTECODE=1, an installation without
caches). ``check`` of a scenario without a log regex, the CLI's entry and the pytest
plugin's entry module must not import rich, the renderers, regex, psutil or requests:
each is checked in a fresh interpreter's ``sys.modules``. (The time itself is
measured by ``benchmarks/pytest_startup.py`` and ``python -X importtime``.)
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

HEAVY = ("rich", "regex", "psutil", "requests", "shutdown_probe.render.terminal", "shutdown_probe.render.html",
         "shutdown_probe.render.markdown", "shutdown_probe.render.compat", "shutdown_probe.runner")

SCENARIO = """\
name = "plain"
paths = ["sigterm"]

[app]
command = ["{python}", "-c", "import time; time.sleep(60)"]
ready = { delay = 0.1 }
"""


def imported_by(code: str, cwd: Path) -> set[str]:
    """The modules in ``sys.modules`` after ``code`` ran in a fresh interpreter."""
    probe = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run([sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_check_imports_no_renderer_no_rich_no_regex(tmp_path):
    (tmp_path / "plain.toml").write_text(SCENARIO)
    code = textwrap.dedent("""\
        from shutdown_probe.cli import main
        assert main(["check", "plain.toml"]) == 0
        """)
    modules = imported_by(code, tmp_path)
    assert "shutdown_probe.scenario" in modules  # it did load the file
    assert heavy_in(modules) == []


def test_the_cli_and_the_plugin_entry_import_nothing_heavy(tmp_path):
    modules = imported_by("import shutdown_probe.cli, shutdown_probe.pytest_plugin", tmp_path)
    assert heavy_in(modules) == []
    assert "shutdown_probe.scenario" not in modules and "shutdown_probe.pytest_cases" not in modules


def test_render_text_does_not_import_the_renderers(tmp_path):
    # every error line goes through render.text.clean_line
    modules = imported_by("from shutdown_probe.render.text import clean_line", tmp_path)
    assert heavy_in(modules) == []
