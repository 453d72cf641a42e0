"""Where results are published: the Checks API and PR comments (GitHub), MR notes (GitLab).

Installed on the local `GitHubServer` and `GitLabServer`, so the real publishing code (through
PyGithub's and python-gitlab's HTTP layers) runs against the documented request and response
shapes, and tests can read back what a developer would see:

- GitHub `POST/PATCH /repos/{owner}/{repo}/check-runs[/{id}]` with GitHub's validation: at most
  50 annotations per request (more is a 422, as on GitHub), the required annotation fields and
  levels, 65,535 characters per `output.summary`/`output.text`, a conclusion whenever the run
  is completed. Annotations of later requests are appended, as GitHub does. Knob
  `checks_access`: "none" (the default, like a GITHUB_TOKEN without `checks: write`: 403
  "Resource not accessible by integration") or "write".
- GitHub issue comments on pull requests (list, create, edit) with the 65,536-character body
  limit. Knob `comments_access`: "read" (the default: 403 on writes) or "write". `token_login`
  is who the token is (default `github-actions[bot]`, a Bot); `token_is_app` makes `GET /user`
  answer 403 as it does for an installation token.
- GitLab merge request notes (list, create, edit) with the 1,000,000-character limit, and
  `GET /user` for the token's (bot) user. Knob `notes_access`: "write" or "read" (403); the
  job token cannot use either endpoint (401), as on GitLab.

`server.check_runs`, `server.comments` and `server.notes` hold the state; `add_comment` and
`add_note` plant comments by other people (e.g. one that copies our hidden marker).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from changegate.testing.forges.http import Request, Response, paginate
from changegate.testing.forges.scenario import at

if TYPE_CHECKING:
    from changegate.testing.forges.github import GitHubServer
    from changegate.testing.forges.gitlab import GitLabServer

# GitHub's documented limits.
ANNOTATIONS_PER_REQUEST = 50
OUTPUT_TEXT_MAX = 65535
ANNOTATION_TEXT_MAX = 64 * 1024
ANNOTATION_TITLE_MAX = 255
COMMENT_BODY_MAX = 65536
# GitLab's note limit.
NOTE_BODY_MAX = 1_000_000

CONCLUSIONS = {"action_required", "cancelled", "failure", "neutral", "success", "skipped",
               "stale", "timed_out"}
LEVELS = {"notice", "warning", "failure"}
_FORBIDDEN = {"message": "Resource not accessible by integration",
              "documentation_url": "https://docs.github.com/rest/checks/runs#create-a-check-run",
              "status": "403"}


def _invalid(message: str) -> Response:
    return Response(422, {"message": "Invalid request.", "errors": [message],
                          "documentation_url": "https://docs.github.com/rest/checks/runs",
                          "status": "422"})


# -- GitHub ------------------------------------------------------------------------------------


def install_github(server: GitHubServer) -> None:
    """Add the Checks API and PR comment endpoints to `server` (its state is its own)."""
    repo = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
    server.route("POST", repo + "/check-runs", lambda r, m: _create_check_run(server, r, m))
    server.route("PATCH", repo + r"/check-runs/(?P<id>\d+)",
                 lambda r, m: _update_check_run(server, r, m))
    server.route("GET", repo + r"/check-runs/(?P<id>\d+)",
                 lambda r, m: _get_check_run(server, r, m))
    server.route("GET", repo + r"/check-runs/(?P<id>\d+)/annotations",
                 lambda r, m: _check_run_annotations(server, r, m))
    server.route("GET", repo + r"/issues/(?P<n>\d+)/comments",
                 lambda r, m: _list_comments(server, r, m))
    server.route("POST", repo + r"/issues/(?P<n>\d+)/comments",
                 lambda r, m: _create_comment(server, r, m))
    server.route("PATCH", repo + r"/issues/comments/(?P<id>\d+)",
                 lambda r, m: _edit_comment(server, r, m))
    server.route("GET", "/user", lambda r, m: _github_user(server, r))


def _repo_ok(server: GitHubServer, match: re.Match[str]) -> bool:
    return f"{match['owner']}/{match['repo']}" == server.scenario.full_name


def _validate_output(output: Any) -> str | None:
    if output is None:
        return None
    if not isinstance(output, dict):
        return "output is not an object"
    for key in ("title", "summary"):
        if not isinstance(output.get(key), str) or not output[key]:
            return f"output.{key} is required"
    for key in ("summary", "text"):
        if isinstance(output.get(key), str) and len(output[key]) > OUTPUT_TEXT_MAX:
            return f"output.{key} is too long (maximum is {OUTPUT_TEXT_MAX} characters)"
    annotations = output.get("annotations") or []
    if len(annotations) > ANNOTATIONS_PER_REQUEST:
        return (f"Only {ANNOTATIONS_PER_REQUEST} annotations are allowed per request; "
                f"got {len(annotations)}")
    for i, ann in enumerate(annotations):
        for key in ("path", "start_line", "end_line", "annotation_level", "message"):
            if ann.get(key) in (None, ""):
                return f"output.annotations[{i}].{key} is required"
        if ann["annotation_level"] not in LEVELS:
            return f"output.annotations[{i}].annotation_level is not one of {sorted(LEVELS)}"
        if not isinstance(ann["start_line"], int) or ann["start_line"] < 1 \
                or ann["end_line"] < ann["start_line"]:
            return f"output.annotations[{i}] has invalid lines"
        if ("start_column" in ann or "end_column" in ann) and \
                ann["start_line"] != ann["end_line"]:
            return f"output.annotations[{i}]: columns are only allowed on a single line"
        if len(str(ann["message"]).encode()) > ANNOTATION_TEXT_MAX or \
                len(str(ann.get("raw_details") or "").encode()) > ANNOTATION_TEXT_MAX:
            return f"output.annotations[{i}].message is too long"
        if len(str(ann.get("title") or "")) > ANNOTATION_TITLE_MAX:
            return f"output.annotations[{i}].title is too long"
    return None


def _check_run_json(server: GitHubServer, run: dict[str, Any]) -> dict[str, Any]:
    full = server.scenario.full_name
    ident = run["id"]
    output = run["output"]
    return {
        "id": ident, "node_id": f"CR_{ident}", "head_sha": run["head_sha"],
        "external_id": run.get("external_id") or "", "name": run["name"],
        "url": f"{server.url}/repos/{full}/check-runs/{ident}",
        "html_url": f"https://github.com/{full}/runs/{ident}",
        "details_url": run.get("details_url") or f"https://github.com/{full}/runs/{ident}",
        "status": run["status"], "conclusion": run.get("conclusion"),
        "started_at": at(0), "completed_at": at(1) if run["status"] == "completed" else None,
        "output": {"title": output.get("title"), "summary": output.get("summary"),
                   "text": output.get("text"), "annotations_count": len(run["annotations"]),
                   "annotations_url": f"{server.url}/repos/{full}/check-runs/{ident}/"
                                      "annotations"},
        "check_suite": {"id": 5},
        "app": {"id": 15368, "slug": "github-actions", "name": "GitHub Actions"},
        "pull_requests": [],
    }


def _apply(run: dict[str, Any], body: dict[str, Any]) -> str | None:
    for key in ("name", "details_url", "external_id", "status", "conclusion"):
        if key in body:
            run[key] = body[key]
    if run.get("conclusion") is not None:
        if run["conclusion"] not in CONCLUSIONS:
            return f"conclusion is not one of {sorted(CONCLUSIONS)}"
        run["status"] = "completed"
    if run.get("status") not in ("queued", "in_progress", "completed"):
        return "status is not one of queued, in_progress, completed"
    if run["status"] == "completed" and not run.get("conclusion"):
        return "conclusion is required when status is completed"
    output = body.get("output")
    if output is not None:
        run["output"] = {k: v for k, v in output.items() if k != "annotations"}
        run["annotations"].extend(output.get("annotations") or [])
    return None


def _create_check_run(server: GitHubServer, request: Request, match: re.Match[str]) -> Response:
    if not _repo_ok(server, match):
        return Response(404, {"message": "Not Found"})
    if server.checks_access != "write":
        return Response(403, _FORBIDDEN)
    body = request.body if isinstance(request.body, dict) else {}
    if not body.get("name") or not re.fullmatch(r"[0-9a-f]{40}", str(body.get("head_sha"))):
        return _invalid("name and a 40-character head_sha are required")
    problem = _validate_output(body.get("output"))
    if problem:
        return _invalid(problem)
    ident = 4_000_000 + len(server.check_runs) + 1
    run: dict[str, Any] = {"id": ident, "head_sha": body["head_sha"], "status": "queued",
                           "output": {}, "annotations": []}
    problem = _apply(run, body)
    if problem:
        return _invalid(problem)
    server.check_runs[ident] = run
    return Response(201, _check_run_json(server, run), server._headers())


def _update_check_run(server: GitHubServer, request: Request, match: re.Match[str]) -> Response:
    if not _repo_ok(server, match) or int(match["id"]) not in server.check_runs:
        return Response(404, {"message": "Not Found"})
    if server.checks_access != "write":
        return Response(403, _FORBIDDEN)
    body = request.body if isinstance(request.body, dict) else {}
    problem = _validate_output(body.get("output"))
    if problem:
        return _invalid(problem)
    run = server.check_runs[int(match["id"])]
    problem = _apply(run, body)
    if problem:
        return _invalid(problem)
    return Response(200, _check_run_json(server, run), server._headers())


def _get_check_run(server: GitHubServer, request: Request, match: re.Match[str]) -> Response:
    run = server.check_runs[int(match["id"])]
    return Response(200, _check_run_json(server, run), server._headers())


def _check_run_annotations(server: GitHubServer, request: Request,
                           match: re.Match[str]) -> Response:
    run = server.check_runs[int(match["id"])]
    items = [{"blob_href": "", **ann} for ann in run["annotations"]]
    chunk, headers = paginate(items, request, server.url)
    return Response(200, chunk, {k: v for k, v in headers.items() if not k.startswith("X-")})


def _comment_json(server: GitHubServer, number: int, comment: dict[str, Any]) -> dict[str, Any]:
    full = server.scenario.full_name
    ident = comment["id"]
    return {"id": ident, "node_id": f"IC_{ident}",
            "url": f"{server.url}/repos/{full}/issues/comments/{ident}",
            "html_url": f"https://github.com/{full}/pull/{number}#issuecomment-{ident}",
            "issue_url": f"{server.url}/repos/{full}/issues/{number}",
            "body": comment["body"], "user": server.simple_user(comment["user"]),
            "created_at": at(comment["created"]), "updated_at": at(comment["updated"]),
            "author_association": "NONE" if comment["user"] not in server.scenario.users
            else "MEMBER", "performed_via_github_app": None}


def _find_comment(server: GitHubServer, ident: int) -> tuple[int, dict[str, Any]]:
    for number, comments in server.comments.items():
        for comment in comments:
            if comment["id"] == ident:
                return number, comment
    raise KeyError("comment")


def add_github_comment(server: GitHubServer, number: int, user: str, body: str) -> int:
    """Plant a comment by `user` on pull request `number`; returns its id."""
    comments = server.comments.setdefault(number, [])
    ident = 7_000_000 + sum(len(c) for c in server.comments.values()) + 1
    comments.append({"id": ident, "user": user, "body": body, "created": len(comments),
                     "updated": len(comments)})
    return ident


def _list_comments(server: GitHubServer, request: Request, match: re.Match[str]) -> Response:
    if not _repo_ok(server, match) or int(match["n"]) not in server.scenario.changes:
        return Response(404, {"message": "Not Found"})
    number = int(match["n"])
    items = [_comment_json(server, number, c) for c in server.comments.get(number, [])]
    chunk, headers = paginate(items, request, server.url)
    return Response(200, chunk, {**server._headers(),
                                 **{k: v for k, v in headers.items() if not k.startswith("X-")}})


def _body_problem(body: Any) -> Response | None:
    text = body.get("body") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text:
        return _invalid("body is required")
    if len(text) > COMMENT_BODY_MAX:
        return Response(422, {"message": "Validation Failed", "errors": [
            {"resource": "IssueComment", "code": "custom", "field": "body",
             "message": f"body is too long (maximum is {COMMENT_BODY_MAX} characters)"}],
            "status": "422"})
    return None


def _create_comment(server: GitHubServer, request: Request, match: re.Match[str]) -> Response:
    if not _repo_ok(server, match) or int(match["n"]) not in server.scenario.changes:
        return Response(404, {"message": "Not Found"})
    if server.comments_access != "write":
        return Response(403, _FORBIDDEN)
    problem = _body_problem(request.body)
    if problem:
        return problem
    number = int(match["n"])
    ident = add_github_comment(server, number, server.token_login, request.body["body"])
    _, comment = _find_comment(server, ident)
    return Response(201, _comment_json(server, number, comment), server._headers())


def _edit_comment(server: GitHubServer, request: Request, match: re.Match[str]) -> Response:
    if not _repo_ok(server, match):
        return Response(404, {"message": "Not Found"})
    number, comment = _find_comment(server, int(match["id"]))
    if server.comments_access != "write":
        return Response(403, _FORBIDDEN)
    problem = _body_problem(request.body)
    if problem:
        return problem
    comment["body"] = request.body["body"]
    comment["updated"] += 1
    return Response(200, _comment_json(server, number, comment), server._headers())


def _github_user(server: GitHubServer, request: Request) -> Response:
    if server.token_is_app:
        return Response(403, {"message": "Resource not accessible by integration",
                              "documentation_url": "https://docs.github.com/rest/users/users"
                                                   "#get-the-authenticated-user",
                              "status": "403"})
    return Response(200, server.simple_user(server.token_login), server._headers())


# -- GitLab ------------------------------------------------------------------------------------


def install_gitlab(server: GitLabServer, api: str) -> None:
    """Add merge request notes and `GET /user` to `server` (its state is its own)."""
    note = api + r"/projects/(?P<project>[^/]+)/merge_requests/(?P<iid>\d+)/notes"
    server.token_user = {"id": 9_001, "username": "project_4242_bot_changegate",
                         "name": "changegate", "state": "active", "bot": True,
                         "avatar_url": None, "web_url": "https://gitlab.example/"
                                                        "project_4242_bot_changegate"}
    server.route("GET", note, lambda r, m: _list_notes(server, r, m))
    server.route("POST", note, lambda r, m: _create_note(server, r, m))
    server.route("PUT", note + r"/(?P<id>\d+)", lambda r, m: _edit_note(server, r, m))
    server.route("GET", api + "/user", lambda r, m: Response(200, server.token_user))


def add_gitlab_note(server: GitLabServer, iid: int, author: dict[str, Any], body: str, *,
                    system: bool = False) -> int:
    """Plant a note by `author` (a GitLab user object) on merge request `iid`; returns its id."""
    notes = server.notes.setdefault(iid, [])
    ident = 300_000 + sum(len(n) for n in server.notes.values()) + 1
    notes.append({"id": ident, "author": author, "body": body, "system": system,
                  "created": len(notes), "updated": len(notes)})
    return ident


def _note_json(server: GitLabServer, iid: int, note: dict[str, Any]) -> dict[str, Any]:
    return {"id": note["id"], "type": None, "body": note["body"], "attachment": None,
            "author": note["author"], "created_at": at(note["created"]),
            "updated_at": at(note["updated"]), "system": note["system"],
            "noteable_id": 90_000 + iid, "noteable_type": "MergeRequest",
            "project_id": server.scenario.project_id, "resolvable": False,
            "confidential": False, "internal": False, "noteable_iid": iid,
            "commands_changes": {}}


def _mr_ok(server: GitLabServer, match: re.Match[str]) -> bool:
    return server._project_ok(match) and int(match["iid"]) in server.scenario.changes


def _note_problem(server: GitLabServer, body: Any) -> Response | None:
    if server.notes_access != "write":
        return Response(403, {"message": "403 Forbidden"})
    text = body.get("body") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text:
        return Response(400, {"message": "400 Bad request - body is missing"})
    if len(text) > NOTE_BODY_MAX:
        return Response(400, {"message": {"note": [
            f"is too long (maximum is {NOTE_BODY_MAX} characters)"]}})
    return None


def _list_notes(server: GitLabServer, request: Request, match: re.Match[str]) -> Response:
    if not _mr_ok(server, match):
        return Response(404, {"message": "404 Not found"})
    iid = int(match["iid"])
    items = [_note_json(server, iid, n) for n in server.notes.get(iid, [])]
    if request.query.get("sort") != "asc":
        items.reverse()  # GitLab's default: newest first
    return server._page(items, request)


def _create_note(server: GitLabServer, request: Request, match: re.Match[str]) -> Response:
    if not _mr_ok(server, match):
        return Response(404, {"message": "404 Not found"})
    problem = _note_problem(server, request.body)
    if problem:
        return problem
    iid = int(match["iid"])
    ident = add_gitlab_note(server, iid, server.token_user, request.body["body"])
    note = next(n for n in server.notes[iid] if n["id"] == ident)
    return Response(201, _note_json(server, iid, note))


def _edit_note(server: GitLabServer, request: Request, match: re.Match[str]) -> Response:
    if not _mr_ok(server, match):
        return Response(404, {"message": "404 Not found"})
    iid = int(match["iid"])
    note = next((n for n in server.notes.get(iid, []) if n["id"] == int(match["id"])), None)
    if note is None:
        return Response(404, {"message": "404 Note Not Found"})
    problem = _note_problem(server, request.body)
    if problem:
        return problem
    if note["author"].get("id") != server.token_user["id"]:
        return Response(403, {"message": "403 Forbidden"})
    note["body"] = request.body["body"]
    note["updated"] += 1
    return Response(200, _note_json(server, iid, note))
