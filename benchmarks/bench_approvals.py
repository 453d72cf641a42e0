"""approvals: HTTP requests and time to read a big pull request, on GitHub and GitLab.

A pull request with 300 commits, 60 reviews and a policy naming 3 teams, served by the local
GitHub (REST + GraphQL) and GitLab (REST) servers and read by the real PyGithub and
python-gitlab clients. The request count is what the server saw (retries included), the time is
the median of `--runs` full fetch-and-decide runs. Target (issue 7): at most 5 requests on
GitHub. For comparison, the naive REST path on GitHub (PyGithub's `get_pull`,
`get_commits`, `get_reviews`, `get_files`, team members per team) is counted too; it also stops
at 250 commits.

Run: .venv/bin/python benchmarks/bench_approvals.py [--commits 300] [--reviews 60] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

from changegate.forges.base import ForgeSettings
from changegate.forges.github import GitHubForge
from changegate.forges.gitlab import GitLabForge
from changegate.forges.models import FetchRequest
from changegate.gates.approvals import gate
from changegate.gates.approvals.config import parse_config
from changegate.testing.forges import (
    FakeChange,
    FakeReview,
    GitHubServer,
    GitLabServer,
    LocalServer,
    Scenario,
    commits,
    standard_scenario,
)

TARGET_GITHUB_REQUESTS = 5
GITHUB_TOKEN = "ghs_test_token"  # noqa: S105 - the local server's test token
GITLAB_TOKEN = "glpat-test-token"  # noqa: S105 - the local server's test token
POLICY: dict[str, Any] = {"rules": [
    {"name": "peer review", "count": 2, "teams": ["acme/payments-reviewers"]},
    {"name": "compliance sign-off", "count": 1, "teams": ["acme/compliance"]},
    {"name": "architecture", "count": 1, "teams": ["acme/architects"],
     "if": {"paths": ["src/core/**"]}},
]}


def scenario(n_commits: int, n_reviews: int) -> Scenario:
    made = standard_scenario()
    made.user("frank", "Frank Architect")
    made.teams["acme/architects"] = ["frank", "erin"]
    change = made.add(FakeChange(number=42, author="alice",
                                 commits=commits(n_commits, "alice", start_minute=1),
                                 files=["src/payments/api.py", "src/core/ledger.py"]))
    head = change.head
    approvers = ["bob", "dave", "carol", "frank"]
    for i in range(n_reviews - len(approvers)):
        change.reviews.append(FakeReview(("bob", "dave", "erin")[i % 3], "COMMENTED",
                                         head, 400 + i))
    for i, login in enumerate(approvers):
        change.reviews.append(FakeReview(login, "APPROVED", head, 500 + i))
    return made


def measure(kind: str, made: Scenario, runs: int) -> dict[str, Any]:
    server: LocalServer = GitHubServer(made) if kind == "github" else GitLabServer(made)
    config = parse_config(POLICY)
    times, requests = [], 0
    status = None
    with server:
        for _ in range(runs):
            server.clear_log()
            settings = (ForgeSettings(api_url=server.url, token=GITHUB_TOKEN)
                        if kind == "github" else
                        ForgeSettings(api_url=server.url + "/api/v4", token=GITLAB_TOKEN))
            forge = GitHubForge(settings) if kind == "github" else GitLabForge(settings)
            start = time.perf_counter()
            facts = forge.fetch(FetchRequest(repository=made.full_name, number=42,
                                             base_branch="main", teams=config.teams()))
            result = gate.run(facts, config, environment="production")
            times.append(time.perf_counter() - start)
            requests = server.count()
            status = result.status.value
            assert len(facts.commits) == len(made.changes[42].commits)
            if kind == "github":  # GitLab has approvals, not a review list
                assert len(facts.reviews) == len(made.changes[42].reviews)
    return {"forge": kind, "requests": requests, "median_s": round(statistics.median(times), 4),
            "status": status}


def naive_rest(made: Scenario) -> dict[str, Any]:
    """PyGithub's REST objects, the way most bots read a PR: more requests, 250 commits max."""
    from github import Auth, Github

    with GitHubServer(made) as server:
        gh = Github(auth=Auth.Token(GITHUB_TOKEN), base_url=server.url, per_page=100,
                    seconds_between_requests=None, seconds_between_writes=None)
        start = time.perf_counter()
        repo = gh.get_repo(made.full_name)
        pull = repo.get_pull(42)
        listed = list(pull.get_commits())
        list(pull.get_reviews())
        list(pull.get_files())
        for team in ("payments-reviewers", "compliance", "architects"):
            gh.requester.requestJsonAndCheck("GET", f"/orgs/acme/teams/{team}/members")
        elapsed = time.perf_counter() - start
        return {"forge": "github-rest-naive", "requests": server.count(),
                "median_s": round(elapsed, 4), "commits_seen": len(listed)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--commits", type=int, default=300)
    parser.add_argument("--reviews", type=int, default=60)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    made = scenario(args.commits, args.reviews)
    rows = [measure("github", made, args.runs), measure("gitlab", made, args.runs),
            naive_rest(made)]
    print(f"PR with {args.commits} commits, {args.reviews} reviews, 3 teams")
    for row in rows:
        extra = f", commits seen {row['commits_seen']}" if "commits_seen" in row else ""
        print(f"  {row['forge']:<18} {row['requests']:>3} requests  "
              f"{row['median_s'] * 1000:8.1f} ms{extra}")
    print(json.dumps({"results": rows, "target_github_requests": TARGET_GITHUB_REQUESTS}))
    github = rows[0]["requests"]
    if github > TARGET_GITHUB_REQUESTS:
        print(f"FAIL: {github} GitHub requests > target {TARGET_GITHUB_REQUESTS}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
