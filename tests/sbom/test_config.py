"""The typed `gates.sbom` settings: defaults, accepted spellings, errors naming the key."""

from __future__ import annotations

from typing import Any

import pytest

from changegate.errors import InputError
from changegate.gates.sbom.config import SbomConfig


def test_defaults() -> None:
    config = SbomConfig.from_settings({})
    assert config.spec_version == "1.6" and config.min_hash_coverage == 0.0
    assert config.require_purl_and_version is True and config.allow_unreachable is False
    assert config.licenses.allow == () and config.licenses.deny == ()


def test_full_settings() -> None:
    config = SbomConfig.from_settings({
        "spec_version": 1.5, "format": "xml", "source": "uv.lock", "output": "out.cdx.xml",
        "min_hash_coverage": 0.95, "licenses": {"allow": ["MIT", "BSD License"],
                                                "deny": ["AGPL-3.0-only"]},
        "require_purl_and_version": False, "allow_unreachable": True})
    assert config.spec_version == "1.5"  # YAML's unquoted 1.5 is a float
    assert config.licenses.allow[1].expression is None  # a name, not SPDX
    assert config.licenses.deny[0].expression == "AGPL-3.0-only"


@pytest.mark.parametrize(("settings", "key"), [
    ({"spec_version": "1.4"}, "gates.sbom.spec_version"),
    ({"min_hash_coverage": 95}, "gates.sbom.min_hash_coverage"),
    ({"min_hash_coverage": True}, "gates.sbom.min_hash_coverage"),
    ({"min_hash_coverge": 0.9}, "gates.sbom.min_hash_coverge"),
    ({"require_purl_and_version": "yes"}, "gates.sbom.require_purl_and_version"),
    ({"allow_unreachable": 1}, "gates.sbom.allow_unreachable"),
    ({"licenses": ["MIT"]}, "gates.sbom.licenses"),
    ({"licenses": {"allowed": ["MIT"]}}, "gates.sbom.licenses.allowed"),
    ({"licenses": {"allow": "MIT"}}, "gates.sbom.licenses.allow"),
    ({"licenses": {"allow": [3]}}, "gates.sbom.licenses.allow[0]"),
    ({"format": "yaml"}, "gates.sbom.format"),
    ({"output": ""}, "gates.sbom.output"),
])
def test_errors_name_the_key(settings: dict[str, Any], key: str) -> None:
    with pytest.raises(InputError) as raised:
        SbomConfig.from_settings(settings)
    assert raised.value.message.startswith(key + ":")
    assert raised.value.rule == "POLICY_INVALID"
