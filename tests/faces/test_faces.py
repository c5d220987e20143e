"""The faces stay thin and on top: the articles write-up is a CLI command with its
old name kept, and no face module imports a private name from another module."""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys

from tests.support import ROOT
from shutdown_probe import cli
from shutdown_probe.results import CaseResult, HookResult, Results

PACKAGE = ROOT / "shutdown_probe"
# the faces and the shared policies they stand on
FACES = {"cli", "docgen", "articles", "pytest_plugin", "pytest_cases", "pytest_options", "reports", "interrupts",
         "environment", "writeup", "render.articles"}


def _imports() -> dict[str, set[tuple[str, str]]]:
    """module -> (module it imports from, name) for every import in the package,
    those inside functions included (a lazy import is still a dependency); not those
    for the type checker only."""
    graph: dict[str, set[tuple[str, str]]] = {}
    for file in PACKAGE.rglob("*.py"):
        rel = file.relative_to(PACKAGE).with_suffix("")
        if rel.parts[0].startswith("_probe_site"):
            continue
        parts = [p for p in rel.parts if p != "__init__"]
        name = ".".join(parts)
        package = parts[:-1] if file.name != "__init__.py" else parts
        found: set[tuple[str, str]] = set()
        tree = ast.parse(file.read_text())
        typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                       and ast.unparse(block.test) == "TYPE_CHECKING" for n in ast.walk(block)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level and id(node) not in typing_only:
                base = package[:len(package) - node.level + 1]
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
                for alias in node.names:
                    found.add((target, alias.name))
        graph[name] = found
    return graph


# Import cycles and the layers (lazy imports and the faces included) are checked for the
# whole package by tests/unit/test_layers.py.


def test_the_faces_import_no_private_name_from_another_module():
    raw = _imports()
    found = {(m, t, n) for m in FACES for t, n in raw[m] if n.startswith("_") and not n.startswith("__")}
    assert found == set()


def test_the_renderer_and_the_model_of_the_articles_are_below_the_command():
    raw = _imports()
    for low in ("writeup", "render.articles", "interrupts", "environment", "pytest_options"):
        assert not {t for t, _ in raw[low]} & {"cli", "articles", "pytest_plugin", "pytest_cases"}, low


def test_the_articles_command_and_its_first_name_agree(tmp_path):
    saved = tmp_path / "results.json"
    case = CaseResult(scenario="flask-atexit", path="sigkill-child", outcome="exited",
                      exit={"returncode": 247, "signal": None},
                      hooks={"banner": HookResult(True, "stdout line 3", pids=[10], roles=["root"])})
    saved.write_text(Results(cases=[case]).to_json())
    runs = []
    for command in ([sys.executable, "-m", "shutdown_probe", "articles"],
                    [sys.executable, "-m", "shutdown_probe.articles"]):
        out = tmp_path / f"{len(runs)}.md"
        done = subprocess.run([*command, "reports/articles.toml", "--results", str(saved), "--markdown", str(out)],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
        runs.append((done.returncode, done.stdout, done.stderr, out.read_text()))
    assert runs[0] == runs[1]
    assert runs[0][0] == 1  # one case for ten experiments: nine are untested
    assert "kill -9 on the first PID: untested" in runs[0][1]


def test_a_usage_mistake_is_one_line_under_either_name():
    # argparse's top parser reports unknown arguments, as for `run --jobz`
    for command, said in ((["-m", "shutdown_probe", "articles"], "shutdown-probe: "),
                          (["-m", "shutdown_probe.articles"], "shutdown-probe: python -m shutdown_probe.articles: ")):
        done = subprocess.run([sys.executable, *command, "reports/articles.toml", "--jobz", "2"], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2
        assert done.stderr.splitlines() == [f"{said}unrecognized arguments: --jobz 2"]


def test_the_design_synopsis_names_every_articles_flag():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["articles"]
    real = {opt for a in sub._actions for opt in a.option_strings if opt.startswith("--") and opt != "--help"}
    design = (ROOT / "docs" / "design.md").read_text()
    synopsis = re.search(r"^    shutdown-probe articles\b.*?(?=^    shutdown-probe |^$)", design, re.S | re.M)
    assert synopsis
    assert set(re.findall(r"--[a-z-]+", synopsis.group(0))) == real
