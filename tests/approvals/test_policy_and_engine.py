"""The policy parser and the decision engine on hand-made facts (no forge, no network)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from changegate.errors import InputError
from changegate.forges.models import (
    Account,
    ChangeFacts,
    Commit,
    Person,
    Pusher,
    Review,
    ReviewState,
    Team,
)
from changegate.gates.approvals.config import parse_config
from changegate.gates.approvals.evaluate import evaluate, path_matches
from changegate.gates.approvals.matching import assign
from changegate.result import Location

HEAD = "a" * 40


def facts(reviews: list[tuple[str, str]], **kwargs: Any) -> ChangeFacts:
    alice = Person(name="Alice Developer", email="alice@acme.example", login="alice")
    defaults: dict[str, Any] = {
        "platform": "github", "repository": "acme/payments", "number": 1, "author": "alice",
        "base_branch": "main", "head_branch": "f", "head_sha": HEAD,
        "commits": (Commit(HEAD, alice, alice),), "files": ("src/app.py",),
        "teams": {"acme/compliance": Team("acme/compliance", ("carol", "erin")),
                  "acme/reviewers": Team("acme/reviewers", ("bob", "dave", "erin"))},
        "reviews": tuple(Review(u, ReviewState(s), HEAD) for u, s in reviews),
        "last_pusher": Pusher(("alice",), "push-activity"),
    }
    defaults.update(kwargs)
    return ChangeFacts(**defaults)


@pytest.mark.parametrize(("settings", "message"), [
    ({"rules": [{"name": "x", "count": 1, "team": ["acme/c"]}]}, "unknown key(s) team"),
    ({"rules": [{"name": "x", "count": 0}]}, "count: must be an integer >= 1"),
    ({"rules": [{"name": "x", "count": 1, "teams": ["compliance"]}]}, "is not a team"),
    ({"rules": [{"name": "x", "count": 1}, {"name": "x", "count": 2}]}, "unique"),
    ({"exclude": ["authors"]}, "is not an exclusion"),
    ({"rules": [{"name": "x", "count": 1, "if": {"path": ["a"]}}]}, "unknown key(s) path"),
    ({"emergency": {"approve_within_days": 2}}, "needs the label"),
    ({"rules": []}, "non-empty list"),
])
def test_bad_policies_are_refused_with_the_key(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_config(settings, lambda *path: Location(file=".changegate.yml", line=len(path)))
    assert caught.value.rule == "POLICY_INVALID"
    assert message in caught.value.message
    assert caught.value.location.file == ".changegate.yml"


def test_defaults() -> None:
    config = parse_config({})
    assert config.default_rules and [r.name for r in config.rules] == ["independent review"]
    assert config.rules[0].exclude == {"author", "committers", "last_pusher"}
    assert config.require_current_head
    emergency = parse_config({"emergency": {"label": "hotfix"}}).emergency
    assert emergency is not None and emergency.approved_label == "hotfix-approved"


def test_matching_finds_a_full_assignment_a_greedy_pass_would_miss() -> None:
    # erin could go to either rule; greedy "peer review first" would strand compliance.
    counted = assign([("peer review", 1, ["erin", "bob"]), ("compliance", 1, ["erin"])])
    assert counted == {"peer review": ["bob"], "compliance": ["erin"]}


def test_distinct_false_on_one_rule_shares_people() -> None:
    config = parse_config({"rules": [
        {"name": "peer", "count": 1, "teams": ["acme/reviewers"]},
        {"name": "compliance", "count": 1, "teams": ["acme/compliance"], "distinct": False}]})
    decision = evaluate(facts([("erin", "APPROVED")]), config, environment=None)
    assert [o.counted for o in decision.rules] == [["erin"], ["erin"]]
    assert decision.rules_satisfied


def test_dismissed_and_commented_reviews() -> None:
    config = parse_config({})
    decision = evaluate(facts([("bob", "APPROVED"), ("bob", "DISMISSED")]), config,
                        environment=None)
    assert not decision.rules_satisfied
    decision = evaluate(facts([("bob", "APPROVED"), ("bob", "COMMENTED")]), config,
                        environment=None)
    assert decision.rules_satisfied


def test_unlinked_committer_is_recognised_by_email_and_name() -> None:
    config = parse_config({})
    ghost = Person(name="Bob Reviewer", email="bob@home.example")  # no linked account
    by_email = facts([("bob", "APPROVED")], commits=(Commit(HEAD, ghost, ghost),),
                     accounts={"bob": Account("bob", None, ("bob@home.example",))})
    assert not evaluate(by_email, config, environment=None).rules_satisfied
    by_name = facts([("bob", "APPROVED")], commits=(Commit(HEAD, ghost, ghost),),
                    accounts={"bob": Account("bob", "Bob Reviewer", ())})
    assert not evaluate(by_name, config, environment=None).rules_satisfied
    stranger = facts([("bob", "APPROVED")], commits=(Commit(HEAD, ghost, ghost),),
                     accounts={"bob": Account("bob", "Robert Other", ())})
    assert evaluate(stranger, config, environment=None).rules_satisfied


def test_conditions_branches_labels_and_author_teams() -> None:
    config = parse_config({"rules": [
        {"name": "release", "count": 1, "if": {"branches": ["release/*"]}},
        {"name": "labelled", "count": 1, "if": {"labels": ["needs-security"]}},
        {"name": "by compliance", "count": 1, "if": {"author_in_teams": ["acme/compliance"]}}]})
    decision = evaluate(facts([], base_branch="release/2.1", labels=("needs-security",),
                              author="carol"), config, environment=None)
    assert [o.applies for o in decision.rules] == [True, True, True]
    decision = evaluate(facts([]), config, environment=None)
    assert [o.applies for o in decision.rules] == [False, False, False]
    assert decision.rules_satisfied


@pytest.mark.parametrize(("pattern", "path", "hit"), [
    ("src/payments/**", "src/payments/a/b.py", True),
    ("src/payments/**", "src/payment.py", False),
    ("*.tf", "infra/main.tf", True),
    ("/Makefile", "Makefile", True),
    ("/Makefile", "sub/Makefile", False),
    ("docs/", "docs/a.md", True),
    ("src/*.py", "src/a/b.py", False),
])
def test_path_globs(pattern: str, path: str, hit: bool) -> None:
    assert path_matches(pattern, path) is hit


def test_require_current_head_off_counts_older_approvals() -> None:
    older = replace(facts([]), reviews=(Review("bob", ReviewState.APPROVED, "b" * 40),))
    assert not evaluate(older, parse_config({}), environment=None).rules_satisfied
    relaxed = parse_config({"require_current_head": False})
    assert evaluate(older, relaxed, environment=None).rules_satisfied
