"""OpenSSH trust inputs for SSH commit signatures: keys, certificates, allowed signers, revocations.

git verifies an SSH-signed commit by running `ssh-keygen -Y find-principals` and `-Y verify`
against the file named by `gpg.ssh.allowedSignersFile` (and `-r gpg.ssh.revocationFile`). We
read the same files in-process, following OpenSSH 9.x (sshsig.c, misc.c, match.c, krl.c,
PROTOCOL.certkeys, PROTOCOL.krl), so the gate decides what git would decide without spawning a
process per commit. Where OpenSSH would silently skip a line it cannot parse, we raise an
`InputError` naming the file and line instead: a trust file we misread must stop the gate
(exit 2), never quietly change who is trusted.

The one deliberate extension is the `no-touch-required` / `verify-required` pair of options,
borrowed from sshd's authorized_keys, for FIDO (`sk-`) keys; see `SignerOptions`.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import functools
import hashlib
import os
import re
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TypeAlias

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from changegate.errors import InputError

ALLOWED_SIGNERS_RULE = "ALLOWED_SIGNERS_INVALID"
REVOCATION_RULE = "SSH_REVOCATION_LIST_INVALID"

ED25519 = "ssh-ed25519"
RSA = "ssh-rsa"
SK_ED25519 = "sk-ssh-ed25519@openssh.com"
SK_ECDSA = "sk-ecdsa-sha2-nistp256@openssh.com"
CERT_SUFFIX = "-cert-v01@openssh.com"

# Key type name -> (curve name in the blob, curve). nistp521 is P-521, not a typo for 512.
ECDSA_CURVES: dict[str, tuple[str, ec.EllipticCurve]] = {
    "ecdsa-sha2-nistp256": ("nistp256", ec.SECP256R1()),
    "ecdsa-sha2-nistp384": ("nistp384", ec.SECP384R1()),
    "ecdsa-sha2-nistp521": ("nistp521", ec.SECP521R1()),
}
PLAIN_KEY_TYPES = frozenset({ED25519, RSA, SK_ED25519, SK_ECDSA, *ECDSA_CURVES})
CERT_KEY_TYPES = frozenset(
    (t[: -len("@openssh.com")] if t.startswith("sk-") else t) + CERT_SUFFIX
    for t in PLAIN_KEY_TYPES
)
# Real OpenSSH key types we recognise but do not verify: a signature by one is reported as an
# unsupported algorithm, not as garbage.
KNOWN_UNSUPPORTED_TYPES = frozenset({
    "ssh-dss", "ssh-dss" + CERT_SUFFIX, "ssh-xmss@openssh.com", "ssh-xmss" + CERT_SUFFIX,
})

# OpenSSH refuses RSA keys under 1024 bits and bignums over 16384 bits (SSHBUF_MAX_BIGNUM).
RSA_MIN_BITS = 1024
RSA_MAX_BITS = 16384
CERT_TYPE_USER = 1
CERT_TYPE_HOST = 2
CERT_MAX_PRINCIPALS = 256  # SSHKEY_CERT_MAX_PRINCIPALS

CryptoKey: TypeAlias = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey


class WireError(ValueError):
    """A key, certificate or signature that does not follow the SSH wire encoding."""


class UnsupportedKeyType(ValueError):
    """A well-formed key of an algorithm we do not verify (DSA, XMSS, an unknown name)."""


# --------------------------------------------------------------------------------------------
# SSH wire format (RFC 4251 section 5)


class SshReader:
    """Reads RFC 4251 fields from a byte string, raising `WireError` instead of misreading."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    @property
    def pos(self) -> int:
        return self._pos

    @property
    def at_end(self) -> bool:
        return self._pos == len(self._data)

    def take(self, n: int) -> bytes:
        end = self._pos + n
        if n < 0 or end > len(self._data):
            raise WireError("truncated data")
        chunk = self._data[self._pos:end]
        self._pos = end
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u32(self) -> int:
        value: int = struct.unpack(">I", self.take(4))[0]
        return value

    def u64(self) -> int:
        value: int = struct.unpack(">Q", self.take(8))[0]
        return value

    def string(self) -> bytes:
        return self.take(self.u32())

    def text(self) -> str:
        """A string field that OpenSSH reads as a C string: UTF-8, no NUL inside."""
        raw = self.string()
        if b"\0" in raw:
            raise WireError("NUL byte inside a text field")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WireError("text field is not UTF-8") from exc

    def mpint(self) -> int:
        """A non-negative mpint; OpenSSH refuses negative ones, so do we."""
        raw = self.string()
        if raw and raw[0] & 0x80:
            raise WireError("negative mpint")
        return int.from_bytes(raw, "big")

    def done(self, what: str) -> None:
        if not self.at_end:
            raise WireError(f"trailing data after {what}")


