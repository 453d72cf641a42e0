"""Real GnuPG and git, driven from tests: keys, expiry, revocation, signed commits.

Every fixture here runs the real `gpg` (2.2) in a private GNUPGHOME under the test's tmp dir,
so the keys, self-signatures and revocations our verifier reads are exactly what users' gpg
makes. Times in the past are made with `--faked-system-time` (frozen with `!`), which lets a
test build "expired before it signed" and "revoked after it signed" without waiting.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

#: gpg's interactive revocation reason codes (its menu, not RFC 4880's numbering).
REASON_NONE = 0
REASON_COMPROMISED = 1
REASON_SUPERSEDED = 2
REASON_RETIRED = 3


def gpg_time(when: datetime) -> str:
    """The `--faked-system-time` form of `when`, frozen (the `!`) so every packet gets it."""
    return when.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S") + "!"


def days_ago(days: float) -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=days)


_HOMES: list[Path] = []


def stop_agents() -> None:
    """Stop the gpg-agent each GnuPG home started, so test runs leave no daemons behind."""
    while _HOMES:
        home = _HOMES.pop()
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"],
                       capture_output=True, check=False, timeout=30)


@dataclass
class GnuPG:
    """A private GnuPG home: generate, change and export keys, sign data."""

    home: Path

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.home.chmod(0o700)
        _HOMES.append(self.home)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "GNUPGHOME": str(self.home), "LC_ALL": "C"}

    def run(self, *args: str, stdin: bytes | None = None, at: datetime | None = None,
            check: bool = True) -> subprocess.CompletedProcess[bytes]:
        cmd = ["gpg", "--no-tty", "--quiet"]
        if at is not None:
            cmd += ["--faked-system-time", gpg_time(at)]
        proc = subprocess.run([*cmd, *args], input=stdin, env=self.env, capture_output=True,
                              check=False, timeout=60)
        if check and proc.returncode != 0:
            raise AssertionError(f"gpg {args} failed: {proc.stderr.decode(errors='replace')}")
        return proc

    def _fingerprints(self, keyid: str) -> list[str]:
        out = self.run("--with-colons", "--list-keys", keyid).stdout.decode()
        return [line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:")]

    def gen_key(self, uid: str, algo: str = "ed25519", usage: str = "sign",
                expire: str = "never", at: datetime | None = None) -> str:
        """Make a key (primary only, signing-capable) and return its fingerprint."""
        self.run("--batch", "--passphrase", "", "--quick-gen-key", uid, algo, usage, expire,
                 at=at)
        return self._fingerprints(f"={uid}")[0]

    def add_uid(self, fpr: str, uid: str, at: datetime | None = None) -> None:
        self.run("--batch", "--passphrase", "", "--quick-add-uid", fpr, uid, at=at)

    def revoke_uid(self, fpr: str, uid: str, at: datetime | None = None) -> None:
        self.run("--batch", "--passphrase", "", "--quick-revoke-uid", fpr, uid, at=at)

    def add_subkey(self, fpr: str, algo: str = "ed25519", usage: str = "sign",
                   expire: str = "never", at: datetime | None = None) -> str:
        """Add a subkey and return its fingerprint (the newest subkey of `fpr`)."""
        self.run("--batch", "--passphrase", "", "--quick-add-key", fpr, algo, usage, expire,
                 at=at)
        return self._fingerprints(fpr)[-1]

    def set_expire(self, fpr: str, expire: str, subkey: str | None = None,
                   at: datetime | None = None) -> None:
        """Set the expiry of the primary key, or of `subkey`, with a self-signature made `at`."""
        extra = [subkey] if subkey else []
        self.run("--batch", "--passphrase", "", "--quick-set-expire", fpr, expire, *extra, at=at)

    def revocation_cert(self, fpr: str, reason: int, at: datetime | None = None) -> bytes:
        """A key revocation certificate, not imported (so the key can still sign until it is)."""
        answers = f"y\n{reason}\n\ny\n".encode()
        return self.run("--command-fd", "0", "--armor", "--gen-revoke", fpr, stdin=answers,
                        at=at).stdout

    def revoke_subkey(self, fpr: str, index: int, reason: int,
                      at: datetime | None = None) -> None:
        """Revoke the `index`-th subkey (1-based, gpg's `key N`) with a reason code."""
        commands = f"key {index}\nrevkey\ny\n{reason}\n\ny\nsave\n".encode()
        self.run("--command-fd", "0", "--batch", "--passphrase", "", "--pinentry-mode",
                 "loopback", "--edit-key", fpr, stdin=commands, at=at)

    def import_keys(self, data: bytes) -> None:
        self.run("--batch", "--import", stdin=data)

    def export(self, *fprs: str, armor: bool = True) -> bytes:
        return self.run(*(["--armor"] if armor else []), "--export", *fprs).stdout

    def sign(self, data: bytes, key: str, at: datetime | None = None,
             extra: tuple[str, ...] = ()) -> bytes:
        """A detached, armored signature as git makes it (`gpg -bsau KEY`)."""
        return self.run("--batch", "-bsau", key, *extra, stdin=data, at=at).stdout

    def trust_ultimately(self, *fprs: str) -> None:
        """Ownertrust so gpg says G (not U) for good signatures, as git users set it up."""
        self.run("--import-ownertrust", stdin="".join(f"{f}:6:\n" for f in fprs).encode())


@dataclass
class Repo:
    """A git repository whose commits are signed by the given GnuPG home."""

    path: Path
    gpg: GnuPG

    def __post_init__(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, env: dict[str, str] | None = None) -> str:
        full_env = {**self.gpg.env, "GIT_CONFIG_GLOBAL": os.devnull,
                    "GIT_CONFIG_NOSYSTEM": "1", **(env or {})}
        proc = subprocess.run(["git", "-C", str(self.path), *args], env=full_env,
                              capture_output=True, check=False, timeout=60)
        if proc.returncode != 0:
            raise AssertionError(f"git {args} failed: {proc.stderr.decode(errors='replace')}")
        return proc.stdout.decode()

    def commit(self, message: str, key: str | None, at: datetime | None = None,
               email: str = "dev@example.com") -> str:
        """Make an (empty) commit signed with `key` (unless None), as if made `at`.

        `at` sets the committer date and gpg's clock together (through a gpg.program wrapper
        passing `--faked-system-time`), as a commit really made back then would have them.
        """
        env = {"GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": email,
               "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": email}
        program = "gpg"
        if at is not None:
            stamp = f"@{int(at.timestamp())} +0000"
            env |= {"GIT_COMMITTER_DATE": stamp, "GIT_AUTHOR_DATE": stamp}
            program = str(self._gpg_wrapper(at))
        sign = ["-c", f"gpg.program={program}", "-c", f"user.signingkey={key}"] if key else []
        self.git(*sign, "commit", "-q", "--allow-empty", *(["-S"] if key else []),
                 "-m", message, env=env)
        return self.git("rev-parse", "HEAD").strip()

    def _gpg_wrapper(self, at: datetime) -> Path:
        wrapper = self.path.parent / f"gpg-at-{int(at.timestamp())}.sh"
        wrapper.write_text(f'#!/bin/sh\nexec gpg --faked-system-time {gpg_time(at)} "$@"\n')
        wrapper.chmod(0o755)
        return wrapper

    def tamper(self, sha: str, ref: str) -> str:
        """A copy of commit `sha` with its message changed but its signature kept, at `ref`."""
        raw = self.raw_commit(sha).replace(b"\n\n", b"\n\nTAMPERED ", 1)
        proc = subprocess.run(["git", "-C", str(self.path), "hash-object", "-t", "commit", "-w",
                               "--stdin"], input=raw, capture_output=True, check=True, timeout=60)
        new = proc.stdout.decode().strip()
        self.git("update-ref", ref, new)
        return new

    def status_letters(self, gnupghome: Path) -> dict[str, str]:
        """git's own verdict per commit (`%G?`) against `gnupghome`: the parity reference."""
        out = self.git("-c", "gpg.program=gpg", "log", "--all", "--format=%H %G?",
                       env={"GNUPGHOME": str(gnupghome)})
        return dict(line.split(" ", 1) for line in out.splitlines())

    def raw_commit(self, sha: str) -> bytes:
        proc = subprocess.run(["git", "-C", str(self.path), "cat-file", "commit", sha],
                              capture_output=True, check=True, timeout=60)
        return proc.stdout


def split_commit(raw: bytes) -> tuple[bytes, bytes | None, datetime]:
    """Split a commit object into (signed payload, signature, committer time).

    The `gpgsig` header and its continuation lines (which start with one space) are the
    signature; the payload is the object with those lines removed, exactly what git hands to
    `gpg --verify`.
    """
    header, sep, body = raw.partition(b"\n\n")
    payload_lines: list[bytes] = []
    sig_lines: list[bytes] = []
    in_sig = False
    committed = datetime.fromtimestamp(0, timezone.utc)
    for line in header.split(b"\n"):
        if line.startswith((b"gpgsig ", b"gpgsig-sha256 ")):
            in_sig = True
            sig_lines.append(line.split(b" ", 1)[1])
        elif in_sig and line.startswith(b" "):
            sig_lines.append(line[1:])
        else:
            in_sig = False
            payload_lines.append(line)
            if line.startswith(b"committer "):
                stamp = line.rsplit(b" ", 2)[1]
                committed = datetime.fromtimestamp(int(stamp), timezone.utc)
    payload = b"\n".join(payload_lines) + sep + body
    signature = b"\n".join(sig_lines) + b"\n" if sig_lines else None
    return payload, signature, committed


@dataclass
class GpgSm:
    """A gpgsm (X.509) home with one self-signed signing certificate, for X.509 commit tests.

    gpgsm cannot make an unprotected key in batch mode, so the key is an OpenPGP key made by
    gpg without passphrase and certified by gpgsm through its keygrip.
    """

    gpg: GnuPG
    include_certs: int = -1  # -1: embed the whole chain; gpgsm's default -2 leaves out roots

    def make_cert(self, dn: str, email: str) -> str:
        fpr = self.gpg.gen_key(f"x509 <{email}>", algo="rsa2048")
        out = self.gpg.run("--with-colons", "--with-keygrip", "--list-secret-keys", fpr).stdout
        grip = next(line.split(":")[9] for line in out.decode().splitlines()
                    if line.startswith("grp:"))
        params = (f"Key-Type: RSA\nKey-Grip: {grip}\nKey-Usage: sign\nSerial: random\n"
                  f"Name-DN: {dn}\nName-Email: {email}\n")
        cert = self.run("--gen-key", "--armor", stdin=params.encode()).stdout
        self.run("--import", stdin=cert)
        listing = self.run("--with-colons", "--list-secret-keys").stdout.decode()
        sm_fpr = next(line.split(":")[9] for line in listing.splitlines()
                      if line.startswith("fpr:"))
        (self.gpg.home / "trustlist.txt").write_text(f"{sm_fpr} S relax\n")
        (self.gpg.home / "gpgsm.conf").write_text(
            f"disable-crl-checks\ninclude-certs {self.include_certs}\n")
        return sm_fpr

    def run(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(["gpgsm", "--batch", *args], input=stdin, env=self.gpg.env,
                              capture_output=True, check=False, timeout=60)
        if proc.returncode != 0:
            raise AssertionError(f"gpgsm {args} failed: {proc.stderr.decode(errors='replace')}")
        return proc
