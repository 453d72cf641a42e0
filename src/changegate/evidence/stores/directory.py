"""The embedded store: a directory (`.changegate/evidence/` by default).

In CI this directory is uploaded as a job artifact. That is transport, not an archive: GitHub
keeps artifacts at most 400 days and GitLab 30 by default, and either can be deleted, so
retention is the S3 store's job. Records are created with an exclusive link (never overwritten)
and made read-only; the ledger is appended under an exclusive `flock`, re-reading the tail inside
the lock so two processes cannot both extend the same entry.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from changegate.errors import ChangegateError
from changegate.evidence.stores import LedgerLine, StoreIssue, TailBuilder

LEDGER = "ledger.jsonl"
LOCK = ".ledger.lock"


class DirectoryStore:
    kind = "directory"

    def __init__(self, root: Path, label: str | None = None) -> None:
        self.root = Path(root)
        self.label = label or str(root)  # e.g. `.changegate/evidence`: no runner paths in records

    def uri(self, key: str) -> str:
        return f"{self.label.rstrip('/')}/{key}"

    def put(self, key: str, data: bytes) -> None:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            self._same(target, data)
            return
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        temp = Path(name)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temp, target)  # atomic create-only: fails if another writer won
        except FileExistsError:
            self._same(target, data)
        finally:
            temp.unlink(missing_ok=True)
        target.chmod(0o444)

    @staticmethod
    def _same(target: Path, data: bytes) -> None:
        if target.read_bytes() != data:
            raise ChangegateError(
                "EVIDENCE_CONFLICT",
                f"{target} already exists with different content; evidence is never overwritten",
                fix="run `changegate evidence verify` on the store: a record was altered")

    def get(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def keys(self, prefix: str) -> Iterator[str]:
        base = self.root / prefix
        if not base.is_dir():
            return
        # Names, not Path objects: a store of a million records is listed in a few MB.
        for top, dirs, files in os.walk(base):
            dirs.sort()
            rel = Path(top).relative_to(self.root).as_posix()
            for name in sorted(files):
                if not name.startswith("."):
                    yield f"{rel}/{name}"

    def ledger_lines(self) -> Iterator[LedgerLine]:
        path = self.root / LEDGER
        if not path.is_file():
            return
        with open(path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                yield LedgerLine(f"{LEDGER}:{number}", line.rstrip(b"\n"))

    def append_ledger(self, build: TailBuilder) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / LEDGER
        with self._locked():
            lines = build(_tail(path))
            with open(path, "ab") as handle:
                handle.write(b"".join(lines))
                handle.flush()
                os.fsync(handle.fileno())

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.root / LOCK, "a+b") as handle:
            if sys.platform != "win32":
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                if sys.platform != "win32":
                    import fcntl

                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def describe(self) -> dict[str, Any]:
        return {"type": "directory", "path": self.label, "object_lock": None,
                "note": "a directory is transport (a CI artifact), not an archive: nothing "
                        "locks these records; configure an s3 store for retention"}

    @property
    def retention_years(self) -> int | None:
        return None

    def audit(self) -> list[StoreIssue]:
        return []


def _tail(path: Path) -> dict[str, Any] | None:
    """The last entry, read from the end so appending stays O(1) in the ledger's length."""
    if not path.is_file() or path.stat().st_size == 0:
        return None
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        end = handle.tell()
        handle.seek(end - 1)
        if handle.read(1) != b"\n":
            raise ChangegateError(
                "EVIDENCE_LEDGER_TORN", f"{path} does not end with a complete entry",
                fix="run `changegate evidence verify`; restore the ledger from the archive")
        block, data = 4096, b""
        position = end - 1
        while position > 0 and b"\n" not in data:
            start = max(0, position - block)
            handle.seek(start)
            data = handle.read(position - start) + data
            position = start
    line = data.rsplit(b"\n", 1)[-1] if b"\n" in data else data
    try:
        entry = json.loads(line)
    except ValueError as exc:
        raise ChangegateError("EVIDENCE_LEDGER_TORN",
                              f"the last entry of {path} is not JSON: {exc}",
                              fix="run `changegate evidence verify`") from exc
    if not isinstance(entry, dict):
        raise ChangegateError("EVIDENCE_LEDGER_TORN", f"the last entry of {path} is not an object")
    return entry
