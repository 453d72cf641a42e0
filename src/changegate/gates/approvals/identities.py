"""Who took part in the change, and so may not approve it: author, committers, last pusher.

Identities are matched to reviewers by `changegate.forges.identity.matches` (linked account,
known emails, then display name): leaning wide, because a missed match would let a committer
approve their own code while a false one only excludes someone who could have counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from changegate.forges.identity import matches
from changegate.forges.models import ChangeFacts


@dataclass(frozen=True)
class Exclusion:
    """Why a person may not count: `kind` is the policy's switch, `reason` the scripted code."""

    kind: str  # author | committers | last_pusher (the `exclude:` values)
    reason: str  # author | commit-author | committer | co-author | last-pusher
    why: str


def exclusions_for(facts: ChangeFacts, login: str) -> list[Exclusion]:
    """Every reason `login` took part in the change, the first of each kind per commit role."""
    account = facts.accounts.get(login)
    found: list[Exclusion] = []
    if facts.author and facts.author.casefold() == login.casefold():
        found.append(Exclusion("author", "author", "opened the change (its author)"))
    seen: set[str] = set()
    for commit in facts.commits:
        roles = [("commit-author", "authored", commit.author),
                 ("committer", "committed", commit.committer)]
        roles += [("co-author", "co-authored", p) for p in commit.co_authors]
        for reason, verb, person in roles:
            if reason not in seen and matches(person, login, account):
                seen.add(reason)
                found.append(Exclusion("committers", reason, f"{verb} commit {commit.sha[:12]}"))
    pusher = facts.last_pusher
    if pusher is not None:
        by_login = any(p.casefold() == login.casefold() for p in pusher.logins)
        by_identity = any(matches(p, login, account) for p in pusher.identities)
        if by_login or by_identity:
            how = ("pushed the head" if pusher.source != "head-commit" else
                   "may have pushed the head (no push record: the head commit's author and "
                   "committer are treated as the pusher)")
            found.append(Exclusion("last_pusher", "last-pusher", how))
    return found
