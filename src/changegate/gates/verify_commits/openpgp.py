"""In-process OpenPGP commit-signature verification with Sequoia (PyPI `pysequoia`).

Why not `gpg`: git runs one gpg process per commit (~6-9 ms each here) and gpg's answer depends
on the runner's `~/.gnupg` and on today's date. Sequoia verifies in-process (measured per
signature, first time: RSA ~0.2 ms, Ed25519 ~1 ms with the pure-Rust backend the pysequoia wheel
ships; Sequoia caches good verifications, so a repeat costs ~0.1 ms), against exactly the
keyring the policy names, and judges the key at the signature's creation time. Nothing here
needed a `gpgv` fallback (see "What Sequoia decides" below).

What Sequoia decides (pysequoia 0.1.35, measured; the acceptance decision is always Sequoia's):
- the signature must verify cryptographically over the payload, under Sequoia's standard policy
  (SHA-1/MD5/RIPEMD-160 data signatures and RSA/DSA keys under 2048 bits are rejected);
- the signing key (primary or subkey) must be bound, alive and signing-capable *at the
  signature's creation time*: a key that expired after signing still verifies, a key that had
  already expired does not;
- a hard revocation (reason "compromised", "unspecified" or none) invalidates every signature,
  even old ones; a soft revocation ("superseded", "retired") only invalidates signatures made
  after the revocation was issued;
- the signature must not have expired by *now* (only if its signer gave it an expiry, which
  git users practically never do; git/gpg report the same as "X") and must not claim a creation
  time more than 30 minutes in the future.

By default (`key_validity="now"`, policy `openpgp_key_validity: now`) the key must *also* be
valid today, as git and gpg require (gpg's `Y`/`R`): a key that has expired or been revoked
since cannot vouch for new commits with a back-dated signature. `"signing-time"` judges the key
only as it was when it signed, so a verdict never changes as keys age (for re-verifying history).

What we add on top:
- the signature's creation time may not precede the commit's committer time (`signed_at`) by
  more than `BACKDATING_TOLERANCE`. git signs right after it stamps the committer date, so a
  signature older than the commit it signs is back-dated (the way to make an expired or
  superseded key look valid) or the commit is future-dated: UNTRUSTED/OUTSIDE_VALIDITY. A
  signature made long *after* the committer date is normal for re-signed history (rebase with
  preserved dates) and is judged at its creation time. Both times are the signer's claims:
  a key whose secret leaked must be hard-revoked, which no back-dating escapes.
- GitHub's web-flow signer writes RSA values with the modulus' bit count instead of the
  value's, which Sequoia refuses to parse (most GitHub-signed commits). The MPI is re-encoded
  canonically first; that changes the encoding of the same integer, never the signed data.

pysequoia raises one RuntimeError ("no valid signatures found") for every failure, so the reason
reported for a failure is our diagnosis from the packets: the hash prefix stored in the
signature (tampered payload), the algorithms, the times, and the key's self-signatures and
revocations at the signature's creation time. The diagnosis only picks the words; it never
turns a failure into a pass.

Fingerprints are reported as git shows them (`%GF`/`%GP`): uppercase hex, primary key first.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import pysequoia
from pysequoia.packet import Packet, PacketPile, SignatureType, Tag

from changegate.errors import InputError
from changegate.gates.verify_commits.verdict import (
    CommitStatus,
    Reason,
    SignatureFormat,
    SignatureVerdict,
)

RULE_KEYS_INVALID = "OPENPGP_KEYS_INVALID"
KEY_FILE_SUFFIXES = (".asc", ".gpg", ".pgp")

#: Sequoia's clock-skew allowance for signatures from the future (measured: 20 min accepted,
#: 40 min rejected); used only to explain that rejection.
KeyValidity = Literal["now", "signing-time"]
FUTURE_TOLERANCE = timedelta(minutes=30)
#: How much earlier than the committer timestamp a signature may claim to be made. Generous for
#: clock rounding; a real back-dating is days or months.
BACKDATING_TOLERANCE = timedelta(minutes=5)
#: Past this, a VERIFIED detail mentions that the commit was signed later than committed.
LATE_SIGNATURE_NOTE = timedelta(days=1)

_FIX_KEYS = ("Check the key file: it must hold ASCII-armored or binary OpenPGP public keys "
             "(`gpg --armor --export FINGERPRINT`), one or more per file.")

# RFC 9580 numbers, read from packet bodies: pysequoia's enums do not expose them.
_HASHES = {1: "md5", 2: "sha1", 3: "ripemd160", 8: "sha256", 9: "sha384", 10: "sha512",
           11: "sha224", 12: "sha3_256", 14: "sha3_512"}
_WEAK_HASHES = frozenset({1, 2, 3})
_MPI_COUNT = {1: 1, 3: 1, 16: 2, 17: 2, 19: 2, 20: 2, 22: 2}  # RSA, ElGamal, DSA, ECDSA, EdDSA
_SIZED_KEY_ALGOS = frozenset({1, 2, 3, 16, 17, 20})  # RSA, ElGamal, DSA: strength is the size
_MIN_KEY_BITS = 2048
_SOFT_REVOCATIONS = frozenset({1, 3})  # superseded, retired: effective from their date only
_REVOCATION_NAMES = {0: "no reason given", 1: "key superseded", 2: "key compromised",
                     3: "key retired", 32: "user ID no longer valid"}
_SUBPACKET_REVOCATION_REASON = 29
_SIGNATURE_PACKET_TAG = 2
_SELF_CERTIFICATIONS = (SignatureType.GenericCertification, SignatureType.PersonaCertification,
                        SignatureType.CasualCertification, SignatureType.PositiveCertification,
                        SignatureType.DirectKey)
_ARMOR_BEGIN = re.compile(rb"^-----BEGIN PGP ", re.MULTILINE)
_EPOCH = datetime.fromtimestamp(0, timezone.utc)


# --------------------------------------------------------------------------------------------
# The keyring


@dataclass(frozen=True)
class _Binding:
    """A self-signature binding a key at a time: its lifetime and usage as of `created`."""

    created: datetime
    lifetime: timedelta | None
    can_sign: bool | None  # None: the binding carries no key flags


@dataclass(frozen=True)
class _Revocation:
    created: datetime
    reason: int | None  # RFC 9580 reason code; None (absent) counts as a hard revocation

    @property
    def hard(self) -> bool:
        return self.reason not in _SOFT_REVOCATIONS

    def describe(self) -> str:
        reason = _REVOCATION_NAMES.get(self.reason, f"reason code {self.reason}") \
            if self.reason is not None else "no reason given"
        return f"{reason}, {_iso(self.created)}"


@dataclass
class _ComponentKey:
    """The primary key or one subkey, with the facts the failure diagnosis needs."""

    fingerprint: str  # lowercase hex, as pysequoia reports it
    key_id: str
    created: datetime
    primary: bool
    algorithm: int
    bits: int | None
    bindings: list[_Binding] = field(default_factory=list)
    revocations: list[_Revocation] = field(default_factory=list)

    def binding_at(self, when: datetime) -> _Binding | None:
        """The newest binding made at or before `when`: the one in force then."""
        current = [b for b in self.bindings if b.created <= when]
        return max(current, key=lambda b: b.created) if current else None


@dataclass(frozen=True)
class TrustedCert:
    """One certificate of the trusted keyring, with what every verdict needs precomputed."""

    cert: pysequoia.Cert
    fingerprint: str  # primary key, uppercase hex
    identities: tuple[str, ...]
    user_ids: tuple[str, ...]
    source: str
    keys: tuple[_ComponentKey, ...]

    @property
    def label(self) -> str:
        return self.user_ids[0] if self.user_ids else self.fingerprint

    def key_for(self, handles: Iterable[str]) -> _ComponentKey | None:
        wanted = set(handles)
        return next((k for k in self.keys if k.fingerprint in wanted or k.key_id in wanted),
                    None)


class OpenPgpKeyring:
    """The OpenPGP certificates the policy trusts, indexed by every key's fingerprint and id.

    Loaded once per run from the policy's `openpgp_keys` path; the runner's own `~/.gnupg` is
    never consulted, so the same commits give the same verdicts on every machine.
    """

    def __init__(self, certs: Iterable[TrustedCert]) -> None:
        self._certs: dict[str, TrustedCert] = {}
        for cert in certs:
            known = self._certs.get(cert.fingerprint)
            self._certs[cert.fingerprint] = _merge(known, cert) if known else cert
        self._index: dict[str, list[TrustedCert]] = {}
        for cert in self._certs.values():
            for key in cert.keys:
                for handle in (key.fingerprint, key.key_id):
                    self._index.setdefault(handle, []).append(cert)

    @classmethod
    def from_path(cls, path: str | Path) -> OpenPgpKeyring:
        """Load a directory of `.asc`/`.gpg`/`.pgp` files, or one keyring file.

        A file that does not parse is an error naming it (rule OPENPGP_KEYS_INVALID): a
        silently skipped key would turn every commit it signed into "unknown key".
        """
        path = Path(path)
        if path.is_dir():
            files = sorted(p for p in path.iterdir()
                           if p.is_file() and p.suffix.lower() in KEY_FILE_SUFFIXES
                           and not p.name.startswith("."))
            if not files:
                raise InputError(f"no OpenPGP key files ({', '.join(KEY_FILE_SUFFIXES)}) in "
                                 f"directory {path}", file=str(path), rule=RULE_KEYS_INVALID,
                                 fix=_FIX_KEYS)
        elif path.is_file():
            files = [path]
        else:
            raise InputError(f"OpenPGP keys path {path} does not exist", file=str(path),
                             rule=RULE_KEYS_INVALID, fix="Point openpgp_keys at a directory "
                             "of public key files or at one keyring file.")
        certs: list[TrustedCert] = []
        for file in files:
            certs.extend(_load_file(file))
        return cls(certs)

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "<bytes>") -> OpenPgpKeyring:
        """Load one or more certificates, armored or binary, from memory."""
        return cls(_parse_certs(data, source))

    def __len__(self) -> int:
        return len(self._certs)

    @property
    def fingerprints(self) -> tuple[str, ...]:
        return tuple(self._certs)

    def get(self, fingerprint: str) -> TrustedCert | None:
        return self._certs.get(fingerprint.upper())

    def lookup(self, handles: Iterable[str]) -> list[TrustedCert]:
        """Certificates holding a key with one of these fingerprints / key ids (lowercase)."""
        found: dict[str, TrustedCert] = {}
        for handle in handles:
            for cert in self._index.get(handle.lower(), ()):
                found[cert.fingerprint] = cert
        return list(found.values())


def _load_file(path: Path) -> list[TrustedCert]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read OpenPGP key file {path}: {exc.strerror}",
                         file=str(path), rule=RULE_KEYS_INVALID) from exc
    return _parse_certs(data, str(path))


def _parse_certs(data: bytes, source: str) -> list[TrustedCert]:
    try:
        with warnings.catch_warnings():
            # pysequoia deprecates Cert for secret keys, and warns on every has_secret_keys
            warnings.simplefilter("ignore", DeprecationWarning)
            certs = [(cert, cert.has_secret_keys) for cert in pysequoia.Cert.split_bytes(data)]
    except Exception as exc:  # pysequoia raises bare RuntimeErrors
        raise InputError(f"{source} is not a valid OpenPGP key file: {_first_line(exc)}",
                         file=source, rule=RULE_KEYS_INVALID, fix=_FIX_KEYS) from exc
    if not certs:
        raise InputError(f"{source} holds no OpenPGP certificate", file=source,
                         rule=RULE_KEYS_INVALID, fix=_FIX_KEYS)
    for cert, secret in certs:
        if secret:
            raise InputError(f"{source} contains secret key material (certificate "
                             f"{cert.fingerprint.upper()})", file=source, rule=RULE_KEYS_INVALID,
                             fix="Remove the file from the repository, treat the key as "
                             "exposed, and commit only the public key "
                             "(`gpg --armor --export FINGERPRINT`).")
    return [_trusted(cert, source) for cert, _ in certs]


def _trusted(cert: pysequoia.Cert, source: str) -> TrustedCert:
    packets = list(PacketPile.from_bytes(bytes(cert)))
    emails = {p.user_id: p.user_id_email for p in packets
              if p.tag == Tag.UserID and p.user_id is not None}
    try:
        user_ids = tuple(str(uid) for uid in cert.user_ids)  # valid, non-revoked UIDs only
    except Exception:  # Sequoia's policy refuses the whole certificate (e.g. RSA-1024)
        # Kept, so its signatures are reported as UNSUPPORTED_ALGORITHM rather than as an
        # unknown key; its user IDs are unverifiable, so it vouches for no identity.
        return TrustedCert(cert=cert, fingerprint=cert.fingerprint.upper(), identities=(),
                           user_ids=tuple(uid for uid in emails if uid)[:1], source=source,
                           keys=tuple(_component_keys(packets)))
    identities = tuple(dict.fromkeys(
        e.lower() for e in (emails.get(uid) or _bare_email(uid) for uid in user_ids) if e))
    return TrustedCert(cert=cert, fingerprint=cert.fingerprint.upper(), identities=identities,
                       user_ids=user_ids, source=source, keys=tuple(_component_keys(packets)))


def _bare_email(user_id: str) -> str | None:
    """The address in a UID Sequoia's strict RFC 2822 parser gave up on (`a@b.example`,
    `Name <a@b.example> ` with stray spaces), found the way gpg and GitHub read UIDs."""
    match = re.search(r"<([^\s<>@]+@[^\s<>@]+)>", user_id) or \
        re.fullmatch(r"\s*([^\s<>@]+@[^\s<>@]+)\s*", user_id)
    return match.group(1) if match else None


def _merge(known: TrustedCert, new: TrustedCert) -> TrustedCert:
    """The same certificate in two files (e.g. an update carrying a revocation): union them."""
    return _trusted(known.cert.merge(new.cert), f"{known.source}, {new.source}")


def _component_keys(packets: Sequence[Packet]) -> list[_ComponentKey]:
    """Walk a certificate's packets and attach self-signatures and revocations to their keys."""
    keys: list[_ComponentKey] = []
    primary: _ComponentKey | None = None
    current: _ComponentKey | None = None
    for packet in packets:
        if packet.tag in (Tag.PublicKey, Tag.PublicSubkey):
            current = _component_key(packet, primary=packet.tag == Tag.PublicKey)
            primary = current if current.primary else primary
            keys.append(current)
        elif packet.tag == Tag.Signature and primary and current:
            _attach_signature(packet, primary, current)
    return keys


