"""The reproducible build: the same commit gives the same sdist and wheel bytes, anywhere.

Builds with the real hatchling, installed from the hash-locked requirements/build.txt (uv, from
the package index or its cache), from `git archive` exports of a commit of this tree.
"""

from __future__ import annotations

import os
import re
import tarfile
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
import release_build
from releasehelpers import ROOT, build_lock, project_version, run

pytestmark = pytest.mark.slow  # builds for real (hatchling from the index: uv, hash-checked)


@pytest.fixture(scope="module")
def first_build(tmp_path_factory: pytest.TempPathFactory, release_repo: tuple[Path, str],
                release_env: dict[str, str]) -> tuple[Path, release_build.Build]:
    repo, commit = release_repo
    out = tmp_path_factory.mktemp("first-build")
    return out, release_build.reproducible_build(repo, commit, out, environ=release_env)


def test_the_same_commit_builds_the_same_bytes_and_the_epoch_is_the_commits(
        tmp_path: Path, release_repo: tuple[Path, str], release_env: dict[str, str],
        first_build: tuple[Path, release_build.Build]) -> None:
    repo, commit = release_repo
    version = project_version()
    epoch = release_build.commit_epoch(repo, commit)
    one, first = first_build
    # Again, with another umask and another temporary directory: nothing may leak in.
    old = os.umask(0o077)
    try:
        second = release_build.reproducible_build(
            repo, commit, tmp_path / "two",
            environ={**release_env, "TMPDIR": str(tmp_path)})
    finally:
        os.umask(old)
    assert first.digests == second.digests
    names = sorted(first.digests)
    assert names == [f"changegate-{version}-py3-none-any.whl", f"changegate-{version}.tar.gz"]
    for name in names:
        assert (one / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    assert first.source_date_epoch == epoch
    assert first.backend == "hatchling"
    assert first.lock_sha256 == release_build.sha256_file(build_lock())

    # The archives carry the commit's time, not the build's.
    wheel = one / names[0]
    with zipfile.ZipFile(wheel) as archive:
        stamps = {info.date_time for info in archive.infolist()}
        assert f"changegate-{version}.dist-info/METADATA" in archive.namelist()
        metadata = archive.read(f"changegate-{version}.dist-info/METADATA").decode()
    when = datetime.fromtimestamp(epoch, tz=timezone.utc)
    assert stamps == {(when.year, when.month, when.day, when.hour, when.minute,
                       when.second - when.second % 2)}
    assert re.search(rf"^Version: {re.escape(version)}$", metadata, re.MULTILINE)
    with tarfile.open(one / names[1]) as sdist:
        members = sdist.getmembers()
        assert {m.mtime for m in members} == {epoch}
        assert {(m.uid, m.gid) for m in members} == {(0, 0)}
        listed = {m.name.split("/", 1)[1] for m in members if "/" in m.name}
    # Built from the commit, not the working tree: exactly its files (minus what hatchling
    # excludes by .gitignore), and never an ignored file such as the virtualenv.
    committed = set(run(["git", "ls-files"], cwd=repo).stdout.split())
    assert "pyproject.toml" in listed and "src/changegate/__init__.py" in listed
    assert listed <= committed | {"PKG-INFO"}
    assert not any(name.startswith(".venv/") for name in listed)


def test_a_different_epoch_gives_different_bytes(
        tmp_path: Path, release_repo: tuple[Path, str], release_env: dict[str, str],
        first_build: tuple[Path, release_build.Build]) -> None:
    """SOURCE_DATE_EPOCH is what fixes the timestamps (so the equality above is no accident)."""
    repo, commit = release_repo
    epoch = release_build.commit_epoch(repo, commit)
    usual = first_build[1]
    source = release_build.export(repo, commit, tmp_path / "src" / "changegate")
    python = release_build.backend_env(build_lock(), Path(release_env["CHANGEGATE_RELEASE_CACHE"]))
    release_build.build_once(python, source, tmp_path / "later", epoch + 86400)
    later = {p.name: release_build.sha256_file(p) for p in (tmp_path / "later").iterdir()}
    assert set(later) == set(usual.digests)
    assert all(usual.digests[n] != later[n] for n in usual.digests)


def test_a_build_lock_whose_hashes_do_not_match_is_refused(
        tmp_path: Path, release_repo: tuple[Path, str], release_env: dict[str, str]) -> None:
    repo, commit = release_repo
    text = build_lock().read_text(encoding="utf-8")
    tampered = tmp_path / "build.txt"
    tampered.write_text(re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, text),
                        encoding="utf-8")
    with pytest.raises(release_build.BuildError, match=r"(?i)hash"):
        release_build.reproducible_build(
            repo, commit, tmp_path / "out", lock=tampered,
            environ={**release_env, "CHANGEGATE_RELEASE_CACHE": str(tmp_path / "cache")})
    assert not (tmp_path / "out").exists()


def test_the_build_lock_pins_the_backend_pyproject_asks_for() -> None:
    """requirements/build.txt: every package pinned with hashes; it satisfies [build-system]."""
    from packaging.requirements import Requirement

    lock = build_lock().read_text(encoding="utf-8").replace("\\\n", " ")
    pins = {}
    for raw in lock.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        spec, *hashes = line.split(" --hash=")
        requirement = Requirement(spec.strip())
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", line
        assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h.strip())
                              for h in hashes), line
        pins[requirement.name.lower()] = specifier.version
    _, requires = release_build.build_system(ROOT)
    for text in requires:
        wanted = Requirement(text)
        assert wanted.name.lower() in pins, f"{wanted.name} is not in requirements/build.txt"
        assert wanted.specifier.contains(pins[wanted.name.lower()]), (wanted, pins)
