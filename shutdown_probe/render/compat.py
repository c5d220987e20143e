"""Compatibility tables for docs: what ran on each termination path, side by side.

``shutdown-probe report a.json b.json --markdown docs/compat.md`` combines saved runs
into tables a project pastes into its docs. Rows are termination paths; a cell names
the hooks that ran. The columns depend on what the files hold:

* every case from one environment: one table, a column per scenario;
* several environments (Python versions, framework versions): a table per scenario,
  a column per environment, labelled with only what differs between them
  ("Flask 3.0.3"), as compatibility tables of libraries are.

Regenerated docs must change only when behaviour changes, so the text is a function of
the set of cases, not of their order (every group, row, column and cell is sorted), and
holds no timings, pids, ports or dates. The kernel release and the tool's version do
not split columns either: a CI runner's kernel changes under the project's feet, and
neither is what the table compares.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from ..paths import BUILTIN_PATHS
from ..results import NOT_OBSERVED, OUTCOME_MEANINGS, ORPHAN_EXITED, CaseOutcome, CaseResult, Results
from ..behaviour import compare
from .cells import CUT, RAISED, unnumbered, verify_column, verify_mark, where
from .legend import legend
from .markdown import code, escape
from .rows import hook_names

MISSING = "—"  # the column has no case for this path

# How the projects write their own names; others are shown as recorded.
DISPLAY_NAMES = {
    "aiohttp": "aiohttp", "celery": "Celery", "daphne": "Daphne", "django": "Django", "fastapi": "FastAPI",
    "flask": "Flask", "gunicorn": "Gunicorn", "hypercorn": "Hypercorn", "quart": "Quart", "sanic": "Sanic",
    "starlette": "Starlette", "tornado": "Tornado", "uvicorn": "Uvicorn", "waitress": "Waitress",
    "werkzeug": "Werkzeug",
}

# Outcomes other than "exited", in the words and order the cells use.
OUTCOME_WORDS: dict[CaseOutcome, str] = {
    "hung": "hung", "ignored": "ignored", "survived": "survived", "reloaded": "reloaded",
    "unresponsive": "unresponsive", "not-ready": "not ready", "error": "error",
    "interrupted": "interrupted", "skipped": "skipped"}
# their legend: each one's meaning (results.OUTCOME_MEANINGS, the generated reference's too)
OUTCOME_LEGEND = {word: f"{word} = {OUTCOME_MEANINGS[outcome]}" for outcome, word in OUTCOME_WORDS.items()}
ORPHAN = "orphan left"
ORPHAN_ENDED = "orphan exited late"
NOTHING = "nothing ran"
SPLIT = "k/n runs"  # the runs of one cell disagreed
NOT_INSTALLED = "not installed"  # run --with: the column's spec could not be installed


@dataclass(frozen=True)
class Environment:
    """What decides whether two runs share a column: the interpreter, the framework
    versions and the operating system. ``packages`` is None for JSON written before
    the versions were recorded."""

    python: str  # "Python 3.11.7", "Python 3.10.14 (PyPy)"
    os: str  # "Linux"
    packages: tuple[tuple[str, str], ...] | None
    # run --with: a spec that could not be installed, and the installer's reason
    # (None for an environment the cases ran in)
    unavailable: tuple[str, str] | None = None

    @classmethod
    def of(cls, results: Results) -> "Environment":
        env = results.environment
        impl = str(env.get("implementation") or "cpython")
        version = str(env.get("python") or "(version not recorded)")
        python = f"Python {version}" if impl == "cpython" else f"Python {version} ({_IMPLEMENTATIONS.get(impl, impl)})"
        os_name = str(env.get("platform") or "").partition("-")[0] or "OS not recorded"
        recorded = env.get("packages")
        packages = None
        if isinstance(recorded, dict):
            packages = tuple(sorted((str(name), str(version)) for name, version in recorded.items()))
        why = env.get("unavailable")
        unavailable = (str(env.get("spec") or "(spec not recorded)"), str(why)) if why else None
        return cls(python, os_name, packages, unavailable)

    def label(self, keys: list[str]) -> str:
        """The column's label: the facts ``keys`` (what differs), or for a spec that
        could not be installed, the spec and why."""
        if self.unavailable is not None:
            spec, why = self.unavailable
            return f"{spec}: {NOT_INSTALLED} ({why})"
        return " · ".join(self.fact(k) for k in keys)

    def fact(self, key: str) -> str:
        """One fact in words: ``python``, ``os``, ``package:NAME``, or ``recorded``
        (whether framework versions were recorded at all)."""
        if key == "python":
            return self.python
        if key == "os":
            return self.os
        if key == "recorded":
            return "frameworks not recorded" if self.packages is None else "no frameworks"
        name = key.partition(":")[2]
        shown = DISPLAY_NAMES.get(name, name)
        if self.packages is None:
            return f"{shown} not recorded"
        version = dict(self.packages).get(name)
        return f"{shown} {version}" if version is not None else f"no {shown}"


_IMPLEMENTATIONS = {"pypy": "PyPy", "graalpy": "GraalPy"}


@dataclass(frozen=True)
class _Run:
    """One case, with what the file it came from says about it."""

    case: CaseResult
    env: Environment
    title: str  # the scenario's name, and its file when the name is ambiguous there
    description: str
    platform: str
    tool: str


def format_compat(results: Sequence[Results]) -> str:
    """The compatibility tables for ``results``, each the contents of one results file
    (keeping each file's environment apart is what lets environments be compared).

    The same cases in any order, spread over the files in any way, give the same text.
    """
    runs = [run for part in results for run in _runs(part)]
    if not runs:
        return "No cases.\n"
    if len({run.env for run in runs}) == 1:
        return "\n".join(_scenario_columns(runs))
    return "\n".join(_environment_columns(runs))


def _scenario_columns(runs: list[_Run]) -> list[str]:
    """One environment: one table, a column per scenario; then the descriptions."""
    columns = sorted(_group(runs, lambda run: run.title).items(), key=lambda kv: _order(kv[0]))
    lines = _table([(escape(title), group) for title, group in columns],
                   "Columns: scenarios" + _facts(_keys([runs[0].env]), runs, "environment"))
    described = sorted({(run.title, run.description) for run in runs if run.description},
                       key=lambda td: (_order(td[0]), td[1]))
    if described:
        lines += [f"- {escape(title, start=True)}: {escape(text)}" for title, text in described] + [""]
    return lines


def _environment_columns(runs: list[_Run]) -> list[str]:
    """Several environments: a table per scenario, a column per environment it ran in,
    labelled with what differs between those columns. A scenario seen in one
    environment only is labelled with what differs in the whole report, so its column
    still says which environment it is."""
    envs = {run.env for run in runs}
    report_keys = _differing(list(envs), _keys(list(envs)))
    lines: list[str] = []
    for title, group in sorted(_group(runs, lambda run: run.title).items(), key=lambda kv: _order(kv[0])):
        by_env = _group(group, lambda run: run.env)
        here = sorted(by_env, key=_env_order(list(by_env)))
        keys = _keys(here)
        differ = _differing(here, keys) if len(here) > 1 else report_keys
        lines += [f"## {escape(title)}", ""]
        descriptions = sorted({run.description for run in group if run.description})
        if descriptions:  # one, unless the files disagree on it
            lines += [escape(" / ".join(descriptions), start=True), ""]
        columns = [(escape(env.label(differ)), by_env[env]) for env in here]
        shared = [k for k in keys if k not in differ]
        lines += _table(columns, "Columns: environments" + _facts(shared, group, "every column"))
    return lines


def _runs(results: Results) -> list[_Run]:
    """The file's cases with its environment. A scenario name that two scenario files
    of this file share gets the file's name added, as the other reports do; across
    files a name is one scenario (the files' paths differ from checkout to checkout)."""
    files: dict[str, set[str]] = {}
    for case in results.cases:
        files.setdefault(case.scenario, set()).add(case.scenario_file)
    env = Environment.of(results)
    out = []
    for case in results.cases:
        title = case.scenario
        if len(files[case.scenario]) > 1:
            names = {os.path.basename(f) for f in files[case.scenario]}
            short = os.path.basename(case.scenario_file) if len(names) == len(files[case.scenario]) else None
            title = f"{case.scenario} ({short or case.scenario_file})"
        out.append(_Run(case, env, title, results.scenarios.get(case.scenario, ""),
                        str(results.environment.get("platform") or ""), results.tool))
    return out


def _group(runs: list[_Run], key: Callable[[_Run], Hashable]) -> dict[Any, list[_Run]]:
    """``runs`` by ``key``, each group in input order (callers sort what they show)."""
    groups: dict[Any, list[_Run]] = {}
    for run in runs:
        groups.setdefault(key(run), []).append(run)
    return groups


_DIGITS = re.compile(r"(\d+)")


# A text as a sort key: its runs of digits as numbers, the rest case-folded; the text last.
_TextKey = tuple[tuple[tuple[int, int, str], ...], str]


def _order(text: str) -> _TextKey:
    """A sort key that puts "3.9" before "3.12" and ignores case first."""
    parts = _DIGITS.split(text.casefold())
    return tuple((1, int(p), "") if p.isdigit() else (0, 0, p) for p in parts), text


def _keys(envs: list[Environment]) -> list[str]:
    """The facts the environments are compared on: Python, each framework any of them
    has, whether versions were recorded at all (only when that alone tells them apart),
    and the OS."""
    names = sorted({name for env in envs for name, _ in env.packages or ()})
    recorded = {env.packages is None for env in envs}
    return ["python", *(f"package:{n}" for n in names), *(["recorded"] if not names and len(recorded) > 1 else []),
            "os"]


def _env_order(envs: list[Environment]) -> Callable[[Environment], tuple[_TextKey, ...]]:
    """A sort key for ``envs``: fact by fact, versions as numbers."""
    keys = _keys(envs)
    # a spec that could not be installed after those that ran
    return lambda env: (_order("1" if env.unavailable else "0"), *(_order(env.fact(k)) for k in keys))


def _differing(envs: list[Environment], keys: list[str]) -> list[str]:
    """The ``keys`` whose facts are not the same in every one of ``envs``."""
    return [k for k in keys if len({env.fact(k) for env in envs}) > 1]


def _facts(keys: list[str], runs: list[_Run], intro: str) -> str:
    """The end of the columns line: "; INTRO: " and the facts ``keys`` that every
    run of the table shares, in words, then "." The platform is given in full when
    every run had the same one (else its OS only), the tool when it is one."""
    env = runs[0].env
    platforms = {run.platform for run in runs}
    full = next(iter(platforms)) if len(platforms) == 1 and "" not in platforms else None
    # "no frameworks" only tells columns apart; said of every column it is noise
    facts = [full if k == "os" and full else env.fact(k) for k in keys if k != "recorded"]
    tools = {run.tool for run in runs}
    if len(tools) == 1 and "" not in tools:
        facts.append(next(iter(tools)))
    return f"; {intro}: {escape(', '.join(facts))}." if facts else "."


def _path_order(paths: set[str]) -> list[str]:
    """The catalogue's paths in its order, then the others (scenario triggers) by name."""
    builtin = [p for p in BUILTIN_PATHS if p in paths]
    return builtin + sorted(paths - set(builtin))


def _case_order(case: CaseResult) -> tuple[int, str, int, str]:
    """A total order on cases that depends on their content only."""
    rank = list(BUILTIN_PATHS).index(case.path) if case.path in BUILTIN_PATHS else len(BUILTIN_PATHS)
    return rank, case.path, case.attempt or 0, json.dumps(case.to_dict(), sort_keys=True, default=str)


# An entry of a cell, sortable: (group, hook index, name, qualifier). Groups: 0 a hook,
# 1 "nothing ran", 2 an outcome, 3 orphans, 4 a [verify] check's answer (its mark only:
# its words may change from run to run).
_Entry = tuple[int, int, str, str]


def _entries(case: CaseResult, hooks: list[str]) -> set[_Entry]:
    """What one run contributes to its cell."""
    if case.outcome in NOT_OBSERVED:
        return {(2, list(OUTCOME_WORDS).index(case.outcome), OUTCOME_WORDS[case.outcome], "")}
    out: set[_Entry] = set()
    for i, name in enumerate(hooks):
        hook = case.hooks.get(name)
        if hook is None:
            continue
        notes = []
        if hook.ran:  # by role: which of two workers the harness numbered first never counts
            notes.append(where(unnumbered(hook.roles), case, hook.pids))
            notes.append(RAISED if hook.errors else "")
        if hook.interrupted_pids:
            notes.append(f"{CUT} {where(unnumbered(hook.interrupted_roles), case, hook.interrupted_pids) or 'cut short'}")
        if hook.ran or hook.interrupted_pids:
            out.add((0, i, name, ", ".join(n for n in notes if n)))
    if not out:
        out.add((1, 0, NOTHING, ""))
    if case.outcome in OUTCOME_WORDS:
        out.add((2, list(OUTCOME_WORDS).index(case.outcome), OUTCOME_WORDS[case.outcome], ""))
    if any(o.fate != ORPHAN_EXITED for o in case.orphans):
        out.add((3, 0, ORPHAN, ""))
    out.update((4, 0, f"{verify_column(rec.name)} {verify_mark(rec)}", "") for rec in case.verify)
    if any(o.fate == ORPHAN_EXITED for o in case.orphans):
        out.add((3, 1, ORPHAN_ENDED, ""))
    return out


def _cell(cases: list[CaseResult], hooks: list[str], used: set[str]) -> str:
    """What ran in every run of one path in one column; "(k/n runs)" where they differ."""
    if not cases:
        used.add(MISSING)
        return MISSING
    counts = Counter(e for case in cases for e in _entries(case, hooks))
    ran: list[str] = []
    facts: list[str] = []
    for entry in sorted(counts):
        group, _, name, note = entry
        notes = [note] if note else []
        if counts[entry] < len(cases):
            notes.append(f"{counts[entry]}/{len(cases)} runs")
            used.add(SPLIT)
        text = (code(name, cell=True) if group == 0 else escape(name)) + (f" ({escape(', '.join(notes))})" if notes else "")
        if group == 0:
            ran.append(text)
        else:
            facts.append(text)
            used.add(name)
    facts += _process_splits(cases, used)
    # hooks are listed with commas; the facts after them are set apart by semicolons
    return "; ".join(([", ".join(ran)] if ran else []) + facts)


def _process_splits(cases: list[CaseResult], used: set[str]) -> list[str]:
    """The runs compared as ``--repeat`` compares them (:func:`~shutdown_probe.behaviour.compare`):
    a role whose processes ended otherwise in some runs, with each end and how many runs
    saw it ("reloader-child: rc 0 (1/3 runs)"). Where the runs differ only in the hooks
    that ran, the hook entries already say so."""
    out = []
    for diff in compare(cases).differences:
        if diff.aspect != "process":
            continue
        ends: Counter[str] = Counter()
        for variant in diff.variants:
            ends[" + ".join(f.end for f in variant.fates) or "none"] += len(variant.runs)
        if len(ends) > 1:
            used.add(SPLIT)
            out += [escape(f"{diff.name}: {end} ({n}/{len(cases)} runs)") for end, n in sorted(ends.items())]
    return out


def _table(columns: list[tuple[str, list[_Run]]], columns_line: str) -> list[str]:
    """The table (``columns``: a Markdown label and its runs), its legend and the line
    saying what the columns are."""
    cases = sorted((run.case for _, group in columns for run in group), key=_case_order)
    hooks = hook_names(cases)
    used: set[str] = set()
    lines = ["| path | " + " | ".join(label for label, _ in columns) + " |", "|---|" + "---|" * len(columns)]
    failed: list[str] = []
    for path in _path_order({case.path for case in cases}):
        row = []
        for label, group in columns:
            here = [run.case for run in group if run.case.path == path]  # _cell does not depend on order
            if here and group[0].env.unavailable is not None:
                row.append(NOT_INSTALLED)
                used.add(NOT_INSTALLED)
                continue
            row.append(_cell(here, hooks, used))
            missed = sum(1 for case in here if not case.expect.passed)
            if missed:
                runs = f" ({missed}/{len(here)} runs)" if missed < len(here) else ""
                failed.append(f"{code(path)} in {label}{runs}")
        lines.append(f"| {code(path, cell=True)} | " + " | ".join(row) + " |")
    lines += ["", "Legend: " + _legend(cases, used) + ".", "", columns_line, ""]
    if failed:
        lines += ["Expectations that did not hold (`report --markdown` says why): " + "; ".join(failed) + ".", ""]
    return lines


def _legend(cases: list[CaseResult], used: set[str]) -> str:
    """What the table's words and symbols mean, for those it uses."""
    notes = ["cells name the hooks that ran"]
    key = legend(cases)
    if key:
        notes.append(key)
    if SPLIT in used:
        notes.append(f"{SPLIT} = in k of the column's n runs of the path")
    notes += [OUTCOME_LEGEND[word] for word in OUTCOME_LEGEND if word in used]
    if ORPHAN in used:
        notes.append(f"{ORPHAN} = a process outlived the root and the stop timeout (the harness killed it)")
    if ORPHAN_ENDED in used:
        notes.append(f"{ORPHAN_ENDED} = a process outlived the root and the stop timeout, then exited by "
                     "itself within the orphan watch")
    if NOT_INSTALLED in used:
        notes.append(f"{NOT_INSTALLED} = the column's spec could not be installed (its label says why): "
                     "nothing ran")
    if MISSING in used:
        notes.append(f"{MISSING} = the path was not run in this column")
    return "; ".join(notes)
