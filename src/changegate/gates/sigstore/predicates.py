"""The built-in attestation predicates: SBOM, audit result, and SLSA Provenance v1.

- `sbom`: the CycloneDX JSON document itself (in-toto's CycloneDX predicate,
  `https://cyclonedx.org/bom`).
- `audit`: changegate's audit result re-expressed as the in-toto vulnerability predicate
  (`https://in-toto.io/attestation/vulns/v0.2`), so any policy engine can read it; the
  database digest goes in `scanner.db`, each finding in `scanner.result`.
- `provenance`: SLSA Provenance v1 built from the CI run. GitHub uses GitHub's documented
  build type (`https://actions.github.io/buildtypes/workflow/v1`, as actions/attest-build-
  provenance writes it); GitLab uses changegate's build type documented in
  docs/sign-and-verify.md, since GitLab defines none for jobs that attest themselves.
Any other predicate type is a URI with a JSON object predicate from a file.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from changegate import __version__
from changegate.errors import ChangegateError
from changegate.gates.sigstore.ci import CIFacts
from changegate.gates.sigstore.statement import PREDICATE_TYPES

GITHUB_BUILD_TYPE = "https://actions.github.io/buildtypes/workflow/v1"
GITLAB_BUILD_TYPE = "https://changegate.dev/buildtypes/gitlab-ci/v1"


def _load(path: Path | None, kind: str) -> dict[str, Any]:
    if path is None:
        raise ChangegateError("PREDICATE_INVALID", f"--attest {kind} needs --predicate FILE")
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise ChangegateError("PREDICATE_INVALID", f"cannot read predicate {path}: "
                                                   f"{exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ChangegateError("PREDICATE_INVALID", f"predicate {path} is not JSON: {exc}") \
            from exc
    if not isinstance(data, dict):
        raise ChangegateError("PREDICATE_INVALID", f"predicate {path} is not a JSON object")
    return data


def build(kind: str, path: Path | None, facts: CIFacts, *, now: datetime | None = None
          ) -> tuple[str, dict[str, Any]]:
    """(predicate type, predicate) for `--attest kind [--predicate path]`."""
    now = now or datetime.now(timezone.utc)
    if kind == "sbom":
        document = _load(path, kind)
        if document.get("bomFormat") != "CycloneDX":
            raise ChangegateError("PREDICATE_INVALID", f"{path} is not a CycloneDX JSON SBOM "
                                                       "(bomFormat is not CycloneDX)")
        return PREDICATE_TYPES["sbom"], document
    if kind == "audit":
        return PREDICATE_TYPES["audit"], audit_predicate(_load(path, kind), str(path), now)
    if kind == "provenance":
        if path is not None:
            return PREDICATE_TYPES["provenance"], _load(path, kind)
        return PREDICATE_TYPES["provenance"], provenance(facts)
    if "://" in kind:
        return kind, _load(path, kind)
    raise ChangegateError("PREDICATE_INVALID", f"unknown attestation type {kind!r}: use sbom, "
                                               "audit, provenance or a predicate type URI")


def audit_predicate(result: dict[str, Any], source: str, now: datetime) -> dict[str, Any]:
    """changegate's audit JSON (`changegate audit --json`) as an in-toto vulns v0.2 predicate."""
    if "scanner" in result:  # already a vulns predicate
        return result
    if result.get("gate") != "audit" or not isinstance(result.get("vulnerabilities"), list):
        raise ChangegateError("PREDICATE_INVALID", f"{source} is not a changegate audit result "
                                                   "(`changegate audit --json-file`)")
    raw_database = result.get("database")
    database: dict[str, Any] = raw_database if isinstance(raw_database, dict) else {}
    findings = []
    for item in result["vulnerabilities"]:
        if not isinstance(item, dict):
            continue
        severity = [{"method": "severity", "score": str(item.get("severity") or "unknown")}]
        if item.get("score") is not None:
            severity.append({"method": "cvss_score", "score": str(item["score"])})
        annotations = [{key: item[key]} for key in ("package", "version", "aliases", "fixed_in",
                                                    "suppressed", "exception")
                       if item.get(key) not in (None, [], "")]
        findings.append({"id": str(item.get("id")), "severity": severity,
                         "annotations": annotations})
    stamp = now.isoformat().replace("+00:00", "Z")
    return {
        "scanner": {
            "uri": f"pkg:pypi/changegate@{__version__}", "version": __version__,
            "db": {"uri": f"sha256:{database.get('sha256', '')}",
                   "version": str(database.get("sha256", "")),
                   "lastUpdate": str(database.get("newest_modified") or stamp)},
            "result": findings,
        },
        "metadata": {"scanStartedOn": stamp, "scanFinishedOn": stamp,
                     "status": result.get("status")},
    }


