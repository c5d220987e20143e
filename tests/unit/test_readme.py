"""The README's promises that code can check: its first commands, its size, its links, and
the fixture example (which lives on the pytest plugin's page)."""

from __future__ import annotations

import re
from shutdown_probe.scenario.loading import tomllib  # the loader's TOML reader: tomli on 3.10

from tests.support import ROOT, TESTS

README = (ROOT / "README.md").read_text()
PLUGIN_PAGE = (ROOT / "docs" / "pytest-plugin.md").read_text()



def test_readme_starts_with_the_install_and_test_commands():
    blocks = re.findall(r"```\n(.*?)\n```", README, re.S)
    assert blocks[:2] == [
        'pip install -e ".[apps]" && shutdown-probe run scenarios/flask_atexit.toml',
        'pip install -e ".[test]" && python -m pytest',
    ]


def test_readme_is_a_front_page():
    assert len(README.splitlines()) <= 150


def test_readme_links_resolve():
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README)
    local = [t for t in targets if "://" not in t]
    assert local
    missing = [t for t in local if not (ROOT / t).is_file()]
    assert missing == []


def test_fixture_example_is_the_file_that_runs():
    source = (TESTS / "test_readme_example.py").read_text()
    body = source.split("\n", 1)[1].lstrip("\n")  # everything after the module docstring line
    [example] = re.findall(r"```python\n(.*?)```", PLUGIN_PAGE, re.S)
    assert example == body


def test_the_readme_matrix_keeps_every_claim_its_scenario_makes():
    # the run prints one "claim ✓ PATH: TEXT — confirmed" line per [expect.PATH] claim
    scenario = tomllib.loads((ROOT / "scenarios" / "flask_atexit.toml").read_text())
    claims = {path: e["claim"] for path, e in scenario["expect"].items() if "claim" in e}
    [block] = [b for b in re.findall(r"```\n(.*?)\n```", README, re.S) if "flask-atexit —" in b]
    for path, text in claims.items():
        assert f"claim ✓ {path}: {text} — confirmed" in block.splitlines()
