"""The README's promises that code can check: its first commands and its examples."""

from __future__ import annotations

import re

from tests.support import ROOT, TESTS

README = (ROOT / "README.md").read_text()


def test_readme_starts_with_the_install_and_test_commands():
    blocks = re.findall(r"```\n(.*?)\n```", README, re.S)
    assert blocks[:2] == [
        'pip install -e ".[apps]" && shutdown-probe run scenarios/flask_atexit.toml',
        'pip install -e ".[test]" && python -m pytest',
    ]


def test_fixture_example_is_the_file_that_runs():
    source = (TESTS / "test_readme_example.py").read_text()
    body = source.split("\n", 1)[1].lstrip("\n")  # everything after the module docstring line
    [example] = re.findall(r"```python\n(.*?)```", README, re.S)
    assert example == body
