"""The validated policy: environments, per-gate settings, and where each key came from."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from changegate.result import Location

if TYPE_CHECKING:
    from changegate.change import Change

GATE_NAMES = ("verify-commits", "sbom", "audit", "sign", "verify", "approvals")


@dataclass(frozen=True)
class Policy:
    """A policy file that passed schema validation.

    `sha256` is the digest of the exact bytes enforced and `revision` the commit they were read
    from, so a result (and later the evidence) names precisely which policy decided.
    """

    data: dict[str, Any]
    source: str
    sha256: str
    revision: str | None = None
    lines: dict[tuple[str | int, ...], int] = field(default_factory=dict, compare=False)

    def location(self, *path: str | int) -> Location:
        """The file and line of a key, so findings about the policy point at it."""
        key = tuple(path)
        while key and key not in self.lines:
            key = key[:-1]
        return Location(file=self.source, line=self.lines.get(key, 1))

    @property
    def unmatched(self) -> str:
        value: str = self.data.get("unmatched", "pass")
        return value

    def environments(self) -> dict[str, dict[str, Any]]:
        envs: dict[str, dict[str, Any]] = self.data.get("environments", {})
        return envs

    def match_environment(self, change: Change) -> str | None:
        """The first environment (in file order) whose branch or tag patterns match the ref."""
        if change.ref is None:
            return None
        key = "tags" if change.ref_type == "tag" else "branches"
        for name, env in self.environments().items():
            patterns: list[str] = env.get("match", {}).get(key, [])
            if any(glob_matches(pattern, change.ref) for pattern in patterns):
                return name
        return None

    def gates_for(self, environment: str) -> list[str]:
        env = self.environments().get(environment)
        if env is None:
            return []
        gates: list[str] = env.get("gates", [])
        return list(gates)

    def gate_settings(self, gate: str, environment: str | None) -> dict[str, Any]:
        """`gates.<gate>` with the environment's `settings.<gate>` deep-merged over it."""
        base: dict[str, Any] = copy.deepcopy(self.data.get("gates", {}).get(gate, {}))
        if environment is not None:
            env = self.environments().get(environment, {})
            override = env.get("settings", {}).get(gate)
            if override:
                base = deep_merge(base, override)
        return base


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge mappings recursively; lists and scalars in `override` replace those in `base`."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def glob_matches(pattern: str, name: str) -> bool:
    """Match a ref name against a glob where `*` stays within one `/` segment and `**` spans.

    This is how branch protection patterns read to people: `release/*` matches `release/1.2`
    but not `release/1.2/hotfix`, and `release/**` matches both.
    """
    return _glob_regex(pattern).fullmatch(name) is not None


@cache
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("".join(out))
