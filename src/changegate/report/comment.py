"""One summary comment per pull request (GitHub) or merge request (GitLab), updated in place.

What a reviewer reads on the PR/MR: each gate's status, what is still missing ("1 more approval
from acme/compliance", "3 commits unsigned"), links to the run and the evidence, and the
findings of the run in a collapsed table. The comment is found again by a hidden marker, so
every push updates the same comment rather than adding one.

Several gates may run in separate steps or jobs (one composite action per gate). Each run keeps
a small machine-readable state of the gates it knows in a hidden HTML comment, so the next run
updates its own gates and keeps the others' lines. Lines about an older head commit are dropped:
the comment never shows a pass that was decided for code that is no longer the PR's head.

Whose comment it is: only a comment written by the token's own account counts (on GitLab the
token's user from `GET /user`; on GitHub the same, or, for an installation token such as
GITHUB_TOKEN that cannot read `/user`, a comment by a bot account). A person who pastes the
marker into a comment of their own cannot make changegate adopt their text or their state.

Untrusted text (commit messages, package names, file paths, PR text quoted in findings) is
escaped by `markdown_text`: no HTML, no Markdown links or images, no `#123`/`!123`
references, and @-mentions are broken with a zero-width joiner so a commit message cannot
ping `@org/team`. No line of the body starts with untrusted text, so nothing in it can be read
as a GitLab quick action (`/approve`, `/merge`). GitHub caps a comment at 65,536 characters
(GitLab a note at 1,000,000): the findings table is cut to fit, with a note and a link to the
run where every finding is listed.

The same statuses and links also go to GitLab's annotations report (`artifacts:reports:
annotations`), which shows them as external links on the job page.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from changegate.report.checks import PublishError, repository_path
from changegate.report.escape import markdown_text, single_line, truncate
from changegate.report.markdown import (
    FINDINGS_TABLE_HEAD,
    finding_rows,
    fit_rows,
    is_safe_link,
    status_word,
    what_is_missing,
)
from changegate.result import GateResult, Status, combined_status

if TYPE_CHECKING:
    from changegate.forges.base import ForgeSettings
    from changegate.report.checks import GitHubApi

MARKER = "<!-- changegate:summary -->"
_STATE_PREFIX = "<!-- changegate:state "
_STATE = re.compile(r"<!-- changegate:state ([A-Za-z0-9+/=]{1,400000}) -->")
STATE_VERSION = 1

GITHUB_BODY_LIMIT = 65536
GITLAB_BODY_LIMIT = 1_000_000
# Room kept free under the limit, in characters, for anything the estimate misses.
_MARGIN = 256

_MAX_GATES = 50
_SUMMARY_CHARS = 500
_MISSING_CHARS = 300
_MISSING_ITEMS = 6
_PAGES = 100  # comment pages read when looking for ours (10,000 comments)

_ICON = {Status.PASS: "\u2705", Status.FAIL: "\u274c", Status.ERROR: "\u26a0\ufe0f"}
_HEX = re.compile(r"^[0-9a-f]{7,64}$")
_HTTP_URL = re.compile(r"^https?://[^\s\"'<>]+$")


# --- state ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateLine:
    """One gate's line in the comment, and the unit of the state carried between runs."""

    gate: str
    status: Status
    summary: str
    missing: tuple[str, ...] = ()
    findings: int = 0
    head: str | None = None
    check_url: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"gate": self.gate, "status": self.status.value,
                                "summary": self.summary, "missing": list(self.missing),
                                "findings": self.findings, "head": self.head}
        if self.check_url:
            data["check_url"] = self.check_url
        return data

    @classmethod
    def from_json(cls, data: Any) -> GateLine | None:
        """A line from a previous comment's state, or None when it is not well formed.

        The state is read back from a comment, so it is treated as input: every field is
        type-checked and capped, and everything is escaped again when rendered.
        """
        if not isinstance(data, dict):
            return None
        gate, status, summary = data.get("gate"), data.get("status"), data.get("summary")
        head, check_url = data.get("head"), data.get("check_url")
        missing, findings = data.get("missing") or [], data.get("findings", 0)
        if not isinstance(gate, str) or not gate or not isinstance(summary, str):
            return None
        if status not in {s.value for s in Status} or not isinstance(findings, int):
            return None
        if not isinstance(missing, list) or not all(isinstance(m, str) for m in missing):
            return None
        if head is not None and not (isinstance(head, str) and _HEX.match(head)):
            return None
        if check_url is not None and not (isinstance(check_url, str)
                                          and is_safe_link(check_url)):
            check_url = None
        return cls(gate=truncate(gate, 100), status=Status(status),
                   summary=truncate(summary, _SUMMARY_CHARS),
                   missing=tuple(truncate(m, _MISSING_CHARS) for m in missing[:_MISSING_ITEMS]),
                   findings=max(0, findings), head=head, check_url=check_url)


