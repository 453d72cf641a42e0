"""License declarations to SPDX, and SPDX expressions to what a license policy can decide on.

Packages declare licenses three ways, in decreasing order of precision: PEP 639
`License-Expression` (an SPDX expression), the free-text `License` field, and trove classifiers.
The SBOM should carry SPDX identifiers wherever that is exact (so downstream tools and the
policy can match them), and keep the declaration as a name where it is not: `BSD License` names a
family, not one license, and guessing would put a wrong fact into compliance evidence.

The expression parser is small and local on purpose: `license-expression`'s full index loads in
~0.3 s, and all we need is the SPDX 2.3 grammar (Annex D) plus the list of identifiers, which
the vendored CycloneDX SPDX schema already holds.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from changegate.gates.sbom.model import Licensing
from changegate.gates.sbom.schemas import schema_path

MAX_ALTERNATIVES = 64  # (A OR B) AND (C OR D) ... grows exponentially; beyond this, fail closed


@functools.cache
def spdx_ids() -> dict[str, str]:
    """Lowercased SPDX license and exception identifiers -> their canonical spelling."""
    with schema_path("spdx.SNAPSHOT.schema.json").open("rb") as handle:
        enum: list[str] = json.load(handle)["enum"]
    return {item.lower(): item for item in enum}


def canonical_id(text: str) -> str | None:
    """The SPDX identifier `text` names (case-insensitively), or None."""
    return spdx_ids().get(text.lower())


# --- expressions ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Leaf:
    """A simple expression: `MIT`, `GPL-2.0+`, `LicenseRef-x`, optionally `WITH` an exception."""

    license: str
    exception: str | None = None

    def __str__(self) -> str:
        return f"{self.license} WITH {self.exception}" if self.exception else self.license


@dataclass(frozen=True)
class Compound:
    operator: str  # "AND" or "OR"
    items: tuple[Expression, ...]

    def __str__(self) -> str:
        parts = []
        for item in self.items:
            text = str(item)
            if isinstance(item, Compound) and item.operator != self.operator:
                text = f"({text})"
            parts.append(text)
        return f" {self.operator} ".join(parts)


Expression = Leaf | Compound

_TOKEN = re.compile(r"\s*(\(|\)|[A-Za-z0-9.\-+:]+)")
_IDSTRING = re.compile(r"[A-Za-z0-9.\-]+")
_LICENSE_REF = re.compile(r"(?:DocumentRef-[A-Za-z0-9.\-]+:)?LicenseRef-[A-Za-z0-9.\-]+")


class ExpressionError(ValueError):
    """The text is not an SPDX license expression (syntax, or an identifier SPDX lacks)."""


def parse_expression(text: str) -> Expression:
    """Parse an SPDX 2.3 license expression; identifiers are checked against the SPDX list.

    Operators are accepted in any case (PEP 639 normalizes them) and returned uppercase;
    identifiers come back in their canonical spelling, so `mit or apache-2.0` becomes
    `MIT OR Apache-2.0`.
    """
    tokens = _tokenize(text)
    parser = _Parser(tokens, text)
    expression = parser.parse_or()
    if parser.position != len(tokens):
        raise ExpressionError(f"unexpected {tokens[parser.position]!r} in {text!r}")
    return expression


def normalize_expression(text: str) -> str | None:
    """`text` as a canonical SPDX expression, or None if it is not one."""
    try:
        return str(parse_expression(text))
    except ExpressionError:
        return None


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    stripped = text.rstrip()
    while position < len(stripped):
        match = _TOKEN.match(stripped, position)
        if match is None:
            raise ExpressionError(f"unexpected character {stripped[position:].lstrip()[:1]!r} "
                                  f"in {text!r}")
        tokens.append(match.group(1))
        position = match.end()
    if not tokens:
        raise ExpressionError("empty license expression")
    return tokens


class _Parser:
    """Recursive descent over Annex D's grammar: WITH binds tighter than AND, AND than OR."""

    def __init__(self, tokens: list[str], text: str) -> None:
        self.tokens = tokens
        self.text = text
        self.position = 0

    def _peek_operator(self, name: str) -> bool:
        return (self.position < len(self.tokens)
                and self.tokens[self.position].upper() == name)

    def parse_or(self) -> Expression:
        items = [self.parse_and()]
        while self._peek_operator("OR"):
            self.position += 1
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Compound("OR", tuple(items))

    def parse_and(self) -> Expression:
        items = [self.parse_with()]
        while self._peek_operator("AND"):
            self.position += 1
            items.append(self.parse_with())
        return items[0] if len(items) == 1 else Compound("AND", tuple(items))

    def parse_with(self) -> Expression:
        if self.position >= len(self.tokens):
            raise ExpressionError(f"{self.text!r} ends where a license was expected")
        part = self.tokens[self.position]
        if part == "(":
            self.position += 1
            inner = self.parse_or()
            if self.position >= len(self.tokens) or self.tokens[self.position] != ")":
                raise ExpressionError(f"unbalanced parenthesis in {self.text!r}")
            self.position += 1
            return inner
        self.position += 1
        license_id = _license_id(part, self.text)
        if self._peek_operator("WITH"):
            self.position += 1
            if self.position >= len(self.tokens):
                raise ExpressionError(f"{self.text!r} ends after WITH")
            exception = self.tokens[self.position]
            self.position += 1
            return Leaf(license_id, _exception_id(exception, self.text))
        return Leaf(license_id)


