"""GitLab: the facts of one merge request, through python-gitlab's HTTP layer.

GitLab's REST API has no single query for everything, so this is a handful of requests per
merge request (MR, commits, approvals, approval state, reviewers, diff versions, diffs, group
members, push events), each paginated to the end. Two GitLab specifics shape the facts:

- An approval carries no commit. The MR's diff versions do (one per push, with its time), so an
  approval is attributed to the head that was current when it was given (`approved_at`); an
  approval whose time GitLab does not report is attributed to no commit (stale, fail closed)
  unless the MR was never pushed to after it was opened.
- Commits carry only names and emails, never accounts. Reviewers are matched to commit
  identities by their public email, GitLab's no-reply address and their display name (matching
  too many only excludes more people).

GitLab's own approval rules (Premium) are read and recorded as facts, but the policy decides;
on the Free tier, where GitLab enforces nothing, the policy is the only rule there is.
CI_JOB_TOKEN cannot read approvals or group members on most tiers: use a token with `read_api`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlparse

from changegate.errors import ChangegateError
from changegate.forges.base import (
    CHANGE_NOT_FOUND,
    FORGE_API_ERROR,
    FORGE_AUTH,
    FORGE_DATA_INCOMPLETE,
    FORGE_RATE_LIMITED,
    TEAM_PERMISSION_MISSING,
    ForgeSettings,
)
from changegate.forges.github import head_commit_pusher, pick_merged
from changegate.forges.identity import matches
from changegate.forges.models import (
    Account,
    ChangeFacts,
    Commit,
    FetchRequest,
    PastEmergency,
    Person,
    Pusher,
    Review,
    ReviewState,
    Team,
)
from changegate.forges.trailers import co_authors

if TYPE_CHECKING:
    import requests

PAGE = 100
MAX_PAGES = 500

AUTH_FIX = ("Pass a project or group access token with the `read_api` scope (Reporter role) "
            "as the masked CI/CD variable CHANGEGATE_GITLAB_TOKEN; CI_JOB_TOKEN cannot read "
            "merge request approvals on most GitLab tiers.")
GROUP_FIX = ("Give the token read access to the group's members: a group access token (or a "
             "token of a user who is a member of the group) with `read_api`, passed as "
             "CHANGEGATE_GITLAB_TOKEN. Also check the group path in the policy.")


class _RateLimitTooLong(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(f"{wait:.0f} s")
        self.wait = wait


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 time from the API (with `Z` or an offset), or None."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class GitLabForge:
    """Reads merge request facts from GitLab.com or a self-managed GitLab."""

    name = "gitlab"

    def __init__(self, settings: ForgeSettings) -> None:
        import gitlab

        self.settings = settings
        server = settings.api_url.removesuffix("/api/v4")
        kwargs: dict[str, Any] = {}
        if settings.token and settings.token_kind == "job":  # noqa: S105 - a kind, not a token
            kwargs["job_token"] = settings.token
        elif settings.token:
            kwargs["private_token"] = settings.token
        self._gl = gitlab.Gitlab(url=server, timeout=settings.timeout, per_page=PAGE,
                                 retry_transient_errors=True, keep_base_url=True, **kwargs)
        self._gl.session.hooks["response"].append(self._check_rate_wait)
        self._count = 0
        self._host = urlparse(server).hostname or "gitlab.com"

    @property
    def requests_made(self) -> int:
        return self._count

    def _check_rate_wait(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Refuse a rate-limit wait longer than allowed instead of sleeping through the job.

        python-gitlab sleeps whatever `Retry-After` says; a response hook sees it first.
        """
        self._count += 1
        if response.status_code != 429:
            return
        value = response.headers.get("Retry-After", "")
        wait = float(value) if value.replace(".", "", 1).isdigit() else 0.0
        if wait > self.settings.max_rate_wait:
            raise _RateLimitTooLong(wait)

    # -- requests -----------------------------------------------------------------------------

    def _request(self, path: str, query: dict[str, Any] | None = None) -> requests.Response:
        from gitlab.exceptions import GitlabAuthenticationError, GitlabHttpError
        from requests import RequestException

        try:
            response: requests.Response = self._gl.http_request(
                "get", path, query_data=query or {}, max_retries=2, obey_rate_limit=True)
            return response
        except _RateLimitTooLong as exc:
            raise ChangegateError(
                FORGE_RATE_LIMITED, f"GitLab's rate limit asks for a wait of {exc.wait:.0f} s, "
                f"more than the {self.settings.max_rate_wait:.0f} s allowed",
                fix="re-run the job later") from exc
        except GitlabAuthenticationError as exc:
            raise ChangegateError(FORGE_AUTH, f"GitLab rejected the token on {path} "
                                  f"(HTTP {exc.response_code}: {exc.error_message})",
                                  fix=AUTH_FIX) from exc
        except GitlabHttpError as exc:
            raise _HttpError(path, int(exc.response_code or 0), str(exc.error_message)) from exc
        except RequestException as exc:
            raise ChangegateError(
                FORGE_API_ERROR, f"GitLab: {path} could not be read ({type(exc).__name__}: "
                f"{exc}); timeout {self.settings.timeout:g} s, retried",
                fix="re-run the job; raise --timeout if the server is slow") from exc

    def _get(self, path: str, query: dict[str, Any] | None = None) -> Any:
        response = self._request(path, query)
        try:
            return response.json()
        except ValueError as exc:
            raise ChangegateError(FORGE_API_ERROR, f"GitLab: {path} did not return JSON") from exc

    def _list(self, path: str, query: dict[str, Any] | None = None,
              limit: int | None = None) -> list[Any]:
        """Every page of a list endpoint (or the first `limit` items)."""
        items: list[Any] = []
        page = 1
        for _ in range(MAX_PAGES):
            response = self._request(path, {**(query or {}), "per_page": PAGE, "page": page})
            try:
                body = response.json()
            except ValueError as exc:
                raise ChangegateError(FORGE_API_ERROR,
                                      f"GitLab: {path} did not return JSON") from exc
            if not isinstance(body, list):
                raise ChangegateError(FORGE_API_ERROR, f"GitLab: {path} did not return a list")
            items.extend(body)
            if limit is not None and len(items) >= limit:
                return items[:limit]
            following = response.headers.get("X-Next-Page", "")
            if not following.strip():
                if "next" in response.links:
                    raise ChangegateError(FORGE_DATA_INCOMPLETE,
                                          f"GitLab: {path} uses a pagination this client "
                                          "does not follow")
                total = response.headers.get("X-Total", "")
                if total.isdigit() and int(total) != len(items):
                    raise ChangegateError(
                        FORGE_DATA_INCOMPLETE,
                        f"GitLab listed {len(items)} of {total} items of {path}; refusing to "
                        "decide on part of them")
                return items
            page = int(following)
        raise ChangegateError(FORGE_DATA_INCOMPLETE, f"GitLab: more than {MAX_PAGES} pages of "
                              f"{path}")

    # -- the fetch ----------------------------------------------------------------------------

    def fetch(self, request: FetchRequest) -> ChangeFacts:
        try:
            return self._fetch(request)
        except _HttpError as exc:  # every HTTP error not given a meaning below
            raise exc.as_error() from exc

    def find_merged(self, repository: str, sha: str, branch: str | None) -> int | None:
        """The merged merge request that brought `sha` (one request: the merge requests of a
        commit): the one merged or squashed as `sha`, else whose head is `sha` (fast-forward)."""
        path = (f"/projects/{quote(repository, safe='')}/repository/commits/{sha}"
                "/merge_requests")
        try:
            body = self._get(path, {"per_page": PAGE})
        except _HttpError as exc:
            raise exc.as_error(AUTH_FIX) from exc
        items = [m for m in body if isinstance(m, dict)] if isinstance(body, list) else []
        merged = [m for m in items if m.get("state") == "merged" and m.get("iid") is not None]
        return pick_merged(merged, branch, (
            lambda m: sha in (m.get("merge_commit_sha"), m.get("squash_commit_sha")),
            lambda m: m.get("sha") == sha),
            base_of=lambda m: m.get("target_branch"), number_of="iid")

    def _fetch(self, request: FetchRequest) -> ChangeFacts:
        project = quote(request.repository, safe="")
        mr_path = f"/projects/{project}/merge_requests/{request.number}"
        try:
            mr = self._get(mr_path)
        except _HttpError as exc:
            if exc.status in (403, 404):
                raise ChangegateError(
                    CHANGE_NOT_FOUND, f"merge request !{request.number} of {request.repository} "
                    f"was not found or is not readable (HTTP {exc.status})", fix=AUTH_FIX
                ) from exc
            raise exc.as_error() from exc
        head = str(mr.get("sha") or (mr.get("diff_refs") or {}).get("head_sha") or "")
        notes: list[str] = []
        try:
            commits = self._commits(f"{mr_path}/commits")
            versions = self._list(f"{mr_path}/versions")
            approvals = self._get(f"{mr_path}/approvals")
            files = self._files(mr_path)
            rules = self._optional(f"{mr_path}/approval_state", notes,
                                   "GitLab approval rules are not available (Premium)")
            reviewers = self._optional_list(f"{mr_path}/reviewers", notes,
                                            "reviewer states are not available")
        except _HttpError as exc:
            raise exc.as_error(AUTH_FIX) from exc
        if head not in {c.sha for c in commits}:
            raise ChangegateError(FORGE_DATA_INCOMPLETE,
                                  f"the head {head[:12]} of merge request !{request.number} is "
                                  "not among its commits")
        reviews, accounts = self._reviews(approvals, reviewers or [], versions, head, notes)
        author = mr.get("author") or {}
        if author.get("username"):
            accounts.setdefault(author["username"], self._account(author))
        facts = ChangeFacts(
            platform="gitlab", repository=request.repository, number=int(mr["iid"]),
            author=author.get("username"), base_branch=str(mr.get("target_branch")),
            head_branch=mr.get("source_branch"), head_sha=head,
            state={"opened": "open"}.get(str(mr.get("state")), str(mr.get("state"))),
            url=mr.get("web_url"), labels=tuple(str(x) for x in mr.get("labels") or ()),
            files=files, commits=tuple(reversed(commits)), reviews=reviews, accounts=accounts,
            teams={g: self._group(g) for g in dict.fromkeys(request.teams)},
            notes=tuple(notes),
        )
        facts.last_pusher = self._pusher(mr, facts.commits, head)
        facts.emergencies = self._emergencies(project, request)
        facts.api = {"requests": self._count,
                     "gitlab_approval_rules": _rules_summary(rules)}
        return facts

    def _optional(self, path: str, notes: list[str], note: str) -> Any:
        """An endpoint some tiers or versions lack: 403/404 is recorded, anything else fails."""
        try:
            return self._get(path)
        except _HttpError as exc:
            if exc.status in (403, 404):
                notes.append(f"{note} (HTTP {exc.status})")
                return None
            raise

    def _optional_list(self, path: str, notes: list[str], note: str) -> list[Any] | None:
        try:
            return self._list(path)
        except _HttpError as exc:
            if exc.status in (403, 404):
                notes.append(f"{note} (HTTP {exc.status})")
                return None
            raise

    # -- pieces -------------------------------------------------------------------------------

    def _commits(self, path: str, limit: int | None = None) -> list[Commit]:
        out = []
        for item in self._list(path, limit=limit):
            out.append(Commit(
                sha=str(item["id"]),
                author=Person(name=item.get("author_name"), email=item.get("author_email")),
                committer=Person(name=item.get("committer_name"),
                                 email=item.get("committer_email")),
                co_authors=co_authors(item.get("message"))))
        return out

    def _files(self, mr_path: str) -> tuple[str, ...]:
        try:
            diffs = self._list(f"{mr_path}/diffs")
        except _HttpError as exc:
            if exc.status != 404:
                raise
            # GitLab before 15.7: the deprecated /changes, which truncates large diffs.
            changes = self._get(f"{mr_path}/changes")
            if changes.get("overflow"):
                raise ChangegateError(
                    FORGE_DATA_INCOMPLETE, "GitLab truncated the merge request's changes "
                    "(overflow); the changed paths cannot all be known") from exc
            diffs = changes.get("changes") or []
        paths: dict[str, None] = {}
        for diff in diffs:
            for key in ("old_path", "new_path"):
                if diff.get(key):
                    paths[str(diff[key])] = None
        return tuple(paths)

    def _account(self, user: dict[str, Any]) -> Account:
        login = str(user["username"])
        emails = []
        for key in ("public_email", "email"):
            if user.get(key):
                emails.append(str(user[key]))
        if user.get("id") is not None:
            emails.append(f"{user['id']}-{login}@users.noreply.{self._host}")
        return Account(login=login, name=user.get("name") or None, emails=tuple(emails),
                       id=int(user["id"]) if user.get("id") is not None else None)

    def _reviews(self, approvals: dict[str, Any], reviewers: list[dict[str, Any]],
                 versions: list[dict[str, Any]], head: str, notes: list[str]
                 ) -> tuple[tuple[Review, ...], dict[str, Account]]:
        timeline = sorted(((parse_time(v.get("created_at")), str(v.get("head_commit_sha")))
                           for v in versions if parse_time(v.get("created_at"))),
                          key=lambda pair: pair[0] or datetime.min)
        heads = {sha for _, sha in timeline}
        reviews: list[Review] = []
        accounts: dict[str, Account] = {}
        unknown_times = False
        for entry in approvals.get("approved_by") or []:
            user = entry.get("user") or {}
            if not user.get("username"):
                continue
            login = str(user["username"])
            accounts[login] = self._account(self._profile(user))
            at = parse_time(entry.get("approved_at"))
            commit: str | None = None
            if at is not None:
                for created, sha in timeline:
                    if created is not None and created <= at:
                        commit = sha
            elif len(heads) == 1 and head in heads:
                commit = head  # never pushed to since it was opened
            else:
                unknown_times = True
            reviews.append(Review(user=login, state=ReviewState.APPROVED, commit=commit,
                                  submitted_at=entry.get("approved_at")))
        if unknown_times:
            notes.append("GitLab did not report when some approvals were given; they are "
                         "treated as given on an older commit")
        for entry in reviewers:
            user = entry.get("user") or {}
            if entry.get("state") == "requested_changes" and user.get("username"):
                login = str(user["username"])
                accounts.setdefault(login, self._account(user))
                reviews.append(Review(user=login, state=ReviewState.CHANGES_REQUESTED,
                                      submitted_at=entry.get("created_at")))
        return tuple(reviews), accounts

    def _profile(self, user: dict[str, Any]) -> dict[str, Any]:
        """The user's public profile (public email), falling back to what the approval lists."""
        if user.get("id") is None:
            return user
        try:
            profile = self._get(f"/users/{int(user['id'])}")
        except _HttpError:
            return user
        return {**user, **profile} if isinstance(profile, dict) else user

    def _user_by_name(self, login: str) -> dict[str, Any]:
        """`{id, username, name}` of a user by username (GitLab's users search), or a stub."""
        found = self._get("/users", {"username": login})
        if isinstance(found, list) and found and isinstance(found[0], dict):
            return dict(found[0])
        return {"username": login}

    def _group(self, group: str) -> Team:
        path = f"/groups/{quote(group, safe='')}/members/all"
        try:
            members = self._list(path)
        except _HttpError as exc:
            if exc.status in (401, 403, 404):
                raise ChangegateError(
                    TEAM_PERMISSION_MISSING,
                    f"cannot read the members of group {group} (HTTP {exc.status}); no reviewer "
                    "is counted as a member by guess", fix=GROUP_FIX) from exc
            raise exc.as_error() from exc
        except ChangegateError as exc:
            if exc.rule == FORGE_AUTH:
                raise ChangegateError(TEAM_PERMISSION_MISSING,
                                      f"cannot read the members of group {group}: {exc.message}",
                                      fix=GROUP_FIX) from exc
            raise
        names = {str(m["username"]) for m in members
                 if m.get("username") and m.get("state", "active") == "active"}
        return Team(name=group, members=tuple(sorted(names)))

    def _pusher(self, mr: dict[str, Any], commits: tuple[Commit, ...], head: str) -> Pusher:
        project = mr.get("source_project_id") or mr.get("project_id")
        branch = mr.get("source_branch")
        if project is not None and branch:
            try:
                events = self._list(f"/projects/{int(project)}/events",
                                    {"action": "pushed", "sort": "desc"}, limit=PAGE)
            except _HttpError as exc:
                if exc.status not in (403, 404):
                    raise exc.as_error() from exc
                events = []
            for event in events:
                push = event.get("push_data") or {}
                who = (event.get("author") or {}).get("username") or event.get("author_username")
                if push.get("ref") == branch and push.get("commit_to") == head and who:
                    return Pusher(logins=(str(who),), source="push-event")
        return head_commit_pusher(commits, head)

    def _emergencies(self, project: str, request: FetchRequest) -> tuple[PastEmergency, ...]:
        if not request.emergency_label:
            return ()
        since = request.merged_since or (datetime.now(timezone.utc) - timedelta(days=90)).date()
        query: dict[str, Any] = {"state": "merged", "labels": request.emergency_label,
                                 "updated_after": f"{since.isoformat()}T00:00:00Z"}
        if request.base_branch:
            query["target_branch"] = request.base_branch
        try:
            merged = self._list(f"/projects/{project}/merge_requests", query, limit=20)
            out = []
            for mr in merged:
                iid = int(mr["iid"])
                if iid == request.number:
                    continue
                path = f"/projects/{project}/merge_requests/{iid}"
                author = (mr.get("author") or {}).get("username")
                commits = self._commits(f"{path}/commits", limit=PAGE)
                approvals = self._get(f"{path}/approvals")
                approvers = {str(e["user"]["username"]) for e in approvals.get("approved_by") or []
                             if (e.get("user") or {}).get("username")}
                if request.approved_label:
                    for event in self._list(f"{path}/resource_label_events"):
                        label = (event.get("label") or {}).get("name")
                        who = (event.get("user") or {}).get("username")
                        if event.get("action") == "add" and label == request.approved_label \
                                and who:
                            approvers.add(str(who))
                excluded = {author} if author else set()
                # GitLab links no accounts to commits: match each approver's profile.
                people = [p for c in commits for p in (c.author, c.committer, *c.co_authors)]
                for login in sorted(approvers):
                    account = self._account(self._profile(self._user_by_name(login)))
                    if any(matches(p, login, account) for p in people):
                        excluded.add(login)
                if len(commits) >= PAGE:
                    approvers = set()  # too many commits to know its committers
                out.append(PastEmergency(
                    number=iid, merged_at=mr.get("merged_at"), author=author,
                    url=mr.get("web_url"), approvers=tuple(sorted(approvers)),
                    excluded=tuple(sorted(e for e in excluded if e))))
            return tuple(out)
        except _HttpError as exc:
            raise exc.as_error(AUTH_FIX) from exc


