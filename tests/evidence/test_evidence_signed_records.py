"""Signed records end to end: the real sigstore-python Signer and Verifier, the local instance.

`changegate.testing.sigstore.LocalSigstore` plays Fulcio, its CT log, Rekor and an OIDC issuer on
127.0.0.1; nothing touches the network. Every record of a `check` run (the store statement, each
gate statement, the change record, the checkpoint) is signed as DSSE, and `evidence verify`
checks each bundle's certificate chain, transparency-log inclusion and signer identity offline.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from evidence_support import Workspace

from changegate.cli import main
from changegate.evidence.signing import SigstoreBundleVerifier, SigstoreSigner
from changegate.evidence.verify import verify_store

pytest.importorskip("sigstore")  # the `sign` extra

from changegate.testing.sigstore import LocalSigstore

IDENTITY = "https://github.com/acme/payments/.github/workflows/release.yml@refs/heads/main"
ISSUER = "https://token.actions.githubusercontent.com"


@pytest.fixture(scope="module")
def instance() -> Iterator[LocalSigstore]:
    with LocalSigstore() as local:
        yield local


@pytest.fixture(scope="module")
def trusted_root(instance: LocalSigstore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return instance.write_trusted_root(tmp_path_factory.mktemp("root") / "trusted_root.json")


@pytest.fixture
def signed(workspace: Workspace, instance: LocalSigstore, tmp_path: Path) -> Workspace:
    from sigstore.models import ClientTrustConfig
    from sigstore.oidc import IdentityToken
    from sigstore.sign import SigningContext

    trust = instance.write_trust_config(tmp_path / "trust.json")
    config = ClientTrustConfig.from_json(trust.read_text())
    token = IdentityToken(instance.github_token())
    with SigningContext.from_trust_config(config).signer(token, cache=True) as api_signer:
        signer = SigstoreSigner(api_signer)
        outcome = workspace.record(signer=signer)[0]
    assert outcome["signed"] is True
    assert (signer.identity, signer.issuer) == (IDENTITY, ISSUER)
    return workspace


def verifier(root: Path, identity: str = IDENTITY) -> SigstoreBundleVerifier:
    return SigstoreBundleVerifier.from_options(identity=identity, issuer=ISSUER,
                                               trusted_root=str(root))


def test_every_record_is_signed_and_verifies(signed: Workspace, trusted_root: Path) -> None:
    report = verify_store(signed.store(), verifier=verifier(trusted_root), require_signed=True)
    assert report.ok, report.problems
    assert report.signed == report.signatures_checked == 7 and report.unsigned == 0
    entry = json.loads((signed.evidence / "ledger.jsonl").read_text().splitlines()[5])
    assert entry["record"]["signature"]["identity"] == IDENTITY
    assert entry["record"]["signature"]["issuer"] == ISSUER


def test_another_identity_does_not_verify(signed: Workspace, trusted_root: Path) -> None:
    other = "https://github.com/mallory/fork/.github/workflows/release.yml@refs/heads/main"
    report = verify_store(signed.store(), verifier=verifier(trusted_root, other))
    assert {p.kind for p in report.problems} == {"signature-invalid"}
    assert len(report.problems) == 7


def test_a_bundle_moved_to_another_record_is_caught(signed: Workspace,
                                                    trusted_root: Path) -> None:
    """A genuine bundle of record A filed as the bundle of record B (and the ledger fixed)."""
    from changegate.evidence.canonical import sha256_hex
    from changegate.evidence.ledger import entry_hash

    ledger = signed.evidence / "ledger.jsonl"
    lines = [json.loads(line) for line in ledger.read_text().splitlines()]
    a, b = lines[1]["record"], lines[2]["record"]
    source = signed.evidence / "records" / f"{a['sha256']}.sigstore.json"
    target = signed.evidence / "records" / f"{b['sha256']}.sigstore.json"
    target.chmod(0o644)
    target.write_bytes(source.read_bytes())
    b["signature"]["bundle_sha256"] = sha256_hex(source.read_bytes())
    previous = lines[1]["hash"]
    for value in lines[2:]:
        value["prev"] = previous
        value["hash"] = entry_hash(value)
        previous = value["hash"]
    ledger.write_text("".join(json.dumps(v) + "\n" for v in lines))
    kinds = {p.kind for p in verify_store(signed.store(), verifier=verifier(trusted_root))
             .problems}
    assert "signature-invalid" in kinds


def test_cli_verifies_signatures_offline(signed: Workspace, trusted_root: Path,
                                         monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(signed.path)
    code = main(["evidence", "verify", "--require-signed", "--cert-identity", IDENTITY,
                 "--cert-oidc-issuer", ISSUER, "--trusted-root", str(trusted_root)], environ={})
    err = capsys.readouterr().err
    assert code == 0, err
    assert "7 signed / 0 unsigned record(s), 7 signature(s) verified" in err
    code = main(["evidence", "report", "--markdown", "report.md"], environ={})
    assert code == 0
    text = (signed.path / "report.md").read_text()
    assert f"--cert-identity {IDENTITY} --cert-oidc-issuer {ISSUER}" in text


def test_check_signs_its_evidence_with_the_runs_identity(instance: LocalSigstore,
                                                          trusted_root: Path,
                                                          tmp_path: Path) -> None:
    """`changegate check` with an identity token signs every record; without, none."""
    import subprocess
    import sys

    from changegate.testing.sample_repo import SampleRepo

    repo = SampleRepo(tmp_path / "repo")
    alice = repo.ssh_key("alice", "alice@bank.example")
    repo.write_allowed_signers(repo.path / "signers", [alice])
    instance.write_trust_config(repo.path / "sigstore-trust.json")
    (repo.path / ".changegate.yml").write_text(
        "version: 1\nenvironments:\n  prod: {match: {branches: [main]}, gates: [verify-commits]}\n"
        "gates:\n  verify-commits: {allowed_signers: signers}\n"
        "  sign: {trust_config: sigstore-trust.json}\n")
    repo.git("add", "-A")
    base = repo.commit("policy", signer=alice, committer=("Alice", "alice@bank.example"))
    repo.commit("change", signer=alice, committer=("Alice", "alice@bank.example"))

    def check(**env: str) -> dict[str, object]:
        proc = subprocess.run(
            [sys.executable, "-m", "changegate", "check", "-C", str(repo.path), "--base", base,
             "--json", "--quiet"], capture_output=True, text=True, check=False,
            env={**repo.env(), **env})
        assert proc.returncode == 0, proc.stdout + proc.stderr
        doc: dict[str, object] = json.loads(proc.stdout)
        return doc["evidence"]  # type: ignore[return-value]

    unsigned = check()
    assert unsigned["signed"] is False
    signed = check(SIGSTORE_IDENTITY_TOKEN=instance.github_token())
    assert signed["signed"] is True
    # The second run's records are signed and the auditor's verification accepts them.
    store = repo.path / ".changegate" / "evidence"
    verified = subprocess.run(
        [sys.executable, "-m", "changegate", "evidence", "verify", "--dir", str(store),
         "--cert-identity", IDENTITY, "--cert-oidc-issuer", ISSUER,
         "--trusted-root", str(trusted_root)], capture_output=True, text=True, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # The first run is unsigned and says so; the second run's 4 records all verify.
    assert "4 signed / 4 unsigned record(s), 4 signature(s) verified" in verified.stderr
