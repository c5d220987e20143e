"""The reference pages (docs/reference/) are written from the code by
``shutdown_probe.docgen``: the committed pages must be what it writes now, and what it
writes must follow the code's own tables (the real ones, read when a page is written),
so a path, an outcome, a role or a scenario key added to the code shows up in the docs
or fails here."""

from __future__ import annotations

import ast
import signal
import typing
from pathlib import Path as FsPath

import pytest

from tests.support import ROOT
from shutdown_probe import docgen, handles, processes
from shutdown_probe.paths import BUILTIN_PATHS, Path, StopProfile
from shutdown_probe.results import OUTCOME_MEANINGS, CaseOutcome
from shutdown_probe.roles import ROLE_MEANINGS, ROLES, TREE_ROLES
from shutdown_probe.scenario import OUTCOMES, key_tables
from shutdown_probe.scenario import specs

REFERENCE = ROOT / "docs" / "reference"


@pytest.mark.parametrize("name", sorted(docgen.PAGES))
def test_the_committed_page_is_what_the_code_writes(name: str) -> None:
    page = REFERENCE / name
    assert page.is_file(), f"docs/reference/{name} is missing: run `{docgen.COMMAND}` and commit it"
    assert page.read_text(encoding="utf-8") == docgen.generate()[name], (
        f"docs/reference/{name} differs from what the code writes: run `{docgen.COMMAND}` and commit it")


def test_the_reference_folder_holds_only_generated_pages() -> None:
    extra = sorted(p.name for p in REFERENCE.iterdir())
    assert extra == sorted(docgen.PAGES), f"not written by {docgen.COMMAND}: {set(extra) - set(docgen.PAGES)}"


def test_the_pages_do_not_depend_on_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    narrow = docgen.generate()
    monkeypatch.setenv("COLUMNS", "400")
    assert docgen.generate() == narrow


def test_a_path_added_to_the_catalogue_shows_up_and_makes_the_committed_page_stale(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BUILTIN_PATHS, "sigusr1-test", Path("sigusr1-test", "root", signal.SIGUSR1,
                                                            "SIGUSR1 to the root, a path only this test has"))
    page = docgen.paths_page()
    assert ("| `sigusr1-test` | signal | SIGUSR1 | the root (the launched process) | no | "
            "SIGUSR1 to the root, a path only this test has |") in page
    assert "paths.md" in docgen.stale(REFERENCE)


def test_a_stop_profile_added_to_the_catalogue_shows_up(monkeypatch: pytest.MonkeyPatch) -> None:
    profile = StopProfile("Nomad", "root", "all", "all", 5.0, "nomadproject.io: kill_timeout", pid1="app")
    monkeypatch.setitem(BUILTIN_PATHS, "nomad-stop", Path("nomad-stop", "profile", signal.SIGINT, "Nomad", profile=profile))
    row = next(line for line in docgen.profiles_page().splitlines() if line.startswith("| `nomad-stop` |"))
    assert row == ("| `nomad-stop` | Nomad | SIGINT | the main process | 5 s | every process | the app is PID 1 | - | "
                   "nomadproject.io: kill_timeout |")


def test_every_path_is_on_its_page_once() -> None:
    page = docgen.paths_page()
    for name, path in BUILTIN_PATHS.items():
        assert page.count(f"| `{name}` |") == 1, name
    profiles = docgen.profiles_page()
    assert {n for n, p in BUILTIN_PATHS.items() if p.profile} == {
        n for n in BUILTIN_PATHS if f"| `{n}` |" in profiles}
    # the trigger path says which trigger it needs; no other path needs one
    assert "| yes: `[triggers.os-exit]` |" in page and page.count("| yes: ") == 1


def test_every_outcome_has_one_meaning_and_the_legends_use_it() -> None:
    from shutdown_probe.render.compat import OUTCOME_LEGEND

    assert list(OUTCOME_MEANINGS) == list(OUTCOMES) == list(typing.get_args(CaseOutcome))
    page = docgen.outcomes_page()
    for outcome, meaning in OUTCOME_MEANINGS.items():
        assert f"| `{outcome}` | {docgen.cell(meaning)} |" in page
    assert OUTCOME_LEGEND["not ready"] == f"not ready = {OUTCOME_MEANINGS['not-ready']}"


