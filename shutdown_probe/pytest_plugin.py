"""The pytest plugin's entry point: options, and which files are scenarios.

Installing the package registers this module (the ``pytest11`` entry point), so it
loads into every pytest session of every project on the machine, most of which have
no scenario at all; ``-p no:shutdown_probe`` turns it off. It therefore does only what
every session needs: declare the options, the ini settings, the marker and the
fixture, and recognise scenario files without parsing anything. The working part
(items, the fixture's object, interruption, the matrix and the reports) is
:mod:`shutdown_probe.pytest_cases`, imported and registered only when a session has
something to run.

A ``.toml`` file is a scenario, and its cases are test items, when

* its first line is :data:`SCENARIO_LINE` (the first bytes are read, nothing is
  parsed), or
* it matches the ini setting ``shutdown_probe_scenarios``, or
* it was named on the command line (``pytest path/to/app.toml``).

Nothing else: a TOML file's contents never make it a scenario, so an application's
own ``config.toml`` with an ``[app]`` table is left alone.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path as FsPath
from typing import TYPE_CHECKING

import pytest

from .pytest_options import FAIL_ON, MARKER, REPORT_OPTIONS, SHARD, SHARD_KEY, WITH, fail_on_words
from .reading import read_regular

if TYPE_CHECKING:  # pragma: no cover
    from .pytest_cases import ShutdownProbe

# The first line that makes a .toml file a scenario for pytest, e.g.
# "# shutdown-probe scenario" or "# shutdown-probe scenario: see README.md".
SCENARIO_LINE = b"# shutdown-probe scenario"
# A UTF-8 byte order mark may come first (the loader accepts one), and enough of
# what follows the line to see where its first word ends.
_HEAD_BYTES = 64


# ------------------------------------------------------------------ registration


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("shutdown-probe", "shutdown-probe: which cleanup hooks run on each stop path")
    group.addoption("--shutdown-probe-json", metavar="FILE", default=None,
                    help="write the results of every case that ran as JSON (the CLI's format)")
    group.addoption("--shutdown-probe-markdown", metavar="FILE", default=None,
                    help="write the matrix of every case that ran as Markdown")
    group.addoption("--shutdown-probe-html", metavar="FILE", default=None,
                    help="write every case that ran as a self-contained HTML report with timelines")
    group.addoption("--shutdown-probe-no-matrix", action="store_true", default=None,
                    help="do not print the matrix in the terminal summary")
    group.addoption("--shutdown-probe-keep-workdirs", action="store_true", default=False,
                    help="keep each case's private folder ({workdir}) and name it in the results")
    group.addoption("--shutdown-probe-fail-on", action="append", default=[], dest=FAIL_ON,
                    metavar="FINDING[,FINDING]",
                    help="fail a scenario item with this finding even where it expects nothing: hung, orphans, "
                         "ignored, unresponsive, killed, refuted (comma-separated or repeated; overrides the "
                         "ini setting shutdown_probe_fail_on)")
    group.addoption("--shutdown-probe-with", action="append", default=[], dest=WITH, metavar="SPEC",
                    help="run every scenario item in an environment built from SPEC, requirements separated by "
                         "spaces (repeatable: an item per spec, named PATH[SPEC]); overrides the ini setting "
                         "shutdown_probe_with")
    group.addoption("--shutdown-probe-shard", metavar="K/N", default=None, dest=SHARD,
                    help="run only part K of N of the scenario items (the rule of `shutdown-probe run --shard`); "
                         "other tests run in part 1 only; `shutdown-probe report` merges the parts' "
                         "--shutdown-probe-json files")
    parser.addini("shutdown_probe_scenarios", type="linelist", default=[],
                  help="folders or globs (relative to the rootdir) whose .toml files are scenarios "
                       "even without the first line '# shutdown-probe scenario'")
    parser.addini("shutdown_probe_matrix", type="bool", default=True,
                  help="print the matrix in the terminal summary (default: true)")
    parser.addini(WITH, type="linelist", default=[],
                  help="specs (one a line) to run every scenario item under, as --shutdown-probe-with")
    parser.addini(FAIL_ON, type="args", default=[],
                  help="findings that fail a scenario item (as --shutdown-probe-fail-on): "
                       "hung, orphans, ignored, unresponsive, killed, refuted")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}: runs real processes through shutdown-probe (scenario items and tests "
        "using the shutdown_probe fixture carry it; deselect with -m 'not shutdown_probe')",
    )
    if fail_on_words(config):  # a typo fails the session at once, not after the cases ran
        from .errors import UsageError
        from .policy import parse_fail_on

        try:
            parse_fail_on(fail_on_words(config), "--shutdown-probe-fail-on / shutdown_probe_fail_on")
        except UsageError as exc:
            raise pytest.UsageError(str(exc)) from None
    if config.getoption(SHARD) is not None:  # a bad value fails the session before collecting
        from .errors import UsageError
        from .shards import parse_shard

        try:
            config.stash[SHARD_KEY] = parse_shard(config.getoption(SHARD))
        except UsageError as exc:
            raise pytest.UsageError(f"--shutdown-probe-shard: {exc}") from None
    for option in REPORT_OPTIONS:
        value = config.getoption(option)
        if value is not None and (value == "" or FsPath(value).is_dir()):
            flag = "--" + option.replace("_", "-")
            raise pytest.UsageError(f"{flag}: expected a file to write, got {value!r}")


# ------------------------------------------------------------------ collection


def pytest_collect_file(file_path: FsPath, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix != ".toml":
        return None
    if not is_scenario_file(parent.session, file_path):
        return None
    from .pytest_cases import ScenarioFile

    return ScenarioFile.from_parent(parent, path=file_path)


def is_scenario_file(session: pytest.Session, file_path: FsPath) -> bool:
    """Whether pytest should collect the ``.toml`` file ``file_path`` as a scenario.

    The cheap tests come first; only the marker test reads the file, and no more than
    its first :data:`_HEAD_BYTES` bytes.
    """
    return session.isinitpath(file_path) or _listed(session.config, file_path) or has_scenario_line(file_path)


def has_scenario_line(file_path: str | os.PathLike[str]) -> bool:
    """Whether the file's first line is :data:`SCENARIO_LINE`, optionally followed by
    more text (after a space or punctuation: ``# shutdown-probe scenarios`` is not it).

    Anything unreadable (missing, not permitted, a FIFO or a device that happens to be
    called ``*.toml``) is simply not a scenario: the file is never waited on and never
    read past its first bytes.
    """
    try:
        head, _ = read_regular(file_path, _HEAD_BYTES, truncate=True)
    except OSError:
        return False
    head = head.removeprefix(b"\xef\xbb\xbf")
    if not head.startswith(SCENARIO_LINE):
        return False
    after = head[len(SCENARIO_LINE):len(SCENARIO_LINE) + 1]
    return not after or not (after.isalnum() or after in b"-_")


_PATTERNS = pytest.StashKey[list[tuple[str, re.Pattern[str]]]]()  # (folder, glob) per entry of the ini setting


def _listed(config: pytest.Config, file_path: FsPath) -> bool:
    """Whether the ini setting ``shutdown_probe_scenarios`` names this file.

    Each entry is a folder (everything below it) or a glob: ``*`` stays inside one
    folder, ``**`` crosses any number of them. A glob that matches a folder names
    everything below it too (``**/scenarios``, ``services/*/scenarios``), as a
    folder entry does.
    """
    patterns = config.stash.get(_PATTERNS, None)
    if patterns is None:
        patterns = config.stash[_PATTERNS] = _patterns(config.getini("shutdown_probe_scenarios"))
    if not patterns:
        return False
    try:  # pytest's paths are absolute and so is the rootdir: usually no need to resolve
        rel = file_path.relative_to(config.rootpath).as_posix()
    except ValueError:
        try:
            rel = file_path.resolve().relative_to(config.rootpath.resolve()).as_posix()
        except ValueError:
            rel = file_path.resolve().as_posix()
    # the file itself and each folder above it, up to the rootdir
    parts = rel.split("/")
    candidates = ["/".join(parts[:n]) for n in range(len(parts), 0, -1)]
    return any(rel.startswith(folder + "/") or any(glob.fullmatch(c) for c in candidates)
               for folder, glob in patterns)


def _patterns(entries: list[str]) -> list[tuple[str, re.Pattern[str]]]:
    patterns = []
    for pattern in entries:
        pattern = pattern.strip()
        while pattern.startswith("./"):
            pattern = pattern[2:]
        pattern = pattern.rstrip("/")
        if pattern:
            patterns.append((pattern, _glob(pattern)))
    return patterns


def _glob(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "shutdown_probe" in getattr(item, "fixturenames", ()):
            item.add_marker(MARKER)
    shard = config.stash.get(SHARD_KEY, None)
    if shard is not None:
        from .pytest_cases import keep_shard

        keep_shard(config, items, shard)


# ------------------------------------------------------------------ the working part, on demand


def pytest_collection_finish(session: pytest.Session) -> None:
    if any(item.get_closest_marker(MARKER) for item in session.items):
        from .pytest_cases import start_cases

        start_cases(session)


def pytest_sessionstart(session: pytest.Session) -> None:
    # An xdist controller collects nothing itself, so it cannot tell whether its workers
    # will run cases: it gathers their results and takes the signals for them anyway.
    if session.config.pluginmanager.has_plugin("dsession"):
        from .pytest_cases import start_controller

        start_controller(session)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    # A test may run cases through the library itself (shutdown_probe.run_case), with
    # neither a scenario item nor the fixture: the leftover sweep still applies then.
    # Only a session that imported the runner can have started a case.
    if "shutdown_probe.runner" in sys.modules:
        from .pytest_cases import finish_unstarted

        finish_unstarted(session)


@pytest.fixture
def shutdown_probe(request: pytest.FixtureRequest) -> ShutdownProbe:
    """Run shutdown-probe scenarios from a test: ``shutdown_probe.run(file_or_scenario, path=...)``."""
    from .pytest_cases import fixture_value

    return fixture_value(request)
