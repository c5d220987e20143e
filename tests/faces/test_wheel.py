"""The package as another project gets it: a wheel and an sdist built from this tree,
the wheel installed into a fresh virtual environment, a scenario run from a folder the
tree is not importable from.

What must hold: the wheel and the sdist each carry every file of the package that is
on disk (every module of every subpackage, the probe's ``_probe_site/sitecustomize.py``
that is never imported by the package, the HTML reports' style sheet), so a subpackage
or a data file that ``pyproject.toml`` leaves out fails here; a wheel built from the
sdist carries the same files; and the installed wheel runs a scenario: its
``shutdown_probe`` is the one in the virtual environment's site-packages (not this
tree), and its matrix shows what CPython's documentation says must happen to a
program whose SIGTERM handler calls ``sys.exit``: the handler raises SystemExit in the
main thread, so ``finally`` runs and the interpreter ends normally, running the atexit
callables (the atexit docs: they run "upon normal interpreter termination", not "when
the program is killed by a signal not handled by Python"); SIGKILL, which no handler
can catch (signal(7)), runs none of them. The atexit callable found by name
(``atexit:<lambda>``) is the Python probe's finding: it proves the installed
``_probe_site`` loaded in the target. With pytest installed beside the wheel, as a
project's dev dependency, pytest collects and passes the scenario file with no
configuration (the ``pytest11`` entry point), and ``-p no:shutdown_probe`` turns that off.

The builds use uv (``uv build``: an isolated build, as ``pip install /path/to/clone``
does, with the build backend fetched from the package index) on a copy of the tree,
so that setuptools' ``build/`` and ``*.egg-info`` are not written into the tree while
other tests run. The install fetches the dependencies from the index; uv's cache makes
a second run fast. Without uv, or with the index unreachable, the test skips and says
which.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import ROOT, TARGETS

PACKAGE = "shutdown_probe"
# Not part of what is shipped: byte code, and what a build or an editable install
# leaves in a tree.
JUNK = ("__pycache__", "*.pyc", ".git", "*.egg-info", "build", "dist", ".pytest_cache", ".mypy_cache")

pytestmark = pytest.mark.timeout(120)


def _uv() -> str:
    try:
        from uv import find_uv_bin
    except ImportError:
        pytest.skip("uv is not installed (it is in the test extra: pip install -e '.[test]')")
    return str(find_uv_bin())


def _skip_unless_index_reachable() -> None:
    """uv reads its own settings, not pip's: the index is $UV_DEFAULT_INDEX, else
    $UV_INDEX_URL, else PyPI."""
    index = os.environ.get("UV_DEFAULT_INDEX") or os.environ.get("UV_INDEX_URL") or "https://pypi.org/simple/"
    url = index.rstrip("/") + "/setuptools/"
    try:
        with urllib.request.urlopen(url, timeout=20) as answer:
            answer.read(1)
    except (OSError, ValueError) as exc:  # URLError, timeouts and refused connections are OSErrors
        pytest.skip(f"the package index is unreachable ({url}: {exc}): the build and the install need it")


def _uv_env() -> dict[str, str]:
    """No interpreter downloads (every command names this one), no progress bars."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "COLUMNS", "LINES")}
    return dict(env, UV_PYTHON_DOWNLOADS="never", UV_NO_PROGRESS="1")


