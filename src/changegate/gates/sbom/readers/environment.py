"""An installed environment, read from its `.dist-info` directories without importing anything.

To read another interpreter's environment we run that interpreter exactly once, with a tiny
script that prints its `sys.path` and its PEP 508 marker environment as JSON; everything else is
reading files (METADATA, RECORD, direct_url.json). The dependency graph comes from Requires-Dist
with markers evaluated for *that* interpreter, and extras followed where a requirer asks for them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, Marker, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement

from changegate.gates.sbom import licenses
from changegate.gates.sbom.model import (
    Dependency,
    DependencyGraph,
    ExternalRef,
    Notice,
    Package,
    canonical_name,
)
from changegate.gates.sbom.readers.base import input_error
from changegate.gates.sbom.readers.metadata import (
    CoreMetadata,
    DirectUrl,
    external_refs,
    parse_core_metadata,
    parse_direct_url,
)

# Runs inside the target interpreter: stdlib only, Python 3 syntax only, no imports of anything
# installed. The marker environment is computed as PEP 508 (and packaging) define it.
PROBE = r"""
import json, os, platform, sys
def fv(info):
    v = "%d.%d.%d" % (info.major, info.minor, info.micro)
    if info.releaselevel != "final":
        v += info.releaselevel[0] + str(info.serial)
    return v
markers = {
    "implementation_name": sys.implementation.name,
    "implementation_version": fv(sys.implementation.version),
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}
json.dump({"path": sys.path, "markers": markers, "executable": sys.executable,
           "prefix": sys.prefix}, sys.stdout)
