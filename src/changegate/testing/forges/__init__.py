"""Local GitHub (REST + GraphQL) and GitLab (REST) servers for tests, benchmarks and users.

Both serve one forge-neutral `Scenario` on 127.0.0.1 (a random port), speak the documented
response shapes, count every request and can be told to fail, so the real PyGithub and
python-gitlab clients can be driven end to end without a network::

    scenario = standard_scenario()
    scenario.add(FakeChange(number=42, author="alice", commits=commits(3, "alice")))
    with GitHubServer(scenario) as github:
        Github(auth=Auth.Token("ghs_test_token"), base_url=github.url)...
"""

from changegate.testing.forges.github import GitHubServer
from changegate.testing.forges.gitlab import GitLabServer
from changegate.testing.forges.http import Fault, LocalServer
from changegate.testing.forges.scenario import (
    FakeChange,
    FakeCommit,
    FakeReview,
    LabelEvent,
    Push,
    Scenario,
    User,
    at,
    commits,
    sha,
    standard_scenario,
)

__all__ = ["FakeChange", "FakeCommit", "FakeReview", "Fault", "GitHubServer", "GitLabServer",
           "LabelEvent", "LocalServer", "Push", "Scenario", "User", "at", "commits", "sha",
           "standard_scenario"]
