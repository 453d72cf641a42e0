"""The audit gate: packages from a source, vulnerabilities from a service, judged by the policy.

    inventory (sources) -> advisories (services) -> exceptions -> severity threshold -> result

What makes the result what it is:
- `pass` (0): every audited package is free of known vulnerabilities at or above `fail_on`
  (or each one is suppressed by a valid exception), and everything could be checked;
- `fail` (1): a vulnerability at or above `fail_on`, an unrated one under
  `unknown_severity: fail`, or an expired / over-long exception;
- `error` (2): something could not be checked: a package without an exact or PEP 440 version,
  a package the service does not know, a stale database the policy does not allow, a pin
  mismatch, bad input or an unreachable service. The findings found so far are still reported.

The manifest of what the audit ran against (content sha256, record count, newest `modified`)
is in the summary line and in `details.database`, so the decision can be replayed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from changegate.errors import ChangegateError, InputError
from changegate.gates.audit.config import AuditConfig
from changegate.gates.audit.exceptions import Coverage, evaluate
from changegate.gates.audit.rules import finding, is_inconclusive
from changegate.gates.audit.services import Advisory, OfflineDatabase, VulnerabilityService
from changegate.gates.audit.severity import Outcome, SeverityLevel, judge
from changegate.gates.audit.sources import AuditedPackage, Inventory, select_source
from changegate.result import Finding, GateResult, Location, Severity, Status

GATE = "audit"
_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.NOTE: 2}
_SOURCE_NAMES = {"CVSS_V4": "CVSS v4", "CVSS_V3": "CVSS v3", "CVSS_V2": "CVSS v2"}


@dataclass(frozen=True)
class AuditRequest:
    """What the command line asked for; anything left None comes from the policy."""

    workdir: Path
    environ: Mapping[str, str]
    sbom: str | None = None
    requirements: str | None = None
    lock: str | None = None
    python: str | None = None
    db: str | None = None
    db_sha256: str | None = None
    service: str | None = None
    service_url: str | None = None
    fail_on: str | None = None
    no_cache: bool = False


@dataclass
class AuditRun:
    """The result plus what the report writers (VEX, GitLab) need beyond the JSON details."""

    result: GateResult
    advisories: list[Advisory] = field(default_factory=list)
    coverage: list[Coverage] = field(default_factory=list)
    packages: list[AuditedPackage] = field(default_factory=list)  # parallel to advisories
    inventory: Inventory | None = None
    scanner: str = ""
    started: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    finished: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


def cache_root(environ: Mapping[str, str]) -> Path | None:
    """`$XDG_CACHE_HOME/changegate`, else `~/.cache/changegate` (from the given environment)."""
    base = environ.get("XDG_CACHE_HOME") or (
        str(Path(environ["HOME"]) / ".cache") if environ.get("HOME") else None)
    return Path(base) / "changegate" if base else None


def _resolve(workdir: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else workdir / path


@contextlib.contextmanager
def open_service(request: AuditRequest, config: AuditConfig,
                 now: datetime) -> Iterator[VulnerabilityService]:
    """The service the command line, else the policy, chose; a temporary HTTP cache for an
    online service when no cache directory is known (removed afterwards)."""
    if request.db and request.service:
        raise InputError("choose one vulnerability source: --db or --service, not both",
                         rule="AUDIT_USAGE")
    db_path = request.db or (None if request.service else config.database.path)
    service = request.service or (None if request.db else config.service)
    root = None if request.no_cache else cache_root(request.environ)
    if db_path:
        # The policy's pin is about content, not a path: it holds whichever database is used.
        pinned = request.db_sha256 or config.database.sha256
        if request.db_sha256 and config.database.sha256:
            from changegate.gates.audit.database import normalize_sha256

            if normalize_sha256(request.db_sha256) != config.database.sha256:
                raise InputError("--db-sha256 differs from the policy's database.sha256; "
                                 "the database cannot match both", rule="DB_SHA256_MISMATCH",
                                 fix="drop --db-sha256, or update the policy's pin")
        yield OfflineDatabase(
            path=_resolve(request.workdir, db_path), label=db_path, expected_sha256=pinned,
            max_age_days=config.database.max_age_days, allow_stale=config.database.allow_stale,
            skip_bad_records=config.skip_bad_records,
            cache_dir=root / "osv" if root else None, now=now)
        return
    if request.db_sha256:
        raise InputError("--db-sha256 pins an OSV database on disk; it needs --db (or "
                         "gates.audit.database.path)", rule="AUDIT_USAGE")
    if not service:
        raise InputError(
            "no vulnerability source: pass --db PATH (an OSV directory or all.zip) or "
            "--service osv|pypi, or set gates.audit.database.path or gates.audit.service",
            rule="AUDIT_NO_DATABASE",
            fix="e.g. --db advisory-database (a clone of pypa/advisory-database), or "
                "--service osv to query api.osv.dev")
    from changegate.gates.audit.config import service_url
    from changegate.gates.audit.online import PipAuditService

    url = service_url(request.service_url) if request.service_url else config.service_url
    with contextlib.ExitStack() as stack:
        if root is not None:
            http_cache = root / "pip-audit"
        else:
            http_cache = Path(stack.enter_context(tempfile.TemporaryDirectory(
                prefix="changegate-pip-audit-")))
        yield PipAuditService(service=service, cache_dir=http_cache, url=url,
                              timeout=config.timeout_seconds, now=now)


def run(request: AuditRequest, config: AuditConfig, *,
        service: VulnerabilityService | None = None, now: datetime | None = None) -> AuditRun:
    """Audit the request's source against its vulnerability service, judged by `config`."""
    from changegate.gates.audit.database import DatabasePinMismatch

    started = now or datetime.now(timezone.utc)
    if request.fail_on:
        config = replace(config, fail_on=SeverityLevel.parse(request.fail_on))
    source = select_source(workdir=request.workdir, environ=request.environ,
                           sbom=request.sbom, requirements=request.requirements,
                           lock=request.lock, python=request.python,
                           policy_source=config.source)
    inventory = source.read()
    findings, audited = _triage(inventory)
    pairs = [(p.name, str(p.version)) for p in audited]
    with contextlib.ExitStack() as stack:
        chosen = service or stack.enter_context(open_service(request, config, started))
        try:
            report = chosen.audit(pairs)
        except DatabasePinMismatch as exc:
            result = GateResult.inconclusive(GATE, exc.rule, exc.message, exc.location,
                                             exc.fix)
            result.details = {"database": {"sha256": exc.actual, "expected_sha256":
                                           exc.expected, "records": None,
                                           "newest_modified": None},
                              "source": inventory.to_json()}
            return AuditRun(result=result, inventory=inventory, started=started)
    scanner = _scanner_name(report.database)
    by_key = {(canonicalize_name(p.name), str(p.version)): p for p in audited}
    packages = [by_key.get((canonicalize_name(a.match.package), a.match.version),
                           AuditedPackage(a.match.package, a.match.version, inventory.label))
                for a in report.advisories]
    for name, version, reason in report.not_found:
        package = by_key.get((canonicalize_name(name), version))
        findings.append(finding(
            "PACKAGE_NOT_FOUND", Severity.ERROR,
            f"{name} {version} could not be audited: {reason or 'the service does not know it'}",
            _where(package, inventory)))
    findings.extend(report.findings)
    today = started.astimezone(timezone.utc).date()
    exceptions = evaluate(report.advisories, config.exceptions, today=today,
                          max_days=config.exception_max_days)
    vulnerabilities: list[dict[str, Any]] = []
    vulnerability_findings: list[Finding] = []
    for advisory, covered, package in zip(report.advisories, exceptions.coverage, packages,
                                          strict=True):
        outcome = None if covered.suppressed else judge(advisory.match.severity,
                                                        config.fail_on, config.unknown_severity)
        vulnerabilities.append(_vulnerability_json(advisory, covered, package, outcome))
        if outcome is not None:
            vulnerability_findings.append(_vulnerability_finding(advisory, package, outcome,
                                                                 config.fail_on, inventory))
    vulnerability_findings.sort(key=_finding_rank)
    all_findings = vulnerability_findings + exceptions.findings + findings
    all_findings.sort(key=lambda f: _SEVERITY_ORDER[f.severity])
    status = (Status.ERROR if any(is_inconclusive(f) for f in all_findings) else
              Status.FAIL if any(f.severity is Severity.ERROR for f in all_findings) else
              Status.PASS)
    details: dict[str, Any] = {
        "database": report.database,
        "source": {**inventory.to_json(), "audited": len(audited)},
        "settings": config.to_json(),
        "vulnerabilities": vulnerabilities,
        "suppressed": [v for v in vulnerabilities if v["suppressed"]],
        "exceptions": exceptions.exceptions,
        "not_audited": [{"package": p.name, "version": p.version, "file": p.file,
                         "line": p.line, "reason": "local package"}
                        for p in inventory.packages if p.local],
        **report.details,
    }
    summary = _summary(status, inventory, len(audited), report.database, scanner,
                       vulnerabilities=vulnerabilities, findings=all_findings)
    result = GateResult(gate=GATE, status=status, summary=summary, findings=all_findings,
                        details=details)
    return AuditRun(result=result, advisories=report.advisories,
                    coverage=exceptions.coverage, packages=packages, inventory=inventory,
                    scanner=scanner, started=started,
                    finished=max(started, datetime.now(timezone.utc)))


