"""An OIDC issuer that mints GitHub Actions- and GitLab CI-shaped ID tokens, offline.

The tokens carry the claims the real platforms document (GitHub: `job_workflow_ref`,
`repository_visibility`, ...; GitLab: `ci_config_ref_uri`, `project_path`, ...) and, by default,
the real issuer URLs, so the certificate the local Fulcio issues names the same identity and
issuer that production would: a verification policy written for production is tested as is.
Only the local Fulcio accepts these tokens, because only it knows this issuer's key.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Mapping
from typing import Any

import jwt

from changegate.testing.sigstore.identities import GITHUB_ISSUER, GITLAB_ISSUER
from changegate.testing.sigstore.keys import KeyPair

AUDIENCE = "sigstore"


class TokenIssuer:
    """Signs ES256 JWTs for any issuer URL the local instance impersonates, and checks them."""

    def __init__(self, email_issuer: str, *, github_issuer: str = GITHUB_ISSUER,
                 gitlab_issuer: str = GITLAB_ISSUER) -> None:
        self.key = KeyPair.generate()
        self.kid = secrets.token_hex(8)
        self.email_issuer = email_issuer
        self.github_issuer = github_issuer
        self.gitlab_issuer = gitlab_issuer

    def mint(self, claims: Mapping[str, Any], *, lifetime: int = 600) -> str:
        now = int(time.time())
        body: dict[str, Any] = {"aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + lifetime,
                                "jti": secrets.token_hex(16)}
        body.update(claims)
        return jwt.encode(body, self.key.private, algorithm="ES256", headers={"kid": self.kid})

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims if this issuer signed it, for the audience `sigstore`, unexpired."""
        claims: dict[str, Any] = jwt.decode(
            token, self.key.public, algorithms=["ES256"], audience=AUDIENCE,
            options={"require": ["iss", "sub", "aud", "exp", "iat"]})
        return claims

    def jwks(self) -> dict[str, Any]:
        numbers = self.key.public.public_numbers()

        def b64(value: int) -> str:
            return base64.urlsafe_b64encode(value.to_bytes(32, "big")).rstrip(b"=").decode()

        return {"keys": [{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
                          "kid": self.kid, "x": b64(numbers.x), "y": b64(numbers.y)}]}


def github_claims(*, repository: str = "acme/payments",
                  workflow: str = ".github/workflows/release.yml", ref: str = "refs/heads/main",
                  sha: str = "0" * 40, event_name: str = "push", visibility: str = "private",
                  run_id: str = "4242", run_attempt: str = "1", repository_id: str = "1296269",
                  owner_id: str = "9919", actor: str = "alice",
                  job_workflow_ref: str | None = None, runner_environment: str = "github-hosted",
                  **extra: Any) -> dict[str, Any]:
    """Claims of a GitHub Actions ID token (GitHub's documented example, values overridable).

    `job_workflow_ref` defaults to the calling workflow; pass another one to model a reusable
    workflow, which is what then appears in the certificate's SAN.
    """
    owner = repository.split("/", 1)[0]
    workflow_ref = f"{repository}/{workflow}@{ref}"
    ref_type = "tag" if ref.startswith("refs/tags/") else "branch"
    claims: dict[str, Any] = {
        "sub": f"repo:{repository}:ref:{ref}", "ref": ref, "ref_type": ref_type, "sha": sha,
        "repository": repository, "repository_owner": owner, "repository_owner_id": owner_id,
        "repository_id": repository_id, "repository_visibility": visibility,
        "run_id": run_id, "run_number": run_id, "run_attempt": run_attempt,
        "actor": actor, "actor_id": "583231", "workflow": workflow.rsplit("/", 1)[-1],
        "event_name": event_name, "workflow_ref": workflow_ref, "workflow_sha": sha,
        "job_workflow_ref": job_workflow_ref or workflow_ref, "job_workflow_sha": sha,
        "runner_environment": runner_environment, "ref_protected": "true",
    }
    claims.update(extra)
    return claims


def gitlab_claims(*, project_path: str = "acme/payments", config_path: str = ".gitlab-ci.yml",
                  ref: str = "main", ref_type: str = "branch", sha: str = "0" * 40,
                  server_host: str = "gitlab.com", pipeline_source: str = "push",
                  project_id: str = "4242", namespace_id: str = "99", job_id: str = "777",
                  visibility: str = "private", runner_environment: str = "gitlab-hosted",
                  **extra: Any) -> dict[str, Any]:
    """Claims of a GitLab CI `id_tokens` token (GitLab's documented claims, overridable)."""
    namespace = project_path.rsplit("/", 1)[0]
    ref_path = f"refs/{'tags' if ref_type == 'tag' else 'heads'}/{ref}"
    claims: dict[str, Any] = {
        "sub": f"project_path:{project_path}:ref_type:{ref_type}:ref:{ref}",
        "namespace_id": namespace_id, "namespace_path": namespace, "project_id": project_id,
        "project_path": project_path, "user_id": "42", "user_login": "alice",
        "user_email": "alice@example.com", "pipeline_id": "1001",
        "pipeline_source": pipeline_source, "job_id": job_id, "ref": ref, "ref_type": ref_type,
        "ref_path": ref_path, "ref_protected": "true", "runner_id": 1,
        "runner_environment": runner_environment, "sha": sha,
        "ci_config_ref_uri": f"{server_host}/{project_path}//{config_path}@{ref_path}",
        "ci_config_sha": sha, "project_visibility": visibility,
    }
    claims.update(extra)
    return claims