def ssh_string(data: bytes | str) -> bytes:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return struct.pack(">I", len(raw)) + raw


def ssh_mpint(value: int) -> bytes:
    """The canonical (shortest, positive) mpint encoding, as OpenSSH writes it."""
    if value == 0:
        return ssh_string(b"")
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    if raw[0] & 0x80:
        raw = b"\0" + raw
    return ssh_string(raw)


# --------------------------------------------------------------------------------------------
# Public keys and certificates


@dataclass(frozen=True)
class SshPublicKey:
    """A plain (not certificate) public key.

    `blob` is the canonical wire encoding: what OpenSSH compares keys by and hashes for
    fingerprints, so equal keys have equal blobs however a file happened to encode them.
    `application` is the FIDO application string of `sk-` keys (usually "ssh:").
    """

    key_type: str
    blob: bytes
    crypto: CryptoKey = field(repr=False, compare=False)
    application: str | None = None

    @functools.cached_property
    def fingerprint(self) -> str:
        """The OpenSSH SHA256 fingerprint, as `ssh-keygen -l` and git print it."""
        digest = hashlib.sha256(self.blob).digest()
        return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")

    @property
    def label(self) -> str:
        """The short algorithm name ssh-keygen prints (ED25519, ECDSA, RSA, ED25519-SK, ...)."""
        return {
            ED25519: "ED25519", RSA: "RSA", SK_ED25519: "ED25519-SK", SK_ECDSA: "ECDSA-SK",
        }.get(self.key_type, "ECDSA")

    def openssh(self) -> str:
        """The `type base64` form used in authorized_keys and allowed_signers files."""
        return f"{self.key_type} {base64.b64encode(self.blob).decode('ascii')}"


@dataclass(frozen=True)
class SshCertificate:
    """An OpenSSH certificate (PROTOCOL.certkeys), parsed but not yet checked.

    The CA's signature over `signed_part` is checked by the signature verifier (it owns the
    algorithms); the validity window and principals are checked against the allowed_signers
    line and the signing time, as `ssh-keygen -Y verify` does.
    """

    cert_type: str
    blob: bytes
    key: SshPublicKey
    serial: int
    kind: int
    key_id: str
    principals: tuple[str, ...]
    valid_after: int
    valid_before: int
    critical_options: tuple[tuple[str, bytes], ...]
    extensions: tuple[tuple[str, bytes], ...]
    ca: SshPublicKey
    signed_part: bytes = field(repr=False)
    signature: bytes = field(repr=False)

    @property
    def fingerprint(self) -> str:
        """Like ssh-keygen: a certificate's fingerprint is its certified key's."""
        return self.key.fingerprint

    @property
    def kind_name(self) -> str:
        return {CERT_TYPE_USER: "user", CERT_TYPE_HOST: "host"}.get(self.kind, "unknown")


AnyKey: TypeAlias = SshPublicKey | SshCertificate


def plain_type_of(key_type: str) -> str:
    """`ssh-ed25519-cert-v01@openssh.com` -> `ssh-ed25519`; plain types map to themselves."""
    if not key_type.endswith(CERT_SUFFIX):
        return key_type
    base = key_type[: -len(CERT_SUFFIX)]
    return base + "@openssh.com" if base.startswith("sk-") else base


def _read_plain_key(key_type: str, reader: SshReader) -> SshPublicKey:
    """Read the key material of `key_type` (the part after the type name / cert nonce)."""
    if key_type in (ED25519, SK_ED25519):
        point = reader.string()
        if len(point) != 32:
            raise WireError("ed25519 public key is not 32 bytes")
        try:
            crypto: CryptoKey = ed25519.Ed25519PublicKey.from_public_bytes(point)
        except ValueError as exc:
            raise WireError("invalid ed25519 public key") from exc
        blob = ssh_string(key_type) + ssh_string(point)
    elif key_type in ECDSA_CURVES or key_type == SK_ECDSA:
        ecdsa_type = "ecdsa-sha2-nistp256" if key_type == SK_ECDSA else key_type
        curve_name, curve = ECDSA_CURVES[ecdsa_type]
        if reader.text() != curve_name:
            raise WireError(f"{key_type} key names the wrong curve")
        point = reader.string()
        try:
            crypto = ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
        except ValueError as exc:
            raise WireError(f"{key_type} public point is not on the curve") from exc
        blob = ssh_string(key_type) + ssh_string(curve_name) + ssh_string(point)
    elif key_type == RSA:
        exponent, modulus = reader.mpint(), reader.mpint()
        if not RSA_MIN_BITS <= modulus.bit_length() <= RSA_MAX_BITS:
            raise UnsupportedKeyType(
                f"RSA key of {modulus.bit_length()} bits (OpenSSH accepts "
                f"{RSA_MIN_BITS}-{RSA_MAX_BITS})")
        try:
            crypto = rsa.RSAPublicNumbers(exponent, modulus).public_key()
        except ValueError as exc:
            raise WireError("invalid RSA public key") from exc
        blob = ssh_string(key_type) + ssh_mpint(exponent) + ssh_mpint(modulus)
    else:
        raise UnsupportedKeyType(f"key type {key_type!r} is not supported")
    application = None
    if key_type in (SK_ED25519, SK_ECDSA):
        application = reader.text()
        blob += ssh_string(application)
    return SshPublicKey(key_type, blob, crypto, application)


