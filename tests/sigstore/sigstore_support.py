"""Helpers for the sign/verify tests: run the real CLI in-process against the local instance."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from changegate.cli import main
from changegate.testing.sigstore import LocalSigstore

ASSETS = Path(os.environ.get("CHANGEGATE_SIGSTORE_ASSETS",
                             Path(__file__).resolve().parents[3] / "shared" / "data"
                             / "sigstore-python-assets"))
DATA = Path(__file__).resolve().parent / "data"
GITHUB_IDENTITY = "https://github.com/acme/payments/.github/workflows/release.yml@refs/heads/main"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITLAB_IDENTITY = "https://gitlab.com/acme/payments//.gitlab-ci.yml@refs/heads/main"


@dataclass
class Result:
    rc: int
    doc: dict[str, Any]

    @property
    def rules(self) -> list[str]:
        return [f["rule"] for f in self.doc.get("findings", [])]

    def __repr__(self) -> str:  # shown by pytest on failure
        return f"Result(rc={self.rc}, doc={json.dumps(self.doc, indent=1)[:4000]})"


def base_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    env.update(extra or {})
    return env


def cli(args: Sequence[str | Path], *, cwd: Path, environ: Mapping[str, str] | None = None,
        worktree: bool = True) -> Result:
    """Run `changegate ARGS --json-file` in-process; the JSON document and the exit code."""
    out = cwd / f".result-{len(list(cwd.glob('.result-*')))}.json"
    argv = [str(a) for a in args] + ["--json-file", str(out), "--quiet", "-C", str(cwd)]
    if worktree:
        argv.append("--trust-worktree")
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        rc = main(argv, environ=base_environ(environ))
    finally:
        os.chdir(previous)
    doc = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    return Result(rc, doc)


def git_init(path: Path) -> None:
    """Make `path` a git repository with one commit (the policy needs a change to match)."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "Alice", "GIT_AUTHOR_EMAIL": "alice@example.com",
           "GIT_COMMITTER_NAME": "Alice", "GIT_COMMITTER_EMAIL": "alice@example.com",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "commit.gpgsign=false", "commit", "-q", "-m", "release"]):
        subprocess.run(["git", *args], cwd=path, env=env, check=True, capture_output=True)


@dataclass
class Signing:
    """A workspace plus the local instance: sign and verify artifacts with the real CLI."""

    instance: LocalSigstore
    trust: Path
    root: Path
    counter: list[int] = field(default_factory=lambda: [0])

    def artifact(self, name: str = "app-1.0.whl", content: bytes | None = None) -> Path:
        self.counter[0] += 1
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if content is not None else
                         f"artifact {name} {self.counter[0]}\n".encode() * 100)
        return path

    def sign(self, *args: str | Path, token: str | None = None,
             environ: Mapping[str, str] | None = None) -> Result:
        env = dict(environ or {})
        if token is not None or not env:
            env.setdefault("SIGSTORE_IDENTITY_TOKEN", token or self.instance.github_token())
        return cli(["sign", *args, "--trust-config", self.trust], cwd=self.root, environ=env)

    def verify(self, *args: str | Path, trust: Path | None = None,
               environ: Mapping[str, str] | None = None) -> Result:
        return cli(["verify", *args, "--trust-config", trust or self.trust], cwd=self.root,
                   environ=environ)

    def verify_github(self, *args: str | Path, trust: Path | None = None) -> Result:
        return self.verify(*args, "--github-repository", "acme/payments", trust=trust)

    def bundle_json(self, path: Path) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def write_json(self, path: Path, data: Any) -> Path:
        path.write_text(json.dumps(data), encoding="utf-8")
        return path
