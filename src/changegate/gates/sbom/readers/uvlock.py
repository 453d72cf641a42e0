"""`uv.lock`: uv's universal lock file (format version 1).

uv locks one resolution for every platform, so its markers are kept, not evaluated. The project
itself is an entry whose source is the project directory (`editable = "."` or `virtual = "."`):
it becomes the root, and its dependencies, optional dependencies and dev groups give the root's
edges and their scopes. Other path sources (workspace members) are local packages: no purl.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from changegate.gates.sbom.model import (
    Artifact,
    Dependency,
    DependencyGraph,
    DependencyKind,
    Hash,
    Package,
    RootDependency,
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
    optional_str,
    parse_hash,
    read_text,
)

PYPI_INDEXES = ("https://pypi.org/simple", "https://pypi.python.org/simple")
_LOCAL_SOURCES = ("editable", "virtual", "directory", "path")


def read_uv_lock(path: Path, label: str | None = None) -> DependencyGraph:
    label = label or str(path)
    text = read_text(path, label)
    data = load_toml(text, label)
    lines = TomlLines(text)
    version = data.get("version")
    if version != 1:
        raise input_error(f"unsupported uv.lock format version {version!r} (expected 1)", label,
                          lines.line_containing("version"),
                          fix="regenerate the lock with a uv release that writes version 1")
    entries = expect_list(data.get("package"), "package", label, None)
    where = entry_lines(lines, "package", entries)
    graph = DependencyGraph(source_kind="uv.lock", source_file=label, package_manager="uv")
    direct: list[RootDependency] = []
    for entry, line in zip(entries, where, strict=True):
        table = expect_table(entry, "[[package]]", label, line)
        name = expect_str(table.get("name"), "package name", label, line)
        source = expect_table(table.get("source"), f"{name}: source", label, line)
        if _is_project_root(source):
            direct.extend(_root_edges(table, label, line))
            graph.root_name = name
            graph.root_version = optional_str(table.get("version"), f"{name}: version", label,
                                              line)
            continue
        graph.packages.append(_package(table, name, source, label, line))
    graph.direct = tuple(direct)
    return graph


def _is_project_root(source: dict[str, Any]) -> bool:
    return any(source.get(kind) == "." for kind in _LOCAL_SOURCES)


def _package(table: dict[str, Any], name: str, source: dict[str, Any], label: str,
             line: int | None) -> Package:
    version = optional_str(table.get("version"), f"{name}: version", label, line)
    artifacts: list[Artifact] = []
    sdist = expect_table(table.get("sdist"), f"{name}: sdist", label, line)
    if sdist:
        artifacts.append(_artifact(sdist, name, label, line))
    for wheel in expect_list(table.get("wheels"), f"{name}: wheels", label, line):
        artifacts.append(_artifact(expect_table(wheel, f"{name}: wheel", label, line), name,
                                   label, line))
    qualifiers: list[tuple[str, str]] = []
    local = False
    registry = source.get("registry")
    if isinstance(registry, str) and registry.rstrip("/") not in PYPI_INDEXES:
        qualifiers.append(("repository_url", registry))
    git = source.get("git")
    if isinstance(git, str):
        qualifiers.append(("vcs_url", _git_vcs_url(git)))
    url = source.get("url")
    if isinstance(url, str):
        qualifiers.append(("download_url", url))
    if any(kind in source for kind in _LOCAL_SOURCES):
        local = True
    deps = _edges(table, name, label, line)
    return Package(
        name=name, version=version, source_file=label, source_line=line,
        hashes=tuple(dict.fromkeys(h for a in artifacts for h in a.hashes)),
        dependencies=deps, purl_qualifiers=tuple(qualifiers), local=local)


def _git_vcs_url(git: str) -> str:
    """uv writes `https://host/repo?rev=x#<commit>`; purl wants `git+https://host/repo@<commit>`."""
    parts = urlsplit(git)
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return f"git+{base}@{parts.fragment}" if parts.fragment else f"git+{base}"


def _artifact(table: dict[str, Any], name: str, label: str, line: int | None) -> Artifact:
    hashes: list[Hash] = []
    value = table.get("hash")
    if value is not None:
        digest = parse_hash(expect_str(value, f"{name}: hash", label, line), label, line)
        if digest:
            hashes.append(digest)
    url = table.get("url")
    return Artifact(url if isinstance(url, str) else None, tuple(hashes))


def _dependency(item: Any, what: str, label: str, line: int | None,
                when_extra: str | None = None) -> Dependency:
    table = expect_table(item, what, label, line)
    name = expect_str(table.get("name"), f"{what} name", label, line)
    extras = expect_list(table.get("extra"), f"{what} extra", label, line)
    version = table.get("version")
    marker = table.get("marker")
    return Dependency(canonical_name(name), frozenset(canonical_name(str(e)) for e in extras),
                      when_extra, str(version) if version is not None else None,
                      str(marker) if marker else None)


def _edges(table: dict[str, Any], name: str, label: str,
           line: int | None) -> tuple[Dependency, ...]:
    deps = [_dependency(item, f"{name}: dependency", label, line)
            for item in expect_list(table.get("dependencies"), f"{name}: dependencies", label,
                                    line)]
    optional = expect_table(table.get("optional-dependencies"), f"{name}: optional-dependencies",
                            label, line)
    for extra, items in optional.items():
        for item in expect_list(items, f"{name}: optional-dependencies.{extra}", label, line):
            deps.append(_dependency(item, f"{name}: optional dependency", label, line,
                                    canonical_name(extra)))
    return tuple(deps)


def _root_edges(table: dict[str, Any], label: str, line: int | None) -> list[RootDependency]:
    out: list[RootDependency] = []

    def add(items: Any, kind: DependencyKind, group: str | None, what: str) -> None:
        for item in expect_list(items, what, label, line):
            dep = _dependency(item, what, label, line)
            out.append(RootDependency(dep.name, kind, dep.extras, group, dep.marker, label, line))

    add(table.get("dependencies"), "required", None, "dependencies")
    optional = expect_table(table.get("optional-dependencies"), "optional-dependencies", label,
                            line)
    for extra, items in optional.items():
        add(items, "optional", canonical_name(extra), f"optional-dependencies.{extra}")
    dev = expect_table(table.get("dev-dependencies"), "dev-dependencies", label, line)
    for group, items in dev.items():
        add(items, "dev", group, f"dev-dependencies.{group}")
    return out