def _license_id(token: str, text: str) -> str:
    if token in ("(", ")") or token.upper() in ("AND", "OR", "WITH"):
        raise ExpressionError(f"unexpected {token!r} in {text!r}")
    if _LICENSE_REF.fullmatch(token):
        return token
    plus = token.endswith("+")
    base = token[:-1] if plus else token
    canonical = canonical_id(base) if _IDSTRING.fullmatch(base) else None
    if canonical is None:
        raise ExpressionError(f"{token!r} is not an SPDX license identifier")
    return canonical + ("+" if plus else "")


def _exception_id(token: str, text: str) -> str:
    if _LICENSE_REF.fullmatch(token) or token.startswith("AdditionRef-"):
        return token
    canonical = canonical_id(token) if _IDSTRING.fullmatch(token) else None
    if canonical is None:
        raise ExpressionError(f"{token!r} is not an SPDX license exception in {text!r}")
    return canonical


def alternatives(expression: Expression) -> list[frozenset[Leaf]]:
    """The expression as a choice of license sets (disjunctive normal form).

    `MIT OR (Apache-2.0 AND BSD-3-Clause)` -> [{MIT}, {Apache-2.0, BSD-3-Clause}]: a consumer
    may pick any one set and must honour every license in it. Raises ExpressionError past
    MAX_ALTERNATIVES rather than deciding on a truncated list.
    """
    if isinstance(expression, Leaf):
        return [frozenset((expression,))]
    parts = [alternatives(item) for item in expression.items]
    if expression.operator == "OR":
        result = [choice for part in parts for choice in part]
    else:
        result = [frozenset().union(*combo) for combo in itertools.product(*parts)]
    unique = list(dict.fromkeys(result))
    if len(unique) > MAX_ALTERNATIVES:
        raise ExpressionError("license expression has too many alternatives to evaluate")
    return unique


# --- metadata to licensing -----------------------------------------------------------------

