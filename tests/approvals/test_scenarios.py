"""The issue's scenarios, each run through the real PyGithub and python-gitlab clients against the
local GitHub (REST + GraphQL) and GitLab (REST) servers: the same situation must lead to the
same decision on both forges.
"""

from __future__ import annotations

from typing import Any

import pytest
from forge_rig import NOW, ForgeRig, rule_json

from changegate.errors import ChangegateError
from changegate.result import Severity, Status
from changegate.testing.forges import (
    FakeChange,
    FakeCommit,
    FakeReview,
    Push,
    commits,
    sha,
    standard_scenario,
)

TWO_PERSON = {"rules": [{"name": "peer review", "count": 1}]}
COMPLIANCE = {"rules": [
    {"name": "peer review", "count": 1, "teams": ["acme/payments-reviewers"]},
    {"name": "compliance sign-off", "count": 1, "teams": ["acme/compliance"]}]}


def _change(**kwargs: Any) -> FakeChange:
    defaults: dict[str, Any] = {"number": 42, "author": "alice",
                                "commits": commits(3, "alice", start_minute=1)}
    defaults.update(kwargs)
    return FakeChange(**defaults)


def test_independent_approval_of_the_head_passes(rig_factory: Any) -> None:
    scenario = standard_scenario()
    change = scenario.add(_change())
    change.reviews = [FakeReview("bob", "APPROVED", change.head, 10)]
    rig: ForgeRig = rig_factory(scenario)
    result = rig.run(42, TWO_PERSON)
    assert result.status is Status.PASS, result.findings
    rule = rule_json(result, "peer review")
    assert rule == {**rule, "satisfied": True, "required": 1, "counted": ["bob"], "missing": 0}
    assert result.details["facts"]["head_sha"] == change.head
    assert [r["user"] for r in result.details["facts"]["reviews"]] == ["bob"]


def test_self_approval_does_not_count(rig_factory: Any) -> None:
    scenario = standard_scenario()
    change = scenario.add(_change())
    change.reviews = [FakeReview("alice", "APPROVED", change.head, 10)]
    rig: ForgeRig = rig_factory(scenario)
    result = rig.run(42, TWO_PERSON)
    assert result.status is Status.FAIL
    rule = rule_json(result, "peer review")
    assert rule["counted"] == [] and rule["missing"] == 1
    reasons = {e["reason"] for e in rule["excluded"] if e["user"] == "alice"}
    assert "author" in reasons and "commit-author" in reasons
    rules = [f.rule for f in result.findings]
    assert "APPROVALS_MISSING" in rules and "SELF_APPROVAL_EXCLUDED" in rules
    assert rule["needs"] == ("1 more approval from someone who is not the author, a committer "
                             "or co-author or the last pusher")


def test_committer_and_co_author_approvals_do_not_count(rig_factory: Any) -> None:
    scenario = standard_scenario()
    change = scenario.add(_change(commits=[
        FakeCommit(sha("x1"), "alice", committer="dave", minute=1),
        FakeCommit(sha("x2"), "alice", co_authors=("bob",), minute=2)]))
    change.reviews = [FakeReview("dave", "APPROVED", change.head, 10),
                      FakeReview("bob", "APPROVED", change.head, 11)]
    rig: ForgeRig = rig_factory(scenario)
    result = rig.run(42, TWO_PERSON)
    assert result.status is Status.FAIL
    excluded = {(e["user"], e["reason"]) for e in rule_json(result, "peer review")["excluded"]}
    assert ("dave", "committer") in excluded
    assert ("bob", "co-author") in excluded


def test_exclusions_can_be_switched_off_per_rule(rig_factory: Any) -> None:
    scenario = standard_scenario()
    change = scenario.add(_change(commits=[FakeCommit(sha("y1"), "alice", committer="dave",
                                                      minute=1)]))
    change.reviews = [FakeReview("dave", "APPROVED", change.head, 10)]
    rig: ForgeRig = rig_factory(scenario)
    policy = {"rules": [{"name": "peer review", "count": 1, "exclude": ["author"]}]}
    result = rig.run(42, policy)
    assert result.status is Status.PASS, result.findings
    assert rule_json(result, "peer review")["counted"] == ["dave"]


