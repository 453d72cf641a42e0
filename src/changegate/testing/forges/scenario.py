"""One forge-neutral description of a repository's people, teams and changes.

The same `Scenario` is served by the local GitHub server (REST + GraphQL) and the local GitLab
server (REST), each in its own documented response shapes, so a test states a situation once
("bob approved commit 2, then alice pushed commit 3") and checks that both forges lead to the
same decision.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

EPOCH = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def at(minutes: int) -> str:
    """A timestamp `minutes` after the scenario's epoch, in the APIs' ISO 8601 form."""
    return (EPOCH + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha(seed: str) -> str:
    """A deterministic, realistic-looking commit SHA for `seed`."""
    return hashlib.sha1(seed.encode()).hexdigest()  # noqa: S324 - an identifier, not security


@dataclass
class User:
    login: str
    name: str
    email: str
    id: int
    linked: bool = True  # GitHub links commits with this email to the account


@dataclass
class FakeCommit:
    sha: str
    author: str  # a login from Scenario.users
    committer: str | None = None  # default: the author; "web-flow" for GitHub's own
    co_authors: tuple[str, ...] = ()
    message: str = "Change"
    minute: int = 0

    def full_message(self, users: dict[str, User]) -> str:
        trailers = [f"Co-authored-by: {users[c].name} <{users[c].email}>"
                    for c in self.co_authors]
        return self.message + ("\n\n" + "\n".join(trailers) if trailers else "")


@dataclass
class FakeReview:
    user: str
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED
    commit: str
    minute: int
    id: int = 0


@dataclass
class Push:
    user: str
    after: str
    minute: int
    before: str | None = None


@dataclass
class LabelEvent:
    user: str
    label: str
    minute: int
    action: str = "add"


@dataclass
class FakeChange:
    """A pull/merge request."""

    number: int
    author: str
    commits: list[FakeCommit]
    title: str = "Adjust the fee rate"
    base: str = "main"
    head_branch: str = "feature/fees"
    reviews: list[FakeReview] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=lambda: ["src/fees.py"])
    pushes: list[Push] = field(default_factory=list)
    label_events: list[LabelEvent] = field(default_factory=list)
    state: str = "open"  # open | merged | closed
    merged_minute: int | None = None
    merge_commit_sha: str | None = None  # the commit its merge put on `base` (state "merged")
    base_sha: str = field(default_factory=lambda: sha("base"))
    created_minute: int = 0

    @property
    def head(self) -> str:
        return self.commits[-1].sha

    def push_list(self) -> list[Push]:
        """The pushes, or one push of the head by the author when none were declared."""
        if self.pushes:
            return self.pushes
        return [Push(user=self.author, after=self.head, minute=self.commits[-1].minute)]


@dataclass
class Scenario:
    owner: str = "acme"
    name: str = "payments"
    users: dict[str, User] = field(default_factory=dict)
    teams: dict[str, list[str]] = field(default_factory=dict)  # "org/slug" -> logins
    changes: dict[int, FakeChange] = field(default_factory=dict)
    project_id: int = 4242

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def user(self, login: str, name: str | None = None, *, linked: bool = True) -> User:
        made = User(login=login, name=name or login.title(), email=f"{login}@acme.example",
                    id=1000 + len(self.users), linked=linked)
        self.users[login] = made
        return made

    def add(self, change: FakeChange) -> FakeChange:
        self.changes[change.number] = change
        return change

    def by_email(self, email: str) -> User | None:
        return next((u for u in self.users.values() if u.email == email), None)


def commits(count: int, author: str, *, start_minute: int = 0, prefix: str = "c",
            committer: str | None = None) -> list[FakeCommit]:
    """`count` commits by `author`, one a minute, with deterministic SHAs."""
    return [FakeCommit(sha=sha(f"{prefix}{i}"), author=author, committer=committer,
                       message=f"Change {i}", minute=start_minute + i) for i in range(count)]


def standard_scenario() -> Scenario:
    """The payments team: alice writes, bob and dave review, carol is compliance, erin is both."""
    scenario = Scenario()
    for login, name in (("alice", "Alice Developer"), ("bob", "Bob Reviewer"),
                        ("carol", "Carol Compliance"), ("dave", "Dave Reviewer"),
                        ("erin", "Erin Both")):
        scenario.user(login, name)
    scenario.teams = {"acme/payments-reviewers": ["bob", "dave", "erin"],
                      "acme/compliance": ["carol", "erin"]}
    return scenario
