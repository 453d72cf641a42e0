"""The versioned contracts: frozen per release, compared with the last release's, announced.

- contracts/<version>/ equals what the code says now (CLI, exit codes, JSON fields, policy
  schema, action inputs/outputs, template inputs): a change needs a new snapshot, and after a
  release, a new version.
- Every change since the previous release's snapshot is named in the CHANGELOG's upgrade notes
  for the version (checked on real snapshots here, and on a synthetic next release).
- The declared JSON fields are really in the gates' `--json` output: verify-commits, check and
  approvals here (sbom, audit, sign and verify in the release dry runs).
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import release_contracts as contracts
from releasehelpers import ROOT, project_version, run


@pytest.fixture(scope="module")
def live() -> dict[str, Any]:
    return contracts.live(ROOT)


def test_the_snapshot_of_this_version_is_what_the_code_says(live: dict[str, Any]) -> None:
    version = project_version()
    assert (ROOT / "contracts" / version).is_dir(), (
        f"no contracts/{version}/: run `python scripts/release_contracts.py write`")
    problems = contracts.check(version, ROOT, live)
    assert problems == [], "\n".join(problems)


def test_every_snapshot_is_a_changelog_release_with_upgrade_notes() -> None:
    releases = contracts.changelog_releases((ROOT / "CHANGELOG.md").read_text(encoding="utf-8"))
    versions = contracts.snapshot_versions(ROOT)
    assert project_version() in versions
    for version in versions:
        assert version in releases, f"CHANGELOG.md has no section for {version}"
        assert releases[version].section("Upgrade notes") is not None, version
        assert set(os.listdir(ROOT / "contracts" / version)) == set(contracts.CONTRACT_FILES)
    # Each older snapshot's changes to the next one are named in the newer one's notes.
    for older, newer in itertools.pairwise(versions):
        changes = contracts.diff(contracts.load_snapshot(older), contracts.load_snapshot(newer))
        missing = contracts.undocumented(changes, releases[newer].section("Upgrade notes") or "")
        assert not missing, [c.line() for c in missing]


def test_the_snapshot_files_are_canonical_json(live: dict[str, Any]) -> None:
    directory = ROOT / "contracts" / project_version()
    for name in contracts.CONTRACT_FILES:
        text = (directory / name).read_text(encoding="utf-8")
        assert text == contracts.render(json.loads(text)), name
    # The policy contract is the schema the package ships, byte for byte as JSON.
    shipped = json.loads((ROOT / "src/changegate/policy/schema.json").read_text(encoding="utf-8"))
    assert json.loads((directory / "policy.schema.json").read_text(encoding="utf-8")) == shipped
    # And the CLI contract is the CLI: every command the CLI registers is there.
    from changegate.cli import COMMANDS

    assert set(live["cli.json"]["commands"]) == set(COMMANDS)


def _next_release(live: dict[str, Any]) -> dict[str, Any]:
    """A plausible next release: one of each kind of change."""
    new = copy.deepcopy(live)
    sbom = new["cli.json"]["commands"]["sbom"]["options"]
    del sbom["--lock"]
    sbom["--format"]["choices"] = ["json"]
    new["exit-codes.json"]["cli"]["3"] = "cancelled"
    del new["json-fields.json"]["gates"]["audit"]["vulnerabilities[].fixed_in"]
    new["policy.schema.json"]["$defs"]["audit"]["properties"]["fail_on"]["enum"] = ["high"]
    new["action-io.json"]["actions/sbom"]["inputs"]["lock"]["default"] = "uv.lock"
    new["action-io.json"]["actions/sbom"]["outputs"].append("sbom-url")
    inputs = new["template-inputs.json"]["gitlab-templates/sbom.yml"]["inputs"]
    inputs["new-required"] = {"type": "string", "regex": "^x$", "required": True}
    return new


def test_each_kind_of_change_is_named_and_must_be_in_the_upgrade_notes(
        live: dict[str, Any]) -> None:
    changes = contracts.diff(live, _next_release(live))
    tokens = {c.token: c for c in changes}
    assert set(tokens) == {
        "changegate sbom --lock", "changegate sbom --format", "exit code 3",
        "audit.vulnerabilities[].fixed_in", "gates.audit.fail_on", "actions/sbom input lock",
        "actions/sbom output sbom-url", "gitlab-templates/sbom.yml input new-required"}
    assert tokens["changegate sbom --lock"].kind == "removed"
    assert tokens["changegate sbom --lock"].breaking
    assert tokens["exit code 3"].kind == "added"
    assert not tokens["actions/sbom output sbom-url"].breaking
    assert tokens["gitlab-templates/sbom.yml input new-required"].breaking  # required input
    assert "enum" in tokens["gates.audit.fail_on"].detail

    notes = """
- `changegate sbom --lock` is gone: pass `--requirements`. `changegate sbom --format` takes
  json only. New `exit code 3`.
- The JSON field `audit.vulnerabilities[].fixed_in` is removed; policy `gates.audit.fail_on`
  accepts high only.
- actions/sbom: input `lock` defaults to uv.lock (`actions/sbom` input `lock`); new output
  (`actions/sbom` output `sbom-url`).
