"""License normalization to SPDX, expressions, and the policy's allow/deny decisions."""

from __future__ import annotations

import pytest

from changegate.errors import InputError
from changegate.gates.sbom import licenses
from changegate.gates.sbom.checks import _license
from changegate.gates.sbom.config import SbomConfig
from changegate.gates.sbom.model import Licensing, Package


@pytest.mark.parametrize(("text", "expected"), [
    ("mit", "MIT"),
    ("MIT or Apache-2.0", "MIT OR Apache-2.0"),
    ("(MIT AND BSD-3-Clause) OR GPL-2.0-or-later WITH Classpath-exception-2.0",
     "(MIT AND BSD-3-Clause) OR GPL-2.0-or-later WITH Classpath-exception-2.0"),
    ("MIT AND (Apache-2.0 OR BSD-2-Clause)", "MIT AND (Apache-2.0 OR BSD-2-Clause)"),
    ("LicenseRef-Proprietary", "LicenseRef-Proprietary"),
    ("GPL-2.0+", "GPL-2.0+"),
])
def test_normalize_expression(text: str, expected: str) -> None:
    assert licenses.normalize_expression(text) == expected


@pytest.mark.parametrize("text", ["", "MIT OR", "(MIT", "NotALicense", "MIT WITH", "MIT MIT",
                                  "Apache 2.0", "MIT AND ()"])
def test_invalid_expressions(text: str) -> None:
    assert licenses.normalize_expression(text) is None


def test_alternatives_are_disjunctive_normal_form() -> None:
    choices = licenses.alternatives(licenses.parse_expression(
        "(MIT OR Apache-2.0) AND (BSD-3-Clause OR ISC)"))
    assert {frozenset(str(leaf) for leaf in c) for c in choices} == {
        frozenset({"MIT", "BSD-3-Clause"}), frozenset({"MIT", "ISC"}),
        frozenset({"Apache-2.0", "BSD-3-Clause"}), frozenset({"Apache-2.0", "ISC"})}


def test_precedence_license_expression_then_license_then_classifiers() -> None:
    assert licenses.from_metadata("Apache-2.0", "MIT", ["License :: OSI Approved :: ISC "
                                                         "License (ISCL)"]).ids == ("Apache-2.0",)
    assert licenses.from_metadata(None, "MIT License", [
        "License :: OSI Approved :: BSD License"]) == Licensing(ids=("MIT",), origin="License")
    from_classifiers = licenses.from_metadata(None, None, [
        "License :: OSI Approved :: MIT License", "License :: OSI Approved :: BSD License",
        "License :: OSI Approved"])
    assert from_classifiers.ids == ("MIT",)
    assert from_classifiers.names == ("License :: OSI Approved :: BSD License",)


@pytest.mark.parametrize(("field", "expected"), [
    ("Apache 2.0", ("Apache-2.0",)),
    ("Apache License, Version 2.0", ("Apache-2.0",)),
    ("BSD 3-Clause License", ("BSD-3-Clause",)),
    ("GPLv3+", ("GPL-3.0-or-later",)),
    ("Apache License\n                           Version 2.0, January 2004\n...", ("Apache-2.0",)),
])
def test_free_text_license_fields(field: str, expected: tuple[str, ...]) -> None:
    assert licenses.from_metadata(None, field, []).ids == expected


def test_license_texts_and_unknown_values_are_not_names() -> None:
    text = "Copyright (c) 2020 Someone\n\nPermission is hereby granted, free of charge..."
    assert licenses.from_metadata(None, text, []).empty
    assert licenses.from_metadata(None, "UNKNOWN", []).empty
    assert licenses.from_metadata(None, "Dual License", []).names == ("Dual License",)


def test_invalid_license_expression_is_kept_as_a_name() -> None:
    info = licenses.from_metadata("Apache 2", None, [])
    assert info.names == ("Apache 2",) and info.expression is None


def test_every_classifier_mapping_is_a_real_spdx_id() -> None:
    ids = set(licenses.spdx_ids().values())
    assert {v for v in licenses.CLASSIFIER_TO_SPDX.values() if v} <= ids


def decide(info: Licensing, allow: list[str] | None = None,
           deny: list[str] | None = None) -> list[str]:
    config = SbomConfig.from_settings({"licenses": {"allow": allow or [], "deny": deny or []}})
    return [f.rule for f in _license(Package("p", "1", licenses=info), config.licenses)]


def test_deny_by_id_and_by_expression() -> None:
    agpl = Licensing(ids=("AGPL-3.0-only",))
    assert decide(agpl, deny=["AGPL-3.0-only"]) == ["SBOM_LICENSE_DENIED"]
    assert decide(agpl, deny=["agpl-3.0-only"]) == ["SBOM_LICENSE_DENIED"]
    # a choice that avoids the denied license is not denied
    dual = Licensing(expression="AGPL-3.0-only OR MIT")
    assert decide(dual, deny=["AGPL-3.0-only"]) == []
    both = Licensing(expression="AGPL-3.0-only AND MIT")
    assert decide(both, deny=["AGPL-3.0-only"]) == ["SBOM_LICENSE_DENIED"]
    assert decide(dual, deny=["AGPL-3.0-only OR MIT"]) == ["SBOM_LICENSE_DENIED"]
    with_exception = Licensing(expression="GPL-2.0-only WITH Classpath-exception-2.0")
    assert decide(with_exception, deny=["GPL-2.0-only"]) == ["SBOM_LICENSE_DENIED"]


def test_allow_list() -> None:
    assert decide(Licensing(ids=("MIT",)), allow=["MIT", "Apache-2.0"]) == []
    assert decide(Licensing(ids=("GPL-3.0-only",)), allow=["MIT"]) == [
        "SBOM_LICENSE_NOT_ALLOWED"]
    assert decide(Licensing(expression="GPL-3.0-only OR MIT"), allow=["MIT"]) == []
    # the allowed alternative must not contain a denied license
    assert decide(Licensing(expression="(MIT AND AGPL-3.0-only) OR GPL-3.0-only"),
                  allow=["MIT", "AGPL-3.0-only"], deny=["AGPL-3.0-only"]) == [
        "SBOM_LICENSE_NOT_ALLOWED"]
    # several declared licenses all apply
    assert decide(Licensing(ids=("MIT", "GPL-3.0-only")), allow=["MIT"]) == [
        "SBOM_LICENSE_NOT_ALLOWED"]
    # names match names, including a classifier's last segment
    bsd = Licensing(names=("License :: OSI Approved :: BSD License",))
    assert decide(bsd, allow=["BSD License"]) == []
    assert decide(bsd, allow=["BSD-3-Clause"]) == ["SBOM_LICENSE_NOT_ALLOWED"]
    assert decide(Licensing(expression="MIT OR Apache-2.0"), allow=["MIT OR Apache-2.0"]) == []


def test_unknown_license() -> None:
    assert decide(Licensing(), allow=["MIT"]) == ["SBOM_LICENSE_UNKNOWN"]
    assert decide(Licensing(), deny=["GPL-3.0-only"]) == ["SBOM_LICENSE_UNKNOWN"]


def test_policy_entries_are_checked_against_spdx() -> None:
    with pytest.raises(InputError, match=r"gates\.sbom\.licenses\.deny\[1\]") as raised:
        SbomConfig.from_settings({"licenses": {"deny": ["MIT", "Apache2"]}})
    assert raised.value.rule == "POLICY_INVALID"
