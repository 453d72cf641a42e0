"""Loading the policy file: YAML with line numbers, validated against the shipped JSON Schema.

The policy decides what is enforced, so a typo must never weaken it silently: unknown keys,
duplicate keys and wrong types are errors that name the file, the line and the key.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from typing import Any

from changegate.errors import InputError
from changegate.policy.model import Policy

JsonPath = tuple[str | int, ...]


def schema() -> dict[str, Any]:
    """The policy JSON Schema shipped in the package (also usable by editors)."""
    return _schema_cached()


@cache
def _schema_cached() -> dict[str, Any]:
    text = resources.files("changegate.policy").joinpath("schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def parse_policy(text: bytes, source: str, *, revision: str | None = None) -> Policy:
    """Parse and validate policy bytes; `source` names the file in every error.

    `revision` records where the bytes came from (a commit SHA when read from the base of a
    pull request) so the result and the evidence say which policy was enforced.
    """
    data, lines = load_yaml_with_lines(text, source)
    if not isinstance(data, dict):
        raise InputError("the policy must be a mapping with at least `version: 1`",
                         file=source, line=1, rule="POLICY_INVALID")
    _validate(data, lines, source)
    return Policy(
        data=data,
        source=source,
        revision=revision,
        sha256=hashlib.sha256(text).hexdigest(),
        lines=lines,
    )


def load_yaml_with_lines(text: bytes, source: str) -> tuple[Any, dict[JsonPath, int]]:
    """Parse YAML into plain data plus a map from each key's JSON path to its 1-based line.

    PyYAML's composer keeps node positions; we walk the node tree ourselves so duplicate keys
    (which YAML loaders silently resolve to the last one) are rejected with both lines named.
    """
    import yaml

    try:
        node = yaml.compose(text.decode("utf-8"), Loader=yaml.SafeLoader)
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text: {exc}", file=source, rule="POLICY_INVALID") from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(f"invalid YAML: {problem}", file=source, line=line,
                         rule="POLICY_INVALID") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {exc}", file=source, rule="POLICY_INVALID") from exc
    if node is None:
        return None, {}
    lines: dict[JsonPath, int] = {}
    data = _construct(node, (), lines, source)
    return data, lines


def _construct(node: Any, path: JsonPath, lines: dict[JsonPath, int], source: str) -> Any:
    import yaml

    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, source)
            if not isinstance(key, str):
                raise InputError(f"keys must be strings, got {key!r}", file=source,
                                 line=key_node.start_mark.line + 1, rule="POLICY_INVALID")
            child = (*path, key)
            if key in result:
                raise InputError(
                    f"duplicate key {_dotted(child)!r} (first on line {lines[child]})",
                    file=source, line=key_node.start_mark.line + 1, rule="POLICY_INVALID")
            lines[child] = key_node.start_mark.line + 1
            result[key] = _construct(value_node, child, lines, source)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*path, index), lines, source)
                for index, item in enumerate(node.value)]
    return _scalar(node, source)


def _scalar(node: Any, source: str) -> Any:
    import yaml

    if not isinstance(node, yaml.ScalarNode):
        raise InputError("complex mapping keys are not allowed", file=source,
                         line=node.start_mark.line + 1, rule="POLICY_INVALID")
    constructor = yaml.SafeLoader(b"")
    value = constructor.construct_object(node, deep=True)
    if hasattr(value, "isoformat"):
        # YAML turns 2027-01-15 into a date; the schema and the gates want the ISO text.
        return value.isoformat()
    return value


def _validate(data: dict[str, Any], lines: dict[JsonPath, int], source: str) -> None:
    """Validate against the shipped schema with fastjsonschema.

    Not `jsonschema`: importing it also imports every optional format checker installed beside
    it (rfc3987-syntax alone builds a lark grammar for ~1 s), which would double the start-up
    of every gate that reads a policy. fastjsonschema compiles this schema in ~20 ms.
    """
    import fastjsonschema

    try:
        _compiled_validator()(data)
    except fastjsonschema.JsonSchemaValueException as exc:
        path: JsonPath = tuple(_index(part) for part in (exc.path or [])[1:])
        message = _explain(exc, path, data)
        if exc.rule == "additionalProperties":
            unknown = _unknown_keys(path, data)
            if unknown:
                path = (*path, unknown[0])  # point at the unknown key itself
        raise InputError(message, file=source, line=_line_for(path, lines),
                         rule="POLICY_INVALID",
                         fix="see docs/policy.md; `changegate policy schema` prints the "
                             "JSON Schema for your editor") from None


@cache
def _compiled_validator() -> Any:
    import copy

    import fastjsonschema

    # compile() rewrites `$ref`s in place; keep the shipped schema pristine.
    return fastjsonschema.compile(copy.deepcopy(schema()))


def _index(part: str) -> str | int:
    return int(part) if part.isdigit() else part


def _node(path: JsonPath, data: Any) -> Any:
    for part in path:
        data = data[part]
    return data


def _schema_at(path: JsonPath) -> dict[str, Any]:
    """The schema object governing `path` (following properties/items/$ref), for messages."""
    node: dict[str, Any] = schema()
    for part in path:
        node = _resolve(node)
        if isinstance(part, int):
            node = node.get("items", {})
        elif part in node.get("properties", {}):
            node = node["properties"][part]
        else:
            extra = node.get("additionalProperties", {})
            node = extra if isinstance(extra, dict) else {}
    return _resolve(node)


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = schema()
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def _unknown_keys(path: JsonPath, data: Any) -> list[str]:
    try:
        value = _node(path, data)
    except (KeyError, IndexError, TypeError):
        return []
    known = _schema_at(path).get("properties", {})
    return sorted(k for k in value if k not in known) if isinstance(value, dict) else []


def _explain(error: Any, path: JsonPath, data: Any) -> str:
    where = _dotted(path) or "(top level)"
    if error.rule == "additionalProperties":
        unknown = _unknown_keys(path, data)
        known = ", ".join(sorted(_schema_at(path).get("properties", {})))
        return (f"unknown key(s) {', '.join(map(repr, unknown))} under {where}"
                + (f" (known: {known})" if known else ""))
    text = str(error.message)
    prefix = str(error.name)
    if text.startswith(prefix):
        text = text[len(prefix):].lstrip()
    return f"{where}: {text}"


def _line_for(path: JsonPath, lines: dict[JsonPath, int]) -> int:
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path, 1)


def _dotted(path: JsonPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out