"""

PROBE_TIMEOUT = 60.0
RECORD_PROPERTY = "changegate:dist-info:RECORD:sha256"
_EXTRA_IN_MARKER = re.compile(r"""extra\s*==\s*['"]([^'"]+)['"]""")


@dataclass(frozen=True)
class Interpreter:
    """What the probe reported about the target interpreter."""

    executable: str
    path: tuple[str, ...]
    markers: dict[str, str]


def resolve_interpreter(value: Path, label: str) -> Path:
    """`--python` accepts an interpreter or a virtual environment directory (like cyclonedx-py)."""
    if value.is_dir():
        for candidate in (value / "bin" / "python", value / "Scripts" / "python.exe"):
            if candidate.exists():
                return candidate
        raise input_error(f"{label} is a directory without bin/python or Scripts/python.exe",
                          label, fix="pass the interpreter itself, e.g. .venv/bin/python")
    if not value.exists():
        raise input_error(f"no Python interpreter at {label}", label,
                          fix="pass the path of the environment's python, e.g. .venv/bin/python")
    return value


def probe(python: Path, environ: Mapping[str, str], label: str,
          cwd: Path | None = None) -> Interpreter:
    """Run the target interpreter once and read its sys.path and marker environment."""
    executable = resolve_interpreter(python, label)
    try:
        completed = subprocess.run(
            [str(executable), "-c", PROBE], capture_output=True, text=True,
            env=dict(environ), timeout=PROBE_TIMEOUT, check=False, cwd=cwd)
    except (OSError, subprocess.SubprocessError) as exc:
        raise input_error(f"cannot run {label}: {exc}", label,
                          fix="pass an executable Python interpreter") from None
    if completed.returncode != 0:
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-3:]
        raise input_error(f"{label} exited with status {completed.returncode}: "
                          + " | ".join(tail), label,
                          fix="pass a working Python 3 interpreter") from None
    try:
        data: Any = json.loads(completed.stdout)
        path = [str(p) for p in data["path"]]
        markers = {str(k): str(v) for k, v in data["markers"].items()}
        executable_name = str(data["executable"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise input_error(f"{label} did not answer the environment probe with JSON "
                          f"(got {completed.stdout[:80]!r})", label) from None
    # `-c` puts the working directory first on sys.path; it is not part of the environment.
    if path and path[0] in ("", str(cwd or os.getcwd())):
        path = path[1:]
    return Interpreter(executable_name, tuple(path), markers)


def read_environment(python: Path, environ: Mapping[str, str], label: str | None = None,
                     cwd: Path | None = None) -> DependencyGraph:
    """The environment of `python` as a DependencyGraph (markers evaluated for it)."""
    label = label or str(python)
    interpreter = probe(python, environ, label, cwd)
    graph = read_site(interpreter.path, interpreter.markers, label)
    return graph


def read_site(path: tuple[str, ...] | list[str], markers: dict[str, str],
              label: str) -> DependencyGraph:
    """Every distribution on `path` (dist-info and egg-info), in path order.

    Separate from `probe` so tests can point it at fake environments built in a tmp dir.
    """
    graph = DependencyGraph(source_kind="environment", source_file=label, package_manager="pip",
                            has_edges=True, carries_hashes=False,
                            marker_environment=dict(markers))
    seen: set[tuple[str, str | None]] = set()
    for entry in path:
        directory = Path(entry)
        try:
            children = sorted(os.listdir(directory))
        except OSError:
            continue  # missing entries and zip files: nothing installed there to describe
        for child in children:
            lower = child.lower()
            if not lower.endswith((".dist-info", ".egg-info")):
                continue
            package = _read_distribution(directory / child, markers, graph.notices)
            if package is None:
                continue
            identity = (package.key, package.version)
            if identity in seen:
                continue  # the same distribution twice on sys.path (e.g. a .pth duplicate)
            seen.add(identity)
            graph.packages.append(package)
    _report_duplicates(graph)
    return graph


def _report_duplicates(graph: DependencyGraph) -> None:
    versions: dict[str, list[Package]] = {}
    for package in graph.packages:
        versions.setdefault(package.key, []).append(package)
    for same in versions.values():
        if len(same) > 1:
            listed = ", ".join(f"{p.version} ({p.source_file})" for p in same)
            graph.notices.append(Notice(
                "SBOM_DUPLICATE_PACKAGE",
                f"{same[0].name} is installed more than once: {listed}",
                same[1].source_file,
                fix="remove the stale copy (a leftover .dist-info from an interrupted install)"))


def _read_distribution(location: Path, markers: dict[str, str],
                       notices: list[Notice]) -> Package | None:
    is_dist_info = location.name.lower().endswith(".dist-info")
    if is_dist_info:
        metadata_file = location / "METADATA"
    elif location.is_dir():
        metadata_file = location / "PKG-INFO"
    else:
        metadata_file = location  # a single-file .egg-info is the PKG-INFO itself
    try:
        text = metadata_file.read_text("utf-8", errors="replace")
    except OSError:
        notices.append(Notice("SBOM_METADATA_UNREADABLE",
                              f"{location.name} has no readable {metadata_file.name}; skipped",
                              str(location), fix="reinstall the package"))
        return None
    meta = parse_core_metadata(text)
    if not meta.name:
        notices.append(Notice("SBOM_METADATA_UNREADABLE",
                              f"{metadata_file} names no distribution; skipped", str(location)))
        return None
    if not is_dist_info and location.is_dir():
        meta.requires_dist = _egg_requires(location / "requires.txt") or meta.requires_dist
    direct = None
    direct_file = location / "direct_url.json"
    if is_dist_info and direct_file.is_file():
        direct = parse_direct_url(direct_file.read_text("utf-8", errors="replace"),
                                  str(direct_file), notices)
    package = Package(
        name=meta.name,
        version=meta.version,
        source_file=str(metadata_file),
        licenses=licenses.from_metadata(meta.license_expression, meta.license,
                                        meta.classifiers),
        description=meta.summary or None,
        dependencies=_dependencies(meta, markers, str(metadata_file), notices),
        external_refs=external_refs(meta),
    )
    if direct is not None:
        _apply_direct_url(package, direct)
    record = location / "RECORD"
    if is_dist_info and record.is_file():
        # RECORD lists every installed file with its digest, so its own digest fingerprints
        # exactly what is installed: an auditor can later check an environment against the SBOM.
        digest = hashlib.sha256(record.read_bytes()).hexdigest()
        package.properties = ((RECORD_PROPERTY, digest),)
    return package


def _apply_direct_url(package: Package, direct: DirectUrl) -> None:
    """PEP 610 data: VCS/URL installs get purl qualifiers and references; local ones no purl."""
    qualifiers: list[tuple[str, str]] = []
    refs = list(package.external_refs)
    if direct.vcs and direct.commit_id:
        qualifiers.append(("vcs_url", f"{direct.vcs}+{direct.url}@{direct.commit_id}"))
        refs.append(ExternalRef("vcs", direct.url, f"commit {direct.commit_id}"))
    elif direct.local:
        package.local = True
    elif "://files.pythonhosted.org/" not in direct.url:
        qualifiers.append(("download_url", direct.url))
        refs.append(ExternalRef("distribution", direct.url, hashes=direct.hashes))
    package.hashes = direct.hashes
    package.purl_qualifiers = tuple(qualifiers)
    package.purl_subpath = direct.subdirectory
    package.external_refs = tuple(dict.fromkeys(refs))


def _dependencies(meta: CoreMetadata, markers: dict[str, str], label: str,
                  notices: list[Notice]) -> tuple[Dependency, ...]:
    """Requires-Dist evaluated for the target interpreter.

    A requirement whose marker holds with no extra is unconditional; one that holds only for
    some extra `e` (of those the package provides or its markers name) is an edge that exists
    only when a requirer asks for `e`. Evaluating per extra rather than pattern-matching the
    marker text keeps `python_version < "3.11" and extra == "toml"` exact.
    """
    out: list[Dependency] = []
    declared = {canonical_name(e) for e in meta.provides_extra}
    for raw in meta.requires_dist:
        try:
            requirement = Requirement(raw)
        except InvalidRequirement as exc:
            notices.append(Notice("SBOM_METADATA_UNREADABLE",
                                  f"{meta.name}: unparsable Requires-Dist {raw!r} ({exc}); "
                                  "that dependency is left out of the graph", label))
            continue
        name = canonical_name(requirement.name)
        extras = frozenset(canonical_name(e) for e in requirement.extras)
        marker = requirement.marker
        if marker is None:
            out.append(Dependency(name, extras))
            continue
        try:
            if _evaluate(marker, markers, ""):
                out.append(Dependency(name, extras))
                continue
            candidates = declared | {canonical_name(e)
                                     for e in _EXTRA_IN_MARKER.findall(str(marker))}
            for extra in sorted(candidates):
                if _evaluate(marker, markers, extra):
                    out.append(Dependency(name, extras, when_extra=extra))
        except (InvalidMarker, UndefinedEnvironmentName) as exc:
            notices.append(Notice("SBOM_METADATA_UNREADABLE",
                                  f"{meta.name}: cannot evaluate marker of {raw!r} ({exc})",
                                  label))
    return tuple(dict.fromkeys(out))


def _evaluate(marker: Marker, markers: dict[str, str], extra: str) -> bool:
    return bool(marker.evaluate({**markers, "extra": extra}))


_SECTION = re.compile(r"\[(?P<extra>[^:\]]*)(?::(?P<marker>.*))?\]")


def _egg_requires(path: Path) -> list[str]:
    """setuptools' requires.txt (sections `[extra]`, `[:marker]`, `[extra:marker]`) as
    Requires-Dist strings, the way importlib.metadata converts it."""
    try:
        text = path.read_text("utf-8", errors="replace")
    except OSError:
        return []
    out: list[str] = []
    extra = marker = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        section = _SECTION.fullmatch(line)
        if section:
            extra = (section.group("extra") or "").strip()
            marker = (section.group("marker") or "").strip()
            continue
        conditions = [f"({marker})"] if marker else []
        if extra:
            conditions.append(f'extra == "{extra}"')
        out.append(line + ("; " + " and ".join(conditions) if conditions else ""))
    return out
