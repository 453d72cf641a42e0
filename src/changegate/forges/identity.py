"""Is this git identity that forge account? The one matching rule every module shares.

Reviewers are forge accounts; commits record git identities. GitHub links most identities to
accounts, GitLab links none, so a reviewer is recognised in a commit by, in order: the linked
account, any of the account's known emails (public email, the forge's no-reply addresses), or,
for identities no account is linked to, the display name or login. A false match only excludes
someone who could otherwise have counted (the gate fails closed); a missed match would let a
committer approve their own code, so matching leans wide on purpose.
"""

from __future__ import annotations

from changegate.forges.models import Account, Person


def _norm(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def matches(person: Person, login: str, account: Account | None) -> bool:
    """Whether the git identity `person` is the forge user `login`."""
    if person.login:
        return person.login.casefold() == login.casefold()
    emails = {e.casefold() for e in (account.emails if account else ())}
    if person.email and person.email.casefold() in emails:
        return True
    name = _norm(person.name)
    if not name:
        return False
    if name == login.casefold():
        return True
    return account is not None and bool(account.name) and name == _norm(account.name)
