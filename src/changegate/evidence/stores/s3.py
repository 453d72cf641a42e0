"""The archive store: an S3-compatible bucket with Object Lock in compliance mode.

Retention is only evidence if it is enforced by the store and checked: in `retention` mode the
bucket's versioning and default lock are read back before anything is written, the run is
refused (exit 2) when they cannot be read or lock for fewer years than the policy demands, each
object is written with its own COMPLIANCE retain-until date, and the first object of a run is
read back to prove the store honoured it. What was read back is recorded as a statement.

S3 objects cannot be appended to, so the ledger is a sequence of immutable segments,
`ledger/<first entry index, 12 digits>.jsonl`, one per recording run. Segments and records are
written with `If-None-Match: *`: two CI jobs racing for the same next segment cannot both win;
the loser re-reads the tail and retries. `audit` lists object versions, because in a versioned
bucket an overwrite or a delete leaves traces (older versions, delete markers) that say so.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from changegate.errors import ChangegateError
from changegate.evidence.canonical import timestamp, utc_now
from changegate.evidence.settings import StoreSettings
from changegate.evidence.stores import LedgerLine, StoreIssue, TailBuilder

LEDGER_PREFIX = "ledger/"
APPEND_ATTEMPTS = 8
STORE_FAILED = "EVIDENCE_STORE_FAILED"
RETENTION_UNVERIFIED = "EVIDENCE_RETENTION_UNVERIFIED"


def add_years(moment: datetime, years: int) -> datetime:
    """`moment` plus calendar years (29 February becomes 28 February)."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


def required_days(years: int, now: datetime | None = None) -> int:
    now = now or utc_now()
    return (add_years(now, years) - now).days


