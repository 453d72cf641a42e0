"""GitHub: the facts of one pull request in as few requests as GitHub allows.

Through PyGithub's `Requester` (authentication, GitHub Enterprise base URLs, `GithubRetry` for
`Retry-After` and rate-limit resets), mostly over GraphQL because one GraphQL request returns
what REST needs a dozen for:

1. One query: the pull request (head, base, author, state), its first 100 commits with every
   author/co-author/committer linked to accounts, reviews with the commit each was made on,
   changed files, labels; the members of every team the policy names (aliases `t0`, `t1`, ...);
   earlier merged emergency changes on the branch (a search); the rate limit.
2. Continuation queries, one per round, for every connection that has a next page (commits past
   100, reviews past 100, teams past 100 members), batched into one request per round through
   `node(id:)`. The REST "list PR commits" endpoint stops at 250 commits; GraphQL does not, and
   the count of unique commits must equal `totalCount` or the run is inconclusive. Should a
   GitHub version cap GraphQL too, the commits are completed through the REST compare API.
3. One REST request: the repository activity of the head branch, for who pushed the head.

A 300-commit PR with 60 reviews and 3 teams is 3 GraphQL requests and 1 REST request.
Anything unreadable (a 5xx after retries, a timeout, a missing permission) raises
`ChangegateError`: the gate is inconclusive, never passed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

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
    from github.Requester import Requester

PAGE = 100  # GraphQL's maximum page size
AUTHORS_PAGE = 30  # authors (incl. co-authors) per commit; more makes the run inconclusive
EMERGENCY_PAGE = 20  # earlier emergency changes looked at per run
MAX_ROUNDS = 200  # continuation rounds: 20,000 commits; a safety stop, not a limit in practice

TEAM_FIX = (
    "Give the token read access to organization members: a GitHub App installation token with "
    "the organization permission \"Members: read\", or a classic personal access token with the "
    "`read:org` scope (pass it as CHANGEGATE_GITHUB_TOKEN). The workflow's GITHUB_TOKEN cannot "
    "read team membership. Also check that the team exists and is visible to that token.")
AUTH_FIX = ("Pass a token that can read the repository's pull requests (GITHUB_TOKEN with "
            "`pull-requests: read` and `contents: read`, or CHANGEGATE_GITHUB_TOKEN).")

_PERSON = "name email user { login }"
_CONNECTIONS: dict[str, str] = {
    "labels": "nodes { name }",
    "files": "nodes { path }",
    "commits": ("nodes { commit { oid committer { " + _PERSON + " } "
                f"authors(first: {AUTHORS_PAGE}) {{ totalCount nodes {{ {_PERSON} }} }} }} }}"),
    "reviews": ("nodes { state submittedAt commit { oid } "
                "author { login ... on User { name email databaseId } } }"),
}
_PAGE_INFO = "totalCount pageInfo { hasNextPage endCursor }"


def _connection(name: str, cursor_var: str | None) -> str:
    after = f", after: ${cursor_var}" if cursor_var else ""
    return f"{name}(first: {PAGE}{after}) {{ {_PAGE_INFO} {_CONNECTIONS[name]} }}"


def _team_members(cursor_var: str | None) -> str:
    after = f", after: ${cursor_var}" if cursor_var else ""
    return f"members(first: {PAGE}{after}) {{ {_PAGE_INFO} nodes {{ login }} }}"


_EMERGENCY = (
    f"emergencies: search(query: $emergencyQuery, type: ISSUE, first: {EMERGENCY_PAGE}) {{ "
    "issueCount nodes { ... on PullRequest { number url mergedAt baseRefName author { login } "
    "reviews(first: 50, states: [APPROVED]) { nodes { author { login } } } "
    "timelineItems(first: 50, itemTypes: [LABELED_EVENT]) { nodes { ... on LabeledEvent { "
    "createdAt actor { login } label { name } } } } "
    f"commits(first: {PAGE}) {{ totalCount nodes {{ commit {{ committer {{ user {{ login }} }} "
    "authors(first: 10) { nodes { user { login } } } } } } } } }")


@dataclass
class _Pages:
    """One paginated connection being read: items so far, the declared total, the cursor."""

    items: list[Any] = field(default_factory=list)
    total: int = 0
    cursor: str | None = None
    more: bool = False

    def add(self, conn: dict[str, Any]) -> None:
        self.items.extend(conn.get("nodes") or [])
        self.total = int(conn.get("totalCount") or 0)
        info = conn.get("pageInfo") or {}
        self.more = bool(info.get("hasNextPage"))
        self.cursor = info.get("endCursor")


class GitHubForge:
    """Reads pull request facts from GitHub.com or GitHub Enterprise Server."""

    name = "github"

    def __init__(self, settings: ForgeSettings) -> None:
        from github import Auth, Github

        self.settings = settings
        retry = capped_retry(settings.max_rate_wait)
        self._github = Github(auth=Auth.Token(settings.token) if settings.token else None,
                              # PyGithub insists on whole seconds.
                              base_url=settings.api_url, timeout=math.ceil(settings.timeout),
                              retry=retry, per_page=PAGE, seconds_between_requests=None,
                              seconds_between_writes=None, lazy=True)
        self._requester: Requester = self._github.requester
        self._graphql_url = settings.graphql_url or self._requester.graphql_url
        self._count = 0
        self._rate: dict[str, Any] = {}
        host = urlparse(settings.api_url).hostname or "github.com"
        self._noreply_host = "users.noreply." + ("github.com" if host == "api.github.com"
                                                 else host.removeprefix("api."))

    @property
    def requests_made(self) -> int:
        return self._count

    # -- the fetch ----------------------------------------------------------------------------

    def fetch(self, request: FetchRequest) -> ChangeFacts:
        owner, _, name = request.repository.partition("/")
        if not owner or not name:
            raise ChangegateError(CHANGE_NOT_FOUND,
                                  f"{request.repository!r} is not an owner/name repository")
        variables: dict[str, Any] = {"owner": owner, "name": name, "number": request.number}
        definitions = ["$owner: String!", "$name: String!", "$number: Int!"]
        parts = [
            "rateLimit { cost remaining limit resetAt }",
            "repository(owner: $owner, name: $name) { pullRequest(number: $number) { "
            "id number url state title mergedAt headRefOid headRefName baseRefName baseRefOid "
            "headRepository { nameWithOwner } "
            "author { login ... on User { name email databaseId } } "
            + " ".join(_connection(c, None) for c in _CONNECTIONS) + " } }",
        ]
        teams = list(dict.fromkeys(request.teams))
        for i, team in enumerate(teams):
            org, _, slug = team.partition("/")
            definitions += [f"$o{i}: String!", f"$s{i}: String!"]
            variables[f"o{i}"], variables[f"s{i}"] = org, slug
            parts.append(f"t{i}: organization(login: $o{i}) {{ team(slug: $s{i}) {{ "
                         f"{_team_members(None)} }} }}")
        if request.emergency_label:
            definitions.append("$emergencyQuery: String!")
            since = request.merged_since or (datetime.now(timezone.utc) - timedelta(days=90)
                                             ).date()
            base = f"base:{json.dumps(request.base_branch)} " if request.base_branch else ""
            variables["emergencyQuery"] = (
                f"repo:{request.repository} is:pr is:merged {base}"
                f"label:{json.dumps(request.emergency_label)} merged:>={since.isoformat()}")
            parts.append(_EMERGENCY)
        query = f"query({', '.join(definitions)}) {{ {' '.join(parts)} }}"
        data = self._graphql(query, variables, teams)

        pr = (data.get("repository") or {}).get("pullRequest")
        if not pr:
            raise ChangegateError(CHANGE_NOT_FOUND,
                                  f"pull request #{request.number} was not found in "
                                  f"{request.repository}", fix=AUTH_FIX)
        pages = {c: _Pages() for c in _CONNECTIONS}
        for c in _CONNECTIONS:
            pages[c].add(pr[c])
        team_pages = {}
        for i, team in enumerate(teams):
            team_pages[team] = _Pages()
            team_pages[team].add(self._team_node(data, i, team)["members"])
        self._continue(pr, pages, teams, team_pages)

        commits = self._commits(pr, pages["commits"], request)
        for key in ("labels", "files", "reviews"):
            if len(pages[key].items) != pages[key].total:
                raise ChangegateError(
                    FORGE_DATA_INCOMPLETE,
                    f"GitHub listed {len(pages[key].items)} of {pages[key].total} {key} of pull "
                    f"request #{request.number}; refusing to decide on part of them")
        reviews, accounts = self._reviews(pages["reviews"].items)
        author = (pr.get("author") or {})
        if author.get("login"):
            accounts.setdefault(author["login"], self._account(author))
        head_sha = str(pr["headRefOid"])
        facts = ChangeFacts(
            platform="github", repository=request.repository, number=int(pr["number"]),
            author=author.get("login"), base_branch=str(pr["baseRefName"]),
            head_branch=pr.get("headRefName"), head_sha=head_sha,
            state=str(pr.get("state") or "OPEN").lower(), url=pr.get("url"),
            labels=tuple(str(n["name"]) for n in pages["labels"].items),
            files=tuple(str(n["path"]) for n in pages["files"].items),
            commits=commits, reviews=reviews, accounts=accounts,
            teams={t: Team(name=t, members=tuple(sorted({str(n["login"])
                                                         for n in p.items if n})))
                   for t, p in team_pages.items()},
        )
        facts.emergencies = self._emergencies(data, request)
        facts.last_pusher = self._pusher(pr, commits, head_sha)
        facts.api = {"requests": self._count, "rate_limit": self._rate}
        return facts

    def find_merged(self, repository: str, sha: str, branch: str | None) -> int | None:
        """The merged pull request that brought `sha`: "List pull requests associated with a
        commit" (one REST request), then the PR merged as `sha`, else the one whose head is `sha`
        (a fast-forward or rebase merge), else a merged one into `branch`.
        """
        body = self._rest(f"/repos/{repository}/commits/{sha}/pulls", {"per_page": PAGE})
        pulls = [p for p in body if isinstance(p, dict)] if isinstance(body, list) else []
        merged = [p for p in pulls if p.get("merged_at") and p.get("number") is not None]
        return pick_merged(merged, branch, (
            lambda p: p.get("merge_commit_sha") == sha,
            lambda p: (p.get("head") or {}).get("sha") == sha,
            lambda p: branch is not None and (p.get("base") or {}).get("ref") == branch),
            base_of=lambda p: (p.get("base") or {}).get("ref"), number_of="number")

    # -- requests -----------------------------------------------------------------------------

    def _graphql(self, query: str, variables: dict[str, Any],
                 teams: list[str] | None = None) -> dict[str, Any]:
        """POST one query; map every way it can fail to a located, actionable error."""
        from github import GithubException, RateLimitExceededExceedsMaxWait
        from requests import RequestException

        self._count += 1
        try:
            _, body = self._requester.requestJsonAndCheck(
                "POST", self._graphql_url, input={"query": query, "variables": variables})
        except RateLimitExceededExceedsMaxWait as exc:
            raise ChangegateError(
                FORGE_RATE_LIMITED, f"GitHub's rate limit would need a wait of "
                f"{exc.wait or 0:.0f} s, "
                f"more than the {self.settings.max_rate_wait:.0f} s allowed",
                fix="re-run the job later, or use a token with its own rate limit (a GitHub "
                    "App installation token)") from exc
        except GithubException as exc:
            raise self._http_error(exc, "the GraphQL API") from exc
        except RequestException as exc:
            raise self._network_error(exc, "the GraphQL API") from exc
        if not isinstance(body, dict):
            raise ChangegateError(FORGE_API_ERROR, "GitHub's GraphQL API answered with something "
                                  "that is not a JSON object")
        data = body.get("data") or {}
        if isinstance(data.get("rateLimit"), dict):
            self._rate = data["rateLimit"]
        errors = body.get("errors") or []
        if errors:
            raise self._graphql_error(errors, teams or [])
        return dict(data)

    def _graphql_error(self, errors: list[dict[str, Any]], teams: list[str]) -> ChangegateError:
        for error in errors:
            path = error.get("path") or []
            kind = str(error.get("type") or "")
            message = str(error.get("message") or "")
            if path and isinstance(path[0], str) and path[0].startswith("t") \
                    and path[0][1:].isdigit() and int(path[0][1:]) < len(teams):
                team = teams[int(path[0][1:])]
                return ChangegateError(
                    TEAM_PERMISSION_MISSING,
                    f"cannot read the members of team {team}: {message or kind}; no reviewer "
                    "is counted as a team member by guess", fix=TEAM_FIX)
            if kind == "INSUFFICIENT_SCOPES" and "read:org" in message and teams:
                # A classic token without read:org: GitHub refuses the whole query.
                return ChangegateError(
                    TEAM_PERMISSION_MISSING,
                    f"cannot read team members ({', '.join(teams)}): {message}", fix=TEAM_FIX)
            if kind == "RATE_LIMITED":
                return ChangegateError(FORGE_RATE_LIMITED, f"GitHub's GraphQL rate limit: "
                                       f"{message}", fix="re-run the job after the reset")
            if kind == "NOT_FOUND" and path[:1] == ["repository"]:
                return ChangegateError(CHANGE_NOT_FOUND, message, fix=AUTH_FIX)
            if kind in ("FORBIDDEN", "INSUFFICIENT_SCOPES"):
                return ChangegateError(FORGE_AUTH, f"GitHub refused the query: {message}",
                                       fix=AUTH_FIX)
        first = errors[0]
        return ChangegateError(FORGE_API_ERROR,
                               f"GitHub's GraphQL API returned an error: "
                               f"{first.get('message') or first}")

    def _http_error(self, exc: Any, what: str) -> ChangegateError:
        status = int(getattr(exc, "status", 0) or 0)
        data = getattr(exc, "data", None)
        message = data.get("message") if isinstance(data, dict) else None
        text = f"{what} answered HTTP {status}" + (f": {message}" if message else "")
        if status == 401:
            return ChangegateError(FORGE_AUTH, f"GitHub rejected the token ({text})",
                                   fix=AUTH_FIX)
        if status == 403 and "rate limit" in str(message or "").lower():
            return ChangegateError(FORGE_RATE_LIMITED, text, fix="re-run the job later")
        return ChangegateError(FORGE_API_ERROR, f"GitHub: {text}",
                               fix="re-run the job; if it persists, check githubstatus.com or "
                                   "your GitHub Enterprise server")

    def _network_error(self, exc: Exception, what: str) -> ChangegateError:
        return ChangegateError(
            FORGE_API_ERROR, f"GitHub: {what} could not be read ({type(exc).__name__}: {exc}); "
            f"timeout {self.settings.timeout:g} s, retried", fix="re-run the job; raise "
            "--timeout if the server is slow")

    def _rest(self, path: str, parameters: dict[str, Any]) -> Any:
        from github import GithubException
        from requests import RequestException

        self._count += 1
        try:
            _, body = self._requester.requestJsonAndCheck("GET", path, parameters=parameters)
        except GithubException as exc:
            raise self._http_error(exc, path) from exc
        except RequestException as exc:
            raise self._network_error(exc, path) from exc
        return body

    # -- pagination ---------------------------------------------------------------------------

    def _continue(self, pr: dict[str, Any], pages: dict[str, _Pages], teams: list[str],
                  team_pages: dict[str, _Pages]) -> None:
        """Fetch every next page of every connection, all in one request per round."""
        for _ in range(MAX_ROUNDS):
            pending = [c for c, p in pages.items() if p.more]
            pending_teams = [i for i, t in enumerate(teams) if team_pages[t].more]
            if not pending and not pending_teams:
                return
            definitions: list[str] = []
            variables: dict[str, Any] = {}
            parts: list[str] = []
            if pending:
                definitions.append("$id: ID!")
                variables["id"] = pr["id"]
                fields = []
                for c in pending:
                    definitions.append(f"$c_{c}: String")
                    variables[f"c_{c}"] = pages[c].cursor
                    fields.append(_connection(c, f"c_{c}"))
                parts.append("node(id: $id) { ... on PullRequest { headRefOid "
                             + " ".join(fields) + " } }")
            for i in pending_teams:
                org, _, slug = teams[i].partition("/")
                definitions += [f"$o{i}: String!", f"$s{i}: String!", f"$m{i}: String"]
                variables.update({f"o{i}": org, f"s{i}": slug,
                                  f"m{i}": team_pages[teams[i]].cursor})
                parts.append(f"t{i}: organization(login: $o{i}) {{ team(slug: $s{i}) {{ "
                             f"{_team_members(f'm{i}')} }} }}")
            data = self._graphql(f"query({', '.join(definitions)}) {{ {' '.join(parts)} }}",
                                 variables, teams)
            if pending:
                node = data.get("node") or {}
                if node.get("headRefOid") != pr["headRefOid"]:
                    raise ChangegateError(
                        FORGE_DATA_INCOMPLETE,
                        f"the head of pull request #{pr['number']} moved while it was being read "
                        f"({pr['headRefOid'][:12]} -> {str(node.get('headRefOid'))[:12]})",
                        fix="the push starts a new run, which evaluates the new head")
                for c in pending:
                    before = pages[c].cursor
                    pages[c].add(node[c])
                    if pages[c].more and pages[c].cursor == before:
                        raise ChangegateError(FORGE_DATA_INCOMPLETE,
                                              f"GitHub's {c} pagination did not advance")
            for i in pending_teams:
                team_pages[teams[i]].add(self._team_node(data, i, teams[i])["members"])
        raise ChangegateError(FORGE_DATA_INCOMPLETE,
                              f"more than {MAX_ROUNDS} pages of pull request data")

    def _team_node(self, data: dict[str, Any], index: int, team: str) -> dict[str, Any]:
        org = data.get(f"t{index}")
        node = org.get("team") if isinstance(org, dict) else None
        if not isinstance(node, dict) or not isinstance(node.get("members"), dict):
            raise ChangegateError(
                TEAM_PERMISSION_MISSING,
                f"team {team} is not visible to this token (it does not exist, or the token "
                "cannot read organization teams); no reviewer is counted as a member by guess",
                fix=TEAM_FIX)
        return node

    # -- commits ------------------------------------------------------------------------------

    def _person(self, node: dict[str, Any] | None) -> Person:
        node = node or {}
        user = node.get("user") or {}
        return Person(name=node.get("name"), email=node.get("email"), login=user.get("login"))

    def _commits(self, pr: dict[str, Any], pages: _Pages,
                 request: FetchRequest) -> tuple[Commit, ...]:
        out: dict[str, Commit] = {}
        for node in pages.items:
            commit = node["commit"]
            authors = commit.get("authors") or {}
            people = [self._person(a) for a in authors.get("nodes") or []]
            if int(authors.get("totalCount") or len(people)) > len(people):
                raise ChangegateError(
                    FORGE_DATA_INCOMPLETE,
                    f"commit {commit['oid'][:12]} has more than {AUTHORS_PAGE} authors; "
                    "refusing to decide without knowing all of them")
            primary = people[0] if people else Person()
            out[commit["oid"]] = Commit(sha=commit["oid"], author=primary,
                                        committer=self._person(commit.get("committer")),
                                        co_authors=tuple(people[1:]))
        if len(out) < pages.total:
            # A GraphQL page cap (REST stops at 250): complete through the compare API.
            for commit in self._compare_commits(request.repository, pr, pages.total):
                out.setdefault(commit.sha, commit)
        if len(out) != pages.total:
            raise ChangegateError(
                FORGE_DATA_INCOMPLETE,
                f"GitHub listed {len(out)} unique commits of pull request #{pr['number']} but "
                f"says it has {pages.total}; refusing to decide on part of them")
        if pages.total and pr["headRefOid"] not in out:
            raise ChangegateError(FORGE_DATA_INCOMPLETE,
                                  f"the head {pr['headRefOid'][:12]} is not among the pull "
                                  "request's commits")
        return tuple(out.values())

    def _compare_commits(self, repository: str, pr: dict[str, Any],
                         total: int) -> list[Commit]:
        base, head = pr.get("baseRefOid"), pr["headRefOid"]
        found: list[Commit] = []
        page = 1
        while len(found) < total and page <= MAX_ROUNDS:
            body = self._rest(f"/repos/{repository}/compare/{base}...{head}",
                              {"per_page": PAGE, "page": page})
            items = body.get("commits") if isinstance(body, dict) else None
            if not items:
                break
            for item in items:
                git = item.get("commit") or {}
                def linked(role: str, item: dict[str, Any] = item,
                           git: dict[str, Any] = git) -> Person:
                    who = git.get(role) or {}
                    account = item.get(role) or {}
                    return Person(name=who.get("name"), email=who.get("email"),
                                  login=account.get("login"))
                found.append(Commit(sha=item["sha"], author=linked("author"),
                                    committer=linked("committer"),
                                    co_authors=co_authors(git.get("message"))))
            page += 1
        return found

    # -- reviews and accounts -----------------------------------------------------------------

    def _account(self, node: dict[str, Any]) -> Account:
        login = str(node["login"])
        emails = [node["email"]] if node.get("email") else []
        ident = node.get("databaseId")
        emails.append(f"{login}@{self._noreply_host}")
        if ident is not None:
            emails.append(f"{ident}+{login}@{self._noreply_host}")
        return Account(login=login, name=node.get("name") or None, emails=tuple(emails),
                       id=int(ident) if ident is not None else None)

    def _reviews(self, nodes: list[dict[str, Any]]
                 ) -> tuple[tuple[Review, ...], dict[str, Account]]:
        reviews: list[Review] = []
        accounts: dict[str, Account] = {}
        for node in nodes:
            author = node.get("author") or {}
            login = author.get("login")
            if not login:
                continue  # a deleted account ("ghost") cannot count
            try:
                state = ReviewState(str(node.get("state")))
            except ValueError:
                state = ReviewState.COMMENTED
            accounts.setdefault(login, self._account(author))
            reviews.append(Review(user=login, state=state,
                                  commit=(node.get("commit") or {}).get("oid"),
                                  submitted_at=node.get("submittedAt")))
        return tuple(reviews), accounts

    # -- the last pusher ----------------------------------------------------------------------

    def _pusher(self, pr: dict[str, Any], commits: tuple[Commit, ...], head: str) -> Pusher:
        """Who pushed the head: the repository activity of the head branch, else the head commit.

        A fork's pushes are in the fork's activity; a deleted fork has none, and then the head
        commit's author and committer stand in for the pusher (more exclusions, never fewer).
        """
        repo = (pr.get("headRepository") or {}).get("nameWithOwner")
        branch = pr.get("headRefName")
        if repo and branch:
            try:
                body = self._rest(f"/repos/{repo}/activity",
                                  {"ref": f"refs/heads/{branch}", "per_page": 10,
                                   "direction": "desc"})
            except ChangegateError as exc:
                if "HTTP 404" not in exc.message and "HTTP 403" not in exc.message:
                    raise
                body = []
            for item in body if isinstance(body, list) else []:
                actor = (item.get("actor") or {}).get("login")
                if item.get("after") == head and actor:
                    return Pusher(logins=(str(actor),), source="push-activity")
        return head_commit_pusher(commits, head)

    # -- emergencies --------------------------------------------------------------------------

    def _emergencies(self, data: dict[str, Any], request: FetchRequest
                     ) -> tuple[PastEmergency, ...]:
        search = data.get("emergencies")
        if not request.emergency_label or not isinstance(search, dict):
            return ()
        out = []
        for node in search.get("nodes") or []:
            if not node or node.get("number") is None or node["number"] == request.number:
                continue
            if request.base_branch and node.get("baseRefName") != request.base_branch:
                continue
            author = (node.get("author") or {}).get("login")
            excluded: set[str] = {author} if author else set()
            commits = node.get("commits") or {}
            complete = len(commits.get("nodes") or []) >= int(commits.get("totalCount") or 0)
            for c in commits.get("nodes") or []:
                commit = c.get("commit") or {}
                who = ((commit.get("committer") or {}).get("user") or {}).get("login")
                if who:
                    excluded.add(who)
                for a in (commit.get("authors") or {}).get("nodes") or []:
                    if (a.get("user") or {}).get("login"):
                        excluded.add(a["user"]["login"])
            approvers: set[str] = set()
            for review in (node.get("reviews") or {}).get("nodes") or []:
                if (review.get("author") or {}).get("login"):
                    approvers.add(review["author"]["login"])
            for event in (node.get("timelineItems") or {}).get("nodes") or []:
                label = ((event or {}).get("label") or {}).get("name")
                actor = ((event or {}).get("actor") or {}).get("login")
                if label and label == request.approved_label and actor:
                    approvers.add(actor)
            if not complete:
                approvers = set()  # cannot tell who its committers were: settle nothing
            out.append(PastEmergency(number=int(node["number"]), merged_at=node.get("mergedAt"),
                                     author=author, url=node.get("url"),
                                     approvers=tuple(sorted(approvers)),
                                     excluded=tuple(sorted(excluded))))
        return tuple(out)


def capped_retry(max_wait: float) -> Any:
    """`GithubRetry` (rate limits, 5xx, `Retry-After`) that never sleeps longer than `max_wait`.

    GithubRetry caps waits for rate-limit *resets*, but a `Retry-After` header is slept by
    urllib3 itself, however long it is; a CI job must not sit for an hour, so a longer
    `Retry-After` raises instead (and the run is inconclusive).
    """
    from github import GithubRetry
    from github.GithubException import RateLimitExceededExceedsMaxWait

    class CappedRetry(GithubRetry):
        def get_retry_after(self, response: Any) -> float | None:
            wait = super().get_retry_after(response)
            if wait is not None and wait > max_wait:
                raise RateLimitExceededExceedsMaxWait(
                    int(response.status), {"message": f"Retry-After: {wait:.0f}"},
                    dict(response.headers), wait=wait)
            return wait

    return CappedRetry(total=2, backoff_factor=0.5, max_rate_limit_wait=max_wait,
                       secondary_rate_wait=min(60.0, max_wait),
                       status_forcelist=[429, 500, 502, 503, 504])


def pick_merged(items: list[dict[str, Any]], branch: str | None,
                criteria: tuple[Callable[[dict[str, Any]], bool], ...], *,
                base_of: Callable[[dict[str, Any]], Any], number_of: str) -> int | None:
    """The first criterion any merged change request meets decides; among several meeting it,
    one merged into `branch` is preferred (then the forge's order)."""
    for criterion in criteria:
        found = [item for item in items if criterion(item)]
        if found:
            found.sort(key=lambda item: base_of(item) != branch)
            return int(found[0][number_of])
    return None


def head_commit_pusher(commits: tuple[Commit, ...], head: str) -> Pusher:
    """The stand-in when no push record exists: the head commit's author and committer."""
    for commit in commits:
        if commit.sha == head:
            people = (commit.author, commit.committer)
            logins = tuple(dict.fromkeys(p.login for p in people if p.login))
            return Pusher(logins=logins, source="head-commit", identities=people)
    return Pusher(logins=(), source="head-commit")

