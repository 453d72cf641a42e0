"""Rule ids of the sign and verify gates: stable, documented in docs/sign-and-verify.md.

Every rejection names its reason with one of these ids, so a pipeline can tell "signed by the
wrong workflow" (IDENTITY_MISMATCH) from "the log's checkpoint is forged" (BAD_CHECKPOINT) and
users read the fix at the rule's anchor. Renaming an id is a breaking change.
"""

from __future__ import annotations

from dataclasses import dataclass

from changegate.result import Finding, Location, Severity

HELP_BASE = "https://changegate.dev/docs/sign-and-verify#"


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    fix: str


RULES: dict[str, Rule] = {rule.id: rule for rule in (
    # --- verification: the bundle does not verify (exit 1) --------------------------------
    Rule("IDENTITY_MISMATCH", "signed by another identity than the policy expects",
         "check the identity printed by `changegate sign` (the certificate's SAN) against "
         "--cert-identity / the github/gitlab helpers; a different workflow, ref or project "
         "signed this artifact"),
    Rule("ISSUER_MISMATCH", "the certificate's OIDC issuer is not the expected one",
         "use the issuer printed by `changegate sign`; GitHub Actions is "
         "https://token.actions.githubusercontent.com, GitLab is the instance URL"),
    Rule("UNTRUSTED_CA", "the certificate does not chain to a trusted Fulcio CA",
         "verify against the trusted root of the instance that signed (--staging, "
         "--trusted-root, --trust-config); otherwise the certificate is not genuine"),
    Rule("BAD_SCT", "the certificate's signed certificate timestamp is missing or invalid",
         "the certificate was not logged by a CT log the trusted root lists: use the right "
         "trusted root, or treat the certificate as forged"),
    Rule("BAD_INCLUSION_PROOF", "the log entry's inclusion proof does not lead to its root",
         "the bundle's transparency-log proof was altered or is corrupt: re-sign, or fetch the "
         "bundle again from where it was published"),
    Rule("BAD_CHECKPOINT", "the log checkpoint is not signed by a trusted log",
         "verify against the trusted root of the log that integrated the entry; otherwise the "
         "checkpoint is forged"),
    Rule("BAD_SET", "the signed entry timestamp (inclusion promise) is invalid",
         "the promise was not signed by a trusted log or the entry was altered after logging"),
    Rule("BAD_TIMESTAMP", "an RFC 3161 timestamp is invalid or from an untrusted authority",
         "verify against a trusted root that lists the timestamp authority"),
    Rule("NO_VERIFIED_TIME", "no trustworthy time for the signature",
         "the bundle needs a signed entry timestamp or an RFC 3161 timestamp"),
    Rule("TIME_OUTSIDE_CERT", "the signing time is outside the certificate's validity",
         "the signature was logged after (or before) the short-lived certificate was valid: "
         "re-sign; a log or timestamp that does this is misbehaving"),
    Rule("ENTRY_MISMATCH", "the transparency log entry does not match the bundle",
         "the log recorded other content than this bundle signs (CVE-2022-36056 class): "
         "do not trust the bundle"),
    Rule("SIGNATURE_INVALID", "the signature does not verify",
         "the artifact or the envelope changed after signing, or the bundle belongs to another "
         "artifact"),
    Rule("DIGEST_MISMATCH", "the artifact's digest is not the one signed",
         "verify the artifact the bundle was made for (check the file and the sha256)"),
    Rule("PAYLOAD_TYPE_MISMATCH", "the DSSE payload is not an in-toto statement",
         "attestations must have payloadType application/vnd.in-toto+json"),
    Rule("STATEMENT_INVALID", "the DSSE payload is not a valid in-toto Statement",
         "re-create the attestation with a Statement v1 (`changegate sign --attest`)"),
    Rule("PREDICATE_TYPE_MISMATCH", "the attestation has another predicate type than required",
         "pass the bundle of the attestation you mean (e.g. FILE.provenance.sigstore.json), "
         "or correct --predicate-type"),
    Rule("KEY_MISMATCH", "the bundle is not for verification with a key, or the key is wrong",
         "use --key only for bundles signed with that managed key; use an identity policy for "
         "bundles that carry a certificate"),
    Rule("BUNDLE_INVALID", "not a valid Sigstore bundle",
         "pass the .sigstore.json bundle that `sign` wrote; a bundle must have exactly one "
         "transparency log entry with a proof or promise"),
    Rule("VERIFICATION_FAILED", "the bundle does not verify",
         "read the message; report it if it names no reason"),
    # --- inconclusive: could not check (exit 2) --------------------------------------------
    Rule("BUNDLE_MISSING", "no bundle for the artifact",
         "pass --bundle, or keep the bundle beside the artifact as FILE.sigstore.json"),
    Rule("BUNDLE_UNSUPPORTED", "this bundle cannot be verified offline",
         "re-sign with a current client, or verify it online with sigstore-python"),
    Rule("ARTIFACT_MISSING", "the artifact does not exist",
         "build the artifact before this step, or fix the path/glob"),
    Rule("NO_ARTIFACTS", "nothing to sign or verify",
         "pass files on the command line or set gates.<sign|verify>.artifacts in the policy"),
    Rule("NO_IDENTITY_POLICY", "no identity to verify against",
         "pass --cert-identity with --cert-oidc-issuer, a --github-*/--gitlab-* helper, or "
         "--key; or set gates.verify.identity/github/gitlab in the policy"),
    Rule("TRUST_ROOT_INVALID", "the trusted root or trust config cannot be used",
         "pass a trusted_root.json (media type trustedroot+json;version=0.1) or a "
         "ClientTrustConfig"),
    Rule("KEY_INVALID", "the public key cannot be used",
         "pass a PEM public key (ECDSA P-256/384, Ed25519 or RSA)"),
    # --- signing -----------------------------------------------------------------------------
    Rule("NO_IDENTITY_TOKEN", "no OIDC identity token for keyless signing",
         "grant the job an ID token (see the YAML in the message) or pass --identity-token"),
    Rule("IDENTITY_TOKEN_INVALID", "the identity token cannot be used",
         "request a fresh token with audience `sigstore`; tokens expire within minutes"),
    Rule("SIGNING_FAILED", "the signing service refused or could not be reached",
         "read the message; check the trust config's Fulcio and Rekor URLs and the network"),
    Rule("BUNDLE_EXISTS", "a bundle already exists where the new one would be written",
         "remove it, choose --output-dir, or pass --overwrite"),
    Rule("PREDICATE_INVALID", "the predicate cannot be attested",
         "pass a JSON object of the right kind (a CycloneDX SBOM for sbom, a changegate audit "
         "result for audit)"),
    Rule("PUBLIC_LOG_PRIVATE_REPO", "a private repository would be recorded in a public log",
         "sign with your private Sigstore instance (--trust-config), or set "
         "gates.sign.allow_public_log: true after deciding the repository, workflow and "
         "commit names may be public"),
    Rule("CI_CONTEXT_MISSING", "the CI context needed for provenance is missing",
         "run in GitHub Actions or GitLab CI, or pass your own --predicate"),
    Rule("POLICY_INVALID", "the gate's policy settings are invalid",
         "fix the key named in the message (see docs/sign-and-verify.md, Policy)"),
)}


def finding(rule: str, message: str, *, severity: Severity = Severity.ERROR,
            file: str | None = None, fix: str | None = None) -> Finding:
    """A finding for one of our rules, with its title, standard fix and documentation link."""
    known = RULES[rule]
    return Finding(rule=rule, severity=severity, message=message,
                   location=Location(file=file), fix=fix or known.fix, title=known.title,
                   help_uri=HELP_BASE + rule.lower())
