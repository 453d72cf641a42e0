"""Fixtures: a local forge of each kind (the tests run once per forge)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from forge_rig import ForgeRig, start

from changegate.testing.forges import LocalServer, Scenario


@pytest.fixture(params=["github", "gitlab"])
def forge_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def rig_factory(forge_kind: str) -> Iterator[Any]:
    servers: list[LocalServer] = []

    def make(scenario: Scenario) -> ForgeRig:
        server = start(forge_kind, scenario)
        servers.append(server)
        return ForgeRig(forge_kind, server)

    yield make
    for server in servers:
        server.stop()
