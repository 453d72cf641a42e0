"""Co-authors from `Co-authored-by:` trailers, for forges that do not parse them for us.

GitHub's GraphQL `Commit.authors` already lists co-authors (linked to accounts); GitLab's API
and GitHub's REST commits do not, so the trailer is read here. A co-author is excluded from
approving like an author, so reading too many trailers is safe and reading too few is not: any
`Co-authored-by:` line in the message counts, not only those in the final paragraph.
"""

from __future__ import annotations

import re

from changegate.forges.models import Person

_TRAILER = re.compile(r"^\s*co-authored-by:\s*(?P<name>[^<\n]*?)\s*<(?P<email>[^>\n]+)>\s*$",
                      re.IGNORECASE | re.MULTILINE)


def co_authors(message: str | None) -> tuple[Person, ...]:
    """Every `Co-authored-by: Name <email>` in `message`, in order, without duplicates."""
    if not message:
        return ()
    seen: set[str] = set()
    found: list[Person] = []
    for match in _TRAILER.finditer(message):
        email = match.group("email").strip()
        if email.lower() in seen:
            continue
        seen.add(email.lower())
        found.append(Person(name=match.group("name").strip() or None, email=email))
    return tuple(found)