def _read_options(raw: bytes) -> tuple[tuple[str, bytes], ...]:
    """A certificate's critical options or extensions: (name, data) pairs."""
    reader = SshReader(raw)
    options: list[tuple[str, bytes]] = []
    while not reader.at_end:
        options.append((reader.text(), reader.string()))
    return tuple(options)


def _read_certificate(cert_type: str, blob: bytes, reader: SshReader) -> SshCertificate:
    reader.string()  # nonce: makes the signed data unpredictable, nothing to check
    key = _read_plain_key(plain_type_of(cert_type), reader)
    serial, kind = reader.u64(), reader.u32()
    key_id = reader.text()
    principals_blob = reader.string()
    valid_after, valid_before = reader.u64(), reader.u64()
    critical, extensions = _read_options(reader.string()), _read_options(reader.string())
    reader.string()  # reserved, ignored by OpenSSH
    ca_blob = reader.string()
    signed_end = reader.pos
    signature = reader.string()
    reader.done("certificate")
    if kind not in (CERT_TYPE_USER, CERT_TYPE_HOST):
        raise WireError(f"certificate type {kind} is neither user nor host")
    principals_reader = SshReader(principals_blob)
    principals: list[str] = []
    while not principals_reader.at_end:
        principals.append(principals_reader.text())
    if len(principals) > CERT_MAX_PRINCIPALS:
        raise WireError("certificate lists too many principals")
    ca = parse_key_blob(ca_blob)
    if isinstance(ca, SshCertificate):
        raise WireError("certificate is signed by another certificate, not a CA key")
    return SshCertificate(
        cert_type=cert_type, blob=blob, key=key, serial=serial, kind=kind, key_id=key_id,
        principals=tuple(principals), valid_after=valid_after, valid_before=valid_before,
        critical_options=critical, extensions=extensions, ca=ca,
        signed_part=blob[:signed_end], signature=signature,
    )


@functools.lru_cache(maxsize=4096)
def parse_key_blob(blob: bytes) -> AnyKey:
    """Parse a public key or certificate blob (cached: one committer signs many commits).

    Raises `WireError` for malformed blobs and `UnsupportedKeyType` for key types we do not
    verify. A certificate's CA signature is not checked here.
    """
    reader = SshReader(blob)
    try:
        key_type = reader.text()
    except WireError as exc:
        raise WireError("public key blob has no type name") from exc
    if key_type in CERT_KEY_TYPES:
        return _read_certificate(key_type, blob, reader)
    if key_type not in PLAIN_KEY_TYPES:
        raise UnsupportedKeyType(f"key type {key_type!r} is not supported")
    key = _read_plain_key(key_type, reader)
    reader.done("public key")
    return key


def parse_public_key_text(text: str) -> AnyKey:
    """Parse `keytype base64 [comment]`, the form of authorized_keys and .pub files.

    Raises `ValueError` (or its subclasses above) with a message fit for a located error.
    """
    parts = text.split(maxsplit=2)
    if len(parts) < 2:
        raise ValueError("expected `keytype base64-key`")
    key_type, encoded = parts[0], parts[1]
    if key_type not in PLAIN_KEY_TYPES | CERT_KEY_TYPES | KNOWN_UNSUPPORTED_TYPES:
        raise UnsupportedKeyType(f"unknown key type {key_type!r}")
    try:
        blob = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"the {key_type} key is not valid base64") from exc
    key = parse_key_blob(blob)
    actual = key.cert_type if isinstance(key, SshCertificate) else key.key_type
    if actual != key_type:
        raise ValueError(f"the key is labelled {key_type} but its data is {actual}")
    return key


