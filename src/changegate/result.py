"""The one result model every gate returns and every renderer reads.

Gates never print: they return a `GateResult`, and the renderers in `changegate.report` decide
how a developer, a CI system or an auditor sees it. Keeping a single model means a new output
format is one module, and a new gate gets every output format for free.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class ExitCode(enum.IntEnum):
    """Process exit codes of the CLI contract (DESIGN.md)."""

    PASSED = 0
    FAILED = 1
    INCONCLUSIVE = 2


class Status(str, enum.Enum):
    """A gate's overall outcome. `error` means inconclusive: something could not be checked."""

    PASS = "pass"  # noqa: S105 - a status, not a password
    FAIL = "fail"
    ERROR = "error"

    @property
    def exit_code(self) -> ExitCode:
        return {
            Status.PASS: ExitCode.PASSED,
            Status.FAIL: ExitCode.FAILED,
            Status.ERROR: ExitCode.INCONCLUSIVE,
        }[self]


class Severity(str, enum.Enum):
    """How much a finding matters. `error` findings fail the gate; `warning`/`note` do not."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True)
class Location:
    """Where a finding is: a file and line, a commit, or both.

    Renderers turn this into a PR annotation at the right place: file/line when known (the
    policy file, a lock file), otherwise the commit.
    """

    file: str | None = None
    line: int | None = None
    column: int | None = None
    commit: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v is not None}

    def describe(self) -> str:
        """A short human form, e.g. `policy.yml:12` or `commit 1a2b3c4d`."""
        parts: list[str] = []
        if self.file:
            where = self.file
            if self.line:
                where += f":{self.line}"
                if self.column:
                    where += f":{self.column}"
            parts.append(where)
        if self.commit:
            parts.append(f"commit {self.commit[:12]}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Finding:
    """One thing a developer must know about, with the reason and how to fix it.

    `rule` is a stable identifier (e.g. `UNSIGNED`, `RANGE_INCOMPLETE`) documented in docs/, so
    users can script against it and read its page.
    """

    rule: str
    severity: Severity
    message: str
    location: Location = field(default_factory=Location)
    fix: str | None = None
    title: str | None = None
    help_uri: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
            "location": self.location.to_json(),
        }
        for key in ("fix", "title", "help_uri"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data


@dataclass
class GateResult:
    """What one gate decided, why, and the stable details users script against (`details`)."""

    gate: str
    status: Status
    summary: str
    findings: list[Finding] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> ExitCode:
        return self.status.exit_code

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "gate": self.gate,
            "status": self.status.value,
            "summary": self.summary,
            "findings": [f.to_json() for f in self.findings],
        }
        for key, value in self.details.items():
            if key not in data:
                data[key] = value
        return data

    @classmethod
    def inconclusive(cls, gate: str, rule: str, message: str,
                     location: Location | None = None, fix: str | None = None) -> GateResult:
        """A result for a gate that could not check something: exit 2, never a pass."""
        return cls(
            gate=gate,
            status=Status.ERROR,
            summary=message,
            findings=[Finding(rule=rule, severity=Severity.ERROR, message=message,
                              location=location or Location(), fix=fix)],
        )


def combined_status(statuses: list[Status]) -> Status:
    """The worst of several statuses: error beats fail beats pass (fail closed)."""
    if Status.ERROR in statuses:
        return Status.ERROR
    if Status.FAIL in statuses:
        return Status.FAIL
    return Status.PASS
