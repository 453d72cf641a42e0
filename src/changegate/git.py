"""A small, typed wrapper around the `git` command line.

Every gate reads history through real `git` rather than a library, so what we check is exactly
what `git log` shows (including shallow-clone boundaries, which libraries tend to hide). Calls use
argument lists (never a shell), a fixed locale so error messages can be recognised, and
`core.quotepath=off` so non-ASCII paths come back as themselves.

Two environment settings are security decisions, not conveniences:
- `GIT_NO_REPLACE_OBJECTS=1`: `refs/replace/*` can make git show a different commit than the one
  stored; a compliance check must see the stored objects.
- `GIT_TERMINAL_PROMPT=0`: a CI job must fail with a message, never hang on a credential prompt.

Failures raise `ChangegateError` with rule `GIT_FAILED` naming the command, so a broken checkout
ends the gate as inconclusive (exit 2) with something a developer can act on.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

from changegate.errors import ChangegateError

GIT_FAILED = "GIT_FAILED"

_HEX_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_ZERO_SHA = re.compile(r"0{40}|0{64}")

# Messages `git describe` prints when there is simply no tag to find (not an error for us).
_NO_TAG_MESSAGES = ("No names found", "No tags can describe", "cannot describe")


def is_sha(value: str) -> bool:
    """A full SHA-1 or SHA-256 object name (lower-case hex), as CI systems report them."""
    return _HEX_SHA.fullmatch(value) is not None


def is_zero_sha(value: str) -> bool:
    """The all-zero SHA that CI systems use for "no previous commit" (new or deleted ref)."""
    return _ZERO_SHA.fullmatch(value) is not None


class Git:
    """Runs `git` in one working tree.

    `remote` is the remote that fetches go to (`origin` in every CI checkout we support).
    `extra_env` is layered over the inherited environment, which carries what CI set up
    (credential helpers, `GIT_SSH_COMMAND`, `safe.directory` via `GIT_CONFIG_*`).
    """

    def __init__(self, workdir: Path, *, remote: str = "origin", executable: str = "git",
                 extra_env: Mapping[str, str] | None = None,
                 fetch_timeout: float = 600.0) -> None:
        self.workdir = Path(workdir)
        self.remote = remote
        self.executable = executable
        self.fetch_timeout = fetch_timeout
        env = dict(os.environ)
        env.update({
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_NO_REPLACE_OBJECTS": "1",
            "LC_ALL": "C",
            "LANGUAGE": "C",
        })
        if extra_env:
            env.update(extra_env)
        self._env = env

    # -- plumbing -----------------------------------------------------------------------------

    def run(self, args: Sequence[str], *, ok: Iterable[int] = (0,), timeout: float | None = None,
            input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        """Run `git <args>`; return the process if its exit code is in `ok`, else raise.

        Callers that treat some exit codes as answers (e.g. `merge-base --is-ancestor` exits 1
        for "no") list them in `ok` and look at `returncode` themselves.
        """
        cmd = [self.executable, "-c", "core.quotepath=off", "-c", "gc.auto=0",
               "-c", "maintenance.auto=false", *args]
        shown = "git " + " ".join(args)
        try:
            proc = subprocess.run(cmd, cwd=self.workdir, env=self._env, capture_output=True,
                                  input=input if input is not None else b"", timeout=timeout,
                                  check=False)
        except FileNotFoundError as exc:
            raise ChangegateError(
                GIT_FAILED, f"cannot run `{shown}`: {exc}",
                fix="Install git (2.25 or newer) and make sure it is on PATH.") from exc
        except subprocess.TimeoutExpired as exc:
            raise ChangegateError(
                GIT_FAILED, f"`{shown}` did not finish within {timeout:.0f}s",
                fix="Check network access to the remote, or fetch the history before running "
                    "changegate.") from exc
        if proc.returncode not in set(ok):
            stderr = proc.stderr.decode("utf-8", "replace").strip()
            detail = " ".join(stderr.splitlines()[-3:]) if stderr else "no error output"
            fix = None
            if "not a git repository" in stderr:
                fix = f"Run changegate inside a git checkout (working directory: {self.workdir})."
            elif "dubious ownership" in stderr:
                fix = "Mark the checkout as safe: git config --global --add safe.directory <path>."
            raise ChangegateError(
                GIT_FAILED, f"`{shown}` failed (exit {proc.returncode}): {detail}", fix=fix)
        return proc

    def _out(self, args: Sequence[str], *, ok: Iterable[int] = (0,)) -> str | None:
        """stdout (stripped) of a call, or None when it exited with a non-zero `ok` code."""
        proc = self.run(args, ok=ok)
        if proc.returncode != 0:
            return None
        return proc.stdout.decode("utf-8", "replace").strip()

    @staticmethod
    def _rev(rev: str) -> str:
        """Refuse revisions that git would parse as options (`--upload-pack=...`).

        Revisions come from CI event payloads and command lines; a leading dash is never a
        valid ref name, so rejecting it closes option injection without version-specific
        `--end-of-options` support.
        """
        if not rev or rev.startswith("-"):
            raise ChangegateError(GIT_FAILED, f"refusing revision {rev!r}: not a valid revision")
        return rev

    # -- commits and history ------------------------------------------------------------------

    def rev_parse(self, rev: str) -> str | None:
        """The commit SHA `rev` names (tags peeled), or None if it names no local commit."""
        return self._out(["rev-parse", "--verify", "--quiet", self._rev(rev) + "^{commit}"],
                         ok=(0, 1)) or None

    def has_commit(self, sha: str) -> bool:
        """Whether the commit is in the local object store (with its own content, at least)."""
        return self.rev_parse(sha) is not None

    def merge_base(self, a: str, b: str) -> str | None:
        """One best common ancestor of `a` and `b`, or None if git finds none locally.

        In a shallow clone "none" may only mean the history is cut off; callers decide whether
        to deepen.
        """
        return self._out(["merge-base", self._rev(a), self._rev(b)], ok=(0, 1)) or None

    def is_ancestor(self, a: str, b: str) -> bool:
        """Whether `a` is reachable from `b` (a commit counts as its own ancestor)."""
        proc = self.run(["merge-base", "--is-ancestor", self._rev(a), self._rev(b)], ok=(0, 1))
        return proc.returncode == 0

    def rev_list(self, range_args: Sequence[str], *, oldest_first: bool = True) -> list[str]:
        """Commit SHAs selected by `git rev-list <range_args>`.

        Oldest first means parents before children (`--topo-order --reverse`), the order a
        reviewer reads a branch in and the one findings are reported in.
        """
        args = ["rev-list", "--topo-order"]
        if oldest_first:
            args.append("--reverse")
        out = self._out([*args, *range_args, "--"])
        return out.split() if out else []

    def parents(self, rev: str) -> list[str]:
        """The parents of a commit as stored locally (a shallow boundary shows none)."""
        out = self._out(["rev-list", "--parents", "-n", "1", self._rev(rev), "--"])
        return out.split()[1:] if out else []

    def commit_time(self, rev: str) -> datetime:
        """The committer date of a commit, in UTC."""
        out = self._out(["show", "-s", "--no-show-signature", "--format=%ct", self._rev(rev),
                         "--"])
        try:
            return datetime.fromtimestamp(int(out or ""), tz=timezone.utc)
        except ValueError as exc:
            raise ChangegateError(GIT_FAILED, f"no committer date for {rev}") from exc

    def describe_tag(self, rev: str) -> str | None:
        """The name of the nearest tag reachable from `rev`, or None if there is none."""
        proc = self.run(["describe", "--tags", "--abbrev=0", self._rev(rev)], ok=(0, 128))
        if proc.returncode == 0:
            return proc.stdout.decode("utf-8", "replace").strip() or None
        stderr = proc.stderr.decode("utf-8", "replace")
        if any(m in stderr for m in _NO_TAG_MESSAGES):
            return None
        raise ChangegateError(
            GIT_FAILED, f"`git describe --tags --abbrev=0 {rev}` failed: {stderr.strip()}")

    def show_file(self, rev: str, path: str) -> bytes | None:
        """The content of `path` (repository-relative) at `rev`, or None if it is not a file there.

        This is how trusted files (the policy, allowed signers) are read from the base revision
        without checking it out, so a pull request cannot substitute its own copy.
        """
        if "\n" in path or "\0" in path:
            return None
        # One `cat-file --batch` call answers "is it there, is it a file, what is in it".
        proc = self.run(["cat-file", "--batch"],
                        input=f"{self._rev(rev)}:{path.lstrip('/')}\n".encode())
        header, _, rest = proc.stdout.partition(b"\n")
        fields = header.split()
        if len(fields) != 3 or fields[1] != b"blob":
            return None  # "<name> missing", or a tree/submodule at that path
        return rest[: int(fields[2])]

    # -- the clone itself ---------------------------------------------------------------------

    def is_shallow(self) -> bool:
        """Whether this is a shallow clone (history cut off at some commits)."""
        return self._out(["rev-parse", "--is-shallow-repository"]) == "true"

    def shallow_commits(self) -> frozenset[str]:
        """The commits where a shallow clone's history is cut off (their parents are missing).

        Git has no porcelain for this list, so it is read from the `shallow` file git itself
        points at (`--git-path`, correct for worktrees too). A commit in this set looks
        parentless to `rev-list`, which is exactly how a range would silently shrink.
        """
        out = self._out(["rev-parse", "--is-shallow-repository", "--git-path", "shallow"]) or ""
        lines = out.splitlines()
        if not lines or lines[0] != "true" or len(lines) < 2:
            return frozenset()
        path = Path(lines[1])
        if not path.is_absolute():
            path = self.workdir / path
        try:
            return frozenset(path.read_text(encoding="ascii").split())
        except OSError as exc:
            raise ChangegateError(GIT_FAILED,
                                  f"cannot read the shallow list {path}: {exc}") from exc

    def current_branch(self) -> str | None:
        """The checked-out branch name, or None on a detached HEAD."""
        return self._out(["symbolic-ref", "--quiet", "--short", "HEAD"], ok=(0, 1)) or None

    def remote_url(self, remote: str | None = None) -> str | None:
        """The fetch URL of the remote, or None if there is no such remote."""
        name = remote or self.remote
        return self._out(["config", "--get", f"remote.{name}.url"], ok=(0, 1)) or None

    def fetch(self, refspecs: Sequence[str], *, remote: str | None = None,
              depth: int | None = None, deepen: int | None = None, unshallow: bool = False,
              tags: bool = False) -> None:
        """`git fetch` from the remote, quietly, without tags (unless asked) or submodules.

        Refspecs may be full SHAs: GitHub and GitLab serve any reachable commit, which is how
        a PR head or a push's `before` gets into a clone that never had its ref.
        """
        args = ["fetch", "--quiet", "--recurse-submodules=no",
                "--tags" if tags else "--no-tags"]
        if depth is not None:
            args.append(f"--depth={depth}")
        if deepen is not None:
            args.append(f"--deepen={deepen}")
        if unshallow:
            args.append("--unshallow")
        args.append(self._rev(remote or self.remote))
        for refspec in refspecs:
            self._rev(refspec.lstrip("+"))
            args.append(refspec)
        self.run(args, timeout=self.fetch_timeout)

    def fetch_deepen(self, remote: str, refspecs: Sequence[str], depth: int) -> None:
        """Extend every shallow boundary by `depth` commits (fetching `refspecs` too)."""
        self.fetch(refspecs, remote=remote, deepen=depth)

    def fetch_unshallow(self, remote: str, refspecs: Sequence[str], *, tags: bool = False) -> None:
        """Fetch the complete history, turning the shallow clone into a full one."""
        self.fetch(refspecs, remote=remote, unshallow=True, tags=tags)
