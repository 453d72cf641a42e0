"""The verify-commits gate end to end: real git, ssh-keygen and gpg, through the real CLI.

The referee is git itself: on the same repository and trust files, our verdicts must agree with
`git log --format=%G?` (G = verified, anything else = not), for SSH- and OpenPGP-signed,
unsigned, tampered, unknown-key and expired-key commits, merge commits included.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from changegate.gates.verify_commits import gate
from changegate.gates.verify_commits.objects import CommitObject, parse_commit
from changegate.gates.verify_commits.openpgp import OpenPgpVerifier
from changegate.gates.verify_commits.webflow import web_flow_keyring
from changegate.result import Status
from changegate.testing.sample_repo import SampleRepo, write_loose_object

COMMIT_TIME = 1_700_000_000  # SampleRepo's first commit time (2023-11-14)


@dataclass
class World:
    repo: SampleRepo
    base: str
    commits: dict[str, str]
    signers: Path
    keys: Path


def _tampered_copy(repo: SampleRepo, sha: str) -> str:
    """A copy of a signed commit with its message changed, appended on top of HEAD."""
    raw = subprocess.run(["git", "cat-file", "commit", sha], cwd=repo.path, check=True,
                         capture_output=True).stdout
    head = repo.head()
    lines = raw.split(b"\n")
    lines = [f"parent {head}".encode() if line.startswith(b"parent ") else line for line in lines]
    body = b"\n".join(lines).replace(b"payments: add fee", b"payments: add FEE")
    new = write_loose_object(repo.path / ".git" / "objects", b"commit", body)
    repo.git("update-ref", "HEAD", new)
    return new


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("gate")
    repo = SampleRepo(root / "repo")
    alice = repo.ssh_key("alice", "alice@bank.example")
    carol = repo.ssh_key("carol", "carol@bank.example", key_type="ecdsa")
    retired = repo.ssh_key("retired", "old@bank.example")
    mallory = repo.ssh_key("mallory", "mallory@evil.example")
    bob = repo.gpg_key("Bob", "bob@bank.example")
    # Valid when it signed (2023-11-14), expired the day after: expired now.
    eve = repo.gpg_key("Eve", "eve@bank.example", expire="1d", faked_time=str(COMMIT_TIME - 3600))
    signers = root / "allowed_signers"
    repo.write_allowed_signers(signers, [alice, carol])
    with signers.open("a") as out:
        out.write(f'old@bank.example valid-before="20230101" {retired.public_line}\n')
    keys = repo.write_openpgp_keys(root / "keys", [bob, eve])

    base = repo.commit("root")
    commits = {
        "ssh-ed25519": repo.commit("payments: add fee", signer=alice,
                                   committer=("Alice", "alice@bank.example")),
        "ssh-ecdsa": repo.commit("ecdsa", signer=carol, committer=("Carol", "carol@bank.example")),
        "openpgp": repo.commit("pgp", signer=bob, committer=("Bob", "bob@bank.example")),
        "unsigned": repo.commit("not signed", committer=("Alice", "alice@bank.example")),
        "unknown-key": repo.commit("mallory", signer=mallory,
                                   committer=("M", "mallory@evil.example")),
        "ssh-expired": repo.commit("old key", signer=retired,
                                   committer=("Old", "old@bank.example")),
        "openpgp-expired": repo.commit("eve", signer=eve, committer=("Eve", "eve@bank.example"),
                                       faked_time=str(COMMIT_TIME + 7 * 60)),
    }
    commits["tampered"] = _tampered_copy(repo, commits["ssh-ed25519"])
    repo.git("checkout", "-q", "-b", "side")
    commits["side"] = repo.commit("side work", signer=alice,
                                  committer=("Alice", "alice@bank.example"))
    repo.git("checkout", "-q", "main")
    repo.git("-c", "user.email=alice@bank.example", "merge", "-q", "--no-ff", "-m",
             "unsigned merge", "side")
    commits["merge-unsigned"] = repo.head()
    return World(repo, base, commits, signers, keys)


def run_cli(world: World, *extra: str) -> tuple[int, dict[str, object]]:
    proc = subprocess.run(
        [sys.executable, "-m", "changegate", "verify-commits", "-C", str(world.repo.path),
         "--base", world.base, "--head", "HEAD", "--allowed-signers", str(world.signers),
         "--openpgp-keys", str(world.keys), "--json", "--quiet", "--trust-worktree", *extra],
        capture_output=True, text=True, check=False, env=world.repo.env())
    return proc.returncode, json.loads(proc.stdout)


def git_verdicts(world: World) -> dict[str, str]:
    out = world.repo.git("-c", f"gpg.ssh.allowedSignersFile={world.signers}", "log",
                         "--format=%H %G?", f"{world.base}..HEAD")
    return dict(line.split() for line in out.splitlines())


def test_verdicts_agree_with_git(world: World) -> None:
    code, doc = run_cli(world, "--bind", "none")
    assert code == 1
    commits = {c["sha"]: c for c in doc["commits"]}  # type: ignore[attr-defined]
    letters = git_verdicts(world)
    assert set(commits) == set(letters) == set(world.commits.values())
    for name, sha in world.commits.items():
        ours = commits[sha]["status"] == "verified"
        assert ours == (letters[sha] == "G"), (name, letters[sha], commits[sha])
    verified = {n for n, s in world.commits.items() if commits[s]["status"] == "verified"}
    assert verified == {"ssh-ed25519", "ssh-ecdsa", "openpgp", "side"}


def test_reason_codes(world: World) -> None:
    _, doc = run_cli(world)
    by_sha = {c["sha"]: c for c in doc["commits"]}  # type: ignore[attr-defined]
    reasons = {name: by_sha[sha]["reason"] for name, sha in world.commits.items()}
    assert reasons == {
        "ssh-ed25519": "OK", "ssh-ecdsa": "OK", "openpgp": "OK", "side": "OK",
        "unsigned": "UNSIGNED", "unknown-key": "UNKNOWN_KEY",
        "ssh-expired": "OUTSIDE_VALIDITY", "openpgp-expired": "KEY_EXPIRED",
        "tampered": "BAD_SIGNATURE", "merge-unsigned": "UNSIGNED",
    }
    good = by_sha[world.commits["ssh-ed25519"]]
    assert good["format"] == "ssh" and good["signer"] == "alice@bank.example"
    assert str(good["fingerprint"]).startswith("SHA256:")
    pgp = by_sha[world.commits["openpgp"]]
    assert pgp["format"] == "openpgp" and len(str(pgp["fingerprint"])) == 40
    assert by_sha[world.commits["unsigned"]]["format"] is None
    assert by_sha[world.commits["merge-unsigned"]]["merge"] is True
    # One finding per failing commit, at the commit, with a fix.
    failing = [f for f in doc["findings"] if f["severity"] == "error"]  # type: ignore[attr-defined]
    assert len(failing) == 6
    assert all(f["location"]["commit"] and f["fix"] for f in failing)
    assert doc["counts"] == {"total": 10, "verified": 4, "unsigned": 2, "untrusted": 3,
                             "invalid": 1, "excepted": 0}


def test_binding_to_the_committer(tmp_path: Path) -> None:
    repo = SampleRepo(tmp_path / "r")
    alice = repo.ssh_key("alice", "alice@bank.example")
    signers = repo.write_allowed_signers(tmp_path / "signers", [alice])
    base = repo.commit("root")
    repo.commit("dave uses alice's key", signer=alice, committer=("Dave", "dave@bank.example"),
                author=("Alice", "alice@bank.example"))

    def run(*bind: str) -> dict[str, object]:
        proc = subprocess.run(
            [sys.executable, "-m", "changegate", "verify-commits", "-C", str(repo.path),
             "--base", base, "--allowed-signers", str(signers), "--json", "--quiet",
             "--trust-worktree", *bind], capture_output=True, text=True, check=False)
        doc: dict[str, object] = json.loads(proc.stdout)
        return doc["commits"][0]  # type: ignore[index,no-any-return]

    mismatch = run()
    assert (mismatch["status"], mismatch["reason"]) == ("untrusted", "SIGNER_MISMATCH")
    assert "dave@bank.example" in str(mismatch["detail"])
    assert run("--bind", "author")["status"] == "verified"
    assert run("--bind", "none")["status"] == "verified"


POLICY = ("version: 1\nenvironments:\n  production: {match: {branches: [main]}, "
          "gates: [verify-commits]}\ngates:\n  verify-commits:\n"
          "    allowed_signers: .github/allowed_signers\n")


def _policy_repo(tmp_path: Path) -> tuple[SampleRepo, str]:
    repo = SampleRepo(tmp_path / "r")
    alice = repo.ssh_key("alice", "alice@bank.example")
    repo.write_allowed_signers(repo.path / ".github" / "allowed_signers", [alice])
    (repo.path / ".changegate.yml").write_text(POLICY)
    repo.git("add", "-A")
    base = repo.commit("policy", signer=alice, committer=("Alice", "alice@bank.example"))
    return repo, base


def _check(repo: SampleRepo, base: str, head: str = "HEAD") -> tuple[int, dict[str, object]]:
    proc = subprocess.run(
        [sys.executable, "-m", "changegate", "check", "-C", str(repo.path), "--base", base,
         "--head", head, "--environment", "production", "--json", "--quiet"],
        capture_output=True, text=True, check=False)
    return proc.returncode, json.loads(proc.stdout)


@pytest.mark.parametrize(("expires", "code", "rule"),
                         [(f"{date.today().year + 1}-01-01", 0, "EXCEPTION"),
                          ("2020-01-01", 1, "EXCEPTION_EXPIRED")])
def test_policy_exception_is_honoured_reported_and_expires(
        tmp_path: Path, expires: str, code: int, rule: str) -> None:
    repo, root = _policy_repo(tmp_path)
    # The pull request: one unsigned commit on top of root.
    repo.git("checkout", "-q", "-b", "pr")
    unsigned = repo.commit("imported", committer=("Alice", "alice@bank.example"))
    # The target branch gets the exception for it; the policy is read from there (the base).
    repo.git("checkout", "-q", "main")
    policy = repo.path / ".changegate.yml"
    policy.write_text(POLICY + f"    exceptions:\n      - {{commit: {unsigned}, reason: imported "
                      f"history, approver: sec@bank.example, ticket: SEC-1, expires: {expires}}}\n")
    repo.git("add", "-A")
    base = repo.commit("add exception")
    got, doc = _check(repo, base, unsigned)
    assert got == code, doc
    result = doc["results"][0]  # type: ignore[index]
    assert [c["sha"] for c in result["commits"]] == [unsigned]
    assert result["findings"][0]["rule"] == rule
    if rule == "EXCEPTION":
        assert result["findings"][0]["severity"] == "note"
        assert result["commits"][0]["exception"]["ticket"] == "SEC-1"
    # Without the exception on the base revision the same commit fails.
    assert _check(repo, root, unsigned)[0] == 1


def test_pull_request_cannot_trust_its_own_key(tmp_path: Path) -> None:
    repo, base = _policy_repo(tmp_path)
    repo.commit("imported", committer=("Alice", "alice@bank.example"))
    mallory = repo.ssh_key("mallory", "mallory@evil.example")
    signers = repo.path / ".github" / "allowed_signers"
    signers.write_text(signers.read_text() + f"mallory@evil.example {mallory.public_line}\n")
    repo.git("add", "-A")
    repo.commit("trust me", signer=mallory, committer=("M", "mallory@evil.example"))
    code, doc = _check(repo, base)
    assert code == 1
    reasons = [c["reason"] for c in doc["results"][0]["commits"]]  # type: ignore[index]
    assert reasons == ["UNSIGNED", "UNKNOWN_KEY"]


def test_no_trusted_keys_is_inconclusive(tmp_path: Path) -> None:
    repo = SampleRepo(tmp_path / "r")
    base = repo.commit("root")
    repo.commit("x")
    proc = subprocess.run([sys.executable, "-m", "changegate", "verify-commits", "-C",
                           str(repo.path), "--base", base, "--json", "--quiet"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["findings"][0]["rule"] == "NO_TRUSTED_KEYS"


def test_malformed_allowed_signers_is_located(tmp_path: Path) -> None:
    repo = SampleRepo(tmp_path / "r")
    base = repo.commit("root")
    repo.commit("x")
    bad = tmp_path / "signers"
    bad.write_text("# ok\nalice@example.com ssh-ed25519 not-base64!!\n")
    proc = subprocess.run([sys.executable, "-m", "changegate", "verify-commits", "-C",
                           str(repo.path), "--base", base, "--allowed-signers", str(bad),
                           "--json", "--quiet"], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    finding = json.loads(proc.stdout)["findings"][0]
    assert finding["rule"] == "ALLOWED_SIGNERS_INVALID"
    assert finding["location"] == {"file": str(bad), "line": 2}


def test_empty_range_passes(tmp_path: Path) -> None:
    repo = SampleRepo(tmp_path / "r")
    head = repo.commit("root")
    signers = tmp_path / "s"
    signers.write_text("")
    proc = subprocess.run([sys.executable, "-m", "changegate", "verify-commits", "-C",
                           str(repo.path), "--base", head, "--head", head, "--json", "--quiet",
                           "--allowed-signers", str(signers)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["summary"] == "no commits in the range"


def _web_flow_commit() -> CommitObject:
    """GitHub's web-flow key, on a real commit GitHub signed (see data/SOURCE.md)."""
    from test_webflow import CURRENT_KEY  # a real 2025 web-UI commit signed by GitHub

    return parse_commit(CURRENT_KEY.sha, CURRENT_KEY.raw())


@pytest.mark.parametrize(("allowed", "status", "reason"),
                         [(True, Status.PASS, "OK"), (False, Status.FAIL, "WEB_FLOW_NOT_ALLOWED")])
def test_web_flow_commits_follow_the_policy(allowed: bool, status: Status, reason: str) -> None:
    commit = _web_flow_commit()
    verifiers = gate.Verifiers(web_flow=OpenPgpVerifier(web_flow_keyring(),
                                                        key_validity="signing-time"))
    config = gate.VerifyCommitsConfig(allow_github_web_flow=allowed)
    result = gate.run([commit], config, verifiers)
    assert result.status is status
    entry = result.details["commits"][0]
    assert entry["reason"] == reason
    assert entry["format"] == "openpgp"
    if allowed:
        assert entry["signer"] == "GitHub (web-flow)"