def _component_key(packet: Packet, primary: bool) -> _ComponentKey:
    body = packet.body
    algorithm = body[5] if len(body) > 5 and body[0] in (4, 6) else 0
    mpis = 6 if body[0] == 4 else 10  # v6 puts a 4-octet key material length first
    bits = int.from_bytes(body[mpis:mpis + 2], "big") if algorithm in _SIZED_KEY_ALGOS else None
    return _ComponentKey(fingerprint=packet.fingerprint or "", key_id=packet.key_id or "",
                         created=packet.key_created or _EPOCH, primary=primary,
                         algorithm=algorithm, bits=bits)


def _attach_signature(packet: Packet, primary: _ComponentKey, current: _ComponentKey) -> None:
    if not _issued_by(packet, primary):
        return  # third-party certifications say nothing about the key's own validity
    created = packet.signature_created or _EPOCH
    kind = packet.signature_type
    if kind == SignatureType.KeyRevocation:
        primary.revocations.append(_Revocation(created, _revocation_reason(packet.body)))
    elif kind == SignatureType.SubkeyRevocation and not current.primary:
        current.revocations.append(_Revocation(created, _revocation_reason(packet.body)))
    elif kind == SignatureType.SubkeyBinding and not current.primary:
        current.bindings.append(_binding(packet, created))
    elif kind in _SELF_CERTIFICATIONS:
        primary.bindings.append(_binding(packet, created))


