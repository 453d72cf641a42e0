"""A local GitHub: GraphQL (`POST /graphql`) and the REST endpoints around pull requests.

Payloads follow GitHub's documented response shapes (the REST reference's examples and the
GraphQL schema's types): PullRequest, Commit with `authors` (co-authors linked to accounts),
PullRequestReview with its `commit`, Team members, search, rate limit; REST pulls, pull
commits (capped at 250, as GitHub does), reviews, files, compare, repository activity, team
members, the pull requests associated with a commit. Point the real PyGithub at `server.url`
(`base_url`); GraphQL is at `server.url + "/graphql"`, which is where PyGithub derives it for a
base URL without `/api/v3`.

Knobs for failure scenarios: `token` (401 "Bad credentials" otherwise), `team_access`
("read", "forbidden": a FORBIDDEN error at the members field as GITHUB_TOKEN gets,
"invisible": the team resolves to null), `graphql_commit_cap` (pretend GraphQL stops early),
plus the faults of `LocalServer`. The Checks API and pull request comments (where changegate
publishes results) and their knobs are in `publishing`.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from changegate.testing.forges import graphql, publishing
from changegate.testing.forges.graphql import Connection, FieldError, Node, Scalar
from changegate.testing.forges.http import LocalServer, Request, Response, paginate
from changegate.testing.forges.scenario import (
    FakeChange,
    FakeCommit,
    FakeReview,
    Scenario,
    User,
    at,
)

REST_PR_COMMITS_CAP = 250  # "Lists a maximum of 250 commits for a pull request."


class GitHubServer(LocalServer):
    """GitHub's REST and GraphQL APIs for one `Scenario`."""

    def __init__(self, scenario: Scenario, *,
                 token: str | None = "ghs_test_token") -> None:  # noqa: S107 - a test server
        super().__init__()
        self.scenario = scenario
        self.token = token
        self.team_access = "read"
        self.graphql_commit_cap: int | None = None
        self.rate_remaining = 5000
        repo = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
        self.route("POST", "/graphql", self._graphql)
        self.route("POST", "/api/graphql", self._graphql)
        self.route("GET", repo, self._repo)
        self.route("GET", repo + r"/pulls/(?P<n>\d+)", self._pull)
        self.route("GET", repo + r"/pulls/(?P<n>\d+)/commits", self._pull_commits)
        self.route("GET", repo + r"/pulls/(?P<n>\d+)/reviews", self._pull_reviews)
        self.route("GET", repo + r"/pulls/(?P<n>\d+)/files", self._pull_files)
        self.route("GET", repo + r"/compare/(?P<base>[0-9a-f]+)\.\.\.(?P<head>[0-9a-f]+)",
                   self._compare)
        self.route("GET", repo + r"/activity", self._activity)
        self.route("GET", repo + r"/commits/(?P<sha>[0-9a-f]{40})/pulls", self._commit_pulls)
        self.route("GET", r"/orgs/(?P<org>[^/]+)/teams/(?P<slug>[^/]+)/members",
                   self._team_members)
        # Where results are published (see `publishing`): check runs and PR comments. Read-only
        # by default, like GitHub's default GITHUB_TOKEN permissions for new organisations and
        # repositories: `checks: write` and `pull-requests: write` must be granted.
        self.checks_access = "none"
        self.comments_access = "read"
        self.token_login = "github-actions[bot]"  # noqa: S105 - a login, not a secret
        self.token_is_app = True
        self.check_runs: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        publishing.install_github(self)

    def add_comment(self, number: int, user: str, body: str) -> int:
        """Plant a comment by `user` on pull request `number` (e.g. a copied marker)."""
        return publishing.add_github_comment(self, number, user, body)

    # -- auth and plumbing --------------------------------------------------------------------

    def authorize(self, request: Request) -> Response | None:
        if self.token is None:
            return None
        header = request.headers.get("authorization", "")
        if header.split(" ", 1)[-1] != self.token:
            return Response(401, {"message": "Bad credentials",
                                  "documentation_url": "https://docs.github.com/rest",
                                  "status": "401"})
        return None

    def _headers(self) -> dict[str, str]:
        self.rate_remaining -= 1
        return {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": str(self.rate_remaining),
                "X-RateLimit-Reset": "1893456000", "X-RateLimit-Resource": "core",
                "X-GitHub-Media-Type": "github.v3; format=json"}

    def _ok(self, body: Any, headers: dict[str, str] | None = None) -> Response:
        return Response(200, body, {**self._headers(), **(headers or {})})

    def _change(self, match: re.Match[str]) -> FakeChange:
        if f"{match['owner']}/{match['repo']}" != self.scenario.full_name:
            raise KeyError("repository")
        return self.scenario.changes[int(match["n"])]

    # -- REST shapes --------------------------------------------------------------------------

    def simple_user(self, login: str) -> dict[str, Any]:
        user = self.scenario.users.get(login)
        ident = user.id if user else 41898282
        return {"login": login, "id": ident, "node_id": f"U_{ident}",
                "avatar_url": f"https://avatars.githubusercontent.com/u/{ident}?v=4",
                "url": f"{self.url}/users/{login}", "html_url": f"https://github.com/{login}",
                "type": "User" if user else "Bot", "site_admin": False}

    def repository(self) -> dict[str, Any]:
        s = self.scenario
        return {"id": 1296269, "node_id": "R_kgDOABCDEF", "name": s.name,
                "full_name": s.full_name, "private": True,
                "owner": {**self.simple_user(s.owner), "type": "Organization"},
                "html_url": f"https://github.com/{s.full_name}",
                "url": f"{self.url}/repos/{s.full_name}", "default_branch": "main"}

    def git_identity(self, login: str, minute: int) -> dict[str, Any]:
        if login == "web-flow":
            return {"name": "GitHub", "email": "noreply@github.com", "date": at(minute)}
        user = self.scenario.users[login]
        return {"name": user.name, "email": user.email, "date": at(minute)}

    def rest_commit(self, commit: FakeCommit) -> dict[str, Any]:
        committer = commit.committer or commit.author
        linked = self.scenario.users.get(commit.author)
        return {
            "sha": commit.sha, "node_id": f"C_{commit.sha[:10]}",
            "url": f"{self.url}/repos/{self.scenario.full_name}/commits/{commit.sha}",
            "html_url": f"https://github.com/{self.scenario.full_name}/commit/{commit.sha}",
            "commit": {"author": self.git_identity(commit.author, commit.minute),
                       "committer": self.git_identity(committer, commit.minute),
                       "message": commit.full_message(self.scenario.users),
                       "tree": {"sha": commit.sha[::-1], "url": ""}, "comment_count": 0,
                       "verification": {"verified": False, "reason": "unsigned",
                                        "signature": None, "payload": None}},
            "author": self.simple_user(commit.author) if linked and linked.linked else None,
            "committer": (self.simple_user(committer) if committer == "web-flow" or (
                committer in self.scenario.users and self.scenario.users[committer].linked)
                else None),
            "parents": [],
        }

    def rest_pull(self, change: FakeChange) -> dict[str, Any]:
        s = self.scenario
        return {
            "url": f"{self.url}/repos/{s.full_name}/pulls/{change.number}",
            "id": 1_000_000 + change.number, "node_id": f"PR_{change.number}",
            "html_url": f"https://github.com/{s.full_name}/pull/{change.number}",
            "number": change.number, "state": "closed" if change.state != "open" else "open",
            "locked": False, "title": change.title, "user": self.simple_user(change.author),
            "body": "", "labels": [{"id": i, "name": n, "color": "ededed", "default": False}
                                   for i, n in enumerate(change.labels)],
            "created_at": at(change.created_minute), "updated_at": at(change.created_minute),
            "merged_at": at(change.merged_minute) if change.merged_minute is not None else None,
            "merged": change.state == "merged", "draft": False,
            "merge_commit_sha": change.merge_commit_sha,
            "head": {"label": f"{s.owner}:{change.head_branch}", "ref": change.head_branch,
                     "sha": change.head, "user": self.simple_user(s.owner),
                     "repo": self.repository()},
            "base": {"label": f"{s.owner}:{change.base}", "ref": change.base,
                     "sha": change.base_sha, "user": self.simple_user(s.owner),
                     "repo": self.repository()},
            "commits": len(change.commits), "changed_files": len(change.files),
        }

    def rest_review(self, change: FakeChange, review: FakeReview, index: int) -> dict[str, Any]:
        ident = review.id or 80_000 + index
        return {"id": ident, "node_id": f"PRR_{ident}", "user": self.simple_user(review.user),
                "body": "", "state": review.state, "commit_id": review.commit,
                "submitted_at": at(review.minute), "author_association": "MEMBER",
                "html_url": f"https://github.com/{self.scenario.full_name}/pull/"
                            f"{change.number}#pullrequestreview-{ident}",
                "pull_request_url": f"{self.url}/repos/{self.scenario.full_name}/pulls/"
                                    f"{change.number}"}

    # -- REST routes --------------------------------------------------------------------------

    def _page(self, items: list[Any], request: Request) -> Response:
        chunk, headers = paginate(items, request, self.url)
        headers = {k: v for k, v in headers.items() if not k.startswith("X-")}
        return self._ok(chunk, headers)

    def _repo(self, request: Request, match: re.Match[str]) -> Response:
        if f"{match['owner']}/{match['repo']}" != self.scenario.full_name:
            return Response(404, {"message": "Not Found"})
        return self._ok(self.repository())

    def _pull(self, request: Request, match: re.Match[str]) -> Response:
        return self._ok(self.rest_pull(self._change(match)))

    def _pull_commits(self, request: Request, match: re.Match[str]) -> Response:
        change = self._change(match)
        items = [self.rest_commit(c) for c in change.commits[:REST_PR_COMMITS_CAP]]
        return self._page(items, request)

    def _pull_reviews(self, request: Request, match: re.Match[str]) -> Response:
        change = self._change(match)
        return self._page([self.rest_review(change, r, i) for i, r in enumerate(change.reviews)],
                          request)

    def _pull_files(self, request: Request, match: re.Match[str]) -> Response:
        change = self._change(match)
        return self._page([{"sha": "0" * 40, "filename": f, "status": "modified",
                            "additions": 1, "deletions": 1, "changes": 2} for f in change.files],
                          request)

    def _compare(self, request: Request, match: re.Match[str]) -> Response:
        change = next((c for c in self.scenario.changes.values() if c.head == match["head"]),
                      None)
        if change is None:
            return Response(404, {"message": "Not Found"})
        commits = [self.rest_commit(c) for c in change.commits]
        chunk, headers = paginate(commits, request, self.url, default=250, maximum=250)
        headers = {k: v for k, v in headers.items() if not k.startswith("X-")}
        return self._ok({"url": "", "status": "ahead", "ahead_by": len(commits), "behind_by": 0,
                         "total_commits": len(commits), "commits": chunk,
                         "files": [{"filename": f, "status": "modified"} for f in change.files],
                         "base_commit": {"sha": match["base"]},
                         "merge_base_commit": {"sha": match["base"]}}, headers)

    def _commit_pulls(self, request: Request, match: re.Match[str]) -> Response:
        """"List pull requests associated with a commit": those containing it or merged as it."""
        if f"{match['owner']}/{match['repo']}" != self.scenario.full_name:
            return Response(404, {"message": "Not Found"})
        wanted = match["sha"]
        found = [self.rest_pull(c) for c in sorted(self.scenario.changes.values(),
                                                   key=lambda c: -c.number)
                 if wanted == c.merge_commit_sha or wanted in {x.sha for x in c.commits}]
        return self._page(found, request)

    def _activity(self, request: Request, match: re.Match[str]) -> Response:
        ref = request.query.get("ref", "")
        items = []
        for change in self.scenario.changes.values():
            if ref not in ("", change.head_branch, f"refs/heads/{change.head_branch}"):
                continue
            for i, push in enumerate(change.push_list()):
                items.append((push.minute, {
                    "id": 90_000 + change.number * 100 + i, "node_id": f"RA_{i}",
                    "before": push.before or "0" * 40, "after": push.after,
                    "ref": f"refs/heads/{change.head_branch}", "timestamp": at(push.minute),
                    "activity_type": "push", "actor": self.simple_user(push.user)}))
        ordered = [item for _, item in sorted(items, key=lambda pair: pair[0],
                                              reverse=request.query.get("direction") != "asc")]
        return self._page(ordered, request)

    def _team_members(self, request: Request, match: re.Match[str]) -> Response:
        if self.team_access != "read":
            return Response(404, {"message": "Not Found"})
        members = self.scenario.teams[f"{match['org']}/{match['slug']}"]
        return self._page([self.simple_user(m) for m in members], request)

    # -- GraphQL ------------------------------------------------------------------------------

    def _graphql(self, request: Request, match: re.Match[str]) -> Response:
        body = request.body if isinstance(request.body, dict) else {}
        query = str(body.get("query") or "")
        result = graphql.execute(query, body.get("variables") or {}, _Query(self))
        return self._ok(result, {"X-RateLimit-Resource": "graphql"})


