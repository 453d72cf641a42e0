"""Schema validation: complete (every format checked), exact, and failing on broken documents."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from changegate.gates.sbom.schemas import SCHEMA_DIR
from changegate.gates.sbom.validate import format_checker, is_date_time, validate

MINIMAL = {
    "bomFormat": "CycloneDX", "specVersion": "1.6",
    "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79", "version": 1,
    "metadata": {"timestamp": "2024-01-01T00:00:00+00:00",
                 "component": {"type": "application", "name": "app", "bom-ref": "pkg:pypi/app"}},
    "components": [{"type": "library", "name": "x", "version": "1", "bom-ref": "pkg:pypi/x@1",
                    "purl": "pkg:pypi/x@1",
                    "hashes": [{"alg": "SHA-256", "content": "a" * 64}],
                    "externalReferences": [{"type": "website", "url": "https://x.example/"}],
                    "licenses": [{"license": {"id": "MIT"}}]}],
    "dependencies": [{"ref": "pkg:pypi/app", "dependsOn": ["pkg:pypi/x@1"]},
                     {"ref": "pkg:pypi/x@1"}],
}


def doc(**changes: Any) -> str:
    data = copy.deepcopy(MINIMAL)
    for path, value in changes.items():
        target = data
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target[key]
        target[keys[-1]] = value
    return json.dumps(data)


def test_schema_files_match_their_recorded_digests() -> None:
    readme = (SCHEMA_DIR / "README.md").read_text()
    recorded = dict(re.findall(r"\| ([\w.-]+\.(?:json|xsd)) \| ([0-9a-f]{64}) \|", readme))
    assert len(recorded) == 8
    for name, digest in recorded.items():
        assert hashlib.sha256((SCHEMA_DIR / name).read_bytes()).hexdigest() == digest, name


def test_every_format_the_schemas_use_is_checked() -> None:
    used: set[str] = set()
    for path in SCHEMA_DIR.glob("*.schema.json"):
        used |= set(re.findall(r'"format":\s*"([^"]+)"', path.read_text()))
    assert used <= set(format_checker().checkers)


def test_minimal_document_is_valid() -> None:
    assert validate(doc(), "1.6", "json") == []
    assert validate(doc(specVersion="1.5"), "1.5", "json") == []


@pytest.mark.parametrize(("changes", "where"), [
    ({"components__0__externalReferences__0__url": "https://bad url/"},
     "/components/0/externalReferences/0/url"),
    ({"metadata__timestamp": "2024-02-30T00:00:00Z"}, "/metadata/timestamp"),
    ({"components__0__hashes__0__content": "xyz"}, "/components/0/hashes/0/content"),
    ({"components__0__licenses__0__license__id": "NotSPDX"}, "/components/0/licenses"),
    ({"components__0__scope": "sometimes"}, "/components/0/scope"),
    ({"serialNumber": "not-a-urn"}, "/serialNumber"),
    ({"components__0__type": "gadget"}, "/components/0/type"),
    ({"bomFormat": "SPDX"}, "/bomFormat"),
])
def test_broken_documents_are_rejected(changes: dict[str, Any], where: str) -> None:
    problems = validate(doc(**changes), "1.6", "json")
    assert problems, changes
    assert any(p.path.startswith(where) for p in problems), problems


def test_not_json_and_not_xml() -> None:
    assert validate("{", "1.6", "json")[0].message.startswith("not JSON")
    assert validate("<bom", "1.6", "xml")[0].message.startswith("not well-formed XML")


def test_xml_schema_rejects_unknown_elements() -> None:
    xml = ('<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.6" version="1">'
           "<components><component type=\"library\"><name>x</name><colour>red</colour>"
           "</component></components></bom>")
    problems = validate(xml, "1.6", "xml")
    assert problems and "colour" in problems[0].message


@pytest.mark.parametrize(("value", "valid"), [
    ("2024-01-31T23:59:59Z", True), ("2024-01-31t23:59:59.123z", True),
    ("2024-02-29T00:00:00+05:30", True), ("2023-02-29T00:00:00Z", False),
    ("2024-13-01T00:00:00Z", False), ("2024-01-01T24:00:00Z", False),
    ("2024-01-01 00:00:00Z", False), ("2024-01-01T00:00:00", False),
    ("1998-12-31T23:59:60Z", True), ("1998-12-31T15:59:60-08:00", True),
    ("1998-12-31T23:58:60Z", False), ("1998-12-31T23:59:61Z", False),
    ("2024-01-01T00:00:00+24:00", False),
])
def test_date_time(value: str, valid: bool) -> None:
    assert is_date_time(value) is valid


def test_real_peer_style_document_with_many_urls_validates_fast(tmp_path: Path) -> None:
    data = copy.deepcopy(MINIMAL)
    refs = [{"type": "website", "url": f"https://example.org/p{i}?q={i}#f"} for i in range(600)]
    data["components"][0]["externalReferences"] = refs
    import time

    start = time.perf_counter()
    assert validate(json.dumps(data), "1.6", "json") == []
    assert time.perf_counter() - start < 5  # the lark-based check takes ~0.02 s per URL
