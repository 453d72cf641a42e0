"""The `--json` document: what users script against, so its shape is a compatibility promise.

One gate prints that gate's own `GateResult.to_json()` (DESIGN.md lists each gate's details).
`changegate check` runs several gates and prints one document whose top level has the same core
keys as a single gate (`gate`, `status`, `summary`, `findings`), so a script reading `status` and
`findings` works for both; each finding then also says which gate raised it.
"""

from __future__ import annotations

import datetime as _dt
import enum
import json
from pathlib import PurePath
from typing import Any

from changegate.result import GateResult, Status, combined_status

# Keys whose meaning the CLI contract fixes; `extra` may add keys but never redefine these.
CORE_KEYS = frozenset({"gate", "status", "summary", "findings"})
CHECK_GATE = "check"


def _check_summary(results: list[GateResult]) -> str:
    counts = {s: sum(1 for r in results if r.status is s) for s in Status}
    return (
        f"{len(results)} gate{'' if len(results) == 1 else 's'}: "
        f"{counts[Status.PASS]} passed, {counts[Status.FAIL]} failed, "
        f"{counts[Status.ERROR]} inconclusive"
    )


def document(
    results: list[GateResult], *, extra: dict[str, Any] | None = None, aggregate: bool = False
) -> dict[str, Any]:
    """Build the JSON document for one gate (its own `to_json()`) or for `check` (several).

    `aggregate` forces the `check` shape even for one gate, so `changegate check --json` has one
    shape whatever the policy enables; `results` holds every gate's full document.

    `extra` (e.g. `evidence`) is merged last. It may not override a core key: a caller that
    passed `status` by mistake would otherwise print a status the gates did not decide.
    """
    extra = extra or {}
    clash = CORE_KEYS & extra.keys()
    if clash:
        raise ValueError(f"extra may not override core keys: {sorted(clash)}")

    if len(results) == 1 and not aggregate:
        doc = results[0].to_json()
        doc.update(extra)
        return doc

    status = combined_status([r.status for r in results])
    return {
        "gate": CHECK_GATE,
        "status": status.value,
        "summary": _check_summary(results),
        "findings": [{"gate": r.gate, **f.to_json()} for r in results for f in r.findings],
        "gates": [
            {"gate": r.gate, "status": r.status.value, "summary": r.summary} for r in results
        ],
        "results": [r.to_json() for r in results],
        **extra,
    }


def _default(value: object) -> Any:
    """Serialise the few non-JSON types gates reasonably put in `details`; refuse the rest.

    Refusing (TypeError) rather than `str()`-ing everything keeps an accidental object repr out
    of a document that users parse.
    """
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, PurePath):
        return value.as_posix()
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(doc: dict[str, Any]) -> str:
    """Serialise `doc` as the CLI prints it: insertion order kept, indent 2, UTF-8 kept.

    Insertion order (not sorted keys) keeps `gate` and `status` at the top where a human reading
    the log looks first. No trailing newline; the caller's `print` adds one.
    """
    return json.dumps(doc, indent=2, ensure_ascii=False, default=_default)