# -- GraphQL types ----------------------------------------------------------------------------


class _User(Node):
    typename = "User"
    interfaces = ("Actor",)

    def __init__(self, user: User | None, login: str) -> None:
        self.user, self.login = user, login

    def resolve_login(self) -> str:
        return self.login

    def resolve_name(self) -> str | None:
        return self.user.name if self.user else None

    def resolve_email(self) -> str:
        return self.user.email if self.user else ""

    def resolve_databaseId(self) -> int | None:
        return self.user.id if self.user else None

    def resolve_id(self) -> str:
        return f"U_{self.login}"

    def resolve_url(self) -> str:
        return f"https://github.com/{self.login}"


def _actor(server: GitHubServer, login: str | None) -> _User | None:
    if login is None:
        return None
    return _User(server.scenario.users.get(login), login)


class _GitActor(Node):
    typename = "GitActor"

    def __init__(self, server: GitHubServer, login: str, minute: int) -> None:
        self.server, self.login, self.minute = server, login, minute

    def resolve_name(self) -> str:
        return str(self.server.git_identity(self.login, self.minute)["name"])

    def resolve_email(self) -> str:
        return str(self.server.git_identity(self.login, self.minute)["email"])

    def resolve_date(self) -> str:
        return at(self.minute)

    def resolve_user(self) -> _User | None:
        user = self.server.scenario.users.get(self.login)
        return _User(user, self.login) if user and user.linked else None


