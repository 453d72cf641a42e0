"""GitLab's Dependency Scanning report (`artifacts:reports:dependency_scanning`), schema v15.

GitLab shows these vulnerabilities in the merge request's security widget, the pipeline's
Security tab and the project's Vulnerability Report. The document follows the official schema
(`dependency-scanning-report-format.json` of gitlab-org/security-products/security-report-schemas,
version 15.2.1, vendored in `changegate/schemas/gitlab/` with its SOURCE.md) and is validated
against it before it is written: GitLab silently drops a report that does not validate, which
would look like "no vulnerabilities".

Choices:
- one entry per vulnerability and package that is *not* suppressed by a policy exception (a
  suppressed one is an accepted risk, published in the VEX document instead; listing it here
  would reopen it in GitLab's vulnerability management). Suppressed ones are counted in a
  `scan.messages` info line;
- `id` is a UUIDv5 of (package, version, advisory id, file), so it is stable across runs;
- identifiers: the advisory's id first (GitLab's primary identifier), then its aliases, each
  with the type GitLab uses for it (`cve`, `ghsa`, else the id's prefix lowercased);
- severity: critical/high/medium/low map to GitLab's words, a CVSS rating of 0.0 (`none`) to
  `Info`, and an unknown rating to `Unknown`;
- `location.file` is the lock/requirements file (or SBOM) the package was read from.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from changegate import __version__
from changegate.errors import ChangegateError
from changegate.gates.audit.services import Advisory
from changegate.gates.audit.vex import advisory_url

SCHEMA_VERSION = "15.2.1"
SCHEMA_URL = ("https://gitlab.com/gitlab-org/security-products/security-report-schemas/-/raw/"
              f"v{SCHEMA_VERSION}/dist/dependency-scanning-report-format.json")
SCHEMA_FILE = (Path(__file__).resolve().parents[2] / "schemas" / "gitlab"
               / f"dependency-scanning-report-format-{SCHEMA_VERSION}.json")
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://changegate.dev/gitlab/dependency-scanning")
_SEVERITY = {"critical": "Critical", "high": "High", "medium": "Medium", "low": "Low",
             "none": "Info", "unknown": "Unknown"}
_VENDOR = {"name": "changegate"}


def _identifier(vuln_id: str) -> dict[str, str]:
    prefix = vuln_id.split("-", 1)[0].lower() if "-" in vuln_id else "osv"
    return {"type": prefix, "name": vuln_id, "value": vuln_id, "url": advisory_url(vuln_id)}


def _stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _vulnerability(advisory: Advisory, file: str) -> dict[str, Any]:
    match = advisory.match
    identity = f"{match.package.lower()}|{match.version}|{match.id}|{file}"
    name = match.summary or f"{match.id} in {match.package}"
    description = (f"{match.package} {match.version} is affected by {match.id}"
                   + (f" (also known as {', '.join(match.aliases)})" if match.aliases else "")
                   + f", severity {match.severity.label}.")
    if match.summary:
        description = f"{match.summary.strip()}\n\n{description}"
    solution = (f"Upgrade {match.package} to {match.fixed_in[0]} or later."
                if match.fixed_in else
                f"No fixed version of {match.package} is known: remove or replace the "
                "dependency, or record a policy exception.")
    return {
        "id": str(uuid.uuid5(ID_NAMESPACE, identity)),
        "name": name[:255],
        "description": description,
        "severity": _SEVERITY[match.severity.label],
        "solution": solution,
        "identifiers": [_identifier(match.id), *(_identifier(a) for a in match.aliases)],
        "links": [{"name": match.id, "url": advisory_url(match.id)}],
        "location": {"file": file,
                     "dependency": {"package": {"name": match.package},
                                    "version": match.version}},
    }


def build_report(advisories: Sequence[tuple[Advisory, str]], *, suppressed: int,
                 started: datetime, finished: datetime, scanner: str, inconclusive: bool,
                 messages: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """The report for the (advisory, file) pairs that are not suppressed.

    `scanner` names the vulnerability source (an OSV database, or a pip-audit service);
    `inconclusive` marks the scan as a `failure` (GitLab then says the scan did not finish).
    """
    notes = [{"level": level, "value": text} for level, text in messages if text]
    if suppressed:
        notes.append({"level": "info", "value": f"{suppressed} vulnerabilit"
                      f"{'y is' if suppressed == 1 else 'ies are'} suppressed by policy "
                      "exceptions (see the VEX document)"})
    scan: dict[str, Any] = {
        "analyzer": {"id": "changegate", "name": "changegate", "version": __version__,
                     "vendor": _VENDOR, "url": "https://changegate.dev/docs/audit"},
        "scanner": {"id": "changegate-audit", "name": f"changegate audit ({scanner})",
                    "version": __version__, "vendor": _VENDOR},
        "type": "dependency_scanning",
        "start_time": _stamp(started),
        "end_time": _stamp(finished),
        "status": "failure" if inconclusive else "success",
    }
    if notes:
        scan["messages"] = notes
    return {
        "version": SCHEMA_VERSION,
        "schema": SCHEMA_URL,
        "scan": scan,
        "vulnerabilities": [_vulnerability(advisory, file) for advisory, file in advisories],
        "remediations": [],
    }


@functools.cache
def _validator() -> Any:
    import fastjsonschema

    return fastjsonschema.compile(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def validate_report(report: dict[str, Any]) -> None:
    """Raise GITLAB_REPORT_INVALID (exit 2) unless `report` validates against schema v15."""
    import fastjsonschema

    try:
        _validator()(report)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise ChangegateError(
            "GITLAB_REPORT_INVALID", f"the GitLab dependency scanning report does not "
            f"validate against schema {SCHEMA_VERSION}: {exc.message}; it was not written",
            fix="this is a bug in changegate; rerun with CHANGEGATE_DEBUG=1 and report it"
        ) from None
