"""CLI commands: one light module per subcommand, imported only when that subcommand runs.

Each module defines `HELP` (one line), `configure(parser)` (adds its arguments; must import
nothing heavy) and `execute(args, run) -> GateResult` (may import its gate lazily). `cli.py`
only parses and dispatches, so `changegate --help` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from changegate.change import Change
    from changegate.policy.model import Policy
    from changegate.policy.source import TrustedSource


def inside_git(workdir: Path) -> bool:
    """Whether `workdir` is in a git work tree (a `.git` here or in a parent)."""
    return any((parent / ".git").exists() for parent in (workdir, *workdir.parents))


@dataclass
class RunContext:
    """What a command may know about its surroundings, built once by the CLI.

    The change and the policy are computed lazily because not every command needs them (an
    `sbom --lock FILE` run outside git needs neither), and building a Change may run git.
    `environ` is the process environment, passed in so commands and tests never read
    `os.environ` directly.
    """

    workdir: Path
    environ: Mapping[str, str]
    change_factory: Callable[[], Change]
    policy_factory: Callable[[], Policy | None]
    trusted_factory: Callable[[], TrustedSource]
    environment_override: str | None = None
    evidence: dict[str, Any] | None = None  # what `check` recorded, for its JSON document
    _cache: dict[str, Any] = field(default_factory=dict)

    def change(self) -> Change:
        if "change" not in self._cache:
            self._cache["change"] = self.change_factory()
        change: Change = self._cache["change"]
        return change

    def policy(self) -> Policy | None:
        if "policy" not in self._cache:
            self._cache["policy"] = self.policy_factory()
        policy: Policy | None = self._cache["policy"]
        return policy

    def trusted(self) -> TrustedSource:
        """Where trusted files (keys, signers) are read: the base revision, or the worktree."""
        if "trusted" not in self._cache:
            self._cache["trusted"] = self.trusted_factory()
        source: TrustedSource = self._cache["trusted"]
        return source

    def gate_settings(self, gate: str) -> dict[str, Any]:
        """The policy's settings for `gate` (merged with the environment's overrides), or {}."""
        policy = self.policy()
        if policy is None:
            return {}
        return policy.gate_settings(gate, self.environment_name())

    def environment_name(self) -> str | None:
        """The environment this change deploys to: the override, else the policy's match."""
        if self.environment_override:
            return self.environment_override
        policy = self.policy()
        if policy is None or not inside_git(self.workdir):
            # Outside a repository there is no ref to match (e.g. `sbom --lock` on a folder).
            return None
        return policy.match_environment(self.change())
