"""One version everywhere: pyproject.toml's, as cnnlab, its command, CITATION.cff and CHANGELOG.md
give it."""
from __future__ import annotations

import datetime
import re
import subprocess
import sys
from pathlib import Path

import yaml

import cnnlab

ROOT = Path(__file__).resolve().parents[1]
SPDX = {"MIT", "CC-BY-4.0"}
RELEASE = re.compile(r"^## (\d+\.\d+\.\d+) — (\d{4}-\d{2}-\d{2})$", re.MULTILINE)


def pyproject_version() -> str:
    m = re.search(r'^version = "([^"]+)"$', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    assert m, "pyproject.toml has no static version"
    return m.group(1)


def citation() -> dict:
    return yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))


def test_package_and_command_report_the_pyproject_version():
    """cnnlab.__version__ comes from the installed metadata (re-install after a version bump)."""
    version = pyproject_version()
    assert cnnlab.__version__ == version
    run = subprocess.run([sys.executable, "-m", "cnnlab", "--version"], capture_output=True,
                         text=True, timeout=60)
    assert run.stdout == f"cnnlab {version}\n"


def test_citation_is_valid_cff_1_2():
    cff = citation()
    assert cff["cff-version"] == "1.2.0"
    for key in ("message", "title", "abstract", "repository-code", "url"):
        assert isinstance(cff[key], str) and cff[key].strip(), key
    assert cff["type"] in ("software", "dataset")
    assert cff["authors"] and all(a.get("name") or a.get("family-names") for a in cff["authors"])
    assert set(cff["license"]) <= SPDX
    assert all(cff[key].startswith("https://") for key in ("repository-code", "url"))
    datetime.date.fromisoformat(cff["date-released"])
    unknown = set(cff) - {"cff-version", "message", "type", "title", "abstract", "authors",
                          "version", "date-released", "license", "repository-code", "url",
                          "keywords", "doi", "identifiers", "preferred-citation", "references"}
    assert not unknown, f"not CFF 1.2.0 keys (or not expected here): {unknown}"


def test_citation_and_changelog_name_the_current_release():
    cff = citation()
    assert cff["version"] == pyproject_version()
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    releases = RELEASE.findall(text)
    assert releases, "CHANGELOG.md has no '## X.Y.Z — YYYY-MM-DD' heading"
    assert releases[0] == (cff["version"], cff["date-released"])
    assert text.index("## Unreleased") < text.index(f"## {releases[0][0]} ")
