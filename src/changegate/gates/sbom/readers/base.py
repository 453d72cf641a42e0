"""What every reader shares: located errors, TOML with line numbers, hash parsing.

A malformed input must end the gate as inconclusive with an error that names the file and the
line (the CLI turns `InputError` into an `error` result, exit 2). TOML parsers report positions
only in their messages and give none for parsed values, so `TomlLines` recovers the line of each
`[[package]]` entry from the text: annotations then land on the dependency's own line.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from changegate.errors import InputError
from changegate.gates.sbom.model import Hash, Notice

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

RULE = "SBOM_INPUT_INVALID"

# hashlib names -> hex length. CycloneDX has no SHA-224, so such digests are reported and left out
# rather than written into a document the schema would reject.
HASH_HEX_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "sha384": 96, "sha512": 128,
                    "sha3_256": 64, "sha3_384": 96, "sha3_512": 128, "blake2b": 128}
_HEX = re.compile(r"[0-9a-fA-F]+")
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


def input_error(message: str, file: str | Path, line: int | None = None,
                fix: str | None = None, column: int | None = None) -> InputError:
    return InputError(message, file=str(file), line=line, rule=RULE, fix=fix, column=column)


def read_text(path: Path, label: str | None = None) -> str:
    """The file as UTF-8 text; a missing or undecodable file is a located input error."""
    name = label or str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise input_error(f"{name} does not exist", name,
                          fix="check the path, or generate the lock file first") from None
    except OSError as exc:
        raise input_error(f"cannot read {name}: {exc.strerror}", name) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise input_error(f"{name} is not UTF-8 text (byte {exc.start})", name, line) from None


def load_toml(text: str, label: str) -> dict[str, Any]:
    """Parse TOML, turning the parser's "(at line L, column C)" into a located error."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_POSITION.search(message)
        line = int(match.group(1)) if match else text.count("\n") + 1
        column = int(match.group(2)) if match else None
        reason = _TOML_POSITION.sub("", message).replace("(at end of document)", "").strip()
        raise input_error(f"{label} is not valid TOML: {reason}", label, line,
                          column=column) from None


def parse_hash(text: str, label: str, line: int | None,
               notices: list[Notice] | None = None) -> Hash | None:
    """`sha256:HEX` (pip, uv, Poetry) or `sha256=HEX` (RECORD, PEP 610) to a Hash.

    Malformed digests are input errors (a lock file with a broken hash must not pass); digests in
    algorithms CycloneDX cannot carry become a notice and are skipped.
    """
    algorithm, sep, value = text.partition(":")
    if not sep:
        algorithm, sep, value = text.partition("=")
    if not sep:
        raise input_error(f"hash {text!r} has no algorithm (expected e.g. sha256:...)",
                          label, line)
    return make_hash(algorithm, value, label, line, notices)


def make_hash(algorithm: str, value: str, label: str, line: int | None,
              notices: list[Notice] | None = None) -> Hash | None:
    algorithm = algorithm.strip().lower().replace("-", "_")
    value = value.strip()
    expected = HASH_HEX_LENGTHS.get(algorithm)
    if expected is None:
        if notices is not None:
            notices.append(Notice("SBOM_HASH_UNSUPPORTED",
                                  f"{algorithm} digest left out: CycloneDX has no such algorithm",
                                  label, line))
        return None
    if len(value) != expected or not _HEX.fullmatch(value):
        raise input_error(f"malformed {algorithm} digest {value!r} (expected {expected} hex "
                          "digits)", label, line)
    return Hash(algorithm, value.lower())


@dataclass(frozen=True)
class Entry:
    """Where one `[[table]]` entry of a TOML file starts, and its `name = ...` line."""

    header_line: int
    name_line: int


class TomlLines:
    """Line numbers for entries of arrays of tables (`[[package]]`), recovered from the text.

    The i-th `[[package]]` header is the i-th element of the parsed array (TOML keeps order),
    which is exact for the files uv, Poetry and pylock writers produce. If a file spells the
    array differently (inline), `line_of_name` falls back to the first `name = "..."` line.
    """

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def entries(self, key: str) -> list[Entry]:
        header = re.compile(r"\s*\[\[\s*" + re.escape(key) + r"\s*\]\]\s*(?:#.*)?")
        any_header = re.compile(r"\s*\[")
        name = re.compile(r"\s*name\s*=")
        starts = [i for i, line in enumerate(self.lines) if header.fullmatch(line)]
        out = []
        for start in starts:
            name_line = start + 1
            for j in range(start + 1, len(self.lines)):
                if any_header.match(self.lines[j]):
                    break
                if name.match(self.lines[j]):
                    name_line = j + 1
                    break
            out.append(Entry(start + 1, name_line))
        return out

    def line_of_name(self, name: str) -> int | None:
        pattern = re.compile(r"\s*name\s*=\s*[\"']" + re.escape(name) + r"[\"']")
        for i, line in enumerate(self.lines):
            if pattern.match(line):
                return i + 1
        return None

    def line_containing(self, needle: str, start: int = 0) -> int | None:
        for i in range(start, len(self.lines)):
            if needle in self.lines[i]:
                return i + 1
        return None


def entry_lines(lines: TomlLines, key: str, items: list[Any]) -> list[int | None]:
    """The `name = ...` line of each parsed entry of `[[key]]`, by position or by name."""
    entries = lines.entries(key)
    if len(entries) == len(items):
        return [entry.name_line for entry in entries]
    out: list[int | None] = []
    for item in items:
        name = item.get("name") if isinstance(item, dict) else None
        out.append(lines.line_of_name(name) if isinstance(name, str) else None)
    return out


def expect_str(value: Any, what: str, label: str, line: int | None) -> str:
    if not isinstance(value, str) or not value:
        raise input_error(f"{what} must be a non-empty string, not {value!r}", label, line)
    return value


def optional_str(value: Any, what: str, label: str, line: int | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise input_error(f"{what} must be a string, not {value!r}", label, line)
    return value


def expect_list(value: Any, what: str, label: str, line: int | None) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise input_error(f"{what} must be an array, not {type(value).__name__}", label, line)
    return value


def expect_table(value: Any, what: str, label: str, line: int | None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise input_error(f"{what} must be a table, not {type(value).__name__}", label, line)
    return value