# --------------------------------------------------------------------------------------------
# Patterns (ssh_config PATTERNS; match.c)

_SUBPATTERN_MAX = 1023  # match.c copies each subpattern into a 1024-byte buffer


@functools.lru_cache(maxsize=1024)
def _pattern_regex(pattern: str) -> re.Pattern[str]:
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.DOTALL)


def match_pattern(text: str, pattern: str) -> bool:
    """`*` matches any run of characters, `?` exactly one; everything else is literal."""
    return _pattern_regex(pattern).fullmatch(text) is not None


def match_pattern_list(text: str, patterns: str) -> int:
    """OpenSSH's match_pattern_list: 1 positive match, -1 a negated (`!`) match, 0 neither.

    A negated match wins over any positive one, which is why callers compare with `== 1`.
    """
    positive = False
    for entry in patterns.split(","):
        negated = entry.startswith("!")
        sub = entry[1:] if negated else entry
        if len(sub) >= _SUBPATTERN_MAX:
            return 0
        if match_pattern(text, sub):
            if negated:
                return -1
            positive = True
    return 1 if positive else 0


def is_pattern(principal: str) -> bool:
    """A principal entry that names a set of identities, not one identity."""
    return principal.startswith("!") or "*" in principal or "?" in principal


# --------------------------------------------------------------------------------------------
# Timestamps (misc.c parse_absolute_time)

_TIME_LAYOUTS = {8: "%Y%m%d", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}


def parse_openssh_time(value: str) -> int:
    """`YYYYMMDD[Z]` or `YYYYMMDDHHMM[SS][Z]` -> seconds since the epoch.

    Like OpenSSH, a time without `Z` (or `UTC`) is in the local time zone of the machine that
    runs the check; use `Z` in allowed_signers files so the result does not depend on where the
    gate runs. Unlike strptime we refuse impossible dates (20230231) instead of rolling them
    over, so a typo cannot silently move a validity window.
    """
    utc = False
    digits = value
    if len(digits) > 1 and digits[-1] in "Zz":
        utc, digits = True, digits[:-1]
    elif len(digits) > 3 and digits[-3:].upper() == "UTC":
        utc, digits = True, digits[:-3]
    layout = _TIME_LAYOUTS.get(len(digits))
    if layout is None or not digits.isascii() or not digits.isdigit():
        raise ValueError(f"time {value!r} is not YYYYMMDD[Z] or YYYYMMDDHHMM[SS][Z]")
    try:
        parsed = datetime.strptime(digits, layout)
    except ValueError as exc:
        raise ValueError(f"time {value!r} is not a real date and time") from exc
    seconds = calendar.timegm(parsed.timetuple()) if utc else int(parsed.timestamp())
    if seconds <= 0:
        raise ValueError(f"time {value!r} is not after 1970-01-01")
    return seconds


def format_time(seconds: int) -> str:
    """A UTC ISO-8601 rendering for messages (OpenSSH prints local time; logs want UTC).

    Certificates may carry any 64-bit time (ssh-keygen's "forever" is 2**64-1), so times
    beyond what datetime can show are written out instead of raising.
    """
    try:
        return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return f"{seconds} seconds after 1970-01-01 (beyond year 9999)"


# --------------------------------------------------------------------------------------------
# allowed_signers


@dataclass(frozen=True)
class SignerOptions:
    """The options of one allowed_signers line.

    `namespaces` is kept as the raw pattern-list. `valid_after`/`valid_before` are epoch
    seconds, both inclusive, as in sshsig.c. `no_touch_required` and `verify_required` are a
    changegate extension (sshd's authorized_keys options): ssh-keygen itself rejects lines that
    carry them, so a file using them is not portable to plain `git log --show-signature`.
    """

    cert_authority: bool = False
    namespaces: str | None = None
    valid_after: int | None = None
    valid_before: int | None = None
    no_touch_required: bool = False
    verify_required: bool = False


@dataclass(frozen=True)
class AllowedSigner:
    """One allowed_signers line: who (principal patterns) may sign with which key, and how."""

    source: str
    line: int
    principals: str
    options: SignerOptions
    key: AnyKey

    @property
    def where(self) -> str:
        return f"{os.path.basename(self.source)}:{self.line}"

    def principal_entries(self) -> tuple[str, ...]:
        """The principals as `ssh-keygen -Y find-principals` prints them, one per entry.

        ssh-keygen stops at the first empty entry (`a,,b` prints only `a`); we do the same so
        the identities we report are exactly the ones git would try.
        """
        return split_principal_list(self.principals)

    def allows_namespace(self, namespace: str) -> bool:
        return (self.options.namespaces is None
                or match_pattern_list(namespace, self.options.namespaces) == 1)

    def time_problem(self, when: int) -> str | None:
        """Why `when` is outside this line's validity window, or None when it is inside."""
        after, before = self.options.valid_after, self.options.valid_before
        if after is not None and when < after:
            return f"signed at {format_time(when)}, before valid-after {format_time(after)}"
        if before is not None and when > before:
            return f"signed at {format_time(when)}, after valid-before {format_time(before)}"
        return None


