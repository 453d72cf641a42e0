"""Units of the sign/verify gates: policy settings, identity matching, tokens, predicates."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import Any

import pytest

from changegate.errors import ChangegateError, InputError
from changegate.gates.sigstore import predicates, tokens
from changegate.gates.sigstore.ci import CIFacts, read
from changegate.gates.sigstore.config import SignSettings, VerifySettings
from changegate.gates.sigstore.identity import (
    CertificateFacts,
    IdentityPolicy,
    expected_identity,
)
from changegate.gates.sigstore.outcome import Rejected
from changegate.gates.sigstore.rules import RULES
from changegate.gates.sigstore.statement import check_statement, predicate_matches


def _jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


@pytest.mark.parametrize(("settings", "needle"), [
    ({"identiy": "x"}, "gates.verify.identiy"),
    ({"github": {"repo": "a/b"}}, "gates.verify.github.repo"),
    ({"github": {"repository": "ab"}}, "OWNER/REPO"),
    ({"gitlab": {"project": "x"}}, "GROUP/PROJECT"),
    ({"identity": "a", "github": {"repository": "a/b"}}, "only one of"),
    ({"trusted_root": "a", "trust_config": "b"}, "not both"),
    ({"staging": "yes"}, "true or false"),
    ({"artifacts": [1]}, "list of paths"),
])
def test_verify_settings_name_the_bad_key(settings: dict[str, Any], needle: str) -> None:
    with pytest.raises(InputError) as info:
        VerifySettings.from_settings(settings)
    assert needle in info.value.message and info.value.rule == "POLICY_INVALID"


def test_verify_settings_parse() -> None:
    parsed = VerifySettings.from_settings({
        "artifacts": "dist/*.whl", "github": {"repository": "acme/payments", "ref": "refs/tags/v*"},
        "staging": True, "predicate_type": "sbom"})
    assert parsed.artifacts == ("dist/*.whl",)
    assert parsed.github is not None and parsed.github.ref == "refs/tags/v*"
    assert parsed.staging and parsed.predicate_type == "sbom"


@pytest.mark.parametrize(("settings", "needle"), [
    ({"attest": [{"type": "sbom", "file": "x"}]}, "gates.sign.attest[0].file"),
    ({"attest": [{"predicate": "x"}]}, "is required"),
    ({"attest": "sbom"}, "must be a list"),
    ({"verify_after": 1}, "true or false"),
    ({"upload": True}, "gates.sign.upload"),
])
def test_sign_settings_name_the_bad_key(settings: dict[str, Any], needle: str) -> None:
    with pytest.raises(InputError) as info:
        SignSettings.from_settings(settings)
    assert needle in info.value.message


def test_sign_settings_defaults() -> None:
    parsed = SignSettings.from_settings({})
    assert parsed.signature and parsed.verify_after and not parsed.allow_public_log
    assert parsed.attest == ()


GITHUB = "https://token.actions.githubusercontent.com"


@pytest.mark.parametrize(("policy", "san", "issuer", "rule"), [
    (IdentityPolicy(GITHUB, github_repository="acme/pay"),
     "https://github.com/acme/pay/.github/workflows/r.yml@refs/heads/main", GITHUB, None),
    (IdentityPolicy(GITHUB, github_repository="acme/pay", github_workflow="r.yaml"),
     "https://github.com/acme/pay/.github/workflows/r.yml@refs/heads/main", GITHUB,
     "IDENTITY_MISMATCH"),
    (IdentityPolicy(GITHUB, github_repository="acme/pay"),
     "https://github.com/acme/pay-evil/.github/workflows/r.yml@refs/heads/main", GITHUB,
     "IDENTITY_MISMATCH"),
    (IdentityPolicy(GITHUB, github_repository="acme/pay"),
     "https://github.com.evil.com/acme/pay/.github/workflows/r.yml@refs/heads/main", GITHUB,
     "IDENTITY_MISMATCH"),
    (IdentityPolicy(GITHUB, github_repository="acme/pay", github_ref="refs/tags/v*"),
     "https://github.com/acme/pay/.github/workflows/r.yml@refs/tags/v1/evil", GITHUB,
     "IDENTITY_MISMATCH"),
    (IdentityPolicy(GITHUB, github_repository="acme/pay"),
     "https://github.com/acme/pay/.github/workflows/r.yml@refs/heads/main",
     "https://token.actions.githubusercontent.com.evil", "ISSUER_MISMATCH"),
    (IdentityPolicy("https://gitlab.com", gitlab_project="g/p"),
     "https://gitlab.com/g/p//.gitlab-ci.yml@refs/heads/main", "https://gitlab.com", None),
    (IdentityPolicy("https://gitlab.com", gitlab_project="g/p"),
     "https://gitlab.com/g/p/sub//.gitlab-ci.yml@refs/heads/main", "https://gitlab.com",
     "IDENTITY_MISMATCH"),
    (IdentityPolicy("https://accounts.google.com", identity="a@b.c"), "a@b.c",
     "https://accounts.google.com", None),
    (IdentityPolicy("https://accounts.google.com", identity="a@b.c"), "A@b.c",
     "https://accounts.google.com", "IDENTITY_MISMATCH"),
])
def test_identity_policy_matching(policy: IdentityPolicy, san: str, issuer: str,
                                  rule: str | None) -> None:
    problem = policy.check(CertificateFacts((san,), issuer))
    assert (problem[0] if problem else None) == rule, problem


def test_expected_identity_follows_fulcio() -> None:
    assert expected_identity({"iss": GITHUB, "job_workflow_ref": "a/b/.github/workflows/x.yml@r",
                              "sub": "repo:a/b"}) == (
        "https://github.com/a/b/.github/workflows/x.yml@r", GITHUB)
    assert expected_identity({"iss": "https://gitlab.com",
                              "ci_config_ref_uri": "gitlab.com/g/p//c.yml@refs/heads/m"})[0] == \
        "https://gitlab.com/g/p//c.yml@refs/heads/m"
    assert expected_identity({"iss": "x", "email": "a@b.c", "sub": "1"})[0] == "a@b.c"
    assert expected_identity({"iss": "x", "sub": "svc"})[0] == "svc"


def test_tokens_are_checked_for_audience_expiry_and_shape() -> None:
    now = int(datetime.now(timezone.utc).timestamp())
    good = _jwt({"aud": ["other", "sigstore"], "exp": now + 60, "sub": "x"})
    assert tokens.acquire(good, {}).source == "--identity-token"
    with pytest.raises(ChangegateError) as info:
        tokens.acquire(_jwt({"aud": "sigstore", "exp": now - 60}), {})
    assert info.value.rule == "IDENTITY_TOKEN_INVALID"
    with pytest.raises(ChangegateError):
        tokens.acquire("garbage", {})
    env_token = tokens.acquire(None, {"SIGSTORE_IDENTITY_TOKEN": good, "GITLAB_CI": "true"})
    assert env_token.source == "SIGSTORE_IDENTITY_TOKEN"
    with pytest.raises(ChangegateError) as refused:
        tokens.acquire(None, {"GITHUB_ACTIONS": "true", "ACTIONS_ID_TOKEN_REQUEST_URL":
                              "file:///etc/passwd", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "x"})
    assert "HTTP(S)" in refused.value.message


def test_statement_checks() -> None:
    digest = {"sha256": "ab" * 32}
    good = json.dumps({"_type": "https://in-toto.io/Statement/v1", "predicateType": "p",
                       "subject": [{"name": "x", "digest": {"sha256": "AB" * 32}}]}).encode()
    assert check_statement("application/vnd.in-toto+json", good, digest, "p")["predicateType"]
    for payload_type, payload, rule in [
        ("text/plain", good, "PAYLOAD_TYPE_MISMATCH"),
        ("application/vnd.in-toto+json", b"{", "STATEMENT_INVALID"),
        ("application/vnd.in-toto+json", b'{"_type": "x"}', "STATEMENT_INVALID"),
    ]:
        with pytest.raises(Rejected) as info:
            check_statement(payload_type, payload, digest, None)
        assert info.value.rule == rule
    with pytest.raises(Rejected) as mismatch:
        check_statement("application/vnd.in-toto+json", good, {"sha256": "cd" * 32}, None)
    assert mismatch.value.rule == "DIGEST_MISMATCH"
    assert predicate_matches("sbom", "https://cyclonedx.org/bom/v1.6")
    assert not predicate_matches("provenance", "https://slsa.dev/provenance/v0.2")


def test_ci_facts_and_provenance_need_the_platform() -> None:
    assert read({}).platform == "local"
    assert read({"GITLAB_CI": "true", "CI_PROJECT_URL": "u"}).get("CI_PROJECT_URL") == "u"
    with pytest.raises(ChangegateError) as info:
        predicates.provenance(CIFacts("github", {"GITHUB_REPOSITORY": "a/b"}))
    assert info.value.rule == "CI_CONTEXT_MISSING"
    tagged = predicates.provenance(CIFacts("gitlab", {
        "CI_PROJECT_URL": "https://gitlab.example/g/p", "CI_COMMIT_SHA": "a" * 40,
        "CI_COMMIT_TAG": "v1", "CI_JOB_STARTED_AT": "2026-01-01T00:00:00Z"}))
    assert tagged["buildDefinition"]["externalParameters"]["pipeline"]["ref"] == "refs/tags/v1"
    assert tagged["runDetails"]["metadata"]["startedOn"] == "2026-01-01T00:00:00Z"


def test_every_rule_is_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "sign-and-verify.md").read_text()
    missing = [rule for rule in RULES if f"`{rule}`" not in doc]
    assert not missing, f"rules without a section in docs/sign-and-verify.md: {missing}"