def provenance(facts: CIFacts) -> dict[str, Any]:
    """SLSA Provenance v1 for this CI run (GitHub Actions or GitLab CI)."""
    if facts.platform == "github":
        return _github(facts)
    if facts.platform == "gitlab":
        return _gitlab(facts)
    raise ChangegateError("CI_CONTEXT_MISSING", "provenance is built from the CI run, and this "
                                                "is neither GitHub Actions nor GitLab CI",
                          fix="run in CI, or pass --predicate with your own provenance")


def _github(facts: CIFacts) -> dict[str, Any]:
    server = facts.get("GITHUB_SERVER_URL") or "https://github.com"
    repository = facts.get("GITHUB_REPOSITORY")
    workflow_ref = facts.get("GITHUB_WORKFLOW_REF")  # owner/repo/.github/workflows/x.yml@ref
    if not repository or not workflow_ref or "@" not in workflow_ref:
        raise ChangegateError("CI_CONTEXT_MISSING", "GITHUB_REPOSITORY/GITHUB_WORKFLOW_REF are "
                                                    "not set: cannot describe the build")
    path = workflow_ref.split("@", 1)[0][len(repository) + 1:]
    ref = facts.get("GITHUB_REF")
    return {
        "buildDefinition": {
            "buildType": GITHUB_BUILD_TYPE,
            "externalParameters": {"workflow": {"ref": ref, "repository":
                                                f"{server}/{repository}", "path": path}},
            "internalParameters": {"github": {
                "event_name": facts.get("GITHUB_EVENT_NAME"),
                "repository_id": facts.get("GITHUB_REPOSITORY_ID"),
                "repository_owner_id": facts.get("GITHUB_REPOSITORY_OWNER_ID"),
                "runner_environment": facts.get("RUNNER_ENVIRONMENT")}},
            "resolvedDependencies": [{"uri": f"git+{server}/{repository}@{ref}",
                                      "digest": {"gitCommit": facts.get("GITHUB_SHA")}}],
        },
        "runDetails": {
            "builder": {"id": f"{server}/{workflow_ref}"},
            "metadata": {"invocationId": f"{server}/{repository}/actions/runs/"
                                         f"{facts.get('GITHUB_RUN_ID')}/attempts/"
                                         f"{facts.get('GITHUB_RUN_ATTEMPT') or '1'}"},
        },
    }


def _gitlab(facts: CIFacts) -> dict[str, Any]:
    project_url = facts.get("CI_PROJECT_URL")
    if not project_url or not facts.get("CI_COMMIT_SHA"):
        raise ChangegateError("CI_CONTEXT_MISSING", "CI_PROJECT_URL/CI_COMMIT_SHA are not set: "
                                                    "cannot describe the build")
    if facts.get("CI_COMMIT_TAG"):
        ref = f"refs/tags/{facts.get('CI_COMMIT_TAG')}"
    else:
        ref = f"refs/heads/{facts.get('CI_COMMIT_REF_NAME')}"
    config = facts.get("CI_CONFIG_PATH") or ".gitlab-ci.yml"
    metadata = {"invocationId": facts.get("CI_JOB_URL") or facts.get("CI_JOB_ID")}
    if facts.get("CI_JOB_STARTED_AT"):
        metadata["startedOn"] = facts.get("CI_JOB_STARTED_AT")
    return {
        "buildDefinition": {
            "buildType": GITLAB_BUILD_TYPE,
            "externalParameters": {"pipeline": {"repository": project_url, "ref": ref,
                                                "config_path": config,
                                                "job": facts.get("CI_JOB_NAME")}},
            "internalParameters": {"gitlab": {
                "project_id": facts.get("CI_PROJECT_ID"),
                "pipeline_id": facts.get("CI_PIPELINE_ID"),
                "pipeline_source": facts.get("CI_PIPELINE_SOURCE"),
                "runner_id": facts.get("CI_RUNNER_ID")}},
            "resolvedDependencies": [{"uri": f"git+{project_url}@{ref}",
                                      "digest": {"gitCommit": facts.get("CI_COMMIT_SHA")}}],
        },
        "runDetails": {
            "builder": {"id": f"{project_url}//{config}@{ref}"},
            "metadata": metadata,
        },
    }
