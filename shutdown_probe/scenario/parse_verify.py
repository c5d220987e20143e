"""The [verify] table: checks run after a case, against the state the app left.

    [verify.rows]
    command = ["{python}", "apps/check_batch.py", "rows", "{workdir}/batch.db", "20000"]
    timeout = 10           # seconds (default 10); then it is killed: an error
    # cwd = "."            # relative to the scenario file's folder
    # env = { DB = "{workdir}/batch.db" }

A check passes when its command exits 0. Its strings take the app's placeholders
(``{port}`` is the app's, ``{workdir}`` the case's folder, ``{services.NAME.port}``).
Expectations name checks in ``verified`` and ``not_verified``.
"""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Any

from .checks import Checker, seg
from .parse_app import check_executable, parse_side_process
from .specs import DEFAULT_VERIFY_TIMEOUT, VERIFY_KEYS, VerifySpec
from .templates import SERVICE_NAME_RE


def parse_verify(c: Checker, checks: dict[str, Any], base: FsPath) -> dict[str, VerifySpec]:
    """[verify], for a scenario file in folder ``base``; in file order."""
    out = {}
    for name, raw in checks.items():
        if not SERVICE_NAME_RE.fullmatch(name):
            raise c.fail(f"verify.{seg(name)}", "expected a check name of 1 to 50 letters, digits, '_' or '-'",
                         value=name)
        out[name] = _parse_check(c, name, c.table(raw, f"verify.{name}"), base)
    return out


def _parse_check(c: Checker, name: str, table: dict[str, Any], base: FsPath) -> VerifySpec:
    where = f"verify.{name}"
    c.keys(table, VERIFY_KEYS, where)
    command, cwd, env = parse_side_process(c, table, where, "check",
                                           '["{python}", "check.py", "{workdir}/app.db"]', base)
    timeout = c.seconds(table.get("timeout", DEFAULT_VERIFY_TIMEOUT), f"{where}.timeout")
    check_executable(c, command, cwd, env, base, where)
    return VerifySpec(name, command, cwd, env, timeout)
