"""Escaping of hostile text for workflow commands, Markdown, XML and terminals."""

from __future__ import annotations

import re

import pytest

from changegate.report.escape import (
    ZERO_WIDTH_JOINER,
    escape_data,
    escape_property,
    markdown_text,
    single_line,
    terminal_text,
    truncate,
    truncate_utf8,
    xml_text,
)


def unescape_data(s: str) -> str:
    """The runner's UnescapeData (ActionCommand.cs): the same replacements, in its order."""
    return s.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def unescape_property(s: str) -> str:
    """The runner's UnescapeProperty (ActionCommand.cs)."""
    for token, repl in (("\r", "%0D"), ("\n", "%0A"), (":", "%3A"), (",", "%2C"), ("%", "%25")):
        s = s.replace(repl, token)
    return s


HOSTILE = [
    "100% done",
    "a\r\nb\nc\rd",
    "key: value, other: value",
    "Fix bug\n::set-output name=x::y",
    "::add-mask::hunter2",
    "%0A already escaped %25 and %3A",
    "##[set-output name=z;]w",
    "@org/team please look",
    "<script>alert(1)</script>",
    "[click](https://evil.example/) ![img](https://evil.example/x.png)",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_escape_data_round_trips_and_stays_on_one_line(text: str) -> None:
    escaped = escape_data(text)
    assert "\n" not in escaped and "\r" not in escaped
    assert unescape_data(escaped) == text


@pytest.mark.parametrize("text", HOSTILE)
def test_escape_property_round_trips_without_separators(text: str) -> None:
    escaped = escape_property(text)
    for forbidden in ("\n", "\r", ":", ","):
        assert forbidden not in escaped
    assert unescape_property(escaped) == text


def test_escapes_match_githubs_toolkit() -> None:
    assert escape_data("%\r\n:,") == "%25%0D%0A:,"
    assert escape_property("%\r\n:,") == "%25%0D%0A%3A%2C"
    # `%` first: an input that already looks escaped stays literal.
    assert escape_data("%0A") == "%250A"


def test_markdown_breaks_mentions() -> None:
    out = markdown_text("ping @org/team and @alice, mail bob@example.com")
    assert re.search(r"@[A-Za-z0-9]", out) is None
    assert f"@{ZERO_WIDTH_JOINER}org/team" in out
    assert f"@{ZERO_WIDTH_JOINER}alice" in out


def test_markdown_neutralises_html() -> None:
    out = markdown_text('<script>alert("x")</script><img src=x onerror=alert(1)>')
    assert "<" not in out and ">" not in out
    assert "&lt;script&gt;" in out


def test_markdown_neutralises_links_and_emphasis() -> None:
    out = markdown_text("[click](https://evil.example/) ![i](x) *bold* _it_ ~~s~~ `code` $x$")
    assert re.search(r"(?<!\\)[\[\]*_`~$]", out) is None
    assert "\\[click\\]" in out


def test_markdown_keeps_table_cells_intact() -> None:
    out = markdown_text("a | b\nc\r\n| d")
    assert "\n" not in out and "\r" not in out
    assert re.search(r"(?<!\\)\|", out) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# heading", "\\# heading"),
        ("- item", "\\- item"),
        ("+ item", "\\+ item"),
        ("=====", "\\====="),
        ("1. first", "1\\. first"),
        ("2) second", "2\\) second"),
        ("> quote", "&gt; quote"),
        ("    indented code", "indented code"),
    ],
)
def test_markdown_escapes_block_starts(text: str, expected: str) -> None:
    assert markdown_text(text) == expected


def test_markdown_escapes_ampersand_and_backslash() -> None:
    assert markdown_text("&lt; \\*") == "&amp;lt; \\\\\\*"


def test_markdown_removes_controls_and_bidi() -> None:
    out = markdown_text("safe\x1b[31mred\x00\u202eevil\u2066")
    assert out == "saferedevil"


def test_markdown_keeps_ordinary_text_readable() -> None:
    assert markdown_text("Commit 1a2b3c4 is not signed.") == "Commit 1a2b3c4 is not signed."


def test_terminal_text_strips_escape_sequences_and_carriage_returns() -> None:
    out = terminal_text("ok\x1b[2K\rFAKE PASS\x1b]0;title\x07\x9b31m\nnext\tline")
    assert "\x1b" not in out and "\r" not in out and "\x9b" not in out
    assert out == "ok\nFAKE PASS31m\nnext\tline"


def test_single_line() -> None:
    assert single_line("  a\n\tb\r\nc  ") == "a b c"


def test_xml_text_drops_characters_xml_cannot_carry() -> None:
    assert xml_text("a\x00b\x1bc\x0bd\ufffee\ud800f\tg\nh") == "abcdef\tg\nh"


def test_truncate() -> None:
    assert truncate("abcdef", 10) == "abcdef"
    assert truncate("abcdef", 4) == "abc\u2026"
    assert len(truncate("x" * 100, 10)) == 10
    with pytest.raises(ValueError):
        truncate("abc", 0)


def test_truncate_utf8_never_splits_a_character() -> None:
    text = "\u00e9" * 100  # two bytes each
    out = truncate_utf8(text, 11)
    assert len(out.encode("utf-8")) <= 11
    assert out.endswith("\u2026")
    assert out[:-1] == "\u00e9" * 4  # 8 bytes + 3-byte marker
    assert truncate_utf8("short", 100) == "short"