def _binding(packet: Packet, created: datetime) -> _Binding:
    flags = packet.key_flags
    return _Binding(created=created, lifetime=packet.key_validity_period,
                    can_sign=flags.signing if flags is not None else None)


def _issued_by(packet: Packet, key: _ComponentKey) -> bool:
    fpr, keyid = packet.issuer_fingerprint, packet.issuer_key_id
    return (fpr is None and keyid is None) or fpr == key.fingerprint or keyid == key.key_id


# --------------------------------------------------------------------------------------------
# Signature packets: the few raw fields pysequoia does not expose


@dataclass(frozen=True)
class _SigLayout:
    """Where things are in a v4/v6 signature packet body (RFC 9580 section 5.2.3)."""

    version: int
    hash_algo: int
    hashed_end: int  # end of the hashed part (version .. hashed subpackets)
    hashed_area: bytes
    digest_prefix: bytes  # the left 16 bits of the signed hash, stored in clear
    salt: bytes
    mpis_start: int


def _layout(body: bytes) -> _SigLayout | None:
    try:
        if body[0] == 4:
            hashed_len = int.from_bytes(body[4:6], "big")
            hashed_end = 6 + hashed_len
            unhashed_len = int.from_bytes(body[hashed_end:hashed_end + 2], "big")
            prefix_at = hashed_end + 2 + unhashed_len
            return _SigLayout(4, body[3], hashed_end, body[6:hashed_end],
                              body[prefix_at:prefix_at + 2], b"", prefix_at + 2)
        if body[0] == 6:
            hashed_len = int.from_bytes(body[4:8], "big")
            hashed_end = 8 + hashed_len
            unhashed_len = int.from_bytes(body[hashed_end:hashed_end + 4], "big")
            prefix_at = hashed_end + 4 + unhashed_len
            salt_len = body[prefix_at + 2]
            salt = body[prefix_at + 3:prefix_at + 3 + salt_len]
            return _SigLayout(6, body[3], hashed_end, body[8:hashed_end],
                              body[prefix_at:prefix_at + 2], salt, prefix_at + 3 + salt_len)
    except IndexError:
        return None
    return None


