"""Reading OSV record files: JSON or YAML into plain data, and the line of any key.

YAML is read with every scalar kept a string (PyYAML's base-loader semantics): the safe loader
would turn an unquoted `1.10` in a versions list into the float 1.1, a different version. The
fast loaders keep no positions, so lines are found by a second, composing parse, and only for
files that turned out to be bad.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import yaml

from changegate.errors import InputError

RECORD_SUFFIXES = (".json", ".yaml", ".yml")


class RecordError(InputError):
    """A record that cannot be read as OSV: the file, the line of the bad key, and the key path."""

    def __init__(self, message: str, file: str, line: int | None = None,
                 record_id: str | None = None, where: str | None = None) -> None:
        super().__init__(
            message, file=file, line=line, rule="OSV_RECORD_INVALID",
            fix="correct or remove the record, or let the policy skip bad records "
                "(skip_bad_records: true) so it is reported instead",
        )
        self.record_id = record_id
        self.where = where


_CParser: Any
_ComposeLoader: Any
try:  # libyaml is several times faster; PyYAML without it still works.
    from yaml._yaml import CParser as _LibyamlParser

    _CParser, _ComposeLoader = _LibyamlParser, yaml.CSafeLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    _CParser, _ComposeLoader = None, yaml.SafeLoader

_STR, _SEQ, _MAP = "tag:yaml.org,2002:str", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"


if _CParser is not None:
    class _StringComposer(_CParser):  # type: ignore[misc]
        """libyaml's parser with tag resolution switched off: every scalar stays a string.

        PyYAML's base loader gives the same result but spends two thirds of its time in
        Python-level resolvers and constructors; the database's cold load is dominated by it.
        The output is checked against `yaml.load(..., CBaseLoader)` on the whole snapshot in
        the tests.
        """

        def descend_resolver(self, parent: Any, index: Any) -> None:
            return None

        def ascend_resolver(self) -> None:
            return None

        def resolve(self, kind: type, value: Any, implicit: Any) -> str:
            if kind is yaml.ScalarNode:
                return _STR
            return _SEQ if kind is yaml.SequenceNode else _MAP


def _plain(node: yaml.Node | None) -> Any:
    """A composed node as plain data, all scalars strings (explicit tags are ignored)."""
    if node is None:
        return None
    if node.__class__ is yaml.ScalarNode:
        return node.value
    if node.__class__ is yaml.SequenceNode:
        return [_plain(child) for child in node.value]
    return {_plain(key): _plain(value) for key, value in node.value}


def _load_yaml(raw: bytes) -> Any:
    if _CParser is None:  # pragma: no cover
        return yaml.load(raw, Loader=yaml.BaseLoader)  # noqa: S506 - base loader: strings only
    parser = _StringComposer(raw)
    try:
        return _plain(parser.get_single_node())
    finally:
        parser.dispose()


def load_document(raw: bytes, file: str) -> Any:
    """Decode one record file (JSON by its `.json` suffix, YAML otherwise) into plain data."""
    if file.lower().endswith(".json"):
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise RecordError(f"not valid JSON: {exc.msg}", file, exc.lineno) from exc
        except UnicodeDecodeError as exc:
            raise RecordError(f"not UTF-8 text: {exc}", file) from exc
    try:
        return _load_yaml(raw)
    except (RecursionError, TypeError) as exc:  # a recursive alias, a non-scalar key
        raise RecordError(f"not a plain YAML document: {type(exc).__name__}", file) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise RecordError(f"not valid YAML: {exc.problem or exc}", file, line) from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise RecordError(f"not valid YAML: {exc}", file) from exc


def locate(raw: bytes, path: Sequence[str | int]) -> int | None:
    """The 1-based line of the key at `path` (or of its nearest existing parent).

    Only called for bad records, so it can afford a second parse: the fast loaders keep no
    positions. JSON is composed as YAML (a JSON document is valid YAML flow); when that fails
    the error simply carries no line.
    """
    try:
        node = yaml.compose(raw, Loader=_ComposeLoader)
    except (yaml.YAMLError, UnicodeDecodeError, ValueError):
        return None
    if node is None:
        return None
    line: int = node.start_mark.line + 1
    for step in path:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode) and isinstance(step, str):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == step:
                    line = key.start_mark.line + 1
                    child = value
                    break
        elif (isinstance(node, yaml.SequenceNode) and isinstance(step, int)
              and 0 <= step < len(node.value)):
            child = node.value[step]
            line = child.start_mark.line + 1
        if child is None:
            return line
        node = child
    return line