def gate_lines(results: list[GateResult], *, head: str | None,
               check_urls: Mapping[str, str] | None = None) -> list[GateLine]:
    """The lines for this run's results (one per gate)."""
    urls = check_urls or {}
    return [GateLine(gate=r.gate, status=r.status,
                     summary=truncate(single_line(r.summary), _SUMMARY_CHARS),
                     missing=tuple(what_is_missing(r)), findings=len(r.findings), head=head,
                     check_url=urls.get(r.gate))
            for r in results]


def merge_lines(previous: list[GateLine], current: list[GateLine],
                head: str | None) -> list[GateLine]:
    """This run's lines, plus the earlier lines of other gates about the same head commit.

    Order stays stable across runs (earlier gates first, new ones appended), so the table does
    not reshuffle on every push.
    """
    fresh = {line.gate: line for line in current}
    merged: list[GateLine] = []
    seen: set[str] = set()
    for line in previous:
        if line.gate in seen:
            continue
        if line.gate in fresh:
            merged.append(fresh[line.gate])
            seen.add(line.gate)
        elif head is not None and line.head == head:
            merged.append(line)
            seen.add(line.gate)
    merged.extend(line for line in current if line.gate not in seen)
    return merged[:_MAX_GATES]


def state_comment(lines: list[GateLine]) -> str:
    """The hidden state: base64 JSON, which can never contain `-->` or Markdown."""
    data = json.dumps({"v": STATE_VERSION, "gates": [line.to_json() for line in lines]},
                      separators=(",", ":"), ensure_ascii=True)
    return f"{_STATE_PREFIX}{base64.b64encode(data.encode()).decode()} -->"


def read_state(body: str) -> list[GateLine]:
    """The gate lines stored in an earlier comment; [] when there are none or they are bad."""
    match = _STATE.search(body)
    if not match:
        return []
    try:
        data = json.loads(base64.b64decode(match.group(1), validate=True))
    except (binascii.Error, ValueError):
        return []
    if not isinstance(data, dict) or data.get("v") != STATE_VERSION:
        return []
    gates = data.get("gates")
    if not isinstance(gates, list):
        return []
    lines = [GateLine.from_json(item) for item in gates[:_MAX_GATES]]
    return [line for line in lines if line is not None]


# --- rendering ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommentContext:
    """What the comment says about the run besides the results."""

    head: str | None
    run_url: str | None = None
    evidence: Mapping[str, Any] | None = None
    evidence_url: str | None = None
    allow_inconclusive: bool = False
    forge: str = "GitHub"
    limit: int = GITHUB_BODY_LIMIT


def status_cell(status: Status, *, allow_inconclusive: bool = False) -> str:
    """An icon and the word; the word is there so the status does not depend on the icon."""
    text = f"{_ICON[status]} {status_word(status)}"
    if status is Status.ERROR and allow_inconclusive:
        text += " (allowed)"
    return text


def _link(text: str, url: str | None) -> str:
    return f"[{text}]({url})" if url and is_safe_link(url) else text


def _missing_cell(line: GateLine) -> str:
    if line.status is Status.PASS:
        return "-"
    items = [markdown_text(item) for item in line.missing] or [markdown_text(line.summary)]
    return "<br>".join(item for item in items if item) or "-"


