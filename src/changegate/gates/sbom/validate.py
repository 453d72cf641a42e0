"""Validation of the exact text about to be written, against the vendored CycloneDX schemas.

JSON: the full JSON schema (draft 7) with every `format` the schemas use checked by our own
FormatChecker, so the result does not depend on which optional jsonschema extras happen to be
installed (without them jsonschema silently skips format checks). `iri-reference` uses the
RFC 3987 regex in `iri.py` instead of the lark parser that made validation take ~15 s.
XML: the XSD, with lxml, offline.
"""

from __future__ import annotations

import calendar
import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from jsonschema import FormatChecker
from jsonschema.validators import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from changegate.gates.sbom.iri import is_iri_reference, is_uri, is_uri_reference
from changegate.gates.sbom.schemas import bom_schema, schema_path

MAX_PROBLEMS = 20
SCHEMA_BASE = "http://cyclonedx.org/schema/"
_REFERENCED = ("spdx.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json",
               "cryptography-defs.SNAPSHOT.schema.json")


@dataclass(frozen=True)
class SchemaProblem:
    """One way the document breaks the schema: where (JSON pointer or XML path) and why."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def validate(text: str, spec_version: str, fmt: str) -> list[SchemaProblem]:
    """Every schema problem of `text` (at most MAX_PROBLEMS); empty means valid."""
    if fmt == "json":
        return validate_json(text, spec_version)
    return validate_xml(text, spec_version)


def validate_json(text: str, spec_version: str) -> list[SchemaProblem]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return [SchemaProblem("/", f"not JSON: {exc.msg}", exc.lineno)]
    problems = []
    for error in _json_validator(spec_version).iter_errors(document):
        pointer = "/" + "/".join(str(part) for part in error.absolute_path)
        problems.append(SchemaProblem(pointer, error.message))
        if len(problems) >= MAX_PROBLEMS:
            break
    return problems


@functools.cache
def _json_validator(spec_version: str) -> Draft7Validator:
    resources: list[tuple[str, Resource[Any]]] = []
    for name in _REFERENCED:
        with schema_path(name).open("rb") as handle:
            resources.append((SCHEMA_BASE + name, DRAFT7.create_resource(json.load(handle))))
    with bom_schema(spec_version, "json").open("rb") as handle:
        schema = json.load(handle)
    return Draft7Validator(schema, registry=Registry().with_resources(resources),
                           format_checker=format_checker())


def format_checker() -> FormatChecker:
    """A checker for exactly the formats the CycloneDX schemas use (tests check coverage)."""
    checker = FormatChecker(formats=())
    checks = {
        "iri-reference": is_iri_reference,
        "uri": is_uri,
        "uri-reference": is_uri_reference,
        "date-time": is_date_time,
        # jsonschema's own check for both (a full RFC 5321/6531 parser is not what the schema
        # authors rely on); kept identical so documents valid elsewhere are valid here.
        "email": _has_at,
        "idn-email": _has_at,
    }
    for name, check in checks.items():
        checker.checks(name)(_strings_only(check))
    return checker


def _strings_only(check: Any) -> Any:
    def wrapped(instance: object) -> bool:
        return not isinstance(instance, str) or bool(check(instance))
    return wrapped


def _has_at(value: str) -> bool:
    return "@" in value


_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
    r"(?:[Zz]|([+-])(\d{2}):(\d{2}))")


def is_date_time(value: str) -> bool:
    """RFC 3339 `date-time` (section 5.6), including day-of-month and leap-second rules.

    A leap second (`:60`) is valid only where it falls at 23:59 UTC, as the JSON Schema test
    suite expects.
    """
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(year, month)[1]:
        return False
    if hour > 23 or minute > 59 or second > 60:
        return False
    offset = 0
    if match.group(8):
        off_hour, off_minute = int(match.group(9)), int(match.group(10))
        if off_hour > 23 or off_minute > 59:
            return False
        offset = (off_hour * 60 + off_minute) * (1 if match.group(8) == "+" else -1)
    if second == 60:
        utc_minutes = (hour * 60 + minute - offset) % (24 * 60)
        return utc_minutes == 23 * 60 + 59
    return True


def validate_xml(text: str, spec_version: str) -> list[SchemaProblem]:
    from lxml import etree  # type: ignore[import-untyped,unused-ignore]

    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        document = etree.fromstring(text.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        return [SchemaProblem("/", f"not well-formed XML: {exc}", exc.lineno)]
    schema = _xml_schema(spec_version)
    if schema.validate(document):
        return []
    return [SchemaProblem(error.path or "/", error.message, error.line)
            for error in list(schema.error_log)[:MAX_PROBLEMS]]


@functools.cache
def _xml_schema(spec_version: str) -> Any:
    from lxml import etree  # type: ignore[import-untyped,unused-ignore]

    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(bom_schema(spec_version, "xml")), parser))
