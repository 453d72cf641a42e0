"""The local Sigstore instance itself: real protocol answers, refusals, and its lifecycle."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import urllib.error
import urllib.request
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sigstore._internal.merkle import verify_merkle_inclusion
from sigstore_models.rekor.v1 import TransparencyLogEntry as EntryModel

from changegate.gates.sigstore import compat
from changegate.gates.sigstore.identity import read_certificate
from changegate.testing.sigstore import LocalSigstore
from changegate.testing.sigstore.bundles import bundle_entry
from changegate.testing.sigstore.merkle import MerkleTree


def _request(url: str, body: Any = None, headers: dict[str, str] | None = None
             ) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={
        "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _csr(key: ec.EllipticCurvePrivateKey) -> str:
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(
        key, hashes.SHA256())
    return base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()


def test_merkle_proofs_verify_with_sigstore_for_every_leaf_and_size() -> None:
    tree = MerkleTree()
    bodies = [f"leaf {i}".encode() for i in range(37)]
    for body in bodies:
        tree.append(body)
    for size in (1, 2, 3, 7, 8, 9, 16, 17, 37):
        for index in range(size):
            model = EntryModel.from_json(json.dumps({
                "logIndex": str(index), "logId": {"keyId": ""},
                "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
                "inclusionProof": {
                    "logIndex": str(index), "treeSize": str(size),
                    "rootHash": base64.b64encode(tree.root(size)).decode(),
                    "hashes": [base64.b64encode(h).decode()
                               for h in tree.inclusion_proof(index, size)]},
                "canonicalizedBody": base64.b64encode(bodies[index]).decode()}))
            verify_merkle_inclusion(compat.log_entry(model))


def test_fulcio_issues_a_chain_with_github_extensions(local_sigstore: LocalSigstore) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    token = local_sigstore.github_token(repository="acme/payments", ref="refs/tags/v1",
                                        sha="c" * 40, event_name="release")
    status, body = _request(f"{local_sigstore.url}/api/v2/signingCert",
                            {"certificateSigningRequest": _csr(key)},
                            {"Authorization": f"Bearer {token}"})
    assert status == 201, body
    pems = body["signedCertificateEmbeddedSct"]["chain"]["certificates"]
    assert len(pems) == 3
    leaf = x509.load_pem_x509_certificate(pems[0].encode())
    facts = read_certificate(leaf)
    assert facts.sans == ("https://github.com/acme/payments/.github/workflows/release.yml"
                          "@refs/tags/v1",)
    assert facts.issuer == "https://token.actions.githubusercontent.com"
    assert facts.extensions["source_repository_digest"] == "c" * 40
    assert facts.extensions["build_trigger"] == "release"
    assert leaf.subject == x509.Name([])
    assert leaf.extensions.get_extension_for_class(
        x509.PrecertificateSignedCertificateTimestamps).value  # one embedded SCT
    assert (leaf.not_valid_after_utc - leaf.not_valid_before_utc).total_seconds() == 600


@pytest.mark.parametrize(("token", "status", "needle"), [
    ("not-a-jwt", 401, "invalid identity token"),
    (None, 401, "no identity token"),
])
def test_fulcio_refuses_bad_tokens(local_sigstore: LocalSigstore, token: str | None,
                                   status: int, needle: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    code, body = _request(f"{local_sigstore.url}/api/v2/signingCert",
                          {"certificateSigningRequest": _csr(key)}, headers)
    assert code == status and needle in body["message"], body


def test_fulcio_refuses_a_token_of_another_issuer_key(local_sigstore: LocalSigstore) -> None:
    other = LocalSigstore()  # never started: only its issuer key is used
    token = other.github_token()
    key = ec.generate_private_key(ec.SECP256R1())
    code, body = _request(f"{local_sigstore.url}/api/v2/signingCert",
                          {"certificateSigningRequest": _csr(key)},
                          {"Authorization": f"Bearer {token}"})
    assert code == 401, body


def test_rekor_refuses_a_signature_that_does_not_verify(local_sigstore: LocalSigstore) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    proposed = {"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
        "data": {"hash": {"algorithm": "sha256", "value": "00" * 32}},
        "signature": {"content": base64.b64encode(b"\x30\x00").decode(),
                      "publicKey": {"content": base64.b64encode(pem).decode()}}}}
    code, body = _request(f"{local_sigstore.url}/api/v1/log/entries", proposed)
    assert code == 400 and "does not verify" in body["message"], body


def test_rekor_answers_entries_and_log_info_as_rekor_does(local_sigstore: LocalSigstore) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    digest = hashlib.sha256(b"payload").digest()
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    signature = key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    proposed = {"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
        "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
        "signature": {"content": base64.b64encode(signature).decode(),
                      "publicKey": {"content": base64.b64encode(pem).decode()}}}}
    code, created = _request(f"{local_sigstore.url}/api/v1/log/entries", proposed)
    assert code == 201, created
    (uuid, entry), = created.items()
    body = json.loads(base64.b64decode(entry["body"]))
    assert body["kind"] == "hashedrekord" and body["spec"]["data"]["hash"]["value"] == \
        digest.hex()
    index = entry["logIndex"]
    assert _request(f"{local_sigstore.url}/api/v1/log/entries?logIndex={index}")[1] == created
    assert _request(f"{local_sigstore.url}/api/v1/log/entries/{uuid}")[1] == created
    code, info = _request(f"{local_sigstore.url}/api/v1/log")
    assert info["treeSize"] >= index + 1
    checkpoint = entry["verification"]["inclusionProof"]["checkpoint"]
    assert checkpoint.startswith(f"rekor.sigstore.local - {local_sigstore.log.tree_id}\n")
    assert "\n\n\u2014 rekor.sigstore.local " in checkpoint
    converted = bundle_entry(created)
    model = EntryModel.from_json(json.dumps(converted))
    root = local_sigstore.trusted_root()
    from sigstore.models import TrustedRoot
    from sigstore_models.trustroot import v1 as trustroot_v1

    trusted = TrustedRoot(trustroot_v1.TrustedRoot.from_json(json.dumps(root)))
    wrapped = compat.log_entry(model)
    compat.verify_inclusion_proof(wrapped)
    compat.verify_checkpoint(trusted, wrapped)
    compat.verify_set(trusted, wrapped)


def test_dsse_entries_are_stored_without_the_payload(local_sigstore: LocalSigstore) -> None:
    from changegate.testing.sigstore.bundles import key_signed_bundle
    from changegate.testing.sigstore.keys import KeyPair

    statement = {"_type": "https://in-toto.io/Statement/v1",
                 "subject": [{"name": "x", "digest": {"sha256": "ab" * 32}}],
                 "predicateType": "https://example.com/p", "predicate": {"secret": "value"}}
    bundle = key_signed_bundle(local_sigstore, KeyPair.generate(), statement=statement,
                               entry="dsse")
    body = base64.b64decode(bundle["verificationMaterial"]["tlogEntries"][0][
        "canonicalizedBody"])
    stored = json.loads(body)
    assert set(stored["spec"]) == {"envelopeHash", "payloadHash", "signatures"}
    assert b"secret" not in body


def test_trust_config_is_served_and_names_this_instance(local_sigstore: LocalSigstore) -> None:
    code, config = _request(f"{local_sigstore.url}/trust-config.json")
    assert code == 200
    assert config["signingConfig"]["caUrls"][0]["url"] == local_sigstore.url
    assert config["trustedRoot"]["tlogs"][0]["baseUrl"] == local_sigstore.url
    code, discovery = _request(f"{local_sigstore.url}/oidc/.well-known/openid-configuration")
    assert discovery["jwks_uri"].endswith("/oidc/jwks")
    assert _request(f"{local_sigstore.url}/oidc/jwks")[1]["keys"][0]["alg"] == "ES256"


def test_unknown_faults_are_refused_and_faults_reset(local_sigstore: LocalSigstore) -> None:
    with pytest.raises(TypeError), local_sigstore.faults(no_such_fault=True):
        pass
    with local_sigstore.faults(rogue_set_key=True) as faults:
        assert faults.rogue_set_key
    assert not local_sigstore.faults_state.rogue_set_key


def test_the_server_listens_on_loopback_and_stops() -> None:
    instance = LocalSigstore().start()
    url = instance.url
    assert url.startswith("http://127.0.0.1:")
    port = int(url.rsplit(":", 1)[1])
    assert _request(f"{url}/api/v1/log")[0] == 200
    instance.stop()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    with pytest.raises(RuntimeError):
        _ = instance.url
