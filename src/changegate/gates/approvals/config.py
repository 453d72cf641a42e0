"""The approvals policy (`gates.approvals`), parsed into typed settings with located errors.

The policy file's JSON Schema accepts any object here; this module is what refuses a typo. A
misspelt key (`teams:` as `team:`) would otherwise silently widen a rule to anyone, which is
exactly the failure a compliance gate must not have, so every unknown key, wrong type or
impossible value is an `InputError` (rule POLICY_INVALID, exit 2) naming the key's path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from changegate.errors import InputError
from changegate.result import Location

POLICY_INVALID: Final = "POLICY_INVALID"
EXCLUSIONS: Final = ("author", "committers", "last_pusher")
DEFAULT_RULE_NAME: Final = "independent review"

_TEAM = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")

Locator = Callable[..., Location]


@dataclass(frozen=True)
class Conditions:
    """When a rule applies; every listed kind must hold, any value within a kind suffices."""

    paths: tuple[str, ...] = ()
    branches: tuple[str, ...] = ()
    environments: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    author_in_teams: tuple[str, ...] = ()

    def to_json(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in vars(self).items() if v}


@dataclass(frozen=True)
class Rule:
    name: str
    count: int
    users: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    conditions: Conditions = field(default_factory=Conditions)
    exclude: frozenset[str] = frozenset(EXCLUSIONS)
    distinct: bool = True

    @property
    def restricted(self) -> bool:
        return bool(self.users or self.teams)


@dataclass(frozen=True)
class Emergency:
    """Emergency changes: allowed through on a label or flag, with an approval owed afterwards."""

    label: str
    approve_within_days: int = 2
    approved_label: str | None = None
    environments: tuple[str, ...] = ()  # where emergencies are allowed; empty: everywhere
    lookback_days: int = 90
    overdue: str = "fail"  # fail | warn


@dataclass(frozen=True)
class ApprovalsConfig:
    rules: tuple[Rule, ...]
    require_current_head: bool = True
    emergency: Emergency | None = None
    default_rules: bool = False  # no rules in the policy: the built-in two-person rule

    def teams(self) -> tuple[str, ...]:
        """Every team the policy names, for the forge to fetch (so any rule can be replayed)."""
        names: dict[str, None] = {}
        for rule in self.rules:
            for team in (*rule.teams, *rule.conditions.author_in_teams):
                names[team] = None
        return tuple(names)


class _Reader:
    def __init__(self, locate: Locator | None) -> None:
        self.locate = locate

    def fail(self, path: tuple[str | int, ...], message: str) -> InputError:
        where = self.locate(*path) if self.locate else Location()
        dotted = ".".join(str(p) for p in path)
        return InputError(f"{dotted}: {message}", file=where.file, line=where.line,
                          rule=POLICY_INVALID,
                          fix="see docs/approvals.md for the approvals policy keys")

    def mapping(self, value: Any, path: tuple[str | int, ...], allowed: set[str]
                ) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(path, "must be a mapping")
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise self.fail(path, f"unknown key(s) {', '.join(map(str, unknown))}; expected "
                                  f"{', '.join(sorted(allowed))}")
        return value

    def boolean(self, value: Any, path: tuple[str | int, ...]) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, "must be true or false")
        return value

    def integer(self, value: Any, path: tuple[str | int, ...], minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(path, f"must be an integer >= {minimum}")
        return value

    def text(self, value: Any, path: tuple[str | int, ...]) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, "must be a non-empty string")
        return value

    def strings(self, value: Any, path: tuple[str | int, ...]) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.fail(path, "must be a list of strings")
        return tuple(self.text(v, (*path, i)) for i, v in enumerate(value))

    def teams(self, value: Any, path: tuple[str | int, ...]) -> tuple[str, ...]:
        teams = self.strings(value, path)
        for i, team in enumerate(teams):
            if not _TEAM.match(team):
                raise self.fail((*path, i), f"{team!r} is not a team: write GitHub teams as "
                                            "org/team-slug and GitLab groups as group/subgroup")
        return teams

    def exclusions(self, value: Any, path: tuple[str | int, ...]) -> frozenset[str]:
        items = self.strings(value, path) if value != [] else ()
        for i, item in enumerate(items):
            if item not in EXCLUSIONS:
                raise self.fail((*path, i), f"{item!r} is not an exclusion; expected one of "
                                            f"{', '.join(EXCLUSIONS)}")
        return frozenset(items)


def parse_config(settings: Mapping[str, Any], locate: Locator | None = None) -> ApprovalsConfig:
    """`gates.approvals` as typed settings; `locate(*key_path)` points errors at the policy line."""
    r = _Reader(locate)
    root: tuple[str, ...] = ("gates", "approvals")
    data = r.mapping(settings, root, {"distinct", "exclude", "require_current_head", "rules",
                                      "emergency"})
    distinct = r.boolean(data.get("distinct", True), (*root, "distinct"))
    exclude = (r.exclusions(data["exclude"], (*root, "exclude")) if "exclude" in data
               else frozenset(EXCLUSIONS))
    head = r.boolean(data.get("require_current_head", True), (*root, "require_current_head"))
    raw_rules = data.get("rules")
    rules: list[Rule] = []
    if raw_rules is None:
        rules.append(Rule(name=DEFAULT_RULE_NAME, count=1, exclude=exclude, distinct=distinct))
    else:
        if not isinstance(raw_rules, list) or not raw_rules:
            raise r.fail((*root, "rules"), "must be a non-empty list of rules")
        for i, raw in enumerate(raw_rules):
            rules.append(_rule(r, raw, (*root, "rules", i), exclude, distinct))
        names = [rule.name for rule in rules]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise r.fail((*root, "rules"), f"rule names must be unique: {', '.join(duplicates)}")
    emergency = (_emergency(r, data["emergency"], (*root, "emergency"))
                 if data.get("emergency") is not None else None)
    return ApprovalsConfig(rules=tuple(rules), require_current_head=head, emergency=emergency,
                           default_rules=raw_rules is None)


def _rule(r: _Reader, raw: Any, path: tuple[str | int, ...], exclude: frozenset[str],
          distinct: bool) -> Rule:
    data = r.mapping(raw, path, {"name", "count", "users", "teams", "if", "exclude",
                                 "distinct"})
    if "name" not in data or "count" not in data:
        raise r.fail(path, "a rule needs a name and a count")
    conditions = Conditions()
    if data.get("if") is not None:
        cond = r.mapping(data["if"], (*path, "if"),
                         {"paths", "branches", "environments", "labels", "author_in_teams"})
        conditions = Conditions(
            paths=r.strings(cond.get("paths", []), (*path, "if", "paths")),
            branches=r.strings(cond.get("branches", []), (*path, "if", "branches")),
            environments=r.strings(cond.get("environments", []), (*path, "if", "environments")),
            labels=r.strings(cond.get("labels", []), (*path, "if", "labels")),
            author_in_teams=r.teams(cond.get("author_in_teams", []),
                                    (*path, "if", "author_in_teams")))
    return Rule(
        name=r.text(data["name"], (*path, "name")),
        count=r.integer(data["count"], (*path, "count"), 1),
        users=r.strings(data.get("users", []), (*path, "users")),
        teams=r.teams(data.get("teams", []), (*path, "teams")),
        conditions=conditions,
        exclude=(r.exclusions(data["exclude"], (*path, "exclude")) if "exclude" in data
                 else exclude),
        distinct=r.boolean(data.get("distinct", distinct), (*path, "distinct")),
    )


def _emergency(r: _Reader, raw: Any, path: tuple[str | int, ...]) -> Emergency:
    data = r.mapping(raw, path, {"label", "approve_within_days", "approved_label",
                                 "environments", "lookback_days", "overdue"})
    if "label" not in data:
        raise r.fail(path, "needs the label that marks an emergency change")
    label = r.text(data["label"], (*path, "label"))
    overdue = data.get("overdue", "fail")
    if overdue not in ("fail", "warn"):
        raise r.fail((*path, "overdue"), "must be fail or warn")
    return Emergency(
        label=label,
        approve_within_days=r.integer(data.get("approve_within_days", 2),
                                      (*path, "approve_within_days"), 0),
        approved_label=(r.text(data["approved_label"], (*path, "approved_label"))
                        if "approved_label" in data else f"{label}-approved"),
        environments=r.strings(data.get("environments", []), (*path, "environments")),
        lookback_days=r.integer(data.get("lookback_days", 90), (*path, "lookback_days"), 1),
        overdue=str(overdue),
    )
