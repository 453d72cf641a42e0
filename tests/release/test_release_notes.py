"""Release notes pieces: GitLab's integrity format, checksums, the CHANGELOG's structure."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import release_contracts
import release_notes
from releasehelpers import ROOT, project_version, run


def test_integrity_is_gitlabs_sri_form_of_the_files_sha256(tmp_path: Path) -> None:
    """`sha256-` + base64 of the raw SHA-256 digest (GitLab's include:integrity, SRI)."""
    data = b"spec:\n  inputs: {}\n---\njob: {script: [true]}\n"
    value = release_notes.sri(data)
    assert value == "sha256-" + base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert re.fullmatch(r"sha256-[A-Za-z0-9+/]{43}=", value)
    # The command the docs give (openssl) agrees, where openssl exists.
    path = tmp_path / "t.yml"
    path.write_bytes(data)
    if shutil.which("openssl"):
        digest = subprocess.run(["openssl", "dgst", "-sha256", "-binary", str(path)],
                                capture_output=True, check=True).stdout
        assert value == "sha256-" + base64.b64encode(digest).decode()


def test_every_template_and_its_catalog_copy_has_the_same_integrity() -> None:
    rows = release_notes.template_digests(ROOT)
    assert {r["path"] for r in rows} == {
        f"gitlab-templates/{p.name}" for p in (ROOT / "gitlab-templates").glob("*.yml")}
    for row in rows:
        assert row["catalog_identical"], row
        data = (ROOT / row["catalog"]).read_bytes()
        assert release_notes.sri(data) == row["integrity"]


def test_checksums_are_sha256sum_compatible(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.whl").write_bytes(b"wheel")
    (tmp_path / "sub" / "b.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / release_notes.SUMS).write_text(release_notes.checksums(tmp_path),
                                               encoding="utf-8")
    lines = (tmp_path / release_notes.SUMS).read_text().splitlines()
    assert [line.split("  ")[1] for line in lines] == ["a.whl", "sub/b.json"]
    run(["sha256sum", "--check", "--quiet", release_notes.SUMS], cwd=tmp_path)


def test_action_pins_are_full_shas_for_every_action() -> None:
    sha = "a" * 40
    pins = release_notes.action_pins(ROOT, "acme/changegate", sha)
    assert pins[0] == {"path": ".", "uses": f"acme/changegate@{sha}"}
    assert {p["path"] for p in pins[1:]} == {
        p.parent.relative_to(ROOT).as_posix() for p in (ROOT / "actions").glob("*/action.yml")}
    assert all(p["uses"].endswith("@" + sha) for p in pins)


def test_the_changelog_has_this_version_with_upgrade_notes() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    releases = release_contracts.changelog_releases(text)
    version = project_version()
    assert version in releases
    assert releases[version].section("Upgrade notes")
    assert "## [Unreleased]" in text  # where changes collect until the next release
    # Newest first.
    versions = list(releases)
    assert versions == sorted(versions, key=release_contracts.version_key, reverse=True)


@pytest.mark.parametrize("heading, version, date", [
    ("## [1.2.3] - 2027-01-31", "1.2.3", "2027-01-31"),
    ("## 1.2.3 - unreleased", "1.2.3", "unreleased"),
    ("## [1.2.3]", "1.2.3", ""),
])
def test_changelog_headings(heading: str, version: str, date: str) -> None:
    text = f"# Changelog\n\n{heading}\n\n### Upgrade notes\n\n- x\n\n### Added\n\n- y\n"
    (release,) = release_contracts.changelog_releases(text).values()
    assert (release.version, release.date) == (version, date)
    assert release.section("Upgrade notes") == "- x"
    assert release.section("Added") == "- y"
    assert release.section("Removed") is None
