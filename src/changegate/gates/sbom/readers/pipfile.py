"""`Pipfile.lock` (pipenv): a flat JSON lock, `default` (required) and `develop` (dev) sections.

The format records no edges between packages, so every package hangs directly under the root,
with the scope of its section. Line numbers are recovered by locating each `"name": {` key
inside its section's span of the text (JSON parsers give no positions for values).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from changegate.gates.sbom.model import DependencyGraph, DependencyKind, Hash, Package
from changegate.gates.sbom.readers.base import (
    expect_list,
    expect_table,
    input_error,
    parse_hash,
    read_text,
)

_SECTIONS: dict[str, DependencyKind] = {"default": "required", "develop": "dev"}


def read_pipfile_lock(path: Path, label: str | None = None) -> DependencyGraph:
    label = label or str(path)
    text = read_text(path, label)
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise input_error(f"{label} is not valid JSON: {exc.msg}", label, exc.lineno,
                          column=exc.colno) from None
    if not isinstance(data, dict) or "_meta" not in data:
        raise input_error(f"{label} is not a Pipfile.lock (no _meta section)", label, 1)
    graph = DependencyGraph(source_kind="Pipfile.lock", source_file=label,
                            package_manager="pipenv", has_edges=False)
    spans = _section_spans(text)
    for section, kind in _SECTIONS.items():
        start, end = spans.get(section, (0, len(text)))
        packages = expect_table(data.get(section), section, label, _line_at(text, start))
        for name, body in packages.items():
            line = _key_line(text, name, start, end)
            graph.packages.append(_package(name, body, kind, label, line))
    return graph


def _package(name: str, body: Any, kind: DependencyKind, label: str,
             line: int | None) -> Package:
    table = expect_table(body, name, label, line)
    version = table.get("version")
    pinned = None
    if isinstance(version, str) and version.startswith("==") and "*" not in version:
        pinned = version[2:].strip()
    hashes: list[Hash] = []
    for item in expect_list(table.get("hashes"), f"{name}: hashes", label, line):
        digest = parse_hash(str(item), label, line)
        if digest:
            hashes.append(digest)
    qualifiers: list[tuple[str, str]] = []
    local = False
    for vcs in ("git", "hg", "svn", "bzr"):
        url = table.get(vcs)
        if isinstance(url, str):
            ref = table.get("ref")
            qualifiers.append(("vcs_url", f"{vcs}+{url}@{ref}" if ref else f"{vcs}+{url}"))
    if isinstance(table.get("file"), str):
        if str(table["file"]).startswith(("http://", "https://")):
            qualifiers.append(("download_url", table["file"]))
        else:
            local = True
    if isinstance(table.get("path"), str):
        local = True
    return Package(name=name, version=pinned, source_file=label, source_line=line,
                   hashes=tuple(dict.fromkeys(hashes)), kind=kind,
                   purl_qualifiers=tuple(qualifiers), local=local)


def _section_spans(text: str) -> dict[str, tuple[int, int]]:
    """Character spans of the top-level sections, found by their keys at nesting depth 1."""
    starts = []
    depth = 0
    in_string = False
    escaped = False
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            if depth == 1:
                match = re.match(r'"([^"\\]*)"\s*:', text[index:])
                if match:
                    starts.append((match.group(1), index))
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
    spans = {}
    for position, (key, start) in enumerate(starts):
        end = starts[position + 1][1] if position + 1 < len(starts) else len(text)
        spans[key] = (start, end)
    return spans


def _key_line(text: str, key: str, start: int, end: int) -> int | None:
    position = text.find(json.dumps(key) + ":", start, end)
    if position < 0:
        position = text.find(json.dumps(key), start, end)
    return _line_at(text, position) if position >= 0 else None


def _line_at(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1
