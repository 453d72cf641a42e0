"""Fulcio's mapping from OIDC token claims to a certificate identity, for GitHub and GitLab.

This mirrors Fulcio's issuer types (`github-workflow`, `gitlab-pipeline`, `email`) and the
OID extensions it writes (docs/oid-info.md in sigstore/fulcio): the SAN and the
`1.3.6.1.4.1.57264.1.*` values a verifier matches are derived here exactly as the public
instance derives them, so a policy tested against the local instance holds in production.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITLAB_ISSUER = "https://gitlab.com"

_OID = "1.3.6.1.4.1.57264.1."

# Legacy extensions hold the raw UTF-8 bytes; the newer ones a DER UTF8String.
_RAW = {
    "issuer": 1, "github_trigger": 2, "github_sha": 3, "github_name": 4,
    "github_repository": 5, "github_ref": 6,
}
_DER = {
    "issuer_v2": 8, "build_signer_uri": 9, "build_signer_digest": 10, "runner_environment": 11,
    "source_repository_uri": 12, "source_repository_digest": 13, "source_repository_ref": 14,
    "source_repository_identifier": 15, "source_repository_owner_uri": 16,
    "source_repository_owner_identifier": 17, "build_config_uri": 18,
    "build_config_digest": 19, "build_trigger": 20, "run_invocation_uri": 21,
    "source_repository_visibility": 22,
}


class IdentityRefused(Exception):
    """The token cannot be turned into a certificate (Fulcio answers 400/401)."""


@dataclass
class CertificateIdentity:
    """The SAN and the Fulcio extensions for one token."""

    san: x509.GeneralName
    values: dict[str, str] = field(default_factory=dict)

    def extensions(self) -> list[x509.UnrecognizedExtension]:
        out = []
        for name, number in _RAW.items():
            if self.values.get(name):
                out.append(x509.UnrecognizedExtension(x509.ObjectIdentifier(f"{_OID}{number}"),
                                                      self.values[name].encode()))
        for name, number in _DER.items():
            if self.values.get(name):
                out.append(x509.UnrecognizedExtension(x509.ObjectIdentifier(f"{_OID}{number}"),
                                                      _utf8_string(self.values[name])))
        return out


def _utf8_string(text: str) -> bytes:
    data = text.encode()
    length = len(data)
    if length < 0x80:
        head = bytes([length])
    else:
        raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
        head = bytes([0x80 | len(raw)]) + raw
    return b"\x0c" + head + data


def _claim(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if value is None or value == "":
        raise IdentityRefused(f"the token has no {name!r} claim")
    return str(value)


def github_identity(claims: Mapping[str, Any], server: str) -> CertificateIdentity:
    """Fulcio's `github-workflow` type: the SAN is the workflow that ran (job_workflow_ref)."""
    repository = _claim(claims, "repository")
    signer = f"{server}/{_claim(claims, 'job_workflow_ref')}"
    values = {
        "issuer": str(claims["iss"]), "issuer_v2": str(claims["iss"]),
        "github_trigger": str(claims.get("event_name", "")),
        "github_sha": str(claims.get("sha", "")),
        "github_name": str(claims.get("workflow", "")),
        "github_repository": repository, "github_ref": str(claims.get("ref", "")),
        "build_signer_uri": signer,
        "build_signer_digest": str(claims.get("job_workflow_sha", "")),
        "runner_environment": str(claims.get("runner_environment", "")),
        "source_repository_uri": f"{server}/{repository}",
        "source_repository_digest": str(claims.get("sha", "")),
        "source_repository_ref": str(claims.get("ref", "")),
        "source_repository_identifier": str(claims.get("repository_id", "")),
        "source_repository_owner_uri": f"{server}/{claims.get('repository_owner', '')}",
        "source_repository_owner_identifier": str(claims.get("repository_owner_id", "")),
        "build_config_uri": f"{server}/{claims.get('workflow_ref', '')}",
        "build_config_digest": str(claims.get("workflow_sha", "")),
        "build_trigger": str(claims.get("event_name", "")),
        "run_invocation_uri": (f"{server}/{repository}/actions/runs/{claims.get('run_id', '')}"
                               f"/attempts/{claims.get('run_attempt', '')}"),
        "source_repository_visibility": str(claims.get("repository_visibility", "")),
    }
    return CertificateIdentity(x509.UniformResourceIdentifier(signer), values)


def gitlab_identity(claims: Mapping[str, Any], server: str) -> CertificateIdentity:
    """Fulcio's `gitlab-pipeline` type: the SAN is `https://` + the ci_config_ref_uri claim."""
    project = _claim(claims, "project_path")
    config_uri = f"https://{_claim(claims, 'ci_config_ref_uri')}"
    ref_type = str(claims.get("ref_type", "branch"))
    ref = f"refs/{'tags' if ref_type == 'tag' else 'heads'}/{claims.get('ref', '')}"
    values = {
        "issuer": str(claims["iss"]), "issuer_v2": str(claims["iss"]),
        "build_signer_uri": config_uri,
        "build_signer_digest": str(claims.get("ci_config_sha", "")),
        "runner_environment": str(claims.get("runner_environment", "")),
        "source_repository_uri": f"{server}/{project}",
        "source_repository_digest": str(claims.get("sha", "")),
        "source_repository_ref": ref,
        "source_repository_identifier": str(claims.get("project_id", "")),
        "source_repository_owner_uri": f"{server}/{claims.get('namespace_path', '')}",
        "source_repository_owner_identifier": str(claims.get("namespace_id", "")),
        "build_config_uri": config_uri,
        "build_config_digest": str(claims.get("ci_config_sha", "")),
        "build_trigger": str(claims.get("pipeline_source", "")),
        "run_invocation_uri": f"{server}/{project}/-/jobs/{claims.get('job_id', '')}",
        "source_repository_visibility": str(claims.get("project_visibility", "")),
    }
    return CertificateIdentity(x509.UniformResourceIdentifier(config_uri), values)


def email_identity(claims: Mapping[str, Any]) -> CertificateIdentity:
    """Fulcio's `email` type: a verified email address becomes an rfc822Name SAN."""
    email = _claim(claims, "email")
    if claims.get("email_verified") is not True:
        raise IdentityRefused("the token's email address is not verified")
    issuer = str(claims["iss"])
    return CertificateIdentity(x509.RFC822Name(email), {"issuer": issuer, "issuer_v2": issuer})