def split_principal_list(principals: str) -> tuple[str, ...]:
    """Split at commas, stopping at the first empty entry, as ssh-keygen prints principals."""
    entries: list[str] = []
    for entry in principals.split(","):
        if not entry:
            break
        entries.append(entry)
    return tuple(entries)


class _LineError(ValueError):
    """A malformed allowed_signers line; becomes an InputError with file and line."""


_OPTION_FLAGS = {
    "cert-authority": "cert_authority",
    "no-touch-required": "no_touch_required",
    "verify-required": "verify_required",
}
_OPTION_VALUES = ("namespaces", "valid-after", "valid-before")


def _dequote(text: str, start: int, name: str) -> tuple[str, int]:
    """Read `"value"` at `start` (backslash escapes only a quote, as in opt_dequote)."""
    if start >= len(text) or text[start] != '"':
        raise _LineError(f'option {name} needs a double-quoted value: {name}="..."')
    out: list[str] = []
    i = start + 1
    while i < len(text) and text[i] != '"':
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] == '"':
            i += 1
        out.append(text[i])
        i += 1
    if i >= len(text):
        raise _LineError(f"option {name} is missing its closing double quote")
    return "".join(out), i + 1


def _parse_options(text: str) -> SignerOptions:
    """Parse `opt[,opt...]` as sshsigopt_parse does (keywords case-insensitive)."""
    flags: dict[str, bool] = {}
    values: dict[str, str] = {}
    i = 0
    while i < len(text):
        lowered = text[i:].lower()
        flag = next((f for f in _OPTION_FLAGS if lowered.startswith(f)), None)
        valued = next((v for v in _OPTION_VALUES if lowered.startswith(v + "=")), None)
        if flag is not None:
            flags[_OPTION_FLAGS[flag]] = True
            i += len(flag)
        elif valued is not None:
            if valued in values:
                raise _LineError(f'multiple "{valued}" options')
            values[valued], i = _dequote(text, i + len(valued) + 1, valued)
        else:
            raise _LineError(f"unknown option {text[i:].split(',', maxsplit=1)[0]!r}")
        if i == len(text):
            break
        if text[i] != ",":
            raise _LineError(f"unknown option text {text[i:]!r}")
        i += 1
        if i == len(text):
            raise _LineError("options end with a comma")
    return _build_options(flags, values)


def _build_options(flags: dict[str, bool], values: dict[str, str]) -> SignerOptions:
    times: dict[str, int] = {}
    for name in ("valid-after", "valid-before"):
        if name in values:
            try:
                times[name] = parse_openssh_time(values[name])
            except ValueError as exc:
                raise _LineError(f"invalid {name}: {exc}") from exc
    after, before = times.get("valid-after"), times.get("valid-before")
    if after is not None and before is not None and before <= after:
        raise _LineError('"valid-before" time is not after "valid-after"')
    namespaces = values.get("namespaces")
    if namespaces is not None and not namespaces:
        raise _LineError("namespaces is empty, so the key could sign nothing")
    return SignerOptions(valid_after=after, valid_before=before, namespaces=namespaces,
                         **flags)


def _take_principals(text: str) -> tuple[str, str]:
    """Split off the principals field (optionally double-quoted), as strdelimw does."""
    if text.startswith('"'):
        end = text.find('"', 1)
        if end < 0:
            raise _LineError("principals field has no closing double quote")
        principals, rest = text[1:end], text[end + 1:]
        if rest and rest[0] not in " \t":
            raise _LineError("text directly after the quoted principals")
    else:
        parts = re.split(r"[ \t]+", text, maxsplit=1)
        principals, rest = parts[0], parts[1] if len(parts) > 1 else ""
        if '"' in principals:
            raise _LineError("a double quote inside the principals field")
    if not principals:
        raise _LineError("the principals field is empty")
    return principals, rest.lstrip(" \t")