def _evidence_text(ctx: CommentContext) -> str:
    evidence = ctx.evidence
    if not evidence:
        return ""
    digest = evidence.get("record_sha256")
    label = "change record"
    if isinstance(digest, str) and _HEX.match(digest):
        label += f" `sha256:{digest[:16]}\u2026`"
    parts = [f"**Evidence:** {_link(label, ctx.evidence_url)}"]
    signed = evidence.get("signed")
    if signed is True:
        parts.append("(signed)")
    elif signed is False:
        parts.append("(unsigned)")
    store = evidence.get("store")
    where = store.get("uri") if isinstance(store, dict) else None
    where = where or evidence.get("path") or evidence.get("record_uri")
    if isinstance(where, str) and where:
        parts.append(f"in {markdown_text(truncate(where, 300))}")
    command = evidence.get("verify_command")
    text = " ".join(parts)
    if isinstance(command, str) and command:
        text += f". Verify: {markdown_text(truncate(command, 500))}"
    return text + "\n\n"


def _truncation_note(forge: str, limit: int, run_url: str | None) -> Callable[[int], str]:
    def note(left_out: int) -> str:
        noun = "finding is" if left_out == 1 else "findings are"
        where = (_link("the workflow run", run_url) if run_url and is_safe_link(run_url)
                 else "the job summary and the JSON report")
        return (f"\n{left_out} more {noun} not shown here: {forge} limits a comment to "
                f"{limit:,} characters. Every finding is listed in {where}.\n")
    return note


def render_comment(lines: list[GateLine], results: list[GateResult],
                   ctx: CommentContext) -> str:
    """The comment body: marker, headline, gate table, evidence, findings, hidden state.

    At most `ctx.limit` characters: the findings table (this run's findings) is what gets cut.
    """
    statuses = [line.status for line in lines]
    overall = combined_status(statuses) if statuses else Status.ERROR
    head = [MARKER, "\n",
            f"### {_ICON[overall]} changegate: {status_word(overall)}\n\n"]
    about: list[str] = []
    if ctx.head and _HEX.match(ctx.head):
        about.append(f"Commit `{ctx.head[:12]}`")
    if ctx.run_url and is_safe_link(ctx.run_url):
        about.append(_link("run", ctx.run_url))
    about.append("this comment is updated on every run")
    head.append(" \u00b7 ".join(about) + "\n\n")
    head.append("| Gate | Result | What is missing |\n| --- | --- | --- |\n")
    for line in lines:
        gate = _link(markdown_text(line.gate), line.check_url)
        result = status_cell(line.status, allow_inconclusive=ctx.allow_inconclusive)
        head.append(f"| {gate} | {result} | {_missing_cell(line)} |\n")
    head.append("\n")
    head.append(_evidence_text(ctx))
    fixed = "".join(head)
    state = state_comment(lines)

    total = sum(len(r.findings) for r in results)
    if total == 0:
        return fixed + state + "\n"
    open_details = (f"<details>\n<summary>Findings of this run ({total})</summary>\n\n"
                    + FINDINGS_TABLE_HEAD)
    close_details = "\n</details>\n\n"
    budget = ctx.limit - _MARGIN - len(fixed) - len(open_details) - len(close_details) \
        - len(state) - 1
    rows, _ = fit_rows(finding_rows(results), budget=max(0, budget),
                       note=_truncation_note(ctx.forge, ctx.limit, ctx.run_url), measure=len)
    return fixed + open_details + rows + close_details + state + "\n"


# --- publishing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ExistingComment:
    id: int
    body: str


@dataclass
class PublishedComment:
    action: str  # created | updated | unchanged
    id: int
    url: str | None


class Thread(Protocol):
    """The comments of one pull/merge request, as far as publishing needs them."""

    forge: str
    limit: int

    def find(self) -> ExistingComment | None: ...

    def create(self, body: str) -> tuple[int, str | None]: ...

    def update(self, comment_id: int, body: str) -> str | None: ...


