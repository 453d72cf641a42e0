"""The verify-commits gate: every commit of the change must carry a trusted, bound signature.

The format verifiers (ssh, openpgp, x509) answer "is this signature good under a trusted key?";
this module adds what only the gate can decide: that the signer is the committer (git never
checks this), that GitHub's web-flow key signs only GitHub's own commits and only where the
policy allows, and that policy exceptions are honoured, reported and expire.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

from changegate.gates.verify_commits.formats import detect_format
from changegate.gates.verify_commits.objects import CommitObject
from changegate.gates.verify_commits.verdict import (
    CommitStatus,
    Reason,
    SignatureFormat,
    SignatureVerdict,
    SignatureVerifier,
)
from changegate.gates.verify_commits.webflow import is_github_committer
from changegate.result import Finding, GateResult, Location, Severity, Status

GATE = "verify-commits"
Binding = Literal["committer", "author", "none"]
HELP_BASE = "https://changegate.dev/docs/verify-commits#"

FIXES: dict[Reason, str] = {
    Reason.UNSIGNED: "sign the commit (git commit --amend -S, or git rebase --exec "
                     "'git commit --amend --no-edit -S') and force-push",
    Reason.BAD_SIGNATURE: "the commit was changed after signing; re-sign it and force-push",
    Reason.UNKNOWN_KEY: "add the signing key to the trusted keys (allowed_signers or the "
                        "OpenPGP key directory) on the target branch, or sign with a listed key",
    Reason.KEY_EXPIRED: "extend the key's expiry and publish it to the trusted keys, or re-sign "
                        "with a valid key",
    Reason.KEY_REVOKED: "the key is revoked: re-sign the commit with a current key",
    Reason.OUTSIDE_VALIDITY: "the key was not valid at the commit time (valid-after/valid-before "
                             "in allowed_signers): re-sign with a key valid now",
    Reason.WRONG_NAMESPACE: "sign with git (namespace \"git\"); a signature made for another "
                            "namespace is not a commit signature",
    Reason.SIGNER_MISMATCH: "sign with a key bound to the committer's email (allowed_signers "
                            "principal or OpenPGP user ID), or set the committer email to match",
    Reason.MULTIPLE_SIGNATURES: "a commit must carry exactly one signature; re-sign it",
    Reason.MALFORMED: "the signature cannot be parsed; re-sign the commit",
    Reason.UNSUPPORTED_FORMAT: "sign with SSH or OpenPGP, or ask for a policy exception",
    Reason.UNSUPPORTED_ALGORITHM: "sign with ed25519, ecdsa or RSA with SHA-2",
    Reason.WEB_FLOW_NOT_ALLOWED: "commits made in GitHub's web UI are not allowed by the policy "
                                 "(allow_github_web_flow); re-create and sign the commit locally",
    Reason.EXCEPTION_EXPIRED: "the policy exception for this commit has expired: renew it with "
                              "a new approval or re-sign the commit",
}


@dataclass(frozen=True)
class CommitException:
    """A reviewed, expiring waiver for one commit (e.g. an imported history)."""

    commit: str
    reason: str
    approver: str
    expires: date
    ticket: str | None = None


@dataclass
class Verifiers:
    """The verifiers configured for this run; None where no trust material was given."""

    ssh: SignatureVerifier | None = None
    openpgp: SignatureVerifier | None = None
    web_flow: SignatureVerifier | None = None
    x509: SignatureVerifier | None = None


@dataclass(frozen=True)
class VerifyCommitsConfig:
    bind: Binding = "committer"
    allow_github_web_flow: bool = False
    exceptions: tuple[CommitException, ...] = ()
    today: date = field(default_factory=date.today)
    trust: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CommitVerdict:
    commit: CommitObject
    verdict: SignatureVerdict
    exception: CommitException | None = None

    @property
    def passes(self) -> bool:
        return self.verdict.status is CommitStatus.VERIFIED or self.exception is not None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "sha": self.commit.sha,
            "status": self.verdict.status.value,
            "reason": self.verdict.reason.value,
            "format": self.verdict.format.value if self.verdict.format else None,
            "fingerprint": self.verdict.fingerprint,
            "signer": self.verdict.signer,
            "detail": self.verdict.detail,
            "committer": self.commit.committer.email,
            "author": self.commit.author.email,
            "merge": self.commit.is_merge,
            "subject": self.commit.subject,
        }
        if self.exception is not None:
            data["exception"] = {
                "reason": self.exception.reason,
                "approver": self.exception.approver,
                "expires": self.exception.expires.isoformat(),
                "ticket": self.exception.ticket,
            }
        return data


def run(commits: list[CommitObject], config: VerifyCommitsConfig,
        verifiers: Verifiers) -> GateResult:
    """Verify every commit; the gate passes only if each one is verified or excepted."""
    exceptions = {e.commit: e for e in config.exceptions}
    verdicts = [_apply_exception(CommitVerdict(c, verify_commit(c, config, verifiers)),
                                 exceptions.get(c.sha), config.today)
                for c in commits]
    findings = [f for v in verdicts if (f := _finding(v)) is not None]
    failed = [v for v in verdicts if not v.passes]
    counts = Counter(v.verdict.status.value for v in verdicts)
    excepted = sum(1 for v in verdicts if v.exception is not None)
    summary = _summary(len(verdicts), counts, excepted)
    return GateResult(
        gate=GATE,
        status=Status.FAIL if failed else Status.PASS,
        summary=summary,
        findings=findings,
        details={
            "commits": [v.to_json() for v in verdicts],
            "counts": {"total": len(verdicts), **dict(counts), "excepted": excepted},
            "bind": config.bind,
            "trust": config.trust,
        },
    )


def verify_commit(commit: CommitObject, config: VerifyCommitsConfig,
                  verifiers: Verifiers) -> SignatureVerdict:
    """One commit's verdict, before exceptions."""
    if not commit.signatures:
        return SignatureVerdict(CommitStatus.UNSIGNED, Reason.UNSIGNED, None,
                                "the commit has no signature")
    if len(commit.signatures) > 1:
        return SignatureVerdict(CommitStatus.INVALID, Reason.MULTIPLE_SIGNATURES, None,
                                f"the commit carries {len(commit.signatures)} signature headers")
    signature = commit.signatures[0]
    fmt = detect_format(signature)
    if fmt is SignatureFormat.SSH:
        verdict = _with(verifiers.ssh, fmt, commit, signature, "no allowed_signers file is "
                        "configured, so no SSH key is trusted")
    elif fmt is SignatureFormat.OPENPGP:
        return _openpgp(commit, signature, config, verifiers)
    elif fmt is SignatureFormat.X509:
        verdict = _with(verifiers.x509, fmt, commit, signature,
                        "X.509 signatures are not verified by this version")
    else:
        return SignatureVerdict(CommitStatus.INVALID, Reason.UNSUPPORTED_FORMAT, None,
                                "the signature is in no format changegate knows "
                                "(SSH, OpenPGP, X.509)")
    return _bind(verdict, commit, config.bind)


