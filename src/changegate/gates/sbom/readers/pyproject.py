"""The project's own `pyproject.toml` as the SBOM's root component (PEP 621 and Poetry).

The root's declared dependencies decide what is reachable, and with which scope: `dependencies`
are required, `optional-dependencies` (extras) optional, PEP 735 `dependency-groups` and Poetry's
non-main groups are development-only. Each keeps its line, so a finding about a declared
dependency (it is not installed, say) points at the line that declares it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from changegate.gates.sbom import licenses
from changegate.gates.sbom.model import (
    DependencyKind,
    Licensing,
    RootDependency,
    RootProject,
    canonical_name,
)
from changegate.gates.sbom.readers.base import (
    TomlLines,
    expect_list,
    expect_table,
    input_error,
    load_toml,
    read_text,
)


def read_pyproject(path: Path, label: str | None = None) -> RootProject | None:
    """The root project described by `path`, or None if it declares no project at all.

    A pyproject.toml that only configures tools (ruff, mypy) names no project; the caller then
    falls back to a stand-in root named after the directory.
    """
    label = label or str(path)
    text = read_text(path, label)
    data = load_toml(text, label)
    lines = TomlLines(text)
    project = expect_table(data.get("project"), "[project]", label,
                           lines.line_containing("[project]"))
    tool = expect_table(data.get("tool"), "[tool]", label, None)
    poetry = expect_table(tool.get("poetry"), "[tool.poetry]", label,
                          lines.line_containing("[tool.poetry]"))
    name = project.get("name") or poetry.get("name")
    if not name:
        return None
    if not isinstance(name, str):
        raise input_error(f"project name must be a string, not {name!r}", label,
                          lines.line_of_name(str(name)))
    version = project.get("version") or poetry.get("version")
    description = project.get("description") or poetry.get("description")
    deps: list[RootDependency] = []
    deps += _pep621(project, lines, label)
    deps += _dependency_groups(expect_table(data.get("dependency-groups"), "[dependency-groups]",
                                            label, lines.line_containing("[dependency-groups]")),
                               lines, label)
    deps += _poetry(poetry, lines, label)
    uv = expect_table(tool.get("uv"), "[tool.uv]", label, None)
    for raw in expect_list(uv.get("dev-dependencies"), "tool.uv.dev-dependencies", label, None):
        deps.append(_requirement(raw, "dev", "dev", lines, label))
    return RootProject(
        name=name,
        version=str(version) if version is not None else None,
        description=description if isinstance(description, str) else None,
        licenses=_licensing(project, poetry),
        dependencies=tuple(deps),
        source_file=label,
    )


def _pep621(project: dict[str, Any], lines: TomlLines, label: str) -> list[RootDependency]:
    out = []
    for raw in expect_list(project.get("dependencies"), "project.dependencies", label,
                           lines.line_containing("dependencies")):
        out.append(_requirement(raw, "required", None, lines, label))
    optional = expect_table(project.get("optional-dependencies"),
                            "project.optional-dependencies", label,
                            lines.line_containing("optional-dependencies"))
    for extra, items in optional.items():
        for raw in expect_list(items, f"project.optional-dependencies.{extra}", label, None):
            out.append(_requirement(raw, "optional", canonical_name(extra), lines, label))
    return out


def _dependency_groups(groups: dict[str, Any], lines: TomlLines,
                       label: str) -> list[RootDependency]:
    """PEP 735 groups, with `{include-group = ...}` expanded (and include cycles refused)."""
    out: list[RootDependency] = []

    def expand(group: str, stack: tuple[str, ...]) -> None:
        if group in stack:
            raise input_error(f"dependency group {group!r} includes itself "
                              f"({' -> '.join((*stack, group))})", label,
                              lines.line_containing(f"{group} ="))
        items = expect_list(groups.get(group), f"dependency-groups.{group}", label,
                            lines.line_containing(f"{group} ="))
        for item in items:
            if isinstance(item, dict) and "include-group" in item:
                expand(str(item["include-group"]), (*stack, group))
            else:
                out.append(_requirement(item, "dev", stack[0] if stack else group, lines, label))

    for group in groups:
        expand(group, ())
    return out


def _poetry(poetry: dict[str, Any], lines: TomlLines, label: str) -> list[RootDependency]:
    out: list[RootDependency] = []
    main = expect_table(poetry.get("dependencies"), "tool.poetry.dependencies", label,
                        lines.line_containing("[tool.poetry.dependencies]"))
    for name, spec in main.items():
        if name.lower() == "python":
            continue
        optional = any(isinstance(item, dict) and item.get("optional") for item in
                       (spec if isinstance(spec, list) else [spec]))
        out.append(_poetry_dependency(name, spec, "optional" if optional else "required",
                                      None, lines=lines, label=label))
    groups = expect_table(poetry.get("group"), "tool.poetry.group", label, None)
    for group, body in groups.items():
        table = expect_table(body, f"tool.poetry.group.{group}", label, None)
        kind: DependencyKind = "required" if group == "main" else "dev"
        section = expect_table(table.get("dependencies"), f"tool.poetry.group.{group}."
                               "dependencies", label, None)
        for name, spec in section.items():
            out.append(_poetry_dependency(name, spec, kind, group, lines=lines, label=label))
    legacy = expect_table(poetry.get("dev-dependencies"), "tool.poetry.dev-dependencies", label,
                          None)
    for name, spec in legacy.items():
        out.append(_poetry_dependency(name, spec, "dev", "dev", lines=lines, label=label))
    return out


def _poetry_dependency(name: str, spec: Any, kind: DependencyKind, group: str | None, *,
                       lines: TomlLines, label: str) -> RootDependency:
    extras: set[str] = set()
    for item in spec if isinstance(spec, list) else [spec]:
        if isinstance(item, dict):
            extras.update(canonical_name(str(e)) for e in item.get("extras") or ())
    line = _key_line(lines, name)
    return RootDependency(canonical_name(name), kind, frozenset(extras), group, None, label, line)


def _key_line(lines: TomlLines, key: str) -> int | None:
    for needle in (f"{key} =", f'"{key}" =', f"{key}="):
        line = lines.line_containing(needle)
        if line is not None:
            return line
    return None


def _requirement(raw: Any, kind: DependencyKind, group: str | None, lines: TomlLines,
                 label: str) -> RootDependency:
    line = None
    if isinstance(raw, str):
        line = lines.line_containing(f'"{raw}"') or lines.line_containing(f"'{raw}'")
    if not isinstance(raw, str):
        raise input_error(f"dependency {raw!r} must be a PEP 508 string", label, line)
    try:
        requirement = Requirement(raw)
    except InvalidRequirement as exc:
        raise input_error(f"invalid requirement {raw!r}: {exc}", label, line) from None
    return RootDependency(
        name=canonical_name(requirement.name), kind=kind,
        extras=frozenset(canonical_name(e) for e in requirement.extras), group=group,
        marker=str(requirement.marker) if requirement.marker else None,
        source_file=label, source_line=line)


def _licensing(project: dict[str, Any], poetry: dict[str, Any]) -> Licensing:
    declared = project.get("license", poetry.get("license"))
    classifiers = [c for c in project.get("classifiers") or poetry.get("classifiers") or ()
                   if isinstance(c, str)]
    if isinstance(declared, str):
        return licenses.from_metadata(declared, None, classifiers)
    if isinstance(declared, dict) and isinstance(declared.get("text"), str):
        return licenses.from_metadata(None, declared["text"], classifiers)
    return licenses.from_metadata(None, None, classifiers)
