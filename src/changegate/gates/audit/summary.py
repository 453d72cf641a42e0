"""The audit's job-summary table: package, installed version, advisory, severity, fixed in.

The generic summary (report/markdown.py) lists findings; a reviewer deciding what to upgrade
wants one row per vulnerability instead, suppressed ones included (with their ticket), so this
table is built from the result's stable `vulnerabilities` details. Used by the audit action
(actions/audit) after the gate ran; a renderer can call it too. Every value from the result
goes through the Markdown escaping of `report.escape`: package names and advisory text come
from the lock file and the database, not from us.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from changegate.report.escape import markdown_text, truncate

MAX_ROWS = 200
_ORDER = {"fail": 0, "warn": 1, "below": 2, "suppressed": 3}
_SEVERITY = {"critical": 0, "high": 1, "medium": 2, "low": 3, "none": 4, "unknown": 5}


_PLAIN = re.compile(r"[A-Za-z0-9.,:()+ -]*")


def _cell(value: object, limit: int = 200) -> str:
    """Escaped table-cell text; plain version/id text stays readable in the raw Markdown (a
    table cell never starts a list, so `1.24.1` needs no escaping there)."""
    if value in (None, ""):
        return "-"
    text = truncate(str(value), limit)
    return text if _PLAIN.fullmatch(text) else markdown_text(text)


def _status(item: Mapping[str, Any]) -> str:
    if item.get("suppressed"):
        exception = item.get("exception") or {}
        ticket = exception.get("ticket")
        expires = exception.get("expires")
        return "suppressed" + (f" ({ticket}, until {expires})" if ticket else "")
    return {"fail": "fails the gate", "warn": "warning",
            "below": "below threshold"}.get(str(item.get("outcome")), str(item.get("outcome")))


def vulnerability_table(details: Mapping[str, Any]) -> str:
    """Markdown for the `vulnerabilities` of an audit result (empty string when none)."""
    items = [v for v in details.get("vulnerabilities") or [] if isinstance(v, Mapping)]
    database = details.get("database") or {}
    lines = ["### Vulnerabilities", ""]
    where = database.get("path") or database.get("url") or "the vulnerability source"
    lines.append(f"Database: {_cell(where)}, sha256 `{_cell(database.get('sha256'))}`, "
                 f"{_cell(database.get('records'))} records, newest modified "
                 f"{_cell(database.get('newest_modified'))}.")
    lines.append("")
    if not items:
        lines.append("No known vulnerabilities in the audited packages.")
        return "\n".join(lines) + "\n"
    items.sort(key=lambda v: (_ORDER.get(str(v.get("outcome")), 9),
                              _SEVERITY.get(str(v.get("severity")), 9),
                              str(v.get("package")), str(v.get("id"))))
    lines += ["| Package | Installed | Advisory | Severity | Fixed in | Status |",
              "| --- | --- | --- | --- | --- | --- |"]
    for item in items[:MAX_ROWS]:
        severity = str(item.get("severity"))
        if item.get("score") is not None:
            severity += f" ({item['score']:g})"
        aliases = [str(a) for a in item.get("aliases") or []][:3]
        advisory = str(item.get("id")) + (f" ({', '.join(aliases)})" if aliases else "")
        fixed = ", ".join(str(v) for v in item.get("fixed_in") or []) or "no fix known"
        lines.append(f"| {_cell(item.get('package'))} | {_cell(item.get('version'))} | "
                     f"{_cell(advisory)} | {_cell(severity)} | {_cell(fixed)} | "
                     f"{_cell(_status(item))} |")
    if len(items) > MAX_ROWS:
        lines.append(f"\n{len(items) - MAX_ROWS} more are listed in the JSON result.")
    return "\n".join(lines) + "\n"