def test_last_pusher_is_excluded(rig_factory: Any) -> None:
    scenario = standard_scenario()
    change = scenario.add(_change())
    # bob rebased and pushed alice's branch; his approval must not count.
    change.pushes = [Push("alice", change.commits[1].sha, 2),
                     Push("bob", change.head, 5, before=change.commits[1].sha)]
    change.reviews = [FakeReview("bob", "APPROVED", change.head, 10)]
    rig: ForgeRig = rig_factory(scenario)
    result = rig.run(42, TWO_PERSON)
    assert result.status is Status.FAIL
    assert result.details["facts"]["last_pusher"]["logins"] == ["bob"]
    assert ("bob", "last-pusher") in {(e["user"], e["reason"])
                                      for e in rule_json(result, "peer review")["excluded"]}


def test_stale_approval_after_a_push_is_listed_not_counted(rig_factory: Any) -> None:
    scenario = standard_scenario()
    change = scenario.add(_change())
    old, new = change.commits[1].sha, change.head
    change.pushes = [Push("alice", old, 2), Push("alice", new, 20, before=old)]
    change.reviews = [FakeReview("bob", "APPROVED", old, 10)]
    rig: ForgeRig = rig_factory(scenario)
    result = rig.run(42, TWO_PERSON)
    assert result.status is Status.FAIL
    rule = rule_json(result, "peer review")
    assert rule["stale"] == [{"user": "bob", "commit": old}]
    assert any(f.rule == "STALE_APPROVAL" for f in result.findings)
    # Re-approving the new head makes it count.
    change.reviews.append(FakeReview("bob", "APPROVED", new, 30))
    assert rig.run(42, TWO_PERSON).status is Status.PASS


def test_one_person_in_two_teams_counts_once(rig_factory: Any) -> None:
    scenario = standard_scenario()
    change = scenario.add(_change())
    change.reviews = [FakeReview("erin", "APPROVED", change.head, 10)]
    rig: ForgeRig = rig_factory(scenario)
    result = rig.run(42, COMPLIANCE)
    assert result.status is Status.FAIL
    counted = {r["name"]: r["counted"] for r in result.details["rules"]}
    assert sorted(counted.values()) == [[], ["erin"]]
    # A second, distinct person completes both rules, whichever rule erin is given to.
    change.reviews.append(FakeReview("bob", "APPROVED", change.head, 11))
    result = rig.run(42, COMPLIANCE)
    assert result.status is Status.PASS, result.findings
    assert rule_json(result, "compliance sign-off")["counted"] == ["erin"]
    assert rule_json(result, "peer review")["counted"] == ["bob"]
    # Unless the policy says one person may satisfy both.
    change.reviews.pop()
    relaxed = {"distinct": False, **COMPLIANCE}
    assert rig.run(42, relaxed).status is Status.PASS


def test_changes_requested_by_a_required_reviewer_blocks(rig_factory: Any) -> None:
    scenario = standard_scenario()
    change = scenario.add(_change())
    change.reviews = [FakeReview("bob", "APPROVED", change.head, 10),
                      FakeReview("carol", "APPROVED", change.head, 11),
                      FakeReview("dave", "CHANGES_REQUESTED", change.head, 12)]
    rig: ForgeRig = rig_factory(scenario)
    result = rig.run(42, COMPLIANCE)
    assert result.status is Status.FAIL
    assert result.details["changes_requested"] == [{"user": "dave", "rules": ["peer review"]}]
    assert any(f.rule == "CHANGES_REQUESTED" and f.severity is Severity.ERROR
               for f in result.findings)
    # Withdrawn (dave approves): passes.
    change.reviews.append(FakeReview("dave", "APPROVED", change.head, 13))
    assert rig.run(42, COMPLIANCE).status is Status.PASS


