"""In-process verification of SSH commit signatures (SSHSIG), deciding as git does.

git runs `ssh-keygen -Y find-principals` and then `ssh-keygen -Y verify` for every SSH-signed
commit: two processes, about 15 ms a commit. `SshVerifier` does the same checks in-process with
`cryptography` (well under a millisecond a signature, keys cached), in the same order and with
the same outcome, so a gate over thousands of commits stays fast and agrees with
`git log --show-signature`:

1. the armored SSHSIG envelope (PROTOCOL.sshsig): magic, version 1, namespace "git",
   hash sha256/sha512, empty reserved field, no trailing data;
2. the signature itself, for ed25519, ecdsa (P-256/384/521), rsa-sha2-256/512 (ssh-rsa SHA-1
   is refused as OpenSSH refuses it) and FIDO keys (sk-ssh-ed25519, sk-ecdsa; PROTOCOL.u2f),
   and for OpenSSH certificates the CA's signature over the certificate;
3. the revocation list (`gpg.ssh.revocationFile`);
4. the allowed_signers lookup, reproducing `find-principals` (first line whose key matches and
   whose validity window holds) followed by `verify -I <principal>` for each principal found
   (namespaces, valid-after/valid-before against the committer time, certificate principals).

On top of git, a FIDO signature must carry the user-presence flag unless its allowed_signers
line says `no-touch-required` (and user verification when it says `verify-required`): a commit
signed by a security key nobody touched is not evidence that a person signed it.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from changegate.gates.verify_commits.allowed_signers import (
    CERT_TYPE_USER,
    RSA,
    SK_ECDSA,
    SK_ED25519,
    AllowedSigner,
    AllowedSigners,
    AnyKey,
    RevokedKeys,
    SshCertificate,
    SshPublicKey,
    SshReader,
    UnsupportedKeyType,
    WireError,
    format_time,
    is_pattern,
    match_pattern,
    match_pattern_list,
    parse_key_blob,
    split_principal_list,
    ssh_string,
)
from changegate.gates.verify_commits.verdict import (
    CommitStatus,
    Reason,
    SignatureFormat,
    SignatureVerdict,
)

__all__ = [
    "GIT_NAMESPACE",
    "AllowedSigners",
    "BadSignature",
    "RevokedKeys",
    "SkAssertion",
    "SshSignature",
    "SshVerifier",
    "dearmor",
    "parse_sshsig",
    "sshsig_signed_data",
    "verify_key_signature",
]

GIT_NAMESPACE = "git"
SSHSIG_MAGIC = b"SSHSIG"
SSHSIG_VERSION = 1
ARMOR_BEGIN = b"-----BEGIN SSH SIGNATURE-----\n"
ARMOR_END = b"\n-----END SSH SIGNATURE-----"

SK_USER_PRESENT = 0x01
SK_USER_VERIFIED = 0x04

_MESSAGE_HASHES: dict[str, Callable[[bytes], hashlib._Hash]] = {
    "sha256": hashlib.sha256,
    "sha512": hashlib.sha512,
}
_ECDSA_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "ecdsa-sha2-nistp256": hashes.SHA256,
    "ecdsa-sha2-nistp384": hashes.SHA384,
    "ecdsa-sha2-nistp521": hashes.SHA512,
    SK_ECDSA: hashes.SHA256,
}
_RSA_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "rsa-sha2-256": hashes.SHA256,
    "rsa-sha2-512": hashes.SHA512,
}


class BadSignature(Exception):
    """The signature is well-formed but does not verify under the key."""


@dataclass(frozen=True)
class SkAssertion:
    """What a FIDO authenticator added to its signature: flags and signature counter."""

    flags: int
    counter: int

    @property
    def user_present(self) -> bool:
        return bool(self.flags & SK_USER_PRESENT)

    @property
    def user_verified(self) -> bool:
        return bool(self.flags & SK_USER_VERIFIED)


@dataclass(frozen=True)
class SshSignature:
    """A decoded SSHSIG envelope (PROTOCOL.sshsig)."""

    public_key: bytes
    namespace: str
    hash_algorithm: str
    signature: bytes


# --------------------------------------------------------------------------------------------
# Envelope


def dearmor(armored: bytes) -> bytes:
    """The binary SSHSIG blob inside `-----BEGIN SSH SIGNATURE-----` armor.

    Like sshsig_dearmor the header must start the text; unlike it we also refuse anything but
    whitespace after the footer, because a commit header should hold nothing else.
    """
    if not armored.startswith(ARMOR_BEGIN):
        raise WireError("the signature does not start with -----BEGIN SSH SIGNATURE-----")
    end = armored.find(ARMOR_END, len(ARMOR_BEGIN) - 1)
    if end < 0:
        raise WireError("the signature has no -----END SSH SIGNATURE----- line")
    if armored[end + len(ARMOR_END):].strip():
        raise WireError("text after the -----END SSH SIGNATURE----- line")
    body = b"".join(armored[len(ARMOR_BEGIN):end].split())
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error as exc:
        raise WireError(f"the armored signature is not valid base64 ({exc})") from exc


def parse_sshsig(blob: bytes) -> SshSignature:
    """Decode the envelope; raises `WireError` on anything ssh-keygen would not accept."""
    reader = SshReader(blob)
    if reader.take(len(SSHSIG_MAGIC)) != SSHSIG_MAGIC:
        raise WireError("not an SSHSIG signature (bad magic)")
    if (version := reader.u32()) != SSHSIG_VERSION:
        raise WireError(f"SSHSIG version {version} (only version {SSHSIG_VERSION} exists)")
    public_key = reader.string()
    namespace = reader.text()
    reserved = reader.string()
    hash_algorithm = reader.text()
    signature = reader.string()
    reader.done("the SSHSIG signature")
    if reserved:
        raise WireError("the SSHSIG reserved field is not empty")
    return SshSignature(public_key, namespace, hash_algorithm, signature)


def sshsig_signed_data(namespace: str, hash_algorithm: str, digest: bytes) -> bytes:
    """What the key actually signs: the namespace-bound wrapper around H(message)."""
    return (SSHSIG_MAGIC + ssh_string(namespace) + ssh_string(b"") + ssh_string(hash_algorithm)
            + ssh_string(digest))


# --------------------------------------------------------------------------------------------
# Raw signatures


def _signature_type_problem(key_type: str, sig_type: str) -> None:
    """Refuse a signature whose algorithm does not belong to the key (or is too weak)."""
    if key_type == RSA:
        if sig_type == "ssh-rsa":
            raise UnsupportedKeyType(
                "ssh-rsa (SHA-1) signature; OpenSSH refuses SHA-1 RSA signatures, re-sign "
                "with rsa-sha2-256 or rsa-sha2-512")
        if sig_type not in _RSA_HASHES:
            raise UnsupportedKeyType(f"RSA signature algorithm {sig_type!r} is not supported")
    elif sig_type != key_type:
        if sig_type.startswith("webauthn-"):
            raise UnsupportedKeyType(f"{sig_type} signatures are not supported")
        raise WireError(f"a {sig_type} signature cannot come from a {key_type} key")


def verify_key_signature(key: SshPublicKey, signature: bytes, data: bytes) -> SkAssertion | None:
    """Verify an SSH signature blob by `key` over `data`.

    Returns the FIDO flags/counter for `sk-` keys (the caller decides whether they suffice),
    None for other keys. Raises `BadSignature`, `WireError` or `UnsupportedKeyType`.
    """
    reader = SshReader(signature)
    sig_type = reader.text()
    _signature_type_problem(key.key_type, sig_type)
    raw = reader.string()
    assertion: SkAssertion | None = None
    if key.key_type in (SK_ED25519, SK_ECDSA):
        assertion = SkAssertion(reader.u8(), reader.u32())
        data = (hashlib.sha256((key.application or "").encode("utf-8")).digest()
                + struct.pack(">BI", assertion.flags, assertion.counter)
                + hashlib.sha256(data).digest())
    reader.done("the signature")
    try:
        _verify_with(key, sig_type, raw, data)
    except InvalidSignature as exc:
        raise BadSignature("the signature does not match the signed data") from exc
    return assertion


def _verify_with(key: SshPublicKey, sig_type: str, raw: bytes, data: bytes) -> None:
    crypto = key.crypto
    if isinstance(crypto, ed25519.Ed25519PublicKey):
        if len(raw) != 64:
            raise WireError("an ed25519 signature is 64 bytes")
        crypto.verify(raw, data)
    elif isinstance(crypto, ec.EllipticCurvePublicKey):
        inner = SshReader(raw)
        r, s = inner.mpint(), inner.mpint()
        inner.done("the ECDSA signature")
        crypto.verify(encode_dss_signature(r, s), data,
                      ec.ECDSA(_ECDSA_HASHES[key.key_type]()))
    else:
        size = (crypto.key_size + 7) // 8
        if len(raw) > size:
            raise WireError("the RSA signature is longer than the modulus")
        # OpenSSH accepts (and some agents emit) signatures with leading zero bytes removed.
        crypto.verify(raw.rjust(size, b"\0"), data, padding.PKCS1v15(),
                      _RSA_HASHES[sig_type]())


@functools.lru_cache(maxsize=4096)
def load_signing_key(blob: bytes) -> AnyKey:
    """Parse the SSHSIG public key; for a certificate, also check its CA signature.

    Cached on the blob, so a thousand commits by one key parse and check it once.
    """
    key = parse_key_blob(blob)
    if isinstance(key, SshCertificate):
        try:
            verify_key_signature(key.ca, key.signature, key.signed_part)
        except BadSignature as exc:
            raise BadSignature(
                f"the certificate's signature by CA {key.ca.label} {key.ca.fingerprint} "
                "does not verify") from exc
    return key


# --------------------------------------------------------------------------------------------
# The verifier


class _Refusal(Exception):
    """Ends verification with a verdict; raised by the steps, caught once in `verify`."""

    def __init__(self, status: CommitStatus, reason: Reason, detail: str,
                 fingerprint: str | None = None) -> None:
        super().__init__(detail)
        self.verdict = SignatureVerdict(status=status, reason=reason,
                                        format=SignatureFormat.SSH, detail=detail,
                                        fingerprint=fingerprint)


@dataclass(frozen=True)
class _Problem:
    """Why one allowed_signers line does not accept the signature."""

    status: CommitStatus
    reason: Reason
    text: str


def _untrusted(reason: Reason, text: str) -> _Problem:
    return _Problem(CommitStatus.UNTRUSTED, reason, text)


def _describe(key: AnyKey) -> str:
    if isinstance(key, SshCertificate):
        return (f"{key.key.label}-CERT key {key.fingerprint} (certificate ID {key.key_id!r}, "
                f"serial {key.serial}, CA {key.ca.label} {key.ca.fingerprint})")
    return f"{key.label} key {key.fingerprint}"


def _epoch_seconds(when: datetime) -> int:
    """Committer time as git passes it to ssh-keygen; a naive datetime is taken as UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return math.floor(when.timestamp())


