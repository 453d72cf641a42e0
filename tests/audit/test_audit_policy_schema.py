"""The JSON Schema fragment for `gates.audit` (data/policy-schema-audit.json) agrees with
AuditConfig: what the schema accepts the gate accepts, and the keys are the same.

The fragment is for src/changegate/policy/schema.json (owned by the policy module); until it is
merged there, `gates.audit` is an open object in the shipped schema and AuditConfig alone checks
it. This test merges it into a copy of the shipped schema and validates real policies with the
same validator the policy loader uses (fastjsonschema).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest

from changegate.errors import InputError
from changegate.gates.audit import config as audit_config
from changegate.gates.audit.config import AuditConfig
from changegate.policy.loader import schema as shipped_schema

FRAGMENT = json.loads((Path(__file__).parent / "data" / "policy-schema-audit.json")
                      .read_text(encoding="utf-8"))
EXCEPTION = {"id": "GHSA-j8r2-6x86-q33q", "reason": "no proxies", "approver": "jane",
             "ticket": "SEC-1", "expires": "2027-01-15"}


def validator() -> Any:
    merged = copy.deepcopy(shipped_schema())
    merged["$defs"].update(copy.deepcopy(FRAGMENT["$defs"]))
    merged["properties"]["gates"]["properties"]["audit"] = {"$ref": "#/$defs/audit"}
    return fastjsonschema.compile(merged)


def test_fragment_keys_match_the_config() -> None:
    audit = FRAGMENT["$defs"]["audit"]["properties"]
    assert set(audit) == audit_config._KNOWN_KEYS
    assert set(audit["database"]["properties"]) == audit_config._DATABASE_KEYS
    exception = FRAGMENT["$defs"]["vulnerabilityException"]["properties"]
    assert set(exception) == audit_config._EXCEPTION_KEYS
    assert tuple(exception["state"]["enum"]) == audit_config.VEX_STATES
    assert tuple(exception["justification"]["enum"]) == audit_config.VEX_JUSTIFICATIONS
    assert tuple(exception["response"]["items"]["enum"]) == audit_config.VEX_RESPONSES


@pytest.mark.parametrize("settings", [
    {},
    {"database": {"path": "osv", "sha256": "a" * 64, "max_age_days": 7, "allow_stale": True},
     "fail_on": "high", "unknown_severity": "warn", "skip_bad_records": True,
     "exception_max_days": 90, "source": "lock:uv.lock",
     "exceptions": [EXCEPTION, {**EXCEPTION, "package": "requests", "versions": ["<2.31"],
                                "state": "not_affected",
                                "justification": "code_not_reachable"}]},
    {"service": "osv", "service_url": "https://osv.internal.example/v1/query",
     "timeout_seconds": 10},
])
def test_valid_settings_pass_both(settings: dict[str, Any]) -> None:
    validator()({"version": 1, "gates": {"audit": settings}})
    AuditConfig.from_settings(settings)


@pytest.mark.parametrize("settings", [
    {"fail_on": "severe"},
    {"unknown": 1},
    {"database": {"path": "osv", "sha256": "abc"}},
    {"database": {"max_age": 7}},
    {"service": "snyk"},
    {"exception_max_days": 0},
    {"exceptions": [{k: v for k, v in EXCEPTION.items() if k != "ticket"}]},
    {"exceptions": [{**EXCEPTION, "expires": "soon"}]},
    {"exceptions": [{**EXCEPTION, "versions": ["1.0"]}]},
    {"exceptions": [{**EXCEPTION, "package": "x", "versions": [2.1]}]},
    {"exceptions": [{**EXCEPTION, "justification": "because"}]},
])
def test_invalid_settings_fail_both(settings: dict[str, Any]) -> None:
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        validator()({"version": 1, "gates": {"audit": settings}})
    with pytest.raises(InputError):
        AuditConfig.from_settings(settings)
