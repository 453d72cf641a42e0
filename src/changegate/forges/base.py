"""The forge interface: one small protocol, one implementation per forge.

A forge turns "pull request 42 of acme/payments" into `ChangeFacts`; nothing else. Adding a
forge (Gitea, Bitbucket) means one module implementing `Forge.fetch`, and the gate, the
renderers and the evidence stay as they are.

Every failure to read the forge is a `ChangegateError` (exit 2, inconclusive): a forge that
answered 502, timed out, or would not show team membership must never produce a pass, and it
must never be guessed around either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from changegate.errors import ChangegateError
from changegate.forges.models import ChangeFacts, FetchRequest

FORGE_API_ERROR: Final = "FORGE_API_ERROR"
FORGE_AUTH: Final = "FORGE_AUTH"
FORGE_RATE_LIMITED: Final = "FORGE_RATE_LIMITED"
FORGE_DATA_INCOMPLETE: Final = "FORGE_DATA_INCOMPLETE"
TEAM_PERMISSION_MISSING: Final = "TEAM_PERMISSION_MISSING"
CHANGE_NOT_FOUND: Final = "CHANGE_NOT_FOUND"

# Seconds: long enough for a slow GitHub Enterprise, short enough that a hung API fails the job
# well inside any CI timeout (a request is retried twice, so the worst case is about 3x this).
DEFAULT_TIMEOUT: Final = 30.0
# The longest a rate limit may make us wait before the run is declared inconclusive.
DEFAULT_MAX_RATE_WAIT: Final = 120.0


@dataclass(frozen=True)
class ForgeSettings:
    """Where the forge is and how to talk to it, resolved from the CI environment."""

    api_url: str
    token: str | None
    graphql_url: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    max_rate_wait: float = DEFAULT_MAX_RATE_WAIT
    token_kind: str = "token"  # noqa: S105 - GitLab: private, job; GitHub: token
    token_source: str | None = None  # the variable it came from, for error messages


class Forge(Protocol):
    """A forge that can report the facts of one change request."""

    name: str

    def fetch(self, request: FetchRequest) -> ChangeFacts:
        """Read everything the gate needs; raise `ChangegateError` on any failure to read."""
        ...

    def find_merged(self, repository: str, sha: str, branch: str | None) -> int | None:
        """The merged pull/merge request that brought `sha` to `branch` (one request), or None.

        A push pipeline has no change request of its own: this finds the one whose merge (or
        squash, or fast-forward) produced the pushed commit. None means the commit came from no
        merged change request (a direct push).
        """
        ...

    @property
    def requests_made(self) -> int:
        """HTTP requests made so far (recorded with the facts; the benchmark's measure)."""
        ...


def forge_error(rule: str, message: str, fix: str | None = None) -> ChangegateError:
    return ChangegateError(rule, message, fix=fix)


def github_settings(environ: Mapping[str, str], timeout: float = DEFAULT_TIMEOUT
                    ) -> ForgeSettings:
    """GitHub's API from the Actions variables: GITHUB_API_URL, GITHUB_GRAPHQL_URL, a token."""
    api = (environ.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/")
    token, source = None, None
    for name in ("CHANGEGATE_GITHUB_TOKEN", "GITHUB_TOKEN", "GH_TOKEN"):
        if environ.get(name):
            token, source = environ[name], name
            break
    return ForgeSettings(api_url=api, token=token,
                         graphql_url=environ.get("GITHUB_GRAPHQL_URL") or None,
                         timeout=timeout, token_source=source)


def gitlab_settings(environ: Mapping[str, str], timeout: float = DEFAULT_TIMEOUT
                    ) -> ForgeSettings:
    """GitLab's API from CI_API_V4_URL (or CI_SERVER_URL) and the first token that is set.

    CI_JOB_TOKEN comes last: on most tiers it cannot read merge request approvals or group
    members, so a project/group access token with `read_api` is what a pipeline should pass.
    """
    api = environ.get("CI_API_V4_URL") or ""
    if not api:
        server = (environ.get("CI_SERVER_URL") or "https://gitlab.com").rstrip("/")
        api = f"{server}/api/v4"
    kind, token, source = "private", None, None
    for name, token_kind in (("CHANGEGATE_GITLAB_TOKEN", "private"), ("GITLAB_TOKEN", "private"),
                             ("CI_JOB_TOKEN", "job")):
        if environ.get(name):
            token, source, kind = environ[name], name, token_kind
            break
    return ForgeSettings(api_url=api.rstrip("/"), token=token, timeout=timeout,
                         token_kind=kind, token_source=source)