def _certificate_problem(cert: SshCertificate, when: int, principal: str | None) -> _Problem | None:
    """sshkey_cert_check_authority for a signature: user cert, in its window, names `principal`."""
    if cert.kind != CERT_TYPE_USER:
        return _untrusted(Reason.UNKNOWN_KEY, f"the certificate is a {cert.kind_name} "
                          "certificate, not a user certificate")
    if when < cert.valid_after:
        return _untrusted(Reason.OUTSIDE_VALIDITY, f"signed at {format_time(when)}, before "
                          f"the certificate is valid ({format_time(cert.valid_after)})")
    if when >= cert.valid_before:
        return _untrusted(Reason.OUTSIDE_VALIDITY, f"signed at {format_time(when)}, after "
                          f"the certificate expired ({format_time(cert.valid_before)})")
    if not cert.principals:
        return _untrusted(Reason.UNKNOWN_KEY, "the certificate lists no principals")
    if principal is not None and principal not in cert.principals:
        return _untrusted(Reason.UNKNOWN_KEY,
                          f"{principal!r} is not a principal of the certificate")
    return None


def _found_principals(line: AllowedSigner, key: AnyKey,
                      when: int) -> tuple[tuple[str, ...], _Problem | None]:
    """What `ssh-keygen -Y find-principals` prints for this line, or why it skips the line."""
    entries = line.principal_entries()
    if line.options.cert_authority:
        if not isinstance(key, SshCertificate):  # lines_for() never pairs these; stay closed
            return (), _untrusted(Reason.UNKNOWN_KEY, f"{line.where} is a cert-authority line")
        if problem := _certificate_problem(key, when, None):
            return (), problem
        matched = [p for entry in entries for p in key.principals if match_pattern(p, entry)]
        # ssh-keygen joins these with "," and prints them back split at ",".
        entries = split_principal_list(",".join(matched))
        if not entries:
            return (), _untrusted(Reason.UNKNOWN_KEY, f"certificate principals "
                                  f"{', '.join(key.principals)} match none of "
                                  f"{line.principals!r} on {line.where}")
    if problem_text := line.time_problem(when):
        return (), _untrusted(Reason.OUTSIDE_VALIDITY, f"{problem_text} ({line.where})")
    return entries, None


