"""Dependency sources: one small reader per input format, one interface for all of them.

`read_dependencies(path)` reads any lock or requirements file into a `DependencyGraph` whose
packages carry `source_file`/`source_line`; `read_environment(python, environ)` reads an
installed environment. The SBOM gate and the audit gate use only these two entry points.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from changegate.gates.sbom.model import DependencyGraph
from changegate.gates.sbom.readers.base import input_error, load_toml, read_text
from changegate.gates.sbom.readers.environment import read_environment
from changegate.gates.sbom.readers.pipfile import read_pipfile_lock
from changegate.gates.sbom.readers.poetry import read_poetry_lock
from changegate.gates.sbom.readers.pylock import read_pylock
from changegate.gates.sbom.readers.requirements import read_requirements
from changegate.gates.sbom.readers.uvlock import read_uv_lock

__all__ = ["AUTO_DETECT_ORDER", "detect_format", "find_default_source", "read_dependencies",
           "read_environment"]

_Reader = Callable[[Path, str], DependencyGraph]

READERS: dict[str, _Reader] = {
    "uv.lock": read_uv_lock,
    "poetry.lock": read_poetry_lock,
    "pylock": read_pylock,
    "Pipfile.lock": read_pipfile_lock,
}

# When no source is named: a tool's own lock first (it has the graph), then the standard lock,
# then the flat formats.
AUTO_DETECT_ORDER = ("uv.lock", "poetry.lock", "pylock.toml", "Pipfile.lock", "requirements.txt")


def detect_format(path: Path, label: str | None = None) -> str:
    """The format of a lock/requirements file: by its name, else by its content."""
    label = label or str(path)
    name = path.name
    if name == "uv.lock":
        return "uv.lock"
    if name == "poetry.lock":
        return "poetry.lock"
    if name == "Pipfile.lock":
        return "Pipfile.lock"
    if name == "pylock.toml" or (name.startswith("pylock.") and name.endswith(".toml")):
        return "pylock"
    if name.endswith((".txt", ".in")) or "requirements" in name:
        return "requirements"
    return _sniff(path, label)


def _sniff(path: Path, label: str) -> str:
    text = read_text(path, label)
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict) and "_meta" in data:
            return "Pipfile.lock"
    else:
        try:
            toml = load_toml(text, label)
        except Exception:
            toml = None
        if toml is not None:
            if "lock-version" in toml and "packages" in toml:
                return "pylock"
            if isinstance(toml.get("metadata"), dict) and "content-hash" in toml["metadata"]:
                return "poetry.lock"
            if "version" in toml and "package" in toml:
                return "uv.lock"
    raise input_error(f"{label}: unknown lock file format", label, 1,
                      fix="name it pylock.toml, uv.lock, poetry.lock or Pipfile.lock, or pass "
                          "a requirements file with --requirements")


def read_dependencies(path: Path, label: str | None = None, project_dir: Path | None = None,
                      fmt: str | None = None) -> DependencyGraph:
    """Read a lock or requirements file (format from `fmt`, its name, or its content)."""
    label = label or str(path)
    if not path.is_file():
        raise input_error(f"{label} does not exist" if not path.exists()
                          else f"{label} is not a file", label)
    fmt = fmt or detect_format(path, label)
    if fmt == "requirements":
        return read_requirements(path, label, project_dir)
    reader = READERS.get(fmt)
    if reader is None:
        raise input_error(f"{label}: unknown lock file format {fmt!r}", label)
    return reader(path, label)


def find_default_source(directory: Path) -> Path | None:
    """The first lock/requirements file in AUTO_DETECT_ORDER present in `directory`."""
    for name in AUTO_DETECT_ORDER:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    named = sorted(directory.glob("pylock.*.toml"))
    if len(named) == 1:
        return named[0]
    return None
