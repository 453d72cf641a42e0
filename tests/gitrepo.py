"""Real git repositories in temporary directories, for tests that must not mock git.

A `World` is a bare "origin" on disk (reached through a `file://` URL, so `--depth` and
`--deepen` really happen), a developer clone that pushes to it, and CI-style checkouts made the
way `actions/checkout` and the GitLab runner make them. Nothing touches the network or the
user's git configuration: `isolate_git` points HOME and the global config at the test's tmp dir.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

ZERO = "0" * 40

_clock = itertools.count(1_700_000_000, 60)


def isolate_git(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """Make every git process in the test (ours and changegate's) ignore the user's config."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / ".gitconfig"
    config.write_text(
        "[user]\n\tname = Test Developer\n\temail = dev@example.com\n"
        "[init]\n\tdefaultBranch = main\n"
        "[commit]\n\tgpgsign = false\n[tag]\n\tgpgsign = false\n"
        "[protocol \"file\"]\n\tallow = always\n"
        "[advice]\n\tdetachedHead = false\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                 "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_CEILING_DIRECTORIES",
                 "XDG_CONFIG_HOME", "GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
        monkeypatch.delenv(name, raising=False)


def git(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    """Run git in `cwd`; return stripped stdout; fail the test with stderr on error."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False,
                          env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed in {cwd}:\n{proc.stderr}")
    return proc.stdout.strip()


class Repo:
    """A working tree (or bare repository) with a few helpers for building history."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def git(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        return git(self.path, *args, env=env)

    def rev(self, rev: str) -> str:
        return self.git("rev-parse", "--verify", f"{rev}^{{commit}}")

    def commit(self, message: str, files: Mapping[str, str | bytes] | None = None) -> str:
        """A commit with the given file contents (or an empty one), with increasing dates."""
        for name, content in (files or {}).items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
            self.git("add", "--", name)
        stamp = f"@{next(_clock)} +0000"
        self.git("commit", "--quiet", "--allow-empty", "-m", message,
                 env={"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp})
        return self.rev("HEAD")

    def commits(self, prefix: str, count: int) -> list[str]:
        return [self.commit(f"{prefix}{i}", {f"{prefix}.txt": f"{prefix} {i}\n"})
                for i in range(1, count + 1)]

    def checkout(self, branch: str, start: str | None = None) -> None:
        if start is None:
            self.git("checkout", "--quiet", branch)
        else:
            self.git("checkout", "--quiet", "-B", branch, start)

    def merge(self, other: str, message: str) -> str:
        stamp = f"@{next(_clock)} +0000"
        self.git("merge", "--quiet", "--no-ff", "--no-edit", "-m", message, other,
                 env={"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp})
        return self.rev("HEAD")

    def tag(self, name: str, rev: str = "HEAD", *, annotated: bool = True) -> str:
        """Create a tag; return the tag's own object name (the tag object if annotated)."""
        if annotated:
            self.git("tag", "-a", "-m", f"release {name}", name, rev)
        else:
            self.git("tag", name, rev)
        return self.git("rev-parse", f"refs/tags/{name}")

    def push(self, *refspecs: str) -> None:
        self.git("push", "--quiet", "origin", *refspecs)

    def is_shallow(self) -> bool:
        return self.git("rev-parse", "--is-shallow-repository") == "true"


class World:
    """A bare origin plus a developer clone that pushes to it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        origin = root / "origin.git"
        git(root, "init", "--quiet", "--bare", str(origin))
        self.origin = Repo(origin)
        self.url = origin.as_uri()
        dev = root / "dev"
        git(root, "clone", "--quiet", self.url, str(dev))
        self.dev = Repo(dev)

    def set_ref(self, ref: str, sha: str) -> None:
        """Create a ref on origin directly (GitHub's refs/pull/N/head, a kept old tip...)."""
        self.origin.git("update-ref", ref, sha)

    def delete_ref(self, ref: str) -> None:
        self.origin.git("update-ref", "-d", ref)

    def gc_origin(self) -> None:
        """Drop unreachable objects on origin, as a server does eventually after force pushes."""
        self.origin.git("reflog", "expire", "--expire=now", "--all")
        self.origin.git("gc", "--quiet", "--prune=now")

    def checkout(self, name: str, sha: str, *, depth: int | None = 1,
                 fetch_ref: str | None = None, as_ref: str | None = None) -> Repo:
        """A CI checkout of one commit, like actions/checkout (`fetch-depth: 1` by default).

        The runner initialises an empty repository, adds origin, fetches just the one ref or
        commit (into `as_ref` if given, as actions/checkout stores a pushed branch in
        `refs/remotes/origin/<branch>`) and checks it out detached: no other branch and no
        tags are present.
        """
        path = self.root / name
        path.mkdir()
        repo = Repo(path)
        repo.git("init", "--quiet")
        repo.git("remote", "add", "origin", self.url)
        args = ["fetch", "--quiet", "--no-tags"]
        if depth is not None:
            args.append(f"--depth={depth}")
        target = fetch_ref or sha
        repo.git(*args, "origin", f"+{target}:{as_ref}" if as_ref else target)
        repo.git("checkout", "--quiet", "--detach", sha)
        return repo

    def clone(self, name: str, *, depth: int | None = None, branch: str | None = None) -> Repo:
        """A `git clone` of origin (full by default; `depth` makes it shallow, single-branch)."""
        args = ["clone", "--quiet"]
        if depth is not None:
            args.append(f"--depth={depth}")
        if branch is not None:
            args += ["--branch", branch]
        git(self.root, *args, self.url, str(self.root / name))
        return Repo(self.root / name)


def write_event(path: Path, payload: Mapping[str, object]) -> Path:
    path.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return path