def publish_comment(thread: Thread, render: Callable[[list[GateLine]], str]
                    ) -> PublishedComment:
    """Find our comment, render with its state, then create it, update it, or leave it.

    An unchanged body is not written again: nothing to notify, one request saved.
    """
    existing = thread.find()
    body = render(read_state(existing.body) if existing else [])
    if len(body) > thread.limit:
        raise PublishError(f"the comment would be {len(body)} characters; {thread.forge} "
                           f"accepts {thread.limit}")
    if existing is None:
        ident, url = thread.create(body)
        return PublishedComment("created", ident, url)
    if existing.body == body:
        return PublishedComment("unchanged", existing.id, None)
    return PublishedComment("updated", existing.id, thread.update(existing.id, body))


class GitHubThread:
    """Issue comments of a pull request (the conversation tab), through `GitHubApi`."""

    forge = "GitHub"
    limit = GITHUB_BODY_LIMIT

    def __init__(self, api: GitHubApi, repository: str | None, number: int) -> None:
        self.api = api
        self.repo = repository_path(repository)
        self.number = number

    def _identity(self) -> str | None:
        """The token's login; None for an installation token, which may not read `/user`."""
        try:
            user = self.api.request("GET", "/user")
        except PublishError as exc:
            if exc.status == 403:
                return None
            raise
        login = user.get("login") if isinstance(user, dict) else None
        return login if isinstance(login, str) else None

    def find(self) -> ExistingComment | None:
        me = self._identity()
        for page in range(1, _PAGES + 1):
            items = self.api.request("GET", f"{self.repo}/issues/{self.number}/comments",
                                     params={"per_page": 100, "page": page})
            if not isinstance(items, list):
                raise PublishError("GitHub answered the comment list with something else")
            for item in items:
                user = item.get("user") if isinstance(item, dict) else None
                body = item.get("body") if isinstance(item, dict) else None
                if not isinstance(user, dict) or not isinstance(body, str) or MARKER not in body:
                    continue
                ours = user.get("login") == me if me else user.get("type") == "Bot"
                if ours and isinstance(item.get("id"), int):
                    return ExistingComment(item["id"], body)
            if len(items) < 100:
                break
        return None

    def create(self, body: str) -> tuple[int, str | None]:
        made = self.api.request("POST", f"{self.repo}/issues/{self.number}/comments",
                                body={"body": body})
        if not isinstance(made, dict) or not isinstance(made.get("id"), int):
            raise PublishError("GitHub answered the new comment without an id")
        return made["id"], made.get("html_url")

    def update(self, comment_id: int, body: str) -> str | None:
        made = self.api.request("PATCH", f"{self.repo}/issues/comments/{comment_id}",
                                body={"body": body})
        url = made.get("html_url") if isinstance(made, dict) else None
        return url if isinstance(url, str) else None


class GitLabApi:
    """The few REST calls publishing makes on GitLab, through python-gitlab's HTTP layer.

    Writes are not retried on 5xx: a note created twice is worse than a warning. Reads are.
    """

    def __init__(self, settings: ForgeSettings) -> None:
        import gitlab

        self.settings = settings
        kwargs: dict[str, Any] = {}
        if settings.token and settings.token_kind == "job":  # noqa: S105 - a kind, not a token
            kwargs["job_token"] = settings.token
        elif settings.token:
            kwargs["private_token"] = settings.token
        self._gl = gitlab.Gitlab(url=settings.api_url.removesuffix("/api/v4"),
                                 timeout=settings.timeout, per_page=100, keep_base_url=True,
                                 **kwargs)
        self.requests_made = 0

    def request(self, method: str, path: str, *, body: dict[str, Any] | None = None,
                params: dict[str, Any] | None = None) -> Any:
        from gitlab.exceptions import GitlabAuthenticationError, GitlabHttpError
        from requests import RequestException

        self.requests_made += 1
        verb = method.lower()
        try:
            response = self._gl.http_request(verb, path, query_data=params or {},
                                             post_data=body, max_retries=2,
                                             retry_transient_errors=verb == "get")
        except GitlabAuthenticationError as exc:
            raise PublishError(f"GitLab rejected the token for {method} {path}: "
                               f"{exc.error_message}", status=401) from exc
        except GitlabHttpError as exc:
            raise PublishError(f"GitLab answered HTTP {exc.response_code} to {method} {path}: "
                               f"{exc.error_message}", status=exc.response_code) from exc
        except RequestException as exc:
            raise PublishError(f"GitLab could not be reached for {method} {path} "
                               f"({type(exc).__name__}: {exc})") from exc
        return response.json()


