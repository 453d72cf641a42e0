"""S3 retention rules that a real server cannot show: a store that ignores lock headers,
calendar arithmetic, versioning off. A tiny in-memory client stands in for boto3 here only.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from changegate.errors import ChangegateError
from changegate.evidence.settings import StoreSettings
from changegate.evidence.stores.s3 import S3Store, add_years, required_days


class IgnoringClient:
    """Says Object Lock is configured, accepts lock headers, and locks nothing."""

    def __init__(self, versioning: str = "Enabled") -> None:
        self.objects: dict[str, bytes] = {}
        self.versioning = versioning

    def get_bucket_versioning(self, **_: Any) -> dict[str, Any]:
        return {"Status": self.versioning}

    def get_object_lock_configuration(self, **_: Any) -> dict[str, Any]:
        return {"ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled", "Rule": {
            "DefaultRetention": {"Mode": "COMPLIANCE", "Years": 10}}}}

    def put_object(self, *, Key: str, Body: bytes, **_: Any) -> dict[str, Any]:
        self.objects[Key] = Body
        return {}

    def head_object(self, **_: Any) -> dict[str, Any]:
        return {}


def store(client: IgnoringClient) -> S3Store:
    settings = StoreSettings.from_mapping({"type": "s3", "bucket": "b", "retention_years": 7})
    return S3Store(settings, {}, client=client)


def test_a_store_that_ignores_lock_headers_is_refused() -> None:
    with pytest.raises(ChangegateError) as caught:
        store(IgnoringClient()).put("records/x.json", b"{}")
    assert caught.value.rule == "EVIDENCE_RETENTION_UNVERIFIED"
    assert "does not enforce Object Lock" in caught.value.message


def test_versioning_must_be_enabled() -> None:
    with pytest.raises(ChangegateError) as caught:
        store(IgnoringClient(versioning="Suspended")).describe()
    assert "bucket versioning is Suspended" in caught.value.message


def test_calendar_years() -> None:
    leap = datetime(2028, 2, 29, tzinfo=timezone.utc)
    assert add_years(leap, 1) == datetime(2029, 2, 28, tzinfo=timezone.utc)
    assert required_days(7, datetime(2026, 1, 1, tzinfo=timezone.utc)) == 2557
    assert required_days(1, datetime(2027, 6, 1, tzinfo=timezone.utc)) == 366
    assert add_years(leap, 4) - leap == timedelta(days=1461)
