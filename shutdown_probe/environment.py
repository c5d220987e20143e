"""The environment block of the results: where a run happened.

``run``, the partial results of an interrupted ``run`` and the pytest plugin's session
all record it through :func:`environment_info`, each adding what it alone knows (how
many jobs, the pytest runner and its workers, the capabilities the machine has, the
signal that interrupted the run). ``report`` compares runs by these facts, so they
are gathered in one place and the same way everywhere.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from typing import TYPE_CHECKING

from .results import EnvironmentInfo

if TYPE_CHECKING:  # pragma: no cover - annotations only (typing.Unpack is 3.11+)
    from typing_extensions import Unpack

__all__ = ["FRAMEWORKS", "environment_info", "installed_frameworks"]

def _platform() -> str:
    """platform.platform()'s text ("Linux-6.1.0-x86_64-with-glibc2.36") without its
    cost: it finds the C library by reading the Python binary (8 ms a run)."""
    try:
        libc, _, version = os.confstr("CS_GNU_LIBC_VERSION").partition(" ")  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return platform.platform()
    u = os.uname()
    return f"{u.sysname}-{u.release}-{u.machine}-with-{libc}{version}"


# Servers and web frameworks whose version decides how an app shuts down (who handles
# SIGTERM, whether a reloader forks). Their versions go into the results, so `report`
# can put runs against different versions side by side.
FRAMEWORKS = frozenset({"aiohttp", "celery", "daphne", "django", "fastapi", "flask", "gunicorn", "hypercorn",
                        "quart", "sanic", "starlette", "tornado", "uvicorn", "waitress", "werkzeug"})

_NOT_NAME = re.compile(r"[-_.]+")


def installed_frameworks() -> dict[str, str]:
    """Name -> version of the :data:`FRAMEWORKS` installed for this interpreter (the
    one ``{python}`` runs targets with), sorted by name.

    This reads what importlib.metadata reads, the ``NAME-VERSION.dist-info`` (or
    ``.egg-info``) folders on ``sys.path`` and the ``Version:`` line of their
    metadata, without importing it: importing importlib.metadata alone costs 11 ms
    (email, zipfile, csv), and looking the names up 3 ms more, on every run; this
    costs well under 1 ms. Zipped ``sys.path`` entries are not searched; as in
    importlib.metadata, the first folder on ``sys.path`` wins.
    """
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:  # a zip file, or a folder that does not exist
            continue
        for folder in names:
            stem, dot, kind = folder.rpartition(".")
            if not dot or kind not in ("dist-info", "egg-info"):
                continue
            name = _NOT_NAME.sub("-", stem.partition("-")[0]).lower()
            if name in FRAMEWORKS and name not in found:
                path = os.path.join(entry or ".", folder)
                # an old distutils install's .egg-info is the metadata file itself
                if not os.path.isfile(path):
                    path = os.path.join(path, "METADATA" if kind == "dist-info" else "PKG-INFO")
                version = _metadata_version(path)
                if version:
                    found[name] = version
    return dict(sorted(found.items()))


def _metadata_version(file: str) -> str | None:
    """The ``Version:`` header of a core metadata file; None when it has none."""
    try:
        with open(file, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():  # the headers end at the first blank line
                    break
                if line.startswith("Version:"):
                    return line[len("Version:"):].strip()
    except OSError:
        pass
    return None


def environment_info(**extra: Unpack[EnvironmentInfo]) -> EnvironmentInfo:
    """Where the run happened, for the results JSON, with ``extra`` (the caller's own
    facts) added. ``packages`` is always there (``{}`` when none of the frameworks is
    installed); JSON written before it existed has no such key, which readers take as
    "not recorded"."""
    info: EnvironmentInfo = {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": _platform(),
        "kernel": platform.release(),
        "packages": installed_frameworks(),
    }
    info.update(extra)
    return info
