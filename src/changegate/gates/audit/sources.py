"""Where the audited packages come from: one small interface, one implementation per input.

Lock files, requirements files and installed environments are read by the sbom gate's readers
(`changegate.gates.sbom.readers`), never by a second parser: both gates then agree on what a
project ships, and a finding lands on the same line of the same file. An SBOM (the sbom gate's
CycloneDX output, or any CycloneDX JSON/XML) is read here, because no reader of the sbom gate
reads its own output back.

Each source yields an `Inventory`: the packages with their file and line, so a vulnerability
becomes an annotation on the dependency's own line of the lock file (or of the SBOM).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from changegate.errors import InputError
from changegate.gates.sbom.gitlab import relative_to
from changegate.gates.sbom.model import DependencyGraph, Notice

RULE = "AUDIT_INPUT_INVALID"


@dataclass(frozen=True)
class AuditedPackage:
    """One distribution to audit, and where it is declared (file relative to the repository)."""

    name: str
    version: str | None
    file: str | None = None
    line: int | None = None
    local: bool = False  # installed or locked from a local path: no advisory can name it


@dataclass
class Inventory:
    """What one source says is shipped."""

    kind: str  # lock, requirements, python, sbom
    label: str  # the path as given (or repository-relative)
    format: str  # uv.lock, poetry.lock, pylock, Pipfile.lock, requirements, environment, cyclonedx
    packages: list[AuditedPackage]
    project: str | None = None  # the project's own name, when the source says it
    project_version: str | None = None
    notices: list[Notice] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.label, "format": self.format,
                "packages": len(self.packages)}


class DependencySource(Protocol):
    """A dependency source: a lock file, requirements, an environment or an SBOM."""

    kind: str
    label: str

    def read(self) -> Inventory: ...


def _resolve(workdir: Path, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else workdir / path


def _from_graph(graph: DependencyGraph, kind: str, label: str, workdir: Path) -> Inventory:
    packages = [AuditedPackage(name=p.name, version=p.version,
                               file=relative_to(p.source_file, workdir) if p.source_file
                               else label,
                               line=p.source_line, local=p.local)
                for p in graph.packages]
    return Inventory(kind=kind, label=label, format=graph.source_kind, packages=packages,
                     project=graph.root_name, project_version=graph.root_version,
                     notices=list(graph.notices))


@dataclass
class LockFileSource:
    """uv.lock, poetry.lock, pylock.toml or Pipfile.lock (format by name, else by content)."""

    path: Path
    label: str
    workdir: Path
    kind: str = "lock"

    def read(self) -> Inventory:
        from changegate.gates.sbom.readers import read_dependencies

        graph = read_dependencies(self.path, self.label, project_dir=self.path.parent)
        return _from_graph(graph, self.kind, self.label, self.workdir)


@dataclass
class RequirementsSource:
    """A pinned requirements file (`-r` includes followed; `-e .` is the project, not audited)."""

    path: Path
    label: str
    workdir: Path
    kind: str = "requirements"

    def read(self) -> Inventory:
        from changegate.gates.sbom.readers import read_dependencies

        graph = read_dependencies(self.path, self.label, project_dir=self.path.parent,
                                  fmt="requirements")
        return _from_graph(graph, self.kind, self.label, self.workdir)


@dataclass
class EnvironmentSource:
    """An installed environment, read from its .dist-info (its interpreter runs once)."""

    path: Path
    label: str
    workdir: Path
    environ: Mapping[str, str]
    kind: str = "python"

    def read(self) -> Inventory:
        from changegate.gates.sbom.readers import read_environment

        graph = read_environment(self.path, self.environ, self.label, cwd=self.workdir)
        return _from_graph(graph, self.kind, self.label, self.workdir)


@dataclass
class SbomSource:
    """A CycloneDX SBOM (JSON or XML): every component with a `pkg:pypi/` package URL."""

    path: Path
    label: str
    workdir: Path
    kind: str = "sbom"

    def read(self) -> Inventory:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            raise InputError(f"{self.label} does not exist", file=self.label, rule=RULE,
                             fix="generate it first with `changegate sbom`") from None
        except OSError as exc:
            raise InputError(f"cannot read {self.label}: {exc.strerror}", file=self.label,
                             rule=RULE) from None
        if data.lstrip()[:1] == b"<":
            return read_cyclonedx_xml(data, self.label)
        return read_cyclonedx_json(data, self.label)


def select_source(*, workdir: Path, environ: Mapping[str, str], sbom: str | None = None,
                  requirements: str | None = None, lock: str | None = None,
                  python: str | None = None, policy_source: str | None = None
                  ) -> DependencySource:
    """The command line's source, else the policy's `source`, else a lock file found here.

    The policy's `source` is `KIND:PATH` (kind: lock, requirements, python, sbom) or a bare
    path, whose kind is guessed: a directory, `python*`, `.venv` or `venv` is an environment,
    `*.cdx.json`, `*.cdx.xml`, `bom.json` or `bom.xml` an SBOM, `*.txt`/`*.in` requirements,
    anything else a lock file.
    """
    for kind, value in (("sbom", sbom), ("requirements", requirements), ("lock", lock),
                        ("python", python)):
        if value:
            return _make(kind, _resolve(workdir, value), value, workdir, environ)
    if policy_source:
        kind, sep, value = policy_source.partition(":")
        if not sep or kind not in ("lock", "requirements", "python", "sbom"):
            kind, value = _guess_kind(_resolve(workdir, policy_source)), policy_source
        return _make(kind, _resolve(workdir, value), value, workdir, environ)
    from changegate.gates.sbom.readers import find_default_source

    found = find_default_source(workdir)
    if found is None:
        raise InputError(
            f"no dependency source: none of uv.lock, poetry.lock, pylock.toml, Pipfile.lock, "
            f"requirements.txt is in {workdir}", file=str(workdir), rule=RULE,
            fix="pass --sbom FILE, --lock FILE, --requirements FILE or --python PATH, or set "
                "gates.audit.source in the policy")
    kind = "requirements" if found.name.endswith(".txt") else "lock"
    return _make(kind, found, relative_to(str(found), workdir) or str(found), workdir, environ)


def _guess_kind(path: Path) -> str:
    name = path.name.lower()
    if path.is_dir() or name.startswith("python") or name in (".venv", "venv"):
        return "python"
    if name.endswith((".cdx.json", ".cdx.xml")) or name in ("bom.json", "bom.xml"):
        return "sbom"
    if name.endswith((".txt", ".in")):
        return "requirements"
    return "lock"


def _make(kind: str, path: Path, label: str, workdir: Path,
          environ: Mapping[str, str]) -> DependencySource:
    if kind == "sbom":
        return SbomSource(path, label, workdir)
    if kind == "requirements":
        return RequirementsSource(path, label, workdir)
    if kind == "python":
        return EnvironmentSource(path, label, workdir, environ)
    return LockFileSource(path, label, workdir)


# -- CycloneDX -------------------------------------------------------------------------------
_PYPI = "pkg:pypi/"


def _purl_package(purl: str, label: str, line: int | None) -> tuple[str, str | None]:
    from packageurl import PackageURL

    try:
        parsed = PackageURL.from_string(purl)
    except ValueError as exc:
        raise InputError(f"invalid package URL {purl!r}: {exc}", file=label, line=line,
                         rule=RULE) from None
    return parsed.name, parsed.version


def _json_line(text: str, key: str, value: str, start: int = 0) -> tuple[int | None, int]:
    """The line of `"key": "value"` in the JSON text (searching from `start`), and where it
    ends, so repeated components are found in document order."""
    pattern = re.compile(r'"' + re.escape(key) + r'"\s*:\s*' + re.escape(json.dumps(value)))
    match = pattern.search(text, start)
    if match is None:
        match = pattern.search(text)
        if match is None:
            return None, start
    return text.count("\n", 0, match.start()) + 1, match.end()


def read_cyclonedx_json(data: bytes, label: str) -> Inventory:
    """Components (nested ones too) with PyPI purls; the line of each component's purl."""
    try:
        text = data.decode("utf-8-sig")
        document = json.loads(text)
    except UnicodeDecodeError:
        raise InputError(f"{label} is not UTF-8 text", file=label, rule=RULE) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{label} is not valid JSON: {exc.msg}", file=label, line=exc.lineno,
                         column=exc.colno, rule=RULE) from None
    if not isinstance(document, dict) or document.get("bomFormat") != "CycloneDX":
        raise InputError(f"{label} is not a CycloneDX SBOM (no \"bomFormat\": \"CycloneDX\")",
                         file=label, line=1, rule=RULE,
                         fix="pass a CycloneDX JSON or XML document, e.g. from changegate sbom")
    packages: list[AuditedPackage] = []
    notices: list[Notice] = []
    cursor = 0

    def walk(components: Any, where: str) -> None:
        nonlocal cursor
        if components is None:
            return
        if not isinstance(components, list):
            raise InputError(f"{label}: {where} must be a list", file=label, rule=RULE)
        for position, component in enumerate(components):
            here = f"{where}[{position}]"
            if not isinstance(component, dict):
                raise InputError(f"{label}: {here} must be an object", file=label, rule=RULE)
            purl = component.get("purl")
            name = component.get("name")
            if isinstance(purl, str) and purl.startswith(_PYPI):
                line, cursor = _json_line(text, "purl", purl, cursor)
                package, version = _purl_package(purl, label, line)
                packages.append(AuditedPackage(package, version or _str(component, "version"),
                                               label, line))
            elif purl is None and isinstance(component.get("bom-ref"), str) \
                    and "changegate_local=true" in component["bom-ref"]:
                line, cursor = _json_line(text, "bom-ref", component["bom-ref"], cursor)
                packages.append(AuditedPackage(str(name), _str(component, "version"), label,
                                               line, local=True))
            elif purl is not None and not isinstance(purl, str):
                raise InputError(f"{label}: {here}.purl must be a string", file=label,
                                 rule=RULE)
            elif component.get("type") in ("library", "framework") and purl is None:
                line, _ = _json_line(text, "name", str(name), 0) if isinstance(name, str) \
                    else (None, 0)
                notices.append(Notice("NOT_AUDITED", f"component {name!r} has no package URL, "
                                      "so it cannot be matched with advisories", label, line))
            walk(component.get("components"), f"{here}.components")

    walk(document.get("components"), "components")
    project, project_version = _metadata_component(document.get("metadata"))
    return Inventory(kind="sbom", label=label, format="cyclonedx", packages=packages,
                     project=project, project_version=project_version, notices=notices)


