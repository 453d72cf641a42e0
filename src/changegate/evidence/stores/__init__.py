"""Where evidence lives: one small interface, a directory and an S3-compatible implementation.

A store holds content-addressed, create-only objects (`records/<sha256>.json`, their Sigstore
bundles) and one append-only ledger. The ledger and verification logic know nothing about the
medium; each store only promises: `put` never overwrites, `append_ledger` appends atomically
after re-reading the tail (so concurrent CI jobs cannot fork the chain), and `audit` reports
what the medium itself can tell about tampering (S3: overwritten or delete-marked versions).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from changegate.evidence.settings import StoreSettings

RECORDS = "records/"


@dataclass(frozen=True)
class LedgerLine:
    """One raw ledger line and where it is (`ledger.jsonl:12`, `ledger/000…10.jsonl:2`)."""

    location: str
    text: bytes


@dataclass(frozen=True)
class StoreIssue:
    """Something the storage medium shows about tampering, independent of the hash chain."""

    kind: str
    key: str
    message: str


TailBuilder = Callable[[dict[str, Any] | None], list[bytes]]


class Store(Protocol):
    kind: str
    label: str

    def uri(self, key: str) -> str: ...

    def put(self, key: str, data: bytes) -> None:
        """Create `key`; if it exists with the same bytes, do nothing; otherwise refuse."""
        ...

    def get(self, key: str) -> bytes | None: ...

    def keys(self, prefix: str) -> Iterator[str]: ...

    def ledger_lines(self) -> Iterator[LedgerLine]: ...

    def append_ledger(self, build: TailBuilder) -> None:
        """Call `build(tail_entry)` with the ledger's last entry and append what it returns."""
        ...

    def describe(self) -> dict[str, Any]:
        """The store's configuration as evidence (for S3: the lock configuration read back)."""
        ...

    @property
    def retention_years(self) -> int | None:
        """Years every record is verifiably locked for, or None when nothing locks them."""
        ...

    def audit(self) -> list[StoreIssue]: ...


def record_key(sha256: str) -> str:
    return f"{RECORDS}{sha256}.json"


def bundle_key(sha256: str) -> str:
    return f"{RECORDS}{sha256}.sigstore.json"


def open_store(settings: StoreSettings, *, directory: Path,
               environ: Mapping[str, str]) -> Store:
    """The configured archive store: `directory` itself, or the S3 bucket."""
    if settings.type == "s3":
        from changegate.evidence.stores.s3 import S3Store

        return S3Store(settings, environ)
    from changegate.evidence.stores.directory import DirectoryStore

    return DirectoryStore(directory)
