"""The dependency model every reader yields and everything downstream reads.

Each input (an installed environment, `pylock.toml`, `uv.lock`, `poetry.lock`, `Pipfile.lock`,
`requirements.txt`) has its own small reader that turns it into a `DependencyGraph`; the SBOM
builder, the policy checks and the audit gate only ever see this model, never a file format
(pip-audit's `_dependency_source` pattern). Each package keeps `source_file`/`source_line`, so a
finding about it (a denied license, a missing hash, a vulnerability) becomes an annotation on the
dependency's own line of the lock file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

DependencyKind = Literal["required", "optional", "dev"]
"""Why the root needs a package: at run time, through one of its extras, or only to develop it."""

SourceKind = Literal["environment", "pylock", "uv.lock", "poetry.lock", "Pipfile.lock",
                     "requirements"]

KIND_ORDER: dict[DependencyKind, int] = {"required": 0, "optional": 1, "dev": 2}

_NORMALIZE = re.compile(r"[-_.]+")


def canonical_name(name: str) -> str:
    """PEP 503 normalization: how names (and, per PEP 685, extras) are compared."""
    return _NORMALIZE.sub("-", name).lower()


@dataclass(frozen=True, order=True)
class Hash:
    """One digest of one artifact, with hashlib's algorithm name (`sha256`) and lowercase hex."""

    algorithm: str
    value: str


@dataclass(frozen=True)
class Artifact:
    """One file a package can be installed from (a wheel, an sdist, an archive) and its digests."""

    url: str | None
    hashes: tuple[Hash, ...] = ()


@dataclass(frozen=True)
class Dependency:
    """An edge as the source states it: the owner needs `name`, with `extras`.

    `when_extra` limits the edge to installs of the owner with that extra (a Requires-Dist with
    `extra == "socks"`, a Poetry optional dependency). `version` picks one candidate when the
    source locks several versions of one name (uv, Poetry). `marker` is kept only where it was not
    evaluated (lock files are cross-platform), so a missing target is not reported for an edge
    that may simply not apply on this platform.
    """

    name: str
    extras: frozenset[str] = frozenset()
    when_extra: str | None = None
    version: str | None = None
    marker: str | None = None


@dataclass(frozen=True)
class RootDependency:
    """What the project itself declares it needs (pyproject, a lock's root entry, `# via -r`).

    `kind_known` is False where the source says only *that* the root needs a package, not how
    (a `# via` comment): the project's own declaration of the same name then decides its kind.
    """

    name: str
    kind: DependencyKind = "required"
    extras: frozenset[str] = frozenset()
    group: str | None = None
    marker: str | None = None
    source_file: str | None = None
    source_line: int | None = None
    kind_known: bool = True


@dataclass(frozen=True)
class Licensing:
    """A package's declared licenses, normalized to SPDX where that is possible.

    `expression` is an SPDX license expression (PEP 639 `License-Expression`, or a `License`
    field that is one); otherwise `ids` are SPDX identifiers and `names` the declarations that
    have none (a trove classifier such as `BSD License`, free text). `origin` says which metadata
    field it came from, so an auditor can tell declared from derived.
    """

    expression: str | None = None
    ids: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    origin: str = ""

    @property
    def empty(self) -> bool:
        return self.expression is None and not self.ids and not self.names


@dataclass(frozen=True)
class ExternalRef:
    """A URL about a package: CycloneDX external reference type (`vcs`, `website`, ...)."""

    type: str
    url: str
    comment: str | None = None
    hashes: tuple[Hash, ...] = ()


@dataclass
class Package:
    """One distribution: from an installed `.dist-info`, a lock entry or a requirement line."""

    name: str
    version: str | None
    source_file: str | None = None
    source_line: int | None = None
    hashes: tuple[Hash, ...] = ()
    licenses: Licensing = field(default_factory=Licensing)
    description: str | None = None
    dependencies: tuple[Dependency, ...] = ()
    kind: DependencyKind | None = None
    purl_qualifiers: tuple[tuple[str, str], ...] = ()
    purl_subpath: str | None = None
    local: bool = False
    external_refs: tuple[ExternalRef, ...] = ()
    properties: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        return canonical_name(self.name)

    @property
    def ref(self) -> str:
        """The package URL, which is also the bom-ref: unique, stable and meaningful."""
        return package_url(self.name, self.version, self.purl_qualifiers, self.purl_subpath,
                           local=self.local)


@dataclass
class RootProject:
    """The project the SBOM describes (pyproject.toml), or a stand-in named after its directory."""

    name: str
    version: str | None = None
    description: str | None = None
    licenses: Licensing = field(default_factory=Licensing)
    dependencies: tuple[RootDependency, ...] = ()
    source_file: str | None = None
    synthetic: bool = False

    @property
    def key(self) -> str:
        return canonical_name(self.name)

    @property
    def ref(self) -> str:
        if self.synthetic:
            return f"pkg:generic/{_purl_quote(self.name)}"
        return package_url(self.name, self.version, (), None, local=False)


@dataclass(frozen=True)
class Notice:
    """Something a reader noticed that is worth a finding but does not stop it (a warning)."""

    rule: str
    message: str
    file: str | None = None
    line: int | None = None
    fix: str | None = None


@dataclass
class DependencyGraph:
    """What one source says is installed or locked, and how it hangs together.

    `direct` is what the source itself says the root needs (uv's root entry, an installed
    project's Requires-Dist, `# via -r` annotations); the declared dependencies of `root` are
    added to it. `root_name`/`root_version` are the project as the source names it (uv's root
    entry, the installed project), used when there is no pyproject.toml to describe it.
    `has_edges` is False for flat lists (plain requirements, Pipfile.lock), which then hang
    directly under the root. `marker_environment` is set only for an environment, where
    markers are evaluated for its interpreter; lock files are cross-platform and keep every edge.
    """

    source_kind: SourceKind
    source_file: str
    package_manager: str
    packages: list[Package] = field(default_factory=list)
    root: RootProject | None = None
    direct: tuple[RootDependency, ...] = ()
    root_name: str | None = None
    root_version: str | None = None
    has_edges: bool = True
    carries_hashes: bool = True
    marker_environment: dict[str, str] | None = None
    notices: list[Notice] = field(default_factory=list)


def package_url(name: str, version: str | None, qualifiers: tuple[tuple[str, str], ...],
                subpath: str | None, *, local: bool) -> str:
    """A `pkg:pypi/...` purl per the purl spec (name lowercased with `_` as `-`, encoded).

    Hand-rolled rather than `packageurl.PackageURL` because readers must stay importable without
    the SBOM libraries (the audit gate reuses them); the tests check it agrees with packageurl.
    A package installed or locked from a local path has no public identity, so it gets no `purl`
    in the SBOM, and its bom-ref carries a `changegate_local` qualifier so it can never collide
    with the published package of the same name and version.
    """
    text = "pkg:pypi/" + _purl_quote(name.lower().replace("_", "-"))
    if version is not None:
        text += "@" + _purl_quote(version)
    quals = sorted(qualifiers)
    if local:
        quals = sorted([*quals, ("changegate_local", "true")])
    if quals:
        text += "?" + "&".join(f"{key}={_purl_quote(value, safe=':/')}" for key, value in quals)
    if subpath:
        text += "#" + "/".join(_purl_quote(part) for part in subpath.strip("/").split("/")
                               if part not in ("", ".", ".."))
    return text


_PURL_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_~")


def _purl_quote(value: str, safe: str = "") -> str:
    allowed = _PURL_SAFE | frozenset(safe)
    out = []
    for char in value:
        if char in allowed:
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8"))
    return "".join(out)
