"""The CycloneDX properties GitLab needs to ingest an SBOM from `artifacts:reports:cyclonedx`.

GitLab's CycloneDX property taxonomy: `gitlab:meta:schema_version` must be 1, and without
`gitlab:dependency_scanning:input_file:path` GitLab cannot attribute the dependencies to a file
of the project (its parser then drops the source). Package manager and language complete the
dependency list view; `category` marks development-only components per component.
"""

from __future__ import annotations

from pathlib import Path

from changegate.gates.sbom.model import DependencyGraph, DependencyKind

SCHEMA_VERSION = "gitlab:meta:schema_version"
INPUT_FILE = "gitlab:dependency_scanning:input_file:path"
SOURCE_FILE = "gitlab:dependency_scanning:source_file:path"
PACKAGE_MANAGER = "gitlab:dependency_scanning:package_manager:name"
LANGUAGE = "gitlab:dependency_scanning:language:name"
CATEGORY = "gitlab:dependency_scanning:category"


def relative_to(path: str | None, workdir: Path) -> str | None:
    """`path` relative to the repository root when it is inside it (GitLab wants that)."""
    if path is None:
        return None
    candidate = Path(path)
    if not candidate.is_absolute():
        return candidate.as_posix()
    try:
        return candidate.resolve().relative_to(workdir.resolve()).as_posix()
    except ValueError:
        return candidate.as_posix()


def metadata_properties(graph: DependencyGraph, workdir: Path,
                        pyproject: str | None) -> list[tuple[str, str]]:
    """Document-level properties: which file was analyzed, by which package manager."""
    input_file = relative_to(graph.source_file, workdir)
    source_file = relative_to(pyproject, workdir)
    if graph.source_kind == "environment" and source_file is not None:
        # An environment is no file of the project; its manifest is the closest thing to one.
        input_file = source_file
    props = [(SCHEMA_VERSION, "1")]
    if input_file:
        props.append((INPUT_FILE, input_file))
    if source_file and source_file != input_file:
        props.append((SOURCE_FILE, source_file))
    props.append((PACKAGE_MANAGER, graph.package_manager))
    props.append((LANGUAGE, "python"))
    return props


def component_properties(scope: DependencyKind | None) -> list[tuple[str, str]]:
    """Per-component: development-only dependencies are categorized as such."""
    if scope == "dev":
        return [(CATEGORY, "development")]
    return []
