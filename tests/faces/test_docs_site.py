"""The documentation site: ``mkdocs build --strict`` on the real tree passes (a broken
link, a missing anchor, a page on disk but not in ``nav`` or in ``nav`` but not on
disk is a warning, and a warning fails the build), and the configuration really makes
such a mistake fail: the same settings on a tiny tree with a broken link must fail."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import ROOT

CONFIG = ROOT / "mkdocs.yml"

# The pages agreed on issue 22 (item 5): every one is in the site's nav.
AGREED = {
    "index.md", "install.md", "tutorial.md", "scenario-files.md", "paths-and-profiles.md", "traffic.md",
    "probe.md", "reports.md", "results-json.md", "pytest-plugin.md", "ci.md", "how-it-works.md", "design.md",
    *(f"recipes/{r}.md" for r in ("flask", "django", "uvicorn", "gunicorn", "celery", "multiprocessing",
                                  "worker-script")),
    *(f"reference/{r}.md" for r in ("paths", "profiles", "roles", "outcomes", "scenario-keys", "cli")),
    "versions.md",  # issue 24: run --with and bisect
}


def _config() -> dict[str, Any]:
    loaded = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _nav_files(nav: Any) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [f for item in nav for f in _nav_files(item)]
    if isinstance(nav, dict):
        return [f for value in nav.values() for f in _nav_files(value)]
    return []


def _build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config),
                           "--site-dir", str(site)], capture_output=True, text=True, timeout=100, cwd=ROOT)
    if "No module named mkdocs" in done.stderr:
        pytest.fail("mkdocs is not installed: it is in the test extra, pip install -e '.[test]'")
    return done


def test_the_nav_lists_every_agreed_page_once() -> None:
    config = _config()
    files = _nav_files(config["nav"])
    assert sorted(files) == sorted(AGREED)
    assert config["docs_dir"] == "docs" and config["strict"] is True


def test_the_site_builds_with_warnings_as_errors(tmp_path: Path) -> None:
    done = _build(CONFIG, tmp_path / "site")
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr}{done.stdout}"
    assert "WARNING" not in done.stderr, done.stderr
    assert (tmp_path / "site" / "reference" / "paths" / "index.html").is_file()


@pytest.mark.parametrize("link, says", [
    ("[gone](gone.md)", "is not found among documentation files"),
    ("[no anchor](index.md#no-such-heading)", "does not contain an anchor"),
    ("[outside](../README.md)", "README.md"),
])
def test_a_broken_link_fails_the_build(tmp_path: Path, link: str, says: str) -> None:
    """The repository's own settings (validation, strict) on a two-page tree: the build
    must fail on the one broken link, and pass without it."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\nSee [the other page](other.md).\n")
    config = _config() | {"docs_dir": str(docs), "nav": ["index.md", "other.md"]}
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config))

    (docs / "other.md").write_text("# Other\n\nBack [home](index.md#home).\n")
    good = _build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert good.returncode == 0, good.stderr

    (docs / "other.md").write_text(f"# Other\n\n{link}\n")
    bad = _build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert bad.returncode != 0 and says in bad.stderr, bad.stderr


def test_a_page_missing_from_nav_fails_the_build(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n")
    (docs / "stray.md").write_text("# Not in the nav\n")
    config = _config() | {"docs_dir": str(docs), "nav": ["index.md"]}
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config))
    done = _build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0 and "stray.md" in done.stderr, done.stderr