# -- inventory ---------------------------------------------------------------------------------
def _where(package: AuditedPackage | None, inventory: Inventory) -> Location:
    if package is None:
        return Location(file=inventory.label)
    return Location(file=package.file or inventory.label, line=package.line)


def _triage(inventory: Inventory) -> tuple[list[Finding], list[AuditedPackage]]:
    """Which packages can be audited; the others become findings (never silently skipped)."""
    from changegate.gates.audit.evaluate import parse_version

    findings: list[Finding] = []
    audited: list[AuditedPackage] = []
    seen: set[tuple[str, object]] = set()
    for package in inventory.packages:
        where = _where(package, inventory)
        if package.local:
            findings.append(finding(
                "NOT_AUDITED", Severity.NOTE,
                f"{package.name} {package.version or ''} is a local package (installed or "
                "locked from a path), so no advisory database can name it; not audited".replace(
                    "  ", " "), where))
            continue
        if not package.version:
            findings.append(finding(
                "UNPINNED", Severity.ERROR,
                f"{package.name} has no exact version in {inventory.label}, so which release "
                "ships (and which advisories apply) cannot be told", where))
            continue
        version = parse_version(package.version.strip())
        if version is None:
            findings.append(finding(
                "BAD_VERSION", Severity.ERROR,
                f"{package.name} {package.version!r} is not a PEP 440 version, so it cannot be "
                "compared with advisories", where))
            continue
        key = (str(canonicalize_name(package.name)), version)
        if key in seen:
            continue
        seen.add(key)
        audited.append(package)
    for notice in inventory.notices:
        if notice.rule == "NOT_AUDITED":
            findings.append(finding("NOT_AUDITED", Severity.NOTE, notice.message,
                                    Location(file=notice.file, line=notice.line)))
    return findings, audited


