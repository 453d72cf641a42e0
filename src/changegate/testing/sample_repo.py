"""Build real git repositories with really signed commits, for tests, benchmarks and the demo.

Two ways to sign, both producing commits that git itself verifies:
- `commit()` runs the real `git commit -S` with ssh-keygen or gpg, exactly as a developer does;
- `bulk_ssh_commits()` writes SSH-signed commit objects directly (SSHSIG made in-process with
  `cryptography`), so a 1,000-commit benchmark history takes a second to build instead of a
  minute; `git log --format=%G?` is the referee that these signatures are genuine.

Requires git, ssh-keygen and (for OpenPGP) gpg on PATH; nothing here touches the network.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

ZERO = "0" * 40


@dataclass(frozen=True)
class SshKey:
    name: str
    email: str
    private_path: Path
    public_line: str  # "ssh-ed25519 AAAA... comment"


@dataclass(frozen=True)
class GpgKey:
    name: str
    email: str
    fingerprint: str
    armored_public: str


class SampleRepo:
    """A git repository in `path` plus a private key store (SSH keys, a GNUPGHOME) beside it."""

    def __init__(self, path: Path, *, branch: str = "main") -> None:
        self.path = path
        self.keys_dir = path.parent / f"{path.name}-keys"
        self.gnupghome = path.parent / f"{path.name}-gnupg"
        path.mkdir(parents=True, exist_ok=True)
        self.keys_dir.mkdir(parents=True, exist_ok=True)
        self.gnupghome.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.git("init", "-q", "-b", branch)
        self.git("config", "user.name", "Sample Developer")
        self.git("config", "user.email", "dev@example.com")
        self.git("config", "commit.gpgsign", "false")
        self._tick = 1_700_000_000

    # -- running tools ------------------------------------------------------------------------
    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(GNUPGHOME=str(self.gnupghome), LC_ALL="C", **extra)
        return env

    def git(self, *args: str, env: dict[str, str] | None = None, input: bytes | None = None) -> str:
        proc = subprocess.run(["git", *args], cwd=self.path, env=env or self.env(), input=input,
                              capture_output=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)}: {proc.stderr.decode(errors='replace')}")
        return proc.stdout.decode().strip()

    def _next_time(self) -> str:
        self._tick += 60
        return f"{self._tick} +0000"

    # -- keys ---------------------------------------------------------------------------------
    def ssh_key(self, name: str, email: str, key_type: str = "ed25519") -> SshKey:
        """A new SSH key made by the real ssh-keygen, with no passphrase."""
        private = self.keys_dir / f"ssh-{name}-{key_type}"
        extra = ["-b", "3072"] if key_type == "rsa" else []
        subprocess.run(["ssh-keygen", "-q", "-t", key_type, *extra, "-N", "", "-C", email,
                        "-f", str(private)], check=True, capture_output=True)
        return SshKey(name, email, private, Path(f"{private}.pub").read_text().strip())

    def gpg_key(self, name: str, email: str, *, expire: str = "never",
                faked_time: str | None = None) -> GpgKey:
        """A new OpenPGP key (ed25519, signing) made by the real gpg in this repo's GNUPGHOME."""
        args = ["gpg", "--batch", "--quiet", "--passphrase", "", "--pinentry-mode", "loopback"]
        if faked_time:
            args += ["--faked-system-time", faked_time]
        uid = f"{name} <{email}>"
        subprocess.run([*args, "--quick-gen-key", uid, "ed25519", "sign", expire],
                       env=self.env(), check=True, capture_output=True)
        listing = subprocess.run(["gpg", "--batch", "--with-colons", "--list-keys", email],
                                 env=self.env(), check=True, capture_output=True, text=True)
        fingerprint = next(line.split(":")[9] for line in listing.stdout.splitlines()
                           if line.startswith("fpr:"))
        subprocess.run(["gpg", "--batch", "--import-ownertrust"], env=self.env(), check=True,
                       input=f"{fingerprint}:6:\n", text=True, capture_output=True)
        armored = subprocess.run(["gpg", "--batch", "--armor", "--export", fingerprint],
                                 env=self.env(), check=True, capture_output=True, text=True).stdout
        return GpgKey(name, email, fingerprint, armored)

    def write_allowed_signers(self, path: Path, keys: list[SshKey], *, options: str = "") -> Path:
        lines = [f"{k.email} {options + ' ' if options else ''}{k.public_line}" for k in keys]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
        return path

    def write_openpgp_keys(self, directory: Path, keys: list[GpgKey]) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        for key in keys:
            (directory / f"{key.email}.asc").write_text(key.armored_public)
        return directory

    # -- commits ------------------------------------------------------------------------------
    def commit(self, message: str, *, signer: SshKey | GpgKey | None = None,
               committer: tuple[str, str] | None = None, author: tuple[str, str] | None = None,
               files: dict[str, str] | None = None, allow_empty: bool = True,
               faked_time: str | None = None) -> str:
        """Make a commit with the real git, signed by `signer` through ssh-keygen or gpg."""
        for name, content in (files or {}).items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
            self.git("add", name)
        when = self._next_time()
        cname, cemail = committer or ("Sample Developer", "dev@example.com")
        aname, aemail = author or (cname, cemail)
        env = self.env(GIT_COMMITTER_NAME=cname, GIT_COMMITTER_EMAIL=cemail,
                       GIT_AUTHOR_NAME=aname, GIT_AUTHOR_EMAIL=aemail,
                       GIT_COMMITTER_DATE=when, GIT_AUTHOR_DATE=when)
        config: list[str] = []
        sign: list[str] = []
        if isinstance(signer, SshKey):
            config = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={signer.private_path}"]
            sign = ["-S"]
        elif isinstance(signer, GpgKey):
            program = "gpg"
            if faked_time:
                wrapper = self.keys_dir / f"gpg-at-{faked_time}"
                wrapper.write_text(f'#!/bin/sh\nexec gpg --faked-system-time {faked_time} "$@"\n')
                wrapper.chmod(0o755)
                program = str(wrapper)
            config = ["-c", "gpg.format=openpgp", "-c", f"gpg.program={program}",
                      "-c", f"user.signingkey={signer.fingerprint}"]
            sign = ["-S"]
        args = [*config, "commit", "-q", *sign, "-m", message]
        if allow_empty:
            args.insert(len(config) + 1, "--allow-empty")
        self.git(*args, env=env)
        return self.git("rev-parse", "HEAD")

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def bulk_ssh_commits(self, count: int, key: SshKey, *, email: str | None = None) -> list[str]:
        """Append `count` SSH-signed empty commits by writing objects directly (fast).

        Each commit's signature is a genuine SSHSIG (namespace "git", sha512) by `key`.
        """
        from cryptography.hazmat.primitives.serialization import load_ssh_private_key

        private = load_ssh_private_key(key.private_path.read_bytes(), password=None)
        public_blob = base64.b64decode(key.public_line.split()[1])
        parent = self.git("rev-parse", "HEAD")
        tree = self.git("rev-parse", "HEAD^{tree}")
        who = f"Sample Developer <{email or key.email}>"
        objects = self.path / ".git" / "objects"
        shas: list[str] = []
        for index in range(count):
            when = self._next_time()
            payload = (f"tree {tree}\nparent {parent}\nauthor {who} {when}\n"
                       f"committer {who} {when}\n\nbulk commit {index}\n").encode()
            armored = sshsig_sign(private, public_blob, payload)
            header = "gpgsig " + "\n ".join(armored.rstrip("\n").split("\n")) + "\n"
            head, _, body = payload.partition(b"\n\n")
            raw = head + b"\n" + header.encode() + b"\n" + body
            parent = write_loose_object(objects, b"commit", raw)
            shas.append(parent)
        self.git("update-ref", "HEAD", parent)
        return shas


