"""Core metadata (`METADATA`, `PKG-INFO`) and PEP 610 `direct_url.json`, read as plain files.

Installed packages are described, never imported: importing would run their code inside the
gate, and reading another interpreter's environment could not import them anyway. The header
parser is hand-written because `email.parser` is several times slower and we need only headers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from changegate.gates.sbom.model import ExternalRef, Hash, Notice
from changegate.gates.sbom.readers.base import make_hash


@dataclass
class CoreMetadata:
    """The core metadata fields the SBOM uses (multiple-use fields are lists)."""

    name: str | None = None
    version: str | None = None
    summary: str | None = None
    license: str | None = None
    license_expression: str | None = None
    classifiers: list[str] = field(default_factory=list)
    requires_dist: list[str] = field(default_factory=list)
    provides_extra: list[str] = field(default_factory=list)
    home_page: str | None = None
    download_url: str | None = None
    project_urls: list[tuple[str, str]] = field(default_factory=list)


_MULTI = {"classifier": "classifiers", "requires-dist": "requires_dist",
          "provides-extra": "provides_extra"}
_SINGLE = {"name": "name", "version": "version", "summary": "summary", "license": "license",
           "license-expression": "license_expression", "home-page": "home_page",
           "download-url": "download_url"}


def parse_core_metadata(text: str) -> CoreMetadata:
    """Parse the RFC 822-style header block of a METADATA/PKG-INFO file.

    Continuation lines (starting with whitespace) belong to the previous header; the `License`
    field's continuation lines keep their line breaks because that field often holds a whole
    license text, which `licenses.from_metadata` treats differently from a name.
    """
    meta = CoreMetadata()
    headers: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if not line.strip():
            break
        if line[0] in " \t" and headers:
            # setuptools indents continuation lines, some writers prefix them with "|"
            headers[-1][1].append(line.strip().removeprefix("|").strip())
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        headers.append((key.strip().lower(), [value.strip()]))
    for key, parts in headers:
        value = "\n".join(parts).strip()
        if key in _MULTI:
            getattr(meta, _MULTI[key]).append(value)
        elif key in _SINGLE:
            if getattr(meta, _SINGLE[key]) is None:
                setattr(meta, _SINGLE[key], value)
        elif key == "project-url":
            label, sep, url = value.partition(",")
            if sep:
                meta.project_urls.append((label.strip(), url.strip()))
    return meta


_URL_LABELS: dict[str, str] = {}
for _type, _labels in {
    "website": ("homepage", "home", "home page", "website", "web site", "project"),
    "vcs": ("source", "source code", "sources", "repository", "repo", "code", "github",
            "gitlab", "git", "vcs", "scm"),
    "documentation": ("documentation", "docs", "doc", "manual", "api reference", "reference"),
    "issue-tracker": ("issues", "issue tracker", "tracker", "bug tracker", "bugs",
                      "bug reports", "bug tracking", "issue"),
    "release-notes": ("changelog", "changes", "change log", "release notes", "history",
                      "releases", "what's new", "whatsnew", "news"),
    "support": ("support", "help", "discussions", "forum"),
    "chat": ("chat", "discord", "gitter", "slack", "matrix", "irc"),
    "mailing-list": ("mailing list", "mailing-list", "mailinglist"),
    "security-contact": ("security", "security policy"),
}.items():
    for _label in _labels:
        _URL_LABELS[_label] = _type
_LABEL_NOISE = re.compile(r"[^a-z' ]+")


def external_refs(meta: CoreMetadata) -> tuple[ExternalRef, ...]:
    """Home-page, Download-URL and Project-URL entries as CycloneDX external references."""
    refs: list[ExternalRef] = []
    if meta.home_page and meta.home_page.upper() != "UNKNOWN":
        refs.append(ExternalRef("website", meta.home_page))
    if meta.download_url and meta.download_url.upper() != "UNKNOWN":
        refs.append(ExternalRef("distribution", meta.download_url))
    for label, url in meta.project_urls:
        key = " ".join(_LABEL_NOISE.sub(" ", label.lower()).split())
        kind = _URL_LABELS.get(key)
        refs.append(ExternalRef(kind or "other", url, None if kind else label))
    return tuple(dict.fromkeys(refs))


@dataclass(frozen=True)
class DirectUrl:
    """PEP 610: how a package was installed when it did not come from an index."""

    url: str
    vcs: str | None = None
    commit_id: str | None = None
    requested_revision: str | None = None
    hashes: tuple[Hash, ...] = ()
    editable: bool = False
    subdirectory: str | None = None

    @property
    def local(self) -> bool:
        return self.url.startswith("file:")


def parse_direct_url(text: str, label: str, notices: list[Notice]) -> DirectUrl | None:
    """Parse direct_url.json; a broken one is a notice, not a failure (it is optional data)."""
    try:
        data: Any = json.loads(text)
    except ValueError as exc:
        notices.append(Notice("SBOM_METADATA_UNREADABLE", f"direct_url.json is not JSON: {exc}",
                              label))
        return None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        notices.append(Notice("SBOM_METADATA_UNREADABLE", "direct_url.json has no url", label))
        return None
    vcs = data.get("vcs_info") if isinstance(data.get("vcs_info"), dict) else None
    archive = data.get("archive_info") if isinstance(data.get("archive_info"), dict) else None
    directory = data.get("dir_info") if isinstance(data.get("dir_info"), dict) else None
    hashes: list[Hash] = []
    if archive:
        table = archive.get("hashes")
        if isinstance(table, dict):
            for algorithm, value in sorted(table.items()):
                digest = make_hash(str(algorithm), str(value), label, None, notices)
                if digest:
                    hashes.append(digest)
        elif isinstance(archive.get("hash"), str):
            algorithm, _, value = archive["hash"].partition("=")
            digest = make_hash(algorithm, value, label, None, notices)
            if digest:
                hashes.append(digest)
    subdirectory = data.get("subdirectory")
    return DirectUrl(
        url=data["url"],
        vcs=str(vcs["vcs"]) if vcs and vcs.get("vcs") else None,
        commit_id=str(vcs["commit_id"]) if vcs and vcs.get("commit_id") else None,
        requested_revision=(str(vcs["requested_revision"])
                            if vcs and vcs.get("requested_revision") else None),
        hashes=tuple(hashes),
        editable=bool(directory and directory.get("editable")),
        subdirectory=subdirectory if isinstance(subdirectory, str) else None,
    )