def _take_options(text: str) -> tuple[str, str]:
    """Split off the options field: up to the first space or tab outside double quotes."""
    quoted = False
    i = 0
    while i < len(text) and (quoted or text[i] not in " \t"):
        if text[i] == "\\" and text[i + 1:i + 2] == '"':
            i += 1
        elif text[i] == '"':
            quoted = not quoted
        i += 1
    if quoted:
        raise _LineError("options have an unterminated double quote")
    return text[:i], text[i:].lstrip(" \t")


_ANY_KEY_TYPE = PLAIN_KEY_TYPES | CERT_KEY_TYPES | KNOWN_UNSUPPORTED_TYPES


def _parse_line(source: str, number: int, raw: str) -> AllowedSigner | None:
    text = raw.rstrip("\r").lstrip(" \t\r\n")
    if not text or text.startswith("#"):
        return None
    principals, rest = _take_principals(text)
    if not rest:
        raise _LineError("no key after the principals (expected: principals [options] key)")
    options_text = ""
    first, *after = rest.split(maxsplit=1)
    if first not in _ANY_KEY_TYPE:
        if "=" not in first and after and after[0].startswith("AAAA"):
            # Every key blob starts with a 4-byte length, i.e. "AAAA" in base64: this is a key
            # of a type we do not know, not a misspelt option.
            raise _LineError(f"unknown key type {first!r}")
        options_text, rest = _take_options(rest)
        if not rest:
            raise _LineError("no key after the options (expected: principals [options] key)")
    options = _parse_options(options_text)
    try:
        key = parse_public_key_text(rest)
    except UnsupportedKeyType as exc:
        raise _LineError(f"{exc}; supported: ed25519, ecdsa, rsa, and their sk- and "
                         "certificate forms") from exc
    except ValueError as exc:
        raise _LineError(f"invalid key: {exc}") from exc
    if options.cert_authority and isinstance(key, SshCertificate):
        raise _LineError("cert-authority needs the CA's plain public key, not a certificate")
    return AllowedSigner(source, number, principals, options, key)


class AllowedSigners:
    """A parsed allowed_signers file, indexed by key so a lookup costs a dict access.

    Lines keep their file order: git takes the first line that matches, and so do we.
    """

    def __init__(self, signers: Sequence[AllowedSigner], source: str) -> None:
        self.source = source
        self.signers = tuple(signers)
        by_key: dict[bytes, list[AllowedSigner]] = {}
        by_ca: dict[bytes, list[AllowedSigner]] = {}
        for signer in self.signers:
            index = by_ca if signer.options.cert_authority else by_key
            index.setdefault(signer.key.blob, []).append(signer)
        self._by_key = {blob: tuple(lines) for blob, lines in by_key.items()}
        self._by_ca = {blob: tuple(lines) for blob, lines in by_ca.items()}

    def __len__(self) -> int:
        return len(self.signers)

    def __iter__(self) -> Iterator[AllowedSigner]:
        return iter(self.signers)

    def lines_for(self, key: AnyKey) -> tuple[AllowedSigner, ...]:
        """Lines that name this exact key, or (for a certificate) its CA, in file order."""
        direct = self._by_key.get(key.blob, ())
        if not isinstance(key, SshCertificate):
            return direct
        via_ca = self._by_ca.get(key.ca.blob, ())
        if not direct:
            return via_ca
        return tuple(sorted(direct + via_ca, key=lambda s: s.line))

    @classmethod
    def parse(cls, text: str, source_name: str = "allowed_signers") -> AllowedSigners:
        """Parse allowed_signers text; any malformed line is an InputError naming it."""
        signers: list[AllowedSigner] = []
        for number, raw in enumerate(text.split("\n"), start=1):
            try:
                signer = _parse_line(source_name, number, raw)
            except _LineError as exc:
                raise InputError(
                    f"invalid allowed signers line: {exc}", file=source_name, line=number,
                    rule=ALLOWED_SIGNERS_RULE,
                    fix="Each line is `principals [options] keytype base64-key`; see the "
                        "ALLOWED SIGNERS section of `man ssh-keygen`.",
                ) from exc
            if signer is not None:
                signers.append(signer)
        return cls(signers, source_name)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str],
                  source_name: str | None = None) -> AllowedSigners:
        """Load a file; `source_name` is how errors name it (the repository path, when the
        file was exported from a trusted revision into a temporary directory)."""
        name = source_name or os.fspath(path)
        data = _read_trust_file(os.fspath(path), ALLOWED_SIGNERS_RULE, "allowed signers")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"allowed signers file is not UTF-8 text: {exc}", file=name,
                             rule=ALLOWED_SIGNERS_RULE) from exc
        return cls.parse(text, name)


