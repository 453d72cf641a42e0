"""Online vulnerability services: pip-audit's PyPI and OSV services, through pip-audit's library.

pip-audit is imported lazily (it pulls in requests, CacheControl and pip-api, which runs
`pip --version`: about half a second), and only when the policy or `--service` asks for it.

What pip-audit gives and what it does not:
- the queries, the HTTP session (with its cache) and the affected/withdrawn decisions are
  pip-audit's (`OsvService.query`, `PyPIService.query`);
- its `VulnerabilityResult` keeps no severity, so the raw reply is captured with a requests
  response hook on the service's own session, and each OSV record is parsed with our OSV model
  to rate it from its CVSS vectors (`severity.severity_of`) and compute the fixed versions the
  way the offline engine does. PyPI's JSON API carries no severity: every advisory from it is
  `unknown`, which the policy's `unknown_severity` then decides;
- the OSV endpoint is pip-audit's `osv_url` setting. PyPI's JSON API base URL is not a
  setting in pip-audit (it requests `https://pypi.org/pypi/NAME/VERSION/json`), so a configured
  base URL is honoured with a requests transport adapter mounted on the service's session for
  that prefix (the documented requests mechanism), which sends the same request to the
  configured host instead. pip-audit itself is not patched.

Fail closed: a connection error, a timeout, an HTTP error, a reply that is not the documented
shape: each makes the audit inconclusive (exit 2) with the service's URL in the message. A
package the PyPI API does not know (404) cannot be audited: PACKAGE_NOT_FOUND, inconclusive.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from changegate.errors import ChangegateError
from changegate.gates.audit.engine import Match
from changegate.gates.audit.services import Advisory, ServiceReport, group_by_alias
from changegate.gates.audit.severity import UNKNOWN, RatedSeverity
from changegate.result import Location

DEFAULT_OSV_URL = "https://api.osv.dev/v1/query"
DEFAULT_PYPI_URL = "https://pypi.org"
_PYPI_PREFIX = "https://pypi.org/pypi/"
_ID_PREFERENCE = ("PYSEC-", "GHSA-")


def _primary(ids: Sequence[str]) -> str:
    """The id a vulnerability is named by: PYSEC first, then GHSA, then the smallest (as the
    offline engine names its matches, so both sources name a vulnerability alike)."""
    def rank(vuln_id: str) -> tuple[int, str]:
        for position, prefix in enumerate(_ID_PREFERENCE):
            if vuln_id.startswith(prefix):
                return position, vuln_id
        return len(_ID_PREFERENCE), vuln_id
    return min(ids, key=rank)


@dataclass
class PipAuditService:
    """pip-audit's `osv` or `pypi` service, with the reply captured for severity and evidence."""

    service: str  # "osv" or "pypi"
    cache_dir: Path
    url: str | None = None
    timeout: float = 30.0
    now: datetime | None = None
    name: str = "pip-audit"

    @property
    def endpoint(self) -> str:
        if self.service == "osv":
            return self.url or DEFAULT_OSV_URL
        return (self.url or DEFAULT_PYPI_URL).rstrip("/")

    def _build(self) -> Any:
        from pip_audit._service import (  # type: ignore[import-untyped,unused-ignore]
            OsvService,
            PyPIService,
        )

        timeout = math.ceil(self.timeout)
        if self.service == "osv":
            return OsvService(cache_dir=self.cache_dir, timeout=timeout, osv_url=self.endpoint)
        service = PyPIService(cache_dir=self.cache_dir, timeout=timeout)
        if self.endpoint != DEFAULT_PYPI_URL:
            service.session.mount(_PYPI_PREFIX, _rebase_adapter(self.endpoint + "/pypi/"))
        return service

    def audit(self, packages: Sequence[tuple[str, str]]) -> ServiceReport:
        import requests
        from packaging.version import InvalidVersion, Version
        from pip_audit._service import (  # type: ignore[import-untyped,unused-ignore]
            ConnectionError as ServiceUnreachable,
        )
        from pip_audit._service import (  # type: ignore[import-untyped,unused-ignore]
            ResolvedDependency,
            ServiceError,
        )

        service = self._build()
        captured: list[Any] = []

        def capture(response: Any, *_args: Any, **_kwargs: Any) -> Any:
            captured.append(response)
            return response

        service.session.hooks["response"].append(capture)
        queried_at = self.now or datetime.now(timezone.utc)
        advisories: list[Advisory] = []
        not_found: list[tuple[str, str, str]] = []
        fetched: dict[str, dict[str, Any]] = {}
        for name, version in packages:
            captured.clear()
            dependency = ResolvedDependency(name=name, version=Version(version))
            what = f"{name} {version}"
            try:
                spec, results = service.query(dependency)
                reply = captured[-1].json() if captured and not spec.is_skipped() else None
            except ServiceUnreachable as exc:
                raise self._unavailable(f"{exc}") from None
            except requests.exceptions.JSONDecodeError as exc:
                raise self._malformed(what, f"the reply is not JSON ({exc})") from None
            except requests.exceptions.RequestException as exc:
                raise self._unavailable(f"{type(exc).__name__}: {exc}") from None
            except ServiceError as exc:
                cause = exc.__cause__ or exc
                raise ChangegateError(
                    "SERVICE_ERROR", f"the {self.service} service at {self.endpoint} failed "
                    f"for {what}: {cause}", Location(file=self.endpoint),
                    fix="retry later; the audit cannot pass while the service fails") from None
            except (InvalidVersion, KeyError, TypeError, AttributeError, ValueError) as exc:
                raise self._malformed(what, f"{type(exc).__name__}: {exc}") from None
            if spec.is_skipped():
                not_found.append((name, version, str(getattr(spec, "skip_reason", ""))))
                continue
            advisories.extend(self._advisories(name, version, results, reply, fetched))
        database = self._manifest(fetched)
        database.update(service=self.service, url=self.endpoint,
                        queried_at=queried_at.astimezone(timezone.utc).isoformat())
        return ServiceReport(advisories=advisories, database=database, not_found=not_found,
                             details={"online_records": [fetched[k] for k in sorted(fetched)]})

    # -- pieces ---------------------------------------------------------------------------
    def _unavailable(self, why: str) -> ChangegateError:
        return ChangegateError(
            "SERVICE_UNAVAILABLE", f"cannot reach the {self.service} vulnerability service at "
            f"{self.endpoint}: {why}", Location(file=self.endpoint),
            fix="check the network path to the service (proxy, firewall), or audit offline "
                "against an OSV database (--db)")

    def _malformed(self, what: str, why: str) -> ChangegateError:
        return ChangegateError(
            "SERVICE_ERROR", f"the {self.service} service at {self.endpoint} answered the "
            f"query for {what} with an unexpected reply: {why}", Location(file=self.endpoint),
            fix="check that the URL is the service's API (OSV: the /v1/query endpoint; "
                "PyPI: the index whose JSON API serves /pypi/NAME/VERSION/json)")

    def _raw_records(self, reply: Any, what: str) -> list[dict[str, Any]]:
        key = "vulns" if self.service == "osv" else "vulnerabilities"
        if not reply:
            return []
        if not isinstance(reply, dict) or not isinstance(reply.get(key, []), list):
            raise self._malformed(what, f"no {key!r} list")
        records = reply.get(key) or []
        if not all(isinstance(r, dict) and isinstance(r.get("id"), str) for r in records):
            raise self._malformed(what, f"an entry of {key!r} has no id")
        return [r for r in records if r.get("withdrawn") is None]

    def _advisories(self, name: str, version: str, results: list[Any], reply: Any,
                    fetched: dict[str, dict[str, Any]]) -> list[Advisory]:
        from packaging.utils import canonicalize_name
        from packaging.version import Version

        what = f"{name} {version}"
        raw = self._raw_records(reply, what)
        by_ids = {frozenset((r["id"], *_strings(r.get("aliases")))): r for r in raw}
        rated: list[tuple[str, frozenset[str], RatedSeverity, list[Version], str | None]] = []
        current = Version(version)
        for result in results:
            ids = frozenset((str(result.id), *map(str, result.aliases)))
            record = by_ids.get(ids)
            if record is None:  # pip-audit named it by an alias; find the record holding it
                record = next((r for key, r in by_ids.items() if ids <= key), None)
            if record is None:
                raise self._malformed(what, f"pip-audit reported {result.id}, which is not "
                                      "in the reply")
            fetched[record["id"]] = record
            fixes = [v for v in result.fix_versions if v > current]
            severity, summary = UNKNOWN, record.get("summary")
            if self.service == "osv":
                severity, osv_fixes = self._rate(record, str(canonicalize_name(name)),
                                                 current, what)
                fixes = sorted(set(fixes) | set(osv_fixes))
            rated.append((record["id"], ids, severity, fixes,
                          summary if isinstance(summary, str) else None))
        out = []
        for group in group_by_alias((item[0], item[1]) for item in rated):
            members = [rated[i] for i in group]
            ids = frozenset().union(*(m[1] for m in members))
            record_ids = sorted(m[0] for m in members)
            primary = _primary(record_ids)
            known = [m[2] for m in members if m[2].level is not None]
            best = max(known, key=lambda s: (s.level, s.score or 0.0)) if known else UNKNOWN
            fixed = sorted({v for m in members for v in m[3]})
            head = next(m for m in members if m[0] == primary)
            match = Match(package=name, version=version, id=primary,
                          aliases=tuple(sorted(ids - {primary})), records=tuple(record_ids),
                          severity=best, fixed_in=tuple(str(v) for v in fixed),
                          summary=head[4], files=())
            out.append(Advisory(match, tuple((m[0], m[1]) for m in sorted(members)),
                                f"{self.service} service"))
        return out

    def _rate(self, record: dict[str, Any], package: str, current: Any,
              what: str) -> tuple[RatedSeverity, list[Any]]:
        from changegate.gates.audit import evaluate
        from changegate.gates.audit.osv import RecordError, parse_record
        from changegate.gates.audit.severity import severity_of

        try:
            parsed = parse_record(record, f"{self.endpoint}#{record['id']}")
        except RecordError as exc:
            raise self._malformed(what, f"record {record['id']} is not OSV: {exc.message}"
                                  ) from None
        fixed = evaluate.fixed_versions(parsed.affected_for(package), current)
        return severity_of(parsed, package), fixed

    def _manifest(self, fetched: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """The same manifest as an OSV database on disk, over the records fetched: each one as
        canonical JSON named `<id>.json`, so the digest identifies exactly what was decided on."""
        from changegate.gates.audit.database import content_digest
        from changegate.gates.audit.osv import format_timestamp, parse_timestamp

        files = sorted((f"{rid}.json", json.dumps(record, sort_keys=True,
                                                  separators=(",", ":")).encode("utf-8"))
                       for rid, record in fetched.items())
        newest: datetime | None = None
        for record in fetched.values():
            try:
                stamp = parse_timestamp(str(record.get("modified", "")))
            except ValueError:
                continue
            newest = stamp if newest is None else max(newest, stamp)
        return {"sha256": content_digest(files), "records": len(files),
                "newest_modified": format_timestamp(newest).replace(".000000Z", "Z")
                if newest else None}


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _rebase_adapter(base: str) -> Any:
    """A transport adapter that sends `https://pypi.org/pypi/...` requests to `base` instead."""
    from requests.adapters import HTTPAdapter

    class RebaseAdapter(HTTPAdapter):
        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            if request.url and request.url.startswith(_PYPI_PREFIX):
                request.url = base + request.url[len(_PYPI_PREFIX):]
            return super().send(request, *args, **kwargs)

    return RebaseAdapter(max_retries=0)
