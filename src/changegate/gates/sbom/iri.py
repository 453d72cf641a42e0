"""RFC 3987 IRI-reference and RFC 3986 URI syntax checks, as compiled regular expressions.

Why this exists: the CycloneDX JSON schema marks every URL `"format": "iri-reference"`, and
jsonschema checks that format with `rfc3987_syntax`, a lark Earley parser that costs ~0.1 s per
URL. A 78-package SBOM has hundreds of URLs, so that one check made validation take ~15 s. The
expressions below are a rule-by-rule transcription of the ABNF in RFC 3987 section 2.2 (and RFC
3986 section 3 for `uri`), so validation stays complete and exact while costing microseconds.

Where `rfc3987_syntax` departs from the RFC, we follow the RFC (tests/sbom/test_iri.py pins each
case): it accepts only IPv6 literals in which `::` stands for exactly one group (it rejects
`[::1]` and `[2001:db8::1]`), it omits the non-BMP ranges of `ucschar` and `iprivate`, and its
`IPvFuture` accepts only a lowercase `v` (ABNF strings are case-insensitive). On every other
input the two agree, which the differential test checks on many generated strings.
"""

from __future__ import annotations

import functools
import re

# --- RFC 3986 / RFC 5234 core rules --------------------------------------------------------
_ALPHA = "A-Za-z"
_DIGIT = "0-9"
_HEXDIG = "0-9A-Fa-f"
_UNRESERVED = _ALPHA + _DIGIT + r"\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT_ENCODED = f"%[{_HEXDIG}][{_HEXDIG}]"

# --- RFC 3987 section 2.2 ------------------------------------------------------------------
_UCSCHAR = (
    "\u00a0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef"
    "\U00010000-\U0001fffd\U00020000-\U0002fffd\U00030000-\U0003fffd"
    "\U00040000-\U0004fffd\U00050000-\U0005fffd\U00060000-\U0006fffd"
    "\U00070000-\U0007fffd\U00080000-\U0008fffd\U00090000-\U0009fffd"
    "\U000a0000-\U000afffd\U000b0000-\U000bfffd\U000c0000-\U000cfffd"
    "\U000d0000-\U000dfffd\U000e1000-\U000efffd"
)
_IPRIVATE = "\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd"

# In the grammar every `ucschar` is interchangeable with every other (they only ever occur as
# members of that one class), and likewise every `iprivate`. So a non-ASCII input is first
# mapped to one representative per class and then matched against a grammar whose classes hold
# just the representative: the same language, but a regex that compiles in a few milliseconds
# instead of ~50 ms for the astral ranges repeated at every use of `iunreserved`.
_UCS_REPRESENTATIVE = "\u00a0"
_PRIVATE_REPRESENTATIVE = "\ue000"
_NEITHER = "\x00"  # in no class of the grammar: the match fails, as it must
_IS_UCSCHAR = re.compile(f"[{_UCSCHAR}]")
_IS_IPRIVATE = re.compile(f"[{_IPRIVATE}]")


def _representatives(value: str) -> str:
    if value.isascii():
        return value
    out = []
    for char in value:
        if char < "\x80":
            out.append(char)
        elif _IS_UCSCHAR.match(char):
            out.append(_UCS_REPRESENTATIVE)
        elif _IS_IPRIVATE.match(char):
            out.append(_PRIVATE_REPRESENTATIVE)
        else:
            out.append(_NEITHER)
    return "".join(out)


