"""The HTTP face of the local instance: Fulcio, Rekor and OIDC routes on one 127.0.0.1 port.

Routes (all JSON):
  POST /api/v2/signingCert          Fulcio: OIDC token + CSR -> certificate chain, embedded SCT
  GET  /api/v2/trustBundle          Fulcio: the CA chains
  POST /api/v1/log/entries          Rekor: integrate an entry -> inclusion proof, checkpoint, SET
  GET  /api/v1/log                  Rekor: tree size, root hash, signed tree head
  GET  /api/v1/log/publicKey        Rekor: the log's public key (PEM)
  GET  /api/v1/log/entries?logIndex=N and /api/v1/log/entries/<uuid>
  GET  /oidc/.well-known/openid-configuration, /oidc/jwks
  GET  /github-actions/idtoken      GitHub's ACTIONS_ID_TOKEN_REQUEST_URL (bearer request token)
  GET  /trust-config.json, /trusted-root.json
Errors answer `{"code": N, "message": "..."}` as Fulcio and Rekor do.
"""

from __future__ import annotations

import json
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from changegate.testing.sigstore.instance import LocalSigstore


class HttpError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class SigstoreServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, instance: LocalSigstore, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.instance = instance


class _Handler(BaseHTTPRequestHandler):
    server: SigstoreServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        """No Nagle: headers and body go out as two writes, and with Nagle's algorithm the
        body waits for the client's delayed ACK (40 ms per request on Linux)."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: a test's output should show its own failures, not request lines."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            body: Any = None
            if method == "POST":
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"null")
                except ValueError as exc:
                    raise HttpError(400, f"the request body is not JSON: {exc}") from exc
            status, payload = self.server.instance.route(
                method, url.path, query, body, self.headers.get("Authorization", ""))
        except HttpError as exc:
            status, payload = exc.code, {"code": exc.code, "message": exc.message}
        self._send(status, payload)

    def _send(self, status: int, payload: Any) -> None:
        if isinstance(payload, bytes):
            data, kind = payload, "application/x-pem-file"
        else:
            data, kind = json.dumps(payload).encode(), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
