"""`poetry.lock`, as written by Poetry 1 (lock-version 1.x) and Poetry 2 (2.x).

Poetry 1.0/1.1 keep artifact hashes apart, in `[metadata.files]`; later versions keep them in each
package's `files`. Optional dependencies are edges only under the extra that lists them
(`[package.extras]`). Poetry 2 adds `groups`, which give each package's kind when the project's
pyproject.toml is not at hand to say what the root needs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from changegate.gates.sbom.model import (
    Dependency,
    DependencyGraph,
    DependencyKind,
    Hash,
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
    optional_str,
    parse_hash,
    read_text,
)
from changegate.gates.sbom.readers.uvlock import PYPI_INDEXES

# Poetry writes extras as "PySocks (>=1.5.6,!=1.5.7)" (1.x) or PEP 508 strings (2.x).
_EXTRA_ITEM_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def read_poetry_lock(path: Path, label: str | None = None) -> DependencyGraph:
    label = label or str(path)
    text = read_text(path, label)
    data = load_toml(text, label)
    lines = TomlLines(text)
    metadata = expect_table(data.get("metadata"), "[metadata]", label,
                            lines.line_containing("[metadata]"))
    lock_version = str(metadata.get("lock-version", ""))
    if not re.fullmatch(r"[12](\.\d+)*", lock_version):
        raise input_error(f"unsupported poetry.lock lock-version {lock_version!r} (expected 1.x "
                          "or 2.x)", label, lines.line_containing("lock-version"))
    legacy_files = expect_table(metadata.get("files"), "[metadata.files]", label,
                                lines.line_containing("[metadata.files]"))
    entries = expect_list(data.get("package"), "package", label, None)
    where = entry_lines(lines, "package", entries)
    graph = DependencyGraph(source_kind="poetry.lock", source_file=label,
                            package_manager="poetry")
    for entry, line in zip(entries, where, strict=True):
        table = expect_table(entry, "[[package]]", label, line)
        graph.packages.append(_package(table, legacy_files, label, line))
    return graph


def _package(table: dict[str, Any], legacy_files: dict[str, Any], label: str,
             line: int | None) -> Package:
    name = expect_str(table.get("name"), "package name", label, line)
    version = optional_str(table.get("version"), f"{name}: version", label, line)
    files = table.get("files")
    if files is None:
        files = legacy_files.get(name, legacy_files.get(canonical_name(name)))
    hashes: list[Hash] = []
    for item in expect_list(files, f"{name}: files", label, line):
        entry = expect_table(item, f"{name}: file", label, line)
        value = entry.get("hash")
        if value:
            digest = parse_hash(expect_str(value, f"{name}: hash", label, line), label, line)
            if digest:
                hashes.append(digest)
    qualifiers, local = _source(expect_table(table.get("source"), f"{name}: source", label, line))
    return Package(
        name=name, version=version, source_file=label, source_line=line,
        hashes=tuple(dict.fromkeys(hashes)),
        description=table.get("description") if isinstance(table.get("description"), str)
        else None,
        dependencies=_dependencies(table, name, label, line),
        kind=_kind(table),
        purl_qualifiers=qualifiers, local=local)


def _source(source: dict[str, Any]) -> tuple[tuple[tuple[str, str], ...], bool]:
    kind = source.get("type")
    url = source.get("url")
    if not isinstance(url, str):
        return (), False
    if kind == "git":
        commit = source.get("resolved_reference") or source.get("reference")
        vcs = f"git+{url}@{commit}" if commit else f"git+{url}"
        return (("vcs_url", vcs),), False
    if kind in ("file", "directory"):
        return (), True
    if kind == "url":
        return (("download_url", url),), False
    if kind == "legacy" and url.rstrip("/") not in PYPI_INDEXES:
        return (("repository_url", url),), False
    return (), False


def _kind(table: dict[str, Any]) -> DependencyKind | None:
    groups = table.get("groups")
    if isinstance(groups, list) and groups:
        return "required" if "main" in groups else "dev"
    category = table.get("category")
    if category == "dev":
        return "dev"
    if category == "main":
        return "required"
    return None


def _dependencies(table: dict[str, Any], name: str, label: str,
                  line: int | None) -> tuple[Dependency, ...]:
    extras_of: dict[str, list[str]] = {}
    for extra, items in expect_table(table.get("extras"), f"{name}: extras", label,
                                     line).items():
        for item in expect_list(items, f"{name}: extras.{extra}", label, line):
            match = _EXTRA_ITEM_NAME.match(str(item))
            if match:
                extras_of.setdefault(canonical_name(match.group(1)), []).append(
                    canonical_name(extra))
    out: list[Dependency] = []
    for dep_name, spec in expect_table(table.get("dependencies"), f"{name}: dependencies",
                                       label, line).items():
        key = canonical_name(dep_name)
        for constraint in spec if isinstance(spec, list) else [spec]:
            options = constraint if isinstance(constraint, dict) else {}
            extras = frozenset(canonical_name(str(e)) for e in options.get("extras") or ())
            marker = options.get("markers")
            marker_text = str(marker) if marker else None
            if options.get("optional"):
                for extra in extras_of.get(key, []):
                    out.append(Dependency(key, extras, when_extra=extra, marker=marker_text))
            else:
                out.append(Dependency(key, extras, marker=marker_text))
    return tuple(dict.fromkeys(out))
