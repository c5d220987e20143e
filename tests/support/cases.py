"""Building a scenario around a tiny target, running one case of it in process, and
reading the result's records. The expected values stay in the tests; these only save
them the plumbing."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shutdown_probe import CaseResult, Scenario, expand_cases, load_scenario, make_scenario, run_case
from shutdown_probe.errors import ScenarioError

from .folders import TARGETS

if TYPE_CHECKING:
    from shutdown_probe.results import ProcessRecord

READY_FILE = 'file = "{workdir}/ready"'


def write_scenario(tmp_path: Path, text: str, name: str = "scenario.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def load_text(tmp_path: Path, text: str) -> Scenario:
    """The scenario a TOML ``text`` makes, loaded from ``tmp_path/s.toml`` as the CLI
    loads a file (messages name it ``s.toml``)."""
    return load_scenario(write_scenario(tmp_path, text, "s.toml"), shown="s.toml")


def load_text_error(tmp_path: Path, text: str) -> ScenarioError:
    """The ScenarioError loading ``text`` raises (the test fails if none is)."""
    try:
        load_text(tmp_path, text)
    except ScenarioError as exc:
        return exc
    raise AssertionError(f"expected a ScenarioError loading:\n{text}")


def target_command(target: str, *args: str) -> list[str]:
    """The command of a case that runs ``tests/targets/TARGET WORKDIR ARGS``, as a
    scenario writes it (placeholders filled in per case)."""
    return ["{python}", str(TARGETS / target), "{workdir}", *args]


def target_toml(target: str, *args: str, paths: list[str], name: str | None = None,
                hooks: dict[str, str] | None = None, ready: str = READY_FILE,
                ready_timeout: float = 10, stop_timeout: float = 3,
                app_extra: str = "", tables: str = "") -> str:
    """The TOML text of a scenario that runs ``tests/targets/TARGET WORKDIR ARGS``.

    ``ready`` and each value of ``hooks`` are TOML key/value lines (``log = '...'``,
    ``file = "..."``); ``app_extra`` goes in ``[app]``, ``tables`` after the hooks.
    """
    lines = [
        f"name = {json.dumps(name or Path(target).stem)}",
        f"paths = {json.dumps(paths)}",
        "[app]",
        f"command = {json.dumps(target_command(target, *args))}",
        f"ready = {{ {ready} }}",
        f"ready_timeout = {ready_timeout}",
        f"stop_timeout = {stop_timeout}",
        app_extra,
    ]
    for hook, spec in (hooks or {}).items():
        lines += [f"[hooks.{hook}]", spec]
    lines.append(tables)
    return "\n".join(lines) + "\n"


def target_scenario(target: str, *args: str, name: str, **kw: Any) -> Scenario:
    """A scenario made in code (``make_scenario``) that runs
    ``tests/targets/TARGET WORKDIR ARGS``; ``kw`` are make_scenario's keywords."""
    return make_scenario(name, command=target_command(target, *args), **kw)


def run_path(sc: Scenario, path: str) -> CaseResult:
    """Run the one case of ``sc`` on ``path`` in this process."""
    cases = expand_cases([sc], [path])
    assert [c.path.name for c in cases] == [path]
    return run_case(cases[0])


def proc(result: CaseResult, role: str) -> ProcessRecord:
    """The one process record of ``role`` (fails if there are none or several)."""
    found = [p for p in result.processes if p.role == role]
    assert len(found) == 1, f"expected one {role} process, got {result.processes}"
    return found[0]


def exit_of(expected: int | signal.Signals) -> dict[str, Any]:
    """``CaseResult.exit`` for a root that exited with ``expected`` (a status or a
    signal)."""
    if isinstance(expected, signal.Signals):
        return {"returncode": None, "signal": expected.name}
    return {"returncode": expected, "signal": None}