# -- vulnerabilities -----------------------------------------------------------------------------
def _rating(advisory: Advisory) -> str:
    rated = advisory.match.severity
    if rated.level is None:
        return "unknown severity"
    if rated.source in _SOURCE_NAMES and rated.score is not None:
        return f"{rated.label} ({_SOURCE_NAMES[rated.source]} base score {rated.score:g})"
    return f"{rated.label} (the advisory database's rating)"


def _vulnerability_finding(advisory: Advisory, package: AuditedPackage, outcome: Outcome,
                           fail_on: SeverityLevel, inventory: Inventory) -> Finding:
    match = advisory.match
    aliases = ""
    if match.aliases:
        shown = list(match.aliases[:4]) + (["..."] if len(match.aliases) > 4 else [])
        aliases = f" ({', '.join(shown)})"
    fixed = (f"fixed in {', '.join(match.fixed_in)}" if match.fixed_in
             else "no fixed version is known")
    from changegate.gates.audit.vex import advisory_url

    message = (f"{match.package} {match.version}: {match.id}{aliases}, {_rating(advisory)}; "
               f"{fixed}.")
    if match.summary:
        message += f" {match.summary.strip().rstrip('.')}."
    message += f" See {advisory_url(match.id)}"
    if match.fixed_in:
        fix = (f"upgrade {match.package} to {match.fixed_in[0]} or later, or have the policy "
               f"owner add an exception for {match.id}")
    else:
        fix = (f"no fixed version of {match.package} is known: remove or replace it, or have "
               f"the policy owner add an exception for {match.id} (reason, approver, ticket, "
               "expires)")
    title = f"{match.id} in {match.package} {match.version}"
    where = _where(package, inventory)
    if outcome is Outcome.BELOW:
        return finding("VULNERABILITY_BELOW_THRESHOLD", Severity.NOTE,
                       message + f" (below fail_on: {fail_on.label})", where, fix=fix,
                       title=title)
    if match.severity.level is None:
        severity = Severity.ERROR if outcome is Outcome.FAIL else Severity.WARNING
        return finding("UNRATED_VULNERABILITY", severity, message, where, fix=fix, title=title)
    return finding("VULNERABLE_DEPENDENCY", Severity.ERROR, message, where, fix=fix,
                   title=title)


def _finding_rank(item: Finding) -> tuple[int, int, str]:
    order = {"VULNERABLE_DEPENDENCY": 0, "UNRATED_VULNERABILITY": 1,
             "VULNERABILITY_BELOW_THRESHOLD": 2}
    return (_SEVERITY_ORDER[item.severity], order.get(item.rule, 3), item.message)