class _Commit(Node):
    typename = "Commit"

    def __init__(self, server: GitHubServer, commit: FakeCommit) -> None:
        self.server, self.commit = server, commit

    def resolve_oid(self) -> str:
        return self.commit.sha

    def resolve_message(self) -> str:
        return self.commit.full_message(self.server.scenario.users)

    def resolve_committer(self) -> _GitActor:
        return _GitActor(self.server, self.commit.committer or self.commit.author,
                         self.commit.minute)

    def resolve_author(self) -> _GitActor:
        return _GitActor(self.server, self.commit.author, self.commit.minute)

    def resolve_authors(self, **args: Any) -> Connection:
        people = [self.commit.author, *self.commit.co_authors]
        return Connection("GitActorConnection",
                          [_GitActor(self.server, p, self.commit.minute) for p in people],
                          args, "authors")

    def resolve_committedDate(self) -> str:
        return at(self.commit.minute)


class _PullRequestCommit(Scalar):
    pass


class _Review(Node):
    typename = "PullRequestReview"

    def __init__(self, server: GitHubServer, change: FakeChange, review: FakeReview,
                 index: int) -> None:
        self.server, self.change, self.review, self.index = server, change, review, index

    def resolve_id(self) -> str:
        return f"PRR_{self.review.id or 80_000 + self.index}"

    def resolve_databaseId(self) -> int:
        return self.review.id or 80_000 + self.index

    def resolve_state(self) -> str:
        return self.review.state

    def resolve_submittedAt(self) -> str:
        return at(self.review.minute)

    def resolve_author(self) -> _User | None:
        return _actor(self.server, self.review.user)

    def resolve_commit(self) -> _Commit | None:
        commit = next((c for c in self.change.commits if c.sha == self.review.commit), None)
        return _Commit(self.server, commit) if commit else None

    def resolve_body(self) -> str:
        return ""


