"""Splitting commit objects into payload and signature, as git does, on real signed commits."""

from __future__ import annotations

import subprocess
from pathlib import Path

from changegate.gates.verify_commits.objects import parse_commit, read_commits
from changegate.testing.sample_repo import SampleRepo


def test_payload_is_exactly_what_ssh_keygen_verifies(tmp_path: Path) -> None:
    repo = SampleRepo(tmp_path / "r")
    key = repo.ssh_key("alice", "alice@example.com")
    repo.commit("first", files={"a.txt": "a"})
    signed = repo.commit("signed: with a colon, and a\nsecond line", signer=key,
                         committer=("Alice", "alice@example.com"))
    unsigned = repo.commit("unsigned")
    commits = read_commits(repo.path, [signed, unsigned])
    assert [c.sha for c in commits] == [signed, unsigned]
    first, second = commits
    assert len(first.signatures) == 1 and second.signatures == ()
    assert first.signatures[0].startswith(b"-----BEGIN SSH SIGNATURE-----\n")
    assert first.signatures[0].endswith(b"-----END SSH SIGNATURE-----\n")
    assert b"gpgsig" not in first.payload
    assert first.committer.email == "alice@example.com"
    assert first.subject == "signed: with a colon, and a"
    # The real ssh-keygen agrees that our payload is what was signed.
    signers = tmp_path / "allowed"
    repo.write_allowed_signers(signers, [key])
    sig = tmp_path / "sig"
    sig.write_bytes(first.signatures[0])
    proc = subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(signers), "-I",
                           "alice@example.com", "-n", "git", "-s", str(sig)],
                          input=first.payload, capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_unsigned_payload_is_the_raw_object(tmp_path: Path) -> None:
    repo = SampleRepo(tmp_path / "r")
    sha = repo.commit("plain")
    raw = subprocess.run(["git", "cat-file", "commit", sha], cwd=repo.path, check=True,
                         capture_output=True).stdout
    commit = parse_commit(sha, raw)
    assert commit.payload == raw
    assert commit.parents == ()


def test_two_signature_headers_are_both_reported() -> None:
    raw = (b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
           b"author A <a@x> 1700000000 +0100\ncommitter A <a@x> 1700000000 -0230\n"
           b"gpgsig -----BEGIN SSH SIGNATURE-----\n abc\n -----END SSH SIGNATURE-----\n"
           b"gpgsig-sha256 -----BEGIN PGP SIGNATURE-----\n def\n -----END PGP SIGNATURE-----\n"
           b"\nmessage\n")
    commit = parse_commit("f" * 40, raw)
    assert len(commit.signatures) == 2
    assert commit.payload.startswith(b"tree ")
    assert b"abc" not in commit.payload and b"def" not in commit.payload
    assert commit.committer.when.utcoffset() is not None
    assert str(commit.committer.when.utcoffset()) == "-1 day, 21:30:00"


def test_bulk_commits_are_verified_by_git_itself(tmp_path: Path) -> None:
    repo = SampleRepo(tmp_path / "r")
    key = repo.ssh_key("bob", "bob@example.com")
    repo.commit("root")
    shas = repo.bulk_ssh_commits(5, key)
    signers = repo.write_allowed_signers(tmp_path / "allowed", [key])
    out = subprocess.run(["git", "-c", f"gpg.ssh.allowedSignersFile={signers}", "log",
                          "--format=%H %G?", "-n", "5"], cwd=repo.path, check=True,
                         capture_output=True, text=True).stdout.split("\n")
    verdicts = dict(line.split() for line in out if line)
    assert set(verdicts) == set(shas)
    assert set(verdicts.values()) == {"G"}
