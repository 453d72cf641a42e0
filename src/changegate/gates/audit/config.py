"""The audit gate's settings (policy `gates.audit`), typed and checked, with errors naming the key.

The policy loader validates the file against the shipped JSON Schema, but the audit settings
are validated again here: an environment's `settings.audit` override is merged after the schema
ran, and a typo (`fail_no: high`, an exception without an approver, a date that is not a date)
must never silently weaken the gate. Every error names the key and, when the policy is known,
its file and line (rule POLICY_INVALID, exit 2).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from changegate.errors import InputError
from changegate.gates.audit.severity import SeverityLevel, UnknownSeverity
from changegate.result import Location

PREFIX = "gates.audit"
RULE = "POLICY_INVALID"
SERVICES = ("osv", "pypi")
FAIL_ON = ("low", "medium", "high", "critical")
SOURCE_KINDS = ("lock", "requirements", "python", "sbom")
DEFAULT_EXCEPTION_MAX_DAYS = 365
DEFAULT_TIMEOUT_SECONDS = 30.0

# CycloneDX 1.6 `vulnerabilities[].analysis` vocabularies (bom-1.6.schema.json).
VEX_STATES = ("resolved", "resolved_with_pedigree", "exploitable", "in_triage",
              "false_positive", "not_affected")
VEX_JUSTIFICATIONS = ("code_not_present", "code_not_reachable", "requires_configuration",
                      "requires_dependency", "requires_environment", "protected_by_compiler",
                      "protected_at_runtime", "protected_at_perimeter",
                      "protected_by_mitigating_control")
VEX_RESPONSES = ("can_not_fix", "will_not_fix", "update", "rollback", "workaround_available")

_KNOWN_KEYS = {"source", "database", "service", "service_url", "timeout_seconds", "fail_on",
               "unknown_severity", "skip_bad_records", "exception_max_days", "exceptions"}
_DATABASE_KEYS = {"path", "sha256", "max_age_days", "allow_stale"}
_EXCEPTION_KEYS = {"id", "package", "versions", "reason", "approver", "ticket", "expires",
                   "state", "justification", "response"}

Locate = Callable[..., Location]


def _nowhere(*_path: str | int) -> Location:
    return Location()


@dataclass(frozen=True)
class DatabaseSettings:
    """`database`: an OSV directory or all.zip on disk, optionally pinned and age-limited."""

    path: str | None = None
    sha256: str | None = None
    max_age_days: float | None = None
    allow_stale: bool = False


@dataclass(frozen=True)
class VulnerabilityException:
    """One approved exception (`exceptions[i]`), as the security team wrote it.

    `id` names an advisory by its id or any alias (compared case-insensitively); `package`
    (PEP 503 compared) and `versions` (PEP 440 specifiers; a bare version means `==`) narrow
    it. `state`/`justification`/`response` are the CycloneDX VEX analysis it is published as.
    """

    index: int
    id: str
    reason: str
    approver: str
    ticket: str
    expires: date
    package: str | None = None
    versions: tuple[str, ...] = ()
    state: str = "exploitable"
    justification: str | None = None
    response: tuple[str, ...] = ()
    location: Location = field(default_factory=Location, compare=False)

    @property
    def key(self) -> str:
        return self.id.casefold()

    @property
    def package_key(self) -> str | None:
        return canonicalize_name(self.package) if self.package else None

    def covers_package(self, name: str, version: str) -> bool:
        """Whether the exception's package/versions narrowing admits this package version."""
        if self.package_key is not None and canonicalize_name(name) != self.package_key:
            return False
        if not self.versions:
            return True
        try:
            parsed = Version(version)
        except InvalidVersion:
            return False
        return any(_specifier(text).contains(parsed, prereleases=True)
                   for text in self.versions)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "package": self.package, "versions": list(self.versions),
                "reason": self.reason, "approver": self.approver, "ticket": self.ticket,
                "expires": self.expires.isoformat(), "state": self.state,
                "justification": self.justification, "response": list(self.response)}


