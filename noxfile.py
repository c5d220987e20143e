"""The test suite on every Python the package supports, each in its own environment.

    nox -s tests-3.12           the whole suite on 3.12
    nox -s fast                 on 3.10-3.13: the fast part and the bundled Flask scenario
    nox -s fast-3.10 fast-3.13  ...one version at a time

Environments are made with uv (nox's ``uv`` backend). The interpreters are found on
PATH, with every pyenv-installed version's ``bin`` put in front: pyenv's shims answer
only for the versions its global setting selects. A missing interpreter fails its
session with nox's "Python interpreter 3.X not found" (``--no-error-on-missing-interpreters``
turns that into a skip); nothing is downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]

nox.options.default_venv_backend = "uv"
nox.options.download_python = "never"
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["fast"]

# The fast part: the unit tests and the probe inside real interpreters (this one, 3.8
# and the newest, through the real runner). The Flask scenario then runs the runner on
# every path. Left out: the two Hypothesis fuzzers of the results loader (80 of the unit
# tests' 110 s, pure-Python parsing; the full suite runs them).
FAST_TESTS = ["tests/unit", "tests/harness/test_probe_site.py", "tests/harness/test_probe_pythons.py",
              "tests/harness/test_probe_not_loaded.py"]
FAST_DESELECT = [
    "tests/unit/test_results_loading.py::test_report_answers_a_matrix_or_one_line_for_values_of_the_right_type",
    "tests/unit/test_results_loading.py::test_report_answers_a_matrix_or_one_line_for_any_mutation",
]


def _pyenv_bins() -> list[str]:
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    return sorted(str(p) for p in root.glob("versions/*/bin") if (p / "python").exists())


os.environ["PATH"] = os.pathsep.join([*_pyenv_bins(), os.environ.get("PATH", "")])


def _install(session: nox.Session) -> None:
    session.install("-e", ".[test]")


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole suite, as the README's test command runs it."""
    _install(session)
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python=PYTHONS)
def fast(session: nox.Session) -> None:
    """The fast part of the suite, then the bundled Flask scenario, whose run must exit 0
    (every declared expectation held)."""
    _install(session)
    deselect = [f"--deselect={test}" for test in FAST_DESELECT]
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "auto", "-m", "not slow",
                *deselect, *(session.posargs or FAST_TESTS))
    session.run("shutdown-probe", "run", "scenarios/flask_atexit.toml")
