"""The local GitHub and GitLab servers, and one way to run the gate against either."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from changegate.forges.base import ForgeSettings
from changegate.forges.github import GitHubForge
from changegate.forges.gitlab import GitLabForge
from changegate.forges.models import ChangeFacts, FetchRequest
from changegate.gates.approvals import gate
from changegate.gates.approvals.config import parse_config
from changegate.result import GateResult
from changegate.testing.forges import GitHubServer, GitLabServer, LocalServer, Scenario

NOW = datetime(2026, 3, 3, 12, 0, tzinfo=timezone.utc)


@dataclass
class ForgeRig:
    """A running local forge of one kind and the real client pointed at it."""

    kind: str
    server: LocalServer
    timeout: float = 5.0

    def client(self) -> GitHubForge | GitLabForge:
        if self.kind == "github":
            return GitHubForge(ForgeSettings(api_url=self.server.url, token="ghs_test_token",
                                             timeout=self.timeout, max_rate_wait=5))
        return GitLabForge(ForgeSettings(api_url=self.server.url + "/api/v4",
                                         token="glpat-test-token", timeout=self.timeout,
                                         max_rate_wait=5))

    def facts(self, number: int, policy: dict[str, Any], *, base: str | None = "main"
              ) -> ChangeFacts:
        config = parse_config(policy)
        emergency = config.emergency
        return self.client().fetch(FetchRequest(
            repository="acme/payments", number=number, base_branch=base, teams=config.teams(),
            emergency_label=emergency.label if emergency else None,
            approved_label=emergency.approved_label if emergency else None,
            merged_since=(NOW - timedelta(days=emergency.lookback_days)).date()
            if emergency else None))

    def run(self, number: int, policy: dict[str, Any], *, environment: str | None = None,
            emergency_flag: bool = False) -> GateResult:
        facts = self.facts(number, policy)
        return gate.run(facts, parse_config(policy), environment=environment,
                        emergency_flag=emergency_flag, now=NOW)

    @property
    def sign(self) -> str:
        return "#" if self.kind == "github" else "!"


def start(kind: str, scenario: Scenario) -> LocalServer:
    server: LocalServer = GitHubServer(scenario) if kind == "github" else GitLabServer(scenario)
    return server.start()


def rule_json(result: GateResult, name: str) -> dict[str, Any]:
    return next(r for r in result.details["rules"] if r["name"] == name)