"""
    missing = contracts.undocumented(changes, notes)
    assert [c.token for c in missing] == ["gitlab-templates/sbom.yml input new-required"]
    assert contracts.undocumented(changes, notes + "\n- `gitlab-templates/sbom.yml` input "
                                  "`new-required` is new and required.\n") == []
    # A token is a whole name: `--lock` does not cover `--lockfile`, nor `exit code 3` `30`.
    assert contracts.undocumented(changes[:1], "changegate sbom --lockfile") == changes[:1]


def test_the_release_check_fails_on_an_unannounced_change(tmp_path: Path,
                                                          live: dict[str, Any]) -> None:
    """End to end on a tree with two snapshots: 0.1.0's notes cover nothing, 9.0.0's do."""
    version = project_version()
    root = tmp_path / "tree"
    (root / "contracts").mkdir(parents=True)
    contracts.write_snapshot(version, live, root)
    newer = _next_release(live)
    contracts.write_snapshot("9.0.0", newer, root)
    (root / "CHANGELOG.md").write_text(
        f"# Changelog\n\n## [9.0.0] - 2030-01-01\n\n### Upgrade notes\n\n- "
        "`changegate sbom --lock` removed.\n\n"
        f"## [{version}] - 2029-01-01\n\n### Upgrade notes\n\n- First.\n", encoding="utf-8")
    problems = contracts.check("9.0.0", root, newer)
    assert problems and all("upgrade notes do not name" in p for p in problems), problems
    assert len(problems) == len(contracts.diff(live, newer)) - 1
    # A stale snapshot is reported as such.
    stale = contracts.check("9.0.0", root, live)
    assert any("differs from the code" in p for p in stale)


def test_the_command_line_entry_points(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/release_contracts.py"), "check"],
                          capture_output=True, text=True, check=False, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "matches the code" in proc.stdout


# -- the declared JSON fields against real gate output --------------------------------------

def _fields_of(document: dict[str, Any]) -> list[str]:
    return contracts.missing_fields(str(document["gate"]), document)


def test_missing_fields_finds_absent_and_mistyped_fields() -> None:
    document = {"gate": "sbom", "status": "pass", "summary": "", "version": "0.1.0",
                "findings": [{"rule": "R", "severity": "error", "message": "m",
                              "location": {}}],
                "sbom": {"path": "x", "sha256": None, "components": "7", "spec_version": "1.6",
                         "format": "json"}}
    assert _fields_of(document) == ["sbom.sbom.components: str, declared integer",
                                    "sbom.sbom.source: missing"]
    # An empty list says nothing about its elements' fields.
    assert contracts.missing_fields("audit", {**document, "gate": "audit", "database": None,
                                              "vulnerabilities": []}) == []


def test_verify_commits_check_and_approvals_output_carry_the_declared_fields(
        tmp_path: Path, release_env: dict[str, str]) -> None:
    from cihelpers import SigningKey, make_sample_repo

    key = SigningKey.create(tmp_path / "keys", "alice@example.com")
    repo = make_sample_repo(tmp_path, release_env, key, unsigned_commit=True)
    env = {**release_env, "PYTHONPATH": str(ROOT / "src")}
    results = {}
    for name, args in {"verify-commits": ["verify-commits"],
                       "check": ["check", "--environment", "production"]}.items():
        out = tmp_path / f"{name}.json"
        proc = run([sys.executable, "-m", "changegate", *args, "--base", "main", "--head",
                    "HEAD", "--json-file", out, "--quiet"], cwd=repo.path, env=env, check=False)
        assert proc.returncode == 1, proc.stderr  # the unsigned commit fails both
        results[name] = json.loads(out.read_text(encoding="utf-8"))
    results["approvals"] = _approvals_result(tmp_path, release_env)
    for name, document in results.items():
        assert document["gate"] == name
        assert _fields_of(document) == [], name
    assert results["verify-commits"]["commits"], "no commit verdicts to check the fields on"
    assert results["approvals"]["rules"], "no rules to check the fields on"


def _approvals_result(tmp_path: Path, env: dict[str, str]) -> dict[str, Any]:
    from changegate.testing.forges import GitHubServer, Scenario
    from changegate.testing.forges.scenario import FakeChange, FakeCommit, FakeReview

    repo = tmp_path / "approvals"
    repo.mkdir()
    (repo / ".changegate.yml").write_text(
        "version: 1\nenvironments:\n  production: {match: {branches: [main]}, gates: "
        "[approvals]}\ngates:\n  approvals:\n    rules: [{name: peer review, count: 1}]\n",
        encoding="utf-8")
    run(["git", "init", "-q", "-b", "main"], cwd=repo, env=env)
    run(["git", "add", "-A"], cwd=repo, env=env)
    run(["git", "-c", "commit.gpgsign=false", "commit", "-q", "-m", "policy"], cwd=repo, env=env)
    scenario = Scenario()
    for login in ("alice", "bob"):
        scenario.user(login, login.title())
    change = scenario.add(FakeChange(number=7, author="alice", commits=[
        FakeCommit(sha="7" * 40, author="alice", message="payments: validate IBAN")]))
    change.reviews += [FakeReview("bob", "APPROVED", change.head, 6)]
    server = GitHubServer(scenario).start()
    try:
        out = tmp_path / "approvals.json"
        run([sys.executable, "-m", "changegate", "approvals", "--pr", "7", "--forge", "github",
             "--repository", "acme/payments", "--environment", "production", "-C", repo,
             "--trust-worktree", "--json-file", out, "--quiet"], cwd=repo,
            env={**env, "PYTHONPATH": str(ROOT / "src"), "GITHUB_API_URL": server.url,
                 "GITHUB_TOKEN": "ghs_test_token"})
    finally:
        server.stop()
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result
