"""`LocalSigstore`: a whole Sigstore instance (Fulcio + CT log, Rekor, OIDC) in one process.

Start it, point sigstore-python (or `changegate sign --trust-config`) at the trust config it
writes, mint a token, and the real Signer and Verifier run end to end with no network:

    with LocalSigstore() as sigstore:
        config = sigstore.write_trust_config(tmp / "trust.json")
        token = sigstore.github_token(repository="acme/payments")
        ...  # changegate sign --trust-config trust.json --identity-token "$token" dist/*.whl

Keys are made per instance and held in memory only. The server listens on 127.0.0.1 on a port
the OS picks. See docs/testing-sigstore.md.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

import jwt
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from changegate.testing.sigstore.ct import CTLog
from changegate.testing.sigstore.faults import Faults
from changegate.testing.sigstore.fulcio import CertificateAuthority
from changegate.testing.sigstore.identities import (
    GITHUB_ISSUER,
    GITLAB_ISSUER,
    CertificateIdentity,
    IdentityRefused,
    email_identity,
    github_identity,
    gitlab_identity,
)
from changegate.testing.sigstore.keys import KeyPair
from changegate.testing.sigstore.oidc import TokenIssuer, github_claims, gitlab_claims
from changegate.testing.sigstore.rekor import EntryRefused, TransparencyLog
from changegate.testing.sigstore.server import HttpError, SigstoreServer

TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
SIGNING_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.signingconfig.v0.2+json"
TRUST_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _rfc3339(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


class LocalSigstore:
    """Fulcio (with its CT log), Rekor v1 and an OIDC issuer behind one local HTTP server.

    `name` is the log's origin and the CA's organisation. GitHub- and GitLab-shaped tokens use
    the real issuer URLs by default (`github_issuer`, `gitlab_url`), so certificates carry the
    identities production would give; email tokens use this instance's own issuer (`/oidc`).
    """

    def __init__(self, *, name: str = "sigstore.local", github_issuer: str = GITHUB_ISSUER,
                 github_server: str = "https://github.com", gitlab_url: str = GITLAB_ISSUER,
                 cert_lifetime: timedelta = timedelta(minutes=10)) -> None:
        now = _now()
        self.name = name
        self.created = now - timedelta(days=1)
        self.cert_lifetime = cert_lifetime
        self.github_server = github_server.rstrip("/")
        self.gitlab_url = gitlab_url.rstrip("/")
        self.faults_state = Faults()
        self.ca = CertificateAuthority(name, now=now)
        self.rogue_ca = CertificateAuthority(f"rogue {name}", now=now)
        self.ct_log = CTLog(KeyPair.generate())
        self.rogue_ct_log = CTLog(KeyPair.generate())
        self.log = TransparencyLog(f"rekor.{name}", self.faults_state, now=now)
        self.issuer = TokenIssuer("", github_issuer=github_issuer, gitlab_issuer=self.gitlab_url)
        self.certificates: list[x509.Certificate] = []
        self._request_tokens: dict[str, dict[str, Any]] = {}
        self._server: SigstoreServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> LocalSigstore:
        if self._server is None:
            self._server = SigstoreServer(self)
            self.issuer.email_issuer = f"{self.url}/oidc"
            self._thread = threading.Thread(target=self._server.serve_forever,
                                            name="local-sigstore", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> LocalSigstore:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the local Sigstore instance is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @contextmanager
    def faults(self, **switches: Any) -> Iterator[Faults]:
        """Misbehave in the named ways (see `Faults`) inside the `with` block only."""
        saved = replace(self.faults_state)
        for key, value in switches.items():
            if key not in self.faults_state.names():
                raise TypeError(f"unknown fault {key!r}; known: {self.faults_state.names()}")
            setattr(self.faults_state, key, value)
        try:
            yield self.faults_state
        finally:
            for key in self.faults_state.names():
                setattr(self.faults_state, key, getattr(saved, key))

    # --- tokens ----------------------------------------------------------------------------

    def github_token(self, *, audience: str = "sigstore", lifetime: int = 600,
                     **claims: Any) -> str:
        """A GitHub Actions ID token; keyword arguments as `oidc.github_claims` takes them."""
        body = github_claims(**claims)
        body.update(iss=self.issuer.github_issuer, aud=audience)
        return self.issuer.mint(body, lifetime=lifetime)

    def gitlab_token(self, *, audience: str = "sigstore", lifetime: int = 600,
                     **claims: Any) -> str:
        """A GitLab CI `id_tokens` token; keyword arguments as `oidc.gitlab_claims` takes them."""
        host = self.gitlab_url.split("://", 1)[-1]
        body = gitlab_claims(server_host=host, **claims)
        body.update(iss=self.gitlab_url, aud=audience)
        return self.issuer.mint(body, lifetime=lifetime)

    def email_token(self, email: str, *, audience: str = "sigstore", lifetime: int = 600,
                    verified: bool = True) -> str:
        """A token of this instance's own issuer for a person (Fulcio's email identity)."""
        return self.issuer.mint({"iss": f"{self.url}/oidc", "sub": email, "email": email,
                                 "email_verified": verified, "aud": audience},
                                lifetime=lifetime)

    def github_actions_env(self, **claims: Any) -> dict[str, str]:
        """The variables a GitHub job with `permissions: id-token: write` has.

        The request URL is this server's; asking it (with the request token as bearer) returns
        a token with these claims, for whatever audience is asked, as GitHub's endpoint does.
        """
        request_token = secrets.token_urlsafe(24)
        self._request_tokens[request_token] = claims
        return {"GITHUB_ACTIONS": "true",
                "ACTIONS_ID_TOKEN_REQUEST_URL": f"{self.url}/github-actions/idtoken"
                                                "?api-version=2.0",
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN": request_token}

    def gitlab_ci_env(self, **claims: Any) -> dict[str, str]:
        """The variables a GitLab job with `id_tokens: SIGSTORE_ID_TOKEN: aud: sigstore` has."""
        return {"GITLAB_CI": "true", "SIGSTORE_ID_TOKEN": self.gitlab_token(**claims)}

    # --- trust -----------------------------------------------------------------------------

    def trusted_root(self, *, ca: CertificateAuthority | None = None,
                     ct_log: CTLog | None = None, log_key: KeyPair | None = None
                     ) -> dict[str, Any]:
        """The trusted root (protobuf-specs JSON); the keyword arguments swap one component."""
        start = _rfc3339(self.created)
        ca = ca or self.ca
        ct_key = (ct_log or self.ct_log).key
        tlog_key = log_key or self.log.key
        return {
            "mediaType": TRUSTED_ROOT_MEDIA_TYPE,
            "tlogs": [{"baseUrl": self.url, "hashAlgorithm": "SHA2_256",
                       "publicKey": {"rawBytes": _b64(tlog_key.spki_der),
                                     "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                                     "validFor": {"start": start}},
                       "logId": {"keyId": tlog_key.key_id_b64}}],
            "certificateAuthorities": [{
                "subject": {"organization": ca.organization, "commonName": ca.organization},
                "uri": self.url,
                "certChain": {"certificates": [
                    {"rawBytes": _b64(c.public_bytes(serialization.Encoding.DER))}
                    for c in ca.chain]},
                "validFor": {"start": start}}],
            "ctlogs": [{"baseUrl": f"{self.url}/ct", "hashAlgorithm": "SHA2_256",
                        "publicKey": {"rawBytes": _b64(ct_key.spki_der),
                                      "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                                      "validFor": {"start": start}},
                        "logId": {"keyId": ct_key.key_id_b64}}],
            "timestampAuthorities": [],
        }

    def signing_config(self) -> dict[str, Any]:
        start = _rfc3339(self.created)

        def service(url: str) -> dict[str, Any]:
            return {"url": url, "majorApiVersion": 1, "validFor": {"start": start},
                    "operator": self.name}

        return {"mediaType": SIGNING_CONFIG_MEDIA_TYPE, "caUrls": [service(self.url)],
                "oidcUrls": [service(f"{self.url}/oidc")],
                "rekorTlogUrls": [service(self.url)], "tsaUrls": [],
                "rekorTlogConfig": {"selector": "ANY"}, "tsaConfig": {"selector": "ANY"}}

    def trust_config(self) -> dict[str, Any]:
        """A ClientTrustConfig: the trusted root plus the signing config that points here."""
        return {"mediaType": TRUST_CONFIG_MEDIA_TYPE, "trustedRoot": self.trusted_root(),
                "signingConfig": self.signing_config()}

    def write_trust_config(self, path: Path) -> Path:
        path.write_text(json.dumps(self.trust_config(), indent=2), encoding="utf-8")
        return path

    def write_trusted_root(self, path: Path, **swap: Any) -> Path:
        path.write_text(json.dumps(self.trusted_root(**swap), indent=2), encoding="utf-8")
        return path

    # --- Fulcio ----------------------------------------------------------------------------

    def identity_for(self, claims: Mapping[str, Any]) -> CertificateIdentity:
        issuer = claims.get("iss")
        if issuer == self.issuer.github_issuer:
            return github_identity(claims, self.github_server)
        if issuer == self.issuer.gitlab_issuer:
            return gitlab_identity(claims, self.gitlab_url)
        if issuer == f"{self.url}/oidc":
            return email_identity(claims)
        raise IdentityRefused(f"unknown OIDC issuer {issuer!r}")

    def issue_certificate(self, token: str, public_key: ec.EllipticCurvePublicKey
                          ) -> list[x509.Certificate]:
        """Leaf + chain for the token's identity (what `POST /api/v2/signingCert` returns)."""
        try:
            claims = self.issuer.verify(token)
        except jwt.PyJWTError as exc:
            raise HttpError(401, f"invalid identity token: {exc}") from exc
        try:
            identity = self.identity_for(claims)
        except IdentityRefused as exc:
            raise HttpError(400, str(exc)) from exc
        faults = self.faults_state
        ca = self.rogue_ca if faults.rogue_ca else self.ca
        ct_log = self.rogue_ct_log if faults.rogue_ct_log else self.ct_log
        leaf = ca.issue(public_key, identity, ct_log, now=_now(),
                        lifetime=faults.cert_lifetime or self.cert_lifetime)
        with self._lock:
            self.certificates.append(leaf)
        return [leaf, *ca.chain]

    def _signing_cert(self, body: Any, authorization: str) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise HttpError(400, "expected a JSON object")
        token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
        token = token or str(body.get("credentials", {}).get("oidcIdentityToken", ""))
        if not token:
            raise HttpError(401, "no identity token (Authorization: Bearer, or credentials)")
        if "certificateSigningRequest" in body:
            try:
                csr = x509.load_pem_x509_csr(base64.b64decode(body["certificateSigningRequest"]))
            except ValueError as exc:
                raise HttpError(400, f"malformed certificate signing request: {exc}") from exc
            if not csr.is_signature_valid:
                raise HttpError(400, "the CSR's signature does not verify (proof of possession)")
            key: Any = csr.public_key()
        else:
            request = body.get("publicKeyRequest") or {}
            try:
                key = serialization.load_pem_public_key(
                    str(request["publicKey"]["content"]).encode())
                proof = base64.b64decode(request["proofOfPossession"])
                subject = str(jwt.decode(token, options={"verify_signature": False})["sub"])
            except (KeyError, TypeError, ValueError, jwt.PyJWTError) as exc:
                raise HttpError(400, f"malformed public key request: {exc}") from exc
            if isinstance(key, ec.EllipticCurvePublicKey):
                try:
                    key.verify(proof, subject.encode(), ec.ECDSA(hashes.SHA256()))
                except InvalidSignature as exc:
                    raise HttpError(400, "the proof of possession does not verify") from exc
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise HttpError(400, "only ECDSA keys are supported by this CA")
        chain = self.issue_certificate(token, key)
        return {"signedCertificateEmbeddedSct": {"chain": {
            "certificates": [_pem(c) for c in chain]}}}

    # --- routing ---------------------------------------------------------------------------

    def route(self, method: str, path: str, query: Mapping[str, str], body: Any,
              authorization: str) -> tuple[int, Any]:
        """Answer one request; `server.py` handles the HTTP around it."""
        now = _now()
        if method == "POST" and path == "/api/v2/signingCert":
            return 201, self._signing_cert(body, authorization)
        if method == "POST" and path == "/api/v1/log/entries":
            if not isinstance(body, dict):
                raise HttpError(400, "expected a proposed entry")
            try:
                return 201, self.log.append(body, now=now)
            except EntryRefused as exc:
                raise HttpError(400, str(exc)) from exc
        if method != "GET":
            raise HttpError(405, f"{method} {path} is not supported")
        if path == "/api/v2/trustBundle":
            return 200, {"chains": [{"certificates": [_pem(c) for c in self.ca.chain]}]}
        if path == "/api/v1/log":
            return 200, self.log.info()
        if path == "/api/v1/log/publicKey":
            return 200, self.log.key.public_pem
        if path == "/api/v1/log/entries" and "logIndex" in query:
            return 200, self.log.entry(int(query["logIndex"]))
        if path.startswith("/api/v1/log/entries/"):
            return 200, self.log.entry_by_uuid(path.rsplit("/", 1)[-1])
        if path == "/oidc/.well-known/openid-configuration":
            base = f"{self.url}/oidc"
            return 200, {"issuer": base, "jwks_uri": f"{base}/jwks",
                         "authorization_endpoint": f"{base}/auth",
                         "token_endpoint": f"{base}/token",
                         "id_token_signing_alg_values_supported": ["ES256"]}
        if path == "/oidc/jwks":
            return 200, self.issuer.jwks()
        if path == "/github-actions/idtoken":
            request = authorization.split(" ", 1)[-1].strip()
            if request not in self._request_tokens:
                raise HttpError(401, "bad ACTIONS_ID_TOKEN_REQUEST_TOKEN")
            token = self.github_token(audience=query.get("audience", "sigstore"),
                                      **self._request_tokens[request])
            return 200, {"count": 1, "value": token}
        if path == "/trust-config.json":
            return 200, self.trust_config()
        if path == "/trusted-root.json":
            return 200, self.trusted_root()
        raise HttpError(404, f"no route {path}")