def test_path_rule_applies_only_to_matching_changes(rig_factory: Any) -> None:
    scenario = standard_scenario()
    change = scenario.add(_change(files=["docs/readme.md"]))
    change.reviews = [FakeReview("bob", "APPROVED", change.head, 10)]
    policy = {"rules": [{"name": "peer review", "count": 1},
                        {"name": "payments owners", "count": 1, "teams": ["acme/compliance"],
                         "if": {"paths": ["src/payments/**"]}}]}
    rig: ForgeRig = rig_factory(scenario)
    result = rig.run(42, policy)
    assert result.status is Status.PASS
    assert rule_json(result, "payments owners")["applies"] is False
    change.files = ["docs/readme.md", "src/payments/ledger.py"]
    result = rig.run(42, policy)
    assert result.status is Status.FAIL
    assert rule_json(result, "payments owners")["needs"] == "1 more approval from acme/compliance"


def test_more_than_250_commits_are_all_read(rig_factory: Any) -> None:
    scenario = standard_scenario()
    many = commits(300, "alice", start_minute=1)
    many[270] = FakeCommit(many[270].sha, "alice", committer="bob", minute=271)
    change = scenario.add(_change(commits=many))
    change.reviews = [FakeReview("bob", "APPROVED", change.head, 400)]
    rig: ForgeRig = rig_factory(scenario)
    result = rig.run(42, TWO_PERSON)
    assert len(result.details["facts"]["commits"]) == 300
    # bob committed commit 271, past the REST endpoint's 250-commit cap: he is excluded.
    assert result.status is Status.FAIL
    assert ("bob", "committer") in {(e["user"], e["reason"])
                                    for e in rule_json(result, "peer review")["excluded"]}


def test_more_than_100_reviews_are_all_read(rig_factory: Any) -> None:
    scenario = standard_scenario()
    change = scenario.add(_change())
    change.reviews = [FakeReview("dave", "COMMENTED", change.head, 10 + i) for i in range(110)]
    change.reviews.append(FakeReview("bob", "APPROVED", change.head, 200))
    rig: ForgeRig = rig_factory(scenario)
    result = rig.run(42, TWO_PERSON)
    assert result.status is Status.PASS
    assert rule_json(result, "peer review")["counted"] == ["bob"]


def test_missing_team_permission_is_inconclusive(rig_factory: Any) -> None:
    scenario = standard_scenario()
    change = scenario.add(_change())
    change.reviews = [FakeReview("carol", "APPROVED", change.head, 10)]
    rig: ForgeRig = rig_factory(scenario)
    if rig.kind == "github":
        rig.server.team_access = "forbidden"  # type: ignore[attr-defined]
    else:
        rig.server.group_access = "forbidden"  # type: ignore[attr-defined]
    with pytest.raises(ChangegateError) as caught:
        rig.run(42, COMPLIANCE)
    assert caught.value.rule == "TEAM_PERMISSION_MISSING"
    assert caught.value.fix and ("read:org" in caught.value.fix or "read_api" in caught.value.fix)


def test_invisible_team_is_inconclusive_not_empty(rig_factory: Any) -> None:
    scenario = standard_scenario()
    scenario.add(_change())
    rig: ForgeRig = rig_factory(scenario)
    policy = COMPLIANCE
    if rig.kind == "github":
        rig.server.team_access = "invisible"  # type: ignore[attr-defined]
    else:  # a group the token cannot see answers 404, like one that does not exist
        policy = {"rules": [{"name": "x", "count": 1, "teams": ["acme/secret-group"]}]}
    with pytest.raises(ChangegateError) as caught:
        rig.run(42, policy)
    assert caught.value.rule == "TEAM_PERMISSION_MISSING"


def test_github_graphql_stopping_short_is_completed_through_compare(
        forge_kind: str, rig_factory: Any) -> None:
    if forge_kind != "github":
        pytest.skip("GitHub only: GitLab's MR commits list is not capped")
    scenario = standard_scenario()
    change = scenario.add(_change(commits=commits(300, "alice", start_minute=1)))
    change.reviews = [FakeReview("bob", "APPROVED", change.head, 400)]
    rig: ForgeRig = rig_factory(scenario)
    rig.server.graphql_commit_cap = 250  # type: ignore[attr-defined]
    result = rig.run(42, TWO_PERSON)
    assert result.status is Status.PASS
    assert len(result.details["facts"]["commits"]) == 300
    assert rig.server.count("/compare/") >= 1