def _subpackets(area: bytes) -> Iterable[tuple[int, bytes]]:
    """(type, data) of each subpacket in a signature's subpacket area."""
    pos = 0
    while pos < len(area):
        first = area[pos]
        if first < 192:
            length, pos = first, pos + 1
        elif first < 255:
            length, pos = ((first - 192) << 8) + area[pos + 1] + 192, pos + 2
        else:
            length, pos = int.from_bytes(area[pos + 1:pos + 5], "big"), pos + 5
        if length == 0 or pos + length > len(area):
            return
        yield area[pos] & 0x7F, area[pos + 1:pos + length]
        pos += length


def _revocation_reason(body: bytes) -> int | None:
    layout = _layout(body)
    if layout is None:
        return None
    for kind, data in _subpackets(layout.hashed_area):
        if kind == _SUBPACKET_REVOCATION_REASON and data:
            return data[0]
    return None


def _digest_prefix_matches(body: bytes, payload: bytes) -> bool:
    """Whether the payload hashes to the 16-bit prefix the signature stores (True if unknown).

    A mismatch proves the payload is not what was signed (the commit was changed, or the
    signature was copied from another commit), independent of any key. It is a diagnosis only:
    a forger can set these 16 bits, but cannot make Sequoia accept the signature.
    """
    layout = _layout(body)
    name = _HASHES.get(layout.hash_algo) if layout else None
    if layout is None or name is None or body[1] not in (0, 1):
        return True
    try:
        digest = hashlib.new(name, usedforsecurity=False)
    except ValueError:  # e.g. RIPEMD-160 on an OpenSSL 3 without the legacy provider
        return True
    data = re.sub(rb"\r?\n", b"\r\n", payload) if body[1] == 1 else payload  # text signatures
    digest.update(layout.salt + data + body[:layout.hashed_end])
    digest.update(bytes([layout.version, 0xFF]) + layout.hashed_end.to_bytes(4, "big"))
    return digest.digest()[:2] == layout.digest_prefix


