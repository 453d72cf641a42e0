"""Helpers for the audit gate's tests: the shipped demo database, projects, the CLI, and a local
OSV + PyPI JSON API server.

The demo database (tests/audit/data/demo-osv) holds seven real PyPA advisories (see its
SOURCE.md); expected results here were read off those records:

| package  | audited | advisories (severity from the record)                     |
| urllib3  | 1.24.1  | PYSEC-2023-192 high 8.1, -207 medium 6.1, -212 medium 4.2 |
| werkzeug | 2.2.2   | PYSEC-2023-221 high 7.5                                   |
| requests | 2.19.0  | PYSEC-2023-74 unknown                                     |
| jinja2   | 2.10    | PYSEC-2021-66 unknown                                     |
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from changegate.cli import main

HERE = Path(__file__).resolve().parent
DEMO_DB = HERE / "data" / "demo-osv"
DEMO_SHA256 = "94436490f35eeb776f78a5b6b7f42aaf52b3a45f3fd222aa15b0b60fd6b54fb5"
DEMO_RECORDS = 7
DEMO_NEWEST = "2023-11-08T18:38:34.170214Z"

REQUIREMENTS = """\
# pinned by pip-compile
urllib3==1.24.1
werkzeug==2.2.2
requests==2.19.0
jinja2==2.10
certifi==2024.2.2
"""
# line of each package in REQUIREMENTS
LINES = {"urllib3": 2, "werkzeug": 3, "requests": 4, "jinja2": 5, "certifi": 6}


def demo_records() -> list[dict[str, Any]]:
    """The demo database's records as OSV JSON (what api.osv.dev returns)."""
    out = []
    for path in sorted(DEMO_DB.glob("vulns/*/*.yaml")):
        out.append(yaml.load(path.read_bytes(), Loader=yaml.CBaseLoader))  # noqa: S506
    return out


def project(root: Path, files: Mapping[str, str] | None = None, *,
            policy: str | None = None) -> Path:
    """A project directory with a requirements file (and a policy when given)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in {"requirements.txt": REQUIREMENTS, **(files or {})}.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    if policy is not None:
        (root / ".changegate.yml").write_text(policy, encoding="utf-8")
    return root


def commit_all(root: Path) -> Path:
    """Make `root` a git repository with everything committed (the policy is read from git)."""
    import subprocess

    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(root),
           "GIT_AUTHOR_DATE": "@1700000000 +0000", "GIT_COMMITTER_DATE": "@1700000000 +0000",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c",
                  "commit.gpgsign=false", "commit", "-q", "-m", "project"]):
        subprocess.run(["git", "-C", str(root), *args], check=True, env=env,
                       capture_output=True)
    return root


@dataclass
class CliRun:
    code: int
    out: str
    err: str

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.out)
        return data


def environ(root: Path, **extra: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(root / "home"),
            "XDG_CACHE_HOME": str(root / "cache"), **extra}


def cli(args: Sequence[str], root: Path, **extra: str) -> CliRun:
    """`changegate audit ARGS -C root` in-process, with a minimal environment."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["audit", *args, "-C", str(root)], environ(root, **extra))
    return CliRun(code, out.getvalue(), err.getvalue())


# -- a local OSV and PyPI JSON API -----------------------------------------------------------
@dataclass
class Api:
    """api.osv.dev's `POST /v1/query` and PyPI's `GET /pypi/NAME/VERSION/json`, from the demo
    records; `fail` switches a failure mode on (`500`, `garbage`, `no-vulns-key`, `slow`)."""

    records: list[dict[str, Any]] = field(default_factory=demo_records)
    fail: str | None = None
    requests: list[tuple[str, str]] = field(default_factory=list)
    known: set[str] = field(default_factory=lambda: {"urllib3", "werkzeug", "requests",
                                                     "jinja2", "certifi", "flask"})

    def affecting(self, name: str, version: str) -> list[dict[str, Any]]:
        from packaging.version import Version

        from changegate.gates.audit import evaluate
        from changegate.gates.audit.osv import parse_record

        hits = []
        for raw in self.records:
            record = parse_record(raw, raw["id"])
            if any(evaluate.check(a, Version(version)) is evaluate.Verdict.AFFECTED
                   for a in record.affected_for(name)):
                hits.append(raw)
        return hits

    def pypi_entry(self, raw: dict[str, Any], name: str) -> dict[str, Any]:
        fixed = sorted({e["fixed"] for a in raw["affected"] if a["package"]["name"] == name
                        for r in a.get("ranges", []) if r["type"] == "ECOSYSTEM"
                        for e in r["events"] if "fixed" in e})
        return {"aliases": raw.get("aliases", []), "details": raw.get("details"),
                "fixed_in": fixed, "id": raw["id"],
                "link": f"https://osv.dev/vulnerability/{raw['id']}", "source": "osv",
                "summary": raw.get("summary"), "withdrawn": None}


@contextmanager
def api_server(api: Api) -> Iterator[str]:
    """Serve `api` on 127.0.0.1 (an ephemeral port); yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def reply(self, status: int, body: bytes, kind: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def failure(self) -> bool:
            if api.fail == "slow":
                import time

                time.sleep(1.5)  # past a 1 s client timeout
                return False
            if api.fail == "500":
                self.reply(500, b'{"code": 13, "message": "internal error"}')
            elif api.fail == "garbage":
                self.reply(200, b"<html>proxy login</html>", "text/html")
            elif api.fail == "no-vulns-key":
                self.reply(200, b'{"results": []}')
            else:
                return False
            return True

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            query = json.loads(self.rfile.read(length))
            api.requests.append(("POST", self.path))
            if self.failure():
                return
            if self.path != "/v1/query":
                self.reply(404, b'{"code": 5, "message": "Not Found"}')
                return
            name, version = query["package"]["name"], query["version"]
            hits = api.affecting(name, version)
            self.reply(200, json.dumps({"vulns": hits} if hits else {}).encode())

        def do_GET(self) -> None:
            api.requests.append(("GET", self.path))
            if self.failure():
                return
            parts = self.path.strip("/").split("/")
            if len(parts) != 4 or parts[0] != "pypi" or parts[3] != "json" \
                    or parts[1] not in api.known:
                self.reply(404, b'{"message": "Not Found"}')
                return
            name, version = parts[1], parts[2]
            hits = [api.pypi_entry(raw, name) for raw in api.affecting(name, version)]
            body = {"info": {"name": name, "version": version, "yanked": False},
                    "last_serial": 1, "urls": [], "vulnerabilities": hits}
            self.reply(200, json.dumps(body).encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