def _line_problem(line: AllowedSigner, key: AnyKey, principal: str, when: int,
                  assertion: SkAssertion | None) -> _Problem | None:
    """Why `ssh-keygen -Y verify -n git -I principal` would not accept this line, or None."""
    if line.options.cert_authority:
        if not isinstance(key, SshCertificate):
            return _untrusted(Reason.UNKNOWN_KEY, f"{line.where} is a cert-authority line")
        if problem := _certificate_problem(key, when, principal):
            return problem
    if not line.allows_namespace(GIT_NAMESPACE):
        return _untrusted(Reason.WRONG_NAMESPACE, f"{line.where} allows the key only for "
                          f"namespaces {line.options.namespaces!r}, not \"git\"")
    if problem_text := line.time_problem(when):
        return _untrusted(Reason.OUTSIDE_VALIDITY, f"{problem_text} ({line.where})")
    if assertion is not None:
        if not assertion.user_present and not line.options.no_touch_required:
            return _Problem(CommitStatus.INVALID, Reason.BAD_SIGNATURE,
                            "the security key signed without user presence (no touch); "
                            f"{line.where} does not say no-touch-required")
        if line.options.verify_required and not assertion.user_verified:
            return _Problem(CommitStatus.INVALID, Reason.BAD_SIGNATURE,
                            "the security key signed without user verification (PIN or "
                            f"biometric); {line.where} says verify-required")
    return None


