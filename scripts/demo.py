"""`make demo`: a full offline run of the gates on a generated sample repository.

Builds a repository whose main branch carries a policy, an allowed_signers file and an OpenPGP
key directory, then two pull-request branches:
- `feature/good`: commits signed with SSH and OpenPGP by their committers -> the gate passes;
- `feature/bad`: adds an unsigned commit, one signed by an unknown key, one signed by a trusted
  key of somebody else, and a pull-request edit of allowed_signers that tries to trust the
  unknown key -> the gate fails, and the edit has no effect because trust is read from main.
Runs `changegate check` on both with real git, ssh-keygen and gpg; no network.
Outputs (JSON, SARIF, GitLab reports, a GitHub-style job summary) land in demo-output/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from changegate.testing.sample_repo import SampleRepo
from changegate.testing.sigstore import LocalSigstore

# The identity the demo's "CI" signs with: a GitHub Actions release workflow of acme/payments.
IDENTITY = "https://github.com/acme/payments/.github/workflows/release.yml@refs/heads/main"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo-output"

POLICY = """\
version: 1
environments:
  production:
    match: {branches: [main, "release/*"], tags: ["v*"]}
    gates: [verify-commits, sbom, audit]
gates:
  verify-commits:
    allowed_signers: .github/allowed_signers
    openpgp_keys: .github/keys
    bind: committer
    allow_github_web_flow: true
  sbom:
    source: requirements:requirements.txt
    output: sbom.cdx.json
    min_hash_coverage: 1.0
  audit:
    source: requirements:requirements.txt
    database: {path: .osv, sha256: 94436490f35eeb776f78a5b6b7f42aaf52b3a45f3fd222aa15b0b60fd6b54fb5}
    fail_on: medium
    unknown_severity: warn
  sign:
    trust_config: .sigstore/trust-config.json   # the local Sigstore instance of this demo
  approvals:
    distinct: true
    exclude: [author, committers, last_pusher]
    rules:
      - {name: peer review, count: 1}
      - {name: compliance sign-off, count: 1, teams: [acme/compliance],
         if: {environments: [production], paths: ["src/**"]}}
evidence:
  dir: .changegate/evidence
  controls: [pci-dss-4.0.1, soc2, iso27001-2022, dora, ssdf]
