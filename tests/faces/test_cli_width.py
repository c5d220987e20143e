"""The matrix as the CLI prints it: piped, at $COLUMNS, at --width, from saved results
of real runs and from a real run; and `report` printing what was asked.

Saved results: ``tests/data/wide.json`` (how it was made: ``tests/unit/test_terminal_layout.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys

from rich.cells import cell_len

from tests.support import DATA, ROOT, SCENARIOS, run_cli

WIDE = DATA / "wide.json"


def piped(*args: str, columns: str | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m shutdown_probe ARGS`` with stdout a pipe, $COLUMNS as given (unset: None)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    if columns is not None:
        env["COLUMNS"] = columns
    return subprocess.run([sys.executable, "-m", "shutdown_probe", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def widest(text: str) -> int:
    return max(cell_len(line.rstrip()) for line in text.splitlines())


def test_piped_output_is_laid_out_for_200_columns():
    done = piped("report", str(WIDE))
    assert done.returncode == 0, done.stderr
    assert 120 < widest(done.stdout) <= 200
    # celery-prefork's hooks do not fit 200 columns by their names: keys, named under it
    assert "h7 = atexit:multiprocessing.util._exit_function" in done.stdout
    assert done.stdout == run_cli("report", str(WIDE), "--width", "200").stdout


def test_columns_and_width_narrow_it():
    at_80 = piped("report", str(WIDE), columns="80")
    assert at_80.returncode == 0, at_80.stderr
    assert widest(at_80.stdout) <= 80
    lines = [line.rstrip() for line in at_80.stdout.splitlines()]
    assert "  atexit:multiprocessing.util._exit_function  ✓ master" in lines  # celery: a list per path
    assert piped("report", str(WIDE), "--width", "80", columns="200").stdout == at_80.stdout


def test_report_with_files_prints_what_it_wrote(tmp_path):
    md, html = tmp_path / "r.md", tmp_path / "r.html"
    done = run_cli("report", str(WIDE), "--markdown", str(md), "--html", str(html))
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"wrote {md} (markdown)\nwrote {html} (html)\n"
    assert md.read_text().startswith("## celery-prefork")


def test_a_real_run_at_60_columns(tmp_path):
    """sqlite-batch, SIGTERM: a hook, two [verify] checks; at 60 columns every line fits
    and every word of the check's answer is whole."""
    done = piped("run", str(SCENARIOS / "sqlite_batch.toml"), "--path", "sigterm", "--width", "60", "-q")
    assert done.returncode == 0, done.stderr
    assert widest(done.stdout) <= 60
    flat = " ".join(line.strip(" │┃") for line in done.stdout.splitlines())
    for word in ("integrity_check:", "20000", "rows", "verify:batch-kept", "SIGTERM"):
        assert word in flat, done.stdout
