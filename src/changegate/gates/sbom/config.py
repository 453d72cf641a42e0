"""The sbom gate's settings (policy `gates.sbom`), typed and checked, with errors naming the key.

The policy loader hands us a plain dict; we validate it again here rather than trust that the
schema ran, because a typo such as `min_hash_coverge` or an unknown SPDX id in a deny list would
otherwise silently weaken the gate. Every error names the policy key it is about.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from changegate.errors import InputError
from changegate.gates.sbom import licenses
from changegate.gates.sbom.schemas import DEFAULT_SPEC_VERSION, SPEC_VERSIONS

PREFIX = "gates.sbom"
RULE = "POLICY_INVALID"
FORMATS = ("json", "xml")
_KNOWN_KEYS = {"spec_version", "format", "source", "output", "min_hash_coverage", "licenses",
               "require_purl_and_version", "allow_unreachable"}


@dataclass(frozen=True)
class LicenseEntry:
    """One allow/deny entry: an SPDX expression, or a license name (for classifier names)."""

    text: str
    expression: str | None  # canonical SPDX form when the entry is SPDX
    compound: bool = False  # an AND/OR expression: matches a component's whole expression

    @property
    def name_key(self) -> str:
        return self.text.strip().lower()


@dataclass(frozen=True)
class LicensePolicy:
    allow: tuple[LicenseEntry, ...] = ()
    deny: tuple[LicenseEntry, ...] = ()


@dataclass(frozen=True)
class SbomConfig:
    """Typed `gates.sbom` settings; defaults are those documented in docs/sbom.md."""

    spec_version: str = DEFAULT_SPEC_VERSION
    format: str | None = None
    source: str | None = None
    output: str | None = None
    min_hash_coverage: float = 0.0
    licenses: LicensePolicy = LicensePolicy()
    require_purl_and_version: bool = True
    allow_unreachable: bool = False

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> SbomConfig:
        if not isinstance(settings, Mapping):
            raise _error(PREFIX, f"must be a mapping, not {type(settings).__name__}")
        unknown = sorted(set(settings) - _KNOWN_KEYS)
        if unknown:
            raise _error(f"{PREFIX}.{unknown[0]}", "is not a setting of the sbom gate (known: "
                         + ", ".join(sorted(_KNOWN_KEYS)) + ")")
        return cls(
            spec_version=_spec_version(settings.get("spec_version", DEFAULT_SPEC_VERSION)),
            format=_choice(settings.get("format"), "format", FORMATS),
            source=_string(settings.get("source"), "source"),
            output=_string(settings.get("output"), "output"),
            min_hash_coverage=_fraction(settings.get("min_hash_coverage", 0.0)),
            licenses=_license_policy(settings.get("licenses", {})),
            require_purl_and_version=_bool(settings.get("require_purl_and_version", True),
                                           "require_purl_and_version"),
            allow_unreachable=_bool(settings.get("allow_unreachable", False),
                                    "allow_unreachable"),
        )


def _error(key: str, message: str) -> InputError:
    return InputError(f"{key}: {message}", rule=RULE,
                      fix="fix the policy file (see docs/sbom.md, Policy keys)")


def _spec_version(value: Any) -> str:
    # YAML reads an unquoted 1.6 as a float; accept it rather than fail on a spelling.
    text = f"{value:.1f}" if isinstance(value, float) else value
    if text not in SPEC_VERSIONS:
        raise _error(f"{PREFIX}.spec_version", f"must be one of {', '.join(SPEC_VERSIONS)}, "
                     f"not {value!r}")
    return str(text)


def _choice(value: Any, key: str, choices: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    if value not in choices:
        raise _error(f"{PREFIX}.{key}", f"must be one of {', '.join(choices)}, not {value!r}")
    return str(value)


def _string(value: Any, key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _error(f"{PREFIX}.{key}", f"must be a non-empty string, not {value!r}")
    return value


def _bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise _error(f"{PREFIX}.{key}", f"must be true or false, not {value!r}")
    return value


def _fraction(value: Any) -> float:
    key = f"{PREFIX}.min_hash_coverage"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _error(key, f"must be a number from 0 to 1, not {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise _error(key, f"must be from 0 to 1 (a fraction: 0.95 means 95 %), not {value!r}")
    return float(value)


def _license_policy(value: Any) -> LicensePolicy:
    key = f"{PREFIX}.licenses"
    if not isinstance(value, Mapping):
        raise _error(key, f"must be a mapping with allow/deny lists, not {value!r}")
    unknown = sorted(set(value) - {"allow", "deny"})
    if unknown:
        raise _error(f"{key}.{unknown[0]}", "is not a key of licenses (allow, deny)")
    return LicensePolicy(allow=_entries(value.get("allow", []), f"{key}.allow"),
                         deny=_entries(value.get("deny", []), f"{key}.deny"))


def _entries(value: Any, key: str) -> tuple[LicenseEntry, ...]:
    if not isinstance(value, list):
        raise _error(key, f"must be a list, not {value!r}")
    out = []
    for position, item in enumerate(value):
        where = f"{key}[{position}]"
        if not isinstance(item, str) or not item.strip():
            raise _error(where, f"must be a license id, expression or name, not {item!r}")
        out.append(_entry(item.strip(), where))
    return tuple(out)


def _entry(text: str, where: str) -> LicenseEntry:
    """SPDX ids and expressions are checked against the SPDX list (a typo must not silently
    allow or let through); text with spaces that is no expression is a license name."""
    try:
        parsed = licenses.parse_expression(text)
    except licenses.ExpressionError as exc:
        looks_like_id = " " not in text and "::" not in text
        if looks_like_id:
            raise _error(where, f"{text!r} is not an SPDX license identifier ({exc}); use the "
                         "exact SPDX id, e.g. Apache-2.0, or LicenseRef-...") from None
        return LicenseEntry(text, None)
    return LicenseEntry(text, str(parsed), isinstance(parsed, licenses.Compound))
