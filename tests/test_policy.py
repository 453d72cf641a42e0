"""The policy file: schema validation with located errors, environments, base-revision reads."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from changegate.change import Change
from changegate.errors import InputError
from changegate.policy import TrustedSource, load_policy
from changegate.policy.loader import parse_policy, schema
from changegate.policy.model import glob_matches

GOOD = b"""\
version: 1
environments:
  production:
    match: {branches: [main, "release/*"], tags: ["v*"]}
    gates: [verify-commits]
    settings:
      verify-commits: {allow_github_web_flow: false}
  staging:
    match: {branches: [develop]}
    gates: [verify-commits]
gates:
  verify-commits:
    allowed_signers: .github/allowed_signers
    bind: committer
    allow_github_web_flow: true
    exceptions:
      - commit: 0123456789abcdef0123456789abcdef01234567
        reason: imported history
        approver: alice
        expires: 2027-03-01
"""


def change(ref: str, ref_type: str = "branch") -> Change:
    return Change(platform="local", workdir=Path("."), head="h", base=None, ref=ref,
                  ref_type=ref_type)  # type: ignore[arg-type]


def test_valid_policy_parses_with_digest_and_environment_settings() -> None:
    policy = parse_policy(GOOD, ".changegate.yml")
    assert len(policy.sha256) == 64
    assert policy.match_environment(change("main")) == "production"
    assert policy.match_environment(change("release/1.2")) == "production"
    assert policy.match_environment(change("release/1.2/x")) is None
    assert policy.match_environment(change("v1.0", "tag")) == "production"
    assert policy.match_environment(change("main", "tag")) is None
    assert policy.match_environment(change("develop")) == "staging"
    prod = policy.gate_settings("verify-commits", "production")
    assert prod["allow_github_web_flow"] is False
    assert prod["allowed_signers"] == ".github/allowed_signers"
    assert policy.gate_settings("verify-commits", "staging")["allow_github_web_flow"] is True
    # YAML dates come back as ISO text, which the gates parse.
    assert prod["exceptions"][0]["expires"] == "2027-03-01"


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        (b"version: 1\ngates:\n  verify-commits:\n    alowed_signers: x\n", 4, "alowed_signers"),
        (b"version: 2\n", 1, "version"),
        (b"version: 1\nversion: 1\n", 2, "duplicate key 'version'"),
        (b"version: 1\ngates:\n  verify-commits:\n    bind: everyone\n", 4, "bind"),
        (b"version: 1\nenvironments:\n  prod:\n    match: {branches: [main]}\n", 3, "gates"),
        (b"version: 1\n  bad: [\n", 2, "invalid YAML"),
        (b"- a\n- b\n", 1, "mapping"),
        (b"version: 1\ngates:\n  verify-commits:\n    exceptions:\n      - commit: abc\n"
         b"        reason: r\n        approver: a\n        expires: 2027-01-01\n", 5, "commit"),
    ],
)
def test_bad_policy_names_file_line_and_key(text: bytes, line: int, needle: str) -> None:
    with pytest.raises(InputError) as info:
        parse_policy(text, "policy.yml")
    err = info.value
    assert err.rule == "POLICY_INVALID"
    assert err.location.file == "policy.yml"
    assert err.location.line == line, str(err)
    assert needle in err.message


def test_schema_is_valid_json_schema() -> None:
    from jsonschema import Draft7Validator

    Draft7Validator.check_schema(schema())


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [("main", "main", True), ("release/*", "release/1", True), ("release/*", "release/a/b", False),
     ("release/**", "release/a/b", True), ("v*", "v1.2.3", True), ("v?", "v1", True),
     ("v?", "v12", False), ("feat.x", "featxx", False)],
)
def test_glob(pattern: str, name: str, expected: bool) -> None:
    assert glob_matches(pattern, name) is expected


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout.strip()


def test_policy_and_trust_files_are_read_from_the_base_revision(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "a@example.com")
    git(repo, "config", "user.name", "A")
    (repo / ".changegate.yml").write_bytes(GOOD)
    (repo / "keys").mkdir()
    (repo / "keys" / "a.asc").write_text("base key\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    base = git(repo, "rev-parse", "HEAD")
    # The "pull request" weakens the policy and adds its own key.
    (repo / ".changegate.yml").write_bytes(b"version: 1\n")
    (repo / "keys" / "attacker.asc").write_text("attacker key\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "weaken")

    source = TrustedSource(repo, base)
    policy = load_policy(source)
    assert policy is not None
    assert policy.revision == base
    assert "production" in policy.environments()
    exported = source.local_path("keys")
    assert sorted(p.name for p in exported.iterdir()) == ["a.asc"]
    assert source.label("keys") == f"keys@{base[:12]}"
    source.close()

    worktree = load_policy(TrustedSource(repo, None))
    assert worktree is not None and worktree.environments() == {}


def test_trusted_paths_must_stay_in_the_repository(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        TrustedSource(tmp_path, None).read("../etc/passwd")
    with pytest.raises(InputError):
        TrustedSource(tmp_path, None).read("/etc/passwd")


def test_missing_trusted_file_at_revision_is_an_error(tmp_path: Path) -> None:
    repo = tmp_path
    git(repo, "init", "-q")
    git(repo, "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "--allow-empty",
        "-m", "x")
    with pytest.raises(InputError) as info:
        TrustedSource(repo, git(repo, "rev-parse", "HEAD")).local_path("nope")
    assert info.value.rule == "TRUST_FILE_MISSING"
