"""`requirements.txt`: pins, `--hash` options, `-r` includes, and pip-compile `# via` comments.

The syntax follows pip's own parser (logical lines joined at a trailing backslash, comments
dropped, requirement and per-requirement options split at the first token starting with `-`).
A file compiled by pip-compile or `uv pip compile` says with `# via` who needs each pin, which
gives a real graph; a hand-written file is a flat list under the root. Unpinned requirements are
kept without a version so the policy can point at their line.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement

from changegate.gates.sbom.model import (
    Dependency,
    DependencyGraph,
    Hash,
    Notice,
    Package,
    RootDependency,
    canonical_name,
)
from changegate.gates.sbom.readers.base import input_error, parse_hash, read_text
from changegate.gates.sbom.readers.pyproject import read_pyproject

# Options pip accepts on their own line that do not name a package: recognized, then ignored.
_GLOBAL_OPTIONS = {
    "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--no-binary",
    "--only-binary", "--trusted-host", "--use-feature", "--config-settings",
}
_GLOBAL_FLAGS = {"--no-index", "--prefer-binary", "--require-hashes", "--pre", "-Z",
                 "--always-unzip"}
_REQUIREMENT_OPTIONS = {"--hash", "--config-settings", "--global-option", "--install-option"}
_NAMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:\[[^\]]*\])?\s*@")
_COMMENT = re.compile(r"(^|\s+)#.*$")
_ARCHIVE = re.compile(
    r"(?P<name>[A-Za-z0-9][A-Za-z0-9._]*?)-(?P<version>[0-9][^-]*?)"
    r"(?:-[0-9][^-]*)?(?:-[^-]+-[^-]+-[^-]+\.whl|\.tar\.gz|\.zip|\.tar\.bz2|\.tgz)$")


@dataclass
class _State:
    """What the walk over a file and its includes collects."""

    project_dir: Path | None
    packages: list[Package] = field(default_factory=list)
    parents: dict[int, list[str]] = field(default_factory=dict)  # package index -> via items
    saw_via: bool = False
    visited: set[Path] = field(default_factory=set)
    notices: list[Notice] = field(default_factory=list)
    root_name: str | None = None


def read_requirements(path: Path, label: str | None = None,
                      project_dir: Path | None = None) -> DependencyGraph:
    """Read `path` (and its `-r` includes). `project_dir` recognizes `-e .` as the project."""
    label = label or str(path)
    state = _State(project_dir.resolve() if project_dir else None)
    _read_file(path, label, state)
    graph = DependencyGraph(source_kind="requirements", source_file=label, package_manager="pip",
                            packages=state.packages, has_edges=state.saw_via,
                            notices=state.notices, root_name=state.root_name)
    if state.saw_via:
        _link(graph, state)
    return graph


def _read_file(path: Path, label: str, state: _State) -> None:
    resolved = path.resolve()
    if resolved in state.visited:
        return  # pip also tolerates a file included twice; a cycle must not loop forever
    state.visited.add(resolved)
    text = read_text(path, label)
    current: int | None = None  # index of the last package, for the `# via` lines after it
    via_open = False
    for number, line, is_comment in _logical_lines(text):
        if is_comment:
            comment = line.strip().lstrip("#").strip()
            if comment.startswith("via ") and current is not None:
                state.parents.setdefault(current, []).append(comment[4:].strip())
                state.saw_via = True
                via_open = False
            elif comment == "via" and current is not None:
                via_open = True
                state.saw_via = True
            elif via_open and comment and line.strip()[1:].startswith("  ") \
                    and current is not None:
                state.parents.setdefault(current, []).append(comment)
            else:
                via_open = False
            continue
        via_open = False
        stripped = _COMMENT.sub("", line).strip()
        if not stripped:
            continue
        package = _parse_line(stripped, path, label, number, state)
        if package is not None:
            state.packages.append(package)
            current = len(state.packages) - 1
        else:
            current = None


def _logical_lines(text: str) -> list[tuple[int, str, bool]]:
    """(first line number, logical line, is a comment-only line), pip's join_lines rules."""
    out: list[tuple[int, str, bool]] = []
    pending: list[str] = []
    first = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        is_comment = raw.lstrip().startswith("#")
        if is_comment and not pending:
            out.append((number, raw, True))
            continue
        if raw.endswith("\\") and not is_comment:
            if not pending:
                first = number
            pending.append(raw[:-1])
            continue
        if pending:
            if not is_comment:
                pending.append(raw)
            out.append((first, " ".join(pending), False))
            pending = []
            if is_comment:
                out.append((number, raw, True))
        else:
            out.append((number, raw, False))
    if pending:
        out.append((first, " ".join(pending), False))
    return out