def sshsig_sign(private: object, public_blob: bytes, message: bytes,
                namespace: str = "git") -> str:
    """An armored SSHSIG signature (PROTOCOL.sshsig) by an ed25519 key, as ssh-keygen makes."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if not isinstance(private, Ed25519PrivateKey):
        raise TypeError("bulk signing supports ed25519 keys")

    def string(data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + data

    digest = hashlib.sha512(message).digest()
    signed = b"SSHSIG" + string(namespace.encode()) + string(b"") + string(b"sha512") + string(
        digest)
    raw_signature = string(b"ssh-ed25519") + string(private.sign(signed))
    blob = (b"SSHSIG" + struct.pack(">I", 1) + string(public_blob) + string(namespace.encode())
            + string(b"") + string(b"sha512") + string(raw_signature))
    text = base64.b64encode(blob).decode()
    lines = [text[i:i + 70] for i in range(0, len(text), 70)]
    return "-----BEGIN SSH SIGNATURE-----\n" + "\n".join(lines) + "\n-----END SSH SIGNATURE-----\n"


def write_loose_object(objects_dir: Path, kind: bytes, body: bytes) -> str:
    """Store a git object as a loose object and return its SHA-1 (what `hash-object -w` does)."""
    data = kind + b" " + str(len(body)).encode() + b"\0" + body
    sha = hashlib.sha1(data).hexdigest()  # noqa: S324 - git's object id, not a security use
    target = objects_dir / sha[:2] / sha[2:]
    if not target.exists():
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(zlib.compress(data, 1))
    return sha
