"""GitHub's web-flow signing keys: commits GitHub makes on a user's behalf.

When someone edits a file in GitHub's web UI, or a pull request is squash-merged, merged or
rebased by GitHub, the commit's committer is `GitHub <noreply@github.com>` and GitHub signs it
with its own OpenPGP key. Whether such commits are acceptable is a policy decision
(`allow_github_web_flow`), made by the gate; this module only provides the pinned keys and the
committer test.

The keys ship inside the package (data/github-web-flow.asc, provenance in data/SOURCE.md) and
are checked against fingerprints pinned here at load: a download at verification time would
trust the network, and an edited key file must not silently widen what is trusted.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from importlib import resources

from changegate.errors import ChangegateError
from changegate.gates.verify_commits.openpgp import OpenPgpKeyring

RULE_WEB_FLOW_KEYS = "WEB_FLOW_KEYS_INVALID"
KEY_FILE = "github-web-flow.asc"
_PACKAGE = "changegate.gates.verify_commits"

#: The pinned web-flow keys (primary key fingerprints, uppercase as git shows them).
WEB_FLOW_FINGERPRINTS: Mapping[str, str] = {
    "968479A1AFF927E37D1A566BB5690EEEBB952194":
        "GitHub <noreply@github.com>, RSA-4096, created 2024-01-16, no expiry "
        "(key id B5690EEEBB952194): signs web-flow commits since 2024-01-16",
    "5DE3E0509C47EA3CF04A42D34AEE18F83AFDEB23":
        "GitHub (web-flow commit signing) <noreply@github.com>, RSA-2048, created 2017-08-16, "
        "expired 2024-01-16 (key id 4AEE18F83AFDEB23): its signatures made before it expired "
        "stay valid, because key validity is judged at signing time",
}

GITHUB_COMMITTER_NAME = "GitHub"
GITHUB_COMMITTER_EMAIL = "noreply@github.com"


def is_github_committer(name: str, email: str) -> bool:
    """Whether a commit's committer is GitHub itself, as on every web-flow commit.

    Only the committer identity: it is free text anyone can set, so it decides which policy
    applies (is this a web-flow commit?), never whether the commit is trusted; that takes a
    signature verified with `web_flow_keyring()`.
    """
    return name.strip() == GITHUB_COMMITTER_NAME and \
        email.strip().lower() == GITHUB_COMMITTER_EMAIL


@functools.lru_cache(maxsize=1)
def web_flow_keyring() -> OpenPgpKeyring:
    """The shipped web-flow keys, refused unless they are exactly the pinned fingerprints."""
    data = (resources.files(_PACKAGE) / "data" / KEY_FILE).read_bytes()
    keyring = OpenPgpKeyring.from_bytes(data, source=f"changegate package data {KEY_FILE}")
    check_pinned(keyring, WEB_FLOW_FINGERPRINTS)
    return keyring


def check_pinned(keyring: OpenPgpKeyring, pinned: Iterable[str]) -> None:
    """Fail hard (exit 2) unless the keyring holds exactly the pinned certificates.

    A mismatch means the installed package was altered or built wrongly; verifying GitHub's
    commits with a different key set would be worse than not verifying them.
    """
    expected = {fpr.upper() for fpr in pinned}
    found = set(keyring.fingerprints)
    if found != expected:
        unexpected = ", ".join(sorted(found - expected)) or "none"
        missing = ", ".join(sorted(expected - found)) or "none"
        raise ChangegateError(
            RULE_WEB_FLOW_KEYS,
            f"the GitHub web-flow key file does not match its pinned fingerprints "
            f"(unexpected: {unexpected}; missing: {missing})",
            fix="Reinstall changegate from a trusted release; if GitHub rotated its key, "
                "update data/github-web-flow.asc and WEB_FLOW_FINGERPRINTS together.")
