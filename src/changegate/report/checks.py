"""Publish results as GitHub check runs: one per gate, every finding an annotation.

Workflow-command annotations are capped by GitHub at 10 per type per step (and 50 per job), so a
pull request with 30 unsigned commits or 40 vulnerable packages shows only the first few. The
Checks API has no such display cap; it only takes 50 annotations per request, so the first 50
go with the request that creates the run and the rest follow in `PATCH` requests of 50 each
(GitHub appends the annotations of each update). 120 findings are 3 requests.

Each check run is created already `completed` with its final conclusion, and the annotations are
appended afterwards: if a later batch fails, the run still shows the gate's true verdict (never
a success for a failing gate), just with fewer annotations, and the caller says so.

Conclusions: a passing gate is `success`, a failing one `failure`; an inconclusive gate is
`failure` too, unless the workflow allows inconclusive results (`fail-on-error: false`), when it
is `neutral`, GitHub's "finished, neither passed nor failed".

Where an annotation goes: the finding's file and line when it is a path in the repository (a
dependency's line in the lock file, the policy key a policy error is about). The Checks API
needs a path for every annotation, so a finding about a commit, or about a place outside the
repository (an API URL), is anchored at the policy file, on the line where that gate's settings
start, and its message begins with the commit (`commit 1a2b3c4d5e6f: ...`) or the place.

The token needs `checks: write`. A GITHUB_TOKEN without it, a fork's read-only token or a
personal access token (which cannot create check runs at all) get 403; `PublishError.denied` is
how the caller knows to fall back to workflow commands and say once how to enable this view.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from changegate.report.common import short_commit
from changegate.report.escape import strip_controls, truncate, truncate_utf8
from changegate.report.markdown import is_safe_link, status_word, summary_markdown, what_is_missing
from changegate.result import Finding, GateResult, Location, Severity, Status

if TYPE_CHECKING:
    from changegate.forges.base import ForgeSettings

# GitHub's limits: 50 annotations per request; 65,535 characters of summary; 64 KB of message
# and raw details per annotation; titles are kept to 255 characters.
ANNOTATIONS_PER_REQUEST = 50
SUMMARY_MAX_CHARS = 65535
_ANNOTATION_BYTES = 60 * 1024  # under 64 KB, with room to spare
_TITLE_CHARS = 255
_RUN_TITLE_CHARS = 200

_LEVEL = {Severity.ERROR: "failure", Severity.WARNING: "warning", Severity.NOTE: "notice"}
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_SHA = re.compile(r"^[0-9a-f]{40}$")

CHECKS_HINT = (
    "For every finding as an annotation on the pull request, give the job "
    "`permissions: checks: write` (GitHub shows at most 10 annotations of each kind per step; "
    "the job summary lists every finding)."
)


class PublishError(Exception):
    """Publishing to a forge failed; the gate's verdict stands, the caller prints a warning.

    `status` is the HTTP status when there was one: 401/403/404 mean the token may not do
    this (`denied`), which is a configuration to explain rather than an outage to report.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.published: list[PublishedCheckRun] = []

    @property
    def denied(self) -> bool:
        return self.status in (401, 403, 404)


def conclusion(status: Status, *, allow_inconclusive: bool = False) -> str:
    """The check run conclusion for a gate status (see the module docstring)."""
    if status is Status.PASS:
        return "success"
    if status is Status.ERROR and allow_inconclusive:
        return "neutral"
    return "failure"


def is_repository_path(path: str | None) -> bool:
    """Whether `path` can be an annotation's place: relative, inside the repository, not a URL."""
    if not path or "://" in path or path.startswith(("/", "\\", "~")) or "\x00" in path:
        return False
    return ".." not in re.split(r"[\\/]", path) and not re.match(r"^[A-Za-z]:", path)


def annotation(gate: str, finding: Finding, anchor: Location) -> dict[str, Any]:
    """One Checks API annotation for `finding`; `anchor` is where place-less findings go.

    Messages and titles are plain text to GitHub (never rendered as Markdown), so only control
    characters are removed; the length caps keep one huge commit message from failing the
    whole request.
    """
    loc = finding.location
    prefix = ""
    if loc.commit:
        prefix = f"commit {short_commit(loc.commit)}: "
    on_file = is_repository_path(loc.file)
    if loc.file and not on_file:
        prefix += f"{loc.describe()}: " if not loc.commit else f"at {loc.file}: "
    message = prefix + finding.message
    if finding.fix:
        message += f"\nFix: {finding.fix}"
    title = f"{gate} {finding.rule}" + (f": {finding.title}" if finding.title else "")
    path = loc.file if on_file and loc.file else (anchor.file or ".changegate.yml")
    line = (loc.line or 1) if on_file else (anchor.line or 1)
    data: dict[str, Any] = {
        "path": path,
        "start_line": line,
        "end_line": line,
        "annotation_level": _LEVEL[finding.severity],
        "message": truncate_utf8(strip_controls(message), _ANNOTATION_BYTES),
        "title": truncate(strip_controls(title), _TITLE_CHARS),
    }
    if on_file and loc.line and loc.column:
        data["start_column"] = data["end_column"] = loc.column
    if finding.help_uri:
        data["raw_details"] = truncate_utf8(strip_controls(f"Rule documentation: "
                                                           f"{finding.help_uri}"),
                                            _ANNOTATION_BYTES)
    return data


@dataclass(frozen=True)
class CheckRunPlan:
    """Everything one check run will say, computed before any request is made."""

    gate: str
    name: str
    conclusion: str
    title: str
    summary: str
    annotations: list[dict[str, Any]]

    def batches(self) -> list[list[dict[str, Any]]]:
        """The annotations in request-sized batches; one empty batch when there are none."""
        size = ANNOTATIONS_PER_REQUEST
        return [self.annotations[i:i + size]
                for i in range(0, len(self.annotations), size)] or [[]]


