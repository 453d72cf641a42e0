"""The policy file: schema, loading (from the base revision), environments, gate settings."""

from __future__ import annotations

from changegate.policy.model import Policy
from changegate.policy.source import TrustedSource

DEFAULT_POLICY_PATH = ".changegate.yml"


def load_policy(source: TrustedSource, path: str = DEFAULT_POLICY_PATH) -> Policy | None:
    """The policy at `path` from the trusted source, or None when there is none there.

    A missing policy is not an error by itself: the gates then run on their defaults and
    command-line flags, and fail closed where those are not enough to check anything.
    """
    from changegate.policy.loader import parse_policy

    text = source.read(path)
    if text is None:
        return None
    return parse_policy(text, path, revision=source.revision)


__all__ = ["DEFAULT_POLICY_PATH", "Policy", "TrustedSource", "load_policy"]