class S3Store:
    kind = "s3"

    def __init__(self, settings: StoreSettings, environ: Mapping[str, str],
                 client: Any = None) -> None:
        if settings.bucket is None:
            raise ChangegateError("EVIDENCE_SETTINGS_INVALID", "evidence.store.bucket is missing")
        self.settings = settings
        self.bucket = settings.bucket
        self.prefix = settings.prefix
        self.label = f"s3://{self.bucket}/{self.prefix}"
        self._client = client if client is not None else _client(settings, environ)
        self._lock: dict[str, Any] | None = None
        self._versioning: str | None = None
        self._lock_error: str | None = None
        self._checked = False
        self._put_verified = False

    # -- objects --------------------------------------------------------------------------

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{key}"

    def put(self, key: str, data: bytes) -> None:
        self.check_retention()
        extra: dict[str, Any] = {}
        retain_until = None
        if self.settings.mode == "retention" and self.settings.retention_years:
            # One day of margin: the lock must cover the full period whatever the clock skew.
            retain_until = add_years(utc_now(), self.settings.retention_years) + timedelta(days=1)
            extra = {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": retain_until}
        try:
            self._client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data,
                                    ContentType="application/json", IfNoneMatch="*", **extra)
        except Exception as exc:
            if _code(exc) not in ("PreconditionFailed", "412"):
                raise _failed(f"cannot write {self.uri(key)}", exc) from exc
            if self.get(key) != data:
                raise ChangegateError(
                    "EVIDENCE_CONFLICT",
                    f"{self.uri(key)} already exists with different content; evidence is never "
                    "overwritten",
                    fix="run `changegate evidence verify` on the store") from exc
            return
        if retain_until is not None and not self._put_verified:
            self._verify_object_lock(key, retain_until)

    def get(self, key: str) -> bytes | None:
        try:
            reply = self._client.get_object(Bucket=self.bucket, Key=self.prefix + key)
        except Exception as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                return None
            raise _failed(f"cannot read {self.uri(key)}", exc) from exc
        body: bytes = reply["Body"].read()
        return body

    def keys(self, prefix: str) -> Iterator[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for item in page.get("Contents", []):
                    yield str(item["Key"])[len(self.prefix):]
        except Exception as exc:
            raise _failed(f"cannot list {self.uri(prefix)}", exc) from exc

    # -- ledger ---------------------------------------------------------------------------

    def ledger_lines(self) -> Iterator[LedgerLine]:
        for key in self.keys(LEDGER_PREFIX):
            data = self.get(key) or b""
            for number, line in enumerate(data.splitlines(), start=1):
                yield LedgerLine(f"{key}:{number}", line)

    def append_ledger(self, build: TailBuilder) -> None:
        for attempt in range(APPEND_ATTEMPTS):
            tail = self._tail()
            lines = build(tail)
            first = json.loads(lines[0])["index"]
            key = f"{LEDGER_PREFIX}{first:012d}.jsonl"
            try:
                self._put_new(key, b"".join(lines))
                return
            except _Taken:
                time.sleep(random.uniform(0.05, 0.2) * (attempt + 1))  # noqa: S311 - jitter
        raise ChangegateError(
            STORE_FAILED, f"could not append to the ledger at {self.label} after "
            f"{APPEND_ATTEMPTS} attempts: other writers kept taking the next segment",
            fix="retry the job; if it persists, check for a runaway writer")

    def _put_new(self, key: str, data: bytes) -> None:
        self.check_retention()
        extra: dict[str, Any] = {}
        if self.settings.mode == "retention" and self.settings.retention_years:
            until = add_years(utc_now(), self.settings.retention_years) + timedelta(days=1)
            extra = {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": until}
        try:
            self._client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data,
                                    ContentType="application/x-ndjson", IfNoneMatch="*", **extra)
        except Exception as exc:
            if _code(exc) in ("PreconditionFailed", "412"):
                raise _Taken(key) from exc
            raise _failed(f"cannot write {self.uri(key)}", exc) from exc

    def _tail(self) -> dict[str, Any] | None:
        last = None
        for key in self.keys(LEDGER_PREFIX):
            last = key
        if last is None:
            return None
        data = (self.get(last) or b"").rstrip(b"\n")
        try:
            entry = json.loads(data.rsplit(b"\n", 1)[-1])
        except ValueError as exc:
            raise ChangegateError("EVIDENCE_LEDGER_TORN",
                                  f"the last ledger segment {self.uri(last)} is not JSON lines",
                                  fix="run `changegate evidence verify` on the store") from exc
        return entry if isinstance(entry, dict) else None

    # -- retention ------------------------------------------------------------------------

    def check_retention(self) -> None:
        """Read versioning and the default lock back; in retention mode refuse what is short.

        Runs once per store object, before the first write, so nothing is written to a bucket
        that would not keep it.
        """
        if self._checked:
            return
        self._checked = True
        try:
            self._versioning = self._client.get_bucket_versioning(
                Bucket=self.bucket).get("Status")
        except Exception as exc:
            self._lock_error = f"versioning unreadable: {_describe(exc)}"
        try:
            reply = self._client.get_object_lock_configuration(Bucket=self.bucket)
            self._lock = reply.get("ObjectLockConfiguration")
        except Exception as exc:
            self._lock_error = f"object lock configuration unreadable: {_describe(exc)}"
        if self.settings.mode != "retention":
            return
        problem = self._retention_problem()
        if problem:
            self._checked = False  # refuse again on the next call, too
            raise ChangegateError(
                RETENTION_UNVERIFIED,
                f"refusing to write evidence to {self.label} in retention mode: {problem}",
                fix=_lock_fix(self.bucket, self.settings.retention_years or 0))

    def _retention_problem(self) -> str | None:
        years = self.settings.retention_years or 0
        if self._lock_error:
            return self._lock_error
        if self._versioning != "Enabled":
            return f"bucket versioning is {self._versioning or 'not enabled'}"
        lock = self._lock or {}
        if lock.get("ObjectLockEnabled") != "Enabled":
            return "Object Lock is not enabled on the bucket"
        default = (lock.get("Rule") or {}).get("DefaultRetention") or {}
        if default.get("Mode") != "COMPLIANCE":
            return (f"the default retention mode is {default.get('Mode') or 'not set'}, not "
                    "COMPLIANCE (governance-mode locks can be lifted)")
        if "Years" in default:
            if int(default["Years"]) < years:
                return f"the default retention is {default['Years']} year(s); the policy " \
                       f"demands {years}"
        elif int(default.get("Days", 0)) < required_days(years):
            return (f"the default retention is {default.get('Days', 0)} day(s); the policy "
                    f"demands {years} year(s) ({required_days(years)} days)")
        return None

    def _verify_object_lock(self, key: str, retain_until: datetime) -> None:
        """Read one written object's lock back: a store may accept lock headers and ignore them."""
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=self.prefix + key)
        except Exception as exc:
            raise _failed(f"cannot read back {self.uri(key)}", exc) from exc
        mode, until = head.get("ObjectLockMode"), head.get("ObjectLockRetainUntilDate")
        if mode != "COMPLIANCE" or until is None or until < retain_until - timedelta(days=1):
            raise ChangegateError(
                RETENTION_UNVERIFIED,
                f"{self.uri(key)} was written but is not locked as asked (mode {mode}, "
                f"retain until {until}); the store does not enforce Object Lock",
                fix="use a store that supports S3 Object Lock in compliance mode")
        self._put_verified = True

    def describe(self) -> dict[str, Any]:
        self.check_retention()
        return {"type": "s3", "bucket": self.bucket, "prefix": self.prefix,
                "endpoint_url": self.settings.endpoint_url, "region": self.settings.region,
                "mode": self.settings.mode,
                "retention_years_required": self.settings.retention_years,
                "versioning": self._versioning, "object_lock": self._lock,
                "read_error": self._lock_error, "checked_at": timestamp(utc_now())}

    @property
    def retention_years(self) -> int | None:
        if self.settings.mode != "retention" or not self._checked:
            return None
        if self._retention_problem() is not None:
            return None
        return self.settings.retention_years

    def audit(self) -> list[StoreIssue]:
        """Overwritten keys (several versions) and delete markers: both are tampering here."""
        issues: list[StoreIssue] = []
        versions: dict[str, int] = {}
        paginator = self._client.get_paginator("list_object_versions")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Versions", []):
                    key = str(item["Key"])[len(self.prefix):]
                    versions[key] = versions.get(key, 0) + 1
                for marker in page.get("DeleteMarkers", []):
                    key = str(marker["Key"])[len(self.prefix):]
                    issues.append(StoreIssue(
                        "deleted", key, f"{self.uri(key)} was deleted (a delete marker hides it; "
                        "locked versions remain readable by version id)"))
        except Exception as exc:
            raise _failed(f"cannot list object versions in {self.label}", exc) from exc
        for key, count in sorted(versions.items()):
            if count > 1:
                issues.append(StoreIssue(
                    "overwritten", key,
                    f"{self.uri(key)} has {count} versions: it was overwritten after it was "
                    "written (evidence objects are written once)"))
        return issues