def _parse_line(line: str, path: Path, label: str, number: int,
                state: _State) -> Package | None:
    if line.startswith("-"):
        return _parse_option_line(line, path, label, number, state)
    requirement_text, options_text = _split_options(line)
    hashes = _requirement_options(options_text, label, number, state.notices)
    return _requirement_package(requirement_text, hashes, path, label, number)


def _split_options(line: str) -> tuple[str, str]:
    """pip's break_args_options: the requirement ends at the first token starting with `-`."""
    tokens = line.split(" ")
    for index, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(tokens[:index]).strip(), " ".join(tokens[index:])
    return line.strip(), ""


def _tokens(text: str, label: str, number: int) -> list[str]:
    if not any(char in text for char in "\"'\\"):
        return text.split()  # the common case (hash lists), ~50x faster than shlex
    try:
        return shlex.split(text, comments=False, posix=True)
    except ValueError as exc:
        raise input_error(f"cannot split options: {exc}", label, number) from None


def _option_pairs(tokens: list[str], label: str, number: int) -> list[tuple[str, str | None]]:
    """`--opt=value`, `--opt value`, `-r value` and `-rvalue` into (option, value) pairs."""
    pairs: list[tuple[str, str | None]] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if not token.startswith("-"):
            raise input_error(f"unexpected {token!r} (an option was expected)", label, number)
        if token.startswith("--"):
            option, sep, value = token.partition("=")
            if sep:
                pairs.append((option, value))
            elif option in _GLOBAL_FLAGS:
                pairs.append((option, None))
            else:
                pairs.append((option, tokens[index] if index < len(tokens) else ""))
                index += 1
        else:
            option, value = token[:2], token[2:]
            if option in _GLOBAL_FLAGS:
                pairs.append((option, None))
                continue
            if not value:
                value = tokens[index] if index < len(tokens) else ""
                index += 1
            pairs.append((option, value))
    return pairs


def _parse_option_line(line: str, path: Path, label: str, number: int,
                       state: _State) -> Package | None:
    pairs = _option_pairs(_tokens(line, label, number), label, number)
    option, value = pairs[0]
    if option in ("-r", "--requirement"):
        if not value:
            raise input_error(f"{option} needs a file name", label, number)
        included = (path.parent / value) if not Path(value).is_absolute() else Path(value)
        _read_file(included, _relative_label(label, value), state)
        return None
    if option in ("-c", "--constraint"):
        return None  # constraints limit versions; they install nothing by themselves
    if option in ("-e", "--editable"):
        if not value:
            raise input_error("-e needs a path or URL", label, number)
        return _editable(value, path, label, number, state)
    if option in _GLOBAL_OPTIONS or option in _GLOBAL_FLAGS:
        return None
    raise input_error(f"unknown option {option!r}", label, number,
                      fix="see pip's requirements file format for the options it accepts")


def _relative_label(label: str, included: str) -> str:
    if Path(included).is_absolute():
        return included
    parent = Path(label).parent
    return str(parent / included) if str(parent) != "." else included


def _requirement_options(text: str, label: str, number: int,
                         notices: list[Notice]) -> tuple[Hash, ...]:
    if not text:
        return ()
    hashes: list[Hash] = []
    for option, value in _option_pairs(_tokens(text, label, number), label, number):
        if option not in _REQUIREMENT_OPTIONS:
            raise input_error(f"unknown per-requirement option {option!r}", label, number)
        if option == "--hash":
            digest = parse_hash(value or "", label, number, notices)
            if digest:
                hashes.append(digest)
    return tuple(dict.fromkeys(hashes))


