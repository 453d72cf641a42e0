"""Helpers for the release tests: a committed copy of this tree, and an index-only network.

`release_repo` is what a user pins: a git repository holding this working tree (tracked and
untracked files, not ignored ones) as one commit. `IndexOnlyProxy` and `run_without_network`
give a command no network at all (a new network namespace with only loopback) except an HTTPS
CONNECT proxy that forwards to the package index hosts and refuses everything else, recording
every host asked for.
"""

from __future__ import annotations

import os
import select
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests" / "ci"))

from cihelpers import ACT, CACHE, base_env, require_tool, run  # noqa: E402

__all__ = ["ACT", "CACHE", "INDEX_HOSTS", "ROOT", "IndexOnlyProxy", "base_env", "build_lock",
           "commit_tree", "project_version", "require_tool", "run", "run_without_network",
           "tree_files", "unshare_net"]

# PyPI's index and its file host: the only network the installer may use.
INDEX_HOSTS = frozenset({"pypi.org", "files.pythonhosted.org"})
# The build backend lock the lead adds as requirements/build.txt; until then a test run may
# point at a copy with CHANGEGATE_TEST_BUILD_LOCK.
BUILD_LOCK = ROOT / "requirements" / "build.txt"


def build_lock() -> Path:
    if BUILD_LOCK.is_file():
        return BUILD_LOCK
    override = os.environ.get("CHANGEGATE_TEST_BUILD_LOCK")
    if override and Path(override).is_file():
        return Path(override)
    pytest.fail("requirements/build.txt is missing: it pins the release's build backend with "
                "hashes (see scripts/release_build.py)", pytrace=False)


def project_version() -> str:
    import release_checks

    version = release_checks.project_version(ROOT)
    assert version
    return version


def tree_files(root: Path = ROOT) -> list[str]:
    """This checkout's files as a commit would hold them: tracked and untracked, not ignored."""
    out = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
              cwd=root).stdout
    return sorted({f for f in out.split("\0") if f and (root / f).is_file()})


def commit_tree(target: Path, env: Mapping[str, str], *, date: str = "1767225600 +0000"
                ) -> str:
    """A git repository of this working tree at `target`, one commit; returns its SHA."""
    target.mkdir(parents=True)
    for rel in tree_files():
        destination = target / rel
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, destination)
    lock = target / "requirements" / "build.txt"
    if not lock.is_file():
        shutil.copyfile(build_lock(), lock)
    stamp = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    git_env = {**env, **stamp}
    run(["git", "init", "-q", "-b", "main"], cwd=target, env=git_env)
    run(["git", "add", "-A"], cwd=target, env=git_env)
    run(["git", "-c", "commit.gpgsign=false", "commit", "-q", "-m", "release candidate"],
        cwd=target, env=git_env)
    return run(["git", "rev-parse", "HEAD"], cwd=target, env=git_env).stdout.strip()


# -- an index-only network ------------------------------------------------------------------------

class _Handler(socketserver.BaseRequestHandler):
    server: IndexOnlyProxy

    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.settimeout(30)
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split()
        method, target = (parts[0], parts[1]) if len(parts) >= 2 else ("", "")
        host, _, port = target.rpartition(":")
        self.server.record(method, host or target)
        if method != "CONNECT" or host not in INDEX_HOSTS or port != "443":
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        try:
            upstream = socket.create_connection((host, 443), timeout=30)
        except OSError:
            conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        with upstream:
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                upstream.sendall(rest)
            _pipe(conn, upstream)


def _pipe(a: socket.socket, b: socket.socket) -> None:
    sockets = [a, b]
    while True:
        readable, _, failed = select.select(sockets, [], sockets, 60)
        if failed or not readable:
            return
        for source in readable:
            other = b if source is a else a
            try:
                chunk = source.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            other.sendall(chunk)


class IndexOnlyProxy(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """An HTTPS CONNECT proxy on a Unix socket that lets through the package index only."""

    daemon_threads = True

    def __init__(self, path: Path) -> None:
        super().__init__(str(path), _Handler)
        self.path = path
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up mid-tunnel is not an error worth a traceback."""

    def record(self, method: str, host: str) -> None:
        with self._lock:
            self.requests.append((method, host))

    def __enter__(self) -> IndexOnlyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


# Runs inside the namespace: 127.0.0.1:PORT -> the proxy's Unix socket outside it.
RELAY = """\
import socket, sys, threading, select
sock_path, port = sys.argv[1], int(sys.argv[2])
server = socket.create_server(("127.0.0.1", port))
def pipe(a, b):
    while True:
        r, _, _ = select.select([a, b], [], [], 120)
        if not r:
            return
        for s in r:
            data = s.recv(65536)
            if not data:
                return
            (b if s is a else a).sendall(data)
def serve(conn):
    up = socket.socket(socket.AF_UNIX)
    up.connect(sock_path)
    try:
        pipe(conn, up)
    finally:
        conn.close(); up.close()
print("ready", flush=True)
while True:
    c, _ = server.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""


def unshare_net() -> list[str]:
    """How to start a process in a new network namespace here (root, or a user namespace).

    Skipped where neither works, but a failure in CI (CI=true): there the proof must run.
    """
    require_tool("unshare", "util-linux")
    require_tool("ip", "iproute2 (brings up loopback in the namespace)")
    options = [["unshare", "--net"]] if os.geteuid() == 0 else []
    options.append(["unshare", "--user", "--map-root-user", "--net"])
    for prefix in options:
        probe = subprocess.run([*prefix, "ip", "link", "set", "lo", "up"], capture_output=True,
                               check=False)
        if probe.returncode == 0:
            return prefix
    message = "cannot create a network namespace here (needs root or user namespaces)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI must run this test", pytrace=False)
    pytest.skip(message)


def run_without_network(command: Sequence[str | Path], proxy: IndexOnlyProxy, *,
                        cwd: Path, env: Mapping[str, str], timeout: float = 300
                        ) -> subprocess.CompletedProcess[str]:
    """`command` in a new network namespace: loopback only, the index through `proxy`.

    HTTPS_PROXY points at a relay on 127.0.0.1 inside the namespace, which hands each
    connection to the proxy's Unix socket outside it: no other route exists.
    """
    port = 38080
    relay = cwd / "relay.py"
    relay.write_text(RELAY, encoding="utf-8")
    quoted = " ".join("'" + str(c).replace("'", "'\\''") + "'" for c in command)
    script = (
        "set -euo pipefail\n"
        "ip link set lo up\n"
        "if [ -s /proc/net/route ] && [ \"$(wc -l </proc/net/route)\" -gt 1 ]; then "
        "echo 'a route exists in the namespace' >&2; exit 97; fi\n"
        f"{sys.executable} -I {relay} {proxy.path} {port} >relay.log 2>&1 &\n"
        "for _ in $(seq 50); do grep -q ready relay.log 2>/dev/null && break; sleep 0.1; done\n"
        f"exec {quoted}\n")
    proxy_url = f"http://127.0.0.1:{port}"
    environ = {**env, "HTTPS_PROXY": proxy_url, "https_proxy": proxy_url,
               "HTTP_PROXY": proxy_url, "http_proxy": proxy_url, "ALL_PROXY": proxy_url,
               "NO_PROXY": "", "no_proxy": ""}
    return run([*unshare_net(), "bash", "-c", script], cwd=cwd, env=environ,
               check=False, timeout=timeout)
