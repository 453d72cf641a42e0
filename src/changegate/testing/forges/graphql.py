"""A small GraphQL engine: enough of the language to serve GitHub-shaped queries faithfully.

The local GitHub server must answer the queries changegate (and a user's tool) really sends,
and refuse the ones GitHub would refuse: an unknown field is a validation error with no data,
a connection without `first`/`last` or with more than 100 is refused, a field the token may not
read is `null` with a typed error at its `path`. So it parses and executes the query instead of
pattern-matching it.

Supported: one query operation, variables with defaults, aliases, arguments (every literal kind,
lists, objects, enum values, variables), nested selections, inline fragments (`... on Type`),
named fragments, `__typename`. Not supported (GitHub's clients we serve don't send them):
mutations, subscriptions, directives other than being ignored.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

_TOKEN = re.compile(r"""
    (?P<ws>[\s,\ufeff]+|\#[^\n]*)
  | (?P<spread>\.\.\.)
  | (?P<punct>[!$&()\:=@\[\]{|}])
  | (?P<name>[_A-Za-z][_0-9A-Za-z]*)
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
""", re.VERBOSE)


class GraphQLSyntaxError(Exception):
    pass


class ValidationError(Exception):
    """A query GitHub would refuse before running it: the response has errors and no data."""

    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind


class FieldError(Exception):
    """A field that resolves to null with an error (permission, not found) at its path."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class Var:
    name: str


@dataclass
class Enum:
    value: str


@dataclass
class Field:
    name: str
    alias: str | None
    args: dict[str, Any]
    selections: list[Any]

    @property
    def key(self) -> str:
        return self.alias or self.name


@dataclass
class InlineFragment:
    on: str | None
    selections: list[Any]


@dataclass
class Spread:
    name: str


@dataclass
class Document:
    variables: dict[str, Any]  # name -> default value
    selections: list[Any]
    fragments: dict[str, InlineFragment] = field(default_factory=dict)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if not match:
                raise GraphQLSyntaxError(f"Parse error on {text[pos:pos + 10]!r}")
            pos = match.end()
            kind = match.lastgroup or ""
            if kind != "ws":
                self.tokens.append((kind, match.group(kind)))
        self.i = 0

    def peek(self, value: str | None = None) -> bool:
        if self.i >= len(self.tokens):
            return False
        return value is None or self.tokens[self.i][1] == value

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        if self.i >= len(self.tokens):
            raise GraphQLSyntaxError("Parse error: unexpected end of query")
        tok_kind, tok = self.tokens[self.i]
        if (value is not None and tok != value) or (kind is not None and tok_kind != kind):
            raise GraphQLSyntaxError(f"Parse error on {tok!r} (expected {value or kind})")
        self.i += 1
        return tok

    def document(self) -> Document:
        variables: dict[str, Any] = {}
        selections: list[Any] = []
        fragments: dict[str, InlineFragment] = {}
        while self.peek():
            if self.peek("fragment"):
                self.take()
                name = self.take(kind="name")
                self.take("on")
                on = self.take(kind="name")
                fragments[name] = InlineFragment(on, self.selection_set())
                continue
            if self.peek("query"):
                self.take()
                if self.peek() and self.tokens[self.i][0] == "name":
                    self.take()
                if self.peek("("):
                    variables = self.variable_definitions()
            elif self.peek("mutation") or self.peek("subscription"):
                raise ValidationError("only queries are supported by this server")
            selections = self.selection_set()
        return Document(variables, selections, fragments)

    def variable_definitions(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        self.take("(")
        while not self.peek(")"):
            self.take("$")
            name = self.take(kind="name")
            self.take(":")
            self.type_ref()
            out[name] = self.value() if self.peek("=") and self.take("=") else None
        self.take(")")
        return out

    def type_ref(self) -> None:
        if self.peek("["):
            self.take("[")
            self.type_ref()
            self.take("]")
        else:
            self.take(kind="name")
        if self.peek("!"):
            self.take("!")

    def selection_set(self) -> list[Any]:
        self.take("{")
        out: list[Any] = []
        while not self.peek("}"):
            if self.peek("..."):
                self.take()
                if self.peek("on"):
                    self.take()
                    on = self.take(kind="name")
                    self.directives()
                    out.append(InlineFragment(on, self.selection_set()))
                elif self.peek("{") or self.peek("@"):
                    self.directives()
                    out.append(InlineFragment(None, self.selection_set()))
                else:
                    out.append(Spread(self.take(kind="name")))
                    self.directives()
                continue
            name = self.take(kind="name")
            alias = None
            if self.peek(":"):
                self.take()
                alias, name = name, self.take(kind="name")
            args: dict[str, Any] = {}
            if self.peek("("):
                self.take()
                while not self.peek(")"):
                    arg = self.take(kind="name")
                    self.take(":")
                    args[arg] = self.value()
                self.take(")")
            self.directives()
            selections = self.selection_set() if self.peek("{") else []
            out.append(Field(name, alias, args, selections))
        self.take("}")
        return out

    def directives(self) -> None:
        while self.peek("@"):
            self.take()
            self.take(kind="name")
            if self.peek("("):
                self.take()
                while not self.peek(")"):
                    self.take(kind="name")
                    self.take(":")
                    self.value()
                self.take(")")

    def value(self) -> Any:
        kind, tok = self.tokens[self.i] if self.i < len(self.tokens) else ("", "")
        if tok == "$":
            self.take()
            return Var(self.take(kind="name"))
        if tok == "[":
            self.take()
            items = []
            while not self.peek("]"):
                items.append(self.value())
            self.take("]")
            return items
        if tok == "{":
            self.take()
            obj = {}
            while not self.peek("}"):
                key = self.take(kind="name")
                self.take(":")
                obj[key] = self.value()
            self.take("}")
            return obj
        self.i += 1
        if kind == "number":
            return float(tok) if any(c in tok for c in ".eE") else int(tok)
        if kind == "string":
            import json

            return json.loads(tok)
        if kind == "name":
            return {"true": True, "false": False, "null": None}.get(tok, Enum(tok)) \
                if tok in ("true", "false", "null") else Enum(tok)
        raise GraphQLSyntaxError(f"Parse error on {tok!r}")


def parse(text: str) -> Document:
    return _Parser(text).document()


class Node:
    """A GraphQL object: `typename`, `interfaces`, and `resolve_<field>(**args)` methods."""

    typename = "Object"
    interfaces: tuple[str, ...] = ()

    def resolve(self, name: str, args: dict[str, Any]) -> Any:
        method = getattr(self, f"resolve_{name}", None)
        if method is None:
            raise ValidationError(f"Field '{name}' doesn't exist on type '{self.typename}'",
                                  "undefinedField")
        return method(**args)


class Scalar(Node):
    """A plain object whose fields are attributes (PageInfo, RateLimit, ...)."""

    def __init__(self, typename: str, **values: Any) -> None:
        self.typename = typename
        self.values = values

    def resolve(self, name: str, args: dict[str, Any]) -> Any:
        if name not in self.values:
            raise ValidationError(f"Field '{name}' doesn't exist on type '{self.typename}'",
                                  "undefinedField")
        return self.values[name]


def cursor(index: int) -> str:
    return base64.b64encode(f"cursor:v2:{index}".encode()).decode()


def _uncursor(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(base64.b64decode(value).decode().rsplit(":", 1)[1])
    except (ValueError, IndexError) as exc:
        raise ValidationError(f"`{value}` does not appear to be a valid cursor.") from exc


class Connection(Node):
    """A Relay connection over a list, paginated as GitHub does (1..100 per page)."""

    def __init__(self, typename: str, items: Sequence[Any], args: dict[str, Any],
                 field_name: str, *, cap: int | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        self.typename = typename
        first, last = args.get("first"), args.get("last")
        if first is None and last is None:
            raise ValidationError(f"You must provide a `first` or `last` value to properly "
                                  f"paginate the `{field_name}` connection.", "MISSING_PAGINATION")
        for arg, value in (("first", first), ("last", last)):
            if value is not None and not 0 <= value <= 100:
                raise ValidationError(f"Requesting {value} records on the `{field_name}` "
                                      f"connection exceeds the `{arg}` limit of 100 records.",
                                      "EXCESSIVE_PAGINATION")
        visible = list(items[:cap] if cap is not None else items)
        start, end = 0, len(visible)
        after, before = _uncursor(args.get("after")), _uncursor(args.get("before"))
        if after is not None:
            start = after + 1
        if before is not None:
            end = min(end, before)
        if first is not None:
            end = min(end, start + first)
        if last is not None:
            start = max(start, end - last)
        self.total = len(items)
        self.page = [(i, visible[i]) for i in range(start, end)]
        self.has_next = end < len(visible)
        self.has_previous = start > 0
        self.extra = extra or {}

    def resolve_totalCount(self) -> int:
        return self.total

    def resolve_nodes(self) -> list[Any]:
        return [item for _, item in self.page]

    def resolve_edges(self) -> list[Any]:
        return [Scalar(f"{self.typename}Edge", node=item, cursor=cursor(i))
                for i, item in self.page]

    def resolve_pageInfo(self) -> Scalar:
        return Scalar("PageInfo", hasNextPage=self.has_next, hasPreviousPage=self.has_previous,
                      endCursor=cursor(self.page[-1][0]) if self.page else None,
                      startCursor=cursor(self.page[0][0]) if self.page else None)

    def resolve(self, name: str, args: dict[str, Any]) -> Any:
        if name in self.extra:
            return self.extra[name]
        return super().resolve(name, args)


@dataclass
class _Context:
    variables: dict[str, Any]
    fragments: dict[str, InlineFragment]
    errors: list[dict[str, Any]] = field(default_factory=list)


def _resolve_value(value: Any, ctx: _Context) -> Any:
    if isinstance(value, Var):
        return ctx.variables.get(value.name)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [_resolve_value(v, ctx) for v in value]
    if isinstance(value, dict):
        return {k: _resolve_value(v, ctx) for k, v in value.items()}
    return value


def _applies(fragment: InlineFragment, obj: Node) -> bool:
    return fragment.on is None or fragment.on == obj.typename or fragment.on in obj.interfaces


def _select(obj: Node, selections: list[Any], ctx: _Context, path: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for sel in selections:
        if isinstance(sel, Spread):
            named = ctx.fragments.get(sel.name)
            if named is None:
                raise ValidationError("Fragment is not defined")
            if _applies(named, obj):
                out.update(_select(obj, named.selections, ctx, path))
            continue
        if isinstance(sel, InlineFragment):
            if _applies(sel, obj):
                out.update(_select(obj, sel.selections, ctx, path))
            continue
        if sel.name == "__typename":
            out[sel.key] = obj.typename
            continue
        args = {k: _resolve_value(v, ctx) for k, v in sel.args.items()}
        here = [*path, sel.key]
        try:
            value = obj.resolve(sel.name, args)
        except FieldError as exc:
            ctx.errors.append({"type": exc.kind, "path": here, "message": str(exc),
                               "locations": [{"line": 1, "column": 1}]})
            out[sel.key] = None
            continue
        out[sel.key] = _complete(value, sel, ctx, here)
    return out


def _complete(value: Any, sel: Field, ctx: _Context, path: list[Any]) -> Any:
    if isinstance(value, list):
        return [_complete(v, sel, ctx, [*path, i]) for i, v in enumerate(value)]
    if isinstance(value, Node):
        if not sel.selections:
            raise ValidationError(f"Field must have selections (field '{sel.name}' returns "
                                  f"{value.typename} but has no selections.)")
        return _select(value, sel.selections, ctx, path)
    return value


def execute(query: str, variables: dict[str, Any] | None, root: Node,
            before: Callable[[Document], None] | None = None) -> dict[str, Any]:
    """Run `query` against `root`; the response body GitHub would send."""
    try:
        doc = parse(query)
        values = {**{k: _resolve_value(v, _Context({}, {})) for k, v in doc.variables.items()},
                  **(variables or {})}
        ctx = _Context(values, doc.fragments)
        if before is not None:
            before(doc)
        data = _select(root, doc.selections, ctx, [])
    except GraphQLSyntaxError as exc:
        return {"errors": [{"message": str(exc), "locations": [{"line": 1, "column": 1}]}]}
    except ValidationError as exc:
        error: dict[str, Any] = {"message": str(exc), "locations": [{"line": 1, "column": 1}]}
        if exc.kind:
            error["extensions"] = {"code": exc.kind}
        return {"errors": [error]}
    body: dict[str, Any] = {"data": data}
    if ctx.errors:
        body["errors"] = ctx.errors
    return body