def _with(verifier: SignatureVerifier | None, fmt: SignatureFormat, commit: CommitObject,
          signature: bytes, missing: str) -> SignatureVerdict:
    if verifier is None:
        reason = Reason.UNSUPPORTED_FORMAT if fmt is SignatureFormat.X509 else Reason.UNKNOWN_KEY
        return SignatureVerdict(CommitStatus.UNTRUSTED, reason, fmt, missing)
    return verifier.verify(commit.payload, signature, commit.committer.when)


def _openpgp(commit: CommitObject, signature: bytes, config: VerifyCommitsConfig,
             verifiers: Verifiers) -> SignatureVerdict:
    """OpenPGP, with GitHub's web-flow key accepted only for GitHub's own commits."""
    by_github = _is_github(commit)
    if by_github and verifiers.web_flow is not None:
        web = verifiers.web_flow.verify(commit.payload, signature, commit.committer.when)
        if web.status is CommitStatus.VERIFIED:
            if not config.allow_github_web_flow:
                return replace(web, status=CommitStatus.UNTRUSTED,
                               reason=Reason.WEB_FLOW_NOT_ALLOWED,
                               detail="signed by GitHub's web-flow key (a commit made in "
                                      "GitHub's UI); the policy does not allow it")
            return replace(web, signer="GitHub (web-flow)",
                           detail="signed by GitHub's web-flow key; allowed by the policy")
    verdict = _with(verifiers.openpgp, SignatureFormat.OPENPGP, commit, signature,
                    "no OpenPGP keys are configured, so no OpenPGP key is trusted")
    if (verdict.reason is Reason.UNKNOWN_KEY and not by_github
            and verifiers.web_flow is not None):
        web = verifiers.web_flow.verify(commit.payload, signature, commit.committer.when)
        if web.status is CommitStatus.VERIFIED:
            return replace(web, status=CommitStatus.UNTRUSTED, reason=Reason.SIGNER_MISMATCH,
                           detail="signed by GitHub's web-flow key, but the committer is "
                                  f"{commit.committer.email}, not GitHub")
    return _bind(verdict, commit, config.bind)