@dataclass(frozen=True)
class AuditConfig:
    """Typed `gates.audit` settings; defaults are those documented in docs/audit.md."""

    source: str | None = None
    database: DatabaseSettings = DatabaseSettings()
    service: str | None = None
    service_url: str | None = None
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    fail_on: SeverityLevel = SeverityLevel.LOW
    unknown_severity: UnknownSeverity = UnknownSeverity.FAIL
    skip_bad_records: bool = False
    exception_max_days: int = DEFAULT_EXCEPTION_MAX_DAYS
    exceptions: tuple[VulnerabilityException, ...] = ()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any],
                      locate: Locate = _nowhere) -> AuditConfig:
        """Check `settings` (the merged `gates.audit` mapping); `locate(*keys)` gives the
        policy file and line of a key under `gates.audit` for error messages."""
        if not isinstance(settings, Mapping):
            raise _error(locate, (), f"must be a mapping, not {type(settings).__name__}")
        unknown = sorted(set(settings) - _KNOWN_KEYS)
        if unknown:
            raise _error(locate, (unknown[0],), "is not a setting of the audit gate (known: "
                         + ", ".join(sorted(_KNOWN_KEYS)) + ")")
        database = _database(settings.get("database"), locate)
        service = _choice(settings.get("service"), ("service",), SERVICES, locate)
        if database.path and service:
            raise _error(locate, ("service",), "choose one vulnerability source: an OSV "
                         "database on disk (database.path) or an online service, not both")
        return cls(
            source=_source(settings.get("source"), locate),
            database=database,
            service=service,
            service_url=_url(settings.get("service_url"), ("service_url",), locate),
            timeout_seconds=_number(settings.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS),
                                    ("timeout_seconds",), locate, minimum=1.0),
            fail_on=SeverityLevel.parse(_choice(settings.get("fail_on", "low"), ("fail_on",),
                                                FAIL_ON, locate) or "low"),
            unknown_severity=UnknownSeverity(_choice(
                settings.get("unknown_severity", "fail"), ("unknown_severity",),
                ("fail", "warn"), locate) or "fail"),
            skip_bad_records=_bool(settings.get("skip_bad_records", False),
                                   ("skip_bad_records",), locate),
            exception_max_days=_integer(settings.get("exception_max_days",
                                                     DEFAULT_EXCEPTION_MAX_DAYS),
                                        ("exception_max_days",), locate),
            exceptions=_exceptions(settings.get("exceptions", []), locate),
        )

    def to_json(self) -> dict[str, Any]:
        """The effective settings, as recorded with the result (and hashed into `sha256`)."""
        data: dict[str, Any] = {
            "source": self.source,
            "database": {"path": self.database.path, "sha256": self.database.sha256,
                         "max_age_days": self.database.max_age_days,
                         "allow_stale": self.database.allow_stale},
            "service": self.service, "service_url": self.service_url,
            "timeout_seconds": self.timeout_seconds, "fail_on": self.fail_on.label,
            "unknown_severity": self.unknown_severity.value,
            "skip_bad_records": self.skip_bad_records,
            "exception_max_days": self.exception_max_days,
            "exceptions": [item.to_json() for item in self.exceptions],
        }
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        data["sha256"] = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        return data


# -- helpers ---------------------------------------------------------------------------------
def _dotted(path: tuple[str | int, ...]) -> str:
    out = PREFIX
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _error(locate: Locate, path: tuple[str | int, ...], message: str) -> InputError:
    where = locate(*path)
    return InputError(f"{_dotted(path)}: {message}", file=where.file, line=where.line,
                      rule=RULE, fix="fix the policy file (see docs/audit.md, Policy keys)")


def _choice(value: Any, path: tuple[str | int, ...], choices: tuple[str, ...],
            locate: Locate) -> str | None:
    if value is None:
        return None
    if value not in choices:
        raise _error(locate, path, f"must be one of {', '.join(choices)}, not {value!r}")
    return str(value)


def _string(value: Any, path: tuple[str | int, ...], locate: Locate) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _error(locate, path, f"must be a non-empty string, not {value!r}")
    return value.strip()


def _optional_string(value: Any, path: tuple[str | int, ...], locate: Locate) -> str | None:
    return None if value is None else _string(value, path, locate)


def _bool(value: Any, path: tuple[str | int, ...], locate: Locate) -> bool:
    if not isinstance(value, bool):
        raise _error(locate, path, f"must be true or false, not {value!r}")
    return value


