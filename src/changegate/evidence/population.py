"""The population: every change recorded in a period, one row each, with a pointer to its record.

Auditors test controls by sampling, and a sample is only meaningful when drawn from a complete
population. So the export comes from the hash-chained ledger (not from a forge's search API),
states the ledger head and size it was drawn from, and points at each change record by digest
and location so any sampled row can be verified on its own.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from changegate.evidence.canonical import parse_timestamp, timestamp, utc_now
from changegate.evidence.ledger import entries
from changegate.evidence.stores import record_key

if TYPE_CHECKING:
    from changegate.evidence.stores import Store

COLUMNS = ("recorded_at", "repository", "platform", "event", "number", "ref_type", "ref",
           "environment", "head", "base", "verdict", "status", "gates", "controls_passed",
           "controls_failed", "controls_not_evidenced", "policy_uri", "policy_sha256",
           "record_sha256", "record_uri", "signed", "ledger_index", "run_url", "actor")


def rows(store: Store, *, since: datetime | None = None,
         until: datetime | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows for changes recorded in [since, until), and the ledger facts they came from."""
    out: list[dict[str, Any]] = []
    size, head = 0, None
    for entry in entries(store):
        size, head = entry.get("index", size) + 1, entry.get("hash")
        if entry.get("kind") != "change":
            continue
        when = parse_timestamp(str(entry.get("time")))
        if (since and when < since) or (until and when >= until):
            continue
        out.append(_row(store, entry))
    meta = {"generated_at": timestamp(utc_now()), "store": store.label,
            "ledger_size": size, "ledger_head": head,
            "since": timestamp(since) if since else None,
            "until": timestamp(until) if until else None, "count": len(out)}
    return out, meta


def _row(store: Store, entry: dict[str, Any]) -> dict[str, Any]:
    change = entry.get("change") or {}
    record = entry.get("record") or {}
    policy = entry.get("policy") or {}
    controls = entry.get("controls") or {}
    gates = entry.get("gates") or []
    return {
        "recorded_at": entry.get("time"), "repository": change.get("repository"),
        "platform": change.get("platform"), "event": change.get("event"),
        "number": change.get("number"), "ref_type": change.get("ref_type"),
        "ref": change.get("ref"), "environment": change.get("environment"),
        "head": change.get("head"), "base": change.get("base"),
        "verdict": entry.get("verdict"), "status": entry.get("status"),
        "gates": ";".join(f"{g.get('gate')}={g.get('status')}" for g in gates
                          if isinstance(g, dict)),
        "controls_passed": controls.get("pass", 0), "controls_failed": controls.get("fail", 0),
        "controls_not_evidenced": controls.get("not-evidenced", 0),
        "policy_uri": policy.get("uri"),
        "policy_sha256": (policy.get("digest") or {}).get("sha256"),
        "record_sha256": record.get("sha256"),
        "record_uri": store.uri(record_key(str(record.get("sha256")))),
        "signed": (record.get("signature") or {}).get("status") == "signed",
        "ledger_index": entry.get("index"), "run_url": change.get("run_url"),
        "actor": change.get("actor"),
    }


def to_csv(data: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in data:
        # Spreadsheet formula injection: a cell starting with = + - @ runs as a formula in
        # the auditor's spreadsheet. Branch names and actors are untrusted.
        writer.writerow({k: _inert(v) for k, v in row.items()})
    return buffer.getvalue()


def _inert(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def to_json(data: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    return json.dumps({**meta, "columns": list(COLUMNS), "changes": data}, indent=2,
                      ensure_ascii=False) + "\n"
