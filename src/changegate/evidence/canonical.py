"""Canonical bytes and digests: the one way evidence is serialised before it is hashed.

Every hash in the evidence layer (record digests, ledger entry hashes, the Merkle tree) is taken
over RFC 8785 (JSON Canonicalization Scheme) bytes, so an auditor can recompute any of them years
later with any JCS implementation, in any language, from the JSON alone: no key order, spacing or
number formatting of ours is part of the contract.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any

from changegate.errors import ChangegateError

GENESIS = "0" * 64  # the `prev` of the first ledger entry: no predecessor


def canonical(value: Any) -> bytes:
    """RFC 8785 bytes of `value`; refuses what JCS cannot represent (NaN, huge integers).

    Refusing matters: a value silently coerced here would hash differently in another
    implementation and make a genuine record look tampered with.
    """
    import rfc8785

    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise ChangegateError(
            "EVIDENCE_NOT_CANONICAL",
            f"evidence contains a value RFC 8785 cannot represent: {exc}",
            fix="this is a bug in the gate that produced the value; report it") from exc


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def timestamp(moment: datetime) -> str:
    """An RFC 3339 UTC timestamp with a `Z`, as in-toto and SLSA expect (`Timestamp`)."""
    value = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds") + "Z"


def parse_timestamp(text: str) -> datetime:
    """The inverse of `timestamp`, also accepting offsets; raises ValueError on garbage."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


def plain(value: Any) -> Any:
    """`value` as plain JSON data (dicts, lists, str, int, float, bool, None).

    Gates may put enums, paths, dates, tuples or sets in `details` (the JSON renderer accepts
    them); evidence must hold exactly what will be hashed, so they are converted once, here,
    the same way the `--json` output shows them.
    """
    import enum
    from datetime import date
    from pathlib import PurePath

    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(plain(v) for v in value)
    if isinstance(value, PurePath):
        return value.as_posix()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "to_json"):
        return plain(value.to_json())
    raise ChangegateError("EVIDENCE_NOT_CANONICAL",
                          f"a {type(value).__name__} cannot be recorded as evidence",
                          fix="this is a bug in the gate that produced the value; report it")
