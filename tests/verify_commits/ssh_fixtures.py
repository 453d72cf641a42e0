"""Helpers for the SSH signature tests: real ssh-keygen/git runs and hand-built SSHSIG objects.

Keys, signatures and certificates come from the real `ssh-keygen` wherever it can make them.
FIDO (`sk-`) signatures need hardware, so `SkEd25519Key`/`SkEcdsaKey` build them by hand
following PROTOCOL.u2f; the tests check those with the real ssh-keygen too, so a mistake in the
builder cannot hide a mistake in the verifier.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

KEYGEN_TYPES = {
    "ed25519": ["-t", "ed25519"],
    "ecdsa256": ["-t", "ecdsa", "-b", "256"],
    "ecdsa384": ["-t", "ecdsa", "-b", "384"],
    "ecdsa521": ["-t", "ecdsa", "-b", "521"],
    "rsa": ["-t", "rsa", "-b", "2048"],
}


def run(*args: str | Path, stdin: bytes | None = None, cwd: Path | None = None,
        env: dict[str, str] | None = None,
        check: bool = True) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(a) for a in args], input=stdin, cwd=cwd, env=env,
                          capture_output=True, check=check, timeout=60)


# ---------------------------------------------------------------------------------------------
# Wire format


def s(data: bytes | str) -> bytes:
    raw = data.encode() if isinstance(data, str) else data
    return struct.pack(">I", len(raw)) + raw


def u32(value: int) -> bytes:
    return struct.pack(">I", value)


def u64(value: int) -> bytes:
    return struct.pack(">Q", value)


def mpint(value: int) -> bytes:
    raw = value.to_bytes((value.bit_length() + 8) // 8, "big") if value else b""
    return s(raw)


def armor(blob: bytes) -> bytes:
    body = base64.b64encode(blob).decode()
    lines = [body[i:i + 70] for i in range(0, len(body), 70)]
    return ("-----BEGIN SSH SIGNATURE-----\n" + "\n".join(lines)
            + "\n-----END SSH SIGNATURE-----\n").encode()


def dearmor(armored: bytes) -> bytes:
    lines = armored.decode().strip().splitlines()
    return base64.b64decode("".join(lines[1:-1]))


def read_string(data: bytes, pos: int) -> tuple[bytes, int]:
    (length,) = struct.unpack(">I", data[pos:pos + 4])
    return data[pos + 4:pos + 4 + length], pos + 4 + length


def split_sshsig(blob: bytes) -> dict[str, bytes]:
    """The fields of an SSHSIG blob, to rebuild a modified one."""
    assert blob[:6] == b"SSHSIG"
    pos = 10
    fields: dict[str, bytes] = {}
    for name in ("public_key", "namespace", "reserved", "hash", "signature"):
        fields[name], pos = read_string(blob, pos)
    assert pos == len(blob)
    return fields


def sshsig(public_key: bytes, signature: bytes, namespace: str = "git", hash_alg: str = "sha512",
           *, reserved: bytes = b"", version: int = 1, magic: bytes = b"SSHSIG") -> bytes:
    return (magic + u32(version) + s(public_key) + s(namespace) + s(reserved) + s(hash_alg)
            + s(signature))


def signed_data(payload: bytes, namespace: str = "git", hash_alg: str = "sha512") -> bytes:
    digest = hashlib.new(hash_alg, payload).digest()
    return b"SSHSIG" + s(namespace) + s(b"") + s(hash_alg) + s(digest)


# ---------------------------------------------------------------------------------------------
# Real ssh-keygen


@dataclass(frozen=True)
class KeyPair:
    path: Path  # private key; the public key is path + ".pub"

    @property
    def pub_path(self) -> Path:
        return Path(str(self.path) + ".pub")

    @property
    def public(self) -> str:
        """`type base64` without the comment."""
        return " ".join(self.pub_path.read_text().split()[:2])

    @property
    def blob(self) -> bytes:
        return base64.b64decode(self.public.split()[1])

    def fingerprint(self) -> str:
        out = run("ssh-keygen", "-l", "-E", "sha256", "-f", self.pub_path).stdout.decode()
        return out.split()[1]


def keygen(directory: Path, name: str, kind: str = "ed25519") -> KeyPair:
    path = directory / name
    run("ssh-keygen", "-q", *KEYGEN_TYPES[kind], "-N", "", "-C", name, "-f", path)
    return KeyPair(path)


def ssh_sign(key: KeyPair | Path, payload: bytes, namespace: str = "git",
             hash_alg: str | None = None) -> bytes:
    """`ssh-keygen -Y sign` over stdin; `key` may be a certificate path (key-cert.pub)."""
    path = key.path if isinstance(key, KeyPair) else key
    extra = ["-O", f"hashalg={hash_alg}"] if hash_alg else []
    return run("ssh-keygen", "-q", "-Y", "sign", "-n", namespace, "-f", path, *extra,
               stdin=payload).stdout


def certify(ca: KeyPair, user: KeyPair, principals: str, *, identity: str = "id",
            validity: str = "always:forever", serial: int = 1, host: bool = False) -> Path:
    """A real certificate for `user` signed by `ca` (ssh-keygen -s); returns its path."""
    args: list[str | Path] = ["ssh-keygen", "-q", "-s", ca.path, "-I", identity,
                              "-n", principals, "-V", validity, "-z", str(serial)]
    if host:
        args.append("-h")
    run(*args, user.pub_path)
    return Path(str(user.path) + "-cert.pub")


def utc_stamp(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y%m%d%H%M%SZ")


def git_style_ssh_keygen(allowed: Path, signature: bytes, payload: bytes, when: datetime,
                         workdir: Path, *, revoked: Path | None = None) -> str | None:
    """What git 2.39 does with real ssh-keygen: find-principals, then verify -I each one.

    Returns the principal git would report for a good signature, None otherwise.
    """
    sig = workdir / "sig"
    sig.write_bytes(signature)
    when_opt = f"-Overify-time={utc_stamp(when)}"
    found = run("ssh-keygen", "-Y", "find-principals", "-f", allowed, "-s", sig, when_opt,
                check=False)
    if found.returncode != 0:
        return None
    for line in found.stdout.decode().split("\n"):
        principal = line.rstrip("\r")
        if not principal:
            continue
        args = ["ssh-keygen", "-Y", "verify", "-n", "git", "-f", str(allowed), "-I", principal,
                "-s", str(sig), when_opt]
        if revoked is not None:
            args += ["-r", str(revoked)]
        done = run(*args, stdin=payload, check=False)
        if done.returncode == 0 and done.stdout.startswith(b"Good"):
            return principal
    return None


# ---------------------------------------------------------------------------------------------
# Hand-built signatures (keys ssh-keygen cannot make without hardware, or signatures it refuses
# to make)


class PyEd25519Key:
    """A plain ed25519 key held in Python, to build SSHSIG objects with odd envelopes."""

    def __init__(self) -> None:
        self.private = ed25519.Ed25519PrivateKey.generate()
        raw = self.private.public_key().public_bytes(serialization.Encoding.Raw,
                                                     serialization.PublicFormat.Raw)
        self.blob = s("ssh-ed25519") + s(raw)

    @property
    def public(self) -> str:
        return "ssh-ed25519 " + base64.b64encode(self.blob).decode()

    def sign_blob(self, data: bytes) -> bytes:
        return s("ssh-ed25519") + s(self.private.sign(data))

    def sign(self, payload: bytes, namespace: str = "git", hash_alg: str = "sha512",
             **envelope: bytes | int) -> bytes:
        sig = self.sign_blob(signed_data(payload, namespace, hash_alg))
        return armor(sshsig(self.blob, sig, namespace, hash_alg, **envelope))  # type: ignore[arg-type]


class SkEd25519Key:
    """An sk-ssh-ed25519@openssh.com key as a FIDO authenticator would use it (PROTOCOL.u2f)."""

    key_type = "sk-ssh-ed25519@openssh.com"

    def __init__(self, application: str = "ssh:") -> None:
        self.private = ed25519.Ed25519PrivateKey.generate()
        self.application = application
        raw = self.private.public_key().public_bytes(serialization.Encoding.Raw,
                                                     serialization.PublicFormat.Raw)
        self.blob = s(self.key_type) + s(raw) + s(application)

    @property
    def public(self) -> str:
        return f"{self.key_type} " + base64.b64encode(self.blob).decode()

    def _authenticator_data(self, message: bytes, flags: int, counter: int) -> bytes:
        return (hashlib.sha256(self.application.encode()).digest() + bytes([flags]) + u32(counter)
                + hashlib.sha256(message).digest())

    def _raw_signature(self, data: bytes) -> bytes:
        return self.private.sign(data)

    def sign(self, payload: bytes, flags: int = 0x01, counter: int = 42,
             namespace: str = "git") -> bytes:
        message = signed_data(payload, namespace)
        raw = self._raw_signature(self._authenticator_data(message, flags, counter))
        sig = s(self.key_type) + s(raw) + bytes([flags]) + u32(counter)
        return armor(sshsig(self.blob, sig, namespace))


class SkEcdsaKey(SkEd25519Key):
    """An sk-ecdsa-sha2-nistp256@openssh.com key (ES256 over the authenticator data)."""

    key_type = "sk-ecdsa-sha2-nistp256@openssh.com"

    def __init__(self, application: str = "ssh:") -> None:  # a different key type: no super()
        self.ec_private = ec.generate_private_key(ec.SECP256R1())
        self.application = application
        point = self.ec_private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        self.blob = s(self.key_type) + s("nistp256") + s(point) + s(application)

    def _raw_signature(self, data: bytes) -> bytes:
        r, s_ = decode_dss_signature(self.ec_private.sign(data, ec.ECDSA(hashes.SHA256())))
        return mpint(r) + mpint(s_)


def rsa_sha1_signature(private_pem: Path, payload: bytes) -> bytes:
    """An SSHSIG whose RSA signature is the legacy `ssh-rsa` (SHA-1) kind ssh-keygen won't make."""
    key = serialization.load_ssh_private_key(private_pem.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    numbers = key.public_key().public_numbers()
    blob = s("ssh-rsa") + mpint(numbers.e) + mpint(numbers.n)
    raw = key.sign(signed_data(payload), padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
    return armor(sshsig(blob, s("ssh-rsa") + s(raw)))


# ---------------------------------------------------------------------------------------------
# git


def git_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=str(home / "gitconfig"),
               LC_ALL="C", TZ="UTC")
    return env


def split_signed_commit(raw: bytes) -> tuple[bytes, bytes | None]:
    """(payload, signature) of a commit object: the `gpgsig` header taken out of the headers.

    Continuation lines of a header start with one space, which is not part of the value.
    """
    header_end = raw.index(b"\n\n") + 1
    payload_lines: list[bytes] = []
    signature_lines: list[bytes] = []
    in_sig = False
    for line in raw[:header_end].splitlines(keepends=True):
        if line.startswith(b"gpgsig "):
            in_sig = True
            signature_lines.append(line[len(b"gpgsig "):])
        elif in_sig and line.startswith(b" "):
            signature_lines.append(line[1:])
        else:
            in_sig = False
            payload_lines.append(line)
    payload = b"".join(payload_lines) + raw[header_end:]
    return payload, (b"".join(signature_lines) if signature_lines else None)


def committer_time(raw: bytes) -> datetime:
    for line in raw.split(b"\n\n", 1)[0].splitlines():
        if line.startswith(b"committer "):
            seconds = int(line.rsplit(b" ", 2)[1])
            return datetime.fromtimestamp(seconds, timezone.utc)
    raise AssertionError("commit without committer")
