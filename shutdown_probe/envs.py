"""Isolated Python environments built from a spec (``run --with "uvicorn==0.30.0"``),
cached between runs.

A spec is one or more requirements separated by spaces (``"flask==2.3.3
werkzeug==2.3.8"``), installed into a fresh virtual environment of this Python with
``uv`` when it is installed (``uv venv`` + ``uv pip install``), else with ``venv`` +
``pip``. The spec is the whole environment: the harness is not installed into it (its
probe reaches the app's Python through ``PYTHONPATH``), and neither is anything the app
needs that the spec does not name.

The cache: ``$SHUTDOWN_PROBE_CACHE``, else ``$XDG_CACHE_HOME/shutdown-probe/envs``,
else ``~/.cache/shutdown-probe/envs``; one folder per spec, named by a hash of the
spec, this Python, the installer, the index options and the tool's version. A virtual
environment cannot be moved (its console scripts name its Python by absolute path),
so it is not built elsewhere and renamed: it is built in place under an exclusive lock
(``flock`` on ``NAME.lock``, so concurrent runs wait for one another) and is used only
once its ``ready.json`` (what was installed) exists, written last and atomically. A
folder without it (an interrupted build) is removed and built again.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ._version import __version__
from .environment import FRAMEWORKS
from .files import write_atomically

__all__ = ["BuiltEnv", "EnvFailure", "IndexOptions", "build_env", "cache_root", "parse_spec", "spec_names"]

READY = "ready.json"
# The installer's own time limit: an index that stops answering must not hang a run.
INSTALL_TIMEOUT = 900.0
# Environment variable forcing the installer ("uv" or "pip"); unset: uv when installed.
INSTALLER_ENV = "SHUTDOWN_PROBE_INSTALLER"


class SpecError(ValueError):
    """A spec that is no list of requirements (empty, or unbalanced quotes)."""


@dataclass(frozen=True)
class IndexOptions:
    """Where the installer finds packages: ``--index-url``, ``--find-links`` and
    ``--no-index``, handed to uv and pip alike (both honour them under these names)."""

    index_url: str | None = None
    find_links: tuple[str, ...] = ()
    no_index: bool = False

    @classmethod
    def from_environment(cls) -> "IndexOptions":
        """The pytest plugin's: ``$SHUTDOWN_PROBE_INDEX_URL``, ``$SHUTDOWN_PROBE_FIND_LINKS``
        (folders or URLs separated by ``os.pathsep``) and ``$SHUTDOWN_PROBE_NO_INDEX=1``."""
        links = tuple(os.path.abspath(f) if "://" not in f else f
                      for f in os.environ.get("SHUTDOWN_PROBE_FIND_LINKS", "").split(os.pathsep) if f)
        return cls(os.environ.get("SHUTDOWN_PROBE_INDEX_URL") or None, links,
                   os.environ.get("SHUTDOWN_PROBE_NO_INDEX", "") not in ("", "0"))

    def args(self) -> list[str]:
        out = ["--no-index"] if self.no_index else []
        if self.index_url and not self.no_index:
            out += ["--index-url", self.index_url]
        for link in self.find_links:
            out += ["--find-links", link]
        return out


@dataclass(frozen=True)
class BuiltEnv:
    """A ready environment: its Python, its bin folder, and the versions of the spec's
    packages (and of the frameworks environment.FRAMEWORKS names) as installed."""

    spec: str
    folder: str
    python: str
    bin_dir: str
    python_version: str
    installer: str
    packages: dict[str, str] = field(default_factory=dict)
    cached: bool = False


@dataclass(frozen=True)
class EnvFailure:
    """A spec that could not be installed, and the installer's last error line."""

    spec: str
    reason: str


def parse_spec(text: str) -> tuple[str, ...]:
    """The requirements of a spec, split as a shell would (a marker may be quoted)."""
    try:
        parts = tuple(shlex.split(text))
    except ValueError as exc:
        raise SpecError(f"--with {text!r}: {exc}") from None
    if not parts:
        raise SpecError("--with: an empty spec: give requirements, e.g. --with 'uvicorn==0.30.0'")
    return parts


def spec_names(text: str) -> list[str]:
    """The distribution names a spec asks for, normalized (PEP 503), in its order."""
    names = []
    for part in parse_spec(text):
        m = _NAME.match(part)
        if m and not part.startswith("-"):  # an option or a path: the installer says what it is
            names.append(canonical(m.group(0)))
    return names


_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")


def canonical(name: str) -> str:
    """A distribution name as the index compares them (PEP 503: runs of -_. are one -)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def cache_root() -> Path:
    """Where the environments are kept (see the module's docstring)."""
    own = os.environ.get("SHUTDOWN_PROBE_CACHE")
    if own:
        return Path(own)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "shutdown-probe" / "envs"


def installer() -> tuple[str, str | None]:
    """("uv", its path) when uv is to be used, else ("pip", None)."""
    wanted = os.environ.get(INSTALLER_ENV, "")
    if wanted == "pip":
        return "pip", None
    # the uv beside this Python first: a virtual environment's own
    uv = shutil.which("uv", path=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))
    return ("uv", uv) if uv else ("pip", None)


