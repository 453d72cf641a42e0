"""The S3 store against a real SeaweedFS server with Object Lock (started once per session).

Marked for one xdist worker (`--dist loadgroup`): each worker would otherwise start its own
server. SeaweedFS gaps found while writing these tests are listed in docs/evidence.md.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from evidence_support import SeaweedFS, Workspace

from changegate.cli import main
from changegate.errors import ChangegateError
from changegate.evidence import statements as st
from changegate.evidence.settings import StoreSettings
from changegate.evidence.stores.s3 import S3Store
from changegate.evidence.verify import verify_store

pytestmark = pytest.mark.xdist_group("seaweedfs")
ENV = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


def s3_settings(seaweed: SeaweedFS, bucket: str, **extra: Any) -> dict[str, Any]:
    store = {"type": "s3", "bucket": bucket, "prefix": "prod/payments",
             "endpoint_url": seaweed.endpoint, "region": "us-east-1", "retention_years": 5,
             "mode": "retention", **extra}
    return {"store": store}


def reader(seaweed: SeaweedFS, bucket: str) -> S3Store:
    settings = StoreSettings.from_mapping({"type": "s3", "bucket": bucket, "mode": "plain",
                                           "prefix": "prod/payments",
                                           "endpoint_url": seaweed.endpoint})
    return S3Store(settings, ENV)


def test_retention_mode_writes_locked_records(workspace: Workspace, seaweed: SeaweedFS,
                                              bucket: Callable[..., str]) -> None:
    name = bucket(years=7)
    outcome = workspace.record(settings=s3_settings(seaweed, name), environ=ENV)[0]
    assert outcome["store"] == {"type": "s3", "uri": f"s3://{name}/prod/payments/",
                                "retention_years": 5}
    assert outcome["record_uri"] == (f"s3://{name}/prod/payments/records/"
                                     f"{outcome['record_sha256']}.json")
    assert outcome["verify_command"] == (
        f"changegate evidence verify --store s3://{name}/prod/payments/ --endpoint-url "
        f"{seaweed.endpoint} --record {outcome['record_sha256']}")
    client = seaweed.client()
    head = client.head_object(Bucket=name,
                              Key=f"prod/payments/records/{outcome['record_sha256']}.json")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] > datetime.now(timezone.utc) + timedelta(days=1825)
    segment = client.head_object(Bucket=name, Key="prod/payments/ledger/000000000000.jsonl")
    assert segment["ObjectLockMode"] == "COMPLIANCE"

    archive = reader(seaweed, name)
    report = verify_store(archive, record=outcome["record_sha256"])
    assert report.ok, report.problems
    assert report.entries == 7 and verify_store(workspace.store()).ok  # both ledgers

    import json

    vsa = json.loads(archive.get(f"records/{outcome['record_sha256']}.json") or b"")
    controls = {c["key"]: c["status"]
                for c in vsa["predicate"][st.CHANGE_RECORD_FIELD]["controls"]["results"]}
    assert controls["pci-dss-4.0.1:10.5.1"] == "pass"
    assert controls["ssdf:PS.3.1"] == "pass"
    store_statement = json.loads(archive.get(f"records/{outcome['statements'][0]['sha256']}"
                                             ".json") or b"")
    facts = store_statement["predicate"]["stores"][1]
    assert facts["object_lock"] == {"ObjectLockEnabled": "Enabled", "Rule": {
        "DefaultRetention": {"Mode": "COMPLIANCE", "Years": 7}}}
    assert facts["versioning"] == "Enabled"


def test_locked_records_cannot_be_deleted_or_shortened(workspace: Workspace,
                                                       seaweed: SeaweedFS,
                                                       bucket: Callable[..., str]) -> None:
    name = bucket(years=7)
    outcome = workspace.record(settings=s3_settings(seaweed, name), environ=ENV)[0]
    client = seaweed.client()
    key = f"prod/payments/records/{outcome['record_sha256']}.json"
    version = client.list_object_versions(Bucket=name, Prefix=key)["Versions"][0]["VersionId"]
    with pytest.raises(Exception, match="AccessDenied"):
        client.delete_object(Bucket=name, Key=key, VersionId=version)
    with pytest.raises(Exception, match="AccessDenied"):
        client.put_object_retention(Bucket=name, Key=key, VersionId=version, Retention={
            "Mode": "COMPLIANCE", "RetainUntilDate": datetime.now(timezone.utc)
            + timedelta(days=3)})


@pytest.mark.parametrize(("lock", "expected"), [
    ({"years": 1}, "the default retention is 1 year(s); the policy demands 5"),
    ({"years": None, "days": 30}, "the default retention is 30 day(s)"),
    ({"mode": "GOVERNANCE"}, "not COMPLIANCE"),
    ({"lock": False}, "object lock configuration unreadable"),
])
def test_retention_mode_refuses_a_short_or_missing_lock(
        workspace: Workspace, seaweed: SeaweedFS, bucket: Callable[..., str],
        lock: dict[str, Any], expected: str) -> None:
    name = bucket(**lock)
    with pytest.raises(ChangegateError) as caught:
        workspace.record(settings=s3_settings(seaweed, name), environ=ENV)
    assert caught.value.rule == "EVIDENCE_RETENTION_UNVERIFIED"
    assert expected in caught.value.message
    assert "put-object-lock-configuration" in (caught.value.fix or "")
    assert seaweed.client().list_objects_v2(Bucket=name).get("KeyCount", 0) == 0
    assert not (workspace.evidence / "ledger.jsonl").exists()  # nothing written anywhere


def test_a_lock_in_days_long_enough_is_accepted(workspace: Workspace, seaweed: SeaweedFS,
                                                bucket: Callable[..., str]) -> None:
    name = bucket(years=None, days=5 * 366)
    outcome = workspace.record(settings=s3_settings(seaweed, name), environ=ENV)[0]
    assert outcome["store"]["retention_years"] == 5


def test_plain_mode_archives_without_a_lock_and_says_so(workspace: Workspace,
                                                        seaweed: SeaweedFS,
                                                        bucket: Callable[..., str]) -> None:
    name = bucket(lock=False)
    settings = s3_settings(seaweed, name, mode="plain", retention_years=None)
    outcome = workspace.record(settings=settings, environ=ENV)[0]
    assert outcome["store"]["retention_years"] is None
    archive = reader(seaweed, name)
    assert verify_store(archive).ok
    import json

    facts = json.loads(archive.get(f"records/{outcome['statements'][0]['sha256']}.json")
                       or b"")["predicate"]["stores"][1]
    assert facts["object_lock"] is None and "unreadable" in facts["read_error"]


def test_overwrites_and_delete_markers_are_tampering(workspace: Workspace, seaweed: SeaweedFS,
                                                     bucket: Callable[..., str]) -> None:
    name = bucket(years=7)
    outcomes = workspace.record(2, settings=s3_settings(seaweed, name), environ=ENV)
    client = seaweed.client()
    record = f"prod/payments/records/{outcomes[0]['record_sha256']}.json"
    client.put_object(Bucket=name, Key=record, Body=b'{"forged": true}')  # a new version
    client.delete_object(Bucket=name, Key="prod/payments/ledger/000000000007.jsonl")  # marker
    report = verify_store(reader(seaweed, name))
    kinds = {p.kind for p in report.problems}
    assert {"store-overwritten", "store-deleted", "record-changed"} <= kinds
    overwritten = next(p for p in report.problems if p.kind == "store-overwritten")
    assert overwritten.location == f"records/{outcomes[0]['record_sha256']}.json"


def test_concurrent_writers_race_for_segments_without_forking(
        workspace: Workspace, seaweed: SeaweedFS, bucket: Callable[..., str]) -> None:
    name = bucket(years=7)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            workspace.record(2, settings=s3_settings(seaweed, name), environ=ENV)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    report = verify_store(reader(seaweed, name))
    assert report.ok, report.problems
    assert report.changes == 6 and report.entries == 42


def test_cli_verifies_and_exports_the_bucket(workspace: Workspace, seaweed: SeaweedFS,
                                             bucket: Callable[..., str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    name = bucket(years=7)
    outcome = workspace.record(settings=s3_settings(seaweed, name), environ=ENV)[0]
    store = ["--store", f"s3://{name}/prod/payments", "--endpoint-url", seaweed.endpoint]
    assert main(["evidence", "verify", *store, "--record", outcome["record_sha256"]],
                environ=ENV) == 0
    assert main(["evidence", "export", *store, "--format", "csv"], environ=ENV) == 0
    out = capsys.readouterr().out
    assert f"s3://{name}/prod/payments/records/{outcome['record_sha256']}.json" in out
