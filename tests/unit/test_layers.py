"""The package's floor plan: data flows one way, scenario → cases → run → results →
renderers, with the faces on top.

Every import of a package module by another, at module level or inside a function
(a lazy import is still a dependency), is read from the source with ``ast``. The test
fails on an import cycle, on an import from a lower layer to a higher one, and on a
module no layer names, so a new module must be placed on purpose.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import shutdown_probe

PACKAGE = Path(shutdown_probe.__file__).parent

# Low to high. A module may import from its own layer and the layers below it.
LAYERS: list[tuple[str, set[str]]] = [
    ("base", {"errors", "_version", "paths", "reading", "files", "waiting", "patterns", "roles",
              "mphelpers", "tomllines", "concurrency"}),
    ("results model", {"results", "environment", "behaviour"}),
    ("scenario", {"scenario"}),
    # a pure function of a case's results and the scenario's expectations; the case
    # pipeline calls it to judge the case it just ran
    ("judging", {"expect", "policy"}),
    ("process layer", {"procfs", "capabilities", "procnet", "watchdog", "adoption", "handles", "kills", "strays",
                       "processes", "namespaces", "ports", "output", "readiness", "probe", "probecode", "evidence", "traffic",
                       "actions", "deadline", "stops", "aim", "services", "verify", "busyline", "hangs",
                       "liveness"}),
    ("case pipeline", {"case", "launch", "phases", "collect", "service_pool", "pipeline", "runner"}),
    # run --with and bisect: environments built by an installer, releases listed from an index
    ("environments", {"envs", "releases"}),
    # writeup: the articles' model, which their renderer reads
    ("rendering", {"render", "writeup"}),
    ("reports and policies", {"reports", "interrupts", "github", "scaffold", "matrix", "bisect", "shards"}),
    ("faces", {"cli", "docgen", "pytest_plugin", "pytest_options", "pytest_cases", "articles", "__init__", "__main__"}),
]

# Scripts that run inside targets or as their PID 1 / watchdog, by path: they must not
# import the package at all (the target's Python may not have it).
STANDALONE = {"_probe_site", "_watchdog", "_forward_init", "_pid1_launcher"}

# The renderers are pure functions of the results: they read nothing above the model.
RENDER_MAY_IMPORT = {"base", "results model", "rendering"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The package modules ``name`` imports, relative or absolute, anywhere in it."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name.removeprefix("shutdown_probe.") for a in node.names
                       if a.name.startswith("shutdown_probe.")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            elif node.module and (node.module == "shutdown_probe" or node.module.startswith("shutdown_probe.")):
                stem = node.module.removeprefix("shutdown_probe").lstrip(".")
            else:
                continue
            # `from . import x` imports the module x; `from .m import y` imports m
            targets = [f"{stem}.{a.name}".lstrip(".") if f"{stem}.{a.name}".lstrip(".") in known else stem
                       for a in node.names]
        for target in targets:
            found.add(target or "__init__")
    found.discard(name)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def layer_of(name: str) -> tuple[int, str] | None:
    top = name.split(".")[0]
    for index, (label, members) in enumerate(LAYERS):
        if top in members or name in members:
            return index, label
    return None


def test_every_module_is_placed_in_a_layer() -> None:
    unplaced = [name for name in modules()
                if name.split(".")[0] not in STANDALONE and layer_of(name) is None]
    assert not unplaced, f"place these modules in a layer of tests/test_layers.py: {unplaced}"


def test_no_import_cycle() -> None:
    g = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(g):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_imports_go_down_the_layers() -> None:
    wrong = []
    for name, targets in graph().items():
        if name.split(".")[0] in STANDALONE:
            continue
        mine = layer_of(name)
        assert mine is not None
        for target in sorted(targets):
            theirs = layer_of(target)
            if target.split(".")[0] in STANDALONE:
                continue
            assert theirs is not None, target
            if theirs[0] > mine[0]:
                wrong.append(f"{name} ({mine[1]}) imports {target} ({theirs[1]})")
            elif name.startswith("render") and theirs[1] not in RENDER_MAY_IMPORT:
                wrong.append(f"{name} (a renderer) imports {target} ({theirs[1]})")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("script", sorted(STANDALONE))
def test_scripts_that_run_in_targets_import_nothing_of_the_package(script: str) -> None:
    g = graph()
    for name, targets in g.items():
        if name.split(".")[0] == script:
            assert not targets, f"{name} imports {sorted(targets)}"


def test_the_check_reads_lazy_and_relative_imports(tmp_path: Path) -> None:
    # the reader itself must be able to fail: imports inside a function count, relative
    # ones resolve against the module's package
    fake = tmp_path / "m.py"
    fake.write_text("def f():\n    from .cli import main\n    from . import runner\n"
                    "    from ..results import CaseResult\n")
    assert imports_of("render.m", fake, {"cli", "runner", "results", "render.m"}) == {"render.cli", "render", "results"}
    assert imports_of("m", fake, {"cli", "runner", "m"}) >= {"cli", "runner"}
