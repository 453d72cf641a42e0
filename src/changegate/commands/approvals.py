"""`changegate approvals`: enforce the policy's approval rules on a pull/merge request."""

from __future__ import annotations

import argparse
import json
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from changegate.errors import ChangegateError, InputError

if TYPE_CHECKING:
    from changegate.change import Change
    from changegate.commands import RunContext
    from changegate.forges.base import Forge
    from changegate.forges.models import ChangeFacts
    from changegate.result import GateResult

HELP = "enforce reviewer and compliance approval rules on a pull/merge request"


def configure(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--pr", type=int, dest="number", metavar="N",
                       help="GitHub pull request number (default: from the CI event)")
    which.add_argument("--mr", type=int, dest="number", metavar="N",
                       help="GitLab merge request IID (default: CI_MERGE_REQUEST_IID)")
    parser.add_argument("--forge", choices=["github", "gitlab"],
                        help="which forge to ask (default: the CI system; needed locally)")
    parser.add_argument("--repository", metavar="OWNER/NAME",
                        help="repository or project path (default: from CI or the origin remote)")
    parser.add_argument("--emergency", action="store_true",
                        help="declare an emergency change (allowed only if the policy says so; "
                             "an approval after the fact is then owed)")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="per-request timeout for the forge API (default: 30)")
    parser.add_argument("--replay", metavar="FILE",
                        help="decide offline from the facts recorded in an earlier --json result")


def execute(args: argparse.Namespace, run: RunContext) -> GateResult:
    from changegate.gates.approvals import gate
    from changegate.gates.approvals.config import parse_config

    policy = run.policy()
    locate = policy.location if policy is not None else None
    config = parse_config(run.gate_settings("approvals"), locate)
    if getattr(args, "replay", None):
        facts = _replay(Path(args.replay))
        environment = run.environment_override or _recorded_environment(Path(args.replay))
        result = gate.run(facts, config, environment=environment,
                          emergency_flag=bool(getattr(args, "emergency", False)), locate=locate)
        result.details["replayed_from"] = args.replay
        return result
    emergency = config.emergency
    facts = fetch_facts(args, run, config.teams(),
                        emergency_label=emergency.label if emergency else None,
                        approved_label=emergency.approved_label if emergency else None,
                        lookback_days=emergency.lookback_days if emergency else 90)
    return gate.run(facts, config, environment=run.environment_name(),
                    emergency_flag=bool(getattr(args, "emergency", False)), locate=locate)


