"""The sign gate: keyless Sigstore signatures and in-toto attestations for CI artifacts.

One certificate signs every artifact of the run (the Signer caches it), so one identity is
reported, and it is read from the *issued certificate*, not guessed: that SAN and issuer are
exactly what `changegate verify` must be given. The certificate is checked against the
policy's expected identity before the first signature, so a misconfigured workflow never puts
an entry in the log. Each bundle is verified right after signing (unless disabled) with the
same trusted root and the certificate's identity, and only a bundle that verifies is written.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from changegate.gates.sigstore import compat
from changegate.gates.sigstore.artifacts import Artifact
from changegate.gates.sigstore.identity import (
    CertificateFacts,
    IdentityPolicy,
    expected_identity,
    read_certificate,
)
from changegate.gates.sigstore.outcome import Rejected
from changegate.gates.sigstore.rules import finding
from changegate.gates.sigstore.statement import build_statement
from changegate.gates.sigstore.tokens import Token
from changegate.gates.sigstore.trust import TrustSource
from changegate.result import Finding, GateResult, Status

if TYPE_CHECKING:
    from sigstore.models import ClientTrustConfig
    from sigstore.sign import Signer

GATE = "sign"
PUBLIC_LOG_HOSTS = (".sigstore.dev", ".sigstage.dev")


@dataclass(frozen=True)
class Job:
    """One bundle to make: a signature over the artifact, or an attestation about it."""

    artifact: Artifact
    bundle: Path
    bundle_label: str
    predicate_type: str | None = None
    predicate: dict[str, Any] | None = None

    @property
    def kind(self) -> str:
        return "attestation" if self.predicate_type else "signature"


@dataclass
class SignRequest:
    jobs: list[Job]
    token: Token
    instance: str  # production | staging | custom
    trust: TrustSource | None = None  # the ClientTrustConfig file for `custom`
    expected_identity: str | None = None
    expected_issuer: str | None = None
    verify_after: bool = True
    dry_run: bool = False
    overwrite: bool = False
    allow_public_log: bool = False
    records: list[dict[str, Any]] = field(default_factory=list)


def run(request: SignRequest) -> GateResult:
    try:
        return _run(request)
    except Rejected as exc:
        status = Status.ERROR if exc.inconclusive else Status.FAIL
        return _result(request, status, exc.message, [finding(exc.rule, exc.message)])


def _run(request: SignRequest) -> GateResult:
    if not request.jobs:
        raise Rejected("NO_ARTIFACTS", "nothing to sign", inconclusive=True)
    if not request.overwrite:
        existing = [j.bundle_label for j in request.jobs if j.bundle.exists()]
        if existing:
            raise Rejected("BUNDLE_EXISTS", f"{', '.join(existing)} already exist(s); signing "
                                            "again would replace evidence", inconclusive=True)
    identity, issuer = expected_identity(request.token.claims)
    _check_expected(request, identity, issuer, "the identity token")
    _check_public_log(request)
    if request.dry_run:
        for job in request.jobs:
            request.records.append(_record(job, None, None))
        return _result(request, Status.PASS,
                       f"dry run: would sign {len(request.jobs)} bundle(s) as {identity} "
                       f"(issuer {issuer}); nothing was signed",
                       facts=CertificateFacts((identity,), issuer))
    config = _trust_config(request)
    with _SignerSession(request, config) as signer:
        try:
            facts = read_certificate(compat.signing_certificate(signer))
        except Exception as exc:  # mapped to a rule by _service_error
            raise _service_error(exc) from exc
        _check_expected(request, facts.identity or "", facts.issuer or "", "the certificate")
        checker = _verifier(config, facts) if request.verify_after else None
        findings: list[Finding] = []
        for job in request.jobs:
            findings += _sign_one(request, signer, job, checker)
    status = Status.FAIL if findings else Status.PASS
    logged = ", ".join(str(r["log_index"]) for r in request.records if r["log_index"] is not None)
    written = [r["bundle"] for r in request.records if r["written"]]
    summary = (f"signed {len(written)} of {len(request.jobs)} bundle(s) as {facts.identity} "
               f"(issuer {facts.issuer}); log index {logged or 'none'}; "
               f"bundles: {', '.join(written) or 'none'}")
    return _result(request, status, summary, findings, facts=facts)


def _check_expected(request: SignRequest, identity: str, issuer: str, what: str) -> None:
    if request.expected_issuer and issuer != request.expected_issuer:
        raise Rejected("ISSUER_MISMATCH", f"{what} is from issuer {issuer}, the policy expects "
                                          f"{request.expected_issuer}; nothing was signed")
    if request.expected_identity and identity != request.expected_identity:
        raise Rejected("IDENTITY_MISMATCH", f"{what} names {identity}, the policy expects "
                                            f"{request.expected_identity}; nothing was signed")


def _check_public_log(request: SignRequest) -> None:
    """A private repository's names must not land in the public log unless decided so."""
    claims = request.token.claims
    visibility = claims.get("repository_visibility") or claims.get("project_visibility")
    if visibility not in ("private", "internal") or request.allow_public_log:
        return
    public = request.instance != "custom"
    if request.trust is not None:
        urls = [s.get("url", "") for s in (request.trust.data.get("signingConfig") or {})
                .get("rekorTlogUrls", [])]
        public = any(u.split("://", 1)[-1].split("/", 1)[0].endswith(PUBLIC_LOG_HOSTS)
                     for u in urls)
    if public:
        raise Rejected("PUBLIC_LOG_PRIVATE_REPO",
                       f"the repository is {visibility}, and signing with the public-good "
                       "Sigstore instance publishes its name, workflow, ref and commit in the "
                       "public transparency log forever; nothing was signed")


