"""`pylock.toml` (PEP 751), the standard lock file: `pylock.toml` or `pylock.<name>.toml`.

A package's `dependencies` are optional in PEP 751 (uv does not write them), so the graph is
known only when some entry has them; otherwise the lock is a flat list under the root. A
`directory` entry at the lock's own directory is the project itself and becomes the root.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from changegate.gates.sbom.model import (
    Artifact,
    Dependency,
    DependencyGraph,
    ExternalRef,
    Hash,
    Notice,
    Package,
    canonical_name,
)
from changegate.gates.sbom.readers.base import (
    TomlLines,
    entry_lines,
    expect_list,
    expect_str,
    expect_table,
    input_error,
    load_toml,
    make_hash,
    optional_str,
    read_text,
)
from changegate.gates.sbom.readers.uvlock import PYPI_INDEXES

_KNOWN_INSTALLERS = {"uv": "uv", "pdm": "pdm", "pip": "pip", "poetry": "poetry"}


def read_pylock(path: Path, label: str | None = None) -> DependencyGraph:
    label = label or str(path)
    text = read_text(path, label)
    data = load_toml(text, label)
    lines = TomlLines(text)
    lock_version = data.get("lock-version")
    if not isinstance(lock_version, str) or not re.fullmatch(r"1(\.\d+)?", lock_version):
        raise input_error(f"unsupported pylock lock-version {lock_version!r} (PEP 751: 1.0)",
                          label, lines.line_containing("lock-version"),
                          fix="regenerate the lock with a tool that writes PEP 751 version 1")
    created_by = data.get("created-by")
    graph = DependencyGraph(
        source_kind="pylock", source_file=label,
        package_manager=_KNOWN_INSTALLERS.get(str(created_by).lower(), "pip"))
    entries = expect_list(data.get("packages"), "packages", label, None)
    where = entry_lines(lines, "packages", entries)
    has_edges = False
    for entry, line in zip(entries, where, strict=True):
        table = expect_table(entry, "[[packages]]", label, line)
        name = expect_str(table.get("name"), "package name", label, line)
        directory = expect_table(table.get("directory"), f"{name}: directory", label, line)
        if directory.get("path") in (".", "./"):
            graph.root_name = name
            graph.root_version = optional_str(table.get("version"), f"{name}: version", label,
                                              line)
            continue
        if "dependencies" in table:
            has_edges = True
        graph.packages.append(_package(table, name, label, line, graph.notices))
    graph.has_edges = has_edges
    return graph


def _package(table: dict[str, Any], name: str, label: str, line: int | None,
             notices: list[Notice]) -> Package:
    version = optional_str(table.get("version"), f"{name}: version", label, line)
    artifacts: list[Artifact] = []
    for key in ("sdist", "archive"):
        body = expect_table(table.get(key), f"{name}: {key}", label, line)
        if body:
            artifacts.append(_artifact(body, f"{name}: {key}", label, line, notices))
    for wheel in expect_list(table.get("wheels"), f"{name}: wheels", label, line):
        artifacts.append(_artifact(expect_table(wheel, f"{name}: wheel", label, line),
                                   f"{name}: wheel", label, line, notices))
    qualifiers: list[tuple[str, str]] = []
    refs: list[ExternalRef] = []
    local = False
    index = table.get("index")
    if isinstance(index, str) and index.rstrip("/") not in PYPI_INDEXES:
        qualifiers.append(("repository_url", index))
    vcs = expect_table(table.get("vcs"), f"{name}: vcs", label, line)
    if vcs:
        url = vcs.get("url")
        commit = vcs.get("commit-id")
        if isinstance(url, str):
            kind = str(vcs.get("type", "git"))
            qualifiers.append(("vcs_url", f"{kind}+{url}@{commit}" if commit else f"{kind}+{url}"))
            refs.append(ExternalRef("vcs", url, f"commit {commit}" if commit else None))
        else:
            local = True
    archive = expect_table(table.get("archive"), f"{name}: archive", label, line)
    if isinstance(archive.get("url"), str):
        qualifiers.append(("download_url", archive["url"]))
    elif archive:
        local = True
    if table.get("directory"):
        local = True
    deps = []
    for item in expect_list(table.get("dependencies"), f"{name}: dependencies", label, line):
        dep = expect_table(item, f"{name}: dependency", label, line)
        dep_name = expect_str(dep.get("name"), f"{name}: dependency name", label, line)
        dep_version = dep.get("version")
        deps.append(Dependency(canonical_name(dep_name),
                               version=str(dep_version) if dep_version is not None else None))
    return Package(
        name=name, version=version, source_file=label, source_line=line,
        hashes=tuple(dict.fromkeys(h for a in artifacts for h in a.hashes)),
        dependencies=tuple(deps), purl_qualifiers=tuple(qualifiers), local=local,
        external_refs=tuple(refs))


def _artifact(table: dict[str, Any], what: str, label: str, line: int | None,
              notices: list[Notice]) -> Artifact:
    hashes: list[Hash] = []
    for algorithm, value in sorted(expect_table(table.get("hashes"), f"{what} hashes", label,
                                                line).items()):
        digest = make_hash(str(algorithm), expect_str(value, f"{what} {algorithm} hash", label,
                                                      line), label, line, notices)
        if digest:
            hashes.append(digest)
    url = table.get("url")
    return Artifact(url if isinstance(url, str) else None, tuple(hashes))