def _is_github(commit: CommitObject) -> bool:
    return is_github_committer(commit.committer.name, commit.committer.email)


def _bind(verdict: SignatureVerdict, commit: CommitObject, bind: Binding) -> SignatureVerdict:
    """A verified signature must come from the committer (or author): git never checks this."""
    if verdict.status is not CommitStatus.VERIFIED or bind == "none":
        return verdict
    person = commit.committer if bind == "committer" else commit.author
    email = person.email.lower()
    identities = {i.lower() for i in verdict.identities}
    if email in identities:
        return replace(verdict, signer=email)
    known = ", ".join(sorted(identities)) or "no identity"
    return replace(verdict, status=CommitStatus.UNTRUSTED, reason=Reason.SIGNER_MISMATCH,
                   detail=f"signed by a trusted key of {known}, but the {bind} is {email}")


def _apply_exception(verdict: CommitVerdict, exception: CommitException | None,
                     today: date) -> CommitVerdict:
    if exception is None or verdict.verdict.status is CommitStatus.VERIFIED:
        return verdict
    if exception.expires < today:
        expired = replace(verdict.verdict, reason=Reason.EXCEPTION_EXPIRED,
                          detail=f"{verdict.verdict.detail}; the policy exception approved by "
                                 f"{exception.approver} expired on {exception.expires}")
        return CommitVerdict(verdict.commit, expired)
    return CommitVerdict(verdict.commit, verdict.verdict, exception)


def _finding(v: CommitVerdict) -> Finding | None:
    commit = v.commit
    where = Location(commit=commit.sha)
    who = f"{commit.committer.name} <{commit.committer.email}>"
    if v.exception is not None:
        ticket = f", ticket {v.exception.ticket}" if v.exception.ticket else ""
        return Finding(
            rule=Reason.EXCEPTION.value, severity=Severity.NOTE, location=where,
            title="Commit accepted by a policy exception",
            message=f"commit {commit.sha[:12]} ({v.verdict.reason.value}: {v.verdict.detail}) "
                    f"is accepted by a policy exception approved by {v.exception.approver} "
                    f"until {v.exception.expires}{ticket}: {v.exception.reason}",
            help_uri=HELP_BASE + "exceptions")
    if v.passes:
        return None
    reason = v.verdict.reason
    return Finding(
        rule=reason.value, severity=Severity.ERROR, location=where,
        title=f"Commit {commit.sha[:12]} is {v.verdict.status.value}",
        message=f"commit {commit.sha[:12]} \"{commit.subject}\" by {who}: {v.verdict.detail}",
        fix=FIXES.get(reason),
        help_uri=HELP_BASE + reason.value.lower())


def _summary(total: int, counts: Counter[str], excepted: int) -> str:
    if total == 0:
        return "no commits in the range"
    parts = [f"{counts[s.value]} {s.value}" for s in CommitStatus if counts[s.value]]
    text = f"{total} commit{'s' if total != 1 else ''}: " + ", ".join(parts)
    if excepted:
        text += f" ({excepted} accepted by policy exceptions)"
    return text
