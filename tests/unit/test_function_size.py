"""No function of the library is longer than a reader can hold: a phase, a check, a
renderer each fit on a screen or two (issue 19 split the ones that did not)."""

from __future__ import annotations

import ast
from pathlib import Path

import shutdown_probe

PACKAGE = Path(shutdown_probe.__file__).parent
LIMIT = 80  # lines, from `def` to the last line of the body


def test_no_function_is_over_the_limit() -> None:
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > LIMIT:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({size} lines)")
    assert not long, "\n".join(long)