def fetch_facts(args: argparse.Namespace, run: RunContext, teams: tuple[str, ...], *,
                emergency_label: str | None, approved_label: str | None,
                lookback_days: int) -> ChangeFacts:
    """Ask the forge the CI context (or the flags) point at; check it is the change CI checks."""
    from changegate.forges.base import DEFAULT_TIMEOUT
    from changegate.forges.models import FetchRequest

    change = run.change()
    platform = getattr(args, "forge", None) or change.platform
    if platform not in ("github", "gitlab"):
        raise InputError("outside GitHub Actions and GitLab CI, say which forge to ask "
                         "(--forge github|gitlab) and which change (--pr/--mr N)",
                         rule="NO_CHANGE_REQUEST")
    repository = getattr(args, "repository", None) or change.repository
    explicit = getattr(args, "number", None)
    number = explicit if explicit is not None else change.number
    timeout = getattr(args, "timeout", None) or DEFAULT_TIMEOUT
    pushed = is_branch_push(change) and change.platform == platform and bool(repository)
    if (number is None and not pushed) or not repository:
        raise ChangegateError(
            "NO_CHANGE_REQUEST",
            f"this run ({change.event} on {change.ref or 'an unknown ref'}) is not for a pull "
            "or merge request, so there are no approvals to check",
            fix="run the gate on pull_request / pull_request_review events (GitHub) or merge "
                "request pipelines (GitLab), or pass --pr/--mr N and --repository")
    forge = make_forge(platform, run.environ, timeout)
    found_by = None
    if number is None:
        # A push to a branch: the approvals that count are those of the merged pull/merge
        # request that brought the pushed commit; a commit no change request brought was pushed
        # directly, past every review, and the gate fails closed.
        number = forge.find_merged(repository, change.head, change.ref)
        if number is None:
            kind = "pull request" if platform == "github" else "merge request"
            raise ChangegateError(
                "NO_CHANGE_REQUEST",
                f"the pushed commit {change.head[:12]} on {change.ref} came from no merged {kind}"
                f" of {repository}: it was pushed directly, so no approval covers it and the "
                "gate fails closed",
                fix=f"protect {change.ref} so that every change reaches it through a reviewed "
                    f"{kind} (GitHub: a branch protection rule or ruleset requiring pull "
                    "requests; GitLab: a protected branch with 'Allowed to push: No one'), then "
                    f"bring this change in again through a {kind}")
        found_by = "merged-commit"
    facts = forge.fetch(FetchRequest(
        repository=repository, number=number, base_branch=change.ref if change.number
        == number or found_by else None, teams=teams, emergency_label=emergency_label,
        approved_label=approved_label,
        merged_since=date.today() - timedelta(days=lookback_days)))
    if found_by is not None:
        facts.found_by, facts.pushed_sha = found_by, change.head
        # The approvals are judged on the merged change request's final head (facts.head_sha),
        # not on the pushed merge commit, which nobody reviewed as such.
        return facts
    same_change = change.platform == platform and change.number == number
    if same_change and change.head and change.head != facts.head_sha:
        raise ChangegateError(
            "HEAD_MOVED",
            f"this job checks {change.head[:12]}, but the head of the change is now "
            f"{facts.head_sha[:12]}: approvals are judged on the head being deployed",
            fix="the new push starts its own run, which evaluates the new head")
    return facts


def is_branch_push(change: Change) -> bool:
    """A push (GitHub `push` event, GitLab `push` pipeline) of a branch, with a head commit."""
    return change.event == "push" and change.ref_type == "branch" and bool(change.ref) \
        and bool(change.head) and change.number is None


def make_forge(platform: str, environ: Any, timeout: float) -> Forge:
    from changegate.forges.base import github_settings, gitlab_settings

    if platform == "github":
        from changegate.forges.github import GitHubForge

        settings = github_settings(environ, timeout)
        if not settings.token:
            raise ChangegateError(
                "TOKEN_MISSING", "no GitHub token: set GITHUB_TOKEN (or CHANGEGATE_GITHUB_TOKEN "
                "for a token that can read team membership)",
                fix="pass `github-token` to the action, or export GITHUB_TOKEN")
        return GitHubForge(settings)
    from changegate.forges.gitlab import GitLabForge

    settings = gitlab_settings(environ, timeout)
    if not settings.token:
        raise ChangegateError(
            "TOKEN_MISSING", "no GitLab token: set CHANGEGATE_GITLAB_TOKEN (a project or group "
            "access token with read_api)", fix="add a masked CI/CD variable "
            "CHANGEGATE_GITLAB_TOKEN")
    return GitLabForge(settings)


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}", file=str(path)) from exc
    if not isinstance(data, dict):
        raise InputError(f"{path} is not a JSON object", file=str(path))
    return data


def _replay(path: Path) -> ChangeFacts:
    from changegate.forges.models import ChangeFacts

    data = _load(path)
    facts = data.get("facts") if "facts" in data else data
    if not isinstance(facts, dict):
        raise InputError(f"{path} records no approvals facts", file=str(path))
    try:
        return ChangeFacts.from_json(facts)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: the recorded facts are incomplete ({exc})",
                         file=str(path)) from exc


def _recorded_environment(path: Path) -> str | None:
    change = _load(path).get("change_request")
    value = change.get("environment") if isinstance(change, dict) else None
    return str(value) if value else None