class _HttpError(Exception):
    """An HTTP error from GitLab, kept apart until the caller decides what it means."""

    def __init__(self, path: str, status: int, message: str) -> None:
        super().__init__(f"{path}: HTTP {status}: {message}")
        self.path = path
        self.status = status
        self.message = message

    def as_error(self, fix: str | None = None) -> ChangegateError:
        if self.status in (401, 403):
            return ChangegateError(FORGE_AUTH, f"GitLab refused {self.path} (HTTP {self.status}: "
                                   f"{self.message})", fix=fix or AUTH_FIX)
        return ChangegateError(FORGE_API_ERROR, f"GitLab: {self.path} answered HTTP "
                               f"{self.status}: {self.message}",
                               fix="re-run the job; if it persists, check the GitLab server")


def _rules_summary(state: Any) -> list[dict[str, Any]] | None:
    """GitLab's own approval rules, as facts (name, required, approved) — the policy decides."""
    if not isinstance(state, dict):
        return None
    out = []
    for rule in state.get("rules") or []:
        out.append({"name": rule.get("name"), "approvals_required": rule.get(
            "approvals_required"), "approved": rule.get("approved"),
            "approved_by": sorted(str(u.get("username")) for u in rule.get("approved_by") or []
                                  if u.get("username"))})
    return out
