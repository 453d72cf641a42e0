"""Identities: what a Fulcio certificate says about its signer, and what a policy requires.

A keyless signature is only as good as the identity check: "signed by someone Sigstore
trusts" is anyone with a GitHub account. The policy therefore names the exact signer, either
literally (`--cert-identity` + `--cert-oidc-issuer`) or through helpers that compose the SAN
Fulcio writes for a GitHub workflow (`https://github.com/OWNER/REPO/PATH@REF`) or a GitLab
pipeline (`https://gitlab.com/GROUP/PROJECT//CONFIG@REF`). Refs and paths may be globs
(`refs/tags/v*`), with `*` staying inside one path segment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from changegate.policy.model import glob_matches

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

GITHUB_SERVER = "https://github.com"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITLAB_SERVER = "https://gitlab.com"

_OID = "1.3.6.1.4.1.57264.1."
# Fulcio extensions reported with a verified certificate (docs/oid-info.md in sigstore/fulcio).
_REPORTED = {
    9: "build_signer_uri", 10: "build_signer_digest", 11: "runner_environment",
    12: "source_repository_uri", 13: "source_repository_digest", 14: "source_repository_ref",
    18: "build_config_uri", 20: "build_trigger", 21: "run_invocation_uri",
    22: "source_repository_visibility",
}
_WORKFLOW = re.compile(r"^(?P<path>\.github/workflows/[^@]+\.ya?ml)@(?P<ref>.+)$")
_GITLAB_CONFIG = re.compile(r"^(?P<path>[^@]+)@(?P<ref>refs/.+)$")


@dataclass(frozen=True)
class CertificateFacts:
    """The identity-bearing parts of a signing certificate, decoded."""

    sans: tuple[str, ...]
    issuer: str | None
    extensions: dict[str, str] = field(default_factory=dict)
    not_before: datetime | None = None
    not_after: datetime | None = None

    @property
    def identity(self) -> str | None:
        return self.sans[0] if self.sans else None

    def to_json(self) -> dict[str, Any]:
        return {"san": list(self.sans), "issuer": self.issuer, **self.extensions,
                "not_before": self.not_before.isoformat() if self.not_before else None,
                "not_after": self.not_after.isoformat() if self.not_after else None}


def read_certificate(cert: Certificate) -> CertificateFacts:
    from cryptography import x509

    sans: list[str] = []
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans.extend(names.get_values_for_type(x509.UniformResourceIdentifier))
        sans.extend(names.get_values_for_type(x509.RFC822Name))
        for other in names.get_values_for_type(x509.OtherName):
            if other.type_id.dotted_string == f"{_OID}7":
                sans.append(_der_string(other.value))
    except x509.ExtensionNotFound:
        pass
    values: dict[str, str] = {}
    issuer = None
    for extension in cert.extensions:
        dotted = extension.oid.dotted_string
        if not dotted.startswith(_OID) or not isinstance(extension.value,
                                                           x509.UnrecognizedExtension):
            continue
        number = int(dotted[len(_OID):]) if dotted[len(_OID):].isdigit() else -1
        raw = extension.value.value
        if number == 8:
            issuer = _der_string(raw)
        elif number == 1 and issuer is None:
            issuer = raw.decode("utf-8", "replace")
        elif number in _REPORTED:
            values[_REPORTED[number]] = _der_string(raw)
    return CertificateFacts(tuple(sans), issuer, values, cert.not_valid_before_utc,
                            cert.not_valid_after_utc)


def _der_string(raw: bytes) -> str:
    """A DER UTF8String/IA5String's text (Fulcio's newer extensions); raw text otherwise."""
    if len(raw) >= 2 and raw[0] in (0x0C, 0x16, 0x13):
        length = raw[1]
        offset = 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(raw[2:2 + count], "big")
            offset = 2 + count
        return raw[offset:offset + length].decode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


@dataclass(frozen=True)
class IdentityPolicy:
    """Who must have signed. Exactly one of: `identity`, `github_repository`, `gitlab_project`.

    `issuer` is always compared exactly: the same SAN from another issuer is another signer.
    """

    issuer: str
    identity: str | None = None
    github_repository: str | None = None
    github_workflow: str | None = None
    github_ref: str | None = None
    github_server: str = GITHUB_SERVER
    gitlab_project: str | None = None
    gitlab_config_path: str | None = None
    gitlab_ref: str | None = None
    gitlab_server: str = GITLAB_SERVER

    def describe(self) -> str:
        if self.github_repository:
            parts = [f"GitHub repository {self.github_repository}"]
            if self.github_workflow:
                parts.append(f"workflow {self.github_workflow}")
            if self.github_ref:
                parts.append(f"ref {self.github_ref}")
            return ", ".join(parts) + f" (issuer {self.issuer})"
        if self.gitlab_project:
            parts = [f"GitLab project {self.gitlab_project}"]
            if self.gitlab_config_path:
                parts.append(f"config {self.gitlab_config_path}")
            if self.gitlab_ref:
                parts.append(f"ref {self.gitlab_ref}")
            return ", ".join(parts) + f" (issuer {self.issuer})"
        return f"{self.identity} (issuer {self.issuer})"

    def to_json(self) -> dict[str, Any]:
        prefix = "github_" if self.github_repository else "gitlab_" if self.gitlab_project \
            else "identity"
        return {k: v for k, v in vars(self).items()
                if v is not None and (k == "issuer" or k.startswith(prefix))}

    def check(self, facts: CertificateFacts) -> tuple[str, str] | None:
        """None if the certificate satisfies the policy, else (rule, reason)."""
        if facts.issuer != self.issuer:
            return ("ISSUER_MISMATCH", f"the certificate's OIDC issuer is {facts.issuer!r}, "
                                       f"expected {self.issuer!r}")
        if self.github_repository:
            problem = self._github(facts)
        elif self.gitlab_project:
            problem = self._gitlab(facts)
        else:
            problem = None if self.identity in facts.sans else (
                f"signed by {_names(facts)}, expected {self.identity}")
        return ("IDENTITY_MISMATCH", problem) if problem else None

    def _github(self, facts: CertificateFacts) -> str | None:
        prefix = self.github_server.rstrip("/") + "/"
        reasons = []
        for san in facts.sans:
            if not san.startswith(prefix):
                reasons.append(f"{san} is not a {self.github_server} workflow")
                continue
            owner, _, rest = san[len(prefix):].partition("/")
            repo, _, rest = rest.partition("/")
            match = _WORKFLOW.match(rest)
            if match is None:
                reasons.append(f"{san} is not a GitHub workflow identity")
                continue
            problem = _compare(
                ("repository", f"{owner}/{repo}", self.github_repository, False),
                ("workflow", match["path"], _workflow_path(self.github_workflow), True),
                ("ref", match["ref"], self.github_ref, True))
            if problem is None:
                return None
            reasons.append(f"signed by {san}: {problem}")
        return "; ".join(reasons) or "the certificate has no identity"

    def _gitlab(self, facts: CertificateFacts) -> str | None:
        prefix = self.gitlab_server.rstrip("/") + "/"
        reasons = []
        for san in facts.sans:
            if not san.startswith(prefix) or "//" not in san[len(prefix):]:
                reasons.append(f"{san} is not a {self.gitlab_server} pipeline identity")
                continue
            project, _, rest = san[len(prefix):].partition("//")
            match = _GITLAB_CONFIG.match(rest)
            if match is None:
                reasons.append(f"{san} is not a GitLab pipeline identity")
                continue
            problem = _compare(("project", project, self.gitlab_project, False),
                               ("config path", match["path"], self.gitlab_config_path, True),
                               ("ref", match["ref"], self.gitlab_ref, True))
            if problem is None:
                return None
            reasons.append(f"signed by {san}: {problem}")
        return "; ".join(reasons) or "the certificate has no identity"


def _compare(*items: tuple[str, str, str | None, bool]) -> str | None:
    """The first mismatch between (name, actual, expected, glob allowed), or None."""
    for name, actual, expected, glob in items:
        if expected is None:
            continue
        ok = glob_matches(expected, actual) if glob else actual.lower() == expected.lower()
        if not ok:
            return f"{name} is {actual}, expected {expected}"
    return None


def _workflow_path(value: str | None) -> str | None:
    if value is None or value.startswith(".github/"):
        return value
    return f".github/workflows/{value}"


def _names(facts: CertificateFacts) -> str:
    return ", ".join(facts.sans) if facts.sans else "no identity"


def expected_identity(claims: dict[str, Any]) -> tuple[str, str]:
    """The (SAN, issuer) Fulcio will certify for these token claims (before asking it).

    Mirrors Fulcio's issuer types: GitHub Actions -> the job's workflow ref as a URL, GitLab
    -> `https://` + ci_config_ref_uri, email issuers -> the email, anything else -> `sub`.
    The certificate, once issued, is what is reported; this is for `--dry-run` and for
    refusing early.
    """
    issuer = str(claims.get("iss", ""))
    if issuer == GITHUB_ISSUER and claims.get("job_workflow_ref"):
        return f"{GITHUB_SERVER}/{claims['job_workflow_ref']}", issuer
    if claims.get("ci_config_ref_uri"):
        return f"https://{claims['ci_config_ref_uri']}", issuer
    if claims.get("email"):
        return str(claims["email"]), issuer
    return str(claims.get("sub", "")), issuer
