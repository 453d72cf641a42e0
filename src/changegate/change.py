"""The `Change`: what is being gated, independent of the CI system that runs us.

`changegate.context` builds one from GitHub Actions, GitLab CI or a local checkout; gates only
ever see this object, which is why a gate never reads CI environment variables itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Platform = Literal["github", "gitlab", "local"]
RefType = Literal["branch", "tag"]


@dataclass(frozen=True)
class Change:
    """One pull/merge request, push, tag or local range to gate.

    `base` is the exclusive lower bound of the commit range (the merge-base with the target for
    a PR/MR, the previous tip for a push); `None` means "every commit reachable from head that is
    not on any other known branch" could not be narrowed and the whole history is in range.
    `head` is always a real commit SHA (for a GitHub PR: the PR head, never the synthetic merge
    commit). `ref`/`ref_type` is what environments match against: the target branch of a PR/MR,
    the pushed branch, or the tag.
    """

    platform: Platform
    workdir: Path
    head: str
    base: str | None
    event: str = "local"
    repository: str | None = None
    ref: str | None = None
    ref_type: RefType = "branch"
    source_branch: str | None = None
    number: int | None = None
    actor: str | None = None
    server_url: str | None = None
    run_url: str | None = None
    labels: tuple[str, ...] = field(default_factory=tuple)

    @property
    def policy_revision(self) -> str:
        """The revision trusted files (policy, signers) are read from: the base, else the head.

        A pull request must not be able to weaken its own gate, so when there is a base we read
        the policy as it is there, never as the PR changed it.
        """
        return self.base or self.head
