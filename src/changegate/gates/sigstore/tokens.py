"""The OIDC identity token for keyless signing: from the user, or the CI's ambient credential.

Order: `--identity-token`, then `SIGSTORE_IDENTITY_TOKEN`, then the platform's own:
- GitHub Actions hands out tokens only to jobs with `permissions: id-token: write`, through
  ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN; we ask for audience `sigstore`.
- GitLab CI puts a token in a variable only when the job declares `id_tokens:`; Sigstore's
  convention is `SIGSTORE_ID_TOKEN` with `aud: sigstore`.
When the permission is missing the error shows the exact YAML to add, because that is what
almost everyone needs on their first run. The token is secret: it is never printed or stored.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from changegate.errors import ChangegateError

AUDIENCE = "sigstore"
GITHUB_YAML = """\
permissions:
  id-token: write   # lets this job request an OIDC token for Sigstore
  contents: read"""
GITLAB_YAML = """\
<your signing job>:
  id_tokens:
    SIGSTORE_ID_TOKEN:
      aud: sigstore"""


@dataclass(frozen=True)
class Token:
    """A raw token, where it came from, and its (unverified) claims for reporting."""

    raw: str = field(repr=False)
    source: str
    claims: dict[str, Any] = field(default_factory=dict, repr=False)


def acquire(explicit: str | None, environ: Mapping[str, str], *, timeout: float = 30) -> Token:
    if explicit:
        return _token(explicit, "--identity-token")
    if environ.get("SIGSTORE_IDENTITY_TOKEN"):
        return _token(environ["SIGSTORE_IDENTITY_TOKEN"], "SIGSTORE_IDENTITY_TOKEN")
    if environ.get("GITHUB_ACTIONS") == "true":
        url = environ.get("ACTIONS_ID_TOKEN_REQUEST_URL")
        request_token = environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        if not url or not request_token:
            raise ChangegateError(
                "NO_IDENTITY_TOKEN",
                "this GitHub Actions job may not request an OIDC identity token "
                "(ACTIONS_ID_TOKEN_REQUEST_URL is not set). Add to the workflow or the job:\n"
                + GITHUB_YAML + "\nPull requests from forks never get one.",
                fix="add `permissions: id-token: write` to the job (see the message)")
        return _token(_github(url, request_token, timeout), "GitHub Actions OIDC")
    if environ.get("GITLAB_CI") == "true":
        if environ.get("SIGSTORE_ID_TOKEN"):
            return _token(environ["SIGSTORE_ID_TOKEN"], "GitLab id_tokens SIGSTORE_ID_TOKEN")
        raise ChangegateError(
            "NO_IDENTITY_TOKEN",
            "this GitLab CI job has no SIGSTORE_ID_TOKEN. Declare it in the job:\n"
            + GITLAB_YAML, fix="add `id_tokens: SIGSTORE_ID_TOKEN: aud: sigstore` to the job")
    raise ChangegateError(
        "NO_IDENTITY_TOKEN", "no identity token: outside GitHub Actions and GitLab CI, pass "
        "--identity-token or set SIGSTORE_IDENTITY_TOKEN",
        fix="pass --identity-token TOKEN (audience sigstore), or run in CI with an ID token")


def _github(url: str, request_token: str, timeout: float) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise ChangegateError("NO_IDENTITY_TOKEN", f"ACTIONS_ID_TOKEN_REQUEST_URL is not an "
                                                   f"HTTP(S) URL: {parts.scheme}")
    query = urlencode([*parse_qsl(parts.query), ("audience", AUDIENCE)])
    target = urlunsplit(parts._replace(query=query))
    request = urllib.request.Request(target,  # noqa: S310 - the scheme is checked above
                                     headers={"Authorization": f"bearer {request_token}",
                                              "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s)
            body = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ChangegateError("NO_IDENTITY_TOKEN", f"GitHub's OIDC token request failed: {exc}",
                              fix="retry; check that the job has `id-token: write`") from exc
    value = body.get("value") if isinstance(body, dict) else None
    if not isinstance(value, str) or not value:
        raise ChangegateError("NO_IDENTITY_TOKEN", "GitHub's OIDC endpoint returned no token")
    return value


def _token(raw: str, source: str) -> Token:
    claims = decode_claims(raw.strip(), source)
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if AUDIENCE not in audiences:
        raise ChangegateError("IDENTITY_TOKEN_INVALID",
                              f"the token from {source} is for audience {audience!r}, not "
                              f"{AUDIENCE!r}: Fulcio will refuse it",
                              fix="request the token with audience `sigstore`")
    expiry = claims.get("exp")
    if isinstance(expiry, int | float) and expiry < time.time():
        raise ChangegateError("IDENTITY_TOKEN_INVALID", f"the token from {source} has expired",
                              fix="request a fresh token right before signing")
    return Token(raw.strip(), source, claims)


def decode_claims(raw: str, source: str) -> dict[str, Any]:
    """The JWT's payload, unverified: Fulcio verifies it; we only read what to report."""
    try:
        payload = raw.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as exc:
        raise ChangegateError("IDENTITY_TOKEN_INVALID",
                              f"the value from {source} is not a JWT") from exc
    if not isinstance(claims, dict):
        raise ChangegateError("IDENTITY_TOKEN_INVALID", f"the token from {source} is malformed")
    return claims