class SshVerifier:
    """Verifies SSH commit signatures against an allowed_signers file, as git does.

    Conforms to `SignatureVerifier`. Stateless apart from caches, so one instance serves a
    whole commit range; parsed keys and certificate checks are cached per key blob.
    """

    def __init__(self, allowed_signers: AllowedSigners,
                 revoked: RevokedKeys | None = None) -> None:
        self.allowed_signers = allowed_signers
        self.revoked = revoked

    def verify(self, payload: bytes, signature: bytes, signed_at: datetime) -> SignatureVerdict:
        """Verify `signature` (the armored `gpgsig` header value) over `payload`.

        `signed_at` is the committer time, which git passes as `-Overify-time`; validity
        windows are checked against it so a verdict does not depend on when the gate runs.
        """
        try:
            return self._verify(payload, signature, _epoch_seconds(signed_at))
        except _Refusal as refusal:
            return refusal.verdict

    def _verify(self, payload: bytes, signature: bytes, when: int) -> SignatureVerdict:
        envelope = _read_envelope(signature)
        key = _read_signing_key(envelope.public_key)
        fingerprint = key.fingerprint
        assertion = _check_signature(key, envelope, payload)
        if self.revoked is not None and (why := self.revoked.revokes(key)):
            raise _Refusal(CommitStatus.UNTRUSTED, Reason.KEY_REVOKED,
                           f"{_describe(key)} is revoked: {why}", fingerprint)
        return self._lookup(key, when, assertion)

    def _lookup(self, key: AnyKey, when: int, assertion: SkAssertion | None) -> SignatureVerdict:
        """find-principals, then verify -I each principal found, as git's ssh backend does."""
        lines = self.allowed_signers.lines_for(key)
        if not lines:
            raise _Refusal(CommitStatus.UNTRUSTED, Reason.UNKNOWN_KEY, _unknown_key_text(
                key, self.allowed_signers.source), key.fingerprint)
        principals, find_problems = _find_first(lines, key, when)
        verify_problems: list[_Problem] = []
        for principal in principals:
            line, problem = _accepting_line(lines, key, principal, when, assertion)
            if line is not None:
                identities = _identities(lines, key, when, assertion, principals)
                return _verified(key, principal, line, identities)
            if problem is not None:
                verify_problems.append(problem)
        # Report the furthest stage reached: a line that was found but then refused explains
        # more than the lines skipped on the way to it.
        first = next(iter(verify_problems or find_problems), None) or _untrusted(
            Reason.UNKNOWN_KEY, f"no principal listed for the key can verify ({lines[0].where})")
        raise _Refusal(first.status, first.reason,
                       f"{_describe(key)} is not accepted: {first.text}", key.fingerprint)


def _read_envelope(signature: bytes) -> SshSignature:
    try:
        envelope = parse_sshsig(dearmor(signature))
    except WireError as exc:
        raise _Refusal(CommitStatus.INVALID, Reason.MALFORMED,
                       f"unreadable SSH signature: {exc}") from exc
    if envelope.namespace != GIT_NAMESPACE:
        raise _Refusal(CommitStatus.INVALID, Reason.WRONG_NAMESPACE,
                       f"the signature was made for namespace {envelope.namespace!r}, not "
                       "\"git\" (ssh-keygen -Y sign -n git)")
    if envelope.hash_algorithm not in _MESSAGE_HASHES:
        raise _Refusal(CommitStatus.INVALID, Reason.UNSUPPORTED_ALGORITHM,
                       f"SSHSIG hash algorithm {envelope.hash_algorithm!r} is not sha256 or "
                       "sha512")
    return envelope


