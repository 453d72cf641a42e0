"""Policy exceptions: which vulnerabilities an approved, unexpired exception suppresses.

The rule, precisely (docs/audit.md, "Exceptions"):

1. An exception *applies* to an advisory when its `id` equals, ignoring case, the advisory's id
   or any alias, and its optional `package` (PEP 503 names) and `versions` (PEP 440 specifiers;
   a bare version means `==`) admit the audited package version.
2. An advisory may merge several records of the database (records sharing an id or alias,
   transitively: A aliases B, B aliases C). It is *suppressed* only when every merged record is
   named (by its own id or one of its aliases) by some applicable, valid exception. Records
   joined only through a third record may describe different flaws (a GHSA listing two CVEs),
   so an exception for one of them never silently covers the other; write one exception per
   record id, or one naming an id they all share. An applicable exception that covers some
   records but not all is reported (EXCEPTION_PARTIAL) and suppresses nothing.
3. An exception is *valid* on `today` when `today <= expires` (it is good through its expiry
   day) and `expires` is at most `exception_max_days` after `today`.
4. An expired exception fails the gate (EXCEPTION_EXPIRED), used or not: it is a decision that
   has lapsed and must be renewed or removed. One beyond the horizon fails it too
   (EXCEPTION_TOO_LONG) and suppresses nothing. A valid exception that suppresses nothing and
   covers no record is a warning (EXCEPTION_UNUSED).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from changegate.gates.audit.config import VulnerabilityException
from changegate.gates.audit.rules import finding
from changegate.gates.audit.services import Advisory
from changegate.result import Finding, Severity


@dataclass(frozen=True)
class Coverage:
    """How the exceptions treat one advisory: `by` is non-empty exactly when it is suppressed."""

    by: tuple[VulnerabilityException, ...] = ()
    partial: tuple[VulnerabilityException, ...] = ()
    uncovered: tuple[str, ...] = ()  # record ids no valid applicable exception names

    @property
    def suppressed(self) -> bool:
        return bool(self.by)


@dataclass
class ExceptionReport:
    coverage: list[Coverage]  # parallel to the advisories
    findings: list[Finding] = field(default_factory=list)
    exceptions: list[dict[str, Any]] = field(default_factory=list)


def _status(item: VulnerabilityException, today: date, max_days: int) -> str:
    if today > item.expires:
        return "expired"
    if (item.expires - today).days > max_days:
        return "too_long"
    return "active"


def _label(item: VulnerabilityException) -> str:
    where = f" for {item.package}" if item.package else ""
    if item.versions:
        where += f" {', '.join(item.versions)}"
    return f"exception {item.id}{where} (ticket {item.ticket}, approved by {item.approver})"


def evaluate(advisories: Sequence[Advisory], exceptions: Sequence[VulnerabilityException], *,
             today: date, max_days: int) -> ExceptionReport:
    """Apply `exceptions` to `advisories` as the module docstring says."""
    status = {item.index: _status(item, today, max_days) for item in exceptions}
    used: dict[int, list[str]] = {item.index: [] for item in exceptions}
    touched: dict[int, list[str]] = {item.index: [] for item in exceptions}
    coverage: list[Coverage] = []
    findings: list[Finding] = []
    for advisory in advisories:
        match = advisory.match
        what = f"{match.id} in {match.package} {match.version}"
        folded = {vuln_id.casefold() for vuln_id in advisory.ids}
        applicable = [item for item in exceptions if item.key in folded
                      and item.covers_package(match.package, match.version)]
        for item in applicable:
            touched[item.index].append(what)
        valid = [item for item in applicable if status[item.index] == "active"]
        uncovered = tuple(rid for rid, ids in advisory.records
                          if not any(item.key in {i.casefold() for i in ids} for item in valid))
        if valid and not uncovered:
            by = tuple(item for item in valid
                       if any(item.key in {i.casefold() for i in ids}
                              for _, ids in advisory.records))
            for item in by:
                used[item.index].append(what)
            coverage.append(Coverage(by=by))
            continue
        partial = tuple(item for item in valid if uncovered)
        coverage.append(Coverage(partial=partial, uncovered=uncovered))
        for item in partial:
            findings.append(finding(
                "EXCEPTION_PARTIAL", Severity.WARNING,
                f"{_label(item)} applies to {what}, which merges several advisory records, "
                f"but does not name {', '.join(uncovered)}; nothing is suppressed",
                item.location,
                fix=f"add an exception for {', '.join(uncovered)} (each needs its own reason "
                    "and approval), or upgrade the package"))
    reported: list[dict[str, Any]] = []
    for item in exceptions:
        state = status[item.index]
        if state == "expired":
            hit = (f"; it would apply to {', '.join(touched[item.index])}"
                   if touched[item.index] else "")
            findings.append(finding(
                "EXCEPTION_EXPIRED", Severity.ERROR,
                f"{_label(item)} expired on {item.expires.isoformat()}{hit}", item.location))
        elif state == "too_long":
            findings.append(finding(
                "EXCEPTION_TOO_LONG", Severity.ERROR,
                f"{_label(item)} expires on {item.expires.isoformat()}, "
                f"{(item.expires - today).days} days from today; the policy allows at most "
                f"{max_days} days (exception_max_days), so it suppresses nothing",
                item.location))
        elif not touched[item.index]:
            findings.append(finding(
                "EXCEPTION_UNUSED", Severity.WARNING,
                f"{_label(item)} matched no vulnerability in the audited packages",
                item.location))
        reported.append({**item.to_json(), "status": state if state != "active" else (
            "applied" if used[item.index] else ("partial" if touched[item.index]
                                                else "unused")),
            "suppresses": used[item.index]})
    return ExceptionReport(coverage=coverage, findings=findings, exceptions=reported)
