"""Installed environments: dist-info reading, markers for the target interpreter, the probe."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

import pytest
from sbom_fixtures import FakeSite, marker_environment

from changegate.errors import InputError
from changegate.gates.sbom.model import Package, canonical_name
from changegate.gates.sbom.readers.environment import (
    RECORD_PROPERTY,
    probe,
    read_environment,
    read_site,
)


def packages(site: FakeSite, **markers: str) -> dict[str, Package]:
    graph = read_site([str(site.path)], marker_environment(**markers), "site")
    return {p.key: p for p in graph.packages}


def test_reads_metadata_without_importing(site: FakeSite) -> None:
    site.add("Demo_Pkg", "1.0", summary="A demo", license_expression="mit OR apache-2.0",
             home_page="https://example.org/demo",
             project_urls=["Source, https://github.com/example/demo",
                           "Funding, https://example.org/fund"])
    graph = read_site([str(site.path)], marker_environment(), "site")
    (package,) = graph.packages
    assert package.name == "Demo_Pkg" and package.key == "demo-pkg"
    assert package.description == "A demo"
    assert package.licenses.expression == "MIT OR Apache-2.0"
    assert ("vcs", "https://github.com/example/demo") in {(r.type, r.url)
                                                          for r in package.external_refs}
    funding = next(r for r in package.external_refs if r.url.endswith("/fund"))
    assert funding.type == "other" and funding.comment == "Funding"
    assert package.properties[0][0] == RECORD_PROPERTY and len(package.properties[0][1]) == 64
    assert package.ref == "pkg:pypi/demo-pkg@1.0"


def test_markers_are_evaluated_for_the_target_interpreter(site: FakeSite) -> None:
    site.add("app", "1", requires=['tomli>=1; python_version < "3.11"',
                                   'pywin32; sys_platform == "win32"', "plain"])
    old = packages(site, python_version="3.10", python_full_version="3.10.4",
                   sys_platform="linux")["app"]
    assert {d.name for d in old.dependencies} == {"tomli", "plain"}
    new = packages(site, python_version="3.12", python_full_version="3.12.1",
                   sys_platform="win32")["app"]
    assert {d.name for d in new.dependencies} == {"pywin32", "plain"}


def test_extras_become_conditional_edges(site: FakeSite) -> None:
    site.add("requests", "2", extras=["socks"], requires=[
        "idna", 'PySocks>=1.5; extra == "socks"',
        'win-inet-pton; sys_platform == "win32" and extra == "socks"'])
    deps = packages(site, sys_platform="linux")["requests"].dependencies
    assert [(d.name, d.when_extra) for d in deps] == [("idna", None), ("pysocks", "socks")]


def test_direct_url_vcs_archive_and_local(site: FakeSite) -> None:
    site.add("fromgit", "1.0", direct_url={
        "url": "https://github.com/example/fromgit",
        "vcs_info": {"vcs": "git", "commit_id": "0123abc", "requested_revision": "main"}})
    site.add("fromurl", "2.0", direct_url={
        "url": "https://mirror.example/fromurl-2.0.tar.gz",
        "archive_info": {"hashes": {"sha256": "ab" * 32}}})
    site.add("local", "3.0", direct_url={"url": "file:///src/local",
                                         "dir_info": {"editable": True}})
    found = packages(site)
    git = found["fromgit"]
    assert git.purl_qualifiers == (
        ("vcs_url", "git+https://github.com/example/fromgit@0123abc"),)
    url = found["fromurl"]
    assert url.hashes[0].value == "ab" * 32
    assert ("download_url", "https://mirror.example/fromurl-2.0.tar.gz") in url.purl_qualifiers
    assert found["local"].local is True


def test_egg_info_and_duplicates(site: FakeSite) -> None:
    egg = site.path / "old_style-0.5.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: old-style\nVersion: 0.5\n")
    (egg / "requires.txt").write_text("six\n\n[fast]\nujson\n\n[:sys_platform == \"win32\"]\n"
                                      "colorama\n")
    (site.path / "single-1.0.egg-info").write_text("Metadata-Version: 1.0\nName: single\n"
                                                   "Version: 1.0\n")
    site.add("dup", "1.0")
    site.add("dup", "2.0")
    graph = read_site([str(site.path)], marker_environment(sys_platform="linux"), "site")
    found = {p.key: p for p in graph.packages}
    assert {d.name: d.when_extra for d in found["old-style"].dependencies} == {
        "six": None, "ujson": "fast"}
    assert "single" in found
    assert [p.version for p in graph.packages if p.key == "dup"] == ["1.0", "2.0"]
    assert any(n.rule == "SBOM_DUPLICATE_PACKAGE" for n in graph.notices)


def test_broken_metadata_is_a_notice_not_a_crash(site: FakeSite) -> None:
    (site.path / "broken-1.0.dist-info").mkdir()
    site.add("fine", "1.0", requires=["bad requirement ((("])
    graph = read_site([str(site.path)], marker_environment(), "site")
    assert [p.key for p in graph.packages] == ["fine"]
    rules = [n.rule for n in graph.notices]
    assert rules.count("SBOM_METADATA_UNREADABLE") == 2


def test_probe_runs_the_interpreter_once_and_matches_importlib() -> None:
    interpreter = probe(Path(sys.executable), {"PATH": "/usr/bin:/bin"}, "python")
    assert interpreter.markers["python_version"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    graph = read_environment(Path(sys.executable), {"PATH": "/usr/bin:/bin"}, "python")
    ours = {(p.key, p.version) for p in graph.packages}
    theirs = {(canonical_name(d.metadata["Name"]), d.version)
              for d in metadata.distributions(path=list(interpreter.path))}
    assert ours == theirs


def test_venv_directory_is_accepted(tmp_path: Path) -> None:
    venv = Path(sys.prefix)
    graph = read_environment(venv, {"PATH": "/usr/bin:/bin"}, "venv")
    assert graph.packages


@pytest.mark.parametrize("kind", ["missing", "not-python", "empty-dir"])
def test_bad_interpreter_is_an_input_error(tmp_path: Path, kind: str) -> None:
    if kind == "missing":
        target = tmp_path / "nope" / "python"
    elif kind == "not-python":
        target = tmp_path / "python"
        target.write_text("#!/bin/sh\necho not json\n")
        target.chmod(0o755)
    else:
        target = tmp_path
    with pytest.raises(InputError) as raised:
        read_environment(target, {"PATH": "/usr/bin:/bin"}, "the-python")
    assert raised.value.rule == "SBOM_INPUT_INVALID"
    assert raised.value.location.file == "the-python"
