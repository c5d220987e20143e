"""The released versions of a package, oldest first, as ``bisect`` searches them.

From a package index's simple API in its JSON form (PEP 691; PyPI's by default, or
``--index-url``; none with ``--no-index``), which lists every file with its yanked flag and Requires-Python; or,
with ``--find-links DIR``, from the wheel and sdist names in that folder (the names
follow PEP 427 and the sdist convention, NAME-VERSION.tar.gz). Pre-releases, dev
releases and yanked versions are left out; so are versions none of whose files may
be installed on this Python (Requires-Python), and they are named.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from .envs import IndexOptions, canonical

__all__ = ["Listing", "ReleasesError", "list_releases"]

PYPI_SIMPLE = "https://pypi.org/simple"
TIMEOUT = 30.0
_SDIST = (".tar.gz", ".zip", ".tar.bz2")


class ReleasesError(Exception):
    """The versions could not be listed: the index did not answer, or knows no such package."""


@dataclass
class Listing:
    """What the index offers: ``versions`` (installable here, oldest first), and the
    versions left out with why (``left_out``: version -> reason)."""

    versions: list[str] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)
    source: str = ""


def list_releases(package: str, index: IndexOptions = IndexOptions()) -> Listing:
    """The final, unyanked releases of ``package`` (see the module's docstring)."""
    files: dict[str, list[tuple[bool, str | None]]] = {}  # version -> (yanked, requires-python) per file
    sources = []
    for link in index.find_links:
        if "://" in link and not link.startswith("file://"):
            continue  # a page of links: the installer reads it, the listing does not
        folder = link.removeprefix("file://")
        _from_folder(package, folder, files)
        sources.append(folder)
    if not index.no_index and (index.index_url or not index.find_links):
        url = (index.index_url or PYPI_SIMPLE).rstrip("/")
        _from_index(package, url, files)
        sources.append(url)
    return _filtered(files, " + ".join(sources))


def _from_folder(package: str, folder: str, files: dict[str, list[tuple[bool, str | None]]]) -> None:
    try:
        names = os.listdir(folder)
    except OSError as exc:
        raise ReleasesError(f"--find-links {folder}: cannot list it: {exc.strerror or exc}") from None
    for name in names:
        version = _file_version(package, name)
        if version is not None:
            files.setdefault(version, []).append((False, None))


def _file_version(package: str, filename: str) -> str | None:
    """The version in a distribution file's name, when the file is ``package``'s."""
    if filename.endswith(".whl"):
        parts = filename[:-4].split("-")
        if len(parts) >= 5 and canonical(parts[0]) == canonical(package):
            return parts[1]
        return None
    for ext in _SDIST:
        if filename.endswith(ext):
            stem = filename[: -len(ext)]
            name, _, version = stem.rpartition("-")
            return version if name and canonical(name) == canonical(package) else None
    return None


def _from_index(package: str, url: str, files: dict[str, list[tuple[bool, str | None]]]) -> None:
    import requests

    page = f"{url}/{canonical(package)}/"
    try:
        answer = requests.get(page, timeout=TIMEOUT,
                              headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    except requests.RequestException as exc:
        raise ReleasesError(f"{page}: the index did not answer ({type(exc).__name__}): "
                            "bisect needs the index, or --find-links DIR") from None
    if answer.status_code == 404:
        raise ReleasesError(f"{page}: the index has no package {package!r}")
    if answer.status_code != 200 or "json" not in answer.headers.get("Content-Type", ""):
        raise ReleasesError(f"{page}: HTTP {answer.status_code}, not the simple API's JSON form (PEP 691)")
    try:
        data = answer.json()
        entries = data["files"]
    except (ValueError, KeyError, TypeError):
        raise ReleasesError(f"{page}: not the simple API's JSON form (PEP 691)") from None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        version = _file_version(package, str(entry.get("filename", "")))
        if version is None:
            continue
        yanked = bool(entry.get("yanked"))
        requires = entry.get("requires-python")
        files.setdefault(version, []).append((yanked, requires if isinstance(requires, str) else None))


def _filtered(files: dict[str, list[tuple[bool, str | None]]], source: str) -> Listing:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    here = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
    listing = Listing(source=source)
    parsed: list[tuple[Version, str]] = []
    for text, entries in files.items():
        try:
            version = Version(text)
        except InvalidVersion:
            continue
        if version.is_prerelease or version.is_devrelease:
            continue
        if all(yanked for yanked, _ in entries):
            listing.left_out[text] = "yanked"
            continue
        fits = []
        for yanked, requires in entries:
            try:
                fits.append(not yanked and (requires is None or SpecifierSet(requires).contains(here)))
            except InvalidSpecifier:
                fits.append(not yanked)
        if not any(fits):
            listing.left_out[text] = f"requires Python {entries[0][1]} (this is {here})"
            continue
        parsed.append((version, text))
    listing.versions = [text for _, text in sorted(set(parsed))]
    return listing