def _read_signing_key(blob: bytes) -> AnyKey:
    try:
        return load_signing_key(blob)
    except UnsupportedKeyType as exc:
        raise _Refusal(CommitStatus.INVALID, Reason.UNSUPPORTED_ALGORITHM,
                       f"unsupported signing key: {exc}") from exc
    except ValueError as exc:  # WireError, or cryptography refusing the key material
        raise _Refusal(CommitStatus.INVALID, Reason.MALFORMED,
                       f"unreadable signing key in the signature: {exc}") from exc
    except BadSignature as exc:
        raise _Refusal(CommitStatus.INVALID, Reason.BAD_SIGNATURE, str(exc)) from exc


def _check_signature(key: AnyKey, envelope: SshSignature, payload: bytes) -> SkAssertion | None:
    signer = key.key if isinstance(key, SshCertificate) else key
    digest = _MESSAGE_HASHES[envelope.hash_algorithm](payload).digest()
    data = sshsig_signed_data(envelope.namespace, envelope.hash_algorithm, digest)
    try:
        return verify_key_signature(signer, envelope.signature, data)
    except BadSignature as exc:
        raise _Refusal(CommitStatus.INVALID, Reason.BAD_SIGNATURE,
                       f"bad signature by {_describe(key)}: the commit was changed after "
                       "signing, or the signature belongs to another commit",
                       key.fingerprint) from exc
    except UnsupportedKeyType as exc:
        raise _Refusal(CommitStatus.INVALID, Reason.UNSUPPORTED_ALGORITHM, str(exc),
                       key.fingerprint) from exc
    except ValueError as exc:  # WireError, or cryptography refusing the signature encoding
        raise _Refusal(CommitStatus.INVALID, Reason.MALFORMED,
                       f"unreadable signature by {_describe(key)}: {exc}",
                       key.fingerprint) from exc


def _unknown_key_text(key: AnyKey, source: str) -> str:
    if isinstance(key, SshCertificate):
        return (f"{_describe(key)}: neither the certificate nor its CA is in {source} "
                "(a CA needs a cert-authority line)")
    return f"{_describe(key)} is not in {source}"


def _find_first(lines: tuple[AllowedSigner, ...], key: AnyKey,
                when: int) -> tuple[tuple[str, ...], list[_Problem]]:
    """`find-principals`: the principals of the first line usable at `when`.

    Like ssh-keygen, the first usable line ends the search even when it prints no principal
    (`,alice` prints nothing), and git then tries no other line.
    """
    problems: list[_Problem] = []
    for line in lines:
        principals, problem = _found_principals(line, key, when)
        if problem is None:
            return principals, problems
        problems.append(problem)
    return (), problems


def _accepting_line(lines: tuple[AllowedSigner, ...], key: AnyKey, principal: str, when: int,
                    assertion: SkAssertion | None
                    ) -> tuple[AllowedSigner | None, _Problem | None]:
    """`verify -I principal`: the first line listing `principal` that accepts the signature."""
    first_problem: _Problem | None = None
    for line in lines:
        if match_pattern_list(principal, line.principals) != 1:
            continue
        problem = _line_problem(line, key, principal, when, assertion)
        if problem is None:
            return line, None
        first_problem = first_problem or problem
    return None, first_problem


def _identities(lines: tuple[AllowedSigner, ...], key: AnyKey, when: int,
                assertion: SkAssertion | None, found: tuple[str, ...]) -> tuple[str, ...]:
    """Every literal principal the key may sign as now, git's pick first.

    git only tries the first usable line; a key listed on several lines (one per address) may
    sign as any of them, and the gate needs all of them to bind the signer to the committer.
    """
    candidates = list(found)
    for line in lines:
        candidates.extend(_found_principals(line, key, when)[0])
    identities: list[str] = []
    for principal in dict.fromkeys(candidates):
        if is_pattern(principal):
            continue
        if _accepting_line(lines, key, principal, when, assertion)[0] is not None:
            identities.append(principal)
    return tuple(identities)


def _verified(key: AnyKey, principal: str, line: AllowedSigner,
              identities: tuple[str, ...]) -> SignatureVerdict:
    signer = principal if not is_pattern(principal) else (identities[0] if identities else None)
    return SignatureVerdict(
        status=CommitStatus.VERIFIED, reason=Reason.OK, format=SignatureFormat.SSH,
        detail=f'good "git" signature for {principal} with {_describe(key)} ({line.where})',
        fingerprint=key.fingerprint, signer=signer, identities=identities,
    )