def test_gitlab_approval_without_a_time_is_stale_after_a_push(
        forge_kind: str, rig_factory: Any) -> None:
    if forge_kind != "gitlab":
        pytest.skip("GitLab only: GitHub reviews always carry their commit")
    scenario = standard_scenario()
    change = scenario.add(_change())
    old = change.commits[1].sha
    change.pushes = [Push("alice", old, 2), Push("alice", change.head, 20, before=old)]
    change.reviews = [FakeReview("bob", "APPROVED", change.head, 30)]
    rig: ForgeRig = rig_factory(scenario)
    rig.server.report_approved_at = False  # type: ignore[attr-defined]
    result = rig.run(42, TWO_PERSON)
    assert result.status is Status.FAIL
    assert any(f.rule == "FORGE_NOTE" and "when some approvals" in f.message
               for f in result.findings)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_api_errors_fail_closed(rig_factory: Any, status: int) -> None:
    scenario = standard_scenario()
    change = scenario.add(_change())
    change.reviews = [FakeReview("bob", "APPROVED", change.head, 10)]
    rig: ForgeRig = rig_factory(scenario)
    rig.server.fault(r"graphql|/approvals$", status=status)
    with pytest.raises(ChangegateError) as caught:
        rig.run(42, TWO_PERSON)
    assert caught.value.rule == "FORGE_API_ERROR"
    # Retried (GithubRetry / python-gitlab's transient retries) before giving up.
    assert rig.server.count(r"graphql|/approvals$") == 3


def test_a_transient_error_is_retried_and_passes(rig_factory: Any) -> None:
    scenario = standard_scenario()
    change = scenario.add(_change())
    change.reviews = [FakeReview("bob", "APPROVED", change.head, 10)]
    rig: ForgeRig = rig_factory(scenario)
    rig.server.fault(r"graphql|/approvals$", status=502, times=1)
    assert rig.run(42, TWO_PERSON).status is Status.PASS


def test_timeouts_fail_closed(rig_factory: Any) -> None:
    scenario = standard_scenario()
    scenario.add(_change())
    rig: ForgeRig = rig_factory(scenario)
    # PyGithub takes whole seconds; python-gitlab takes fractions.
    rig.timeout = 1 if rig.kind == "github" else 0.3
    rig.server.fault(r"graphql|/merge_requests/42$", status=None, delay=rig.timeout + 0.7)
    with pytest.raises(ChangegateError) as caught:
        rig.run(42, TWO_PERSON)
    assert caught.value.rule == "FORGE_API_ERROR"
    assert "timeout" in caught.value.message


def test_rate_limit_with_retry_after_is_respected(rig_factory: Any) -> None:
    scenario = standard_scenario()
    change = scenario.add(_change())
    change.reviews = [FakeReview("bob", "APPROVED", change.head, 10)]
    rig: ForgeRig = rig_factory(scenario)
    body = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes "
                       "before you try again."}
    status = 403 if rig.kind == "github" else 429
    rig.server.fault(r"graphql|/approvals$", status=status, body=body,
                     headers={"Retry-After": "1"}, times=1)
    assert rig.run(42, TWO_PERSON).status is Status.PASS
    # A wait longer than allowed is refused, not slept through.
    rig.server.fault(r"graphql|/approvals$", status=status, body=body,
                     headers={"Retry-After": "3600"}, times=5)
    with pytest.raises(ChangegateError) as caught:
        rig.run(42, TWO_PERSON)
    assert caught.value.rule in ("FORGE_RATE_LIMITED", "FORGE_API_ERROR")


def test_bad_token_is_inconclusive(rig_factory: Any) -> None:
    scenario = standard_scenario()
    scenario.add(_change())
    rig: ForgeRig = rig_factory(scenario)
    rig.server.token = "another"  # type: ignore[attr-defined]
    with pytest.raises(ChangegateError) as caught:
        rig.run(42, TWO_PERSON)
    assert caught.value.rule in ("FORGE_AUTH", "CHANGE_NOT_FOUND")