"""
DEMO_OSV = ROOT / "tests" / "audit" / "data" / "demo-osv"  # 7 real PyPA advisories

# The sample service's pinned dependencies: a real hash-locked excerpt of changegate's own lock.
SAMPLE_PINS = ("certifi", "charset-normalizer", "idna", "requests", "urllib3")


def sample_requirements() -> tuple[str, str]:
    """requirements.txt (pins with hashes) and a pyproject.toml declaring them."""
    lock = (ROOT / "requirements" / "action.txt").read_text()
    blocks = []
    for block in _blocks(lock):
        name = block.split("==", 1)[0]
        if name in SAMPLE_PINS:
            blocks.append(block)
    names = ", ".join(f'"{n}"' for n in SAMPLE_PINS)
    pyproject = (f'[project]\nname = "payments-service"\nversion = "1.4.0"\n'
                 f"dependencies = [{names}]\n")
    return "\n".join(blocks) + "\n", pyproject


def _blocks(lock: str) -> list[str]:
    """Each `name==version \\ --hash=...` requirement of a pip-compile lock, comments dropped."""
    blocks: list[str] = []
    for line in lock.splitlines():
        if line and not line.startswith((" ", "#")):
            blocks.append(line)
        elif line.startswith("    --hash") and blocks:
            blocks[-1] += "\n" + line
    return blocks


def build(work: Path, sigstore: LocalSigstore) -> tuple[SampleRepo, str]:
    repo = SampleRepo(work / "sample")
    (repo.path / ".sigstore").mkdir()
    sigstore.write_trust_config(repo.path / ".sigstore" / "trust-config.json")
    alice = repo.ssh_key("alice", "alice@bank.example")
    bob = repo.gpg_key("Bob Builder", "bob@bank.example")
    mallory = repo.ssh_key("mallory", "mallory@elsewhere.example")
    repo.write_allowed_signers(repo.path / ".github" / "allowed_signers", [alice])
    repo.write_openpgp_keys(repo.path / ".github" / "keys", [bob])
    (repo.path / ".changegate.yml").write_text(POLICY)
    requirements, pyproject = sample_requirements()
    (repo.path / "requirements.txt").write_text(requirements)
    (repo.path / "pyproject.toml").write_text(pyproject)
    shutil.copytree(DEMO_OSV, repo.path / ".osv")
    repo.git("add", "-A")
    base = repo.commit("Add changegate policy and trusted keys", signer=alice,
                       committer=("Alice", "alice@bank.example"))
    repo.git("branch", "feature/good")
    repo.git("branch", "feature/bad")

    repo.git("checkout", "-q", "feature/good")
    repo.commit("payments: validate IBAN checksum", signer=alice,
                committer=("Alice", "alice@bank.example"), files={"src/iban.py": "# iban\n"})
    repo.commit("payments: add tests", signer=bob, committer=("Bob Builder", "bob@bank.example"),
                files={"tests/test_iban.py": "# tests\n"})

    repo.git("checkout", "-q", "feature/bad")
    repo.commit("payments: speed up settlement", signer=alice,
                committer=("Alice", "alice@bank.example"), files={"src/settle.py": "# fast\n"})
    repo.commit("quick fix, not signed", committer=("Carol", "carol@bank.example"),
                files={"src/settle.py": "# faster\n"})
    signers = repo.path / ".github" / "allowed_signers"
    signers.write_text(signers.read_text() + f"mallory@elsewhere.example {mallory.public_line}\n")
    repo.git("add", "-A")
    repo.commit("trust me: add my key", signer=mallory,
                committer=("Mallory", "mallory@elsewhere.example"))
    repo.commit("signed with Alice's key by Dave", signer=alice,
                committer=("Dave", "dave@bank.example"), files={"src/x.py": "# x\n"})
    pins = (repo.path / "requirements.txt").read_text().split("urllib3==")[0]
    repo.commit("pin urllib3 back to 2.0.4", signer=alice,
                committer=("Alice", "alice@bank.example"),
                files={"requirements.txt": pins + "urllib3==2.0.4\n"})
    repo.git("checkout", "-q", "main")
    return repo, base


def check(repo: SampleRepo, base: str, branch: str, name: str, token: str) -> int:
    head = repo.git("rev-parse", branch)
    repo.git("checkout", "-q", branch)  # CI checks out the pull request's head
    out = OUT / name
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    for key in [k for k in env if k.startswith(("GITHUB_", "GITLAB_", "CI_"))]:
        del env[key]
    env["SIGSTORE_IDENTITY_TOKEN"] = token  # the run's identity: its evidence gets signed
    cmd = [sys.executable, "-m", "changegate", "check", "-C", str(repo.path),
           "--base", base, "--head", head, "--environment", "production",
           "--json-file", str(out / "result.json"), "--sarif", str(out / "result.sarif"),
           "--codequality", str(out / "gl-code-quality-report.json"),
           "--junit", str(out / "changegate-junit.xml"), "--dotenv", str(out / "changegate.env"),
           "--summary", str(out / "summary.md")]
    print(f"\n$ changegate check --base {base[:12]} --head {head[:12]}  # {branch}", flush=True)
    proc = subprocess.run(cmd, env=env, check=False)
    print(f"exit code {proc.returncode}", flush=True)
    repo.git("checkout", "-q", "main")
    return proc.returncode


def approvals_demo(repo: SampleRepo) -> tuple[int, int]:
    """The approvals gate against a local GitHub API (REST + GraphQL) on 127.0.0.1.

    PR 7: the author approves herself (excluded), Bob reviews, Carol from acme/compliance signs
    off: passes. PR 8: Bob approved, then Dave (compliance) also committed to the branch, so
    his approval does not count: one compliance sign-off still missing.
    """
    from changegate.testing.forges import GitHubServer, Scenario
    from changegate.testing.forges.scenario import FakeChange, FakeCommit, FakeReview

    scenario = Scenario()
    for login, name in (("alice", "Alice"), ("bob", "Bob"), ("carol", "Carol"),
                        ("dave", "Dave")):
        scenario.user(login, name)
    scenario.teams["acme/compliance"] = ["carol", "dave"]
    good = scenario.add(FakeChange(number=7, author="alice", commits=[
        FakeCommit(sha="7" * 40, author="alice", message="payments: validate IBAN")]))
    good.reviews += [FakeReview("alice", "APPROVED", good.head, 5),
                     FakeReview("bob", "APPROVED", good.head, 6),
                     FakeReview("carol", "APPROVED", good.head, 7)]
    bad = scenario.add(FakeChange(number=8, author="alice", commits=[
        FakeCommit(sha="8" * 40, author="alice", message="payments: fee change"),
        FakeCommit(sha="9" * 40, author="dave", message="payments: fix rounding", minute=3)]))
    bad.reviews += [FakeReview("bob", "APPROVED", bad.head, 6),
                    FakeReview("dave", "APPROVED", bad.head, 7)]
    server = GitHubServer(scenario).start()
    codes = []
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CI_"))}
        env.update(GITHUB_API_URL=server.url, GITHUB_TOKEN="ghs_test_token")  # noqa: S106
        for number in (7, 8):
            out = OUT / f"approvals-pr{number}"
            out.mkdir(parents=True, exist_ok=True)
            print(f"\n$ changegate approvals --pr {number}  # against a local GitHub API",
                  flush=True)
            proc = subprocess.run(
                [sys.executable, "-m", "changegate", "approvals", "--pr", str(number),
                 "--forge", "github", "--repository", "acme/payments", "--environment",
                 "production", "-C", str(repo.path), "--trust-worktree",
                 "--json-file", str(out / "result.json"), "--summary", str(out / "summary.md")],
                env=env, check=False)
            print(f"exit code {proc.returncode}", flush=True)
            codes.append(proc.returncode)
    finally:
        server.stop()
    return codes[0], codes[1]


def sign_and_verify(repo: SampleRepo, sigstore: LocalSigstore, token: str) -> tuple[int, int]:
    """Release the good branch: sign the artifact and attest its SBOM, then verify both, and
    show that a tampered artifact is rejected. Real sigstore-python, local Fulcio and Rekor."""
    release = OUT / "release"
    release.mkdir(parents=True, exist_ok=True)
    artifact = release / "payments-service-1.4.0.tar.gz"
    repo.git("archive", "--format=tar.gz", "-o", str(artifact), "feature/good")
    shutil.copy(repo.path / "sbom.cdx.json", release / "payments-service-1.4.0.cdx.json")
    trust = repo.path / ".sigstore" / "trust-config.json"
    root = sigstore.write_trusted_root(release / "trusted_root.json")
    run = [sys.executable, "-m", "changegate"]
    print("\n$ changegate sign payments-service-1.4.0.tar.gz (+ SBOM attestation)", flush=True)
    for extra in ([], ["--attest", "sbom", "--predicate",
                       str(release / "payments-service-1.4.0.cdx.json")]):
        subprocess.run([*run, "sign", str(artifact), "--trust-config", str(trust),
                        "--identity-token", token, *extra, "-C", str(repo.path)], check=True)
    identity = ["--github-repository", "acme/payments", "--github-workflow",
                ".github/workflows/release.yml", "--trusted-root", str(root)]
    print("\n$ changegate verify payments-service-1.4.0.tar.gz --github-repository "
          "acme/payments ...", flush=True)
    good = subprocess.run([*run, "verify", str(artifact), "--bundle",
                           f"{artifact}.sigstore.json", *identity, "-C", str(repo.path)],
                          check=False).returncode
    tampered = release / "tampered.tar.gz"
    tampered.write_bytes(artifact.read_bytes() + b"\0")
    print("\n$ changegate verify tampered.tar.gz --bundle payments-service-1.4.0...sigstore.json",
          flush=True)
    bad = subprocess.run([*run, "verify", str(tampered), "--bundle",
                          f"{artifact}.sigstore.json", *identity, "-C", str(repo.path)],
                         check=False).returncode
    return good, bad


def main() -> int:
    work = OUT / "work"
    if OUT.exists():
        shutil.rmtree(OUT)
    work.mkdir(parents=True)
    with LocalSigstore() as sigstore:
        return demo(work, sigstore)


def demo(work: Path, sigstore: LocalSigstore) -> int:
    token = sigstore.github_token()
    repo, base = build(work, sigstore)
    good = check(repo, base, "feature/good", "good", token)
    # Release the good branch with the SBOM its check just wrote.
    signed, tampered = sign_and_verify(repo, sigstore, token)
    bad = check(repo, base, "feature/bad", "bad", token)
    result = json.loads((OUT / "bad" / "result.json").read_text())
    print("\nGates on feature/bad (from --json):")
    for gate in result.get("gates", [result]):
        print(f"  {gate['gate']:<15} {gate['status']:<5} {gate['summary']}")
    print("\nPer-commit verdicts of feature/bad:")
    for entry in _commits(result):
        print(f"  {entry['sha'][:12]} {entry['status']:<9} {entry['reason']:<16} "
              f"{entry['subject']}")
    print(f"\nReports written to {OUT.relative_to(ROOT)}/: result.json, result.sarif, "
          "gl-code-quality-report.json, changegate-junit.xml, changegate.env, "
          "summary.md (the GitHub job summary)")
    approved, unapproved = approvals_demo(repo)
    evidence = repo.path / ".changegate" / "evidence"
    print("\n$ changegate evidence verify  # the auditor's check of the ledger and records",
          flush=True)
    root = OUT / "release" / "trusted_root.json"
    verified = subprocess.run([sys.executable, "-m", "changegate", "evidence", "verify",
                               "--dir", str(evidence), "--require-signed", "--cert-identity",
                               IDENTITY, "--cert-oidc-issuer", GITHUB_ISSUER,
                               "--trusted-root", str(root)], check=False).returncode
    subprocess.run([sys.executable, "-m", "changegate", "evidence", "report", "--dir",
                    str(evidence), "--all", "--out-dir", str(OUT / "evidence-report")],
                   check=True)
    subprocess.run([sys.executable, "-m", "changegate", "evidence", "export", "--dir",
                    str(evidence), "--format", "csv", "--output",
                    str(OUT / "evidence-population.csv")], check=True)
    print(f"Auditor report (HTML + Markdown per change): {OUT.relative_to(ROOT)}/evidence-report/;"
          f" population: {OUT.relative_to(ROOT)}/evidence-population.csv")
    expected = (good == 0 and bad == 1 and verified == 0
                and (approved, unapproved) == (0, 1) and (signed, tampered) == (0, 1))
    print("\ndemo:", "OK (good branch passed, bad branch failed as it should)" if expected
          else f"UNEXPECTED (good={good}, bad={bad})")
    return 0 if expected else 1


def _commits(document: dict[str, object]) -> list[dict[str, str]]:
    """The verify-commits gate's commit list, from a check or a single-gate document."""
    results = document.get("results")
    if isinstance(results, list):
        for item in results:
            if isinstance(item, dict) and item.get("gate") == "verify-commits":
                return list(item.get("commits", []))
    commits = document.get("commits")
    return list(commits) if isinstance(commits, list) else []


if __name__ == "__main__":
    raise SystemExit(main())
