"""PID 1 without Docker: what this machine allows, and the commands that do it.

A container's main process is PID 1 of its own PID namespace, and the kernel treats
PID 1 differently (pid_namespaces(7)): a signal from outside reaches it only if it
has a handler for it. The stop profiles that emulate ``docker stop`` and Kubernetes
therefore run the target under :mod:`shutdown_probe._pid1_launcher`, as PID 1 of a
new namespace, optionally under an init (tini, or our own forwarding init).

Everything here is detected once per process and says why when it is not available,
so a case can be skipped with the reason instead of giving a false result.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Callable

_HERE = FsPath(__file__).resolve().parent
LAUNCHER = _HERE / "_pid1_launcher.py"
FORWARD_INIT = _HERE / "_forward_init.py"


def _helper(script: FsPath) -> list[str]:
    # -I -S: no site, no PYTHON* variables, so the target's probe stays out of it.
    return [sys.executable, "-I", "-S", str(script)]


@dataclass(frozen=True)
class PidNamespace:
    """How to start a command as PID 1, or why it cannot be done here."""

    prefix: tuple[str, ...] | None  # argv to put before the command
    how: str  # in words, for the results
    why_not: str | None = None


_ns: PidNamespace | None = None
_lock = threading.Lock()


def pid_namespace() -> PidNamespace:
    """Try a privileged PID namespace, then an unprivileged (user) one; remember which."""
    global _ns
    with _lock:
        if _ns is None:
            _ns = _detect()
        return _ns


def _detect() -> PidNamespace:
    if not sys.platform.startswith("linux"):
        return PidNamespace(None, "", f"PID namespaces are Linux-only (this is {sys.platform})")
    tried = []
    for user, how in ((False, "a new PID namespace (root)"),
                      (True, "a new PID namespace inside an unprivileged user namespace")):
        prefix = _helper(LAUNCHER) + (["--user"] if user else []) + ["--"]
        try:
            # this Python by its absolute path: a `true` missing from $PATH says nothing of namespaces
            done = subprocess.run([*prefix, sys.executable, "-S", "-c", ""], stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired) as exc:
            tried.append(f"{'user namespace' if user else 'as root'}: {exc}")
            continue
        if done.returncode == 0:
            return PidNamespace(tuple(prefix), how)
        said = (done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"])[0]
        said = said.removeprefix("shutdown-probe pid1: ")
        if said.endswith("No space left on device"):  # ENOSPC: a namespace count limit
            said += " (the limit in /proc/sys/user/max_*_namespaces is reached, or 0)"
        tried.append(f"{'with a user namespace' if user else 'as is'}: {said}")
    return PidNamespace(None, "", "this machine allows no PID namespace (" + "; ".join(tried) + ")")


@dataclass(frozen=True)
class InitChoice:
    """The init that runs as PID 1 for ``docker-stop-init``, or why there is none."""

    prefix: tuple[str, ...] | None
    name: str  # "tini 0.19.0 (/usr/bin/tini)", "built-in forwarding init"...
    why_not: str | None = None


_versions: dict[str, str | None] = {}


def _version(path: str, pick: Callable[[list[str]], str | None]) -> str | None:
    """What ``pick`` finds in the words ``path --version`` prints; run once per path."""
    if path not in _versions:
        try:
            done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
            words = (done.stdout + done.stderr).split()
        except (OSError, subprocess.TimeoutExpired):
            words = []
        _versions[path] = pick(words) if words else None
    return _versions[path]


def _tini_version(path: str) -> str | None:
    """"tini version 0.19.0 - git.de40ad0" -> "0.19.0"."""
    return _version(path, lambda w: w[2] if len(w) >= 3 and w[1] == "version" else None)


def find_tini() -> str | None:
    """tini, as Debian installs it, or as Docker ships it (docker-init)."""
    return shutil.which("tini") or shutil.which("docker-init")


def find_dumb_init() -> str | None:
    """dumb-init, as Debian (and its own .deb) installs it."""
    return shutil.which("dumb-init")


def _dumb_init_version(path: str) -> str | None:
    """"dumb-init v1.2.5" -> "v1.2.5"."""
    return _version(path, lambda w: w[1] if len(w) >= 2 and w[0] == "dumb-init" else None)


def choose_init(preference: str = "auto", kind: str = "tini") -> InitChoice:
    """The init of a ``pid1 = "init"`` profile. ``kind`` is how it forwards signals
    (:attr:`~shutdown_probe.paths.StopProfile.init`): ``tini`` (to the child),
    ``tini-group`` (``tini -g``: to the child's process group) or ``dumb-init``
    (dumb-init's default session mode, which nothing else here imitates: dumb-init or
    nothing). ``preference`` for the tini kinds: ``auto`` (tini when installed, else
    the built-in init), ``tini`` or ``builtin``."""
    if kind == "dumb-init":
        path = find_dumb_init()
        if path is None:
            return InitChoice(None, "", "dumb-init is not installed here (Debian: apt-get install dumb-init)")
        version = _dumb_init_version(path)
        # DUMB_INIT_SETSID=0 in the environment would mean --single-child: the path
        # is dumb-init's default mode, so launch.py takes that variable out.
        return InitChoice((path,), f"dumb-init {version or '?'} ({path})")
    group = kind == "tini-group"
    builtin = InitChoice(tuple(_helper(FORWARD_INIT) + (["--group"] if group else []) + ["--"]),
                         "shutdown-probe's built-in forwarding init" + (" (--group)" if group else ""))
    if preference == "builtin":
        return builtin
    tini = find_tini()
    if tini is None:
        if preference == "tini":
            return InitChoice(None, "", "the scenario asks for tini, which is not installed here "
                                        "(Debian: apt-get install tini)")
        return InitChoice(builtin.prefix, builtin.name + " (tini is not installed)")
    version = _tini_version(tini)
    name = f"tini {version} ({tini})" if version else f"tini ({tini})"
    if group:
        return InitChoice((tini, "-g", "--"), name + " -g")
    return InitChoice((tini, "--"), name)


def environment() -> dict[str, str]:
    """For the results' environment block."""
    ns = pid_namespace()
    tini = find_tini()
    dumb = find_dumb_init()
    return {
        "pid_namespace": ns.how if ns.why_not is None else f"no: {ns.why_not}",
        "tini": (f"{_tini_version(tini) or '?'} ({tini})" if tini else "not installed"),
        "dumb_init": (f"{_dumb_init_version(dumb) or '?'} ({dumb})" if dumb else "not installed"),
    }

