"""`gates.audit` settings: typed defaults, and errors that name the key (POLICY_INVALID)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from changegate.errors import InputError
from changegate.gates.audit.config import AuditConfig, service_url
from changegate.gates.audit.severity import SeverityLevel, UnknownSeverity
from changegate.result import Location

GOOD_EXCEPTION = {"id": "GHSA-x", "reason": "r", "approver": "a", "ticket": "T-1",
                  "expires": "2027-01-15"}


def test_defaults_fail_closed() -> None:
    config = AuditConfig.from_settings({})
    assert config.fail_on is SeverityLevel.LOW
    assert config.unknown_severity is UnknownSeverity.FAIL
    assert config.skip_bad_records is False
    assert config.exception_max_days == 365
    assert config.database.max_age_days is None and config.database.allow_stale is False
    assert config.service is None and config.database.path is None


def test_full_settings() -> None:
    config = AuditConfig.from_settings({
        "source": "lock:uv.lock",
        "database": {"path": "osv/all.zip", "sha256": "SHA256:" + "AB" * 32,
                     "max_age_days": 7, "allow_stale": False},
        "fail_on": "high", "unknown_severity": "warn", "skip_bad_records": True,
        "exception_max_days": 90, "timeout_seconds": 10,
        "exceptions": [{**GOOD_EXCEPTION, "package": "Jinja2", "versions": ["2.10", "<3"],
                        "state": "not_affected", "justification": "code_not_present"}],
    })
    assert config.database.sha256 == "ab" * 32
    assert config.fail_on is SeverityLevel.HIGH
    (item,) = config.exceptions
    assert item.expires == date(2027, 1, 15)
    assert item.covers_package("jinja2", "2.10") and item.covers_package("JINJA2", "2.11")
    assert not item.covers_package("jinja2", "3.0") and not item.covers_package("flask", "1")
    assert item.state == "not_affected" and item.justification == "code_not_present"
    assert len(config.to_json()["sha256"]) == 64


@pytest.mark.parametrize(("settings", "key"), [
    ({"fail_no": "high"}, "gates.audit.fail_no"),
    ({"fail_on": "severe"}, "gates.audit.fail_on"),
    ({"unknown_severity": "ignore"}, "gates.audit.unknown_severity"),
    ({"skip_bad_records": "yes"}, "gates.audit.skip_bad_records"),
    ({"exception_max_days": 0}, "gates.audit.exception_max_days"),
    ({"service": "snyk"}, "gates.audit.service"),
    ({"service": "osv", "database": {"path": "db"}}, "gates.audit.service"),
    ({"service_url": "http://osv.example/v1/query"}, "gates.audit.service_url"),
    ({"database": {"sha256": "abc"}}, "gates.audit.database.sha256"),
    ({"database": {"max_age": 7}}, "gates.audit.database.max_age"),
    ({"database": {"max_age_days": -1}}, "gates.audit.database.max_age_days"),
    ({"source": "lock:"}, "gates.audit.source"),
    ({"exceptions": {}}, "gates.audit.exceptions"),
    ({"exceptions": [{k: v for k, v in GOOD_EXCEPTION.items() if k != "approver"}]},
     "gates.audit.exceptions[0]"),
    ({"exceptions": [{**GOOD_EXCEPTION, "ticket": ""}]}, "gates.audit.exceptions[0]"),
    ({"exceptions": [{**GOOD_EXCEPTION, "expires": "next year"}]},
     "gates.audit.exceptions[0].expires"),
    ({"exceptions": [{**GOOD_EXCEPTION, "versions": ["1.0"]}]},
     "gates.audit.exceptions[0].versions"),
    ({"exceptions": [{**GOOD_EXCEPTION, "package": "x", "versions": ["~~1"]}]},
     "gates.audit.exceptions[0].versions[0]"),
    ({"exceptions": [{**GOOD_EXCEPTION, "justification": "trust me"}]},
     "gates.audit.exceptions[0].justification"),
    ({"exceptions": [{**GOOD_EXCEPTION, "state": "exploitable",
                      "justification": "code_not_present"}]},
     "gates.audit.exceptions[0].justification"),
    ({"exceptions": [{**GOOD_EXCEPTION, "response": ["ignore"]}]},
     "gates.audit.exceptions[0].response[0]"),
    ({"exceptions": [{**GOOD_EXCEPTION, "owner": "me"}]}, "gates.audit.exceptions[0].owner"),
])
def test_errors_name_the_key(settings: dict[str, Any], key: str) -> None:
    seen: list[tuple[str | int, ...]] = []

    def locate(*path: str | int) -> Location:
        seen.append(path)
        return Location(file=".changegate.yml", line=40 + len(path))

    with pytest.raises(InputError) as raised:
        AuditConfig.from_settings(settings, locate)
    assert raised.value.rule == "POLICY_INVALID"
    assert raised.value.message.startswith(key + ":"), raised.value.message
    assert raised.value.location.file == ".changegate.yml"


def test_service_urls_are_https_or_loopback_http() -> None:
    assert service_url("https://osv.internal.example/v1/query/") == \
        "https://osv.internal.example/v1/query"
    assert service_url("http://127.0.0.1:8080/v1/query") == "http://127.0.0.1:8080/v1/query"
    assert service_url("http://localhost:9") == "http://localhost:9"
    with pytest.raises(InputError) as raised:
        service_url("http://mirror.example")
    assert raised.value.rule == "AUDIT_USAGE" and "--service-url" in raised.value.message