def _trust_config(request: SignRequest) -> ClientTrustConfig:
    from sigstore.errors import Error
    from sigstore.models import ClientTrustConfig

    from changegate.gates.sigstore.trust import client_trust_config

    if request.trust is not None:
        return client_trust_config(request.trust)
    try:
        if request.instance == "staging":
            return ClientTrustConfig.staging()
        return ClientTrustConfig.production()
    except (Error, OSError) as exc:
        raise Rejected("SIGNING_FAILED", f"cannot load the {request.instance} trust root "
                                         f"(TUF): {exc}", inconclusive=True) from exc


class _SignerSession:
    """Context manager around sigstore's Signer that maps its failures to our rules."""

    def __init__(self, request: SignRequest, config: ClientTrustConfig) -> None:
        self.request = request
        self.config = config
        self._context: Any = None

    def __enter__(self) -> Signer:
        from sigstore.oidc import IdentityError, IdentityToken
        from sigstore.sign import SigningContext

        try:
            token = IdentityToken(self.request.token.raw)
        except IdentityError as exc:
            raise Rejected("IDENTITY_TOKEN_INVALID", f"{self.request.token.source}: {exc}",
                           inconclusive=True) from exc
        try:
            context = SigningContext.from_trust_config(self.config)
            self._context = context.signer(token, cache=True)
            signer: Signer = self._context.__enter__()
        except Exception as exc:  # mapped to a rule by _service_error
            raise _service_error(exc) from exc
        return signer

    def __exit__(self, *exc: object) -> None:
        if self._context is not None:
            self._context.__exit__(None, None, None)


def _service_error(exc: BaseException) -> Rejected:
    from sigstore.errors import VerificationError

    if isinstance(exc, Rejected):
        return exc
    name = type(exc).__name__
    if isinstance(exc, VerificationError):
        return Rejected("BAD_SCT" if "SCT" in str(exc) else "VERIFICATION_FAILED",
                        f"the signing certificate failed verification: {exc}")
    if name == "FulcioClientError":
        return Rejected("SIGNING_FAILED", f"Fulcio refused the certificate: "
                                          f"{compat.fulcio_message(exc)}", inconclusive=True)
    if name in ("ExpiredIdentity", "IdentityError"):
        return Rejected("IDENTITY_TOKEN_INVALID", f"the identity token: {exc or name}",
                        inconclusive=True)
    return Rejected("SIGNING_FAILED", f"{name}: {exc}", inconclusive=True)