class _Taken(Exception):
    """The next ledger segment was created by another writer first."""


def _client(settings: StoreSettings, environ: Mapping[str, str]) -> Any:
    # importlib keeps mypy --strict clean without stubs for boto3/botocore (they ship none).
    import importlib

    boto3 = importlib.import_module("boto3")
    config_module = importlib.import_module("botocore.config")

    session = boto3.session.Session(
        aws_access_key_id=environ.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=environ.get("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=environ.get("AWS_SESSION_TOKEN"),
        region_name=settings.region or environ.get("AWS_REGION")
        or environ.get("AWS_DEFAULT_REGION") or "us-east-1",
    )
    style = settings.addressing_style or ("path" if settings.endpoint_url else "auto")
    config = config_module.Config(s3={"addressing_style": style}, connect_timeout=10,
                                  read_timeout=60,
                                  retries={"max_attempts": 4, "mode": "standard"})
    return session.client("s3", endpoint_url=settings.endpoint_url, config=config)


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error") or {}
        return str(error.get("Code", ""))
    return ""


def _describe(exc: Exception) -> str:
    code = _code(exc)
    return f"{code}: {exc}" if code else f"{type(exc).__name__}: {exc}"


def _failed(what: str, exc: Exception) -> ChangegateError:
    return ChangegateError(STORE_FAILED, f"{what}: {_describe(exc)}",
                           fix="check the endpoint, bucket name and credentials "
                               "(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)")


def _lock_fix(bucket: str, years: int) -> str:
    return ("create the bucket with Object Lock and a compliance-mode default, e.g. "
            f"`aws s3api create-bucket --bucket {bucket} --object-lock-enabled-for-bucket` then "
            f"`aws s3api put-object-lock-configuration --bucket {bucket} "
            "--object-lock-configuration '{\"ObjectLockEnabled\":\"Enabled\",\"Rule\":"
            f"{{\"DefaultRetention\":{{\"Mode\":\"COMPLIANCE\",\"Years\":{years}}}}}}}'` "
            "(or set `mode: plain` to archive without a verified lock)")