def _uv_run(uv: str, *args: str, cwd: Path) -> None:
    done = subprocess.run([uv, *args], cwd=cwd, env=_uv_env(), capture_output=True, text=True,
                          timeout=90, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"uv {' '.join(args)}:\n{done.stdout}\n{done.stderr}"


def package_files() -> set[str]:
    """Every file of the package on disk, as a path relative to the tree's root."""
    found = set()
    for folder, subfolders, files in os.walk(ROOT / PACKAGE):
        subfolders[:] = [d for d in subfolders if d != "__pycache__"]
        for name in files:
            if not name.endswith(".pyc"):
                found.add((Path(folder) / name).relative_to(ROOT).as_posix())
    return found


def wheel_files(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as z:
        return {n for n in z.namelist() if n.startswith(PACKAGE + "/")}


def sdist_files(sdist: Path) -> set[str]:
    """The package's files in the sdist, relative to the sdist's top folder."""
    with tarfile.open(sdist) as t:
        names = [m.name for m in t.getmembers() if m.isfile()]
    return {n.partition("/")[2] for n in names if n.partition("/")[2].startswith(PACKAGE + "/")}


@dataclass
class Built:
    uv: str
    wheel: Path  # built from the tree, as `pip install /path/to/clone` builds it
    sdist: Path
    sdist_wheel: Path  # built from the unpacked sdist


def _only(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, (pattern, found)
    return found[0]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    uv = _uv()
    _skip_unless_index_reachable()
    base = tmp_path_factory.mktemp("wheel")
    tree = base / "tree"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(*JUNK))
    _uv_run(uv, "build", "--python", sys.executable, "--sdist", "--wheel", "--out-dir", str(base / "dist"),
            str(tree), cwd=base)
    sdist = _only(base / "dist", "*.tar.gz")
    # `uv build SDIST` unpacks it and builds the wheel from what it holds alone
    _uv_run(uv, "build", "--python", sys.executable, "--wheel", "--out-dir", str(base / "from-sdist"),
            str(sdist), cwd=base)
    return Built(uv, _only(base / "dist", "*.whl"), sdist, _only(base / "from-sdist", "*.whl"))


def test_the_wheel_and_the_sdist_carry_every_file_of_the_package(built: Built) -> None:
    on_disk = package_files()
    # the files a run needs that nothing imports: a packaging slip loses these first
    assert {f"{PACKAGE}/_probe_site/sitecustomize.py", f"{PACKAGE}/render/report.css",
            f"{PACKAGE}/scenario/__init__.py"} <= on_disk
    for what, shipped in (("the wheel", wheel_files(built.wheel)), ("the sdist", sdist_files(built.sdist)),
                          ("the wheel built from the sdist", wheel_files(built.sdist_wheel))):
        missing = sorted(on_disk - shipped)
        assert not missing, f"missing from {what} (see [tool.setuptools] in pyproject.toml): {missing}"
    with zipfile.ZipFile(built.wheel) as z:
        entry_points = next(n for n in z.namelist() if n.endswith(".dist-info/entry_points.txt"))
        text = z.read(entry_points).decode()
    assert "shutdown-probe = shutdown_probe.cli:main" in text  # the console script
    assert "shutdown_probe = shutdown_probe.pytest_plugin" in text  # the pytest plugin


SCENARIO = r"""# shutdown-probe scenario
name = "installed-wheel"
paths = ["sigterm", "sigkill"]

[app]
command = ["{python}", "print_file_print.py", "{workdir}", "{workdir}/released"]
ready = { file = "{workdir}/ready" }

[hooks.atexit]
log = '\[pid (?P<pid>\d+)\] atexit ran'
[hooks.finally]
file = "{workdir}/released"

[expect.sigterm]
ran = ["atexit", "finally", "atexit:<lambda>"]
outcome = "exited"
exit = 0

[expect.sigkill]
not_ran = ["atexit", "finally", "atexit:<lambda>"]
outcome = "exited"
exit = "SIGKILL"
"""


@dataclass
class Installed:
    venv: Path
    python: Path
    project: Path  # a user's project: the scenario and its app, the tree nowhere on its path


@pytest.fixture(scope="module")
def installed(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel, and pytest beside it (as a project's dev dependencies), in a fresh venv."""
    base = tmp_path_factory.mktemp("installed")
    venv = base / "venv"
    _uv_run(built.uv, "venv", "--quiet", "--python", sys.executable, str(venv), cwd=base)
    python = venv / "bin" / "python"
    _uv_run(built.uv, "pip", "install", "--quiet", "--python", str(python), str(built.wheel), "pytest", cwd=base)
    project = base / "project"
    project.mkdir()
    shutil.copy(TARGETS / "print_file_print.py", project)
    (project / "app.toml").write_text(SCENARIO)
    (project / "pytest.ini").write_text("[pytest]\n")  # the rootdir: no ini file above it is read
    return Installed(venv, python, project)


def _user_env() -> dict[str, str]:
    """This session's environment (its tag, so the leak check sees the cases' processes)
    without the outer pytest's own variables."""
    return {k: v for k, v in _uv_env().items() if not k.startswith("PYTEST_")}


def test_the_installed_package_is_the_wheel_in_site_packages(installed: Installed) -> None:
    where = subprocess.run([str(installed.python), "-c", "import shutdown_probe, sysconfig; "
                            "print(shutdown_probe.__file__); print(sysconfig.get_paths()['purelib'])"],
                           cwd=installed.project, env=_user_env(), capture_output=True, text=True, timeout=30,
                           check=True)
    module, site_packages = map(Path, where.stdout.splitlines())
    assert site_packages.is_relative_to(installed.venv)
    assert module.is_relative_to(site_packages) and not module.is_relative_to(ROOT), module


def test_the_installed_wheel_runs_a_scenario_outside_the_tree(installed: Installed) -> None:
    out = installed.project / "r.json"
    r = subprocess.run([str(installed.venv / "bin" / "shutdown-probe"), "run", "app.toml", "--json", str(out)],
                       cwd=installed.project, env=_user_env(), capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr  # 0: the expectations held
    assert "installed-wheel" in r.stdout and "atexit:<lambda>" in r.stdout  # the matrix, with the probe's hook
    cases = {c["path"]: c for c in json.loads(out.read_text())["cases"]}
    term, kill = cases["sigterm"], cases["sigkill"]
    assert term["exit"] == {"returncode": 0, "signal": None}  # sys.exit(0) from the handler
    assert all(term["hooks"][h]["ran"] for h in ("atexit", "finally", "atexit:<lambda>"))
    assert kill["exit"]["signal"] == "SIGKILL"
    assert not any(kill["hooks"][h]["ran"] for h in ("atexit", "finally", "atexit:<lambda>"))


def test_installing_the_wheel_is_enough_for_pytest_to_run_a_scenario_file(installed: Installed) -> None:
    """No conftest.py, no -p: the pytest11 entry point loads the plugin, which collects
    the file by its first line; -p no:shutdown_probe turns it off."""
    pytest_run = [str(installed.python), "-m", "pytest", "-q", "-p", "no:cacheprovider"]  # the folder: app.toml
    r = subprocess.run(pytest_run, cwd=installed.project, env=_user_env(), capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 passed" in r.stdout and "installed-wheel" in r.stdout  # sigterm and sigkill, then the matrix
    r = subprocess.run([*pytest_run, "-p", "no:shutdown_probe"], cwd=installed.project, env=_user_env(),
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 5, r.stdout + r.stderr  # pytest's "no tests were collected"
