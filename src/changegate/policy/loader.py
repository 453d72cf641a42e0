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
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(data),
                    key=lambda e: (_line_for(tuple(e.absolute_path), lines), list(e.absolute_path)))
    if not errors:
        return
    first = errors[0]
    path: JsonPath = tuple(first.absolute_path)
    message = _explain(first, path)
    if first.validator == "additionalProperties":
        # Point at the unknown key itself, not at the mapping that holds it.
        unknown = sorted(set(first.instance) - set(first.schema.get("properties", {})))
        if unknown:
            path = (*path, unknown[0])
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    raise InputError(message + more, file=source, line=_line_for(path, lines),
                     rule="POLICY_INVALID",
                     fix="see docs/policy.md, or validate with the schema "
                         "`changegate policy schema`")


def _explain(error: Any, path: JsonPath) -> str:
    where = _dotted(path) or "(top level)"
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"unknown key(s) {', '.join(map(repr, extra))} under {where}"
    if error.validator == "required":
        return f"{where}: {error.message}"
    return f"{where}: {error.message}"


def _line_for(path: JsonPath, lines: dict[JsonPath, int]) -> int:
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path, 1)


def _dotted(path: JsonPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out
