"""A local GitLab REST API (v4) around merge requests, for python-gitlab pointed at `server.url`.

Payloads follow GitLab's documented response examples: merge request, MR commits (newest
first), approvals (`approved_by` with `approved_at`), approval state (Premium), reviewers
(`requested_changes`), diff versions, diffs, group members (`members/all`, inherited included),
users, project push events, resource label events, merged MR lists, the merge requests of a
commit; pagination with `X-Page`, `X-Next-Page`, `X-Total` and `Link`.

Knobs: `token` (PRIVATE-TOKEN), `job_token` (JOB-TOKEN, which like on most tiers cannot read
approvals, approval state or group members), `group_access` ("read" or "forbidden"), `tier`
("free": approval_state is 403; "premium"), `report_approved_at` (older GitLab omitted it).
Merge request notes and `GET /user` (where changegate publishes its summary) and their knobs are
in `publishing`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from changegate.testing.forges import publishing
from changegate.testing.forges.http import LocalServer, Request, Response, paginate
from changegate.testing.forges.scenario import FakeChange, FakeCommit, Scenario, at

API = "/api/v4"


class GitLabServer(LocalServer):
    """GitLab's REST API for one `Scenario` (the project is `owner/name`, id `project_id`)."""

    def __init__(self, scenario: Scenario, *, token: str | None = "glpat-test-token",  # noqa: S107 - a test server
                 job_token: str | None = None) -> None:
        super().__init__()
        self.scenario = scenario
        self.token = token
        self.job_token = job_token
        self.group_access = "read"
        self.tier = "free"
        self.report_approved_at = True
        project = API + r"/projects/(?P<project>[^/]+)"
        mr = project + r"/merge_requests/(?P<iid>\d+)"
        self.route("GET", project, self._project)
        self.route("GET", project + "/merge_requests", self._merge_requests)
        self.route("GET", mr, self._merge_request)
        self.route("GET", mr + "/commits", self._commits)
        self.route("GET", mr + "/approvals", self._approvals)
        self.route("GET", mr + "/approval_state", self._approval_state)
        self.route("GET", mr + "/reviewers", self._reviewers)
        self.route("GET", mr + "/versions", self._versions)
        self.route("GET", mr + "/diffs", self._diffs)
        self.route("GET", mr + "/resource_label_events", self._label_events)
        self.route("GET", project + "/events", self._events)
        self.route("GET", project + r"/repository/commits/(?P<sha>[0-9a-f]{40})/merge_requests",
                   self._commit_merge_requests)
        self.route("GET", API + r"/groups/(?P<group>[^/]+)/members/all", self._members)
        self.route("GET", API + r"/users/(?P<id>\d+)", self._user)
        self.route("GET", API + "/users", self._users)
        # Where results are published (see `publishing`): merge request notes, the token's user.
        self.notes_access = "write"
        self.token_user: dict[str, Any] = {}
        self.notes: dict[int, list[dict[str, Any]]] = {}
        publishing.install_gitlab(self, API)

    def add_note(self, iid: int, author: dict[str, Any], body: str, *,
                 system: bool = False) -> int:
        """Plant a note by `author` (a GitLab user object) on merge request `iid`."""
        return publishing.add_gitlab_note(self, iid, author, body, system=system)

    # -- auth and plumbing --------------------------------------------------------------------

    def authorize(self, request: Request) -> Response | None:
        private = request.headers.get("private-token")
        job = request.headers.get("job-token")
        if self.token is not None and private == self.token:
            return None
        if self.job_token is not None and job == self.job_token:
            if re.search(r"/(approvals|approval_state|members/all)$", request.path):
                return Response(403, {"message": "403 Forbidden"})
            if re.search(r"/notes(/\d+)?$|^/api/v4/user$", request.path):
                return Response(401, {"message": "401 Unauthorized"})
            return None
        if self.token is None and self.job_token is None:
            return None
        return Response(401, {"message": "401 Unauthorized"})

    def _project_ok(self, match: re.Match[str]) -> bool:
        value = unquote(match["project"])
        return value in (self.scenario.full_name, str(self.scenario.project_id))

    def _change(self, match: re.Match[str]) -> FakeChange:
        if not self._project_ok(match):
            raise KeyError("project")
        return self.scenario.changes[int(match["iid"])]

    def _page(self, items: list[Any], request: Request) -> Response:
        chunk, headers = paginate(items, request, self.url, default=20, maximum=100)
        return Response(200, chunk, {**headers, "RateLimit-Limit": "2000",
                                     "RateLimit-Remaining": "1999"})

    # -- shapes -------------------------------------------------------------------------------

    def user(self, login: str) -> dict[str, Any]:
        user = self.scenario.users[login]
        return {"id": user.id, "username": login, "name": user.name, "state": "active",
                "locked": False, "avatar_url": f"https://gitlab.example/uploads/{user.id}.png",
                "web_url": f"https://gitlab.example/{login}"}

    def commit(self, commit: FakeCommit) -> dict[str, Any]:
        users = self.scenario.users
        author = users[commit.author]
        committer = users.get(commit.committer or commit.author)
        committer_name, committer_email = ((committer.name, committer.email) if committer
                                           else ("GitLab", "noreply@gitlab.example"))
        message = commit.full_message(users)
        return {"id": commit.sha, "short_id": commit.sha[:8], "title": message.split("\n")[0],
                "message": message, "author_name": author.name, "author_email": author.email,
                "authored_date": at(commit.minute), "committer_name": committer_name,
                "committer_email": committer_email, "committed_date": at(commit.minute),
                "created_at": at(commit.minute), "parent_ids": [], "trailers": {},
                "web_url": f"https://gitlab.example/{self.scenario.full_name}/-/commit/"
                           f"{commit.sha}"}

    def merge_request(self, change: FakeChange) -> dict[str, Any]:
        s = self.scenario
        return {
            "id": 90_000 + change.number, "iid": change.number, "project_id": s.project_id,
            "title": change.title, "description": "",
            "state": {"open": "opened"}.get(change.state, change.state),
            "created_at": at(change.created_minute), "updated_at": at(change.created_minute),
            "merged_at": at(change.merged_minute) if change.merged_minute is not None else None,
            "target_branch": change.base, "source_branch": change.head_branch,
            "author": self.user(change.author), "assignees": [], "reviewers": [],
            "source_project_id": s.project_id, "target_project_id": s.project_id,
            "labels": list(change.labels), "draft": False, "work_in_progress": False,
            "merge_status": "can_be_merged", "detailed_merge_status": "mergeable",
            "sha": change.head, "merge_commit_sha": change.merge_commit_sha,
            "squash_commit_sha": None,
            "user_notes_count": 0, "references": {"short": f"!{change.number}",
                                                  "full": f"{s.full_name}!{change.number}"},
            "web_url": f"https://gitlab.example/{s.full_name}/-/merge_requests/{change.number}",
            "diff_refs": {"base_sha": change.base_sha, "head_sha": change.head,
                          "start_sha": change.base_sha},
            "has_conflicts": False, "blocking_discussions_resolved": True,
        }

    def approvals_of(self, change: FakeChange) -> list[dict[str, Any]]:
        """Current approvals: each user's latest APPROVED not followed by a revocation."""
        state: dict[str, Any] = {}
        for review in change.reviews:
            if review.state == "APPROVED":
                state[review.user] = review
            elif review.state in ("CHANGES_REQUESTED", "DISMISSED"):
                state.pop(review.user, None)
        out = []
        for login, review in state.items():
            entry: dict[str, Any] = {"user": self.user(login)}
            if self.report_approved_at:
                entry["approved_at"] = at(review.minute)
            out.append(entry)
        return out

    # -- routes -------------------------------------------------------------------------------

    def _project(self, request: Request, match: re.Match[str]) -> Response:
        if not self._project_ok(match):
            return Response(404, {"message": "404 Project Not Found"})
        s = self.scenario
        return Response(200, {"id": s.project_id, "path_with_namespace": s.full_name,
                              "name": s.name, "default_branch": "main"})

    def _merge_request(self, request: Request, match: re.Match[str]) -> Response:
        return Response(200, self.merge_request(self._change(match)))

    def _merge_requests(self, request: Request, match: re.Match[str]) -> Response:
        if not self._project_ok(match):
            return Response(404, {"message": "404 Project Not Found"})
        q = request.query
        items = []
        for change in sorted(self.scenario.changes.values(), key=lambda c: -c.number):
            wanted = {"opened": "open"}.get(q.get("state", ""), q.get("state", ""))
            if wanted and wanted not in ("all", change.state):
                continue
            if q.get("target_branch") and change.base != q["target_branch"]:
                continue
            labels = [x for x in q.get("labels", "").split(",") if x]
            if any(label not in change.labels for label in labels):
                continue
            items.append(self.merge_request(change))
        return self._page(items, request)

    def _commit_merge_requests(self, request: Request, match: re.Match[str]) -> Response:
        """The merge requests of a commit: those containing it or merged as it."""
        if not self._project_ok(match):
            return Response(404, {"message": "404 Project Not Found"})
        wanted = match["sha"]
        found = [self.merge_request(c) for c in sorted(self.scenario.changes.values(),
                                                       key=lambda c: -c.number)
                 if wanted == c.merge_commit_sha or wanted in {x.sha for x in c.commits}]
        return self._page(found, request)

    def _commits(self, request: Request, match: re.Match[str]) -> Response:
        change = self._change(match)
        return self._page([self.commit(c) for c in reversed(change.commits)], request)

    def _approvals(self, request: Request, match: re.Match[str]) -> Response:
        change = self._change(match)
        approved = self.approvals_of(change)
        return Response(200, {"id": 90_000 + change.number, "iid": change.number,
                              "project_id": self.scenario.project_id, "title": change.title,
                              "state": "opened", "merge_status": "can_be_merged",
                              "approved": bool(approved), "approvals_required": 0,
                              "approvals_left": 0, "approved_by": approved,
                              "user_has_approved": False, "user_can_approve": True})

    def _approval_state(self, request: Request, match: re.Match[str]) -> Response:
        change = self._change(match)
        if self.tier == "free":
            return Response(403, {"message": "403 Forbidden"})
        approved = [a["user"] for a in self.approvals_of(change)]
        return Response(200, {"approval_rules_overwritten": False, "rules": [
            {"id": 1, "name": "All Members", "rule_type": "any_approver", "eligible_approvers": [],
             "approvals_required": 1, "users": [], "groups": [], "contains_hidden_groups": False,
             "approved_by": approved, "source_rule": None, "approved": bool(approved),
             "overridden": False}]})

    def _reviewers(self, request: Request, match: re.Match[str]) -> Response:
        change = self._change(match)
        latest: dict[str, Any] = {}
        for review in change.reviews:
            if review.state == "COMMENTED" and review.user in latest:
                continue
            latest[review.user] = review
        states = {"APPROVED": "approved", "CHANGES_REQUESTED": "requested_changes",
                  "COMMENTED": "reviewed", "DISMISSED": "unreviewed"}
        return Response(200, [{"user": self.user(login), "state": states[r.state],
                               "created_at": at(r.minute)} for login, r in latest.items()])

    def _versions(self, request: Request, match: re.Match[str]) -> Response:
        change = self._change(match)
        versions = []
        for i, push in enumerate(change.push_list()):
            versions.append({"id": 500 + i, "head_commit_sha": push.after,
                             "base_commit_sha": change.base_sha,
                             "start_commit_sha": change.base_sha, "created_at": at(push.minute),
                             "merge_request_id": 90_000 + change.number, "state": "collected",
                             "real_size": str(len(change.files)), "patch_id_sha": push.after})
        return self._page(list(reversed(versions)), request)

    def _diffs(self, request: Request, match: re.Match[str]) -> Response:
        change = self._change(match)
        return self._page([{"old_path": f, "new_path": f, "a_mode": "100644",
                            "b_mode": "100644", "new_file": False, "renamed_file": False,
                            "deleted_file": False, "generated_file": False,
                            "diff": "@@ -1 +1 @@\n-a\n+b\n"} for f in change.files], request)

    def _label_events(self, request: Request, match: re.Match[str]) -> Response:
        change = self._change(match)
        return self._page([{"id": 700 + i, "user": self.user(e.user),
                            "created_at": at(e.minute), "resource_type": "MergeRequest",
                            "resource_id": 90_000 + change.number,
                            "label": {"id": 60 + i, "name": e.label, "color": "#ff0000",
                                      "description": None}, "action": e.action}
                           for i, e in enumerate(change.label_events)], request)

    def _events(self, request: Request, match: re.Match[str]) -> Response:
        if not self._project_ok(match):
            return Response(404, {"message": "404 Project Not Found"})
        items = []
        for change in self.scenario.changes.values():
            for i, push in enumerate(change.push_list()):
                items.append((push.minute, {
                    "id": 3000 + change.number * 100 + i, "project_id": self.scenario.project_id,
                    "action_name": "pushed to", "target_id": None, "target_type": None,
                    "author_id": self.scenario.users[push.user].id,
                    "author": self.user(push.user), "author_username": push.user,
                    "created_at": at(push.minute),
                    "push_data": {"commit_count": 1, "action": "pushed", "ref_type": "branch",
                                  "commit_from": push.before, "commit_to": push.after,
                                  "ref": change.head_branch, "commit_title": "Change",
                                  "ref_count": None}}))
        ordered = [e for _, e in sorted(items, key=lambda pair: pair[0], reverse=True)]
        return self._page(ordered, request)

    def _members(self, request: Request, match: re.Match[str]) -> Response:
        if self.group_access != "read":
            return Response(403, {"message": "403 Forbidden"})
        group = unquote(match["group"])
        if group not in self.scenario.teams:
            return Response(404, {"message": "404 Group Not Found"})
        return self._page([{**self.user(m), "access_level": 30, "created_at": at(0),
                            "expires_at": None, "membership_state": "active"}
                           for m in self.scenario.teams[group]], request)

    def _user(self, request: Request, match: re.Match[str]) -> Response:
        user = next((u for u in self.scenario.users.values() if u.id == int(match["id"])), None)
        if user is None:
            return Response(404, {"message": "404 User Not Found"})
        return Response(200, {**self.user(user.login), "public_email": "", "bio": "",
                              "created_at": at(0)})

    def _users(self, request: Request, match: re.Match[str]) -> Response:
        login = request.query.get("username", "")
        if login in self.scenario.users:
            return Response(200, [self.user(login)])
        return Response(200, [])
