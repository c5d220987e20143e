"""GitHub Actions: the matrix in the job summary, an error annotation per failure.

On a GitHub Actions runner (``GITHUB_ACTIONS=true``) the CLI and the pytest plugin
append the Markdown matrix to the file ``GITHUB_STEP_SUMMARY`` names, and print one
workflow command per failed expectation::

    ::error file=scenarios/app.toml,line=12,title=shutdown-probe app%3A%3Asigterm::expected outcome exited, got hung

pointing at the ``[expect.PATH]`` (or ``[expect.all]``) key that stated it, found in
the scenario file's text (:mod:`shutdown_probe.tomllines`); a ``--fail-on`` finding
and a case that did not run to the end point at the path's table, or at the file.
Values are escaped as the runner reads workflow commands: ``%``, CR and LF in the
message; those and ``:`` and ``,`` in a property.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from .reading import read_regular
from .results import CaseResult, FailedKey, Results
from .tomllines import key_lines

__all__ = ["error_commands", "escape_data", "escape_property", "on_github", "write_summary"]

# GitHub refuses a step summary past 1 MiB; the matrix is cut well before, and says so
SUMMARY_MAX_CHARS = 512 * 1024
_SCENARIO_MAX_BYTES = 1 << 20  # the loader's limit (scenario.MAX_FILE_BYTES)


def on_github(env: Mapping[str, str] | None = None) -> bool:
    """Whether this runs in a GitHub Actions job."""
    return (env if env is not None else os.environ).get("GITHUB_ACTIONS") == "true"


def escape_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF escaped."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: as a message, and ``:`` and ``,`` too."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def write_summary(results: Results, env: Mapping[str, str] | None = None) -> str | None:
    """Append the matrix to ``$GITHUB_STEP_SUMMARY``; None when done or not asked for,
    else why it could not be written (one line)."""
    from .render.markdown import format_markdown

    target = (env if env is not None else os.environ).get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    text = format_markdown(results, details=False)
    if len(text) > SUMMARY_MAX_CHARS:
        text = text[:SUMMARY_MAX_CHARS] + "\n\n_(cut: the matrix is longer than a job summary takes)_\n"
    try:  # appended: other steps of the job write their own parts of the summary
        with open(target, "a", encoding="utf-8") as f:
            f.write("# shutdown-probe\n\n" + text + "\n")
    except OSError as exc:
        return f"GITHUB_STEP_SUMMARY {target}: {exc.strerror or exc}"
    return None


def error_commands(results: Results, env: Mapping[str, str] | None = None) -> list[str]:
    """One ``::error`` workflow command per failure of every failed case."""
    workspace = (env if env is not None else os.environ).get("GITHUB_WORKSPACE", "")
    files: dict[str, _ScenarioFile] = {}
    out = []
    for case in results.cases:
        if not case.failed or case.outcome == "skipped":
            continue
        source = files.get(case.scenario_file)
        if source is None:
            source = files[case.scenario_file] = _ScenarioFile(case.scenario_file, workspace)
        title = f"shutdown-probe {case.scenario}::{case.label}"
        for line, message in _failures(case, source):
            out.append(_command(source.shown, line, title, message))
    return out


def _failures(case: CaseResult, source: _ScenarioFile) -> Iterator[tuple[int | None, str]]:
    """Each failure of ``case`` and the line behind it (None: the file, no line)."""
    table = source.line("expect", case.path) or source.line("expect", "all")
    if case.errored:
        yield table, f"the case did not run to the end: {case.outcome}: {case.error}"
        return
    keys: list[FailedKey | None] = list(case.expect.failed_keys)
    keys += [None] * (len(case.expect.failures) - len(keys))  # a file written before failed_keys
    for failure, key in zip(case.expect.failures, keys):
        line = source.line("expect", key.table, key.key) or source.line("expect", key.table) if key else None
        yield line or table, failure
    for finding in case.fail_on:
        yield table, finding.line


def _command(file: str | None, line: int | None, title: str, message: str) -> str:
    props = []
    if file:
        props.append(f"file={escape_property(file)}")
        if line is not None:
            props.append(f"line={line}")
    props.append(f"title={escape_property(title)}")
    return f"::error {','.join(props)}::{escape_data(message)}"


class _ScenarioFile:
    """A scenario file as an annotation names it (relative to the workspace when
    inside it), and the lines of its keys (none when it cannot be read now)."""

    def __init__(self, name: str, workspace: str) -> None:
        self.shown: str | None = None
        self.lines: dict[tuple[str, ...], int] = {}
        if not name:
            return
        path = Path(name)
        self.shown = name
        if workspace:
            try:
                self.shown = path.resolve().relative_to(Path(workspace).resolve()).as_posix()
            except (ValueError, OSError):
                pass
        try:
            data, _ = read_regular(path, _SCENARIO_MAX_BYTES)
        except OSError:  # gone, or a scenario built in code (its file was never real)
            self.shown = None if not path.exists() else self.shown
            return
        self.lines = key_lines(data.decode("utf-8", errors="replace"))

    def line(self, *key: str) -> int | None:
        return self.lines.get(key)