class _LabeledEvent(Node):
    typename = "LabeledEvent"

    def __init__(self, server: GitHubServer, login: str, label: str, minute: int) -> None:
        self.server, self.login, self.label, self.minute = server, login, label, minute

    def resolve_actor(self) -> _User | None:
        return _actor(self.server, self.login)

    def resolve_createdAt(self) -> str:
        return at(self.minute)

    def resolve_label(self) -> Scalar:
        return Scalar("Label", name=self.label)


class _PullRequest(Node):
    typename = "PullRequest"
    interfaces = ("Node", "SearchResultItem")

    def __init__(self, server: GitHubServer, change: FakeChange) -> None:
        self.server, self.change = server, change

    def resolve_id(self) -> str:
        return f"PR_{self.change.number}"

    def resolve_number(self) -> int:
        return self.change.number

    def resolve_url(self) -> str:
        return f"https://github.com/{self.server.scenario.full_name}/pull/{self.change.number}"

    def resolve_title(self) -> str:
        return self.change.title

    def resolve_state(self) -> str:
        return self.change.state.upper()

    def resolve_merged(self) -> bool:
        return self.change.state == "merged"

    def resolve_mergedAt(self) -> str | None:
        minute = self.change.merged_minute
        return at(minute) if minute is not None else None

    def resolve_headRefOid(self) -> str:
        return self.change.head

    def resolve_headRefName(self) -> str:
        return self.change.head_branch

    def resolve_baseRefName(self) -> str:
        return self.change.base

    def resolve_baseRefOid(self) -> str:
        return self.change.base_sha

    def resolve_headRepository(self) -> Scalar:
        return Scalar("Repository", nameWithOwner=self.server.scenario.full_name,
                      name=self.server.scenario.name)

    def resolve_author(self) -> _User | None:
        return _actor(self.server, self.change.author)

    def resolve_labels(self, **args: Any) -> Connection:
        return Connection("LabelConnection", [Scalar("Label", name=n) for n in self.change.labels],
                          args, "labels")

    def resolve_files(self, **args: Any) -> Connection:
        return Connection("PullRequestChangedFileConnection",
                          [Scalar("PullRequestChangedFile", path=f, additions=1, deletions=1)
                           for f in self.change.files], args, "files")

    def resolve_commits(self, **args: Any) -> Connection:
        nodes = [_PullRequestCommit("PullRequestCommit", commit=_Commit(self.server, c),
                                    id=f"PRC_{c.sha[:8]}") for c in self.change.commits]
        return Connection("PullRequestCommitConnection", nodes, args, "commits",
                          cap=self.server.graphql_commit_cap)

    def resolve_reviews(self, **args: Any) -> Connection:
        states = args.get("states")
        nodes = [_Review(self.server, self.change, r, i) for i, r in enumerate(self.change.reviews)
                 if not states or r.state in states]
        return Connection("PullRequestReviewConnection", nodes, args, "reviews")

    def resolve_timelineItems(self, **args: Any) -> Connection:
        kinds = args.get("itemTypes") or []
        nodes: list[Node] = []
        if not kinds or "LABELED_EVENT" in kinds:
            nodes = [_LabeledEvent(self.server, e.user, e.label, e.minute)
                     for e in self.change.label_events if e.action == "add"]
        return Connection("PullRequestTimelineItemsConnection", nodes, args, "timelineItems")


