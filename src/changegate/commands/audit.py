"""`changegate audit`: known vulnerabilities in the project's dependencies (OSV data)."""

from __future__ import annotations

import argparse
import contextlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from changegate.commands import RunContext
    from changegate.gates.audit.gate import AuditRun
    from changegate.result import GateResult

HELP = "audit dependencies for known vulnerabilities (online or offline OSV)"
GITLAB_DEFAULT_REPORT = "gl-dependency-scanning-report.json"


def configure(parser: argparse.ArgumentParser) -> None:
    """The source (one of four), the vulnerability source, the threshold and the extra reports.

    Every option defaults to None so `changegate check` runs the gate with the policy's
    `gates.audit` settings filling in.
    """
    source = parser.add_argument_group(
        "dependencies (default: the policy's source, else the first of uv.lock, poetry.lock, "
        "pylock.toml, Pipfile.lock, requirements.txt found here)")
    choice = source.add_mutually_exclusive_group()
    choice.add_argument("--sbom", metavar="FILE",
                        help="a CycloneDX SBOM (JSON or XML), e.g. from `changegate sbom`")
    choice.add_argument("--requirements", metavar="FILE",
                        help="a pinned requirements file (name==version, -r includes)")
    choice.add_argument("--lock", metavar="FILE",
                        help="pylock.toml, uv.lock, poetry.lock or Pipfile.lock")
    choice.add_argument("--python", metavar="PATH",
                        help="an installed environment: its interpreter or venv directory")
    vulns = parser.add_argument_group(
        "vulnerabilities (default: the policy's database.path or service)")
    where = vulns.add_mutually_exclusive_group()
    where.add_argument("--db", metavar="PATH",
                       help="an OSV database on disk: a directory of records (e.g. a clone of "
                            "pypa/advisory-database) or an OSV all.zip export")
    where.add_argument("--service", choices=["osv", "pypi"],
                       help="query an online service through pip-audit instead")
    vulns.add_argument("--db-sha256", metavar="HEX", dest="db_sha256",
                       help="the database's expected content sha256 (mismatch: exit 2)")
    vulns.add_argument("--service-url", metavar="URL", dest="service_url",
                       help="the service's URL: OSV's query endpoint, or the base URL of an "
                            "index serving PyPI's JSON API (https, or http to loopback)")
    vulns.add_argument("--no-db-cache", action="store_true", dest="no_db_cache",
                       help="re-derive everything: no index cache for --db, a throw-away "
                            "HTTP cache for --service")
    parser.add_argument("--fail-on", choices=["low", "medium", "high", "critical"],
                        dest="fail_on",
                        help="the lowest severity that fails the gate (default: the policy's "
                             "fail_on, else low)")
    reports = parser.add_argument_group("reports")
    reports.add_argument("--vex", metavar="FILE",
                         help="also write the findings and exceptions as a CycloneDX 1.6 VEX "
                              "document")
    reports.add_argument("--gitlab-report", metavar="FILE", dest="gitlab_report",
                         help="GitLab dependency_scanning report, schema v15 (default in "
                              f"GitLab CI: {GITLAB_DEFAULT_REPORT})")


def execute(args: argparse.Namespace, run: RunContext) -> GateResult:
    from changegate.errors import ChangegateError
    from changegate.gates.audit.config import AuditConfig
    from changegate.gates.audit.gate import AuditRequest
    from changegate.gates.audit.gate import run as run_gate
    from changegate.result import Location

    policy = run.policy()

    def locate(*path: str | int) -> Location:
        return policy.location("gates", "audit", *path) if policy else Location()

    gitlab_path = getattr(args, "gitlab_report", None) or (
        GITLAB_DEFAULT_REPORT if run.environ.get("GITLAB_CI") == "true" else None)
    request = AuditRequest(
        workdir=run.workdir, environ=run.environ,
        sbom=getattr(args, "sbom", None), requirements=getattr(args, "requirements", None),
        lock=getattr(args, "lock", None), python=getattr(args, "python", None),
        db=getattr(args, "db", None), db_sha256=getattr(args, "db_sha256", None),
        service=getattr(args, "service", None), service_url=getattr(args, "service_url", None),
        fail_on=getattr(args, "fail_on", None), no_cache=bool(getattr(args, "no_db_cache", False)))
    try:
        config = AuditConfig.from_settings(_settings(run), locate)
        audit = run_gate(request, config)
    except ChangegateError as exc:
        if gitlab_path:
            _failed_gitlab_report(run.workdir / gitlab_path, exc)
        raise
    _write_reports(args, run, audit, gitlab_path)
    return audit.result


def _settings(run: RunContext) -> dict[str, Any]:
    """`gates.audit` merged with the environment's overrides.

    Outside a git checkout (an `audit --lock FILE` run on an unpacked release) there is no ref
    for an environment to match, so only `gates.audit` applies, as the sbom command would read
    it; asking the change for its ref would fail for want of git.
    """
    policy = run.policy()
    if policy is None:
        return {}
    in_git = any((p / ".git").exists() for p in (run.workdir, *run.workdir.parents))
    if not in_git and run.environment_override is None:
        return policy.gate_settings("audit", None)
    return run.gate_settings("audit")


def _write_reports(args: argparse.Namespace, run: RunContext, audit: AuditRun,
                   gitlab_path: str | None) -> None:
    """The VEX and GitLab files, written after the result is known (paths are relative to -C)."""
    from changegate.gates.audit.gate import write_gitlab_report, write_vex

    vex = getattr(args, "vex", None)
    if vex:
        digest = write_vex(audit, run.workdir / vex, project=run.workdir.name)
        audit.result.details["vex"] = {"path": vex, "sha256": digest}
    if gitlab_path:
        write_gitlab_report(audit, run.workdir / gitlab_path)
        audit.result.details["gitlab_report"] = {"path": gitlab_path}


def _failed_gitlab_report(path: Path, error: Exception) -> None:
    """An inconclusive audit still leaves a report saying the scan failed (GitLab shows it)."""
    from changegate.gates.audit.gate import AuditRun, write_gitlab_report
    from changegate.result import GateResult

    result = GateResult.inconclusive("audit", getattr(error, "rule", "ERROR"), str(error))
    # Best effort: the original error is what must be reported, not a failure to report it.
    with contextlib.suppress(Exception):
        write_gitlab_report(AuditRun(result=result), path)
