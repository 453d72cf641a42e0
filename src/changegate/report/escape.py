"""Escaping for every place untrusted text lands: workflow commands, Markdown, XML, terminals.

Commit messages, author names, file paths, package names, advisory text and PR titles are chosen
by whoever opened the change. Each renderer passes them through one of these functions before the
text reaches a CI system that interprets it, so a commit message cannot set a workflow output,
mask a log line, ping a team, inject HTML into a job summary or break a report file.

Choices, in one place so they can be reviewed together:

- Workflow commands follow GitHub's own toolkit (`packages/core/src/command.ts`) and runner
  (`ActionCommand.cs`) byte for byte: data escapes `%`, CR and LF; property values also escape
  `:` and `,`. `%` goes first so an already escaped sequence in the input stays literal.
- Markdown (`markdown_text`) makes untrusted text inert *and still readable*, rather than wrapping
  it in code spans: `&`, `<`, `>` become HTML entities (no raw HTML, no `<autolinks>`); Markdown
  punctuation that can start a construct is backslash-escaped (`\\`, `` ` ``, `*`, `_`, `[`, `]`,
  `|`, `~`, `#`, `$`, `!`); line-leading block markers (`-`, `+`, `=`, `1.`) are escaped; line
  breaks collapse to spaces so text stays in its table cell. @-mentions are broken with a
  zero-width joiner after the `@`: GitHub's mention filter runs on rendered text, where an HTML
  entity or a backslash would already be gone, so only an invisible character between `@` and the
  name reliably stops a commit message from notifying `@org/team`.
- Everywhere, C0/C1 control characters (ANSI escape sequences included) and Unicode bidi
  overrides are removed: they let text rewrite a terminal or display differently from what it is.
"""

from __future__ import annotations

import re

# Unicode bidirectional controls (the "Trojan Source" characters): they make text display in an
# order different from the one a reviewer would copy or a tool would parse.
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"

# C0 controls except TAB/LF/CR, DEL, and C1 controls. ESC (0x1b) is here, so ANSI sequences lose
# their introducer; the remains print as harmless text.
_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f" + _BIDI + "]"
)
# A full ANSI CSI/OSC sequence, removed whole so `\x1b[31m` does not leave `[31m` behind.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")

# Characters XML 1.0 forbids outright (a parser rejects the whole document if one appears).
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~#$!])")
_MD_LEADING_BLOCK = re.compile(r"^([-+=])")
_MD_LEADING_ORDERED = re.compile(r"^(\d+)([.)])")
_MENTION = re.compile(r"@(?=[A-Za-z0-9])")
_WHITESPACE_RUN = re.compile(r"\s+")

ZERO_WIDTH_JOINER = "\u200d"
ELLIPSIS = "\u2026"


# --- GitHub workflow commands ------------------------------------------------------------------


def escape_data(s: str) -> str:
    """Escape the message part of a workflow command (after the second `::`).

    Without this, a newline in a commit message would end the annotation and let the next line
    of the message run as a workflow command of its own.
    """
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(s: str) -> str:
    """Escape a workflow command property value (`file=`, `title=`).

    Properties are separated by `,` and the property list ends at `::`, so both characters must
    be encoded too, or a file name could end the property list and start the message early.
    """
    return escape_data(s).replace(":", "%3A").replace(",", "%2C")


# --- Plain text hygiene ------------------------------------------------------------------------


def strip_controls(s: str) -> str:
    """Remove ANSI sequences, control characters and bidi overrides; keep TAB, LF and CR."""
    return _CONTROL.sub("", _ANSI.sub("", s))


def terminal_text(s: str) -> str:
    """Make untrusted text safe to print on a terminal: no escape sequences, no carriage returns.

    A bare CR would let text overwrite the start of its own line, e.g. hide "UNSIGNED".
    """
    return strip_controls(s).replace("\r\n", "\n").replace("\r", "\n")


def single_line(s: str) -> str:
    """Collapse all whitespace, line breaks included, to single spaces; remove control chars.

    For places where a line break ends the record: table cells, dotenv values, XML attributes.
    """
    return _WHITESPACE_RUN.sub(" ", strip_controls(s)).strip()


def xml_text(s: str) -> str:
    """Drop characters that XML 1.0 cannot carry at all (ElementTree would write them raw).

    ElementTree escapes `<`, `&` and quotes itself; what it does not do is refuse a NUL or an
    ESC, and one such byte in a commit message would make the whole JUnit report unparsable.
    """
    return _XML_INVALID.sub("", strip_controls(s))


# --- Markdown ----------------------------------------------------------------------------------


def markdown_text(s: str) -> str:
    """Render untrusted text as inert, single-line Markdown that is safe in a table cell.

    See the module docstring for the choices. The result displays as the original text (minus
    control characters and line breaks) in GitHub's renderer.
    """
    text = single_line(s)
    text = _MD_SPECIAL.sub(r"\\\1", text)
    # Entities after backslashes, so the `&` and `;` we add are not themselves escaped.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_LEADING_BLOCK.sub(r"\\\1", text)
    text = _MD_LEADING_ORDERED.sub(r"\1\\\2", text)
    return _MENTION.sub("@" + ZERO_WIDTH_JOINER, text)


# --- Truncation --------------------------------------------------------------------------------


def truncate(s: str, limit: int, *, marker: str = ELLIPSIS) -> str:
    """Cut `s` to at most `limit` characters, marking the cut so no one mistakes it for whole."""
    if limit < len(marker):
        raise ValueError(f"limit {limit} is shorter than the truncation marker")
    if len(s) <= limit:
        return s
    return s[: limit - len(marker)] + marker


def truncate_utf8(s: str, max_bytes: int, *, marker: str = ELLIPSIS) -> str:
    """Cut `s` so its UTF-8 encoding fits in `max_bytes`, never splitting a character.

    CI limits (job summary size, dotenv size) count bytes, not characters.
    """
    encoded = s.encode("utf-8")
    if len(encoded) <= max_bytes:
        return s
    room = max_bytes - len(marker.encode("utf-8"))
    if room < 0:
        raise ValueError(f"max_bytes {max_bytes} is shorter than the truncation marker")
    return encoded[:room].decode("utf-8", errors="ignore") + marker


def utf8_len(s: str) -> int:
    """Length of `s` in UTF-8 bytes, the unit CI systems count in."""
    return len(s.encode("utf-8"))