class _Team(Node):
    typename = "Team"

    def __init__(self, server: GitHubServer, name: str) -> None:
        self.server, self.name = server, name

    def resolve_slug(self) -> str:
        return self.name.split("/", 1)[1]

    def resolve_combinedSlug(self) -> str:
        return self.name

    def resolve_name(self) -> str:
        return self.resolve_slug()

    def resolve_members(self, **args: Any) -> Connection:
        if self.server.team_access == "forbidden":
            raise FieldError("Resource not accessible by integration", "FORBIDDEN")
        logins = self.server.scenario.teams[self.name]
        return Connection("TeamMemberConnection",
                          [_actor(self.server, login) for login in logins], args, "members")


class _Organization(Node):
    typename = "Organization"

    def __init__(self, server: GitHubServer, login: str) -> None:
        self.server, self.login = server, login

    def resolve_login(self) -> str:
        return self.login

    def resolve_team(self, slug: str) -> _Team | None:
        name = f"{self.login}/{slug}"
        if self.server.team_access == "invisible" or name not in self.server.scenario.teams:
            return None
        return _Team(self.server, name)


class _Repository(Node):
    typename = "Repository"

    def __init__(self, server: GitHubServer) -> None:
        self.server = server

    def resolve_nameWithOwner(self) -> str:
        return self.server.scenario.full_name

    def resolve_pullRequest(self, number: int) -> _PullRequest:
        change = self.server.scenario.changes.get(number)
        if change is None:
            raise FieldError(f"Could not resolve to a PullRequest with the number of {number}.",
                             "NOT_FOUND")
        return _PullRequest(self.server, change)