def _requirement_package(text: str, hashes: tuple[Hash, ...], path: Path, label: str,
                         number: int) -> Package:
    if _looks_like_path_or_url(text):
        name, version = _name_from_archive(text, label, number)
        local = not text.startswith(("http://", "https://"))
        return Package(name=name, version=version, source_file=label, source_line=number,
                       hashes=hashes, local=local,
                       purl_qualifiers=() if local else (("download_url", text),))
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        raise input_error(f"invalid requirement {text!r}: {exc}", label, number,
                          fix="use the PEP 508 form, e.g. name==1.2.3") from None
    version = None
    specifiers = list(requirement.specifier)
    if len(specifiers) == 1 and specifiers[0].operator in ("==", "===") \
            and not specifiers[0].version.endswith(".*"):
        version = specifiers[0].version
    qualifiers: tuple[tuple[str, str], ...] = ()
    local = False
    if requirement.url:
        url = requirement.url
        if url.startswith("file:"):
            local = True
        elif "+" in url.split(":", 1)[0]:
            qualifiers = (("vcs_url", url),)
        else:
            qualifiers = (("download_url", url),)
            if version is None:
                version = _name_from_archive(url, label, number)[1]
    return Package(name=requirement.name, version=version, source_file=label,
                   source_line=number, hashes=hashes, purl_qualifiers=qualifiers, local=local)


def _looks_like_path_or_url(text: str) -> bool:
    """A bare URL or path (pip accepts these), as opposed to `name @ URL` or a specifier."""
    if _NAMED.match(text):
        return False
    return "://" in text or text.startswith((".", "/", "~")) \
        or text.endswith((".whl", ".tar.gz", ".zip"))


def _name_from_archive(text: str, label: str, number: int) -> tuple[str, str | None]:
    filename = unquote(urlsplit(text).path.rsplit("/", 1)[-1])
    match = _ARCHIVE.search(filename)
    if match is None:
        raise input_error(f"cannot tell which package {text!r} is", label, number,
                          fix="write it as `name @ URL` so the package is named")
    return match.group("name"), match.group("version")


def _editable(value: str, path: Path, label: str, number: int, state: _State) -> Package | None:
    fragment = urlsplit(value).fragment
    egg = re.search(r"egg=([A-Za-z0-9._-]+)", fragment)
    if "://" in value or value.startswith(("git+", "hg+", "svn+", "bzr+")):
        if egg is None:
            raise input_error(f"cannot tell which package the editable {value!r} is", label,
                              number, fix="add #egg=NAME to the URL")
        return Package(name=egg.group(1), version=None, source_file=label, source_line=number,
                       purl_qualifiers=(("vcs_url", value.split("#", 1)[0]),))
    directory = (path.parent / value).resolve()
    if state.project_dir is not None and directory == state.project_dir:
        name, _version = _local_project(directory)
        state.root_name = name or state.root_name
        return None  # `-e .` is the project itself: the root, not a component
    name, version = _local_project(directory)
    if name is None:
        name = egg.group(1) if egg else directory.name
    return Package(name=name, version=version, source_file=label, source_line=number,
                   local=True)


def _local_project(directory: Path) -> tuple[str | None, str | None]:
    pyproject = directory / "pyproject.toml"
    if not pyproject.is_file():
        return None, None
    project = read_pyproject(pyproject)
    return (project.name, project.version) if project else (None, None)


def _link(graph: DependencyGraph, state: _State) -> None:
    """Turn `# via` annotations into edges: parent -> package, or root -> package."""
    by_key = {package.key: index for index, package in enumerate(graph.packages)}
    children: dict[int, list[Dependency]] = {}
    direct: list[RootDependency] = []
    for index, package in enumerate(graph.packages):
        items = state.parents.get(index, [])
        to_root = not items
        for item in items:
            first = item.split()[0] if item.split() else ""
            parent = by_key.get(canonical_name(first)) if not first.startswith("-") else None
            if parent is None or parent == index:
                to_root = True
            else:
                children.setdefault(parent, []).append(Dependency(package.key))
        if to_root:
            direct.append(RootDependency(package.key, source_file=package.source_file,
                                         source_line=package.source_line, kind_known=False))
    for index, deps in children.items():
        graph.packages[index].dependencies = tuple(dict.fromkeys(deps))
    graph.direct = tuple(direct)