def _exception_json(coverage: Coverage) -> dict[str, Any] | None:
    if not coverage.by:
        return None
    first = coverage.by[0]
    return {"id": first.id, "ticket": first.ticket, "approver": first.approver,
            "expires": first.expires.isoformat(), "reason": first.reason,
            "state": first.state, "justification": first.justification}


def _vulnerability_json(advisory: Advisory, coverage: Coverage, package: AuditedPackage,
                        outcome: Outcome | None) -> dict[str, Any]:
    match = advisory.match
    return {
        "package": match.package, "version": match.version, "id": match.id,
        "aliases": list(match.aliases), "severity": match.severity.label,
        "score": match.severity.score, "fixed_in": list(match.fixed_in),
        "suppressed": coverage.suppressed, "exception": _exception_json(coverage),
        "exceptions": [item.id for item in coverage.by],
        "outcome": "suppressed" if outcome is None else outcome.value,
        "severity_source": match.severity.source, "records": list(match.records),
        "summary": match.summary, "file": package.file, "line": package.line,
    }


# -- summary ---------------------------------------------------------------------------------
def _scanner_name(database: Mapping[str, Any]) -> str:
    if database.get("service"):
        return f"pip-audit {database['service']} service"
    return f"OSV database {database.get('path', '')}".strip()


def _summary(status: Status, inventory: Inventory, audited: int, database: Mapping[str, Any],
             scanner: str, *, vulnerabilities: list[dict[str, Any]],
             findings: list[Finding]) -> str:
    newest = database.get("newest_modified") or "unknown"
    manifest = (f"sha256 {database.get('sha256')}, {database.get('records')} records, newest "
                f"modified {newest}")
    text = (f"audited {audited} package{'' if audited == 1 else 's'} from {inventory.label} "
            f"against the {scanner} ({manifest})")
    if not vulnerabilities:
        text += ": no known vulnerabilities"
    else:
        failing = sum(1 for v in vulnerabilities if v["outcome"] == "fail")
        suppressed = sum(1 for v in vulnerabilities if v["suppressed"])
        text += (f": {len(vulnerabilities)} known vulnerabilit"
                 f"{'y' if len(vulnerabilities) == 1 else 'ies'} ({failing} failing, "
                 f"{suppressed} suppressed by exceptions)")
    if status is Status.ERROR:
        count = sum(1 for f in findings if is_inconclusive(f))
        text += f"; inconclusive: {count} thing{'' if count == 1 else 's'} could not be checked"
    return text


# -- report files ----------------------------------------------------------------------------
def write_atomic(path: Path, data: bytes, rule: str) -> None:
    """Write via a temporary file in the same directory and rename: never a partial report."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                             suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ChangegateError(rule, f"cannot write {path}: {exc.strerror}",
                              fix="choose a writable path") from None


def write_vex(audit: AuditRun, path: Path, *, project: str) -> str:
    """Write the CycloneDX 1.6 VEX document (validated first); returns its sha256."""
    import hashlib

    from changegate.gates.audit.vex import build_vex, validate_vex

    inventory = audit.inventory
    text = build_vex(audit.advisories, audit.coverage,
                     project=(inventory.project if inventory and inventory.project
                              else project),
                     project_version=inventory.project_version if inventory else None,
                     timestamp=audit.started)
    validate_vex(text)
    data = text.encode("utf-8")
    write_atomic(path, data, "VEX_WRITE_FAILED")
    return hashlib.sha256(data).hexdigest()


def write_gitlab_report(audit: AuditRun, path: Path) -> None:
    """Write GitLab's dependency_scanning report (validated against schema v15 first)."""
    import json

    from changegate.gates.audit.gitlab_report import build_report, validate_report

    label = audit.inventory.label if audit.inventory else "."
    pairs = [(advisory, package.file or label)
             for advisory, covered, package in zip(audit.advisories, audit.coverage,
                                                   audit.packages, strict=True)
             if not covered.suppressed]
    messages = [("warn" if f.severity is Severity.WARNING else "fatal", f.message)
                for f in audit.result.findings
                if f.rule in ("DB_STALE", "DB_RECORD_SKIPPED", "PACKAGE_NOT_FOUND", "UNPINNED",
                              "BAD_VERSION")]
    if audit.result.status is Status.ERROR and not messages:
        messages = [("fatal", audit.result.summary)]
    report = build_report(pairs, suppressed=sum(1 for c in audit.coverage if c.suppressed),
                          started=audit.started, finished=audit.finished,
                          scanner=audit.scanner or "changegate audit",
                          inconclusive=audit.result.status is Status.ERROR, messages=messages)
    validate_report(report)
    write_atomic(path, (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode(),
                 "GITLAB_REPORT_WRITE_FAILED")
