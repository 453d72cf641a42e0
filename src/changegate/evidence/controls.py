"""Control mapping: which gates evidence which control, as versioned data shipped in the package.

The mapping is data (`data/controls-v1.json`), not code, so a compliance team can read it, diff it
between releases and cite its version in an audit; the version is recorded in every change
record. Users add their own frameworks (a SOX ITGC catalogue, an internal control set) in the
policy's `evidence.extra_controls` with the same shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from changegate.errors import ChangegateError

CHANGE_RECORD = "change-record"
EVIDENCE_RETENTION = "evidence-retention"
STATUSES = ("pass", "fail", "error", "not-evidenced")


@dataclass(frozen=True)
class Control:
    framework: str
    framework_title: str
    id: str
    title: str
    requires: tuple[str, ...]
    supports: tuple[str, ...] = ()
    rationale: str = ""
    min_retention_years: int = 1

    @property
    def key(self) -> str:
        """The control id as it appears in VSA `verifiedLevels`: `<framework>:<id>`."""
        return f"{self.framework}:{self.id}"


@dataclass(frozen=True)
class Catalog:
    version: str
    controls: tuple[Control, ...]

    @property
    def frameworks(self) -> list[str]:
        return list(dict.fromkeys(c.framework for c in self.controls))


@dataclass(frozen=True)
class ControlResult:
    control: Control
    status: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        c = self.control
        return {"framework": c.framework, "id": c.id, "key": c.key, "title": c.title,
                "status": self.status, "reason": self.reason, "requires": list(c.requires),
                "supports": list(c.supports)}


@cache
def shipped() -> dict[str, Any]:
    text = resources.files("changegate.evidence").joinpath("data/controls-v1.json").read_text(
        encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def load_catalog(selected: Iterable[str] | None = None,
                 extra: Mapping[str, Any] | None = None) -> Catalog:
    """The shipped frameworks plus `extra`, narrowed to `selected` framework ids if given."""
    data = shipped()
    frameworks: dict[str, Any] = dict(data["frameworks"])
    for name, framework in (extra or {}).items():
        frameworks[name] = _check_framework(name, framework)
    version = str(data["version"])
    if extra:
        version += "+custom"
    names = list(frameworks) if selected is None else list(selected)
    unknown = [n for n in names if n not in frameworks]
    if unknown:
        raise ChangegateError(
            "EVIDENCE_SETTINGS_INVALID",
            f"evidence.controls names unknown framework(s) {', '.join(unknown)}; known: "
            f"{', '.join(frameworks)}",
            fix="use a shipped framework id or define it under evidence.extra_controls")
    controls = [
        Control(framework=name, framework_title=str(frameworks[name].get("title", name)),
                id=str(c["id"]), title=str(c.get("title", "")),
                requires=tuple(c.get("requires", ())), supports=tuple(c.get("supports", ())),
                rationale=str(c.get("rationale", "")),
                min_retention_years=int(c.get("min_retention_years", 1)))
        for name in names for c in frameworks[name]["controls"]]
    return Catalog(version=version, controls=tuple(controls))


def _check_framework(name: str, framework: object) -> dict[str, Any]:
    where = f"evidence.extra_controls.{name}"
    if not isinstance(framework, Mapping) or not isinstance(framework.get("controls"), list):
        raise ChangegateError("EVIDENCE_SETTINGS_INVALID",
                              f"{where} must be a mapping with a `controls` list")
    for index, control in enumerate(framework["controls"]):
        ok = (isinstance(control, Mapping) and isinstance(control.get("id"), str)
              and all(isinstance(g, str) for k in ("requires", "supports")
                      for g in control.get(k, []) or []))
        if not ok:
            raise ChangegateError(
                "EVIDENCE_SETTINGS_INVALID",
                f"{where}.controls[{index}] needs an `id` (string) and optional "
                "`requires`/`supports` lists of gate names")
    return dict(framework)


def evaluate(catalog: Catalog, statuses: Mapping[str, str], *,
             retention_years: int | None, environment: str | None) -> list[ControlResult]:
    """Each control's status from the gates that ran (`statuses`: gate -> pass|fail|error).

    Fail closed: a failed or inconclusive contributing gate fails the control; a required gate
    that did not run leaves it `not-evidenced` rather than passed.
    """
    return [_one(c, statuses, retention_years, environment) for c in catalog.controls]


def _one(control: Control, statuses: Mapping[str, str], retention_years: int | None,
         environment: str | None) -> ControlResult:
    def status_of(gate: str) -> str | None:
        if gate == EVIDENCE_RETENTION:
            ok = retention_years is not None and retention_years >= control.min_retention_years
            return "pass" if ok else None
        return statuses.get(gate)

    gates = list(dict.fromkeys(control.requires + control.supports))
    ran = {g: s for g in gates if (s := status_of(g)) is not None}
    failed = [g for g, s in ran.items() if s == "fail"]
    if failed:
        return ControlResult(control, "fail", f"{', '.join(failed)} failed")
    errored = [g for g, s in ran.items() if s == "error"]
    if errored:
        return ControlResult(control, "error", f"{', '.join(errored)} could not check")
    missing = [g for g in control.requires if g not in ran]
    where = f" in environment {environment}" if environment else ""
    if missing:
        reason = f"{', '.join(missing)} did not run{where}"
        if EVIDENCE_RETENTION in missing:
            reason = (f"{reason} (no evidence store verified to lock records for "
                      f"{control.min_retention_years} year(s) or more)")
        return ControlResult(control, "not-evidenced", reason)
    if not ran:
        return ControlResult(control, "not-evidenced", f"none of {', '.join(gates)} ran{where}")
    return ControlResult(control, "pass", f"{', '.join(ran)} passed")