# Only classifiers that name exactly one SPDX license. `BSD License`, `Apache Software License`
# (1.1 or 2.0?), `GNU General Public License (GPL)` name families and stay names.
CLASSIFIER_TO_SPDX: dict[str, str] = {
    "License :: OSI Approved :: Academic Free License (AFL)": "",
    "License :: CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
    "License :: OSI Approved :: Attribution Assurance License": "AAL",
    "License :: OSI Approved :: Blue Oak Model License (BlueOak-1.0.0)": "BlueOak-1.0.0",
    "License :: OSI Approved :: Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "License :: OSI Approved :: CEA CNRS Inria Logiciel Libre License, version 2.1 (CeCILL-2.1)":
        "CECILL-2.1",
    "License :: OSI Approved :: Common Development and Distribution License 1.0 (CDDL-1.0)":
        "CDDL-1.0",
    "License :: OSI Approved :: Eclipse Public License 1.0 (EPL-1.0)": "EPL-1.0",
    "License :: OSI Approved :: Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "License :: OSI Approved :: European Union Public Licence 1.1 (EUPL 1.1)": "EUPL-1.1",
    "License :: OSI Approved :: European Union Public Licence 1.2 (EUPL 1.2)": "EUPL-1.2",
    "License :: OSI Approved :: GNU Affero General Public License v3": "AGPL-3.0-only",
    "License :: OSI Approved :: GNU Affero General Public License v3 or later (AGPLv3+)":
        "AGPL-3.0-or-later",
    "License :: OSI Approved :: GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "License :: OSI Approved :: GNU General Public License v2 or later (GPLv2+)":
        "GPL-2.0-or-later",
    "License :: OSI Approved :: GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)":
        "GPL-3.0-or-later",
    "License :: OSI Approved :: GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "License :: OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)":
        "LGPL-2.0-or-later",
    "License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "License :: OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)":
        "LGPL-3.0-or-later",
    "License :: OSI Approved :: Historical Permission Notice and Disclaimer (HPND)": "HPND",
    "License :: OSI Approved :: Intel Open Source License": "Intel",
    "License :: OSI Approved :: ISC License (ISCL)": "ISC",
    "License :: OSI Approved :: MIT License": "MIT",
    "License :: OSI Approved :: MIT No Attribution License (MIT-0)": "MIT-0",
    "License :: OSI Approved :: Microsoft Public License": "MS-PL",
    "License :: OSI Approved :: Microsoft Reciprocal License": "MS-RL",
    "License :: OSI Approved :: Motosoto License": "Motosoto",
    "License :: OSI Approved :: Mozilla Public License 1.0 (MPL)": "MPL-1.0",
    "License :: OSI Approved :: Mozilla Public License 1.1 (MPL 1.1)": "MPL-1.1",
    "License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "License :: OSI Approved :: Mulan Permissive Software License v2 (MulanPSL-2.0)":
        "MulanPSL-2.0",
    "License :: OSI Approved :: Nokia Open Source License": "Nokia",
    "License :: OSI Approved :: Open Group Test Suite License": "OGTSL",
    "License :: OSI Approved :: PostgreSQL License": "PostgreSQL",
    "License :: OSI Approved :: Python License (CNRI Python License)": "CNRI-Python",
    "License :: OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "License :: OSI Approved :: Qt Public License (QPL)": "QPL-1.0",
    "License :: OSI Approved :: Ricoh Source Code Public License": "RSCPL",
    "License :: OSI Approved :: SIL Open Font License 1.1 (OFL-1.1)": "OFL-1.1",
    "License :: OSI Approved :: Sleepycat License": "Sleepycat",
    "License :: OSI Approved :: Sun Industry Standards Source License (SISSL)": "SISSL",
    "License :: OSI Approved :: Sun Public License": "SPL-1.0",
    "License :: OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
    "License :: OSI Approved :: Universal Permissive License (UPL)": "UPL-1.0",
    "License :: OSI Approved :: University of Illinois/NCSA Open Source License": "NCSA",
    "License :: OSI Approved :: Vovida Software License 1.0": "VSL-1.0",
    "License :: OSI Approved :: W3C License": "W3C",
    "License :: OSI Approved :: X.Net License": "Xnet",
    "License :: OSI Approved :: Zero-Clause BSD (0BSD)": "0BSD",
    "License :: OSI Approved :: zlib/libpng License": "Zlib",
    "License :: OSI Approved :: Zope Public License": "",
    "License :: Other/Proprietary License": "",
    "License :: Public Domain": "",
}

# Free-text `License:` values that unambiguously name one SPDX license. Matched on a key that
# ignores case, punctuation and the words "license"/"version"/"the".
_ALIASES: dict[str, str] = {
    "apache 2": "Apache-2.0", "apache 2.0": "Apache-2.0", "apache2": "Apache-2.0",
    "apache software 2.0": "Apache-2.0", "asl 2.0": "Apache-2.0", "apache 2 0": "Apache-2.0",
    "mit": "MIT", "expat": "MIT", "isc": "ISC",
    "bsd 3 clause": "BSD-3-Clause", "3 clause bsd": "BSD-3-Clause", "bsd-3": "BSD-3-Clause",
    "new bsd": "BSD-3-Clause", "modified bsd": "BSD-3-Clause", "revised bsd": "BSD-3-Clause",
    "bsd 2 clause": "BSD-2-Clause", "2 clause bsd": "BSD-2-Clause",
    "simplified bsd": "BSD-2-Clause",
    "mpl 2.0": "MPL-2.0", "mpl2": "MPL-2.0", "mozilla public 2.0": "MPL-2.0",
    "psf": "PSF-2.0", "python software foundation": "PSF-2.0",
    "gplv2": "GPL-2.0-only", "gplv2+": "GPL-2.0-or-later", "gplv3": "GPL-3.0-only",
    "gplv3+": "GPL-3.0-or-later", "lgplv3": "LGPL-3.0-only", "lgplv3+": "LGPL-3.0-or-later",
    "lgplv2.1": "LGPL-2.1-only", "lgplv2.1+": "LGPL-2.1-or-later", "agplv3": "AGPL-3.0-only",
    "agplv3+": "AGPL-3.0-or-later", "unlicense": "Unlicense", "cc0": "CC0-1.0",
    "zlib": "Zlib", "zlib/libpng": "Zlib",
}
# Classifiers that qualify other license classifiers rather than name a license.
_QUALIFIER_CLASSIFIERS = frozenset({"License :: OSI Approved", "License :: DFSG approved"})
_ALIAS_NOISE = re.compile(r"\b(?:the|license|licence|version|v(?=\d))\b|[,()\"']", re.I)
_UNKNOWN_VALUES = frozenset({"", "unknown", "none", "n/a", "other", "proprietary?"})


