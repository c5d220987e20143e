"""The bundled scenarios/sqlite_batch.toml end to end: what happened to the work.

A job inserts 20,000 rows in one SQLite transaction and commits in ``finally``. The
expected values are SQLite's documented atomic commit (https://www.sqlite.org/
atomiccommit.html: a transaction is all or nothing; the next connection rolls back
what a dead process left in its hot journal) with CPython's signal semantics (SIGINT
raises KeyboardInterrupt, which runs ``finally``; SIGTERM, SIGHUP and SIGKILL end the
process before any Python code runs), as measured by hand in
reports/measured-by-hand.md ("SQLite: a batch in one transaction"): 20000 rows after
SIGINT and Ctrl-C, 0 after SIGTERM, SIGHUP and SIGKILL, integrity_check "ok" each time.

The case's folder is kept, and this test opens the database itself, apart from the
scenario's checks, to see that the checks told the truth.
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

import shutdown_probe
from tests.support import SCENARIOS

SCENARIO = shutdown_probe.load_scenario(SCENARIOS / "sqlite_batch.toml")
CASES = {case.path.name: case for case in shutdown_probe.expand_cases([SCENARIO])}
ROWS = 20000
KEPT = {"sigint": ROWS, "ctrl-c": ROWS, "sigterm": 0, "sighup": 0, "sigkill": 0}


def test_the_scenario_runs_the_paths_measured_by_hand():
    assert set(CASES) == set(KEPT)


@pytest.mark.parametrize("path", list(KEPT))
def test_the_checks_find_what_sqlite_promises(path, tmp_path):
    result = shutdown_probe.run_case(CASES[path], keep_workdir=True)
    assert result.workdir is not None
    try:
        assert result.outcome == "exited", result.error
        assert result.expect.passed, result.expect.failures
        intact, kept = result.verify
        assert (intact.name, intact.passed, intact.output) == ("intact", True, "integrity_check: ok")
        assert (kept.name, kept.passed) == ("batch-kept", KEPT[path] == ROWS)
        assert kept.output == f"{KEPT[path]} of {ROWS} rows"
        # the same file, read here: the checks told the truth (the check's own open has
        # already rolled back what the job left, so this reader sees the same)
        db = Path(result.workdir) / "batch.db"
        with closing(sqlite3.connect(db)) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert conn.execute("SELECT count(*) FROM items").fetchone() == (KEPT[path],)
        assert not (Path(result.workdir) / "batch.db-journal").exists()
    finally:
        shutil.rmtree(result.workdir, ignore_errors=True)
