"""The audit as a CycloneDX 1.6 VEX document: what is affected, and what the exceptions say.

Every vulnerability found is one `vulnerabilities[]` entry that `affects` the package's
component (identified by its package URL, as in the sbom gate's SBOM, so a consumer can join
the two). Its `analysis` is the security team's statement:

- suppressed by policy exceptions: the exception's `state` (default `exploitable`, or
  `not_affected` when it gives a `justification`), its `justification` and `response`, and a
  `detail` naming the reason, approver, ticket and expiry of every exception that covers it
  (also as `changegate:exception:*` properties, so tools can read them without parsing text);
- not suppressed: `in_triage`: known, not excepted, to be fixed.

The document is validated against the vendored CycloneDX 1.6 JSON schema before it is
written; an invalid one is never written (VEX_INVALID, exit 2). Its serial number is a UUIDv5
of its own content (as the sbom gate's), so the same audit gives the same document.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from changegate import __version__
from changegate.errors import ChangegateError
from changegate.gates.audit.exceptions import Coverage
from changegate.gates.audit.services import Advisory
from changegate.gates.sbom.model import package_url

SPEC_VERSION = "1.6"
SERIAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://changegate.dev/vex")
_PLACEHOLDER = "urn:uuid:00000000-0000-0000-0000-000000000000"
_METHODS = {"CVSS_V4": "CVSSv4", "CVSS_V3": "CVSSv3", "CVSS_V2": "CVSSv2"}


def advisory_url(vuln_id: str) -> str:
    """Where a person reads an advisory: GitHub for GHSA, cve.org for CVE, else osv.dev."""
    if vuln_id.startswith("GHSA-"):
        return f"https://github.com/advisories/{vuln_id}"
    if vuln_id.startswith("CVE-"):
        return f"https://www.cve.org/CVERecord?id={vuln_id}"
    return f"https://osv.dev/vulnerability/{vuln_id}"


def _source(vuln_id: str) -> dict[str, str]:
    """The database an id belongs to, by its prefix (OSV's id conventions)."""
    name = ("GitHub Advisory Database" if vuln_id.startswith("GHSA-") else
            "CVE" if vuln_id.startswith("CVE-") else
            "PyPA Advisory Database" if vuln_id.startswith("PYSEC-") else "OSV")
    return {"name": name, "url": advisory_url(vuln_id)}


def _rating(advisory: Advisory) -> dict[str, Any]:
    rated = advisory.match.severity
    rating: dict[str, Any] = {"severity": rated.label if rated.level is not None else "unknown"}
    if rated.score is not None:
        rating["score"] = rated.score
    rating["method"] = _METHODS.get(rated.source or "", "other")
    return rating


def _analysis(coverage: Coverage) -> dict[str, Any]:
    if not coverage.suppressed:
        return {"state": "in_triage",
                "detail": "reported by changegate audit; no policy exception covers it"}
    first = coverage.by[0]
    analysis: dict[str, Any] = {"state": first.state}
    if first.justification:
        analysis["justification"] = first.justification
    responses = sorted({r for item in coverage.by for r in item.response})
    if responses:
        analysis["response"] = responses
    analysis["detail"] = " ".join(
        f"Policy exception for {item.id} (ticket {item.ticket}, approved by {item.approver}, "
        f"expires {item.expires.isoformat()}): {item.reason}" for item in coverage.by)
    return analysis


def _properties(coverage: Coverage) -> list[dict[str, str]]:
    out = []
    for item in coverage.by:
        out += [{"name": "changegate:exception:id", "value": item.id},
                {"name": "changegate:exception:ticket", "value": item.ticket},
                {"name": "changegate:exception:approver", "value": item.approver},
                {"name": "changegate:exception:expires", "value": item.expires.isoformat()}]
    return out


def build_vex(advisories: Sequence[Advisory], coverage: Sequence[Coverage], *,
              project: str, project_version: str | None, timestamp: datetime) -> str:
    """The VEX document's JSON text (not yet validated; see `write_vex`)."""
    components: dict[str, dict[str, Any]] = {}
    vulnerabilities = []
    for advisory, covered in zip(advisories, coverage, strict=True):
        match = advisory.match
        purl = package_url(match.package, match.version, (), None, local=False)
        components.setdefault(purl, {"type": "library", "bom-ref": purl,
                                     "name": match.package, "version": match.version,
                                     "purl": purl})
        entry: dict[str, Any] = {
            "bom-ref": f"vulnerability:{match.id}:{purl}",
            "id": match.id,
            "source": _source(match.id),
        }
        if match.aliases:
            entry["references"] = [{"id": alias, "source": _source(alias)}
                                   for alias in match.aliases]
        entry["ratings"] = [_rating(advisory)]
        if match.summary:
            entry["description"] = match.summary
        entry["recommendation"] = (
            f"Upgrade {match.package} to {match.fixed_in[0]} or later."
            if match.fixed_in else f"No fixed version of {match.package} is known.")
        entry["analysis"] = _analysis(covered)
        entry["affects"] = [{"ref": purl}]
        properties = _properties(covered)
        if properties:
            entry["properties"] = properties
        vulnerabilities.append(entry)
    root: dict[str, Any] = {"type": "application", "bom-ref": "project", "name": project}
    if project_version:
        root["version"] = project_version
    document: dict[str, Any] = {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": _PLACEHOLDER,
        "version": 1,
        "metadata": {
            "timestamp": timestamp.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {"components": [{"type": "application", "name": "changegate",
                                      "version": __version__}]},
            "component": root,
        },
        "components": [components[key] for key in sorted(components)],
        "vulnerabilities": vulnerabilities,
    }
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    serial = uuid.uuid5(SERIAL_NAMESPACE, hashlib.sha256(text.encode()).hexdigest())
    return text.replace(_PLACEHOLDER, f"urn:uuid:{serial}", 1)


def validate_vex(text: str) -> None:
    """Raise VEX_INVALID (exit 2) unless `text` is valid CycloneDX 1.6 JSON."""
    from changegate.gates.sbom.validate import validate_json

    problems = validate_json(text, SPEC_VERSION)
    if problems:
        listed = "; ".join(str(p) for p in problems[:5])
        raise ChangegateError("VEX_INVALID", f"the VEX document is not valid CycloneDX "
                              f"{SPEC_VERSION} ({listed}); it was not written",
                              fix="this is a bug in changegate; rerun with CHANGEGATE_DEBUG=1 "
                                  "and report it")