def test_every_role_the_harness_names_is_catalogued() -> None:
    """The names ``_role_for`` returns (read from its source) and the action roles are
    all in TREE_ROLES; every framework role has a meaning."""
    assert list(ROLE_MEANINGS) == list(ROLES)
    tree = ast.parse(FsPath(processes.__file__).read_text(encoding="utf-8"))
    func = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "_role_for")
    returned = set()
    for ret in (n for n in ast.walk(func) if isinstance(n, ast.Return) and n.value is not None):
        for value in (ret.value.body, ret.value.orelse) if isinstance(ret.value, ast.IfExp) else (ret.value,):
            if isinstance(value, ast.Constant):
                returned.add(value.value)
            elif isinstance(value, ast.Name):
                returned.add(getattr(handles, value.id))
            elif isinstance(value, ast.JoinedStr):
                text = "".join(v.value if isinstance(v, ast.Constant) else "*" for v in value.values)
                returned.add({"child-*": "child-N", "*-child": "ACTION-child"}[text])
    assert returned >= {"child", "child-N", "grandchild", "descendant", "adopted", "ACTION-child"}
    assert returned <= set(TREE_ROLES)
    assert set(handles.ACTIONS) <= set(TREE_ROLES)
    page = docgen.roles_page()
    assert all(f"| `{name}` |" in page for name in (*TREE_ROLES, *ROLES))


def _keys_arguments() -> list[tuple[str, ast.expr]]:
    """Every ``c.keys(table, ALLOWED, where)`` call in the scenario parsers: (file, ALLOWED)."""
    out = []
    for path in sorted(FsPath(specs.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "keys"
                    and len(node.args) == 3):
                out.append((path.name, node.args[1]))
    return out


def test_every_key_set_the_parser_checks_is_a_table_of_the_reference() -> None:
    """The parser checks each table's keys with ``Checker.keys``; what it allows there
    is a tuple of specs.py that key_tables() lists (or a profile's own, profile_keys),
    so a key the parser accepts cannot be missing from the page."""
    tables = {t.keys for t in key_tables()}
    calls = _keys_arguments()
    assert len(calls) >= 14, calls  # the reader must see the calls it checks
    for where, arg in calls:
        if isinstance(arg, ast.Name) and hasattr(specs, arg.id):
            assert getattr(specs, arg.id) in tables, f"{where}: {arg.id} is checked but not in key_tables()"
        else:
            # parse_profiles: the keys of the profile at hand, from specs.profile_keys
            assert where == "parse_profiles.py", f"{where}: {ast.unparse(arg)} is not a table of specs.py"
            assert ast.unparse(arg) in ("profile_keys(name)", "allowed")
    for name in specs.PROFILE_OWN_KEYS:
        assert specs.profile_keys(name) in tables, name
    page = docgen.scenario_keys_page()
    for t in key_tables():
        assert docgen.cell(", ".join(f"`{k}`" for k in t.keys)) in page, t.table


def test_the_cli_page_names_every_option_of_every_command() -> None:
    import argparse

    from shutdown_probe import cli

    page = docgen.cli_page()
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert len(sub.choices) >= 6
    for name, command in sub.choices.items():
        assert f"\n## {name}\n" in page
        for action in command._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}" in page, (name, option)
    assert "`--width COLUMNS`" in page and "shutdown-probe init [-o FILE] [--force] [options] -- COMMAND" in page


def test_table_cells_keep_backslashes_and_pipes_as_written() -> None:
    assert docgen.cell("Ctrl-\\; a|b") == "Ctrl-\\\\; a\\|b"
    assert docgen.cell("`a\\d` b\\") == "`a\\d` b\\\\"  # a code span shows its backslash as is


def test_check_fails_on_a_stale_folder_and_writing_fixes_it(tmp_path: FsPath,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert docgen.main(["--check", str(tmp_path)]) == 1
    assert docgen.COMMAND in capsys.readouterr().err
    assert docgen.main([str(tmp_path)]) == 0
    assert docgen.main(["--check", str(tmp_path)]) == 0
    (tmp_path / "roles.md").write_text("edited by hand\n")
    assert docgen.stale(tmp_path) == ["roles.md"]
