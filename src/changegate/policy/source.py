"""Reading trusted files (the policy, allowed_signers, OpenPGP keys) from the right revision.

A pull request must not be able to weaken its own gate: if it could edit the allowed_signers
file or the policy and have that edit enforced on itself, signing rules would be decorative. So
trusted files are read from the base revision with `git cat-file`, never from the checkout,
unless a local run explicitly asks for the working tree.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from changegate.errors import ChangegateError, InputError


@dataclass
class TrustedSource:
    """Trusted files at one revision (`revision`), or the working tree when it is None."""

    workdir: Path
    revision: str | None
    _exported: dict[str, Path] = field(default_factory=dict)
    _tempdirs: list[tempfile.TemporaryDirectory[str]] = field(default_factory=list)

    def label(self, path: str) -> str:
        """How errors name a trusted file: `path` in the tree, `path@<sha12>` at a revision."""
        return f"{path}@{self.revision[:12]}" if self.revision else path

    def read(self, path: str) -> bytes | None:
        """The file's bytes, or None if it does not exist there."""
        rel = _relative(path)
        if self.revision is None:
            full = self.workdir / rel
            return full.read_bytes() if full.is_file() else None
        return self._git_blob(f"{self.revision}:{rel}")

    def local_path(self, path: str) -> Path:
        """A filesystem path holding the file or directory as it is at the revision.

        Verifier loaders take paths (a key directory, a keyring); for a revision we export the
        tree into a private temporary directory rather than trusting the checkout.
        """
        rel = _relative(path)
        if self.revision is None:
            full = self.workdir / rel
            if not full.exists():
                raise InputError(f"trusted file {path!r} does not exist", file=path,
                                 rule="TRUST_FILE_MISSING")
            return full
        if rel in self._exported:
            return self._exported[rel]
        listing = self._git(["ls-tree", "-r", "-z", "--full-tree", self.revision, "--", rel])
        entries = [e for e in listing.split(b"\0") if e]
        if not entries:
            raise InputError(f"trusted file {path!r} does not exist at revision "
                             f"{self.revision[:12]}", file=self.label(path),
                             rule="TRUST_FILE_MISSING",
                             fix="commit it to the target branch first: trusted files are read "
                                 "from the base revision, not from the pull request")
        tmp = tempfile.TemporaryDirectory(prefix="changegate-trust-")
        self._tempdirs.append(tmp)
        root = Path(tmp.name)
        for entry in entries:
            meta, _, name = entry.partition(b"\t")
            _mode, kind, sha = meta.split(b" ")
            if kind != b"blob":
                continue
            target = root / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            blob = self._git_blob(sha.decode())
            target.write_bytes(blob or b"")
        exported = root / rel
        self._exported[rel] = exported
        return exported

    def _git_blob(self, spec: str) -> bytes | None:
        proc = subprocess.run(["git", "cat-file", "blob", spec], cwd=self.workdir,
                              capture_output=True, check=False)
        if proc.returncode != 0:
            return None
        return proc.stdout

    def _git(self, args: list[str]) -> bytes:
        proc = subprocess.run(["git", *args], cwd=self.workdir, capture_output=True, check=False)
        if proc.returncode != 0:
            raise ChangegateError("GIT_FAILED", f"git {' '.join(args)} failed: "
                                  f"{proc.stderr.decode(errors='replace').strip()}")
        return proc.stdout

    def close(self) -> None:
        for tmp in self._tempdirs:
            tmp.cleanup()
        self._tempdirs.clear()
        self._exported.clear()


def _relative(path: str) -> str:
    """Normalise a repository-relative path and refuse ones that escape the repository."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts:
        raise InputError(f"trusted file path {path!r} must be relative to the repository and "
                         "stay inside it", file=path, rule="POLICY_INVALID")
    return str(pure)