def _verifier(config: ClientTrustConfig, facts: CertificateFacts) -> Any:
    from changegate.gates.sigstore.verifying import BundleVerifier

    source = TrustSource(name="the signing trust root",
                         data=json.loads(config._inner.trusted_root.to_json()), sha256="")
    policy = IdentityPolicy(issuer=facts.issuer or "", identity=facts.identity)
    return BundleVerifier(source, policy)


def _sign_one(request: SignRequest, signer: Signer, job: Job, checker: Any) -> list[Finding]:
    from sigstore.dsse import Statement
    from sigstore.errors import Error
    from sigstore.hashes import Hashed
    from sigstore_models.common.v1 import HashAlgorithm

    try:
        if job.predicate_type is None:
            bundle = signer.sign_artifact(Hashed(algorithm=HashAlgorithm.SHA2_256,
                                                 digest=bytes.fromhex(job.artifact.sha256)))
        else:
            statement = build_statement(job.artifact.label.rsplit("/", 1)[-1],
                                        job.artifact.sha256, job.predicate_type,
                                        job.predicate or {})
            bundle = signer.sign_dsse(Statement(json.dumps(statement).encode()))
    except Error as exc:
        raise Rejected("SIGNING_FAILED", f"{job.artifact.label}: {exc}",
                       inconclusive=True) from exc
    except Exception as exc:  # network and service errors, mapped
        raise _service_error(exc) from exc
    text = bundle.to_json()
    findings: list[Finding] = []
    verified: bool | None = None
    if checker is not None:
        with tempfile.TemporaryDirectory(prefix="changegate-sign-") as tmp:
            scratch = Path(tmp) / "bundle.sigstore.json"
            scratch.write_text(text, encoding="utf-8")
            outcome = checker.verify(job.artifact, scratch, job.bundle_label)
        verified = outcome.verified
        if not outcome.verified:
            findings.append(finding(outcome.rule or "VERIFICATION_FAILED",
                                    f"{job.artifact.label}: the bundle made right now does not "
                                    f"verify, so it was not written: {outcome.reason}",
                                    file=job.artifact.label))
    if verified is not False:
        _write(job.bundle, text)
    entry = bundle.log_entry._inner
    request.records.append(_record(job, entry, verified))
    return findings


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _record(job: Job, entry: Any, verified: bool | None) -> dict[str, Any]:
    when = None
    if entry is not None and entry.integrated_time:
        from datetime import datetime, timezone

        when = datetime.fromtimestamp(int(entry.integrated_time), tz=timezone.utc).isoformat()
    return {
        "artifact": job.artifact.label, "sha256": job.artifact.sha256, "kind": job.kind,
        "predicate_type": job.predicate_type, "bundle": job.bundle_label,
        "written": entry is not None and verified is not False,
        "log_index": int(entry.log_index) if entry is not None else None,
        "log_id": entry.log_id.key_id.hex() if entry is not None else None,
        "integrated_time": when, "verified_after": verified,
    }


def _result(request: SignRequest, status: Status, summary: str,
            findings: list[Finding] | None = None, *,
            facts: CertificateFacts | None = None) -> GateResult:
    details: dict[str, Any] = {
        "identity": facts.identity if facts else None,
        "issuer": facts.issuer if facts else None,
        "signed": request.records,
        "dry_run": request.dry_run,
        "token_source": request.token.source,
        "instance": request.instance,
        "trust": request.trust.describe() if request.trust else None,
    }
    if facts is not None and facts.identity:
        details["verify_with"] = {"cert_identity": facts.identity,
                                  "cert_oidc_issuer": facts.issuer}
        details["certificate"] = facts.to_json()
    return GateResult(gate=GATE, status=status, summary=summary, findings=findings or [],
                      details=details)
