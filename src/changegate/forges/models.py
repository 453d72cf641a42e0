"""The facts a forge reports about one pull/merge request, in one forge-neutral shape.

The approvals gate decides from these facts only, never from a live client, for two reasons:
GitHub and GitLab must be judged by the same code (one policy, one answer), and an auditor must
be able to replay the decision years later from the facts recorded with the result
(`ChangeFacts.to_json` / `from_json`), when the forge's state has long moved on.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any


class ReviewState(str, enum.Enum):
    """A review's state as GitHub names it; GitLab approvals and reviewer states map onto it."""

    APPROVED = "APPROVED"
    CHANGES_REQUESTED = "CHANGES_REQUESTED"
    COMMENTED = "COMMENTED"
    DISMISSED = "DISMISSED"
    PENDING = "PENDING"


@dataclass(frozen=True)
class Person:
    """A git identity from a commit (author, committer, Co-authored-by trailer).

    `login` is the forge account the forge itself linked the identity to (GitHub does this from
    verified emails); None means the forge could not tell, and the gate then matches reviewers
    by email and name instead.
    """

    name: str | None = None
    email: str | None = None
    login: str | None = None


@dataclass(frozen=True)
class Commit:
    """One commit of the change with every identity that took part in it."""

    sha: str
    author: Person
    committer: Person
    co_authors: tuple[Person, ...] = ()


@dataclass(frozen=True)
class Review:
    """One review or approval; `commit` is the head it was given on (None: the forge won't say)."""

    user: str
    state: ReviewState
    commit: str | None = None
    submitted_at: str | None = None


@dataclass(frozen=True)
class Account:
    """What the forge tells about a reviewer's account, to recognise them in commit metadata."""

    login: str
    name: str | None = None
    emails: tuple[str, ...] = ()
    id: int | None = None


@dataclass(frozen=True)
class Team:
    """A GitHub team (`org/slug`) or GitLab group (`group/sub`) and its complete member list."""

    name: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class Pusher:
    """Who pushed the head, and how we know (`source`): the forge's push record, or a stand-in.

    `source` is `push-activity` (GitHub repository activity), `push-event` (GitLab project
    events) or `head-commit` (no push record: the head commit's author and committer are treated
    as the pusher, which excludes more people, never fewer).
    """

    logins: tuple[str, ...]
    source: str
    identities: tuple[Person, ...] = ()


@dataclass(frozen=True)
class PastEmergency:
    """A merged emergency change on the same branch, and who approved it (before or after)."""

    number: int
    merged_at: str | None
    author: str | None
    url: str | None = None
    approvers: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()  # its author and committers: they cannot settle it


@dataclass
class ChangeFacts:
    """Everything the approvals gate decides from, as fetched at run time."""

    platform: str
    repository: str
    number: int
    author: str | None
    base_branch: str
    head_branch: str | None
    head_sha: str
    state: str = "open"
    url: str | None = None
    labels: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    commits: tuple[Commit, ...] = ()
    reviews: tuple[Review, ...] = ()
    accounts: dict[str, Account] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)
    last_pusher: Pusher | None = None
    emergencies: tuple[PastEmergency, ...] = ()
    notes: tuple[str, ...] = ()  # caveats of the fetch (e.g. "approval times unknown")
    api: dict[str, Any] = field(default_factory=dict)  # request count, rate limit
    # How the change was found: None when CI (or --pr/--mr) named it; "merged-commit" when a
    # push pipeline's head commit led to the merged pull/merge request (`pushed_sha`).
    found_by: str | None = None
    pushed_sha: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict that `from_json` turns back into equal facts (for offline replay)."""
        data = asdict(self)
        data["reviews"] = [{**r, "state": r["state"].value} for r in data["reviews"]]
        # Tuples become lists here, not only when printed, so `from_json(to_json())` and the
        # printed JSON are the same document.
        loaded: dict[str, Any] = json.loads(json.dumps(data))
        return loaded

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChangeFacts:
        def person(d: dict[str, Any]) -> Person:
            return Person(name=d.get("name"), email=d.get("email"), login=d.get("login"))

        pusher = data.get("last_pusher")
        return cls(
            platform=data["platform"], repository=data["repository"], number=data["number"],
            author=data.get("author"), base_branch=data["base_branch"],
            head_branch=data.get("head_branch"), head_sha=data["head_sha"],
            state=data.get("state", "open"), url=data.get("url"),
            labels=tuple(data.get("labels", ())), files=tuple(data.get("files", ())),
            commits=tuple(
                Commit(sha=c["sha"], author=person(c["author"]), committer=person(c["committer"]),
                       co_authors=tuple(person(p) for p in c.get("co_authors", ())))
                for c in data.get("commits", ())),
            reviews=tuple(
                Review(user=r["user"], state=ReviewState(r["state"]), commit=r.get("commit"),
                       submitted_at=r.get("submitted_at"))
                for r in data.get("reviews", ())),
            accounts={k: Account(login=v["login"], name=v.get("name"),
                                 emails=tuple(v.get("emails", ())), id=v.get("id"))
                      for k, v in data.get("accounts", {}).items()},
            teams={k: Team(name=v["name"], members=tuple(v["members"]))
                   for k, v in data.get("teams", {}).items()},
            last_pusher=Pusher(logins=tuple(pusher["logins"]), source=pusher["source"],
                               identities=tuple(person(p) for p in pusher.get("identities", ())))
            if pusher else None,
            emergencies=tuple(
                PastEmergency(number=e["number"], merged_at=e.get("merged_at"),
                              author=e.get("author"), url=e.get("url"),
                              approvers=tuple(e.get("approvers", ())),
                              excluded=tuple(e.get("excluded", ())))
                for e in data.get("emergencies", ())),
            notes=tuple(data.get("notes", ())),
            api=dict(data.get("api", {})),
            found_by=data.get("found_by"), pushed_sha=data.get("pushed_sha"),
        )


@dataclass(frozen=True)
class FetchRequest:
    """What the gate needs from the forge beyond the change itself.

    `teams` are every team the policy names (fetched whether or not a rule applies, so the
    recorded facts are enough to replay any policy variant); `emergency_label` turns on the
    lookup of earlier emergency changes merged into `base_branch` since `merged_since`.
    """

    repository: str
    number: int
    base_branch: str | None = None
    teams: tuple[str, ...] = ()
    emergency_label: str | None = None
    approved_label: str | None = None
    merged_since: date | None = None  # emergencies merged on or after this day