class GitLabThread:
    """Notes of a merge request, through `GitLabApi`; ours are the token user's."""

    forge = "GitLab"
    limit = GITLAB_BODY_LIMIT

    def __init__(self, api: GitLabApi, project: str, iid: int, *,
                 web_url: str | None = None) -> None:
        self.api = api
        self.base = f"/projects/{quote(project, safe='')}/merge_requests/{iid}/notes"
        self.web_url = web_url

    def find(self) -> ExistingComment | None:
        me = self.api.request("GET", "/user")
        my_id = me.get("id") if isinstance(me, dict) else None
        if not isinstance(my_id, int):
            raise PublishError("GitLab did not say who the token belongs to (GET /user)")
        for page in range(1, _PAGES + 1):
            items = self.api.request("GET", self.base, params={
                "per_page": 100, "page": page, "sort": "asc", "order_by": "created_at"})
            if not isinstance(items, list):
                raise PublishError("GitLab answered the note list with something else")
            for item in items:
                if not isinstance(item, dict) or item.get("system"):
                    continue
                author, body = item.get("author"), item.get("body")
                if isinstance(author, dict) and author.get("id") == my_id \
                        and isinstance(body, str) and MARKER in body \
                        and isinstance(item.get("id"), int):
                    return ExistingComment(item["id"], body)
            if len(items) < 100:
                break
        return None

    def _url(self, ident: int) -> str | None:
        return f"{self.web_url}#note_{ident}" if self.web_url else None

    def create(self, body: str) -> tuple[int, str | None]:
        made = self.api.request("POST", self.base, body={"body": body})
        if not isinstance(made, dict) or not isinstance(made.get("id"), int):
            raise PublishError("GitLab answered the new note without an id")
        return made["id"], self._url(made["id"])

    def update(self, comment_id: int, body: str) -> str | None:
        self.api.request("PUT", f"{self.base}/{comment_id}", body={"body": body})
        return self._url(comment_id)


# --- GitLab annotations report --------------------------------------------------------------

ANNOTATIONS_SECTION = "changegate"
_LABEL_CHARS = 250


def _external_link(label: str, url: str | None) -> dict[str, Any] | None:
    if not url or not _HTTP_URL.match(url):
        return None
    return {"external_link": {"label": truncate(single_line(label), _LABEL_CHARS), "url": url}}


def gitlab_annotations(lines: list[GateLine], *, gates_url: str | None,
                       links: list[tuple[str, str | None]]) -> dict[str, list[dict[str, Any]]]:
    """GitLab's annotations report: one external link per gate (its status and what is
    missing, to `gates_url`, the pipeline's test report) plus `links` (label, url) such as the
    evidence record and the summary comment. GitLab needs a URL for every entry, so entries
    without one are left out.
    """
    entries: list[dict[str, Any]] = []
    for line in lines:
        label = f"{line.gate}: {status_word(line.status)}"
        if line.status is not Status.PASS and (line.missing or line.summary):
            label += " - " + "; ".join(line.missing or (line.summary,))
        entry = _external_link(label, gates_url)
        if entry:
            entries.append(entry)
    for label, url in links:
        entry = _external_link(label, url)
        if entry:
            entries.append(entry)
    return {ANNOTATIONS_SECTION: entries}


def write_gitlab_annotations(report: dict[str, list[dict[str, Any]]], path: Path) -> None:
    """Write the annotations report (`artifacts:reports:annotations`) to `path`."""
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