def _search_terms(query: str) -> dict[str, str]:
    terms: dict[str, str] = {}
    for match in re.finditer(r'(\w+):("(?:[^"\\]|\\.)*"|\S+)', query):
        key, value = match.group(1), match.group(2)
        if value.startswith('"'):
            value = value[1:-1]
        terms[key if key not in terms else f"{key}:{value}"] = value
    return terms


class _Query(Node):
    typename = "Query"

    def __init__(self, server: GitHubServer) -> None:
        self.server = server

    def resolve_rateLimit(self) -> Scalar:
        return Scalar("RateLimit", cost=1, remaining=self.server.rate_remaining, limit=5000,
                      used=5000 - self.server.rate_remaining, resetAt="2030-01-01T00:00:00Z")

    def resolve_repository(self, owner: str, name: str) -> _Repository:
        if f"{owner}/{name}" != self.server.scenario.full_name:
            raise FieldError(f"Could not resolve to a Repository with the name '{owner}/{name}'.",
                             "NOT_FOUND")
        return _Repository(self.server)

    def resolve_organization(self, login: str) -> _Organization:
        if not any(t.startswith(f"{login}/") for t in self.server.scenario.teams) and \
                login != self.server.scenario.owner:
            raise FieldError(f"Could not resolve to an Organization with the login of "
                             f"'{login}'.", "NOT_FOUND")
        return _Organization(self.server, login)

    def resolve_node(self, id: str) -> Node | None:
        if id.startswith("PR_"):
            change = self.server.scenario.changes.get(int(id[3:]))
            return _PullRequest(self.server, change) if change else None
        return None

    def resolve_search(self, query: str, type: str, **args: Any) -> Connection:
        terms = _search_terms(query)
        found = []
        for change in sorted(self.server.scenario.changes.values(), key=lambda c: -c.number):
            if terms.get("repo") not in (None, self.server.scenario.full_name):
                continue
            wants_merged = "merged" in (terms.get("is:merged"), terms.get("is"))
            if wants_merged and change.state != "merged":
                continue
            if "label" in terms and terms["label"] not in change.labels:
                continue
            if "base" in terms and terms["base"] != change.base:
                continue
            merged_since = terms.get("merged", "")
            if merged_since.startswith(">=") and change.merged_minute is not None and (
                    at(change.merged_minute)[:10]
                    < date.fromisoformat(merged_since[2:]).isoformat()):
                continue
            found.append(_PullRequest(self.server, change))
        return Connection("SearchResultItemConnection", found, args, "search",
                          extra={"issueCount": len(found)})