def test_unknown_change_is_inconclusive(rig_factory: Any) -> None:
    rig: ForgeRig = rig_factory(standard_scenario())
    with pytest.raises(ChangegateError) as caught:
        rig.run(7, TWO_PERSON)
    assert caught.value.rule == "CHANGE_NOT_FOUND"


def test_emergency_label_passes_when_allowed_and_records_the_debt(rig_factory: Any) -> None:
    scenario = standard_scenario()
    scenario.add(_change(labels=["emergency-change"]))
    policy = {**TWO_PERSON, "emergency": {"label": "emergency-change",
                                          "approve_within_days": 2,
                                          "environments": ["production"]}}
    rig: ForgeRig = rig_factory(scenario)
    result = rig.run(42, policy, environment="production")
    assert result.status is Status.PASS
    assert result.details["emergency"]["approval_owed"] is True
    assert result.details["emergency"]["owed_by"] == "2026-03-05"
    owed = [f for f in result.findings if f.rule == "EMERGENCY_APPROVAL_OWED"]
    assert owed and owed[0].severity is Severity.WARNING
    # Not allowed for staging: the rules apply.
    result = rig.run(42, policy, environment="staging")
    assert result.status is Status.FAIL
    assert any(f.rule == "EMERGENCY_NOT_ALLOWED" for f in result.findings)
    # Without an emergency section in the policy, the label changes nothing.
    assert rig.run(42, TWO_PERSON).status is Status.FAIL


def test_an_unapproved_past_emergency_shows_up_on_the_next_run(rig_factory: Any) -> None:
    scenario = standard_scenario()
    scenario.add(FakeChange(number=40, author="alice", commits=commits(2, "alice", prefix="e"),
                            labels=["emergency-change"], state="merged", merged_minute=5))
    settled = scenario.add(FakeChange(number=41, author="dave", labels=["emergency-change"],
                                      commits=commits(1, "dave", prefix="f"), state="merged",
                                      merged_minute=6))
    settled.reviews = [FakeReview("bob", "APPROVED", settled.head, 600)]
    change = scenario.add(_change())
    change.reviews = [FakeReview("bob", "APPROVED", change.head, 10)]
    policy = {**TWO_PERSON, "emergency": {"label": "emergency-change",
                                          "approve_within_days": 0}}
    rig: ForgeRig = rig_factory(scenario)
    result = rig.run(42, policy)
    assert [o["number"] for o in result.details["emergencies_owed"]] == [40]
    assert result.details["emergencies_owed"][0]["overdue"] is True
    assert result.status is Status.FAIL
    assert any(f.rule == "EMERGENCY_APPROVAL_OVERDUE" and "40" in f.message
               for f in result.findings)
    # Settled after the fact by an independent person's label.
    from changegate.testing.forges import LabelEvent

    scenario.changes[40].label_events.append(
        LabelEvent("carol", "emergency-change-approved", 900))
    result = rig.run(42, policy)
    assert result.details["emergencies_owed"] == []
    assert result.status is Status.PASS
    # Its own author cannot settle it.
    scenario.changes[40].label_events[-1] = LabelEvent("alice", "emergency-change-approved", 900)
    assert rig.run(42, policy).details["emergencies_owed"][0]["number"] == 40


def test_facts_replay_to_the_same_decision(rig_factory: Any) -> None:
    from changegate.forges.models import ChangeFacts
    from changegate.gates.approvals import gate
    from changegate.gates.approvals.config import parse_config

    scenario = standard_scenario()
    change = scenario.add(_change())
    change.reviews = [FakeReview("erin", "APPROVED", change.head, 10),
                      FakeReview("alice", "APPROVED", change.head, 11)]
    rig: ForgeRig = rig_factory(scenario)
    live = rig.run(42, COMPLIANCE)
    replayed = gate.run(ChangeFacts.from_json(live.to_json()["facts"]),
                        parse_config(COMPLIANCE), environment=None,
                        now=NOW)
    assert replayed.to_json() == live.to_json()