def _summary_note(left_out: int) -> str:
    noun = "finding is" if left_out == 1 else "findings are"
    return (f"\n{left_out} more {noun} not listed here (GitHub limits a check run summary to "
            "65,535 characters); every finding is an annotation of this check run.\n")


def plan_check_runs(
    results: list[GateResult],
    *,
    anchor_for: Callable[[str], Location],
    allow_inconclusive: bool = False,
    name_prefix: str = "changegate",
) -> list[CheckRunPlan]:
    """One plan per gate result: name, conclusion, title, Markdown summary, annotations."""
    plans = []
    for result in results:
        anchor = anchor_for(result.gate)
        missing = what_is_missing(result)
        headline = "; ".join(missing) if missing else result.summary
        title = f"{status_word(result.status)}: {headline}" if headline else \
            status_word(result.status)
        summary = summary_markdown([result], title=f"{name_prefix} {result.gate}",
                                   max_bytes=SUMMARY_MAX_CHARS, truncation_note=_summary_note)
        plans.append(CheckRunPlan(
            gate=result.gate,
            name=f"{name_prefix} / {result.gate}",
            conclusion=conclusion(result.status, allow_inconclusive=allow_inconclusive),
            title=truncate(strip_controls(title).replace("\n", " "), _RUN_TITLE_CHARS),
            summary=summary,
            annotations=[annotation(result.gate, f, anchor) for f in result.findings],
        ))
    return plans


# --- the API --------------------------------------------------------------------------------


class GitHubApi:
    """The few REST calls publishing makes, through PyGithub's `Requester`.

    PyGithub brings authentication, GitHub Enterprise base URLs and `GithubRetry` (rate limits,
    `Retry-After`, 5xx); it is imported only when something is published, so a run that
    publishes nothing does not pay for it.
    """

    def __init__(self, settings: ForgeSettings) -> None:
        from github import Auth, Github

        from changegate.forges.github import capped_retry

        self.settings = settings
        self._github = Github(auth=Auth.Token(settings.token) if settings.token else None,
                              base_url=settings.api_url, timeout=math.ceil(settings.timeout),
                              retry=capped_retry(settings.max_rate_wait), per_page=100,
                              seconds_between_requests=None, seconds_between_writes=None,
                              lazy=True)
        self.requests_made = 0

    def request(self, method: str, path: str, *, body: dict[str, Any] | None = None,
                params: dict[str, Any] | None = None) -> Any:
        """One request; any failure is a `PublishError` with the HTTP status when known."""
        from github import GithubException
        from requests import RequestException

        self.requests_made += 1
        try:
            _, data = self._github.requester.requestJsonAndCheck(
                method, path, parameters=params, input=body)
        except GithubException as exc:
            detail = exc.data.get("message") if isinstance(exc.data, dict) else None
            raise PublishError(f"GitHub answered HTTP {exc.status} to {method} {path}"
                               + (f": {detail}" if detail else ""),
                               status=int(exc.status)) from exc
        except RequestException as exc:
            raise PublishError(f"GitHub could not be reached for {method} {path} "
                               f"({type(exc).__name__}: {exc})") from exc
        return data


@dataclass
class PublishedCheckRun:
    gate: str
    id: int
    html_url: str | None
    annotations: int
    requests: int = 0
    conclusion: str = ""


def repository_path(repository: str | None) -> str:
    """`/repos/owner/name`, refusing anything that is not a plain owner/name."""
    if not repository or not _REPOSITORY.match(repository):
        raise PublishError(f"cannot publish: {repository!r} is not an owner/name repository")
    return f"/repos/{repository}"


def publish_check_runs(api: GitHubApi, repository: str | None, head_sha: str | None,
                       plans: list[CheckRunPlan], *, details_url: str | None = None
                       ) -> list[PublishedCheckRun]:
    """Create one completed check run per plan, then append its remaining annotation batches.

    Raises `PublishError` (with `.published`, the runs created so far) on the first failure:
    one refused request means the token cannot do it, so trying the other gates would only
    repeat the refusal.
    """
    repo = repository_path(repository)
    if not head_sha or not _SHA.match(head_sha):
        raise PublishError(f"cannot publish check runs: {head_sha!r} is not a commit SHA")
    published: list[PublishedCheckRun] = []
    try:
        for plan in plans:
            batches = plan.batches()
            output = {"title": plan.title, "summary": plan.summary}
            body: dict[str, Any] = {
                "name": plan.name, "head_sha": head_sha, "external_id": plan.gate,
                "status": "completed", "conclusion": plan.conclusion,
                "output": {**output, "annotations": batches[0]},
            }
            if details_url and is_safe_link(details_url):
                body["details_url"] = details_url
            created = api.request("POST", f"{repo}/check-runs", body=body)
            if not isinstance(created, dict) or not isinstance(created.get("id"), int):
                raise PublishError("GitHub answered the check run creation without an id")
            run = PublishedCheckRun(gate=plan.gate, id=created["id"],
                                    html_url=created.get("html_url"),
                                    annotations=len(batches[0]), requests=1,
                                    conclusion=plan.conclusion)
            published.append(run)
            for batch in batches[1:]:
                api.request("PATCH", f"{repo}/check-runs/{run.id}",
                            body={"output": {**output, "annotations": batch}})
                run.annotations += len(batch)
                run.requests += 1
    except PublishError as exc:
        exc.published = published
        raise
    return published