def _read_trust_file(path: str, rule: str, what: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise InputError(f"cannot read the {what} file: {exc.strerror or exc}", file=path,
                         rule=rule, fix=f"Check the {what} path in the policy.") from exc


# --------------------------------------------------------------------------------------------
# Revocation: a plain list of public keys, or a binary KRL (PROTOCOL.krl)

KRL_MAGIC = b"SSHKRL\n\0"
_KRL_CERTIFICATES, _KRL_EXPLICIT_KEY, _KRL_SHA1, _KRL_SIGNATURE, _KRL_SHA256 = 1, 2, 3, 4, 5
_KRL_EXTENSION = 255
_KRL_SERIAL_LIST, _KRL_SERIAL_RANGE, _KRL_SERIAL_BITMAP, _KRL_KEY_ID = 0x20, 0x21, 0x22, 0x23
_KRL_CERT_EXTENSION = 0x39


@dataclass(frozen=True)
class RevokedCertificates:
    """Certificates revoked by serial or key ID; `ca_blob` None means any CA (a wildcard)."""

    ca_blob: bytes | None
    serials: frozenset[int] = frozenset()
    ranges: tuple[tuple[int, int], ...] = ()
    bitmaps: tuple[tuple[int, int], ...] = ()
    key_ids: frozenset[str] = frozenset()

    def revokes(self, cert: SshCertificate) -> str | None:
        if cert.key_id in self.key_ids:
            return f"certificate key ID {cert.key_id!r} is revoked"
        serial = cert.serial
        if serial == 0:  # the default serial; krl.c never treats it as revoked
            return None
        hit = (serial in self.serials
               or any(lo <= serial <= hi for lo, hi in self.ranges)
               or any(serial >= off and (bits >> (serial - off)) & 1 for off, bits in self.bitmaps))
        return f"certificate serial {serial} is revoked" if hit else None


class RevokedKeys:
    """Revoked keys and certificates, from `gpg.ssh.revocationFile`.

    Accepts what `ssh-keygen -Y verify -r` accepts: a binary KRL (`ssh-keygen -k`) or a plain
    list of public keys, one per line. Listing a CA key revokes every certificate it signed;
    listing a certificate revokes its key (as ssh-keygen does).
    """

    def __init__(self, source: str, *, keys: frozenset[bytes] = frozenset(),
                 sha1: frozenset[bytes] = frozenset(), sha256: frozenset[bytes] = frozenset(),
                 certificates: tuple[RevokedCertificates, ...] = ()) -> None:
        self.source = source
        self._keys = keys
        self._sha1 = sha1
        self._sha256 = sha256
        self._certificates = certificates

    def _plain_revoked(self, key: SshPublicKey) -> bool:
        return (key.blob in self._keys
                or (bool(self._sha256) and hashlib.sha256(key.blob).digest() in self._sha256)
                or (bool(self._sha1)
                    and hashlib.sha1(key.blob, usedforsecurity=False).digest() in self._sha1))

    def revokes(self, key: AnyKey) -> str | None:
        """Why `key` is revoked, or None. Checks the key, then a certificate's CA and serial."""
        plain = key.key if isinstance(key, SshCertificate) else key
        if self._plain_revoked(plain):
            return f"key {plain.fingerprint} is listed in {self.source}"
        if not isinstance(key, SshCertificate):
            return None
        if self._plain_revoked(key.ca):
            return f"the certificate's CA {key.ca.fingerprint} is listed in {self.source}"
        for section in self._certificates:
            if section.ca_blob is None or section.ca_blob == key.ca.blob:
                why = section.revokes(key)
                if why:
                    return f"{why} in {self.source}"
        return None

    @classmethod
    def from_file(cls, path: str | os.PathLike[str],
                  source_name: str | None = None) -> RevokedKeys:
        name = source_name or os.fspath(path)
        data = _read_trust_file(os.fspath(path), REVOCATION_RULE, "SSH revocation")
        if data.startswith(KRL_MAGIC):
            return cls.parse_krl(data, name)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                "SSH revocation file is neither a KRL nor a text list of public keys",
                file=name, rule=REVOCATION_RULE) from exc
        return cls.parse_text(text, name)

    @classmethod
    def parse_text(cls, text: str, source_name: str = "revoked_keys") -> RevokedKeys:
        """A list of public keys, one per line; `#` comments and blank lines are skipped."""
        keys: set[bytes] = set()
        for number, raw in enumerate(text.split("\n"), start=1):
            line = raw.strip(" \t\r")
            if not line or line.startswith("#"):
                continue
            try:
                key = parse_public_key_text(line)
            except ValueError as exc:
                raise InputError(
                    f"invalid revocation list line: not a public key ({exc})",
                    file=source_name, line=number, rule=REVOCATION_RULE,
                    fix="List one public key per line (`keytype base64 [comment]`), or give "
                        "a binary KRL made by `ssh-keygen -k`.") from exc
            keys.add(key.key.blob if isinstance(key, SshCertificate) else key.blob)
        return cls(source_name, keys=frozenset(keys))

    @classmethod
    def parse_krl(cls, data: bytes, source_name: str = "revoked_keys.krl") -> RevokedKeys:
        """Parse a binary KRL; anything we cannot interpret fails closed with an InputError."""
        try:
            return _parse_krl(data, source_name)
        except (WireError, UnsupportedKeyType, _KrlError) as exc:
            raise InputError(f"cannot use KRL: {exc}", file=source_name, rule=REVOCATION_RULE,
                             fix="Regenerate it with `ssh-keygen -k`, or list revoked public "
                                 "keys one per line.") from exc