def _number(value: Any, path: tuple[str | int, ...], locate: Locate, *,
            minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise _error(locate, path, f"must be a number of at least {minimum:g}, not {value!r}")
    return float(value)


def _integer(value: Any, path: tuple[str | int, ...], locate: Locate) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _error(locate, path, f"must be a whole number of days (1 or more), not {value!r}")
    return value


def _source(value: Any, locate: Locate) -> str | None:
    text = _optional_string(value, ("source",), locate)
    if text is None:
        return None
    kind, sep, rest = text.partition(":")
    if sep and kind in SOURCE_KINDS and not rest.strip():
        raise _error(locate, ("source",), f"{text!r} names no path after {kind}:")
    return text


def service_url(value: str, what: str = "--service-url") -> str:
    """A URL given on the command line, checked as the policy's `service_url` is."""
    try:
        checked = _url(value, ("service_url",), _nowhere)
    except InputError as exc:
        raise InputError(exc.message.replace(f"{PREFIX}.service_url", what, 1),
                         rule="AUDIT_USAGE") from None
    return checked if checked is not None else value


def _url(value: Any, path: tuple[str | int, ...], locate: Locate) -> str | None:
    """https, or plain http to a loopback address only (a local mirror or a test server):
    vulnerability data fetched over an unauthenticated network path could be forged."""
    text = _optional_string(value, path, locate)
    if text is None:
        return None
    parts = urlsplit(text)
    if parts.scheme == "https" and parts.hostname:
        return text.rstrip("/")
    if parts.scheme == "http" and parts.hostname and _loopback(parts.hostname):
        return text.rstrip("/")
    raise _error(locate, path, f"must be an https:// URL (http:// only to a loopback address), "
                 f"not {text!r}")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _database(value: Any, locate: Locate) -> DatabaseSettings:
    if value is None:
        return DatabaseSettings()
    if not isinstance(value, Mapping):
        raise _error(locate, ("database",), f"must be a mapping with path, sha256, "
                     f"max_age_days, allow_stale, not {value!r}")
    unknown = sorted(set(value) - _DATABASE_KEYS)
    if unknown:
        raise _error(locate, ("database", unknown[0]), "is not a key of database (known: "
                     + ", ".join(sorted(_DATABASE_KEYS)) + ")")
    sha256 = _optional_string(value.get("sha256"), ("database", "sha256"), locate)
    if sha256 is not None:
        from changegate.gates.audit.database import normalize_sha256

        try:
            sha256 = normalize_sha256(sha256)
        except InputError:
            raise _error(locate, ("database", "sha256"), "must be 64 hexadecimal digits "
                         f"(optionally prefixed by sha256:), not {sha256!r}") from None
    max_age = value.get("max_age_days")
    return DatabaseSettings(
        path=_optional_string(value.get("path"), ("database", "path"), locate),
        sha256=sha256,
        max_age_days=None if max_age is None else _number(
            max_age, ("database", "max_age_days"), locate, minimum=0.0),
        allow_stale=_bool(value.get("allow_stale", False), ("database", "allow_stale"), locate),
    )


def _date(value: Any, path: tuple[str | int, ...], locate: Locate) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            if len(value) == 10:
                return date.fromisoformat(value)
        except ValueError:
            pass
    raise _error(locate, path, f"must be a date written YYYY-MM-DD, not {value!r}")


def _specifier(text: str) -> SpecifierSet:
    stripped = text.strip()
    if stripped and stripped[0] not in "<>=!~":
        stripped = "==" + stripped
    return SpecifierSet(stripped)


def _versions(value: Any, path: tuple[str | int, ...], locate: Locate) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise _error(locate, path, f"must be a non-empty list of versions or PEP 440 "
                     f"specifiers, not {value!r}")
    out = []
    for position, item in enumerate(value):
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            # YAML reads an unquoted 2.10 as the number 2.1: a different version.
            raise _error(locate, (*path, position), f"quote the version ({item!r} was read as "
                         "a number, which can change it: 2.10 becomes 2.1)")
        text = _string(item, (*path, position), locate)
        try:
            _specifier(text)
        except InvalidSpecifier:
            raise _error(locate, (*path, position), f"{text!r} is neither a version nor a "
                         "PEP 440 specifier (e.g. 2.31.0, <2.32, >=1.0,<1.4)") from None
        out.append(text)
    return tuple(out)


def _exceptions(value: Any, locate: Locate) -> tuple[VulnerabilityException, ...]:
    if not isinstance(value, list):
        raise _error(locate, ("exceptions",), f"must be a list, not {value!r}")
    return tuple(_exception(item, index, locate) for index, item in enumerate(value))


def _exception(item: Any, index: int, locate: Locate) -> VulnerabilityException:
    here: tuple[str | int, ...] = ("exceptions", index)
    if not isinstance(item, Mapping):
        raise _error(locate, here, "must be a mapping with id, reason, approver, ticket and "
                     "expires")
    unknown = sorted(set(item) - _EXCEPTION_KEYS)
    if unknown:
        raise _error(locate, (*here, unknown[0]), "is not a key of an exception (known: "
                     + ", ".join(sorted(_EXCEPTION_KEYS)) + ")")
    for required in ("id", "reason", "approver", "ticket", "expires"):
        if item.get(required) in (None, ""):
            raise _error(locate, here, f"an exception needs {required!r} (every exception "
                         "names the advisory, why, who approved it, the ticket and when it "
                         "expires)")
    package = _optional_string(item.get("package"), (*here, "package"), locate)
    versions = _versions(item.get("versions"), (*here, "versions"), locate)
    if versions and package is None:
        raise _error(locate, (*here, "versions"), "versions narrow a package: set package too")
    justification = _choice(item.get("justification"), (*here, "justification"),
                            VEX_JUSTIFICATIONS, locate)
    state = _choice(item.get("state"), (*here, "state"), VEX_STATES, locate)
    if state is None:
        state = "not_affected" if justification else "exploitable"
    if justification and state != "not_affected":
        raise _error(locate, (*here, "justification"), "a justification explains a "
                     "not_affected state (CycloneDX); remove it or set state: not_affected")
    response = item.get("response", [])
    if isinstance(response, str):
        response = [response]
    if not isinstance(response, list):
        raise _error(locate, (*here, "response"), f"must be a list, not {response!r}")
    responses = tuple(_choice(r, (*here, "response", i), VEX_RESPONSES, locate) or ""
                      for i, r in enumerate(response))
    return VulnerabilityException(
        index=index,
        id=_string(item.get("id"), (*here, "id"), locate),
        reason=_string(item.get("reason"), (*here, "reason"), locate),
        approver=_string(item.get("approver"), (*here, "approver"), locate),
        ticket=_string(str(item.get("ticket")), (*here, "ticket"), locate),
        expires=_date(item.get("expires"), (*here, "expires"), locate),
        package=package, versions=versions, state=state, justification=justification,
        response=responses, location=locate(*here),
    )