def _grammar(unicode: bool) -> tuple[str, str]:
    """(IRI-reference, IRI) with `unicode`, else (URI-reference, URI): ASCII only.

    RFC 3987 defines IRIs by extending RFC 3986's `unreserved` with `ucschar` and `query` with
    `iprivate`; everything else is shared, so one builder yields both.
    """
    iunreserved = f"[{_UNRESERVED}{_UCS_REPRESENTATIVE if unicode else ''}]"
    ipchar = f"(?:{iunreserved}|{_PCT_ENCODED}|[{_SUB_DELIMS}:@])"
    isegment = f"{ipchar}*"
    isegment_nz = f"{ipchar}+"
    isegment_nz_nc = f"(?:{iunreserved}|{_PCT_ENCODED}|[{_SUB_DELIMS}@])+"
    iquery_char = f"(?:{ipchar}|[/?{_PRIVATE_REPRESENTATIVE if unicode else ''}])"
    iquery = f"{iquery_char}*"
    ifragment = f"(?:{ipchar}|[/?])*"

    dec_octet = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
    ipv4address = rf"{dec_octet}\.{dec_octet}\.{dec_octet}\.{dec_octet}"
    h16 = f"[{_HEXDIG}]{{1,4}}"
    ls32 = f"(?:{h16}:{h16}|{ipv4address})"
    ipv6address = "(?:" + "|".join((
        f"(?:{h16}:){{6}}{ls32}",
        f"::(?:{h16}:){{5}}{ls32}",
        f"(?:{h16})?::(?:{h16}:){{4}}{ls32}",
        f"(?:(?:{h16}:){{0,1}}{h16})?::(?:{h16}:){{3}}{ls32}",
        f"(?:(?:{h16}:){{0,2}}{h16})?::(?:{h16}:){{2}}{ls32}",
        f"(?:(?:{h16}:){{0,3}}{h16})?::{h16}:{ls32}",
        f"(?:(?:{h16}:){{0,4}}{h16})?::{ls32}",
        f"(?:(?:{h16}:){{0,5}}{h16})?::{h16}",
        f"(?:(?:{h16}:){{0,6}}{h16})?::",
    )) + ")"
    ipvfuture = rf"[vV][{_HEXDIG}]+\.[{_UNRESERVED}{_SUB_DELIMS}:]+"
    ip_literal = rf"\[(?:{ipv6address}|{ipvfuture})\]"
    ireg_name = f"(?:{iunreserved}|{_PCT_ENCODED}|[{_SUB_DELIMS}])*"
    ihost = f"(?:{ip_literal}|{ipv4address}|{ireg_name})"
    iuserinfo = f"(?:{iunreserved}|{_PCT_ENCODED}|[{_SUB_DELIMS}:])*"
    port = f"[{_DIGIT}]*"
    iauthority = f"(?:{iuserinfo}@)?{ihost}(?::{port})?"

    ipath_abempty = f"(?:/{isegment})*"
    ipath_absolute = f"/(?:{isegment_nz}(?:/{isegment})*)?"
    ipath_noscheme = f"{isegment_nz_nc}(?:/{isegment})*"
    ipath_rootless = f"{isegment_nz}(?:/{isegment})*"
    ipath_empty = ""

    scheme = rf"[{_ALPHA}][{_ALPHA}{_DIGIT}+\-.]*"
    ihier_part = (f"(?://{iauthority}{ipath_abempty}|{ipath_absolute}|{ipath_rootless}"
                  f"|{ipath_empty})")
    irelative_part = (f"(?://{iauthority}{ipath_abempty}|{ipath_absolute}|{ipath_noscheme}"
                      f"|{ipath_empty})")
    iri = f"{scheme}:{ihier_part}(?:\\?{iquery})?(?:#{ifragment})?"
    irelative_ref = f"{irelative_part}(?:\\?{iquery})?(?:#{ifragment})?"
    return f"(?:{iri}|{irelative_ref})", iri


@functools.cache
def _pattern(name: str) -> re.Pattern[str]:
    """Compiled on first use: the URI forms are only needed for signature blocks."""
    iri_reference, _iri = _grammar(unicode=True)
    uri_reference, uri = _grammar(unicode=False)
    return re.compile({"iri-reference": iri_reference, "uri": uri,
                       "uri-reference": uri_reference}[name])


def is_iri_reference(value: str) -> bool:
    """True if `value` matches RFC 3987 `IRI-reference` (an IRI or a relative reference)."""
    return _pattern("iri-reference").fullmatch(_representatives(value)) is not None


def is_uri(value: str) -> bool:
    """True if `value` matches RFC 3986 `URI` (absolute, with optional query and fragment)."""
    return value.isascii() and _pattern("uri").fullmatch(value) is not None


def is_uri_reference(value: str) -> bool:
    """True if `value` matches RFC 3986 `URI-reference`."""
    return value.isascii() and _pattern("uri-reference").fullmatch(value) is not None
