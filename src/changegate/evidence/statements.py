"""in-toto Statement v1: the envelope every record uses, and its subjects.

A record's subject is the commit the change deploys (and any artifact the gate concerns, by
digest), so every statement about one change can be found by the commit it names. The commit is
named by `gitCommit` in an annotation and by a SHA-256 `digest` of the git commit object (the
bytes git hashes: `commit <size>\\0<content>`): Sigstore's DSSE signer accepts only SHA-2/SHA-3
digests on subjects, and this one can be recomputed by anyone holding the repository. In a
SHA-256 repository it equals the commit id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from changegate.errors import ChangegateError

if TYPE_CHECKING:
    from changegate.change import Change

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"

# Standard predicates (used where one fits) ...
CYCLONEDX = "https://cyclonedx.org/bom"
VULNS = "https://in-toto.io/attestation/vulns/v0.2"
TEST_RESULT = "https://in-toto.io/attestation/test-result/v0.1"
PROVENANCE = "https://slsa.dev/provenance/v1"
VSA = "https://slsa.dev/verification_summary/v1"
# ... and ours, documented and versioned in docs/evidence.md, where none does.
COMMIT_SIGNATURES = "https://changegate.dev/attestation/commit-signatures/v1"
APPROVALS = "https://changegate.dev/attestation/approvals/v1"
EVIDENCE_STORE = "https://changegate.dev/attestation/evidence-store/v1"
LEDGER_CHECKPOINT = "https://changegate.dev/attestation/ledger-checkpoint/v1"
# The VSA's extension field (SLSA: "Producers MAY add extension fields using field names that
# are URIs"): the change, each gate's verdict and the control table.
CHANGE_RECORD_FIELD = "https://changegate.dev/attestation/change-record/v1"
VERIFIER_ID = "https://changegate.dev/verifier/v1"


@dataclass(frozen=True)
class CommitRef:
    """The commit a change deploys, with the digest its subject carries."""

    sha: str
    sha256: str
    repository_uri: str | None

    @property
    def uri(self) -> str | None:
        return f"{self.repository_uri}@{self.sha}" if self.repository_uri else None

    def subject(self) -> dict[str, Any]:
        subject: dict[str, Any] = {"name": f"commit:{self.sha}",
                                   "digest": {"sha256": self.sha256},
                                   "annotations": {"gitCommit": self.sha}}
        if self.uri:
            subject["uri"] = self.uri
        return subject


def repository_uri(change: Change) -> str | None:
    """`git+https://host/owner/repo`, the SPDX/SLSA spelling of a repository location."""
    if not change.repository:
        return None
    server = (change.server_url or {"github": "https://github.com",
                                    "gitlab": "https://gitlab.com"}.get(change.platform, ""))
    if not server:
        return None
    return f"git+{server.rstrip('/')}/{change.repository}"


def commit_ref(change: Change, workdir: Path) -> CommitRef:
    return CommitRef(sha=change.head, sha256=commit_object_sha256(workdir, change.head),
                     repository_uri=repository_uri(change))


def commit_object_sha256(workdir: Path, sha: str) -> str:
    """SHA-256 over the commit object exactly as git hashes it (header + raw content)."""
    from changegate.git import Git, is_sha

    if not is_sha(sha):
        raise ChangegateError("EVIDENCE_COMMIT_UNREADABLE",
                              f"cannot record evidence for {sha!r}: not a commit SHA")
    proc = Git(workdir).run(["cat-file", "commit", sha], ok=(0, 128))
    if proc.returncode != 0:
        raise ChangegateError(
            "EVIDENCE_COMMIT_UNREADABLE",
            f"cannot read commit {sha[:12]} in {workdir} to name it in the evidence",
            fix="run changegate in the checkout of the change, with the head commit fetched")
    body = proc.stdout
    return hashlib.sha256(b"commit %d\x00" % len(body) + body).hexdigest()


def statement(subjects: Iterable[Mapping[str, Any]], predicate_type: str,
              predicate: Mapping[str, Any]) -> dict[str, Any]:
    return {"_type": STATEMENT_TYPE, "subject": dedupe_subjects(subjects),
            "predicateType": predicate_type, "predicate": dict(predicate)}


def dedupe_subjects(subjects: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Subjects in order, each digest once (a gate may name an artifact another also names)."""
    seen: set[tuple[tuple[str, str], ...]] = set()
    out: list[dict[str, Any]] = []
    for subject in subjects:
        key = tuple(sorted(subject.get("digest", {}).items()))
        if key in seen:
            continue
        seen.add(key)
        out.append(dict(subject))
    return out


def artifact_subjects(details: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The artifacts a gate result concerns, by digest, from its `details`.

    Convention for gates (documented in docs/evidence.md): `details["artifacts"]` is a list of
    `{name|path, sha256}`; the SBOM gate's `details["sbom"]` names the SBOM file it wrote.
    """
    subjects: list[dict[str, Any]] = []
    for item in details.get("artifacts") or []:
        if isinstance(item, Mapping):
            subject = _file_subject(item)
            if subject:
                subjects.append(subject)
    sbom = details.get("sbom")
    if isinstance(sbom, Mapping):
        subject = _file_subject(sbom)
        if subject:
            subjects.append(subject)
    return subjects


def _file_subject(item: Mapping[str, Any]) -> dict[str, Any] | None:
    digest = item.get("sha256")
    if not isinstance(digest, str):
        nested = item.get("digest")
        digest = nested.get("sha256") if isinstance(nested, Mapping) else None
    if not isinstance(digest, str) or len(digest) != 64:
        return None
    name = item.get("name") or item.get("path") or f"sha256:{digest}"
    return {"name": str(name), "digest": {"sha256": digest.lower()}}