def _str(mapping: dict[str, Any], key: str) -> str | None:
    value = mapping.get(key)
    return value if isinstance(value, str) and value else None


def _metadata_component(metadata: Any) -> tuple[str | None, str | None]:
    if not isinstance(metadata, dict) or not isinstance(metadata.get("component"), dict):
        return None, None
    component = metadata["component"]
    return _str(component, "name"), _str(component, "version")


def read_cyclonedx_xml(data: bytes, label: str) -> Inventory:
    """The XML form: `component/purl` elements, located by lxml's source lines.

    Parsed without network access, DTD loading or entity expansion: an SBOM is untrusted input.
    """
    try:
        from lxml import etree  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        raise InputError(f"{label} is an XML SBOM; reading it needs lxml (install "
                         "changegate[sbom])", file=label, rule=RULE,
                         fix="install lxml, or pass the SBOM in CycloneDX JSON") from None

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else None
        raise InputError(f"{label} is not well-formed XML: {exc.msg}", file=label, line=line,
                         rule=RULE) from None
    if etree.QName(root).localname != "bom" or \
            not str(etree.QName(root).namespace or "").startswith("http://cyclonedx.org/"):
        raise InputError(f"{label} is not a CycloneDX SBOM (root element is not a CycloneDX "
                         "<bom>)", file=label, line=1, rule=RULE)
    namespace = etree.QName(root).namespace
    tag = f"{{{namespace}}}"
    packages: list[AuditedPackage] = []

    def walk(container: Any) -> None:
        # Only `bom/components` and components nested in them: `metadata` holds the project
        # itself and the tools that made the SBOM, which are not what the project ships.
        if container is None:
            return
        for component in container.findall(f"{tag}component"):
            purl = component.find(f"{tag}purl")
            version = component.findtext(f"{tag}version")
            if purl is not None and (purl.text or "").strip().startswith(_PYPI):
                text = (purl.text or "").strip()
                name, purl_version = _purl_package(text, label, purl.sourceline)
                packages.append(AuditedPackage(name, purl_version or version, label,
                                               purl.sourceline))
            elif purl is None and "changegate_local=true" in (component.get("bom-ref") or ""):
                packages.append(AuditedPackage(component.findtext(f"{tag}name") or "?",
                                               version, label, component.sourceline,
                                               local=True))
            walk(component.find(f"{tag}components"))

    walk(root.find(f"{tag}components"))
    meta = root.find(f"{tag}metadata/{tag}component")
    project = meta.findtext(f"{tag}name") if meta is not None else None
    project_version = meta.findtext(f"{tag}version") if meta is not None else None
    return Inventory(kind="sbom", label=label, format="cyclonedx", packages=packages,
                     project=project, project_version=project_version)
