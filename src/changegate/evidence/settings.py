"""The policy's `evidence` section, validated into typed settings.

The policy schema checks shapes when the file is loaded; this module re-checks what the evidence
layer relies on (and applies defaults), because `record_check` is also called with settings that
did not come from a policy file (the `evidence record` command, tests, other tools).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from changegate.errors import ChangegateError

DEFAULT_DIR = ".changegate/evidence"
StoreType = Literal["directory", "s3"]
Mode = Literal["retention", "plain"]


def _invalid(key: str, message: str) -> ChangegateError:
    return ChangegateError("EVIDENCE_SETTINGS_INVALID", f"evidence.{key}: {message}",
                           fix="see the `evidence` section in docs/evidence.md")


@dataclass(frozen=True)
class StoreSettings:
    """`evidence.store`: where records are archived beyond the CI artifact."""

    type: StoreType = "directory"
    bucket: str | None = None
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    retention_years: int | None = None
    mode: Mode = "retention"
    addressing_style: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> StoreSettings:
        kind = data.get("type", "directory")
        if kind not in ("directory", "s3"):
            raise _invalid("store.type", f"{kind!r} is not one of directory, s3")
        if kind == "directory":
            return cls()
        bucket = data.get("bucket")
        if not isinstance(bucket, str) or not bucket:
            raise _invalid("store.bucket", "an s3 store needs a bucket name")
        mode = data.get("mode", "retention")
        if mode not in ("retention", "plain"):
            raise _invalid("store.mode", f"{mode!r} is not one of retention, plain")
        years = data.get("retention_years")
        if years is not None and (isinstance(years, bool) or not isinstance(years, int)
                                  or years < 1):
            raise _invalid("store.retention_years", "must be a whole number of years, 1 or more")
        if mode == "retention" and years is None:
            raise _invalid("store.retention_years",
                           "retention mode needs the number of years records must be locked")
        style = data.get("addressing_style")
        if style not in (None, "auto", "path", "virtual"):
            raise _invalid("store.addressing_style", "must be auto, path or virtual")
        prefix = str(data.get("prefix") or "").strip("/")
        return cls(type="s3", bucket=bucket, prefix=f"{prefix}/" if prefix else "",
                   endpoint_url=_opt_str(data, "endpoint_url"), region=_opt_str(data, "region"),
                   retention_years=years, mode=mode, addressing_style=style)


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise _invalid(f"store.{key}", "must be a non-empty string")
    return value


@dataclass(frozen=True)
class EvidenceSettings:
    """The whole `evidence` section with defaults applied."""

    dir: str = DEFAULT_DIR
    controls: tuple[str, ...] | None = None
    extra_controls: dict[str, Any] = field(default_factory=dict)
    store: StoreSettings = field(default_factory=StoreSettings)
    require_signature: bool = False

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> EvidenceSettings:
        data = data or {}
        directory = data.get("dir", DEFAULT_DIR)
        if not isinstance(directory, str) or not directory:
            raise _invalid("dir", "must be a non-empty path")
        controls = data.get("controls")
        if controls is not None and (not isinstance(controls, list)
                                     or not all(isinstance(c, str) for c in controls)):
            raise _invalid("controls", "must be a list of framework ids")
        extra = data.get("extra_controls") or {}
        if not isinstance(extra, Mapping):
            raise _invalid("extra_controls", "must map framework ids to their controls")
        store = data.get("store") or {}
        if not isinstance(store, Mapping):
            raise _invalid("store", "must be a mapping")
        require = data.get("require_signature", False)
        if not isinstance(require, bool):
            raise _invalid("require_signature", "must be true or false")
        return cls(dir=directory, controls=tuple(controls) if controls is not None else None,
                   extra_controls=dict(extra), store=StoreSettings.from_mapping(store),
                   require_signature=require)