def env_key(spec: str, index: IndexOptions, tool: str) -> str:
    """The cache folder's name: what decides what an environment holds."""
    facts = json.dumps([parse_spec(spec), os.path.realpath(sys.executable), sys.version, tool,
                        index.index_url, list(index.find_links), index.no_index, __version__])
    return hashlib.sha256(facts.encode()).hexdigest()[:16]


def build_env(spec: str, index: IndexOptions = IndexOptions(), root: Path | None = None) -> BuiltEnv | EnvFailure:
    """The environment of ``spec``: from the cache when a finished one is there, else
    built now. An install that fails is an :class:`EnvFailure`, not an exception."""
    requirements = parse_spec(spec)
    tool, uv = installer()
    root = cache_root() if root is None else root
    root.mkdir(parents=True, exist_ok=True)
    folder = root / env_key(spec, index, tool)
    with open(f"{folder}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run building the same spec: wait for it
        ready = _read_ready(folder)
        if ready is not None:
            return _built(spec, folder, tool, ready, cached=True)
        if folder.exists():  # an interrupted build: never reused
            shutil.rmtree(folder, ignore_errors=True)
        failure = _install(requirements, folder, tool, uv, index)
        if failure is not None:
            shutil.rmtree(folder, ignore_errors=True)
            return EnvFailure(spec, failure)
        facts = _facts(folder, spec)
        if isinstance(facts, str):
            shutil.rmtree(folder, ignore_errors=True)
            return EnvFailure(spec, facts)
        write_atomically(str(folder / READY), json.dumps(facts, indent=2, sort_keys=True) + "\n")
        return _built(spec, folder, tool, facts, cached=False)


def _built(spec: str, folder: Path, tool: str, facts: dict[str, object], *, cached: bool) -> BuiltEnv:
    packages = facts.get("packages")
    return BuiltEnv(spec, str(folder), str(folder / "bin" / "python"), str(folder / "bin"),
                    str(facts.get("python", "")), tool,
                    {str(k): str(v) for k, v in packages.items()} if isinstance(packages, dict) else {}, cached)


def _read_ready(folder: Path) -> dict[str, object] | None:
    try:
        with open(folder / READY, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and (folder / "bin" / "python").exists() else None


def _install(requirements: tuple[str, ...], folder: Path, tool: str, uv: str | None,
             index: IndexOptions) -> str | None:
    """Create the environment and install ``requirements``; the installer's last error
    line when either fails, else None."""
    python = str(folder / "bin" / "python")
    if tool == "uv" and uv is not None:
        steps = [[uv, "venv", "--quiet", "--python", sys.executable, str(folder)],
                 [uv, "pip", "install", "--quiet", "--python", python, *index.args(), "--", *requirements]]
    else:
        steps = [[sys.executable, "-m", "venv", str(folder)],
                 [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
                  *index.args(), *requirements]]
    for argv in steps:
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  errors="replace", timeout=INSTALL_TIMEOUT, env=_installer_env())
        except subprocess.TimeoutExpired:
            return f"{tool} took longer than {INSTALL_TIMEOUT:g} s"
        except OSError as exc:
            return f"{argv[0]}: {exc.strerror or exc}"
        if done.returncode != 0:
            return last_error_line(done.stderr or done.stdout) or f"{tool} exited with status {done.returncode}"
    return None


def _installer_env() -> dict[str, str]:
    """The harness's environment less what would point the installer at another
    environment than the one being built."""
    env = dict(os.environ)
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_PYTHON", "PIP_USER"):
        env.pop(name, None)
    return env


def last_error_line(text: str) -> str:
    """The line of an installer's output that says why: the last one that is not blank
    or a hint, trimmed to one line of at most 300 characters."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.lower().startswith(("hint:", "note:", "[notice]"))] or lines
    return useful[-1][:300] if useful else ""


# Run inside the built environment: every distribution's name and version.
_FREEZE = ("import importlib.metadata as m, json, sys\n"
           "json.dump({d.metadata['Name']: d.version for d in m.distributions()}, sys.stdout)")


def _facts(folder: Path, spec: str) -> dict[str, object] | str:
    """What ``ready.json`` records: the environment's Python version and the versions
    of the spec's packages and of the frameworks, as its own importlib.metadata reads
    them; a string (why) when the environment's Python cannot say."""
    python = str(folder / "bin" / "python")
    argv = [python, "-I", "-c", _FREEZE]
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        installed = json.loads(done.stdout) if done.returncode == 0 else None
        version = subprocess.run([python, "-I", "-c", "import platform; print(platform.python_version())"],
                                 capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        return f"the environment's Python does not answer: {exc}"
    if not isinstance(installed, dict):
        return f"the environment's Python could not list its packages: {last_error_line(done.stderr)}"
    wanted = set(spec_names(spec)) | FRAMEWORKS
    packages = {canonical(str(name)): str(v) for name, v in installed.items()}
    return {"python": version, "spec": spec,
            "packages": {name: v for name, v in sorted(packages.items()) if name in wanted}}