def _alias_key(text: str) -> str:
    key = _ALIAS_NOISE.sub(" ", text.lower()).replace("-", " ")
    return " ".join(key.split())


def _from_free_text(text: str) -> tuple[str | None, str | None]:
    """(SPDX expression, None) if `text` is or unambiguously names one; else (None, name).

    Multi-line values are license texts pasted into the field: we take the SPDX id from the
    first line when it names one ("MIT License", "Apache License Version 2.0") and otherwise
    record nothing, because a whole license text is not a name.
    """
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return None, None
    first = lines[0]
    if len(lines) == 1:
        if first.lower() in _UNKNOWN_VALUES:
            return None, None
        normalized = normalize_expression(first)
        if normalized is not None:
            return normalized, None
    alias = _ALIASES.get(_alias_key(first)) or _ALIASES.get(_alias_key(first).replace(" ", ""))
    if alias is None and len(lines) > 1 and _alias_key(first) == "apache" \
            and "version 2.0" in lines[1].lower():
        alias = "Apache-2.0"
    if alias is not None:
        return alias, None
    if len(lines) == 1 and len(first) <= 200:
        return None, first
    return None, None


def from_metadata(license_expression: str | None, license_field: str | None,
                  classifiers: Iterable[str]) -> Licensing:
    """Licensing from core metadata fields, most precise declaration first.

    A valid `License-Expression` wins outright (PEP 639: tools must then ignore the rest). Next
    a `License` field that is, or unambiguously names, SPDX licenses: it is more precise than
    classifiers, which would only add family names such as `BSD License` next to the exact
    `BSD-3-Clause`. Otherwise the classifiers (SPDX ids where exact, names where not) together
    with a free-text `License` value kept as a name.
    """
    if license_expression and license_expression.strip():
        normalized = normalize_expression(license_expression.strip())
        if normalized is not None:
            return licensing_from_expression(normalized, "License-Expression")
        return Licensing(names=(license_expression.strip(),), origin="License-Expression")
    names: list[str] = []
    if license_field:
        spdx, name = _from_free_text(license_field)
        if spdx is not None:
            return licensing_from_expression(spdx, "License")
        if name is not None:
            names.append(name)
    used_field = bool(names)
    ids: list[str] = []
    from_classifiers = False
    for raw in classifiers:
        classifier = raw.strip()
        if not classifier.startswith("License ::") or classifier in _QUALIFIER_CLASSIFIERS:
            continue
        from_classifiers = True
        mapped = CLASSIFIER_TO_SPDX.get(classifier)
        if mapped:
            ids.append(mapped)
        else:
            names.append(classifier)
    origin = "+".join(part for part, present in (("License", used_field),
                                                 ("classifier", from_classifiers)) if present)
    return Licensing(ids=tuple(dict.fromkeys(ids)), names=tuple(dict.fromkeys(names)),
                     origin=origin)


def licensing_from_expression(expression: str, origin: str) -> Licensing:
    """One SPDX id stays an id (what most consumers index); anything richer stays an expression.

    `expression` must already be normalized (see `normalize_expression`).
    """
    parsed = parse_expression(expression)
    if isinstance(parsed, Leaf) and parsed.exception is None \
            and not parsed.license.endswith("+") \
            and not parsed.license.startswith(("LicenseRef-", "DocumentRef-")):
        return Licensing(ids=(parsed.license,), origin=origin)
    return Licensing(expression=expression, origin=origin)