class _KrlError(ValueError):
    pass


def _parse_krl(data: bytes, source: str) -> RevokedKeys:
    reader = SshReader(data)
    if reader.take(len(KRL_MAGIC)) != KRL_MAGIC:
        raise _KrlError("not a KRL (bad magic)")
    if (version := reader.u32()) != 1:
        raise _KrlError(f"KRL format version {version} is not supported")
    for _ in range(3):  # krl_version, generated_date, flags: nothing to check
        reader.u64()
    reader.string()  # reserved
    reader.string()  # comment
    keys: set[bytes] = set()
    hashes: dict[int, set[bytes]] = {_KRL_SHA1: set(), _KRL_SHA256: set()}
    certificates: list[RevokedCertificates] = []
    while not reader.at_end:
        section, body = reader.u8(), SshReader(reader.string())
        if section == _KRL_CERTIFICATES:
            certificates.append(_parse_krl_certificates(body))
        elif section == _KRL_EXPLICIT_KEY:
            while not body.at_end:
                key = parse_key_blob(body.string())
                keys.add(key.key.blob if isinstance(key, SshCertificate) else key.blob)
        elif section in hashes:
            size = 20 if section == _KRL_SHA1 else 32
            while not body.at_end:
                digest = body.string()
                if len(digest) != size:
                    raise _KrlError("fingerprint of the wrong length")
                hashes[section].add(digest)
        elif section == _KRL_EXTENSION:
            _skip_krl_extension(body)
        elif section == _KRL_SIGNATURE:
            raise _KrlError("signed KRLs are not supported (OpenSSH 9.4+ refuses them too)")
        else:
            raise _KrlError(f"unknown KRL section type {section}")
    return RevokedKeys(source, keys=frozenset(keys), sha1=frozenset(hashes[_KRL_SHA1]),
                       sha256=frozenset(hashes[_KRL_SHA256]), certificates=tuple(certificates))


def _skip_krl_extension(body: SshReader) -> None:
    name, critical = body.text(), body.u8()
    body.string()
    body.done("KRL extension")
    if critical:
        raise _KrlError(f"critical KRL extension {name!r} is not supported")


def _parse_krl_certificates(body: SshReader) -> RevokedCertificates:
    ca_raw = body.string()
    body.string()  # reserved
    ca_blob: bytes | None = None
    if ca_raw:
        ca = parse_key_blob(ca_raw)
        if isinstance(ca, SshCertificate):
            raise _KrlError("a KRL certificate section names a certificate as its CA")
        ca_blob = ca.blob
    serials: set[int] = set()
    ranges: list[tuple[int, int]] = []
    bitmaps: list[tuple[int, int]] = []
    key_ids: set[str] = set()
    while not body.at_end:
        kind, sub = body.u8(), SshReader(body.string())
        if kind == _KRL_SERIAL_LIST:
            while not sub.at_end:
                serials.add(sub.u64())
        elif kind == _KRL_SERIAL_RANGE:
            ranges.append((sub.u64(), sub.u64()))
            sub.done("KRL serial range")
        elif kind == _KRL_SERIAL_BITMAP:
            bitmaps.append((sub.u64(), sub.mpint()))
            sub.done("KRL serial bitmap")
        elif kind == _KRL_KEY_ID:
            while not sub.at_end:
                key_ids.add(sub.text())
        elif kind == _KRL_CERT_EXTENSION:
            _skip_krl_extension(sub)
        else:
            raise _KrlError(f"unknown KRL certificate section type {kind:#x}")
    return RevokedCertificates(ca_blob, frozenset(serials), tuple(ranges), tuple(bitmaps),
                               frozenset(key_ids))