def _canonical_mpis(body: bytes) -> bytes | None:
    """The signature body with its MPIs re-encoded minimally, or None if it is not one we know.

    GitHub's web-flow signer writes an RSA signature's MPI with the modulus' bit count even when
    the value's leading bits are zero; Sequoia then refuses the packet as malformed. The value
    (the integer) is unchanged, and MPIs are not part of the signed data.
    """
    layout = _layout(body)
    count = _MPI_COUNT.get(body[2]) if layout and layout.version == 4 else None
    if layout is None or count is None:
        return None
    pos, out = layout.mpis_start, bytearray(body[:layout.mpis_start])
    for _ in range(count):
        if pos + 2 > len(body):
            return None
        size = (int.from_bytes(body[pos:pos + 2], "big") + 7) // 8
        value = int.from_bytes(body[pos + 2:pos + 2 + size], "big")
        if pos + 2 + size > len(body):
            return None
        out += value.bit_length().to_bytes(2, "big")
        out += value.to_bytes((value.bit_length() + 7) // 8, "big")
        pos += 2 + size
    return bytes(out) if pos == len(body) else None


def _packet(tag: int, body: bytes) -> bytes:
    """Serialise a packet with a new-format header (RFC 9580 section 4.2.1)."""
    size = len(body)
    if size < 192:
        header = bytes([size])
    elif size < 8384:
        header = bytes([((size - 192) >> 8) + 192, (size - 192) & 0xFF])
    else:
        header = b"\xff" + size.to_bytes(4, "big")
    return bytes([0xC0 | tag]) + header + body


# --------------------------------------------------------------------------------------------
# The verifier


@dataclass(frozen=True)
class _ParsedSignature:
    sig: pysequoia.Sig
    body: bytes
    created: datetime
    expires: datetime | None
    handles: tuple[str, ...]  # issuer fingerprint and/or key id, lowercase
    normalized: bool

    @property
    def issuer(self) -> str:
        return self.handles[0].upper()


class OpenPgpVerifier:
    """Verifies OpenPGP commit signatures against one trusted keyring (a SignatureVerifier)."""

    def __init__(self, keyring: OpenPgpKeyring, *,
                 clock: Callable[[], datetime] | None = None,
                 key_validity: KeyValidity = "now") -> None:
        self._keyring = keyring
        # "now" (default, as git/gpg): the key must also still be valid today, so a key that
        # has expired or been revoked since cannot be used with a back-dated signature.
        # "signing-time": judged only when the signature was made (verdicts never drift).
        self._key_validity = key_validity
        # Only used to explain Sequoia's two "now"-based refusals (future or expired signature).
        self._clock = clock or (lambda: datetime.now(timezone.utc))

    @property
    def keyring(self) -> OpenPgpKeyring:
        return self._keyring

    def verify(self, payload: bytes, signature: bytes, signed_at: datetime) -> SignatureVerdict:
        parsed = _parse_signature(signature)
        if isinstance(parsed, SignatureVerdict):
            return parsed
        candidates = self._keyring.lookup(parsed.handles)
        if not candidates:
            return _verdict(CommitStatus.UNTRUSTED, Reason.UNKNOWN_KEY,
                            f"signed with OpenPGP key {parsed.issuer}, which is not in the "
                            f"trusted keyring ({len(self._keyring)} certificates); add the "
                            "signer's public key to the policy's openpgp_keys after checking "
                            "its fingerprint with its owner")
        try:
            result = pysequoia.verify(bytes=payload, signature=parsed.sig,
                                      store=lambda _ids: [c.cert for c in candidates])
        except Exception:  # pysequoia raises one RuntimeError for every kind of failure
            return self._diagnose(parsed, candidates, payload)
        return self._accepted(parsed, result.valid_sigs, _aware(signed_at))

    def _accepted(self, parsed: _ParsedSignature, valid_sigs: list[Any],
                  signed_at: datetime) -> SignatureVerdict:
        """Sequoia accepted the signature; apply our commit-time rule and describe the key."""
        if not valid_sigs or (cert := self._keyring.get(str(valid_sigs[0].certificate))) is None:
            # cannot happen: Sequoia only ever sees certificates of our keyring
            return _verdict(CommitStatus.INVALID, Reason.BAD_SIGNATURE,
                            "OpenPGP verification returned no signer")
        key = cert.fingerprint
        signing_key = str(valid_sigs[0].signing_key).upper()
        if signing_key != cert.fingerprint:
            key += f", signing subkey {signing_key}"
        if parsed.created < signed_at - BACKDATING_TOLERANCE:
            return _verdict(CommitStatus.UNTRUSTED, Reason.OUTSIDE_VALIDITY,
                            f"the signature claims to be made {_iso(parsed.created)}, before "
                            f"the commit it signs ({_iso(signed_at)}): a back-dated signature or "
                            f"a future-dated commit; key {key} was not accepted. Re-sign the "
                            "commit (`git commit --amend -S`)", cert)
        if self._key_validity == "now":
            component = cert.key_for(parsed.handles)
            problem = (_key_problem(cert, component, self._clock(), "at verification time")
                       if component else None)
            if problem is not None:
                return _verdict(problem[0], problem[1],
                                f"a good signature made {_iso(parsed.created)}, but the key is "
                                f"not valid now: {problem[2]} (openpgp_key_validity: now, as "
                                "git and gpg judge it); re-sign with a current key", cert)
        detail = f"good OpenPGP signature by {cert.label} (key {key}) made {_iso(parsed.created)}"
        if parsed.created - signed_at > LATE_SIGNATURE_NOTE:
            detail += (f"; signed {(parsed.created - signed_at).days} days after the committer "
                       "date (re-signed history), key validity judged at signing time")
        if parsed.normalized:
            detail += "; non-canonical MPI encoding normalized before verification"
        return _verdict(CommitStatus.VERIFIED, Reason.OK, detail, cert)

    def _diagnose(self, parsed: _ParsedSignature, candidates: list[TrustedCert],
                  payload: bytes) -> SignatureVerdict:
        """Explain why Sequoia refused: pick the first cause the packets prove."""
        cert = candidates[0]
        if not _digest_prefix_matches(parsed.body, payload):
            return _verdict(CommitStatus.INVALID, Reason.BAD_SIGNATURE,
                            "the signature does not match the commit: the commit was changed "
                            "after signing, or the signature was copied from another commit",
                            cert)
        if parsed.body[3] in _WEAK_HASHES:
            name = _HASHES[parsed.body[3]].upper()
            return _verdict(CommitStatus.UNTRUSTED, Reason.UNSUPPORTED_ALGORITHM,
                            f"the signature uses {name}, which is not collision resistant and "
                            "is refused; re-sign with a SHA-256 (or stronger) digest", cert)
        now = self._clock()
        if parsed.created > now + FUTURE_TOLERANCE:
            return _verdict(CommitStatus.UNTRUSTED, Reason.OUTSIDE_VALIDITY,
                            f"the signature claims to be made in the future "
                            f"({_iso(parsed.created)}); check the signer's clock and re-sign",
                            cert)
        if parsed.expires is not None and parsed.expires <= now:
            return _verdict(CommitStatus.UNTRUSTED, Reason.OUTSIDE_VALIDITY,
                            f"the signature itself expired {_iso(parsed.expires)} (its signer "
                            "gave it a lifetime); re-sign the commit", cert)
        for candidate in candidates:
            key = candidate.key_for(parsed.handles)
            problem = _key_problem(candidate, key, parsed.created) if key else None
            if problem is not None:
                return _verdict(problem[0], problem[1], problem[2], candidate)
        return _verdict(CommitStatus.INVALID, Reason.BAD_SIGNATURE,
                        f"the signature does not verify with key {parsed.issuer} of "
                        f"{cert.label} ({cert.fingerprint})", cert)


def _parse_signature(signature: bytes) -> _ParsedSignature | SignatureVerdict:
    """Exactly one well-formed signature packet over data, or the verdict saying why not."""
    if len(_ARMOR_BEGIN.findall(signature)) > 1:
        return _verdict(CommitStatus.INVALID, Reason.MULTIPLE_SIGNATURES,
                        "the commit carries several armored OpenPGP blocks; a commit must "
                        "carry exactly one signature")
    try:
        packets = list(PacketPile.from_bytes(signature))
    except Exception as exc:  # pysequoia raises bare RuntimeErrors
        return _malformed(f"not a readable OpenPGP signature ({_first_line(exc)})")
    if not packets or any(p.tag != Tag.Signature for p in packets):
        return _malformed("expected one OpenPGP signature packet, found: "
                          + (", ".join(str(p.tag) for p in packets) or "nothing"))
    if len(packets) > 1:
        return _verdict(CommitStatus.INVALID, Reason.MULTIPLE_SIGNATURES,
                        f"the signature block holds {len(packets)} signature packets; a "
                        "commit must carry exactly one signature (a second one could be made "
                        "by any key and is never silently ignored)")
    return _signature_from_packet(packets[0])


def _signature_from_packet(packet: Packet) -> _ParsedSignature | SignatureVerdict:
    body, normalized = packet.body, False
    raw = bytes(packet)
    if packet.signature_version is None:  # Sequoia could not parse it: try canonical MPIs
        canonical = _canonical_mpis(body)
        if canonical is None:
            return _malformed("the signature packet is malformed")
        body, normalized, raw = canonical, True, _packet(_SIGNATURE_PACKET_TAG, canonical)
    try:
        sig = pysequoia.Sig.from_bytes(raw)
    except Exception as exc:  # pysequoia raises bare RuntimeErrors
        return _malformed(f"the signature packet is malformed ({_first_line(exc)})")
    if sig.signature_type not in (SignatureType.Binary, SignatureType.Text):
        return _malformed(f"not a signature over data ({sig.signature_type})")
    handles = tuple(h for h in (sig.issuer_fingerprint, sig.issuer_key_id) if h)
    if sig.created is None or not handles:
        return _malformed("the signature lacks a creation time or an issuer")
    return _ParsedSignature(sig=sig, body=body, created=sig.created, expires=sig.expiration,
                            handles=handles, normalized=normalized)


def _key_problem(cert: TrustedCert, key: _ComponentKey, when: datetime,
                 moment: str = "when the signature was made",
                 ) -> tuple[CommitStatus, Reason, str] | None:
    """What was wrong with the signing key at the signature's creation time, if anything."""
    checks = [(cert.keys[0], "key", key.primary)]
    if not key.primary:
        checks.append((key, "signing subkey", True))
    for component, what, signs in checks:
        name = f"{what} {component.fingerprint.upper()}"
        revoked = [r for r in component.revocations if r.hard or r.created <= when]
        if revoked:
            return (CommitStatus.UNTRUSTED, Reason.KEY_REVOKED,
                    f"{name} of {cert.label} is revoked ({revoked[0].describe()})"
                    + ("; a hard revocation invalidates even older signatures"
                       if revoked[0].hard else ""))
        if component.bits is not None and component.bits < _MIN_KEY_BITS:
            return (CommitStatus.UNTRUSTED, Reason.UNSUPPORTED_ALGORITHM,
                    f"{name} of {cert.label} is a {component.bits}-bit key, below the "
                    f"{_MIN_KEY_BITS}-bit minimum")
        problem = _lifetime_problem(component, name, cert.label, when, signs, moment=moment)
        if problem is not None:
            return problem
    return None


def _lifetime_problem(key: _ComponentKey, name: str, label: str, when: datetime,
                      signs: bool, *, moment: str) -> tuple[CommitStatus, Reason, str] | None:
    binding = key.binding_at(when)
    if when < key.created or binding is None:
        return (CommitStatus.UNTRUSTED, Reason.OUTSIDE_VALIDITY,
                f"the signature ({_iso(when)}) predates {name} of {label} "
                f"(created {_iso(key.created)}) or its binding")
    if binding.lifetime and key.created + binding.lifetime <= when:
        return (CommitStatus.UNTRUSTED, Reason.KEY_EXPIRED,
                f"{name} of {label} had expired ({_iso(key.created + binding.lifetime)}) "
                f"{moment} ({_iso(when)})")
    if signs and binding.can_sign is False:
        return (CommitStatus.UNTRUSTED, Reason.UNKNOWN_KEY,
                f"{name} of {label} is not certified for signing")
    return None


def _verdict(status: CommitStatus, reason: Reason, detail: str,
             cert: TrustedCert | None = None) -> SignatureVerdict:
    return SignatureVerdict(
        status=status, reason=reason, format=SignatureFormat.OPENPGP, detail=detail,
        fingerprint=cert.fingerprint if cert else None,
        signer=(cert.identities[0] if cert.identities else cert.label) if cert else None,
        identities=cert.identities if cert else ())


def _malformed(detail: str) -> SignatureVerdict:
    return _verdict(CommitStatus.INVALID, Reason.MALFORMED, detail)


def _first_line(exc: BaseException) -> str:
    """pysequoia's messages carry a Rust backtrace when RUST_BACKTRACE is set; keep line one."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

